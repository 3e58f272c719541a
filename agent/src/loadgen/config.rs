//! What a run is asked to do ([`LoadConfig`], [`Mode`]), how it is stopped ([`Cancel`]) and
//! what it refuses ([`LoadError`]): the leaf every other file of the generator builds on.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::live::Live;
use super::shape::LoadShape;

/// A send more than this behind its intended time counts as late.
pub const LATE_SEND: Duration = Duration::from_millis(1);

/// The coarsest [`LoadConfig::send_precision`]: a send later than [`LATE_SEND`] counts as late.
pub const MAX_SEND_PRECISION: Duration = LATE_SEND;

/// How requests are paced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// Fixed total rate over all connections, latency measured from the intended send time.
    Open { rate_per_sec: f64 },
    /// Each connection sends its next request as soon as the previous one completes.
    Closed,
}

/// What load to apply, where, from which CPUs.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadConfig {
    pub mode: Mode,
    /// One address per replica; the index is the replica number in the report.
    pub targets: Vec<SocketAddr>,
    /// Total keep-alive connections over all workers and targets.
    pub connections: u32,
    /// One worker thread per CPU (at most `connections` workers), each pinned to its CPU.
    pub cpus: Vec<u32>,
    /// Load before the measured interval; nothing from it is counted.
    pub warmup: Duration,
    /// The measured interval.
    pub duration: Duration,
    /// Longest a connect or a request/response exchange may take before it counts as an error.
    pub timeout: Duration,
    /// Closed loop: a worker with nothing to read naps before blocking while the server has a
    /// backlog, so responses are read in bursts (see the `coalesce` module). Ignored in open loop.
    pub coalesce: bool,
    /// Closed loop: a worker with nothing to read and no nap due busy-polls for an adaptive
    /// window (at most 25 µs) before blocking (see the `spin` module). Ignored in open loop.
    pub spin: bool,
    /// Open loop: how late a send may be. The pacer lets a send wait up to this long past its
    /// time (so sends falling due together go out in one wake-up) and busy-polls only when this
    /// is finer than the thread's wake-up latency; zero paces as tightly as it can (see
    /// `pacer.rs`). Ignored in closed loop.
    pub send_precision: Duration,
    /// Open loop: stages, Poisson arrivals or a trace to replay (see `shape.rs`); the default
    /// is `rate_per_sec` throughout, evenly spaced. With stages or a trace, `rate_per_sec` is
    /// not used.
    pub shape: LoadShape,
    /// Where workers also put what they measure, for a live view while the load runs.
    pub live: Option<Live>,
    /// The requests to send; empty means one `GET /`. Several form a weighted mix.
    pub requests: Vec<RequestTemplate>,
    /// Response statuses that count as success; empty means any 2xx.
    pub expect_status: Vec<u16>,
    /// TLS to the targets; `None`: clear text.
    pub tls: Option<TlsSettings>,
    /// The HTTP version spoken (HTTP/2 over TLS needs `tls`).
    pub protocol: Protocol,
    /// HTTP/2: requests in flight at once on each connection (each on its own stream); HTTP/1.1
    /// takes 1.
    pub streams: u32,
}

/// The HTTP version the generator speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// HTTP/1.1, one request at a time per connection.
    #[default]
    H1,
    /// HTTP/2 over TLS, negotiated by ALPN `h2`.
    H2,
    /// HTTP/2 in clear text with prior knowledge (no upgrade).
    H2c,
}

/// What the plan asks of TLS (`[load] tls = true` and its keys).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsSettings {
    /// The name to send (SNI) and verify the certificate against; `None`: the target's IP.
    pub server_name: Option<String>,
    /// Trusted roots, PEM; `None`: the system's.
    pub ca_pem: Option<Vec<u8>>,
    /// Accept any certificate.
    pub insecure_skip_verify: bool,
    /// ALPN protocols to offer, in order of preference; empty: no ALPN extension.
    pub alpn: Vec<String>,
    /// Resume sessions on reconnects (a per-worker cache).
    pub resume: bool,
}

