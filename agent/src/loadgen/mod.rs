//! The built-in HTTP/1.1 load generator: pinned workers, open- or closed-loop, HdrHistograms.
//!
//! [`run`] takes a [`LoadConfig`] and blocks until the load is over (or [`Cancel::cancel`] is
//! called), returning a [`LoadReport`]: per worker, per target replica, request and error
//! counts, three latency histograms, responses by status code, reconnects, and per request of
//! the mix its counts and corrected latency ([`TargetStats`], [`RequestStats`]).
//!
//! # How it works
//!
//! - **Workers.** One OS thread per CPU in [`LoadConfig::cpus`] (at most one per connection),
//!   pinned to that CPU before anything else runs on it, each running its own edge-triggered
//!   epoll loop (`engine.rs`; no async runtime: the generator's cost per request is what limits
//!   it, so a request costs one `write`, one `read`, clock reads and a histogram record).
//!   Workers share nothing while the load runs; each records into its own histograms, which the
//!   caller merges (percentiles come only from merged histograms).
//! - **Connections.** Spread evenly over the workers in contiguous blocks; connection *g*
//!   (counting across workers) is bound to target `g % targets.len()`, so every replica gets
//!   its share and every worker talks to every replica it can. Each is one keep-alive
//!   HTTP/1.1 non-blocking socket (options in `socket.rs`) writing pre-built requests and
//!   reading each response into a buffer it owns: no locks and no allocation per request.
//! - **Requests** (`request.rs`). [`LoadConfig::requests`] lists [`RequestTemplate`]s (method,
//!   path, headers, body, weight); none means one bare `GET /`, as wrk sends. Each template's
//!   bytes are built once per worker and target (`Host` and, for a body, `Content-Length`
//!   added) and shared by its connections. With several templates of weight above 0, each
//!   connection draws its next request after every outcome from a Weyl sequence over the
//!   cumulative weights: deterministic, a few instructions, and within a few requests of the
//!   weights over any stretch; weight 0 is never sent. With one, nothing is drawn.
//! - **Responses** (`http.rs`, `chunked.rs`). Bodies framed by `Content-Length` (any size:
//!   read and discarded through the fixed buffer), `Transfer-Encoding: chunked` (extensions
//!   and trailers skipped), or the end of the stream (no length given); none for `HEAD`, 204
//!   and 304; interim 1xx skipped. After a response that closes its connection
//!   (`Connection: close`, HTTP/1.0 without keep-alive, a body ended by the close) the
//!   connection reconnects, counted in `reconnects` and not as an error, and carries on with
//!   its schedule: in open loop the intended send times are unchanged, so the connect shows
//!   in the next request's corrected latency.
//! - **Open loop** ([`Mode::Open`], as wrk2). The rate is split evenly over the connections,
//!   and connection *g* of *C* sends its *k*-th request at `start + (g + k·C) / rate`: together
//!   the connections send evenly spaced requests at exactly the total rate. Latency is measured
//!   from that *intended* time (`corrected`) and from the actual send (`uncorrected`); the
//!   difference goes into `send_lag`, and a send more than [`LATE_SEND`] behind counts in
//!   `late_sends`. A connection that falls behind (slow server) sends its backlog back to back,
//!   keeping the intended times: nothing is skipped. Waits use a per-worker `timerfd` rather
//!   than a 1 ms timer, armed early by the thread's recent wake-up latency and finished with a
//!   short busy-poll (see `pacer.rs`), so send lag stays at a few microseconds while the load
//!   core still sleeps between sends.
//! - **Closed loop** ([`Mode::Closed`]). Each connection sends its next request as soon as the
//!   previous one completes; `corrected` equals `uncorrected`, `send_lag` stays empty.
//! - **Measurement window.** Load starts when every worker is pinned and ready, runs `warmup`,
//!   then the measured interval of `duration`. A request (or error) counts if it completes
//!   inside the measured interval; the schedule runs through the boundary unchanged. Requests
//!   still in flight at the end are dropped, not counted.
//! - **Statuses and errors.** Every complete response is counted by status code; one whose
//!   status is not in [`LoadConfig::expect_status`] (not 2xx when that is empty) counts as an
//!   `http_status` error and the connection is kept. A failed connect, I/O error, timeout or
//!   unframable response is counted by kind in [`ErrorCounts`] and the connection reconnects.
//!   Each outcome also counts for the request the connection was on (a failed connect for the
//!   one it was about to send), so `by_request` adds up to the totals. Only a bad
//!   configuration (or a worker that cannot start) is a [`LoadError`].
//! - **Cost of the plain `GET`.** Without a mix nothing is drawn and nothing is recorded per
//!   request twice: status codes go into a fixed array per target (a map only in the report),
//!   and the one `by_request` entry is filled from the totals at the end. Against the single
//!   fixed request of before, a request costs an index into its connection's templates and a
//!   few branches.
//! - **Bounded.** Every connect and exchange has a deadline (`timeout`, checked by a scan every
//!   10 ms), and the loop ends at the end of the measured interval, so [`run`] returns about
//!   `warmup + duration` after the workers start, whatever the server does, and within ~10 ms
//!   of [`Cancel::cancel`].

