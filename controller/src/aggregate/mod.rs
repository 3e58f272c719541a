//! From the agents' event streams to [`LayoutResult`]s: merging, never averaging.
//!
//! Every percentile here is read from a histogram made by adding per-worker histograms
//! ([`numaload_proto::histogram::merge_encoded`]): the global figures merge every worker of every
//! agent, the per-agent figures that agent's workers, the per-replica figures the workers' share
//! for that replica — all from the same data. Counters add up; throughputs of agents measuring
//! at the same time add up. Nothing here does I/O.

mod collect;
mod mix;
mod suspect;
mod trials;

use std::collections::BTreeMap;

use base64::Engine as _;
use hdrhistogram::Histogram;
use numaload_proto::histogram::{self, HistogramError};
use numaload_proto::v1::{LayoutSummary, WorkerResult};

use crate::plan::{Load, Plan};
use crate::result::{
    AgentLayoutResult, ErrorKinds, Histograms, LayoutResult, LayoutStatus, LoadPlacement,
    LoadWorker, Percentiles, ReplicaResult, ThreadSample,
};

/// One agent's events for a layout, with what to say if it never reported it.
#[derive(Debug, Clone, Copy)]
pub struct AgentLayout<'a> {
    pub agent: &'a str,
    pub events: &'a LayoutEvents,
    /// The reason given when this agent sent no summary and no failure for the layout.
    pub missing: &'a str,
    /// The agent's clock minus the controller's.
    pub clock_offset_ns: i64,
}

/// One result per layout of the plan, in plan order, merged over `agents` (each a collector,
/// its address, its clock offset, and why a layout it never reported is missing).
pub fn results(
    plan: &Plan,
    agents: &[(&str, &Collector, i64, &str)],
) -> Result<Vec<LayoutResult>, HistogramError> {
    let empty = LayoutEvents::default();
    plan.layouts
        .iter()
        .map(|layout| {
            let trials = (1..=plan.repeat)
                .map(|trial| {
                    let wire_name = plan.trial_name(&layout.name, trial);
                    let per_agent: Vec<AgentLayout<'_>> = agents
                        .iter()
                        .map(
                            |&(agent, collector, clock_offset_ns, missing)| AgentLayout {
                                agent,
                                events: collector.layouts.get(&wire_name).unwrap_or(&empty),
                                missing,
                                clock_offset_ns,
                            },
                        )
                        .collect();
                    let mut result = layout_result(&layout.name, &plan.load, &per_agent)?;
                    trials::set_trial(&mut result, trial);
                    Ok(result)
                })
                .collect::<Result<Vec<_>, HistogramError>>()?;
            trials::merge_trials(trials)
        })
        .collect()
}

