//! From the agents' event streams to [`LayoutResult`]s: merging, never averaging.
//!
//! Every percentile here is read from a histogram made by adding per-worker histograms
//! ([`numaload_proto::histogram::merge_encoded`]): the global figures merge every worker of every
//! agent, the per-agent figures that agent's workers, the per-replica figures the workers' share
//! for that replica — all from the same data. Counters add up; throughputs of agents measuring
//! at the same time add up. Nothing here does I/O.
//!
//! This file assembles a layout's result from each agent's events (placement, samples, failure
//! or summary); `measure.rs` fills in the measured figures, `collect.rs` gathers the events per
//! agent, `mix.rs` splits the figures by request of the plan's mix, `stages.rs` by stage of a
//! run with `[[load.stages]]`, `percentiles.rs` reads percentiles from histograms, `setup.rs`
//! merges the connections' setup times, `suspect.rs` says when not to trust them (`kept_up.rs`
//! words a rate not reached), `trials.rs` merges the trials of `repeat = N`.

mod collect;
mod kept_up;
mod measure;
mod mix;
mod percentiles;
mod setup;
mod stages;
mod suspect;
mod trials;

use std::collections::BTreeMap;

use numaload_proto::histogram::HistogramError;
use numaload_proto::v1::LayoutSummary;

use crate::plan::{Arrivals, Load, Plan};
use crate::result::{
    AgentLayoutResult, ArrivalStream, Counts, Delivery, ErrorKinds, Histograms, LayoutResult,
    LayoutStatus, LoadPlacement, Percentiles, ReplicaResult, Role, ThreadSample,
};

/// Agents named in a layout's one-line error before `and N more`.
const LISTED_FAILURES: usize = 5;

/// One agent's events for a layout, with what to say if it never reported it.
#[derive(Debug, Clone, Copy)]
pub struct AgentLayout<'a> {
    pub agent: &'a str,
    pub events: &'a LayoutEvents,
    /// The reason given when this agent sent no summary and no failure for the layout.
    pub missing: &'a str,
    /// The agent's clock minus the controller's.
    pub clock_offset_ns: i64,
    /// Open loop: the rate the plan asked of this agent; `None` in closed loop and for an
    /// agent that drives no load (load agents drive its replicas).
    pub asked_rate_rps: Option<f64>,
    /// A hollow agent (`numaload agent --hollow`): its figures are made up.
    pub simulated: bool,
    /// What the agent did in the run.
    pub role: Role,
}

/// One agent of a run, as aggregation needs it: its address, its events, its clock offset, why
/// a layout it never reported is missing, and the rate it was asked for ([`AgentLayout`]).
#[derive(Debug, Clone, Copy)]
pub struct AgentRecord<'a> {
    pub agent: &'a str,
    pub collector: &'a Collector,
    pub clock_offset_ns: i64,
    pub missing: &'a str,
    pub asked_rate_rps: Option<f64>,
    /// A hollow agent: its figures are made up.
    pub simulated: bool,
    /// What the agent did in the run.
    pub role: Role,
}

