//! What a turn of the worker's loop tells its waiter ([`Turn`]), what the waiters count
//! ([`WaitCounts`], and how it goes on the wire) and the pacer's poll token: the leaf both
//! waiters and their dispatch share.

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

/// A worker thread's waits over the measured window: how each waiter spent the time it did not
/// work. One type from the waiters to the wire ([`WaitCounts::onto_wire`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WaitCounts {
    /// Closed loop: coalescing naps and their total asked-for length (asleep, not busy).
    pub naps: u64,
    pub napped: Duration,
    /// Closed loop: waits that busy-polled before reading or blocking, and the time so spent
    /// (busy: part of the worker's CPU time).
    pub spins: u64,
    pub spun: Duration,
    /// Open loop: busy-polls for a send time that found nothing else to do, and the time so
    /// spent (busy, but pacing, not work; see `pacer.rs`).
    pub paces: u64,
    pub paced: Duration,
    /// Open loop: waits in which the worker could sleep (each a wake-up when it did).
    pub wakeups: u64,
}

impl WaitCounts {
    /// Sets the wire's wait fields of a worker's result.
    pub fn onto_wire(&self, out: &mut numaload_proto::v1::WorkerResult) {
        let ns = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        out.naps = self.naps;
        out.napped_ns = ns(self.napped);
        out.spins = self.spins;
        out.spun_ns = ns(self.spun);
        out.paces = self.paces;
        out.paced_ns = ns(self.paced);
        out.wakeups = self.wakeups;
    }
}
