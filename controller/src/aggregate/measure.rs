//! The measured figures of a layout, from the summaries of the agents that measured it: counters
//! added, histograms merged ([`numaload_proto::histogram::merge_encoded`]) and percentiles read
//! from the sums, globally, per replica (each worker's share for it) and per load worker.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use numaload_proto::histogram::{self, HistogramError};
use numaload_proto::v1::{LayoutSummary, WorkerResult};

use super::mix;
use super::percentiles::{base64_of, bounded_percentiles, percentiles};
use super::stages;
use crate::plan::Load;
use crate::result::{Delivery, ErrorKinds, Histograms, HostReceive, LayoutResult, LoadWorker};

/// Fills the measured figures from the summaries of the agents that measured the layout.
pub(super) fn fill_measurement(
    result: &mut LayoutResult,
    load: &Load,
    measured: &[(&str, &LayoutSummary)],
) -> Result<(), HistogramError> {
    let all_workers = || measured.iter().flat_map(|(_, s)| s.workers.iter());
    result.request_mix = mix::request_mix(&load.requests, all_workers())?;
    result.status_codes = mix::status_codes(all_workers(), |w| &w.status_codes);
    result.grpc_status_codes = mix::status_codes(all_workers(), |w| &w.grpc_status_codes);
    let corrected = merge(all_workers(), |w| &w.latency_corrected)?;
    let waited = merge(all_workers(), |w| &w.latency_waited)?;
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
        result
            .errors_by_kind
            .add(&ErrorKinds::from(worker.errors.as_ref()));
    }
    result.errors = result.errors_by_kind.total();
    for worker in all_workers() {
        result.counts.absorb(worker);
    }
    result.delivery = Some(Delivery::of_window(
        result.requests + result.errors,
        result.requests + result.errors_by_kind.answered(),
        None,
        load.min_delivered,
    ));
    set_latency(result, &corrected, &waited, &uncorrected, &lag)?;
    result.stages = stages::stages(load, all_workers(), result.elapsed_s)?;
    super::setup::Setup::of_workers(all_workers())?.onto(result)?;
    for (agent, summary) in measured {
        result
            .load
            .workers
            .extend(load_workers(agent, &summary.workers, summary.elapsed_ns));
    }

    fill_replicas(result, measured)?;
    result.net_receive = net_receive(result, measured);
    let notes = receive_notes(result);
    result.notes.extend(notes);
    Ok(())
}

/// One agent's own figures: only what its entry in the layout's `agents` shows (a fleet has
/// thousands of them; the layout's full figures are [`fill_measurement`]'s).
pub(super) struct AgentFigures {
    pub requests: u64,
    pub errors: ErrorKinds,
    pub throughput_rps: f64,
    /// The window's requests its generator counted, and those answered.
    pub counted: u64,
    pub answered: u64,
    pub latency_ns: crate::result::Percentiles,
    pub latency_uncorrected_ns: crate::result::Percentiles,
}

pub(super) fn agent_figures(summary: &LayoutSummary) -> Result<AgentFigures, HistogramError> {
    let workers = || summary.workers.iter();
    let mut errors = ErrorKinds::default();
    for worker in workers() {
        errors.add(&ErrorKinds::from(worker.errors.as_ref()));
    }
    let requests = workers().map(|w| w.requests).sum();
    Ok(AgentFigures {
        requests,
        throughput_rps: per_second(requests, summary.elapsed_ns),
        counted: requests + errors.total(),
        answered: requests + errors.answered(),
        errors,
        latency_ns: bounded_percentiles(
            &merge(workers(), |w| &w.latency_corrected)?,
            &merge(workers(), |w| &w.latency_waited)?,
        ),
        latency_uncorrected_ns: percentiles(&merge(workers(), |w| &w.latency_uncorrected)?),
    })
}

/// A note for each replica most of whose host's receive work ran on other NUMA nodes than its
/// own while the load came through a card on a known node: its packets crossed the
/// interconnect to reach it. (Over loopback the receive work runs where the sender does.)
fn receive_notes(result: &LayoutResult) -> Vec<String> {
    let mut notes = Vec::new();
    for host in &result.net_receive {
        // On one node there is nowhere else for the work to run.
        if host.nodes.len() < 2 || host.interface_node.is_none() {
            continue;
        }
        let Some(top) = host.nodes.iter().max_by_key(|n| n.net_rx) else {
            continue;
        };
        for replica in result.replicas.iter().filter(|r| r.agent == host.agent) {
            let Some(share) = host.share_on(&replica.actual_cpus) else {
                continue;
            };
            if share >= 0.5 {
                continue;
            }
            let nic = match host.interface_node {
                Some(node) => format!("; {} is on node {node}", host.interface),
                None => String::new(),
            };
            notes.push(format!(
                "replica {} on {}: {:.0}% of the host's receive processing (NET_RX) ran on its \
                 node, {:.0}% on node {}{nic}: its requests crossed to it from another node",
                replica.index,
                host.agent,
                share * 100.0,
                top.net_rx as f64 * 100.0 / host.net_rx().max(1) as f64,
                top.node
            ));
        }
    }
    notes
}

