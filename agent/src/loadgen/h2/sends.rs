//! Open loop: one replica's send slots, pooled over the worker's connections to it ([`Sends`]):
//! a due slot goes out on the stream that freed first of the connections to the replica (a
//! queue of free streams kept as streams open and end, so finding one costs O(1)), a failed
//! connect to the replica spends one (as an HTTP/1.1 connection spends its own), and the
//! slots the close leaves unsent are `unsent`.

use std::collections::VecDeque;
use std::time::Instant;

use crate::loadgen::report::ErrorKind;
use crate::loadgen::request::Mix;
use crate::loadgen::stats::{Outcome, WorkerStats};
use crate::loadgen::window::{Schedule, Window};

/// One target's pooled open-loop send slots.
#[derive(Debug)]
pub(super) struct Sends {
    pub(super) schedule: Schedule,
    /// Draws the request of a slot when there is a mix and no trace.
    pub(super) mix: Option<Mix>,
    pub(super) only: usize,
    /// The free streams of the connections to this target, the one freed first in front: a
    /// connection's index and the session (see `H2Connection::session`) the stream is of.
    /// An entry of a session since closed, or met while its connection has no free stream
    /// (the server's own limit), is dropped when it comes to the front.
    pub(super) free: VecDeque<(usize, u32)>,
}

impl Sends {
    /// A stream of `session` on connection `connection` is free.
    pub(super) fn freed(&mut self, connection: usize, session: u32) {
        self.free.push_back((connection, session));
    }

    /// Takes the next slot: its time and its request.
    pub(super) fn take(&mut self) -> Option<(Instant, usize)> {
        let at = self.schedule.next()?;
        let request = self
            .schedule
            .request()
            .or_else(|| self.mix.as_mut().map(Mix::next))
            .unwrap_or(self.only);
        Some((at, request))
    }

    /// Once the window is open at `now`: drops the warm-up slots not sent that are a backlog
    /// (`Window::is_warmup_backlog`, as `Connection::drop_warmup_backlog` does for HTTP/1.1).
    /// Returns how many it dropped.
    pub(super) fn drop_warmup_backlog(&mut self, now: Instant, window: &Window) -> u64 {
        let schedule = &mut self.schedule;
        let dropped = std::iter::from_fn(|| {
            schedule
                .peek()
                .filter(|&at| window.is_warmup_backlog(at, now))?;
            schedule.next()
        })
        .count();
        dropped as u64
    }

    /// Every slot left inside the window (before `end`) is `unsent`.
    pub(super) fn give_up(&mut self, stats: &mut WorkerStats, target: usize, end: Instant) {
        while self.schedule.peek().is_some_and(|at| at < end) {
            let Some((at, request)) = self.take() else {
                break;
            };
            let outcome = Outcome::Failed {
                kind: ErrorKind::Unsent,
                at,
            };
            stats.record(target, request, at, outcome);
        }
    }
}
