//! From the agents' event streams to [`LayoutResult`]s: merging, never averaging.
//!
//! Every percentile here is read from a histogram made by adding per-worker histograms
//! ([`numaload_proto::histogram::merge_encoded`]): the global figures merge every worker of every
//! agent, the per-agent figures that agent's workers, the per-replica figures the workers' share
//! for that replica — all from the same data. Counters add up; throughputs of agents measuring
//! at the same time add up. Nothing here does I/O.

use std::collections::BTreeMap;

use base64::Engine as _;
use hdrhistogram::Histogram;
use numaload_proto::histogram::{self, HistogramError};
use numaload_proto::v1::{run_event::Event, LayoutSummary, Phase, Placed, RunEvent, WorkerResult};

use crate::plan::{Load, Plan};
use crate::result::{
    AgentLayoutResult, Confidence, ErrorKinds, Histograms, Interval, LayoutResult, LayoutStatus,
    LoadPlacement, LoadWorker, Percentiles, ReplicaResult, ThreadSample, TrialResult,
};

/// A load worker busier than this may itself have limited the measurement (DESIGN invariant 3).
/// The share it spent busy-polling for responses (closed loop, no backlog at the server) is
/// waiting on the server, not work: it is taken out of `busy` before the comparison.
pub const SATURATED_BUSY: f64 = 0.85;
/// A closed-loop worker that spent at least this share of the measurement in coalescing naps
/// waited on the server, however busy it read: it naps only when it has nothing to read while
/// the server has a backlog, which a saturated generator never has.
pub const WAITED_ON_SERVER: f64 = 0.05;
/// Below this many requests the p99.9 is an extrapolation, and the report says so.
pub const MIN_REQUESTS_FOR_P999: u64 = 1_000;

/// What one agent said about one layout, gathered from its event stream in arrival order.
#[derive(Debug, Default, Clone)]
pub struct LayoutEvents {
    pub placed: Option<Placed>,
    pub samples: Vec<numaload_proto::v1::ThreadSample>,
    pub summary: Option<LayoutSummary>,
    pub failure: Option<String>,
    /// The agent's clock when measuring began, Unix ns.
    pub measuring_at_unix_ns: Option<u64>,
}

/// Gathers one agent's events per layout name.
#[derive(Debug, Default)]
pub struct Collector {
    pub layouts: BTreeMap<String, LayoutEvents>,
    pub calibration: Option<numaload_proto::v1::Calibration>,
    pub done: bool,
    pub cancelled: bool,
}

impl Collector {
    pub fn push(&mut self, event: RunEvent) {
        match event.event {
            Some(Event::Placed(p)) => {
                let layout = p.layout.clone();
                self.entry(&layout).placed = Some(p);
            }
            Some(Event::Samples(batch)) => {
                self.entry(&batch.layout).samples.extend(batch.samples);
            }
            Some(Event::Summary(s)) => {
                let layout = s.layout.clone();
                self.entry(&layout).summary = Some(s);
            }
            Some(Event::Failed(f)) => self.entry(&f.layout).failure = Some(f.error),
            Some(Event::Phase(p)) if p.phase == Phase::Measuring as i32 => {
                self.entry(&p.layout).measuring_at_unix_ns = Some(p.at_unix_ns);
            }
            Some(Event::Done(done)) => {
                self.done = true;
                self.cancelled = done.cancelled;
            }
            Some(Event::Calibration(c)) => self.calibration = Some(c),
            // Live progress is a hint for the terminal: the figures come from the summaries.
            Some(Event::Phase(_) | Event::Load(_)) | None => {}
        }
    }

    fn entry(&mut self, layout: &str) -> &mut LayoutEvents {
        self.layouts.entry(layout.to_owned()).or_default()
    }

    /// Whether this agent is finished with `layout`: placed it (and waits to start) or failed it.
    pub fn placed_or_failed(&self, layout: &str) -> Option<bool> {
        let events = self.layouts.get(layout)?;
        if events.failure.is_some() {
            Some(false)
        } else {
            events.placed.as_ref().map(|_| true)
        }
    }
}

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
                    set_trial(&mut result, trial);
                    Ok(result)
                })
                .collect::<Result<Vec<_>, HistogramError>>()?;
            merge_trials(trials)
        })
        .collect()
}