mod chunked;
mod coalesce;
mod engine;
mod http;
mod live;
mod pacer;
mod request;
mod socket;
mod spin;
mod worker;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

pub use live::{Live, LiveFigures};
pub use request::RequestTemplate;

/// A send more than this behind its intended time counts as late.
pub const LATE_SEND: Duration = Duration::from_millis(1);

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
    /// Where workers also put what they measure, for a live view while the load runs.
    pub live: Option<Live>,
    /// The requests to send; empty means one `GET /`. Several form a weighted mix.
    pub requests: Vec<RequestTemplate>,
    /// Response statuses that count as success; empty means any 2xx.
    pub expect_status: Vec<u16>,
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

/// Everything one [`run`] measured.
#[derive(Debug, Clone)]
pub struct LoadReport {
    /// Wall time of the measured interval (shorter than `duration` if cancelled).
    pub elapsed: Duration,
    pub workers: Vec<WorkerReport>,
}

impl LoadReport {
    /// Each replica's stats merged over all workers, one entry per replica that had a
    /// connection, ordered by replica.
    pub fn per_replica(&self) -> Vec<TargetStats> {
        let mut merged: Vec<TargetStats> = Vec::new();
        for stats in self.workers.iter().flat_map(|w| &w.per_target) {
            match merged.iter_mut().find(|m| m.replica == stats.replica) {
                Some(total) => total.add(stats),
                None => merged.push(stats.clone()),
            }
        }
        merged.sort_by_key(|s| s.replica);
        merged
    }

    /// Successful requests over all workers and replicas.
    pub fn requests(&self) -> u64 {
        self.workers
            .iter()
            .flat_map(|w| &w.per_target)
            .map(|t| t.requests)
            .sum()
    }

    /// Errors of every kind over all workers and replicas.
    pub fn errors(&self) -> ErrorCounts {
        let mut total = ErrorCounts::default();
        for t in self.workers.iter().flat_map(|w| &w.per_target) {
            total.add(&t.errors);
        }
        total
    }
}

/// One worker thread's measurements.
#[derive(Debug, Clone)]
pub struct WorkerReport {
    pub worker: u32,
    /// The CPU the worker was pinned to.
    pub cpu: u32,
    /// CPU time the worker thread used during the measured interval (user + system); compare
    /// with `elapsed` to see how busy the load core was.
    pub cpu_time: Duration,
    /// Closed loop: coalescing naps during the measured interval and their total asked-for
    /// length (asleep, not in `cpu_time`).
    pub naps: u64,
    pub napped: Duration,
    /// Closed loop: waits that busy-polled before reading or blocking, and the time spent so
    /// (busy: part of `cpu_time`).
    pub spins: u64,
    pub spun: Duration,
    /// One entry per replica this worker had connections to, ordered by replica.
    pub per_target: Vec<TargetStats>,
}

