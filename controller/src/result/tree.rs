//! What a result says about a replica's whole process tree (every process it forked, every
//! thread, read back by the agent) and about the plan's request mix.

use serde::{Deserialize, Serialize};

use super::percentiles::Percentiles;

/// A thread or process whose placement differed from the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mismatch {
    pub pid: u32,
    /// 0 when the mismatch is the process's own (its memory policy).
    pub tid: u32,
    pub comm: String,
    /// What it ran on and what was intended, as a sentence.
    pub what: String,
}

impl From<&numaload_proto::v1::PlacementMismatch> for Mismatch {
    fn from(m: &numaload_proto::v1::PlacementMismatch) -> Self {
        Mismatch {
            pid: m.pid,
            tid: m.tid,
            comm: m.comm.clone(),
            what: m.what.clone(),
        }
    }
}

impl Mismatch {
    /// `pid 812 tid 815 (worker-2): ran on CPUs 0-7, intended 0-3`; a process's own mismatch
    /// (tid 0) names the pid only.
    pub fn line(&self) -> String {
        let thread = if self.tid == 0 {
            String::new()
        } else {
            format!(" tid {}", self.tid)
        };
        format!("pid {}{thread} ({}): {}", self.pid, self.comm, self.what)
    }
}

/// A process of a replica's tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessSeen {
    pub pid: u32,
    pub ppid: u32,
    pub comm: String,
    pub threads: u32,
    /// As numa_maps shows it: `default`, `bind:0`, ...
    pub memory_policy: String,
}

impl From<&numaload_proto::v1::ProcessSeen> for ProcessSeen {
    fn from(p: &numaload_proto::v1::ProcessSeen) -> Self {
        ProcessSeen {
            pid: p.pid,
            ppid: p.ppid,
            comm: p.comm.clone(),
            threads: p.threads,
            memory_policy: p.memory_policy.clone(),
        }
    }
}

/// A named series scraped from a replica's own metrics endpoint over the measurement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScrapedSeries {
    pub name: String,
    pub min: f64,
    pub max: f64,
    pub last: f64,
}

impl From<&numaload_proto::v1::ScrapedSeries> for ScrapedSeries {
    fn from(s: &numaload_proto::v1::ScrapedSeries) -> Self {
        ScrapedSeries {
            name: s.name.clone(),
            min: s.min,
            max: s.max,
            last: s.last,
        }
    }
}

/// One request of the plan's mix, merged over workers, replicas, agents and trials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestMix {
    /// The request's name in the plan (`request #N` for an index the plan does not have).
    pub name: String,
    /// Its weight in the plan; its intended share is weight over the sum of weights.
    pub weight: u32,
    /// Its calls of the window: each answered as expected (`requests`) or an error of any kind
    /// (`errors`, those never sent by the window's close included). Absent in results written
    /// before it was recorded: read [`RequestMix::calls`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calls: Option<u64>,
    /// Its calls answered as expected.
    pub requests: u64,
    pub errors: u64,
    /// From the intended send time, successful responses only, read from `histogram`.
    pub latency_ns: Percentiles,
    /// The merged histogram (HdrHistogram V2, base64), so trials and re-renders merge exactly.
    pub latency_v2_base64: String,
    /// Lower bounds of the waits of this request's unanswered ones, merged into `latency_ns`
    /// (see `LayoutResult::latency_ns`); absent when all were answered.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub waited_v2_base64: String,
}

impl RequestMix {
    /// Its calls of the window: every one is a success or an error, so a result without
    /// `calls` has them too.
    pub fn calls(&self) -> u64 {
        self.calls.unwrap_or(self.requests + self.errors)
    }
}
