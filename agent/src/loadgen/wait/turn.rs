//! What a turn of the worker's loop tells its waiter ([`Turn`]), what the waiters count
//! ([`WaitCounts`]) and the pacer's poll token: the leaf both waiters and their dispatch share.

use std::time::{Duration, Instant};

use mio::Token;

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

/// A worker's waits over the measured window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(in super::super) struct WaitCounts {
    /// Closed loop: coalescing naps and their asked-for length (asleep, not busy).
    pub(in super::super) naps: u64,
    pub(in super::super) napped: Duration,
    /// Closed loop: waits that busy-polled before reading or blocking, and the time so spent.
    pub(in super::super) spins: u64,
    pub(in super::super) spun: Duration,
    /// Open loop: busy-polls for a send time that found nothing to do (pacing, not work).
    pub(in super::super) paces: u64,
    pub(in super::super) paced: Duration,
    /// Open loop: waits in which the worker could sleep (each a wake-up when it did).
    pub(in super::super) wakeups: u64,
}