/// Counts and latency histograms (nanoseconds) for one replica, from one worker or merged.
#[derive(Debug, Clone)]
pub struct TargetStats {
    pub replica: u32,
    /// Responses with an expected status ([`LoadConfig::expect_status`], or any 2xx) completed
    /// in the measured interval; each has one value in `corrected` and `uncorrected` (and, in
    /// open loop, in `send_lag`).
    pub requests: u64,
    pub errors: ErrorCounts,
    /// Requests sent more than [`LATE_SEND`] after their intended time (open loop).
    pub late_sends: u64,
    /// Completion − intended send time (open loop); completion − send (closed loop).
    pub corrected: Histogram<u64>,
    /// Completion − actual send time.
    pub uncorrected: Histogram<u64>,
    /// Actual − intended send time (open loop only; empty in closed loop).
    pub send_lag: Histogram<u64>,
    /// Complete responses by status code, expected or not.
    pub status_codes: BTreeMap<u16, u64>,
    /// New connections opened because the server closed one after a complete response
    /// (`Connection: close`, HTTP/1.0, a body ended by the close). Not errors.
    pub reconnects: u64,
    /// Per request of the mix, indexed like [`LoadConfig::requests`] (one entry for the
    /// default `GET`). Their `requests` and `errors` add up to this replica's.
    pub by_request: Vec<RequestStats>,
}

impl TargetStats {
    /// Empty stats with histograms from [`numaload_proto::histogram::new_latency`], and no
    /// `by_request` entries ([`TargetStats::add`] makes room for those it adds).
    pub fn new(replica: u32) -> Self {
        Self {
            replica,
            requests: 0,
            errors: ErrorCounts::default(),
            late_sends: 0,
            corrected: numaload_proto::histogram::new_latency(),
            uncorrected: numaload_proto::histogram::new_latency(),
            send_lag: numaload_proto::histogram::new_latency(),
            status_codes: BTreeMap::new(),
            reconnects: 0,
            by_request: Vec::new(),
        }
    }

    /// Adds `other`'s counts and histograms into `self` (the replica number is kept).
    pub fn add(&mut self, other: &TargetStats) {
        self.requests += other.requests;
        self.errors.add(&other.errors);
        self.late_sends += other.late_sends;
        for (total, part) in [
            (&mut self.corrected, &other.corrected),
            (&mut self.uncorrected, &other.uncorrected),
            (&mut self.send_lag, &other.send_lag),
        ] {
            merge_latency(total, part);
        }
        for (&status, &count) in &other.status_codes {
            *self.status_codes.entry(status).or_default() += count;
        }
        self.reconnects += other.reconnects;
        if self.by_request.len() < other.by_request.len() {
            self.by_request
                .resize_with(other.by_request.len(), RequestStats::new);
        }
        for (total, part) in self.by_request.iter_mut().zip(&other.by_request) {
            total.add(part);
        }
    }
}

/// Counts and corrected latency (nanoseconds) for one request of the mix.
#[derive(Debug, Clone)]
pub struct RequestStats {
    /// Responses with an expected status, as [`TargetStats::requests`].
    pub requests: u64,
    /// Failed exchanges of every kind while this request was the connection's next one (a
    /// failed connect included), as [`ErrorCounts::total`].
    pub errors: u64,
    /// As [`TargetStats::corrected`], for this request's successful responses only.
    pub corrected: Histogram<u64>,
}

impl RequestStats {
    /// Empty, with a histogram from [`numaload_proto::histogram::new_latency`].
    pub fn new() -> Self {
        Self {
            requests: 0,
            errors: 0,
            corrected: numaload_proto::histogram::new_latency(),
        }
    }

    pub fn add(&mut self, other: &RequestStats) {
        self.requests += other.requests;
        self.errors += other.errors;
        merge_latency(&mut self.corrected, &other.corrected);
    }
}

impl Default for RequestStats {
    fn default() -> Self {
        Self::new()
    }
}

