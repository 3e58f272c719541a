//! Measuring one layout whose replicas are ready: read their placement back, wait for the start,
//! run the load generator while the sampler and the live view run beside it, then check that
//! every replica is still alive and still where it was put.

use std::time::Duration;

use numaload_proto::histogram;
use numaload_proto::v1::{self, run_event::Event, LayoutSummary, Phase, WorkerResult};
use tokio::sync::mpsc;

use super::context::LayoutContext;
use super::error::LayoutError;
use super::events::{phase, send, Events};
use super::placed;
use super::prepare::{PreparedRun, Role};
use super::start::{sleep_until_unix_ns, unix_now_ns};
use crate::loadgen::{self, LoadConfig};
use crate::placement::{Layout, Placement};
use crate::replica::{ReplicaSet, ReplicaSpec};
use crate::sampler::{Sampled, Sampler};
use crate::target::Target;

#[allow(
    clippy::too_many_lines,
    reason = "one layout's measurement in the order it happens: start, load with the samplers, read back, summarise"
)]
pub(super) async fn measure(
    ctx: &LayoutContext<'_>,
    layout: &Layout,
    placement: &Placement,
    target: &Target,
    specs: &[ReplicaSpec],
    replicas: &mut ReplicaSet,
) -> Result<LayoutSummary, LayoutError> {
    let LayoutContext {
        run,
        events,
        cancel,
        starts,
        ..
    } = *ctx;
    let name = layout.name.clone();
    settle_output(replicas).await;
    let placed = placed::read_back(layout, placement, specs, replicas);
    let failures = placed::failures(&placed.replicas, "when the replicas were ready");
    send(events, Event::Placed(placed)).await;
    if let Some(failures) = failures {
        return Err(failures);
    }

    let live = loadgen::Live::default();
    let addresses = replicas.replicas.iter().map(|r| r.address).collect();
    let load = load_config(run, addresses, placement, &live);
    // The servers' own request counters before any load, to check the generator's count by;
    // read before the start, so that the load begins at the instant given.
    let served_before = served(target, replicas).await;
    if run.wait_for_start {
        let start = starts
            .wait_for(&name, run.start_timeout, cancel)
            .await
            .ok_or(LayoutError::NoStart {
                waited: run.start_timeout,
            })?;
        sleep_until_unix_ns(start.at_unix_ns).await;
    }
    let load_started_unix_ns = unix_now_ns();
    phase(events, &name, Phase::Warmup).await;
    let load_cancel = cancel.clone();
    // With load agents elsewhere, this agent only holds its replicas up for their load.
    let generator = (run.role != Role::Replicas)
        .then(|| tokio::task::spawn_blocking(move || loadgen::run(&load, &load_cancel)));
    tokio::time::sleep(run.load.warmup).await;
    phase(events, &name, Phase::Measuring).await;
    let received_before = run.receive.read();
    let (batches_tx, mut batches_rx) = mpsc::channel(64);
    let sampled = replicas
        .replicas
        .iter()
        .map(|r| Sampled {
            replica: r.index,
            pid: r.pid,
            metrics: target
                .metrics
                .as_ref()
                .map(|path| (r.address, path.clone())),
            scrape: target.scrape.clone(),
            schedtrace: target.schedtrace.map(|_| r.output().clone()),
        })
        .collect();
    let sampler = Sampler::start(name.clone(), sampled, batches_tx);
    let forward_events = events.clone();
    let forward = tokio::spawn(async move {
        while let Some(batch) = batches_rx.recv().await {
            if !send(&forward_events, Event::Samples(batch)).await {
                break;
            }
        }
    });
    let live_view = tokio::spawn(report_live(live, name.clone(), events.clone()));
    let report = match generator {
        Some(generator) => generator.await,
        None => Ok(Ok(hold_for_load_agents(run, cancel).await)),
    };
    // Stopped and awaited, so that no live figure follows the summary.
    live_view.abort();
    let _ = live_view.await;
    let received = run.receive.between(&received_before, &run.receive.read());
    let mut stats = sampler.stop().await;
    let _ = forward.await;
    let report = report
        .map_err(LayoutError::GeneratorCrashed)?
        .map_err(LayoutError::Generator)?;
    // ...and after it: what each server says it served over the whole load, beside what the
    // generator received from it over the same span.
    let served_after = served(target, replicas).await;
    let responses = report.per_replica();
    for (i, stat) in stats.iter_mut().enumerate() {
        stat.server_requests = match (served_before.get(i), served_after.get(i)) {
            (Some(Some(before)), Some(Some(after))) if after >= before => {
                (after - before).round() as i64
            }
            _ => -1,
        };
        stat.generator_responses = responses
            .iter()
            .find(|t| t.replica == stat.replica)
            .map_or(0, |t| t.counts.responses_all);
    }
    // A replica that died while measured fails the layout, however good the figures look.
    let deaths: Vec<String> = replicas
        .replicas
        .iter_mut()
        .filter_map(|r| r.death())
        .collect();
    if !deaths.is_empty() {
        return Err(LayoutError::Died { deaths });
    }
    // Placement again, now that the servers had the whole load to move threads or fork.
    let at_end = placed::verdicts(specs, replicas);
    let mut mismatches = Vec::new();
    for (stat, (verdict, tree)) in stats.iter_mut().zip(at_end) {
        stat.memory_policy = verdict.memory_policy.clone();
        stat.pages_by_node = placed::wire_pages(&verdict.pages_by_node);
        stat.pages_off_node = verdict.pages_off_node;
        stat.mismatches_at_end = placed::wire_mismatches(&verdict);
        stat.processes = tree;
        mismatches.push(v1::ReplicaPlacement {
            index: stat.replica,
            placement_ok: verdict.ok(),
            processes: verdict.processes,
            threads: verdict.threads,
            mismatches: stat.mismatches_at_end.clone(),
            ..Default::default()
        });
    }
    if let Some(failures) = placed::failures(&mismatches, "when the measurement ended") {
        return Err(failures);
    }
    Ok(LayoutSummary {
        layout: name,
        elapsed_ns: report.elapsed.as_nanos() as u64,
        workers: worker_results(&report)?,
        replicas: stats,
        load_started_unix_ns,
        net_receive: Some(received),
    })
}