/// Tags everything a trial's result lists with its trial number.
fn set_trial(result: &mut LayoutResult, trial: u32) {
    result.replicas.iter_mut().for_each(|r| r.trial = trial);
    result.agents.iter_mut().for_each(|a| a.trial = trial);
    result
        .thread_samples
        .iter_mut()
        .for_each(|s| s.trial = trial);
    result.load.workers.iter_mut().for_each(|w| w.trial = trial);
    result.trials = vec![TrialResult {
        trial,
        status: result.status,
        requests: result.requests,
        throughput_rps: result.throughput_rps,
        errors: result.errors,
        latency_ns: result.latency_ns.clone(),
    }];
}

/// One layout's result over all its trials: histograms merged, counters added, per-trial
/// figures kept, and with two or more measured trials a 95% interval of the mean.
pub fn merge_trials(mut trials: Vec<LayoutResult>) -> Result<LayoutResult, HistogramError> {
    if trials.len() <= 1 {
        return trials
            .pop()
            .ok_or_else(|| HistogramError::Merge("no trial".into()));
    }
    let mut merged = trials[0].clone();
    merged.suspect = merged
        .suspect
        .iter()
        .map(|s| format!("trial 1: {s}"))
        .collect();
    let measured: Vec<&LayoutResult> = trials.iter().filter(|t| t.status.measured()).collect();
    merged.status = match (measured.len(), trials.len()) {
        (0, _) => LayoutStatus::Failed,
        (m, n) if m == n && trials.iter().all(|t| t.status == LayoutStatus::Ok) => LayoutStatus::Ok,
        _ => LayoutStatus::Degraded,
    };
    let errors: Vec<String> = trials
        .iter()
        .filter_map(|t| {
            t.error
                .as_ref()
                .map(|e| format!("trial {}: {e}", t.trials[0].trial))
        })
        .collect();
    merged.error = (!errors.is_empty()).then(|| errors.join("; "));
    let pick = |f: fn(&Histograms) -> &String| -> Result<Histogram<u64>, HistogramError> {
        let mut total = histogram::new_latency();
        for trial in &measured {
            let text = f(&trial.histograms);
            if !text.is_empty() {
                histogram::merge_into(&mut total, &histogram_from_base64(text)?)?;
            }
        }
        Ok(total)
    };
    let corrected = pick(|h| &h.corrected_v2_base64)?;
    let uncorrected = pick(|h| &h.uncorrected_v2_base64)?;
    let lag = pick(|h| &h.send_lag_v2_base64)?;
    set_latency(&mut merged, &corrected, &uncorrected, &lag)?;
    merged.elapsed_s = measured.iter().map(|t| t.elapsed_s).sum();
    merged.requests = measured.iter().map(|t| t.requests).sum();
    // Trials run one after another: the rate over all of them is total requests over total time.
    merged.throughput_rps = if merged.elapsed_s > 0.0 {
        merged.requests as f64 / merged.elapsed_s
    } else {
        0.0
    };
    merged.errors_by_kind = ErrorKinds::default();
    for trial in &measured {
        merged.errors_by_kind.add(&trial.errors_by_kind);
    }
    merged.errors = merged.errors_by_kind.total();
    merged.late_sends = measured.iter().map(|t| t.late_sends).sum();
    let rest = &trials[1..];
    merged
        .agents
        .extend(rest.iter().flat_map(|t| t.agents.clone()));
    merged
        .replicas
        .extend(rest.iter().flat_map(|t| t.replicas.clone()));
    merged
        .thread_samples
        .extend(rest.iter().flat_map(|t| t.thread_samples.clone()));
    merged
        .load
        .workers
        .extend(rest.iter().flat_map(|t| t.load.workers.clone()));
    for trial in rest {
        merged.load.cpus.extend(&trial.load.cpus);
        merged.load.shares_cpus_with_replicas |= trial.load.shares_cpus_with_replicas;
        for text in trial
            .suspect
            .iter()
            .map(|s| format!("trial {}: {s}", trial.trials[0].trial))
        {
            merged.suspect.push(text);
        }
        merged.notes.extend(trial.notes.iter().cloned());
    }
    merged.load.cpus.sort_unstable();
    merged.load.cpus.dedup();
    merged.notes.sort();
    merged.notes.dedup();
    merged.trials = trials.iter().flat_map(|t| t.trials.clone()).collect();
    merged.confidence = confidence(&merged.trials);
    Ok(merged)
}