fn merge_latency(total: &mut Histogram<u64>, part: &Histogram<u64>) {
    numaload_proto::histogram::merge_into(total, part)
        .expect("latency histograms share the same bounds, so merging cannot fail");
}

/// Failed exchanges by kind. A failed exchange is counted once, under the first thing that
/// went wrong.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ErrorCounts {
    /// TCP connect refused, unreachable or timed out (the request was not sent).
    pub connect: u64,
    /// Write or read failed, or the server closed the connection mid-exchange.
    pub io: u64,
    /// No complete response within `timeout` of the send.
    pub timeout: u64,
    /// A complete response whose status was not expected ([`LoadConfig::expect_status`], or
    /// any 2xx); the connection is kept.
    pub http_status: u64,
    /// A response that is not HTTP/1.x this generator can frame (a broken head or chunk
    /// framing, bytes after the response).
    pub parse: u64,
}

impl ErrorCounts {
    pub fn total(&self) -> u64 {
        self.connect + self.io + self.timeout + self.http_status + self.parse
    }

    pub fn add(&mut self, other: &ErrorCounts) {
        self.connect += other.connect;
        self.io += other.io;
        self.timeout += other.timeout;
        self.http_status += other.http_status;
        self.parse += other.parse;
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
    #[error("duration: the measured interval must be longer than zero")]
    ZeroDuration,
    #[error("timeout: must be longer than zero")]
    ZeroTimeout,
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
    #[error("load worker {worker} on CPU {cpu} panicked (a bug in the load generator)")]
    WorkerPanicked { worker: u32, cpu: u32 },
}

/// Applies the load `config` describes and returns what was measured. Blocks the calling thread
/// (one OS thread per worker is spawned and joined). Returns early, with what was measured so
/// far, after `cancel.cancel()`.
pub fn run(config: &LoadConfig, cancel: &Cancel) -> Result<LoadReport, LoadError> {
    validate(config)?;
    let plans = worker::plan(config);
    let mut workers = Vec::with_capacity(plans.len());
    let (ready_tx, ready_rx) = mpsc::channel();
    let mut failure = None;
    for plan in plans {
        let (go_tx, go_rx) = mpsc::channel();
        let (id, cpu) = (plan.worker, plan.cpu);
        let setup = worker::Setup {
            plan,
            config: config.clone(),
            cancel: cancel.clone(),
            ready: ready_tx.clone(),
            go: go_rx,
        };
        match std::thread::Builder::new()
            .name(format!("numaload-load-{id}"))
            .spawn(move || worker::main(setup))
        {
            Ok(handle) => workers.push((id, cpu, go_tx, handle)),
            Err(source) => {
                failure = Some(LoadError::WorkerStart {
                    worker: id,
                    cpu,
                    source,
                });
                break;
            }
        }
    }
    drop(ready_tx);
    // Every spawned worker reports once, after pinning and building its runtime.
    for _ in 0..workers.len() {
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                failure.get_or_insert(e);
            }
            // A worker died before reporting: its join below says how.
            Err(mpsc::RecvError) => break,
        }
    }

    let start = Instant::now();
    let window = worker::Window::new(start, config);
    for (_, _, go, _) in &workers {
        // Dropping the sender instead (on failure) tells the worker to exit; a send error means
        // the worker is already gone, which its join reports.
        if failure.is_none() {
            let _ = go.send(window);
        }
    }
    let mut reports = Vec::with_capacity(workers.len());
    for (id, cpu, go, handle) in workers {
        drop(go);
        match handle.join() {
            Ok(Some(report)) => reports.push(report),
            Ok(None) => {}
            Err(_panic) => {
                failure.get_or_insert(LoadError::WorkerPanicked { worker: id, cpu });
            }
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    let stopped = Instant::now().min(window.measure_end);
    Ok(LoadReport {
        elapsed: stopped.saturating_duration_since(window.measure_start),
        workers: reports,
    })
}

/// Checks everything that does not need the machine (pinning is checked by each worker).
/// Checks request templates as [`run`] would, so a plan can be refused before anything starts.
pub fn validate_requests(templates: &[RequestTemplate]) -> Result<(), LoadError> {
    request::validate(templates)
}

fn validate(config: &LoadConfig) -> Result<(), LoadError> {
    if config.targets.is_empty() {
        return Err(LoadError::NoTargets);
    }
    if config.connections == 0 {
        return Err(LoadError::NoConnections);
    }
    if config.cpus.is_empty() {
        return Err(LoadError::NoCpus);
    }
    if let Mode::Open { rate_per_sec } = config.mode {
        if !(rate_per_sec.is_finite() && rate_per_sec > 0.0) {
            return Err(LoadError::InvalidRate(rate_per_sec));
        }
    }
    if config.duration.is_zero() {
        return Err(LoadError::ZeroDuration);
    }
    if config.timeout.is_zero() {
        return Err(LoadError::ZeroTimeout);
    }
    let total = config
        .warmup
        .checked_add(config.duration)
        .and_then(|d| d.checked_add(config.timeout));
    match total {
        Some(total) if Instant::now().checked_add(total).is_some() => {}
        _ => {
            return Err(LoadError::TooLong(
                config.warmup.saturating_add(config.duration),
            ))
        }
    }
    request::validate(&config.requests)?;
    if let Some(&bad) = config
        .expect_status
        .iter()
        .find(|s| !(100..=999).contains(*s))
    {
        return Err(LoadError::InvalidStatus(bad));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> LoadConfig {
        LoadConfig {
            mode: Mode::Open {
                rate_per_sec: 100.0,
            },
            targets: vec!["127.0.0.1:1".parse().expect("addr")],
            connections: 2,
            cpus: vec![0],
            warmup: Duration::ZERO,
            duration: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            coalesce: true,
            spin: true,
            live: None,
            requests: Vec::new(),
            expect_status: Vec::new(),
        }
    }

    #[test]
    fn bad_configs_are_refused_naming_the_field() {
        type Mutation = fn(&mut LoadConfig);
        let cases: Vec<(&str, Mutation)> = vec![
            ("targets", |c| c.targets.clear()),
            ("connections", |c| c.connections = 0),
            ("cpus", |c| c.cpus.clear()),
            ("mode.rate_per_sec", |c| {
                c.mode = Mode::Open { rate_per_sec: 0.0 }
            }),
            ("mode.rate_per_sec", |c| {
                c.mode = Mode::Open {
                    rate_per_sec: f64::NAN,
                }
            }),
            ("duration", |c| c.duration = Duration::ZERO),
            ("timeout", |c| c.timeout = Duration::ZERO),
            ("duration", |c| c.duration = Duration::MAX),
            ("requests[0].path", |c| {
                c.requests[0].path = "no-slash".into()
            }),
            ("requests", |c| c.requests[0].weight = 0),
            ("expect_status", |c| c.expect_status = vec![200, 42]),
        ];
        for (field, mutate) in cases {
            let mut c = config();
            c.requests = vec![RequestTemplate {
                name: "get".into(),
                method: "GET".into(),
                path: "/".into(),
                headers: Vec::new(),
                body: Vec::new(),
                weight: 1,
            }];
            mutate(&mut c);
            let message = validate(&c).expect_err(field).to_string();
            assert!(message.contains(field), "{message:?} should name {field}");
        }
        assert!(validate(&config()).is_ok());
        let closed = LoadConfig {
            mode: Mode::Closed,
            ..config()
        };
        assert!(validate(&closed).is_ok(), "closed loop needs no rate");
    }

    #[test]
    fn merging_adds_counts_and_histograms() {
        let mut a = TargetStats::new(1);
        a.requests = 2;
        a.errors.io = 1;
        a.corrected.record(1_000).expect("in range");
        let mut b = TargetStats::new(1);
        b.requests = 3;
        b.errors.timeout = 2;
        b.late_sends = 1;
        b.corrected.record(2_000).expect("in range");
        a.add(&b);
        assert_eq!(a.requests, 5);
        assert_eq!(a.errors.total(), 3);
        assert_eq!(a.late_sends, 1);
        assert_eq!(a.corrected.len(), 2);
    }

    #[test]
    fn merging_adds_status_codes_reconnects_and_per_request_stats() {
        let mut a = TargetStats::new(0);
        a.status_codes = BTreeMap::from([(200, 5), (503, 1)]);
        a.reconnects = 2;
        a.by_request = vec![RequestStats::new()];
        a.by_request[0].requests = 5;
        a.by_request[0].corrected.record(1_000).expect("in range");
        let mut b = TargetStats::new(0);
        b.status_codes = BTreeMap::from([(200, 1), (404, 3)]);
        b.reconnects = 1;
        b.by_request = vec![RequestStats::new(), RequestStats::new()];
        b.by_request[0].requests = 1;
        b.by_request[0].corrected.record(3_000).expect("in range");
        b.by_request[1].errors = 4;
        let mut total = TargetStats::new(0);
        total.add(&a);
        total.add(&b);
        assert_eq!(
            total.status_codes,
            BTreeMap::from([(200, 6), (404, 3), (503, 1)])
        );
        assert_eq!(total.reconnects, 3);
        assert_eq!(total.by_request.len(), 2);
        assert_eq!(total.by_request[0].requests, 6);
        assert_eq!(total.by_request[0].corrected.len(), 2);
        assert_eq!(total.by_request[1].errors, 4);
        assert_eq!(total.by_request[1].corrected.len(), 0);
    }
}

/// Not a check: the user-space cost of the per-response hot path (read and parse a typical
/// response, count it) without sockets, for before/after comparisons on a busy machine. Run
/// with `cargo test --release -p numaload-agent --lib -- --ignored --nocapture hot_path`.
#[cfg(test)]
mod hot_path {
    use std::io;
    use std::time::{Duration, Instant};

    use super::http::ResponseReader;
    use super::worker::{Outcome, Window, WorkerStats};
    use super::{LoadConfig, Mode};

    /// What hyper answers: one read returns the whole response.
    const RESPONSE: &[u8] =
        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ndate: Sat, 05 Dec 2026 01:00:00 GMT\r\n\r\nok";

    struct Replay;

    impl io::Read for Replay {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            buf[..RESPONSE.len()].copy_from_slice(RESPONSE);
            Ok(RESPONSE.len())
        }
    }

    #[test]
    #[ignore = "measurement, not a check"]
    fn hot_path_cost() {
        let config = LoadConfig {
            mode: Mode::Closed,
            targets: vec!["127.0.0.1:1".parse().expect("addr")],
            connections: 1,
            cpus: vec![0],
            warmup: Duration::ZERO,
            duration: Duration::from_secs(3600),
            timeout: Duration::from_secs(1),
            coalesce: true,
            spin: true,
            live: None,
            requests: Vec::new(),
            expect_status: Vec::new(),
        };
        let t0 = Instant::now();
        let window = Window::new(t0, &config);
        let mut stats = WorkerStats::new(window, &[0], &config);
        let mut reader = ResponseReader::default();
        let (sent, done) = (t0, t0 + Duration::from_micros(40));
        const N: u32 = 5_000_000;
        let mut best = Duration::MAX;
        let reader_only = std::env::var_os("HOT_READER_ONLY").is_some();
        for _ in 0..5 {
            let started = Instant::now();
            for _ in 0..N {
                let response = reader
                    .read_available(&mut Replay, false)
                    .and_then(Result::ok)
                    .expect("a response per read");
                let outcome = Outcome::Response {
                    status: response.status,
                    intended: None,
                    sent,
                };
                if reader_only {
                    std::hint::black_box(outcome);
                } else {
                    stats.record(0, 0, done, outcome);
                }
            }
            best = best.min(started.elapsed());
        }
        println!(
            "hot path: {:.1} ns per response",
            best.as_nanos() as f64 / f64::from(N)
        );
    }
}
