//! What a result says about each replica of a layout: its placement, intended and read back,
//! its process tree, the figures of its share of the load, and the series sampled from it
//! every 100 ms of the measurement ([`ThreadSample`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::defaults::{first_trial, missing};
use super::host::CgroupSummary;
use super::percentiles::Percentiles;
use super::sched::{GoSched, SchedRates, TokioRuntime};
use super::tree::{Mismatch, ProcessSeen, ScrapedSeries};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplicaResult {
    /// The trial (1.. with `repeat`) it ran in.
    #[serde(default = "first_trial")]
    pub trial: u32,
    /// The agent that ran it; `index` counts within that agent.
    pub agent: String,
    pub index: u32,
    pub pid: u32,
    pub address: String,
    pub intended_cpus: Vec<u32>,
    pub actual_cpus: Vec<u32>,
    pub intended_memory_nodes: Vec<u32>,
    /// The policy asked for, in numa_maps' words: `default`, `bind:0`, `interleave:0-3`.
    #[serde(default)]
    pub intended_memory_policy: String,
    /// As the kernel prints it in numa_maps: `default`, `bind:0`, ...
    pub memory_policy: String,
    pub placement_ok: bool,
    pub worker_threads: u32,
    pub threads_min: u32,
    pub threads_max: u32,
    pub threads_last: u32,
    /// CPU time the replica used during the measurement.
    #[serde(default)]
    pub cpu_time_ns: u64,
    pub rss_bytes_max: u64,
    /// Highest sampled values from its /metrics; -1 when never available.
    #[serde(default = "missing")]
    pub alive_tasks_max: i64,
    #[serde(default = "missing")]
    pub blocking_threads_max: i64,
    /// Median time to answer /metrics during the measurement (an unrelated fast request: a
    /// starved runtime answers it late); -1 when never measured. Timed-out probes count at the
    /// timeout, so a large value is a lower bound.
    #[serde(default = "missing")]
    pub metrics_probe_p50_ns: i64,
    pub requests: u64,
    pub throughput_rps: f64,
    pub latency_ns: Percentiles,
    /// Resident pages per NUMA node at the end of the measurement (node number → pages).
    pub pages_by_node: BTreeMap<String, u64>,
    /// The replica's cgroup, read back after launch; `null` when not reported.
    #[serde(default)]
    pub cgroup: Option<CgroupSummary>,
    /// `warning:` lines the replica printed at start-up (worker threads over its CPU quota ...).
    #[serde(default)]
    pub warnings: Vec<String>,
    /// The replica's whole tree when it was ready, every process and thread checked: how many
    /// processes and threads, what did not match, its pages outside the intended nodes, and
    /// the processes themselves.
    #[serde(default)]
    pub processes: u32,
    #[serde(default)]
    pub threads: u32,
    #[serde(default)]
    pub mismatches: Vec<Mismatch>,
    #[serde(default)]
    pub pages_off_node: u64,
    #[serde(default)]
    pub tree: Vec<ProcessSeen>,
    /// Most processes seen in the tree in one sample during the measurement.
    #[serde(default)]
    pub processes_max: u32,
    /// The tree read back again when the measurement ended: what did not match then, its pages
    /// outside the intended nodes, and its processes.
    #[serde(default)]
    pub mismatches_at_end: Vec<Mismatch>,
    #[serde(default)]
    pub pages_off_node_at_end: u64,
    #[serde(default)]
    pub processes_at_end: Vec<ProcessSeen>,
    /// Series scraped from the replica's own metrics endpoint: min, max and last.
    #[serde(default)]
    pub scraped: Vec<ScrapedSeries>,
    /// The highest scheduler rate of each kind over the measurement's samples; absent when not
    /// measured, so a result without it writes back unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sched_max: Option<SchedRates>,
    /// Most OS threads the Go runtime reported (`schedtrace = "go"`); absent without its lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub go_threads_max: Option<u32>,
    /// The replica's own count of requests served over the whole load (warm-up, window and the
    /// drain after it), from its metrics; absent when its target names no `requests_counter`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_requests: Option<u64>,
    /// The generator's responses from this replica over the same span, beside it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator_responses: Option<u64>,
    /// Requests of the window to this replica that were never answered (sent and timed out,
    /// unsent, or failed before a response), from whichever agents drove it; 0 when none.
    #[serde(default, skip_serializing_if = "super::defaults::is_zero")]
    pub unanswered: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThreadSample {
    #[serde(default = "first_trial")]
    pub trial: u32,
    pub agent: String,
    pub replica: u32,
    pub t_ms: u64,
    pub os_threads: u32,
    /// The replica's CPU time so far (user + system), from /proc.
    pub cpu_time_ns: u64,
    #[serde(default)]
    pub rss_bytes: u64,
    /// From the replica's /metrics; -1 when it did not answer or does not export it.
    #[serde(default = "missing")]
    pub alive_tasks: i64,
    #[serde(default = "missing")]
    pub global_queue_depth: i64,
    #[serde(default = "missing")]
    pub blocking_threads: i64,
    #[serde(default = "missing")]
    pub inflight_calls: i64,
    /// How long the replica took to answer /metrics: an unrelated fast request (-1: failed).
    #[serde(default = "missing")]
    pub metrics_probe_ns: i64,
    /// The probe hit its timeout: `metrics_probe_ns` is then a lower bound.
    #[serde(default)]
    pub metrics_probe_timed_out: bool,
    /// Processes in the replica's tree; `os_threads` and `cpu_time_ns` sum over all of them.
    #[serde(default)]
    pub processes: u32,
    /// Series scraped from the replica's metrics endpoint at this sample (name → value).
    #[serde(default)]
    pub scraped: BTreeMap<String, f64>,
    /// The tree's threads as the scheduler saw them since the previous sample; `null` on the
    /// first sample and in a result without scheduler series.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sched: Option<SchedRates>,
    /// The Go runtime's `SCHED` lines read since the previous sample (`schedtrace = "go"`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub go_sched: Vec<GoSched>,
    /// The tokio runtime's own counters since the previous sample (built-in targets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokio: Option<TokioRuntime>,
}
