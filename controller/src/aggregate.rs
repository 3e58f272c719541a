//! From the agent's event stream to [`LayoutResult`]s: merging, never averaging.
//!
//! Every percentile here is read from a histogram made by adding the agent's per-worker
//! histograms ([`numaload_proto::histogram::merge_encoded`]); per-replica figures come from the
//! same data, split by replica before merging. Counters add up. Nothing does I/O.

use std::collections::BTreeMap;

use base64::Engine as _;
use hdrhistogram::Histogram;
use numaload_proto::histogram::{self, HistogramError};
use numaload_proto::v1::{run_event::Event, LayoutSummary, Placed, RunEvent, WorkerResult};

use crate::plan::{Load, Plan};
use crate::result::{
    ErrorKinds, Histograms, LayoutResult, LayoutStatus, LoadPlacement, LoadWorker, Percentiles,
    ReplicaResult, ThreadSample,
};

/// A load worker busier than this may itself have limited the measurement (DESIGN invariant 3).
pub const SATURATED_BUSY: f64 = 0.85;
/// Below this many requests the p99.9 is an extrapolation, and the report says so.
pub const MIN_REQUESTS_FOR_P999: u64 = 1_000;

/// What one agent said about one layout, gathered from its event stream in arrival order.
#[derive(Debug, Default, Clone)]
pub struct LayoutEvents {
    pub placed: Option<Placed>,
    pub samples: Vec<ThreadSample>,
    pub summary: Option<LayoutSummary>,
    pub failure: Option<String>,
}

/// Gathers a run's events per layout name.
#[derive(Debug, Default)]
pub struct Collector {
    pub layouts: BTreeMap<String, LayoutEvents>,
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
                let samples = batch.samples.iter().map(|s| ThreadSample {
                    replica: s.replica,
                    t_ms: s.t_ms,
                    os_threads: s.os_threads,
                });
                self.entry(&batch.layout).samples.extend(samples);
            }
            Some(Event::Summary(s)) => {
                let layout = s.layout.clone();
                self.entry(&layout).summary = Some(s);
            }
            Some(Event::Failed(f)) => self.entry(&f.layout).failure = Some(f.error),
            Some(Event::Done(done)) => {
                self.done = true;
                self.cancelled = done.cancelled;
            }
            Some(Event::Phase(_)) | Some(Event::Calibration(_)) | None => {}
        }
    }

    fn entry(&mut self, layout: &str) -> &mut LayoutEvents {
        self.layouts.entry(layout.to_owned()).or_default()
    }

    /// One result per layout of the plan, in plan order; a layout the agent never reached is
    /// reported as failed with `missing` as its reason.
    pub fn results(&self, plan: &Plan, missing: &str) -> Result<Vec<LayoutResult>, HistogramError> {
        plan.layouts
            .iter()
            .map(|layout| {
                let events = self.layouts.get(&layout.name).cloned().unwrap_or_default();
                layout_result(&layout.name, &plan.load, &events, missing)
            })
            .collect()
    }
}

/// Builds one layout's result from what its agent sent.
pub fn layout_result(
    name: &str,
    load: &Load,
    events: &LayoutEvents,
    missing: &str,
) -> Result<LayoutResult, HistogramError> {
    let mut result = empty_result(name, load);
    if let Some(placed) = &events.placed {
        result.notes = placed.notes.clone();
        result.load.cpus = placed.load_cpus.clone();
        result.load.shares_cpus_with_replicas = placed.load_shares_cpus;
        result.replicas = placed.replicas.iter().map(replica_from_placement).collect();
    }
    result.thread_samples = events.samples.clone();
    let Some(summary) = &events.summary else {
        result.status = LayoutStatus::Failed;
        result.error = Some(events.failure.clone().unwrap_or_else(|| missing.to_owned()));
        return Ok(result);
    };
    fill_measurement(&mut result, summary)?;
    result.suspect = suspicions(&result);
    Ok(result)
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
    }
}

fn replica_from_placement(p: &numaload_proto::v1::ReplicaPlacement) -> ReplicaResult {
    ReplicaResult {
        index: p.index,
        pid: p.pid,
        address: p.address.clone(),
        intended_cpus: p.intended_cpus.clone(),
        actual_cpus: p.actual_cpus.clone(),
        intended_memory_nodes: p.intended_memory_nodes.clone(),
        memory_policy: p.memory_policy.clone(),
        placement_ok: p.placement_ok,
        worker_threads: p.worker_threads,
        threads_min: 0,
        threads_max: 0,
        threads_last: 0,
        requests: 0,
        throughput_rps: 0.0,
        latency_ns: Percentiles::default(),
        pages_by_node: p
            .pages_by_node
            .iter()
            .map(|n| (n.node.to_string(), n.pages))
            .collect(),
    }
}

