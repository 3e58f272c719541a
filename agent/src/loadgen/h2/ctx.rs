//! What a worker's HTTP/2 connections share while they run ([`Ctx`], with each target's
//! open-loop send slots), and what each of their streams carries ([`InFlight`]).

use std::time::{Duration, Instant};

use mio::Poll;

use super::sends::Sends;
use crate::loadgen::setup::Connector;
use crate::loadgen::stats::WorkerStats;
use crate::loadgen::window::Window;

/// A request on a stream: which template, when it was meant to go (open loop) and went, and
/// by when its response must be complete.
#[derive(Debug, Clone, Copy)]
pub(super) struct InFlight {
    pub(super) request: usize,
    pub(super) intended: Option<Instant>,
    pub(super) sent: Instant,
    pub(super) deadline: Instant,
}

impl InFlight {
    pub(super) fn at(&self) -> Instant {
        self.intended.unwrap_or(self.sent)
    }
}

/// What every connection's transitions need from its worker.
pub(super) struct Ctx<'a> {
    pub(super) poll: &'a mut Poll,
    pub(super) timeout: Duration,
    pub(super) window: Window,
    pub(super) stats: &'a mut WorkerStats,
    /// Sets connections up (connect, TLS with ALPN `h2`), as for HTTP/1.1 (`setup.rs`).
    pub(super) connector: Connector,
    pub(super) streams: usize,
    /// Closed loop: each connection keeps its streams busy; open loop: the engine sends.
    pub(super) closed_loop: bool,
    /// Open loop: each target's pooled send slots (by target index); closed loop: none.
    pub(super) sends: Vec<Sends>,
}
