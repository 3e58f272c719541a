//! The scheduler in a result: the kernel's view of each replica's threads (run-queue wait,
//! context switches, migrations) and the runtime's own (Go's `SCHED` lines, tokio's counters),
//! per 100 ms sample and as per-replica maxima. Each field is optional: a result without it
//! reads as "not measured".

use serde::{Deserialize, Serialize};

/// Scheduler rates summed over a replica's threads, per second of wall time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SchedRates {
    /// Time runnable threads waited for a CPU (1000: one thread waiting all the time).
    pub run_delay_ms_per_s: f64,
    /// Voluntary plus involuntary context switches.
    pub ctxt_switches_per_s: f64,
    pub nonvoluntary_ctxt_switches_per_s: f64,
    /// `null` when the kernel shows no migrations.
    pub migrations_per_s: Option<f64>,
    /// CPUs busy on average.
    pub cpus_used: f64,
}

impl From<&numaload_proto::v1::SchedRates> for SchedRates {
    fn from(r: &numaload_proto::v1::SchedRates) -> Self {
        SchedRates {
            run_delay_ms_per_s: r.run_delay_ms_per_s,
            ctxt_switches_per_s: r.ctxt_switches_per_s,
            nonvoluntary_ctxt_switches_per_s: r.nonvoluntary_ctxt_switches_per_s,
            migrations_per_s: (r.migrations_per_s >= 0.0).then_some(r.migrations_per_s),
            cpus_used: r.cpus_used,
        }
    }
}

/// One `SCHED` line of the Go runtime (`schedtrace = "go"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoSched {
    /// Milliseconds since the runtime started, as the line says.
    pub runtime_ms: u64,
    pub gomaxprocs: u32,
    pub idleprocs: u32,
    pub threads: u32,
    pub spinningthreads: u32,
    pub idlethreads: u32,
    /// Goroutines in the global run queue, and in each P's.
    pub runqueue: u32,
    pub local_runqueues: Vec<u32>,
}

impl From<&numaload_proto::v1::GoSchedTrace> for GoSched {
    fn from(t: &numaload_proto::v1::GoSchedTrace) -> Self {
        GoSched {
            runtime_ms: t.runtime_ms,
            gomaxprocs: t.gomaxprocs,
            idleprocs: t.idleprocs,
            threads: t.threads,
            spinningthreads: t.spinningthreads,
            idlethreads: t.idlethreads,
            runqueue: t.runqueue,
            local_runqueues: t.local_runqueues.clone(),
        }
    }
}

/// The tokio runtime's counters as rates since the previous sample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TokioRuntime {
    pub workers: i64,
    /// Worker busy time per second, summed over workers.
    pub busy_workers: f64,
    /// Times workers parked (went idle) per second.
    pub parks_per_s: f64,
    /// Tasks stolen between workers per second; absent when the target does not export steals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steals_per_s: Option<f64>,
    /// Tasks in the workers' local queues at the sample, summed; absent when not exported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_queue_depth: Option<i64>,
}

impl From<&numaload_proto::v1::TokioRuntime> for TokioRuntime {
    fn from(t: &numaload_proto::v1::TokioRuntime) -> Self {
        TokioRuntime {
            workers: t.workers,
            busy_workers: t.busy_workers,
            parks_per_s: t.parks_per_s,
            steals_per_s: (t.steals_per_s >= 0.0 && t.steals_per_s.is_finite())
                .then_some(t.steals_per_s),
            local_queue_depth: (t.local_queue_depth >= 0).then_some(t.local_queue_depth),
        }
    }
}

/// A finite value or nothing (JSON has no NaN or infinity).
pub fn finite(rates: SchedRates) -> Option<SchedRates> {
    let all = [
        rates.run_delay_ms_per_s,
        rates.ctxt_switches_per_s,
        rates.nonvoluntary_ctxt_switches_per_s,
        rates.cpus_used,
        rates.migrations_per_s.unwrap_or(0.0),
    ];
    all.iter().all(|v| v.is_finite()).then_some(rates)
}
