//! The result of a run: what `--out` writes and every report reads.
//!
//! A result file alone is enough to re-render every report: it echoes the plan, the host, the
//! concrete placement, and carries each layout's merged histograms (HdrHistogram V2, base64) next
//! to the percentiles computed from them. `schema/result.schema.json` describes it; a test checks
//! real results against it.
//!
//! This file holds the run and each layout's figures; `delivery.rs` how much of a window's
//! load was delivered, `host.rs` the hosts and agents,
//! `replica.rs` each replica and its samples, `tree.rs` a replica's process tree and the request
//! mix, `sched.rs` the scheduler series, `search.rs` a capacity search's findings,
//! `thresholds.rs` each layout's `[thresholds]` checked, `stage.rs` each stage of a run with
//! stages and the Poisson seed an agent used, `interval.rs` a confidence interval and
//! `histogram.rs` the result file's histogram codec.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::plan::Plan;

mod counts;
mod defaults;
mod delivery;
mod errors;
mod histogram;
mod host;
mod interval;
mod percentiles;
mod receive;
mod replica;
mod sched;
mod search;
mod setup;
mod stage;
mod thresholds;
mod tree;

pub use counts::Counts;
use defaults::{first_trial, is_zero, is_zero_share};
pub use delivery::Delivery;
pub use errors::ErrorKinds;
pub use histogram::histogram_from_base64;
pub use host::{
    AgentOutcome, AgentStatus, Calibration, CgroupSummary, HostNode, HostSummary, Role,
};
pub use interval::Interval;
pub use percentiles::Percentiles;
pub use receive::{HostReceive, NodeReceive};
pub use replica::{ReplicaResult, ThreadSample};
pub use search::{LayoutSearch, SearchResult, Step};
pub use setup::ConnectionSetup;
pub use stage::{ArrivalStream, StageResult};
pub use thresholds::{ThresholdOutcome, ThresholdResult};

pub use sched::{finite as sched_finite, GoSched, SchedRates, TokioRuntime};
pub use tree::{Mismatch, ProcessSeen, RequestMix, ScrapedSeries};

/// Bumped when a field changes meaning or goes away. 2: requests and errors are counted by
/// intended send time, every request intended in the window accounted for (`unsent` errors);
/// the request mix, status codes, process trees and scheduler series are new (optional) fields.
/// Results of every version from 1 on are read (what they lack reads as empty).
pub const SCHEMA_VERSION: u32 = 2;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    pub schema_version: u32,
    pub numaload_version: String,
    pub run_id: String,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub plan: Plan,
    /// The first agent's host (the only one in a single-agent run); every host is in `hosts`.
    pub host: HostSummary,
    /// Every agent's host, in the order the agents were given.
    #[serde(default)]
    pub hosts: Vec<HostSummary>,
    /// How each agent fared: `ok`, or `lost` with the error that ended it.
    #[serde(default)]
    pub agents: Vec<AgentOutcome>,
    pub layouts: Vec<LayoutResult>,
    /// True when the run was cancelled before every layout ran.
    pub cancelled: bool,
    /// Why the plan's `[fleet]` policy stopped the run when an agent was lost (it was then
    /// cancelled on every agent); absent when it did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aborted: Option<String>,
    /// True when an agent was lost: the figures cover the agents that finished.
    #[serde(default)]
    pub degraded: bool,
    /// A capacity search's findings (`[search]` in the plan); `layouts` then shows each
    /// layout's measurement at its highest passing rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<SearchResult>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayoutResult {
    pub name: String,
    /// Whether the figures can be trusted ([`LayoutStatus`]): `ok` only when the load was
    /// delivered and nothing in `suspect` speaks against them; `failed` with `error` saying why
    /// when no agent measured it (nothing below is then measured).
    pub status: LayoutStatus,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
    /// `open` or `closed`.
    pub mode: String,
    /// Open loop: the rate asked for.
    pub target_rate_rps: Option<f64>,
    pub elapsed_s: f64,
    pub requests: u64,
    pub throughput_rps: f64,
    pub errors: u64,
    pub errors_by_kind: ErrorKinds,
    /// Late sends, reconnects, dropped warm-up requests: fields of the layout in the file.
    #[serde(flatten)]
    pub counts: Counts,
    /// From the intended send time (open loop; the same as uncorrected in closed loop), over
    /// the answered requests and the lower bounds of the unanswered ones' waits
    /// (`histograms.waited_v2_base64`): a figure decided by a lower bound is named in
    /// `lower_bounds`.
    pub latency_ns: Percentiles,
    /// From the actual send time.
    pub latency_uncorrected_ns: Percentiles,
    /// Open loop: how far actual sends lagged the schedule.
    pub send_lag_ns: Option<Percentiles>,
    /// How the connections were set up: connect, TLS handshake, first byte (absent in results
    /// of agents that did not time them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_setup: Option<ConnectionSetup>,
    /// The same figures per agent, from the same data.
    #[serde(default)]
    pub agents: Vec<AgentLayoutResult>,
    pub replicas: Vec<ReplicaResult>,
    pub load: LoadPlacement,
    /// Reasons not to trust this layout's numbers fully (empty when there are none).
    pub suspect: Vec<String>,
    pub notes: Vec<String>,
    /// OS threads of each replica every 100 ms of the measurement.
    pub thread_samples: Vec<ThreadSample>,
    pub histograms: Histograms,
    /// One entry per trial (`repeat = N` in the plan runs every layout N times, interleaved);
    /// the figures above merge every trial's histograms and counters.
    #[serde(default)]
    pub trials: Vec<TrialResult>,
    /// With two or more measured trials: 95% confidence intervals of the mean over trials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<Confidence>,
    /// Per request of the plan's mix, in plan order; empty when the agents did not report it.
    #[serde(default)]
    pub request_mix: Vec<RequestMix>,
    /// Responses by HTTP status code (`"200"` → count), expected or not.
    #[serde(default)]
    pub status_codes: BTreeMap<String, u64>,
    /// gRPC calls by `grpc-status` (`"0"` → count), expected or not; empty without gRPC.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub grpc_status_codes: BTreeMap<String, u64>,
    /// How much of the window's load was delivered, against the plan's `min_delivered`
    /// (`None` in a result that does not carry it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<Delivery>,
    /// How far apart the agents that drove load began it (several agents: each agent's start
    /// converted to the controller's clock by its measured offset), nanoseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_skew_ns: Option<u64>,
    /// Per host under test: where its receive work ran over the window, per NUMA node.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub net_receive: Vec<HostReceive>,
    /// The plan's `[thresholds]` that apply to this layout, each checked (empty without any).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thresholds: Vec<ThresholdResult>,
    /// Open loop with `[[load.stages]]`: the figures of each stage, in order, from the requests
    /// intended in it (they add up to the layout's); empty without stages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<StageResult>,
}