/// What the generator is asked to do: the run's load at `targets`, on the placement's load CPUs.
pub(super) fn load_config(
    run: &PreparedRun,
    targets: Vec<std::net::SocketAddr>,
    placement: &Placement,
    live: &loadgen::Live,
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
        live: Some(live.clone()),
        requests: run.load.requests.clone(),
        expect_status: run.load.expect_status.clone(),
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

/// Each replica's own count of served requests (its target's `requests_counter`), `None` where
/// the target names none or the scrape failed.
async fn served(target: &Target, replicas: &ReplicaSet) -> Vec<Option<f64>> {
    let (Some(path), Some(counter)) = (&target.metrics, &target.requests_counter) else {
        return vec![None; replicas.replicas.len()];
    };
    let names = [counter.clone()];
    let mut out = Vec::with_capacity(replicas.replicas.len());
    for replica in &replicas.replicas {
        let scrape = crate::scrape::Scraper::new(replica.address, path)
            .scrape(Duration::from_millis(500))
            .await;
        out.push(crate::scrape::parse_series(&scrape.text, &names)[0]);
    }
    out
}

/// Lets the replicas' output readers catch up before their `warning:` lines are collected: a
/// replica writes its knobs and warnings around the time it becomes ready, but other tasks read
/// them (and may be late, e.g. when the agent's own cgroup quota throttles it). Waits until the
/// lines stopped coming for 20 ms, at most 250 ms.
async fn settle_output(replicas: &ReplicaSet) {
    let counts = || -> Vec<usize> {
        replicas
            .replicas
            .iter()
            .map(|r| r.output().count())
            .collect()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_millis(250);
    let mut last = counts();
    let mut stable_since = tokio::time::Instant::now();
    while tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
        let now = counts();
        if now != last {
            last = now;
            stable_since = tokio::time::Instant::now();
        } else if stable_since.elapsed() >= Duration::from_millis(20) {
            break;
        }
    }
}

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
                ..Default::default()
            };
            target.counts.onto_wire(&mut result);
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

/// Every [`LIVE_EVERY`] while measuring: what the generator measured since the last time, as a
/// `LoadProgress` event. Runs until aborted.
pub(super) async fn report_live(live: loadgen::Live, layout: String, events: Events) {
    let mut tick = tokio::time::interval(LIVE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = tick.tick().await;
    loop {
        let now = tick.tick().await;
        let figures = live.take();
        let progress = v1::LoadProgress {
            layout: layout.clone(),
            requests: figures.requests,
            interval_ms: now.duration_since(last).as_millis() as u64,
            p99_ns: figures
                .p99_ns
                .map_or(-1, |ns| i64::try_from(ns).unwrap_or(i64::MAX)),
        };
        last = now;
        if !send(&events, Event::Load(progress)).await {
            return;
        }
    }
}

/// How often the live view reports.
const LIVE_EVERY: Duration = Duration::from_secs(1);
