//! The built-in HTTP load generator (HTTP/1.1, and HTTP/2 over TLS or in clear text): pinned
//! workers, open- or closed-loop, HdrHistograms.
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
//! - **TLS** (`tls.rs`, `stream.rs`), with [`LoadConfig::tls`]: rustls over each connection's
//!   socket, driven by the same event loop (no thread or runtime of its own); the handshake
//!   follows the connect, then the connection sends as in clear text. One handshake per target
//!   before the load ([`run`]) turns a certificate that does not verify into one
//!   [`LoadError::Tls`] naming the target. Each connection's connect, TLS handshake and time to
//!   its first response's first bytes are recorded ([`Setup`]), over the whole load; a TLS
//!   failure is a `tls` error. Responses over TLS are read late and stamped as in clear text.
//! - **HTTP/2** (`h2/`, with [`LoadConfig::protocol`] `H2` or `H2c`): the same workers, phases,
//!   window and stats, the same connection setup (`setup.rs`) and the same phase loop
//!   (`turns.rs`), with steps of its own (`h2/engine.rs`) chosen once per worker, so the
//!   HTTP/1.1 path carries none of it. Each connection carries up to [`LoadConfig::streams`]
//!   requests at once; its module doc says how each mode spreads them, and how flow control,
//!   GOAWAY and stream resets are handled.
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
//!   the connections send evenly spaced requests at exactly the total rate. [`LoadShape`]
//!   changes what is asked for and how it is spread (`shape.rs`): [`Stage`]s (steps and linear
//!   ramps, the send times the inverse of the rate's integral), Poisson arrivals
//!   ([`Arrivals::Poisson`], each connection its own seeded stream), or a recorded trace
//!   ([`TraceEntry`], each request sent at its offset, dealt round robin over the connections);
//!   with stages, each outcome is also counted in the stage its request was intended in
//!   ([`StageStats`]). Latency is measured
//!   from that *intended* time (`corrected`) and from the actual send (`uncorrected`); the
//!   difference goes into `send_lag`, and a send more than [`LATE_SEND`] behind counts in
//!   `late_sends`. A connection that falls behind (slow server) sends its backlog back to back,
//!   keeping the intended times: nothing of the window is skipped. (A warm-up backlog is:
//!   send slots from before the window still unsent, more than [`LATE_SEND`] behind, when it
//!   opens are dropped and counted as `warmup_dropped`, so the window's own schedule goes out
//!   rather than the warm-up's.) Waits use a per-worker `timerfd` rather
//!   than a 1 ms timer, armed by [`LoadConfig::send_precision`] and the thread's recent wake-up
//!   latency (see `pacer.rs`): when the precision covers the wake-up the timer fires after the
//!   send time and every send due by then goes out in that one wake-up (no busy-poll); when it
//!   is finer the timer fires early and a short busy-poll finishes the wait, reported as
//!   pacing ([`WorkerReport::paced`]), not work.
//! - **Closed loop** ([`Mode::Closed`]). Each connection sends its next request as soon as the
//!   previous one completes; `corrected` equals `uncorrected`, `send_lag` stays empty.
//! - **Measurement window.** Load starts when every worker is pinned and ready, runs `warmup`,
//!   then the measured window of `duration`. An outcome belongs to the window by when its
//!   request was *meant to go out*, not when it ended: in open loop its intended send time, in
//!   closed loop (which has no schedule) its actual send. So a warm-up backlog answered inside
//!   the window is not measured, and a request in flight when the window closes still counts.
//!   After the close nothing new is sent (but a request intended inside the window that is not
//!   yet [`LATE_SEND`] behind: the ordinary schedule caught at the close, so a healthy run
//!   ends clean), and the workers keep reading, up to `timeout`, until every request intended
//!   (closed loop: sent) inside the window has its outcome: a response, a `timeout`, or, for
//!   a send slot a connection never reached before the close (waiting on a stalled response,
//!   or not connected), `unsent`. Open loop: served + errors = the window's send slots. A
//!   request never answered still waited: a `timeout` at least until it was given up, an
//!   `unsent` one at least until the end of the drain; those waits go into `waited` as lower
//!   bounds, so overload shows in the corrected latency rather than as a blank.
//! - **Statuses and errors.** Every complete response is counted by status code; one whose
//!   status is not in [`LoadConfig::expect_status`] (not 2xx when that is empty) counts as an
//!   `http_status` error and the connection is kept. A failed connect, I/O error, timeout or
//!   unframable response is counted by kind in [`ErrorCounts`] and the connection reconnects;
//!   a request intended in the window and not sent by its close counts as `unsent`.
//!   Each outcome also counts for the request the connection was on (a failed connect for the
//!   one it was about to send), so `by_request` adds up to the totals. Only a bad
//!   configuration (or a worker that cannot start) is a [`LoadError`].
//! - **Cost of the plain `GET`.** Without a mix nothing is drawn and nothing is recorded per
//!   request twice: status codes go into a fixed array per target (a map only in the report),
//!   and the one `by_request` entry is filled from the totals at the end. Against the single
//!   fixed request of before, a request costs an index into its connection's templates and a
//!   few branches.
//! - **Bounded.** Every connect and exchange has a deadline (`timeout`, checked by a scan every
//!   10 ms), and the drain after the window is bounded by `timeout`, so [`run`] returns at most
//!   about `warmup + duration + timeout` after the workers start (a healthy run: about
//!   `warmup + duration`), whatever the server does, and within ~10 ms of [`Cancel::cancel`]
//!   (a cancelled run counts nothing for the part of the window it did not reach).

