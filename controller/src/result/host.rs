//! Where a run ran: each agent's host (topology summary, kernel, CPU model, calibration), the
//! cgroup limits of a process (the agent's or a replica's), how each agent fared and what it did
//! ([`Role`]).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentOutcome {
    pub agent: String,
    pub status: AgentStatus,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
    /// The agent's clock minus the controller's, estimated from the lowest-round-trip `Clock` call.
    pub clock_offset_ns: i64,
    pub clock_round_trip_ns: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentStatus {
    Ok,
    Lost,
}

/// What an agent did in a run: the controller gives each agent its part (`run --agent` and
/// `--load-agent`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Ran the replicas and drove the load at them (a run without load agents).
    Both,
    /// Ran the replicas only: load agents on other hosts drove them, so it sent no request.
    UnderTest,
    /// Drove load at the replicas of the agents under test and ran none.
    Load,
}

impl Role {
    /// The word the JSON and the CSV use.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Both => "both",
            Role::UnderTest => "under_test",
            Role::Load => "load",
        }
    }

    /// Whether the agent sent requests (its figures are of the load it drove).
    pub fn drives_load(self) -> bool {
        self != Role::UnderTest
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostSummary {
    /// The agent's address as the controller reached it.
    pub agent: String,
    pub agent_version: String,
    pub hostname: String,
    pub kernel: String,
    pub cpu_model: String,
    pub packages: u32,
    pub numa_nodes: u32,
    pub numa_domains: u32,
    pub cores: u32,
    pub pus: u32,
    pub allowed_cpus: Vec<u32>,
    /// Every NUMA node: its allowed CPUs, memory and kind (DRAM, HBM, NVM ...).
    #[serde(default)]
    pub nodes: Vec<HostNode>,
    /// What basic runtime operations cost on this host, measured by its agent before the run.
    #[serde(default)]
    pub calibration: Option<Calibration>,
    /// The agent's own cgroup: plans are resolved inside its cpuset. `null` in results from
    /// agents that did not report it.
    #[serde(default)]
    pub cgroup: Option<CgroupSummary>,
    /// A hollow agent (`numaload agent --hollow`): nothing ran there, every figure it reported
    /// is made up. Absent (false) for every real agent.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub simulated: bool,
}

/// What a process's cgroup allows it (the agent's, or a replica's).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CgroupSummary {
    /// `v1`, `v2`, `none` (no cgroup controller found), or `unknown` (unreadable; `path` says why).
    pub version: String,
    /// The cgroup's path in its hierarchy.
    pub path: String,
    /// Effective cpuset CPUs; empty when the cpuset does not narrow the host's online CPUs.
    pub cpuset_cpus: Vec<u32>,
    /// Effective cpuset memory nodes; empty when not narrower than the host's memory nodes.
    pub cpuset_mems: Vec<u32>,
    /// CPU bandwidth quota in CPUs, the tightest up the hierarchy; `null` when unlimited.
    pub cpu_quota_cpus: Option<f64>,
}

impl From<&numaload_proto::v1::CgroupLimits> for CgroupSummary {
    fn from(c: &numaload_proto::v1::CgroupLimits) -> Self {
        CgroupSummary {
            version: c.version.clone(),
            path: c.path.clone(),
            cpuset_cpus: c.cpuset_cpus.clone(),
            cpuset_mems: c.cpuset_mems.clone(),
            cpu_quota_cpus: (c.cpu_quota_cpus > 0.0).then_some(c.cpu_quota_cpus),
        }
    }
}

impl CgroupSummary {
    /// Whether the cgroup narrows the CPUs or memory nodes, or caps CPU time.
    pub fn is_limited(&self) -> bool {
        !self.cpuset_cpus.is_empty()
            || !self.cpuset_mems.is_empty()
            || self.cpu_quota_cpus.is_some()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostNode {
    pub os_index: u32,
    pub cpus: Vec<u32>,
    pub memory_bytes: u64,
    /// hwloc's subtype: empty for plain DRAM.
    pub subtype: String,
}

/// Medians over batches, nanoseconds per operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Calibration {
    /// Spawn and join one tokio task.
    pub task_spawn_ns: u64,
    /// Spawn and join one OS thread.
    pub thread_spawn_ns: u64,
    /// Message to another task and back.
    pub channel_round_trip_ns: u64,
}
