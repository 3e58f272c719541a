//! The load generator's part of a layout, the same for a host that drives its own replicas and
//! for a load agent that drives other hosts': begin at the start instant, warm up, measure with
//! the live view beside it, and hand back the generator's report, put on the wire.

use std::time::Duration;

use numaload_proto::histogram;
use numaload_proto::v1::{self, run_event::Event, Phase, WorkerResult};
use tokio::task::JoinHandle;

use super::context::LayoutContext;
use super::error::LayoutError;
use super::events::{phase, send, Events};
use super::prepare::PreparedRun;
use super::start::{sleep_until_unix_ns, unix_now_ns};
use crate::loadgen::{self, LoadConfig, LoadError, LoadReport};
use crate::placement::Placement;

/// A layout's load from its start to its end (see [`begin`]).
pub(super) struct Driving {
    /// When the warm-up began, on this host's clock (Unix ns).
    pub(super) load_started_unix_ns: u64,
    /// With a start instant: how long after it the warm-up began.
    pub(super) start_late_ns: Option<u64>,
    generator: Option<JoinHandle<Result<LoadReport, LoadError>>>,
    live_view: JoinHandle<()>,
}

/// Begins the load of layout `name`: waits for the start instant (`start_at`, Unix ns, when
/// the controller gives one), runs the generator with `load` (none when load agents on other
/// hosts drive these replicas), and returns when the warm-up has passed and the measurement
/// began, with the live view running.
pub(super) async fn begin(
    ctx: &LayoutContext<'_>,
    name: &str,
    start_at: Option<u64>,
    load: Option<LoadConfig>,
) -> Driving {
    if let Some(at) = start_at {
        sleep_until_unix_ns(at).await;
    }
    let load_started_unix_ns = unix_now_ns();
    let start_late_ns = start_at.map(|at| load_started_unix_ns.saturating_sub(at));
    phase(ctx.events, name, Phase::Warmup).await;
    let live = loadgen::Live::default();
    let generator = load.map(|mut load| {
        load.live = Some(live.clone());
        let cancel = ctx.cancel.clone();
        tokio::task::spawn_blocking(move || loadgen::run(&load, &cancel))
    });
    let started = tokio::time::Instant::now();
    tokio::time::sleep(ctx.run.load.warmup).await;
    phase(ctx.events, name, Phase::Measuring).await;
    let stages = Stages {
        shape: ctx.run.load.shape.clone(),
        warmup: ctx.run.load.warmup,
        started,
    };
    let live_view = tokio::spawn(report_live(
        live,
        stages,
        name.to_owned(),
        ctx.events.clone(),
    ));
    Driving {
        load_started_unix_ns,
        start_late_ns,
        generator,
        live_view,
    }
}

impl Driving {
    /// Waits for the generator's report (without a generator here: through the load agents'
    /// window and drain), then stops the live view, so that no live figure follows it.
    pub(super) async fn finish(self, ctx: &LayoutContext<'_>) -> Result<LoadReport, LayoutError> {
        let report = match self.generator {
            Some(generator) => generator.await,
            None => Ok(Ok(hold_for_load_agents(ctx.run, ctx.cancel).await)),
        };
        self.live_view.abort();
        let _ = self.live_view.await;
        report
            .map_err(LayoutError::GeneratorCrashed)?
            .map_err(LayoutError::Generator)
    }
}

/// What the generator is asked to do: the run's load at `targets`, on the placement's load CPUs
/// ([`begin`] gives it the live view).
pub(super) fn load_config(
    run: &PreparedRun,
    targets: Vec<std::net::SocketAddr>,
    placement: &Placement,
) -> LoadConfig {
    LoadConfig {
        mode: run.load.mode,
        targets,
        connections: run.load.connections,
        cpus: placement.load_cpus.clone(),
        warmup: run.load.warmup,
        duration: run.load.duration,
        timeout: run.load.timeout,
        coalesce: run.load.coalesce,
        spin: run.load.spin,
        send_precision: run.load.send_precision,
        shape: run.load.shape.clone(),
        live: None,
        requests: run.load.requests.clone(),
        expect_status: run.load.expect_status.clone(),
        tls: run.load.tls.clone(),
        protocol: run.load.protocol,
        streams: run.load.streams,
    }
}

/// A host under test whose load comes from load agents: keeps its replicas up through the
/// measured window (the warm-up has passed) and the load agents' drain after it (at most the
/// plan's timeout, and a margin for their clocks), and measures nothing itself.
async fn hold_for_load_agents(run: &PreparedRun, cancel: &loadgen::Cancel) -> loadgen::LoadReport {
    let began = tokio::time::Instant::now();
    let window_end = began + run.load.duration;
    let until = window_end + run.load.timeout + DRAIN_MARGIN;
    while tokio::time::Instant::now() < until && !cancel.is_cancelled() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    loadgen::LoadReport {
        elapsed: window_end.min(tokio::time::Instant::now()) - began,
        workers: Vec::new(),
    }
}

