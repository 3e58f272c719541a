//! What a worker's HTTP/2 connections share while they run ([`Ctx`]), and what each of their
//! streams carries ([`InFlight`]).

use std::time::{Duration, Instant};

use mio::Poll;

use crate::loadgen::stats::WorkerStats;
use crate::loadgen::tls::TlsClient;
use crate::loadgen::window::Window;

/// Pause after a failed connect before the next try.
pub(super) const CONNECT_RETRY_DELAY: Duration = Duration::from_millis(10);

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
    pub(super) tls: Option<TlsClient>,
    pub(super) streams: usize,
    /// Closed loop: each connection keeps its streams busy; open loop: the engine sends.
    pub(super) closed_loop: bool,
}