/// One trial's figures of a layout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialResult {
    pub trial: u32,
    pub status: LayoutStatus,
    pub requests: u64,
    pub throughput_rps: f64,
    pub errors: u64,
    pub latency_ns: Percentiles,
}

/// Student-t intervals of the mean over trials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Confidence {
    /// 0.95.
    pub level: f64,
    pub trials: u32,
    pub throughput_rps: Interval,
    pub p99_ns: Interval,
}

/// Whether a layout's (or a trial's, or an agent's) figures can be trusted, from the best to
/// the worst. The JSON, every report, JUnit and the store carry the same word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LayoutStatus {
    /// The load was delivered and nothing speaks against the figures.
    Ok,
    /// Measured and delivered, but with reasons not to trust the figures fully (`suspect`).
    Suspect,
    /// Fewer than the plan's `min_delivered` of the window's requests were sent and answered
    /// (`delivery`, and the shortfall per agent).
    Incomplete,
    /// Some agents did not measure it (lost or failed): the figures cover those that did.
    Degraded,
    /// No agent measured it (`error` says why).
    Failed,
}

impl LayoutStatus {
    /// Whether there are figures to show (from at least one agent).
    pub fn measured(self) -> bool {
        self != LayoutStatus::Failed
    }

    /// The word the JSON uses.
    pub fn as_str(self) -> &'static str {
        match self {
            LayoutStatus::Ok => "ok",
            LayoutStatus::Suspect => "suspect",
            LayoutStatus::Incomplete => "incomplete",
            LayoutStatus::Degraded => "degraded",
            LayoutStatus::Failed => "failed",
        }
    }

    /// Reads [`LayoutStatus::as_str`]'s words back.
    pub fn parse(word: &str) -> Option<Self> {
        [
            LayoutStatus::Ok,
            LayoutStatus::Suspect,
            LayoutStatus::Incomplete,
            LayoutStatus::Degraded,
            LayoutStatus::Failed,
        ]
        .into_iter()
        .find(|s| s.as_str() == word)
    }
}