mod arrival;
mod chunked;
mod coalesce;
mod config;
mod connection;
mod driver;
mod engine;
mod grpc_status;
mod h2;
mod http;
mod live;
mod pacer;
mod phase;
mod plan;
mod report;
mod request;
mod rng;
mod setup;
mod shape;
mod socket;
mod spin;
mod stats;
mod stream;
mod tls;
mod turns;
mod wait;
mod window;
mod worker;

use std::sync::mpsc;
use std::time::{Duration, Instant};

pub use config::{
    Cancel, LoadConfig, LoadError, Mode, Protocol, RequestTemplate, TlsSettings, LATE_SEND,
    MAX_SEND_PRECISION,
};
pub use live::{Live, LiveFigures};
pub use report::{
    ErrorCounts, LoadReport, RequestStats, Setup, StageStats, TargetCounts, TargetStats,
    ThreadCounts, WorkerReport,
};
pub use shape::{Arrivals, LoadShape, Stage, TraceEntry};

/// Applies the load `config` describes and returns what was measured. Blocks the calling thread
/// (one OS thread per worker is spawned and joined). Returns early, with what was measured so
/// far, after `cancel.cancel()`.
pub fn run(config: &LoadConfig, cancel: &Cancel) -> Result<LoadReport, LoadError> {
    validate(config)?;
    if let Some(settings) = &config.tls {
        let speaks = match config.protocol {
            Protocol::H1 => "http/1.1",
            Protocol::H2 | Protocol::H2c => "h2",
        };
        tls::preflight(settings, &config.targets, Some(speaks), config.timeout)?;
    }
    let plans = plan::plan(config);
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
    let window = window::Window::new(start, config);
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

/// Open loop: how many sends the schedule places inside the measured window, over all
/// connections — what the window's answered and failed requests add up to (every request
/// intended in it has one outcome). Walks every send slot of the run: for tests and tools.
/// `None` in closed loop, which has no schedule.
pub fn window_sends(config: &LoadConfig) -> Option<u64> {
    let Mode::Open { rate_per_sec } = config.mode else {
        return None;
    };
    let plan = shape::SendPlan::new(rate_per_sec, config.warmup, &config.shape);
    let end = config.warmup.saturating_add(config.duration);
    Some(shape::sends_between(
        &plan,
        config.connections,
        config.warmup,
        end,
    ))
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
    if config.duration.is_zero() {
        return Err(LoadError::ZeroDuration);
    }
    validate_shape(config)?;
    if config.timeout.is_zero() {
        return Err(LoadError::ZeroTimeout);
    }
    if config.send_precision > MAX_SEND_PRECISION {
        return Err(LoadError::SendPrecision(config.send_precision));
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
    validate_protocol(config)?;
    if let Some(&bad) = config
        .expect_status
        .iter()
        .find(|s| !(100..=999).contains(*s))
    {
        return Err(LoadError::InvalidStatus(bad));
    }
    Ok(())
}

/// The protocol, its streams and TLS agree.
fn validate_protocol(config: &LoadConfig) -> Result<(), LoadError> {
    match (config.protocol, config.streams, &config.tls) {
        (_, 0, _) => Err(LoadError::NoStreams),
        (Protocol::H1, streams @ 2.., _) => Err(LoadError::StreamsNeedH2(streams)),
        (Protocol::H2, _, None) => Err(LoadError::H2NeedsTls),
        (Protocol::H2, _, Some(tls)) if !tls.alpn.iter().any(|p| p == "h2") => Err(
            LoadError::Tls("tls.alpn: protocol = \"h2\" needs \"h2\" offered by ALPN; add it to alpn (or leave alpn out)".into()),
        ),
        (Protocol::H2c, _, Some(_)) => Err(LoadError::H2cWithTls),
        _ => Ok(()),
    }
}

/// The open loop's rate, stages or trace; closed loop takes none of them.
fn validate_shape(config: &LoadConfig) -> Result<(), LoadError> {
    let shape = &config.shape;
    let Mode::Open { rate_per_sec } = config.mode else {
        if *shape != LoadShape::default() {
            return Err(LoadError::ShapeInClosedLoop);
        }
        return Ok(());
    };
    if let Some(trace) = &shape.trace {
        let requests = config.requests.len().max(1);
        let end = config.warmup.saturating_add(config.duration);
        for (index, pair) in trace.windows(2).enumerate() {
            if pair[1].at < pair[0].at {
                let reason = "entries must be in time order";
                return Err(LoadError::InvalidTrace {
                    index: index + 1,
                    reason,
                });
            }
        }
        for (index, entry) in trace.iter().enumerate() {
            if entry.request as usize >= requests {
                let reason = "names a request the run does not have";
                return Err(LoadError::InvalidTrace { index, reason });
            }
            if entry.at >= end {
                let reason = "falls after the measured window";
                return Err(LoadError::InvalidTrace { index, reason });
            }
        }
        return Ok(());
    }
    if shape.stages.is_empty() {
        if !(rate_per_sec.is_finite() && rate_per_sec > 0.0) {
            return Err(LoadError::InvalidRate(rate_per_sec));
        }
        return Ok(());
    }
    for (index, stage) in shape.stages.iter().enumerate() {
        if ![stage.from, stage.to]
            .iter()
            .all(|r| r.is_finite() && *r >= 0.0)
        {
            let reason = "rates must be finite and not negative";
            return Err(LoadError::InvalidStage { index, reason });
        }
        if stage.duration.is_zero() {
            let reason = "must last longer than zero";
            return Err(LoadError::InvalidStage { index, reason });
        }
    }
    let stages = shape
        .stages
        .iter()
        .fold(Duration::ZERO, |sum, s| sum.saturating_add(s.duration));
    if stages != config.duration {
        return Err(LoadError::StagesDuration {
            stages,
            duration: config.duration,
        });
    }
    Ok(())
}

/// A valid configuration for the unit tests of this module and its children: closed loop,
/// `targets` replicas on 127.0.0.1:8000.., 1 s window, no warm-up; tests change what they probe.
#[cfg(test)]
pub(crate) fn test_config(targets: usize, connections: u32, cpus: &[u32]) -> LoadConfig {
    LoadConfig {
        mode: Mode::Closed,
        targets: (0..targets)
            .map(|i| std::net::SocketAddr::from(([127, 0, 0, 1], 8000 + i as u16)))
            .collect(),
        connections,
        cpus: cpus.to_vec(),
        warmup: Duration::ZERO,
        duration: Duration::from_secs(1),
        timeout: Duration::from_secs(1),
        coalesce: true,
        spin: true,
        send_precision: Duration::ZERO,
        shape: Default::default(),
        live: None,
        requests: Vec::new(),
        expect_status: Vec::new(),
        tls: None,
        protocol: Default::default(),
        streams: 1,
    }
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
            ..test_config(1, 2, &[0])
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
            ("send_precision", |c| {
                c.send_precision = Duration::from_millis(2)
            }),
            ("duration", |c| c.duration = Duration::MAX),
            ("requests[0].path", |c| {
                c.requests[0].path = "no-slash".into()
            }),
            ("requests", |c| c.requests[0].weight = 0),
            ("expect_status", |c| c.expect_status = vec![200, 42]),
            ("shape.stages[1]: rates", |c| {
                c.shape.stages = vec![stage(10.0, 1), stage(-1.0, 1)];
            }),
            ("shape.stages[0]: must last", |c| {
                c.shape.stages = vec![stage(10.0, 0), stage(10.0, 2)];
            }),
            ("shape.stages: they last 3s", |c| {
                c.shape.stages = vec![stage(10.0, 1), stage(10.0, 2)];
            }),
            ("shape.trace[2]: entries must be in time order", |c| {
                c.shape.trace = Some(trace(&[(0, 0), (5, 0), (3, 0)]));
            }),
            ("shape.trace[1]: names a request", |c| {
                c.shape.trace = Some(trace(&[(0, 0), (5, 1)]));
            }),
            ("shape.trace[1]: falls after the measured window", |c| {
                c.shape.trace = Some(trace(&[(0, 0), (2_000, 0)]));
            }),
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
                grpc_expect: None,
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
        let poisson = LoadShape {
            arrivals: Arrivals::Poisson { seed: 1, stream: 0 },
            ..LoadShape::default()
        };
        let closed = LoadConfig {
            shape: poisson.clone(),
            ..closed
        };
        let message = validate(&closed).expect_err("closed").to_string();
        assert!(message.starts_with("shape: "), "{message}");
        let shaped = LoadConfig {
            mode: Mode::Open { rate_per_sec: 0.0 },
            shape: LoadShape {
                stages: vec![stage(0.0, 1), stage(50.0, 1)],
                ..poisson
            },
            duration: Duration::from_secs(2),
            ..config()
        };
        assert!(validate(&shaped).is_ok(), "stages need no rate of the mode");
    }

    #[test]
    fn protocol_streams_and_tls_must_agree() {
        type Mutation = fn(&mut LoadConfig);
        let cases: Vec<(&str, Mutation)> = vec![
            ("streams: 4 concurrent streams need protocol", |c| {
                c.streams = 4
            }),
            ("streams: must be at least 1", |c| c.streams = 0),
            ("protocol: \"h2\" is HTTP/2 over TLS", |c| {
                c.protocol = Protocol::H2
            }),
            ("protocol: \"h2c\" is HTTP/2 in clear text", |c| {
                c.protocol = Protocol::H2c;
                c.tls = Some(TlsSettings::default());
            }),
            ("tls.alpn: protocol = \"h2\" needs \"h2\"", |c| {
                c.protocol = Protocol::H2;
                c.tls = Some(TlsSettings {
                    alpn: vec!["http/1.1".into()],
                    ..TlsSettings::default()
                });
            }),
        ];
        for (field, mutate) in cases {
            let mut c = config();
            mutate(&mut c);
            let message = validate(&c).expect_err(field).to_string();
            assert!(message.contains(field), "{message:?} should name {field}");
        }
        let multiplexed = LoadConfig {
            protocol: Protocol::H2c,
            streams: 100,
            ..config()
        };
        assert!(validate(&multiplexed).is_ok(), "h2c with 100 streams");
    }

    fn stage(rate: f64, seconds: u64) -> Stage {
        Stage {
            from: rate,
            to: rate,
            duration: Duration::from_secs(seconds),
        }
    }

    /// Entries (milliseconds from the start, request index).
    fn trace(entries: &[(u64, u32)]) -> std::sync::Arc<[TraceEntry]> {
        entries
            .iter()
            .map(|&(ms, request)| TraceEntry {
                at: Duration::from_millis(ms),
                request,
            })
            .collect()
    }
}

/// The user-space cost of a worker's per-response hot path, without sockets: read and parse a
/// typical response, then count it into the worker's statistics. `benches/hot_path.rs` prints it
/// (`cargo bench -p numaload-agent --bench hot_path`).
pub mod hot_path {
    use std::io;
    use std::time::{Duration, Instant};

    use super::http::ResponseReader;
    use super::stats::{Outcome, WorkerStats};
    use super::window::Window;
    use super::{LoadConfig, Mode};

    /// What hyper answers: one read returns the whole response.
    const RESPONSE: &[u8] =
        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ndate: Sat, 05 Dec 2026 01:00:00 GMT\r\n\r\nok";

    /// A connection that always has the next response.
    struct Replay;

    impl io::Read for Replay {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            buf[..RESPONSE.len()].copy_from_slice(RESPONSE);
            Ok(RESPONSE.len())
        }
    }

    /// The time per response over `responses` in a row, the best of `rounds`; with `count`
    /// false, the reading and parsing alone.
    pub fn cost_per_response(responses: u32, rounds: u32, count: bool) -> Duration {
        let config = LoadConfig {
            mode: Mode::Closed,
            targets: vec![std::net::SocketAddr::from(([127, 0, 0, 1], 1))],
            connections: 1,
            cpus: vec![0],
            warmup: Duration::ZERO,
            duration: Duration::from_secs(3600),
            timeout: Duration::from_secs(1),
            coalesce: true,
            spin: true,
            send_precision: Duration::ZERO,
            shape: Default::default(),
            live: None,
            requests: Vec::new(),
            expect_status: Vec::new(),
            tls: None,
            protocol: Default::default(),
            streams: 1,
        };
        let t0 = Instant::now();
        let mut stats = WorkerStats::new(Window::new(t0, &config), &[0], &config);
        let mut reader = ResponseReader::default();
        let (sent, done) = (t0, t0 + Duration::from_micros(40));
        let mut best = Duration::MAX;
        for _ in 0..rounds.max(1) {
            let started = Instant::now();
            for _ in 0..responses {
                let Some(Ok(response)) = reader.read_available(&mut Replay, false) else {
                    panic!("every read of Replay holds one whole response");
                };
                let outcome = Outcome::Response {
                    status: response.status,
                    grpc: None,
                    intended: None,
                    sent,
                };
                if count {
                    stats.record(0, 0, done, outcome);
                } else {
                    std::hint::black_box(outcome);
                }
            }
            best = best.min(started.elapsed());
        }
        best / responses.max(1)
    }
}
