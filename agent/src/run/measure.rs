//! Measuring one layout whose replicas are ready: read their placement back, wait for the start,
//! run the load generator while the sampler and the live view run beside it, then check that
//! every replica is still alive and still where it was put.

use std::time::Duration;

use numaload_proto::v1::{self, run_event::Event, LayoutSummary};
use tokio::sync::mpsc;

use super::context::LayoutContext;
use super::error::LayoutError;
use super::events::send;
use super::generator::{self, load_config, worker_results};
use super::placed;
use super::prepare::Role;
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

    let addresses = replicas.replicas.iter().map(|r| r.address).collect();
    // With load agents elsewhere, this agent only holds its replicas up for their load.
    let load = (run.role != Role::Replicas).then(|| load_config(run, addresses, placement));
    // The servers' own request counters before any load, to check the generator's count by;
    // read before the start, so that the load begins at the instant given.
    let served_before = served(target, replicas).await;
    let start_at = if run.wait_for_start {
        let start = starts
            .wait_for(&name, run.start_timeout, cancel)
            .await
            .ok_or(LayoutError::NoStart {
                waited: run.start_timeout,
            })?;
        Some(start.at_unix_ns)
    } else {
        None
    };
    let driving = generator::begin(ctx, &name, start_at, load).await;
    let (load_started_unix_ns, start_late_ns) =
        (driving.load_started_unix_ns, driving.start_late_ns);
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
    let report = driving.finish(ctx).await;
    let received = run.receive.between(&received_before, &run.receive.read());
    let mut stats = sampler.stop().await;
    let _ = forward.await;
    let report = report?;
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
        start_late_ns,
        net_receive: Some(received),
        arrivals: generator::arrival_stream(run, &report),
    })
}

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