/// One result per layout of the plan, in plan order, merged over `agents`.
pub fn results(
    plan: &Plan,
    agents: &[AgentRecord<'_>],
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
                        .map(|a| AgentLayout {
                            agent: a.agent,
                            events: a.collector.layouts.get(&wire_name).unwrap_or(&empty),
                            missing: a.missing,
                            clock_offset_ns: a.clock_offset_ns,
                            asked_rate_rps: a.asked_rate_rps,
                            simulated: a.simulated,
                            role: a.role,
                        })
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
            result.load.cpus.extend(&placed.load_cpus);
            result.load.shares_cpus_with_replicas |= placed.load_shares_cpus;
            result.replicas.extend(
                placed
                    .replicas
                    .iter()
                    .map(|p| replica_from_placement(agent.agent, p)),
            );
        }
        result
            .thread_samples
            .extend(events.samples.iter().map(|s| thread_sample(agent.agent, s)));
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
    result.notes = placement_notes(agents);
    result.load.cpus.sort_unstable();
    result.load.cpus.dedup();
    set_probe_medians(&mut result);
    result.status = match (measured.is_empty(), failures.is_empty()) {
        (true, _) => LayoutStatus::Failed,
        (false, true) => LayoutStatus::Ok,
        (false, false) => LayoutStatus::Degraded,
    };
    if !failures.is_empty() {
        result.error = Some(if agents.len() == 1 {
            result.agents[0].error.clone().unwrap_or_default()
        } else {
            // One line a person reads, also for a fleet; every agent's own error is in `agents`.
            crate::units::capped_reasons(&failures, LISTED_FAILURES)
        });
    }
    if measured.is_empty() {
        return Ok(result);
    }
    fill_measurement(&mut result, load, &measured)?;
    // The layout's delivery is its agents' added up, each measured against what it was asked.
    result.delivery = result
        .agents
        .iter()
        .filter_map(|a| a.delivery)
        .reduce(std::ops::Add::add);
    result.start_skew_ns = start_skew(agents);
    result.suspect = suspect::suspicions(&result, load.arrivals == Arrivals::Poisson);
    // A hollow agent's timing is made up: it is not judged.
    let real = agents.iter().filter(|a| !a.simulated);
    result
        .suspect
        .extend(suspect::stalls(real.map(|a| (a.agent, a.events))));
    let simulated = agents.iter().filter(|a| a.simulated).count();
    if simulated > 0 {
        result
            .suspect
            .insert(0, suspect::simulated(simulated, agents.len()));
    }
    result.notes.extend(suspect::notes(&result));
    if result.status == LayoutStatus::Ok {
        result.status = trust_status(&result);
    }
    Ok(result)
}

