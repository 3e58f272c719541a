//! How a worker waits between turns of its loop: one strategy per mode ([`Waiter`]). Open loop
//! waits for its next send time (`open.rs`: the pacer's timer, responses read late at the
//! wake-ups the sends make); closed loop waits for responses (`closed.rs`: a coalescing nap
//! while the server has a backlog, a short adaptive busy-poll otherwise). Each counts its own
//! waits over the measured window ([`ThreadCounts`]).

mod closed;
mod open;
mod turn;

use std::io;
use std::time::Instant;

use mio::{Events, Poll};

use super::config::{LoadConfig, Mode};
use super::connection::Connection;
use super::driver::Driver;
pub(super) use turn::{ThreadCounts, Turn, TIMER};

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

    pub(super) fn counts(&self) -> ThreadCounts {
        match self {
            Waiter::Open(open) => open.counts,
            Waiter::Closed(closed) => closed.counts,
        }
    }
}