/// 95% Student-t intervals of the mean throughput and p99 over the measured trials.
fn confidence(trials: &[TrialResult]) -> Option<Confidence> {
    use crate::compare::stats::{mean, student_t_quantile, variance};
    let measured: Vec<&TrialResult> = trials
        .iter()
        .filter(|t| t.status.measured() && t.latency_ns.count > 0)
        .collect();
    if measured.len() < 2 {
        return None;
    }
    let n = measured.len() as f64;
    let t = student_t_quantile(0.975, n - 1.0)?;
    let interval = |values: Vec<f64>| {
        let half = t * (variance(&values) / n).sqrt();
        let m = mean(&values);
        Interval {
            low: m - half,
            high: m + half,
        }
    };
    Some(Confidence {
        level: 0.95,
        trials: measured.len() as u32,
        throughput_rps: interval(measured.iter().map(|t| t.throughput_rps).collect()),
        p99_ns: interval(measured.iter().map(|t| t.latency_ns.p99 as f64).collect()),
    })
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
        result
            .thread_samples
            .extend(events.samples.iter().map(|s| ThreadSample {
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
    fill_measurement(&mut result, &measured)?;
    result.suspect = suspicions(&result);
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
    fill_measurement(&mut one, &[(agent.agent, summary)])?;
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
    }
}

/// Fills the measured figures from the summaries of the agents that measured the layout.
fn fill_measurement(
    result: &mut LayoutResult,
    measured: &[(&str, &LayoutSummary)],
) -> Result<(), HistogramError> {
    let all_workers = || measured.iter().flat_map(|(_, s)| s.workers.iter());
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
fn set_latency(
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
    }
}

/// One entry per load worker (a worker reports once per replica it drove; its CPU time once).
fn load_workers(agent: &str, workers: &[WorkerResult], elapsed_ns: u64) -> Vec<LoadWorker> {
    let mut by_worker: BTreeMap<u32, (LoadWorker, u64, u64)> = BTreeMap::new();
    for w in workers {
        let (entry, napped_ns, spun_ns) = by_worker.entry(w.worker).or_insert((
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
            },
            0,
            0,
        ));
        entry.requests += w.requests;
        entry.cpu_time_ns += w.cpu_time_ns;
        entry.naps += w.naps;
        *napped_ns += w.napped_ns;
        entry.spins += w.spins;
        *spun_ns += w.spun_ns;
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
        .map(|(mut w, napped_ns, spun_ns)| {
            w.busy = share(w.cpu_time_ns);
            w.napped = share(napped_ns);
            w.spun = share(spun_ns);
            w
        })
        .collect()
}

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

/// Reads a histogram back out of a result file.
pub fn histogram_from_base64(text: &str) -> Result<Histogram<u64>, HistogramError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| HistogramError::Decode(format!("not base64: {e}")))?;
    histogram::decode(&bytes)
}

