//! How a worker waits between turns of its loop: one strategy per mode ([`Waiter`]). Open loop
//! waits for its next send time (`open.rs`: the pacer's timer, responses read late at the
//! wake-ups the sends make); closed loop waits for responses (`closed.rs`: a coalescing nap
//! while the server has a backlog, a short adaptive busy-poll otherwise). Each counts its own
//! waits over the measured window ([`WaitCounts`]).

mod closed;
mod open;

use std::io;
use std::time::{Duration, Instant};

use mio::{Events, Poll, Token};

use super::config::{LoadConfig, Mode};
use super::connection::Connection;
use super::driver::Driver;

/// The pacer's timerfd; connections are `Token(index)`.
pub(super) const TIMER: Token = Token(usize::MAX);

/// What a turn of the loop tells the waiter.
#[derive(Debug, Clone, Copy)]
pub(super) struct Turn {
    /// When the turn began, before its sends.
    pub(super) began: Instant,
    /// Now, after the sends.
    pub(super) now: Instant,
    /// Wake by then at the latest: the next deadline scan or the end of the phase.
    pub(super) wake: Instant,
    /// Whether the measured window is open (only its waits are counted).
    pub(super) measuring: bool,
    /// Whether the window has closed (the drain reads responses as they come).
    pub(super) draining: bool,
    /// Whether the turn sent anything.
    pub(super) sent: bool,
}

/// A worker's waits over the measured window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct WaitCounts {
    /// Closed loop: coalescing naps and their asked-for length (asleep, not busy).
    pub(super) naps: u64,
    pub(super) napped: Duration,
    /// Closed loop: waits that busy-polled before reading or blocking, and the time so spent.
    pub(super) spins: u64,
    pub(super) spun: Duration,
    /// Open loop: busy-polls for a send time that found nothing to do (pacing, not work).
    pub(super) paces: u64,
    pub(super) paced: Duration,
    /// Open loop: waits in which the worker could sleep (each a wake-up when it did).
    pub(super) wakeups: u64,
}

/// The waiting strategy of a worker's mode.
#[derive(Debug)]
pub(super) enum Waiter {
    Open(open::OpenWait),
    Closed(closed::ClosedWait),
}

impl Waiter {
    /// The strategy `config`'s mode asks for; open loop registers its timer with `poll`.
    pub(super) fn new(config: &LoadConfig, poll: &Poll) -> io::Result<Self> {
        Ok(match config.mode {
            Mode::Open { .. } => Waiter::Open(open::OpenWait::new(config, poll)?),
            Mode::Closed => Waiter::Closed(closed::ClosedWait::new(config.spin)),
        })
    }

    /// Waits as the mode does, until something is ready or `turn.wake`; `events` holds what
    /// is ready. An `Interrupted` error asks for another turn; any other ends the worker.
    pub(super) fn wait(
        &mut self,
        turn: Turn,
        driver: &mut Driver<'_>,
        connections: &[Connection],
        events: &mut Events,
    ) -> io::Result<()> {
        match self {
            Waiter::Open(open) => open.wait(turn, driver, connections, events),
            Waiter::Closed(closed) => closed.wait(turn, driver, connections, events),
        }
    }

    /// The pacer's timer fired (open loop).
    pub(super) fn timer_fired(&mut self, now: Instant) {
        if let Waiter::Open(open) = self {
            open.timer_fired(now);
        }
    }

    pub(super) fn counts(&self) -> WaitCounts {
        match self {
            Waiter::Open(open) => open.counts,
            Waiter::Closed(closed) => closed.counts,
        }
    }
}