/// One sample of a replica as the result keeps it.
fn thread_sample(agent: &str, s: &numaload_proto::v1::ThreadSample) -> ThreadSample {
    ThreadSample {
        trial: 1,
        agent: agent.to_owned(),
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
}

/// The agents' placement notes, each said once with the agents that gave it.
fn placement_notes(agents: &[AgentLayout<'_>]) -> Vec<String> {
    let mut notes: Vec<(&str, Vec<&str>)> = Vec::new();
    for agent in agents {
        for note in agent.events.placed.iter().flat_map(|p| &p.notes) {
            match notes.iter_mut().find(|(n, _)| n == note) {
                Some((_, from)) => from.push(agent.agent),
                None => notes.push((note, vec![agent.agent])),
            }
        }
    }
    notes
        .iter()
        .map(|(note, from)| tagged(agents.len(), from, note))
        .collect()
}

/// Each replica's median `/metrics` probe time over its samples (-1 without one).
fn set_probe_medians(result: &mut LayoutResult) {
    let mut probes: BTreeMap<(&str, u32), Vec<i64>> = BTreeMap::new();
    for s in result
        .thread_samples
        .iter()
        .filter(|s| s.metrics_probe_ns >= 0)
    {
        probes
            .entry((s.agent.as_str(), s.replica))
            .or_default()
            .push(s.metrics_probe_ns);
    }
    let medians: BTreeMap<(String, u32), i64> = probes
        .into_iter()
        .map(|((agent, replica), mut ns)| {
            ns.sort_unstable();
            ((agent.to_owned(), replica), ns[ns.len() / 2])
        })
        .collect();
    for replica in &mut result.replicas {
        replica.metrics_probe_p50_ns = medians
            .get(&(replica.agent.clone(), replica.index))
            .copied()
            .unwrap_or(-1);
    }
}

/// The status of a layout every agent measured: `incomplete` when too little of its load was
/// delivered, in all or by any one agent (a fleet's total hides one agent's shortfall),
/// `suspect` when there is any other reason not to trust it, else `ok`.
fn trust_status(result: &LayoutResult) -> LayoutStatus {
    let short = |d: &Option<Delivery>| d.is_some_and(|d| !d.met());
    if short(&result.delivery) || result.agents.iter().any(|a| short(&a.delivery)) {
        LayoutStatus::Incomplete
    } else if result.suspect.is_empty() {
        LayoutStatus::Ok
    } else {
        LayoutStatus::Suspect
    }
}

/// How far apart the agents that drove load began it, on the controller's clock (each agent's
/// start converted by its clock offset); `None` with fewer than two of them.
fn start_skew(agents: &[AgentLayout<'_>]) -> Option<u64> {
    let starts: Vec<i128> = agents
        .iter()
        .filter_map(|a| Some((a.events.summary.as_ref()?, a.clock_offset_ns)))
        .filter(|(s, _)| !s.workers.is_empty() && s.load_started_unix_ns > 0)
        .map(|(s, offset)| i128::from(s.load_started_unix_ns) - i128::from(offset))
        .collect();
    let (min, max) = (starts.iter().min()?, starts.iter().max()?);
    (starts.len() >= 2).then(|| u64::try_from(max - min).unwrap_or(u64::MAX))
}

/// A note given by the agents `from` (of `agents` in the run), prefixed with their addresses
/// when there are several; a note many gave alike is said once, with how many and the first
/// few.
fn tagged(agents: usize, from: &[&str], note: &str) -> String {
    const NAMED: usize = 3;
    match from {
        _ if agents < 2 => note.to_owned(),
        [one] => format!("{one}: {note}"),
        _ if from.len() <= NAMED => format!("{}: {note}", from.join(", ")),
        _ => format!(
            "{} agents ({} and {} more): {note}",
            from.len(),
            from[..NAMED].join(", "),
            from.len() - NAMED
        ),
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
        errors_by_kind: None,
        latency_ns: Percentiles::default(),
        latency_uncorrected_ns: Percentiles::default(),
        delivery: None,
        asked_rate_rps: agent.asked_rate_rps,
        arrivals: None,
        role: Some(agent.role),
        connection_setup: None,
        grpc_status_codes: BTreeMap::new(),
        measuring_at_unix_ns: agent
            .events
            .measuring_at_unix_ns
            .map(|at| at.saturating_add_signed(-agent.clock_offset_ns)),
        start_late_ns: agent.events.summary.as_ref().and_then(|s| s.start_late_ns),
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
    let one = measure::agent_figures(summary)?;
    // Measured against what it was asked: an agent that drove no load delivers nothing.
    let asked = agent
        .asked_rate_rps
        .map(|rate| (rate * load.duration.as_secs_f64()).round() as u64);
    out.delivery = (asked.is_some() || !summary.workers.is_empty()).then(|| {
        let of = if load.arrivals == Arrivals::Poisson {
            Delivery::of_drawn_window
        } else {
            Delivery::of_window
        };
        of(one.counted, one.answered, asked, load.min_delivered)
    });
    out.status = if out.delivery.is_some_and(|d| !d.met()) {
        LayoutStatus::Incomplete
    } else {
        LayoutStatus::Ok
    };
    out.elapsed_s = summary.elapsed_ns as f64 / 1e9;
    out.requests = one.requests;
    out.throughput_rps = one.throughput_rps;
    out.errors = one.errors.total();
    out.errors_by_kind = Some(one.errors);
    out.latency_ns = one.latency_ns;
    out.latency_uncorrected_ns = one.latency_uncorrected_ns;
    out.connection_setup = setup::Setup::of_workers(summary.workers.iter())?.figures();
    out.grpc_status_codes = mix::status_codes(summary.workers.iter(), |w| &w.grpc_status_codes);
    out.arrivals = summary.arrivals.map(|a| ArrivalStream {
        seed: a.seed,
        stream: a.stream,
    });
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
        counts: Counts::default(),
        latency_ns: Percentiles::default(),
        latency_uncorrected_ns: Percentiles::default(),
        send_lag_ns: None,
        connection_setup: None,
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
        grpc_status_codes: BTreeMap::new(),
        delivery: None,
        start_skew_ns: None,
        net_receive: Vec::new(),
        thresholds: Vec::new(),
        stages: Vec::new(),
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
        unanswered: 0,
    }
}

pub use collect::{Collector, LayoutEvents};
pub use suspect::{OneDomain, MIN_REQUESTS_FOR_P999, SATURATED_BUSY, WAITED_ON_SERVER};
pub use trials::merge_trials;

use measure::{fill_measurement, set_latency};
pub use percentiles::{bounded_percentiles, percentiles};

/// The result file's histogram codec lives with the result (reports read it too).
pub use crate::result::histogram_from_base64;

#[cfg(test)]
mod tests;
