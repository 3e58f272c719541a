//! What placement gives: each replica's [`ReplicaPlan`] and the load generator's CPUs in a
//! [`Placement`], and the [`NodePolicy`] a replica's memory is bound with.

use std::fmt;

use numaload_proto::cpulist;
use serde::Serialize;

/// The kernel memory policy a replica is started with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NodePolicy {
    /// None set (`memory_nodes` is empty).
    Default,
    /// `MPOL_BIND` to `memory_nodes`.
    Bind,
    /// `MPOL_INTERLEAVE` over `memory_nodes`.
    Interleave,
}

impl fmt::Display for NodePolicy {
    /// As `/proc/<pid>/numa_maps` names it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NodePolicy::Default => "default",
            NodePolicy::Bind => "bind",
            NodePolicy::Interleave => "interleave",
        })
    }
}

impl NodePolicy {
    /// The policy as numa_maps prints it for these nodes: `default`, `bind:0`, `interleave:0-3`.
    pub fn describe(self, nodes: &[u32]) -> String {
        match self {
            NodePolicy::Default => "default".to_owned(),
            _ => format!("{self}:{}", cpulist::format(nodes)),
        }
    }
}

/// The concrete placement of one layout on one host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Placement {
    /// One plan per replica, in launch order.
    pub replicas: Vec<ReplicaPlan>,
    /// CPUs the load generator's workers are pinned to, sorted.
    pub load_cpus: Vec<u32>,
    /// True when `load_cpus` are also replica CPUs (the measurement is then suspect).
    pub load_shares_cpus: bool,
    /// Things the user should know about this placement, one sentence each.
    pub notes: Vec<String>,
}

/// Where one replica runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplicaPlan {
    /// 0-based replica number.
    pub index: u32,
    /// CPU affinity, sorted, never empty.
    pub cpus: Vec<u32>,
    /// NUMA nodes of the memory policy, sorted; empty means no memory policy.
    pub memory_nodes: Vec<u32>,
    /// How `memory_nodes` are used; [`NodePolicy::Default`] exactly when they are empty.
    pub memory_policy: NodePolicy,
    /// Worker threads the replica should run.
    pub threads: u32,
    /// When pinned to a unit: its index in the topology's list for the pin level (`domains`,
    /// `packages_cpus`, `l3_domains` or `core_cpus`).
    pub unit: Option<u32>,
}