impl std::fmt::Display for LayoutStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One agent's share of a layout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentLayoutResult {
    #[serde(default = "first_trial")]
    pub trial: u32,
    pub agent: String,
    /// `ok`, `incomplete` (its own delivery fell below the plan's `min_delivered`) or
    /// `failed` (it did not measure the layout: `error` says why).
    pub status: LayoutStatus,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
    pub elapsed_s: f64,
    pub requests: u64,
    pub throughput_rps: f64,
    pub errors: u64,
    /// Its errors by kind, as the layout's `errors_by_kind` (they add up to `errors`); absent
    /// for an agent that did not measure the layout, and in results written before it was
    /// recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors_by_kind: Option<ErrorKinds>,
    pub latency_ns: Percentiles,
    pub latency_uncorrected_ns: Percentiles,
    /// When the measurement began on this agent (its clock corrected by the offset), Unix ns.
    pub measuring_at_unix_ns: Option<u64>,
    /// With a synchronized start (several agents): how long after the start instant the
    /// controller gave it this agent's load began, on its own clock. A busy host wakes late;
    /// the layout's `start_skew_ns` is at least the spread of these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_late_ns: Option<u64>,
    /// This agent's share of the layout's delivery (its shortfall is `intended - answered`);
    /// absent for an agent that drove no load (its replicas were driven by load agents).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<Delivery>,
    /// Open loop: the rate the plan asked of this agent (the plan's rate; a load agent's share
    /// of it); absent in closed loop, for an agent that drove no load, and in a result that
    /// does not carry it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asked_rate_rps: Option<f64>,
    /// Poisson arrivals: the seed and stream this agent drew the layout's send times from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrivals: Option<ArrivalStream>,
    /// What the agent did in the run ([`Role`]): an agent under test behind load agents sends
    /// no request, so its requests read 0. Absent in results written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// How this agent's connections were set up, from its own workers' histograms (absent for an
    /// agent that opened none, and in results written before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_setup: Option<ConnectionSetup>,
    /// This agent's gRPC calls by `grpc-status` (empty without gRPC).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub grpc_status_codes: BTreeMap<String, u64>,
}
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadPlacement {
    pub cpus: Vec<u32>,
    pub shares_cpus_with_replicas: bool,
    pub workers: Vec<LoadWorker>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadWorker {
    #[serde(default = "first_trial")]
    pub trial: u32,
    pub agent: String,
    pub worker: u32,
    pub cpu: u32,
    pub requests: u64,
    pub cpu_time_ns: u64,
    /// CPU time over wall time of the measurement: above 0.85 the generator may be the limit.
    pub busy: f64,
    /// Closed loop with coalescing: naps before blocking while the server had a backlog, and
    /// the share of the measurement spent in them (asleep, so not in `busy`).
    #[serde(default)]
    pub naps: u64,
    #[serde(default)]
    pub napped: f64,
    /// Closed loop: waits that busy-polled (at most 25 µs each) for a response before reading or
    /// blocking, and the share of the measurement spent so (busy waiting on the server: part of
    /// `busy`).
    #[serde(default)]
    pub spins: u64,
    #[serde(default)]
    pub spun: f64,
    /// Open loop: busy-polls for a send time that found nothing else to do, and the share of the
    /// measurement spent so (pacing, not work: part of `busy`; the plan's `send_precision`
    /// decides how much of it there is). A result without them reads 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub paces: u64,
    #[serde(default, skip_serializing_if = "is_zero_share")]
    pub paced: f64,
    /// Open loop: waits in which the worker could sleep (each a wake-up when it did: the open
    /// loop's CPU is mostly spent per wake-up, and a looser `send_precision` makes fewer), and
    /// responses timed by the kernel's receive timestamp, read late (the others were timed
    /// when read). A result without them reads 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub wakeups: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub stamped: u64,
    /// Open loop: warm-up requests this worker dropped at the window's open (see
    /// [`Counts::warmup_dropped`]).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub warmup_dropped: u64,
}

impl LoadWorker {
    /// Adds one of the worker's wire results (it sends one per replica it drove; its per-thread
    /// figures come on one of them), the shares taken over the `elapsed_ns` of the measurement.
    /// The one place the controller reads a worker's counters from the wire.
    pub fn absorb(&mut self, w: &numaload_proto::v1::WorkerResult, elapsed_ns: u64) {
        let share = |ns: u64| {
            if elapsed_ns > 0 {
                ns as f64 / elapsed_ns as f64
            } else {
                0.0
            }
        };
        self.requests += w.requests;
        self.cpu_time_ns += w.cpu_time_ns;
        self.busy = share(self.cpu_time_ns);
        self.naps += w.naps;
        self.napped += share(w.napped_ns);
        self.spins += w.spins;
        self.spun += share(w.spun_ns);
        self.paces += w.paces;
        self.paced += share(w.paced_ns);
        self.wakeups += w.wakeups;
        self.stamped += w.stamped;
        self.warmup_dropped += w.warmup_dropped;
    }
}

/// The merged histograms themselves, so reports and later merges need nothing else.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Histograms {
    /// HdrHistogram V2, base64, nanoseconds.
    pub corrected_v2_base64: String,
    pub uncorrected_v2_base64: String,
    /// Open loop: how late sends were (absent in closed loop).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub send_lag_v2_base64: String,
    /// Lower bounds of the waits of the window's requests that were never answered (unsent:
    /// from the intended send time to the end of the drain; timed out: to when it was given
    /// up). Merged with `corrected_v2_base64` for `latency_ns`; absent when every request was
    /// answered.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub waited_v2_base64: String,
    /// The connections' setup ([`ConnectionSetup`]): connect, TLS handshake, first byte
    /// (each absent when empty).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub connect_v2_base64: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tls_handshake_v2_base64: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub first_byte_v2_base64: String,
}

impl RunResult {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorKinds;

    #[test]
    fn error_kinds_without_unsent_still_load() {
        let without = r#"{"connect":1,"io":2,"timeout":3,"http_status":4,"parse":5}"#;
        let kinds: ErrorKinds = serde_json::from_str(without).expect("errors without unsent");
        assert_eq!(kinds.unsent, 0);
        assert_eq!(kinds.total(), 15);
    }
}