/// Beyond the plan's timeout, how long a host under test waits for its load agents' drain.
const DRAIN_MARGIN: Duration = Duration::from_millis(500);

/// Poisson arrivals: the seed and stream the generator drew from, when it ran here.
pub(super) fn arrival_stream(run: &PreparedRun, report: &LoadReport) -> Option<v1::ArrivalStream> {
    match run.load.shape.arrivals {
        loadgen::Arrivals::Poisson { seed, stream }
            if !report.workers.is_empty() && run.load.shape.trace.is_none() =>
        {
            Some(v1::ArrivalStream {
                seed,
                stream: u32::try_from(stream).unwrap_or(u32::MAX),
            })
        }
        _ => None,
    }
}

/// The generator's report on the wire: one result per worker and replica it drove.
pub(super) fn worker_results(
    report: &loadgen::LoadReport,
) -> Result<Vec<WorkerResult>, LayoutError> {
    let encode = |h| histogram::encode(h).map_err(LayoutError::Histogram);
    let mut out = Vec::new();
    for worker in &report.workers {
        for target in &worker.per_target {
            let mut result = WorkerResult {
                worker: worker.worker,
                replica: target.replica,
                cpu: worker.cpu,
                requests: target.requests,
                errors: Some(target.errors.into()),
                latency_corrected: encode(&target.corrected)?,
                latency_uncorrected: encode(&target.uncorrected)?,
                send_lag: encode(&target.send_lag)?,
                latency_waited: encode(&target.waited)?,
                status_codes: target
                    .status_codes
                    .iter()
                    .map(|(&code, &count)| v1::StatusCount {
                        code: u32::from(code),
                        count,
                    })
                    .collect(),
                grpc_status_codes: target
                    .grpc_status_codes
                    .iter()
                    .map(|(&code, &count)| v1::StatusCount { code, count })
                    .collect(),
                by_request: target
                    .by_request
                    .iter()
                    .enumerate()
                    .map(|(index, r)| {
                        Ok(v1::RequestOutcome {
                            request: index as u32,
                            requests: r.requests,
                            errors: r.errors,
                            latency_corrected: encode(&r.corrected)?,
                            latency_waited: encode(&r.waited)?,
                        })
                    })
                    .collect::<Result<_, LayoutError>>()?,
                by_stage: target
                    .by_stage
                    .iter()
                    .enumerate()
                    .map(|(index, s)| {
                        Ok(v1::StageOutcome {
                            stage: index as u32,
                            requests: s.requests,
                            errors: Some(s.errors.into()),
                            late_sends: s.late_sends,
                            latency_corrected: encode(&s.corrected)?,
                            latency_uncorrected: encode(&s.uncorrected)?,
                            latency_waited: encode(&s.waited)?,
                        })
                    })
                    .collect::<Result<_, LayoutError>>()?,
                ..Default::default()
            };
            target.counts.onto_wire(&mut result);
            target.setup.onto_wire(&mut result)?;
            // A worker's own counters (CPU time, waits) are per thread: they go once, on its
            // first replica's result.
            if target.replica == worker.per_target.first().map_or(0, |t| t.replica) {
                worker.counts.onto_wire(&mut result);
            }
            out.push(result);
        }
    }
    Ok(out)
}

/// What the live view needs to say which stage is running: the shape, and when the load began.
struct Stages {
    shape: loadgen::LoadShape,
    warmup: Duration,
    started: tokio::time::Instant,
}

/// Every [`LIVE_EVERY`] while measuring: what the generator measured since the last time, and
/// the stage running now with the rate it asks for, as a `LoadProgress` event. Runs until
/// aborted.
async fn report_live(live: loadgen::Live, stages: Stages, layout: String, events: Events) {
    let mut tick = tokio::time::interval(LIVE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    // The interval a report covers is the time since the last one as it passed, not as the
    // timer planned it: after a stall (the agent stopped or starved) the next tick is due at
    // once, and its planned instant would hide the stall's length.
    let mut last = tokio::time::Instant::now();
    loop {
        tick.tick().await;
        let now = tokio::time::Instant::now();
        let figures = live.take();
        let stage = stages
            .shape
            .stage_at(stages.warmup, now.duration_since(stages.started));
        let progress = v1::LoadProgress {
            layout: layout.clone(),
            requests: figures.requests,
            interval_ms: now.duration_since(last).as_millis() as u64,
            p99_ns: figures
                .p99_ns
                .map_or(-1, |ns| i64::try_from(ns).unwrap_or(i64::MAX)),
            stage: stage.map_or(0, |(index, _)| index as u32 + 1),
            stage_rate_rps: stage.map_or(0.0, |(_, rate)| rate),
        };
        last = now;
        if !send(&events, Event::Load(progress)).await {
            return;
        }
    }
}

/// How often the live view reports.
const LIVE_EVERY: Duration = Duration::from_secs(1);