/// Each host under test's receive work, with the share of it on its replicas' nodes.
fn net_receive(result: &LayoutResult, measured: &[(&str, &LayoutSummary)]) -> Vec<HostReceive> {
    let mut cpus_of: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
    for r in &result.replicas {
        cpus_of
            .entry(r.agent.as_str())
            .or_default()
            .extend(r.actual_cpus.iter().copied());
    }
    measured
        .iter()
        .filter_map(|(agent, summary)| {
            let wire = summary.net_receive.as_ref()?;
            let mut host = HostReceive {
                trial: 1,
                agent: (*agent).to_owned(),
                interface: wire.interface.clone(),
                interface_node: u32::try_from(wire.interface_node).ok(),
                nodes: wire.nodes.iter().map(Into::into).collect(),
                on_replica_nodes: None,
            };
            host.on_replica_nodes = host.share_on(cpus_of.get(agent).map_or(&[], Vec::as_slice));
            Some(host)
        })
        .collect()
}

/// Each replica's figures: from the workers that drove it (its own agent's, or load agents'
/// naming it) and its agent's samples of it.
fn fill_replicas(
    result: &mut LayoutResult,
    measured: &[(&str, &LayoutSummary)],
) -> Result<(), HistogramError> {
    // The workers that drove each replica, by its agent and index: its own agent's, or load
    // agents' naming it (a fleet's replicas each look up theirs, not every worker).
    let mut drove: BTreeMap<(&str, u32), Vec<(&WorkerResult, u64)>> = BTreeMap::new();
    for (agent, summary) in measured {
        for w in &summary.workers {
            let owner = if w.target_agent.is_empty() {
                *agent
            } else {
                w.target_agent.as_str()
            };
            drove
                .entry((owner, w.replica))
                .or_default()
                .push((w, summary.elapsed_ns));
        }
    }
    let summaries: BTreeMap<&str, &LayoutSummary> = measured.iter().copied().collect();
    // An agent's only replica, driven by all its workers, has the agent's latency figures.
    let agent_latency: BTreeMap<String, crate::result::Percentiles> = result
        .agents
        .iter()
        .map(|a| (a.agent.clone(), a.latency_ns.clone()))
        .collect();
    for replica in &mut result.replicas {
        let workers = drove
            .get(&(replica.agent.as_str(), replica.index))
            .map_or(&[][..], Vec::as_slice);
        let mine = || workers.iter().map(|(w, _)| *w);
        let elapsed_ns = workers.iter().map(|(_, ns)| *ns).max().unwrap_or(0);
        replica.requests = mine().map(|w| w.requests).sum();
        replica.unanswered = mine()
            .map(|w| {
                let errors = ErrorKinds::from(w.errors.as_ref());
                errors.total() - errors.answered()
            })
            .sum();
        replica.throughput_rps = per_second(replica.requests, elapsed_ns);
        let all_its_agents = summaries.get(replica.agent.as_str()).is_some_and(|s| {
            s.workers.len() == workers.len() && mine().all(|w| w.target_agent.is_empty())
        });
        replica.latency_ns = match agent_latency.get(&replica.agent) {
            Some(latency) if all_its_agents && !workers.is_empty() => latency.clone(),
            _ => bounded_percentiles(
                &merge(mine(), |w| &w.latency_corrected)?,
                &merge(mine(), |w| &w.latency_waited)?,
            ),
        };
        let Some(summary) = summaries.get(replica.agent.as_str()) else {
            continue;
        };
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
                // Driven by load agents, the responses were counted there.
                let elsewhere = mine().any(|w| !w.target_agent.is_empty());
                replica.generator_responses = Some(if elsewhere {
                    mine().map(|w| w.responses_all).sum()
                } else {
                    stats.generator_responses
                });
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

/// The latency figures of a layout and the merged histograms they were read from: `corrected`
/// holds the answered requests, `waited` the lower bounds of the unanswered ones.
pub(super) fn set_latency(
    result: &mut LayoutResult,
    corrected: &Histogram<u64>,
    waited: &Histogram<u64>,
    uncorrected: &Histogram<u64>,
    lag: &Histogram<u64>,
) -> Result<(), HistogramError> {
    result.latency_ns = bounded_percentiles(corrected, waited);
    result.latency_uncorrected_ns = percentiles(uncorrected);
    result.send_lag_ns =
        (result.target_rate_rps.is_some() && !lag.is_empty()).then(|| percentiles(lag));
    result.histograms = Histograms {
        corrected_v2_base64: base64_of(corrected)?,
        uncorrected_v2_base64: base64_of(uncorrected)?,
        send_lag_v2_base64: base64_or_empty(lag)?,
        waited_v2_base64: base64_or_empty(waited)?,
        // The connections' setup is set after, by `setup.rs`.
        ..Histograms::default()
    };
    Ok(())
}

fn base64_or_empty(h: &Histogram<u64>) -> Result<String, HistogramError> {
    if h.is_empty() {
        Ok(String::new())
    } else {
        base64_of(h)
    }
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

/// One entry per load worker (a worker reports once per replica it drove; its CPU time once).
fn load_workers(agent: &str, workers: &[WorkerResult], elapsed_ns: u64) -> Vec<LoadWorker> {
    let mut by_worker: BTreeMap<u32, LoadWorker> = BTreeMap::new();
    for w in workers {
        by_worker
            .entry(w.worker)
            .or_insert_with(|| LoadWorker {
                trial: 1,
                agent: agent.to_owned(),
                worker: w.worker,
                cpu: w.cpu,
                ..LoadWorker::default()
            })
            .absorb(w, elapsed_ns);
    }
    by_worker.into_values().collect()
}