fn fill_measurement(
    result: &mut LayoutResult,
    summary: &LayoutSummary,
) -> Result<(), HistogramError> {
    let elapsed_s = summary.elapsed_ns as f64 / 1e9;
    let per_second = |count: u64| {
        if elapsed_s > 0.0 {
            count as f64 / elapsed_s
        } else {
            0.0
        }
    };
    let workers = &summary.workers;
    let corrected = merge(workers, |w| &w.latency_corrected)?;
    let uncorrected = merge(workers, |w| &w.latency_uncorrected)?;
    let lag = merge(workers, |w| &w.send_lag)?;

    result.elapsed_s = elapsed_s;
    result.requests = workers.iter().map(|w| w.requests).sum();
    result.throughput_rps = per_second(result.requests);
    for worker in workers {
        result.errors_by_kind.add(&error_kinds(worker));
    }
    result.errors = result.errors_by_kind.total();
    result.late_sends = workers.iter().map(|w| w.late_sends).sum();
    result.latency_ns = percentiles(&corrected);
    result.latency_uncorrected_ns = percentiles(&uncorrected);
    result.send_lag_ns =
        (result.target_rate_rps.is_some() && !lag.is_empty()).then(|| percentiles(&lag));
    result.histograms = Histograms {
        corrected_v2_base64: base64_of(&corrected)?,
        uncorrected_v2_base64: base64_of(&uncorrected)?,
    };
    result.load.workers = load_workers(workers, summary.elapsed_ns);

    for replica in &mut result.replicas {
        let mine: Vec<WorkerResult> = workers
            .iter()
            .filter(|w| w.replica == replica.index)
            .cloned()
            .collect();
        replica.requests = mine.iter().map(|w| w.requests).sum();
        replica.throughput_rps = per_second(replica.requests);
        replica.latency_ns = percentiles(&merge(&mine, |w| &w.latency_corrected)?);
        if let Some(stats) = summary.replicas.iter().find(|s| s.replica == replica.index) {
            replica.threads_min = stats.threads_min;
            replica.threads_max = stats.threads_max;
            replica.threads_last = stats.threads_last;
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

fn merge(
    workers: &[WorkerResult],
    field: impl Fn(&WorkerResult) -> &Vec<u8>,
) -> Result<Histogram<u64>, HistogramError> {
    histogram::merge_encoded(workers.iter().map(|w| field(w).as_slice()))
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
fn load_workers(workers: &[WorkerResult], elapsed_ns: u64) -> Vec<LoadWorker> {
    let mut by_worker: BTreeMap<u32, LoadWorker> = BTreeMap::new();
    for w in workers {
        let entry = by_worker.entry(w.worker).or_insert(LoadWorker {
            worker: w.worker,
            cpu: w.cpu,
            requests: 0,
            cpu_time_ns: 0,
            busy: 0.0,
        });
        entry.requests += w.requests;
        entry.cpu_time_ns += w.cpu_time_ns;
    }
    by_worker
        .into_values()
        .map(|mut w| {
            w.busy = if elapsed_ns > 0 {
                w.cpu_time_ns as f64 / elapsed_ns as f64
            } else {
                0.0
            };
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
        .filter(|w| w.busy > SATURATED_BUSY)
    {
        out.push(format!(
            "load worker {} on CPU {} was {:.0}% busy: the generator may have limited the measurement",
            w.worker,
            w.cpu,
            w.busy * 100.0
        ));
    }
    if let Some(rate) = result.target_rate_rps {
        if result.throughput_rps < rate * 0.99 {
            out.push(format!(
                "achieved {:.0} req/s of the {:.0} req/s asked: the target or the generator fell behind",
                result.throughput_rps, rate
            ));
        }
    }
    if result.requests < MIN_REQUESTS_FOR_P999 {
        out.push(format!(
            "only {} requests measured: p99.9 needs at least {MIN_REQUESTS_FOR_P999} to mean anything",
            result.requests
        ));
    }
    out
}