/// Builds one layout's result from what every agent sent.
pub fn layout_result(
    name: &str,
    load: &Load,
    agents: &[AgentLayout<'_>],
) -> Result<LayoutResult, HistogramError> {
    let mut result = empty_result(name, load);
    let mut measured: Vec<(&str, &LayoutSummary)> = Vec::new();
    let mut failures = Vec::new();
    for agent in agents {
        let events = agent.events;
        if let Some(placed) = &events.placed {
            result
                .notes
                .extend(placed.notes.iter().map(|n| tagged(agents, agent.agent, n)));
            result.load.cpus.extend(&placed.load_cpus);
            result.load.shares_cpus_with_replicas |= placed.load_shares_cpus;
            result.replicas.extend(
                placed
                    .replicas
                    .iter()
                    .map(|p| replica_from_placement(agent.agent, p)),
            );
        }
        result.thread_samples.extend(events.samples.iter().map(|s| {
            ThreadSample {
                trial: 1,
                agent: agent.agent.to_owned(),
                replica: s.replica,
                t_ms: s.t_ms,
                os_threads: s.os_threads,
                cpu_time_ns: s.cpu_time_ns,
                rss_bytes: s.rss_bytes,
                alive_tasks: s.alive_tasks,
                global_queue_depth: s.global_queue_depth,
                blocking_threads: s.blocking_threads,
                inflight_calls: s.inflight_calls,
                metrics_probe_ns: s.metrics_probe_ns,
                metrics_probe_timed_out: s.metrics_probe_timed_out,
                processes: s.processes,
                // JSON has no NaN or infinity: such a value is left out, not written as null.
                scraped: s
                    .scraped
                    .iter()
                    .filter(|v| v.value.is_finite())
                    .map(|v| (v.name.clone(), v.value))
                    .collect(),
                sched: s
                    .sched
                    .as_ref()
                    .and_then(|r| crate::result::sched_finite(r.into())),
                go_sched: s.go_sched.iter().map(Into::into).collect(),
                tokio: s
                    .tokio
                    .as_ref()
                    .map(crate::result::TokioRuntime::from)
                    .filter(|t| t.busy_workers.is_finite() && t.parks_per_s.is_finite()),
            }
        }));
        let agent_result = agent_layout_result(agent, load)?;
        match &events.summary {
            Some(summary) => measured.push((agent.agent, summary)),
            None => failures.push(format!(
                "{}: {}",
                agent.agent,
                agent_result.error.clone().unwrap_or_default()
            )),
        }
        result.agents.push(agent_result);
    }
    result.load.cpus.sort_unstable();
    result.load.cpus.dedup();
    for replica in &mut result.replicas {
        let mut probes: Vec<i64> = result
            .thread_samples
            .iter()
            .filter(|s| s.agent == replica.agent && s.replica == replica.index)
            .map(|s| s.metrics_probe_ns)
            .filter(|&ns| ns >= 0)
            .collect();
        probes.sort_unstable();
        replica.metrics_probe_p50_ns = probes.get(probes.len() / 2).copied().unwrap_or(-1);
    }
    result.status = match (measured.is_empty(), failures.is_empty()) {
        (true, _) => LayoutStatus::Failed,
        (false, true) => LayoutStatus::Ok,
        (false, false) => LayoutStatus::Degraded,
    };
    if !failures.is_empty() {
        result.error = Some(if agents.len() == 1 {
            result.agents[0].error.clone().unwrap_or_default()
        } else {
            failures.join("; ")
        });
    }
    if measured.is_empty() {
        return Ok(result);
    }
    fill_measurement(&mut result, load, &measured)?;
    result.suspect = suspect::suspicions(&result);
    Ok(result)
}

/// A note from one agent, prefixed with its address when there are several.
fn tagged(agents: &[AgentLayout<'_>], agent: &str, note: &str) -> String {
    if agents.len() > 1 {
        format!("{agent}: {note}")
    } else {
        note.to_owned()
    }
}

fn agent_layout_result(
    agent: &AgentLayout<'_>,
    load: &Load,
) -> Result<AgentLayoutResult, HistogramError> {
    let mut out = AgentLayoutResult {
        trial: 1,
        agent: agent.agent.to_owned(),
        status: LayoutStatus::Failed,
        error: None,
        elapsed_s: 0.0,
        requests: 0,
        throughput_rps: 0.0,
        errors: 0,
        latency_ns: Percentiles::default(),
        latency_uncorrected_ns: Percentiles::default(),
        measuring_at_unix_ns: agent
            .events
            .measuring_at_unix_ns
            .map(|at| at.saturating_add_signed(-agent.clock_offset_ns)),
    };
    let Some(summary) = &agent.events.summary else {
        out.error = Some(
            agent
                .events
                .failure
                .clone()
                .unwrap_or_else(|| agent.missing.to_owned()),
        );
        return Ok(out);
    };
    let mut one = empty_result("", load);
    fill_measurement(&mut one, load, &[(agent.agent, summary)])?;
    out.status = LayoutStatus::Ok;
    out.elapsed_s = one.elapsed_s;
    out.requests = one.requests;
    out.throughput_rps = one.throughput_rps;
    out.errors = one.errors;
    out.latency_ns = one.latency_ns;
    out.latency_uncorrected_ns = one.latency_uncorrected_ns;
    Ok(out)
}

fn empty_result(name: &str, load: &Load) -> LayoutResult {
    LayoutResult {
        name: name.to_owned(),
        status: LayoutStatus::Ok,
        error: None,
        mode: if load.rate().is_some() {
            "open"
        } else {
            "closed"
        }
        .to_owned(),
        target_rate_rps: load.rate(),
        elapsed_s: 0.0,
        requests: 0,
        throughput_rps: 0.0,
        errors: 0,
        errors_by_kind: ErrorKinds::default(),
        late_sends: 0,
        latency_ns: Percentiles::default(),
        latency_uncorrected_ns: Percentiles::default(),
        send_lag_ns: None,
        agents: Vec::new(),
        replicas: Vec::new(),
        load: LoadPlacement {
            cpus: Vec::new(),
            shares_cpus_with_replicas: false,
            workers: Vec::new(),
        },
        suspect: Vec::new(),
        notes: Vec::new(),
        thread_samples: Vec::new(),
        histograms: Histograms::default(),
        trials: Vec::new(),
        confidence: None,
        request_mix: Vec::new(),
        status_codes: BTreeMap::new(),
        reconnects: 0,
    }
}

fn replica_from_placement(agent: &str, p: &numaload_proto::v1::ReplicaPlacement) -> ReplicaResult {
    ReplicaResult {
        trial: 1,
        agent: agent.to_owned(),
        index: p.index,
        pid: p.pid,
        address: p.address.clone(),
        intended_cpus: p.intended_cpus.clone(),
        actual_cpus: p.actual_cpus.clone(),
        intended_memory_nodes: p.intended_memory_nodes.clone(),
        intended_memory_policy: p.intended_memory_policy.clone(),
        memory_policy: p.memory_policy.clone(),
        placement_ok: p.placement_ok,
        worker_threads: p.worker_threads,
        threads_min: 0,
        threads_max: 0,
        threads_last: 0,
        cpu_time_ns: 0,
        rss_bytes_max: 0,
        alive_tasks_max: -1,
        blocking_threads_max: -1,
        metrics_probe_p50_ns: -1,
        requests: 0,
        throughput_rps: 0.0,
        latency_ns: Percentiles::default(),
        pages_by_node: p
            .pages_by_node
            .iter()
            .map(|n| (n.node.to_string(), n.pages))
            .collect(),
        cgroup: p.cgroup.as_ref().map(Into::into),
        warnings: p.warnings.clone(),
        processes: p.processes,
        threads: p.threads,
        mismatches: p.mismatches.iter().map(Into::into).collect(),
        pages_off_node: p.pages_off_node,
        tree: p.tree.iter().map(Into::into).collect(),
        processes_max: 0,
        mismatches_at_end: Vec::new(),
        pages_off_node_at_end: 0,
        processes_at_end: Vec::new(),
        scraped: Vec::new(),
        sched_max: None,
        go_threads_max: None,
        server_requests: None,
        generator_responses: None,
    }
}

/// Fills the measured figures from the summaries of the agents that measured the layout.
fn fill_measurement(
    result: &mut LayoutResult,
    load: &Load,
    measured: &[(&str, &LayoutSummary)],
) -> Result<(), HistogramError> {
    let all_workers = || measured.iter().flat_map(|(_, s)| s.workers.iter());
    result.request_mix = mix::request_mix(&load.requests, all_workers())?;
    result.status_codes = mix::status_codes(all_workers());
    result.reconnects = all_workers().map(|w| w.reconnects).sum();
    let corrected = merge(all_workers(), |w| &w.latency_corrected)?;
    let uncorrected = merge(all_workers(), |w| &w.latency_uncorrected)?;
    let lag = merge(all_workers(), |w| &w.send_lag)?;

    result.elapsed_s = measured
        .iter()
        .map(|(_, s)| s.elapsed_ns as f64 / 1e9)
        .fold(0.0, f64::max);
    result.requests = all_workers().map(|w| w.requests).sum();
    // Agents measure at the same time: their rates add up.
    result.throughput_rps = measured
        .iter()
        .map(|(_, s)| per_second(s.workers.iter().map(|w| w.requests).sum(), s.elapsed_ns))
        .sum();
    for worker in all_workers() {
        result.errors_by_kind.add(&error_kinds(worker));
    }
    result.errors = result.errors_by_kind.total();
    result.late_sends = all_workers().map(|w| w.late_sends).sum();
    set_latency(result, &corrected, &uncorrected, &lag)?;
    for (agent, summary) in measured {
        result
            .load
            .workers
            .extend(load_workers(agent, &summary.workers, summary.elapsed_ns));
    }

    for replica in &mut result.replicas {
        let Some((_, summary)) = measured.iter().find(|(agent, _)| *agent == replica.agent) else {
            continue;
        };
        let mine = || {
            summary
                .workers
                .iter()
                .filter(|w| w.replica == replica.index)
        };
        replica.requests = mine().map(|w| w.requests).sum();
        replica.throughput_rps = per_second(replica.requests, summary.elapsed_ns);
        replica.latency_ns = percentiles(&merge(mine(), |w| &w.latency_corrected)?);
        if let Some(stats) = summary.replicas.iter().find(|s| s.replica == replica.index) {
            replica.threads_min = stats.threads_min;
            replica.threads_max = stats.threads_max;
            replica.threads_last = stats.threads_last;
            replica.cpu_time_ns = stats.cpu_time_ns;
            replica.rss_bytes_max = stats.rss_bytes_max;
            replica.alive_tasks_max = stats.alive_tasks_max;
            replica.blocking_threads_max = stats.blocking_threads_max;
            replica.processes_max = stats.processes_max;
            replica.mismatches_at_end = stats.mismatches_at_end.iter().map(Into::into).collect();
            replica.pages_off_node_at_end = stats.pages_off_node;
            replica.processes_at_end = stats.processes.iter().map(Into::into).collect();
            replica.scraped = stats
                .scraped
                .iter()
                .filter(|s| [s.min, s.max, s.last].iter().all(|v| v.is_finite()))
                .map(Into::into)
                .collect();
            replica.sched_max = stats
                .sched_max
                .as_ref()
                .and_then(|r| crate::result::sched_finite(r.into()));
            replica.go_threads_max = (stats.go_threads_max > 0).then_some(stats.go_threads_max);
            if let Ok(served) = u64::try_from(stats.server_requests) {
                replica.server_requests = Some(served);
                replica.generator_responses = Some(stats.generator_responses);
            }
            if !stats.pages_by_node.is_empty() {
                replica.pages_by_node = stats
                    .pages_by_node
                    .iter()
                    .map(|n| (n.node.to_string(), n.pages))
                    .collect();
            }
        }
    }
    Ok(())
}

/// The latency figures of a layout and the merged histograms they were read from.
pub(super) fn set_latency(
    result: &mut LayoutResult,
    corrected: &Histogram<u64>,
    uncorrected: &Histogram<u64>,
    lag: &Histogram<u64>,
) -> Result<(), HistogramError> {
    result.latency_ns = percentiles(corrected);
    result.latency_uncorrected_ns = percentiles(uncorrected);
    result.send_lag_ns =
        (result.target_rate_rps.is_some() && !lag.is_empty()).then(|| percentiles(lag));
    result.histograms = Histograms {
        corrected_v2_base64: base64_of(corrected)?,
        uncorrected_v2_base64: base64_of(uncorrected)?,
        send_lag_v2_base64: if lag.is_empty() {
            String::new()
        } else {
            base64_of(lag)?
        },
    };
    Ok(())
}

fn per_second(count: u64, elapsed_ns: u64) -> f64 {
    if elapsed_ns == 0 {
        0.0
    } else {
        count as f64 / (elapsed_ns as f64 / 1e9)
    }
}

fn merge<'a>(
    workers: impl Iterator<Item = &'a WorkerResult>,
    field: impl Fn(&'a WorkerResult) -> &'a Vec<u8>,
) -> Result<Histogram<u64>, HistogramError> {
    histogram::merge_encoded(workers.map(|w| field(w).as_slice()))
}

fn error_kinds(worker: &WorkerResult) -> ErrorKinds {
    let e = worker.errors.unwrap_or_default();
    ErrorKinds {
        connect: e.connect,
        io: e.io,
        timeout: e.timeout,
        http_status: e.http_status,
        parse: e.parse,
        unsent: e.unsent,
    }
}

/// One entry per load worker (a worker reports once per replica it drove; its CPU time once).
fn load_workers(agent: &str, workers: &[WorkerResult], elapsed_ns: u64) -> Vec<LoadWorker> {
    let mut by_worker: BTreeMap<u32, (LoadWorker, u64, u64, u64)> = BTreeMap::new();
    for w in workers {
        let (entry, napped_ns, spun_ns, paced_ns) = by_worker.entry(w.worker).or_insert((
            LoadWorker {
                trial: 1,
                agent: agent.to_owned(),
                worker: w.worker,
                cpu: w.cpu,
                requests: 0,
                cpu_time_ns: 0,
                busy: 0.0,
                naps: 0,
                napped: 0.0,
                spins: 0,
                spun: 0.0,
                paces: 0,
                paced: 0.0,
            },
            0,
            0,
            0,
        ));
        entry.requests += w.requests;
        entry.cpu_time_ns += w.cpu_time_ns;
        entry.naps += w.naps;
        *napped_ns += w.napped_ns;
        entry.spins += w.spins;
        *spun_ns += w.spun_ns;
        entry.paces += w.paces;
        *paced_ns += w.paced_ns;
    }
    let share = |ns: u64| {
        if elapsed_ns > 0 {
            ns as f64 / elapsed_ns as f64
        } else {
            0.0
        }
    };
    by_worker
        .into_values()
        .map(|(mut w, napped_ns, spun_ns, paced_ns)| {
            w.busy = share(w.cpu_time_ns);
            w.napped = share(napped_ns);
            w.spun = share(spun_ns);
            w.paced = share(paced_ns);
            w
        })
        .collect()
}

pub use collect::{Collector, LayoutEvents};
pub use suspect::{MIN_REQUESTS_FOR_P999, SATURATED_BUSY, WAITED_ON_SERVER};
pub use trials::merge_trials;

pub fn percentiles(h: &Histogram<u64>) -> Percentiles {
    if h.is_empty() {
        return Percentiles::default();
    }
    Percentiles {
        count: h.len(),
        min: h.min(),
        mean: h.mean(),
        p50: h.value_at_quantile(0.50),
        p90: h.value_at_quantile(0.90),
        p99: h.value_at_quantile(0.99),
        p999: h.value_at_quantile(0.999),
        max: h.max(),
    }
}

fn base64_of(h: &Histogram<u64>) -> Result<String, HistogramError> {
    Ok(base64::engine::general_purpose::STANDARD.encode(histogram::encode(h)?))
}

/// The result file's histogram codec lives with the result (reports read it too).
pub use crate::result::histogram_from_base64;

#[cfg(test)]
mod tests;