/// Why a reader should not fully trust this layout's numbers.
fn suspicions(result: &LayoutResult) -> Vec<String> {
    let mut out = Vec::new();
    if result.status == LayoutStatus::Degraded {
        out.push(
            "not every agent measured this layout: the figures cover only those that did"
                .to_owned(),
        );
    }
    if result.load.shares_cpus_with_replicas {
        out.push(format!(
            "the load generator shared CPU(s) {} with the replicas: the generator and the server \
             competed for them",
            numaload_proto::cpulist::format(&result.load.cpus)
        ));
    }
    for w in result
        .load
        .workers
        .iter()
        .filter(|w| w.busy - w.spun > SATURATED_BUSY && w.napped < WAITED_ON_SERVER)
    {
        out.push(format!(
            "load worker {} on CPU {}{} was {:.0}% busy: the generator may have limited the \
             measurement",
            w.worker,
            w.cpu,
            if result.agents.len() > 1 {
                format!(" of {}", w.agent)
            } else {
                String::new()
            },
            w.busy * 100.0
        ));
    }
    if let Some(rate) = result.target_rate_rps {
        let agents_measured = result
            .agents
            .iter()
            .filter(|a| a.status == LayoutStatus::Ok)
            .count()
            .max(1);
        // Every agent applies the plan's rate to its own replicas.
        let asked = rate * agents_measured as f64;
        if result.throughput_rps < asked * 0.99 {
            out.push(format!(
                "achieved {:.0} req/s of the {:.0} req/s asked: the target or the generator fell \
                 behind",
                result.throughput_rps, asked
            ));
        }
    }
    if result.requests < MIN_REQUESTS_FOR_P999 {
        out.push(format!(
            "only {} requests measured: p99.9 needs at least {MIN_REQUESTS_FOR_P999} to mean \
             anything",
            result.requests
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::LoadMode;
    use numaload_proto::v1::{ErrorCounts, ReplicaStats};
    use std::time::Duration;

    fn load() -> Load {
        Load {
            mode: LoadMode::Open { rate: 100.0 },
            connections: 4,
            duration: Duration::from_secs(1),
            warmup: Duration::ZERO,
            reserve_cpus: 0,
            timeout: Duration::from_secs(1),
            requests: vec![crate::plan::Request::default_get()],
            expect_status: Vec::new(),
        }
    }

    /// A summary of one worker on replica 0 whose requests took `latencies_ns`.
    fn summary(latencies_ns: &[u64]) -> LayoutSummary {
        let mut h = histogram::new_latency();
        for &v in latencies_ns {
            h.record(v).expect("in range");
        }
        let bytes = histogram::encode(&h).expect("encode");
        LayoutSummary {
            layout: "l".into(),
            elapsed_ns: 1_000_000_000,
            workers: vec![WorkerResult {
                requests: latencies_ns.len() as u64,
                errors: Some(ErrorCounts::default()),
                latency_corrected: bytes.clone(),
                latency_uncorrected: bytes,
                ..Default::default()
            }],
            replicas: vec![ReplicaStats {
                replica: 0,
                ..Default::default()
            }],
        }
    }

    fn events(summary: LayoutSummary) -> LayoutEvents {
        LayoutEvents {
            summary: Some(summary),
            ..Default::default()
        }
    }

    #[test]
    fn merged_p99_over_agents_is_the_pooled_p99_not_a_max_or_mean_of_theirs() {
        // Skewed: agent a serves 990 fast requests, agent b 10 slow ones.
        let fast: Vec<u64> = vec![100_000; 990];
        let slow: Vec<u64> = (1..=10).map(|i| 50_000_000 + i * 1_000_000).collect();
        let (a, b) = (events(summary(&fast)), events(summary(&slow)));
        let agents = [
            AgentLayout {
                agent: "a",
                events: &a,
                missing: "",
                clock_offset_ns: 0,
            },
            AgentLayout {
                agent: "b",
                events: &b,
                missing: "",
                clock_offset_ns: 0,
            },
        ];
        let result = layout_result("l", &load(), &agents).expect("merge");

        let mut pooled = histogram::new_latency();
        for &v in fast.iter().chain(&slow) {
            pooled.record(v).expect("in range");
        }
        assert_eq!(result.requests, 1000);
        assert_eq!(result.latency_ns.p99, pooled.value_at_quantile(0.99));
        assert_eq!(result.latency_ns.p50, pooled.value_at_quantile(0.50));
        let per_agent: Vec<u64> = result.agents.iter().map(|a| a.latency_ns.p99).collect();
        let max = *per_agent.iter().max().expect("two agents");
        let mean = per_agent.iter().sum::<u64>() / 2;
        assert_ne!(result.latency_ns.p99, max, "not the max of per-agent p99s");
        assert_ne!(
            result.latency_ns.p99, mean,
            "not the mean of per-agent p99s"
        );
        // Per-agent figures come from the same data.
        assert_eq!(
            result.agents[0].requests + result.agents[1].requests,
            result.requests
        );
        assert!(
            (result.throughput_rps - 1000.0).abs() < 1e-6,
            "agents' rates add up"
        );
        assert_eq!(result.status, LayoutStatus::Ok);
    }

    /// Whether a layout whose one load worker used `busy_ns` of CPU, `napped_ns` in naps and
    /// `spun_ns` spinning over the summary's 1 s measurement is flagged as generator-limited.
    fn flagged_busy(busy_ns: u64, napped_ns: u64, spun_ns: u64) -> bool {
        let mut s = summary(&vec![1_000; 2_000]);
        let w = &mut s.workers[0];
        w.cpu_time_ns = busy_ns;
        (w.naps, w.napped_ns) = (u64::from(napped_ns > 0) * 1_000, napped_ns);
        (w.spins, w.spun_ns) = (u64::from(spun_ns > 0) * 1_000, spun_ns);
        let a = events(s);
        let agents = [AgentLayout {
            agent: "a",
            events: &a,
            missing: "",
            clock_offset_ns: 0,
        }];
        let result = layout_result("l", &load(), &agents).expect("merge");
        assert_eq!(result.load.workers[0].napped, napped_ns as f64 / 1e9);
        assert_eq!(result.load.workers[0].spun, spun_ns as f64 / 1e9);
        result.suspect.iter().any(|s| s.contains("% busy"))
    }

    #[test]
    fn a_busy_load_worker_is_suspect_unless_it_napped_waiting_on_the_server() {
        assert!(!flagged_busy(800_000_000, 0, 0), "80% busy is fine");
        assert!(flagged_busy(900_000_000, 0, 0), "90% busy may be the limit");
        assert!(
            flagged_busy(900_000_000, 20_000_000, 0),
            "2% in naps is no proof"
        );
        assert!(
            !flagged_busy(880_000_000, 100_000_000, 0),
            "10% in naps: it waited on the server"
        );
    }

    #[test]
    fn spinning_for_responses_is_not_saturation() {
        // Working share = busy − spun.
        assert!(
            !flagged_busy(980_000_000, 0, 200_000_000),
            "98% busy of which 20% spinning: 78% working"
        );
        assert!(
            flagged_busy(980_000_000, 0, 50_000_000),
            "98% busy of which 5% spinning: 93% working"
        );
    }

    #[test]
    fn a_lost_agent_degrades_the_layout_and_keeps_the_others_data() {
        let a = events(summary(&[1_000, 2_000, 3_000]));
        let lost = LayoutEvents::default();
        let agents = [
            AgentLayout {
                agent: "a",
                events: &a,
                missing: "",
                clock_offset_ns: 0,
            },
            AgentLayout {
                agent: "b",
                events: &lost,
                missing: "agent lost: killed",
                clock_offset_ns: 0,
            },
        ];
        let result = layout_result("l", &load(), &agents).expect("merge");
        assert_eq!(result.status, LayoutStatus::Degraded);
        assert_eq!(result.requests, 3);
        assert!(result
            .error
            .as_deref()
            .is_some_and(|e| e.contains("b: agent lost: killed")));
        assert_eq!(result.agents[1].status, LayoutStatus::Failed);
        assert!(result.suspect.iter().any(|s| s.contains("not every agent")));

        let none = [AgentLayout {
            agent: "b",
            events: &lost,
            missing: "gone",
            clock_offset_ns: 0,
        }];
        let failed = layout_result("l", &load(), &none).expect("merge");
        assert_eq!(failed.status, LayoutStatus::Failed);
        assert_eq!(failed.error.as_deref(), Some("gone"));
    }
}