/// A cheap, clonable stop flag: after [`Cancel::cancel`], [`run`] returns promptly with what it
/// has measured so far.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// A configuration the generator refuses, or a worker that could not start. Each message
/// names the `LoadConfig` field at fault.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("targets: at least one target address is required")]
    NoTargets,
    #[error("connections: must be at least 1")]
    NoConnections,
    #[error("cpus: at least one CPU is required for the load workers")]
    NoCpus,
    #[error("mode.rate_per_sec: the open-loop rate must be a finite number above 0, got {0}")]
    InvalidRate(f64),
    #[error("shape: stages, Poisson arrivals and a trace are for the open loop only")]
    ShapeInClosedLoop,
    #[error("shape.stages[{index}]: {reason}")]
    InvalidStage { index: usize, reason: &'static str },
    #[error("shape.stages: they last {stages:?} in all, the measured window {duration:?}")]
    StagesDuration {
        stages: Duration,
        duration: Duration,
    },
    #[error("shape.trace[{index}]: {reason}")]
    InvalidTrace { index: usize, reason: &'static str },
    #[error("duration: the measured interval must be longer than zero")]
    ZeroDuration,
    #[error("timeout: must be longer than zero")]
    ZeroTimeout,
    #[error(
        "send_precision: at most {MAX_SEND_PRECISION:?} (a later send counts as late), got {0:?}"
    )]
    SendPrecision(Duration),
    #[error("warmup/duration/timeout: too long to schedule ({0:?} in total)")]
    TooLong(Duration),
    #[error("requests[{index}].{field}: {reason}")]
    InvalidRequest {
        index: usize,
        field: &'static str,
        reason: String,
    },
    #[error("requests: every weight is 0, so there is nothing to send")]
    NoWeight,
    #[error("expect_status: {0} is not an HTTP status code (100..=999)")]
    InvalidStatus(u16),
    #[error("cpus: cannot pin load worker {worker} to CPU {cpu}: {source}")]
    PinCpu {
        worker: u32,
        cpu: u32,
        #[source]
        source: nix::errno::Errno,
    },
    #[error("cpus: load worker {worker} on CPU {cpu} could not start: {source}")]
    WorkerStart {
        worker: u32,
        cpu: u32,
        #[source]
        source: std::io::Error,
    },
    /// The TLS settings cannot be used, or a target's handshake failed before the load (one
    /// line naming the key or the target, and what to do).
    #[error("{0}")]
    Tls(String),
    #[error("streams: {0} concurrent streams need protocol = \"h2\" or \"h2c\" (HTTP/1.1 sends one request at a time per connection), or streams = 1")]
    StreamsNeedH2(u32),
    #[error("streams: must be at least 1")]
    NoStreams,
    #[error(
        "protocol: \"h2\" is HTTP/2 over TLS: set tls = true, or protocol = \"h2c\" for clear text"
    )]
    H2NeedsTls,
    #[error(
        "protocol: \"h2c\" is HTTP/2 in clear text: remove tls, or use protocol = \"h2\" over TLS"
    )]
    H2cWithTls,
    #[error("load worker {worker} on CPU {cpu} panicked (a bug in the load generator)")]
    WorkerPanicked { worker: u32, cpu: u32 },
}

/// One request of the mix, as the plan gives it. The generator adds `Host: <target ip:port>`
/// (unless the headers carry a `Host`) and, for a body, `Content-Length` (unless the headers
/// carry one, which must then match the body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestTemplate {
    /// A label for the report; not sent.
    pub name: String,
    /// An HTTP method token, e.g. `GET`, `POST`, `HEAD` (a `HEAD` response has no body).
    pub method: String,
    /// The request target, starting with `/`.
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Relative share of the mix; 0 is never sent.
    pub weight: u32,
    /// A gRPC call: the `grpc-status` codes that count as success, a bit per code (bit 0:
    /// `OK`). `None`: not a gRPC call.
    pub grpc_expect: Option<u32>,
}
