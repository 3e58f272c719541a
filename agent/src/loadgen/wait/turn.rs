//! What a turn of the worker's loop tells its waiter ([`Turn`]) and the pacer's poll token: the
//! leaf both waiters and their dispatch share (with [`ThreadCounts`], where they count their waits).

use std::time::Instant;

use mio::Token;

pub use super::super::report::ThreadCounts;

/// The pacer's timerfd; connections are `Token(index)`.
pub(in super::super) const TIMER: Token = Token(usize::MAX);

/// What a turn of the loop tells the waiter.
#[derive(Debug, Clone, Copy)]
pub(in super::super) struct Turn {
    /// When the turn began, before its sends.
    pub(in super::super) began: Instant,
    /// Now, after the sends.
    pub(in super::super) now: Instant,
    /// Wake by then at the latest: the next deadline scan or the end of the phase.
    pub(in super::super) wake: Instant,
    /// Whether the measured window is open (only its waits are counted).
    pub(in super::super) measuring: bool,
    /// Whether the window has closed (the drain reads responses as they come).
    pub(in super::super) draining: bool,
    /// Whether the turn sent anything.
    pub(in super::super) sent: bool,
}
