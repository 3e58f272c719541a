//! Placement: a layout policy resolved on one host's topology into CPU sets and memory nodes.
//!
//! The controller sends policy ([`Layout`]: how many replicas, pinned or not, memory local or
//! not); [`place`] turns it into concrete [`ReplicaPlan`]s on a [`HostTopology`]. It is a pure
//! function: no I/O, no hwloc, the same answer for an XML topology and for this host.
//!
//! # Rules
//!
//! - **Pool.** The replica pool is the allowed CPUs minus the `reserve_load_cpus` highest allowed
//!   CPUs, which go to the load generator. Reserving every allowed CPU is an error naming
//!   `load.reserve_cpus`.
//! - **`pin = none`.** Every replica's `cpus` is the whole pool: replicas are not tied to a node,
//!   but the agent still sets this affinity so that the reserved load CPUs stay free.
//! - **`pin = node`.** Replica *i* gets the CPUs of the *i*-th usable domain ∩ pool. A domain the
//!   reservation leaves empty is not usable: it is skipped, with a note.
//! - **`replicas = per-node`.** One replica per usable domain (with either pin).
//! - **`replicas = n`.** `n = 0` is an error. With `pin = node`, `n` must not exceed the usable
//!   domains (the first `n` are used); with `pin = none`, `n` must not exceed the pool's CPUs.
//! - **`memory = local`.** With `pin = node`: the replica's domain's DRAM node (subtype `""` or
//!   `"DRAM"`, lowest OS index), else the domain's first node, with a note. With `pin = none`:
//!   every DRAM node of the domains that hold pool CPUs (if there is none, the first node of each
//!   such domain, with a note). **`memory = none`**: no nodes, no memory policy set.
//! - **Threads.** `threads` is the number of CPUs in the replica's set.
//! - **Load CPUs.** With a reservation, the reserved CPUs. Otherwise the allowed CPUs no replica
//!   uses; if there are none, the highest allowed CPU, shared with the replicas
//!   (`load_shares_cpus = true`) and a note saying how to avoid it.
//!
//! Errors ([`PlacementError`]) are one line naming the plan field at fault and the fix.

use std::collections::BTreeSet;

use numaload_proto::{cpulist, v1};
use serde::Serialize;

use crate::topology::{Domain, HostTopology, NumaNode};

/// How many replicas a layout runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Replicas {
    /// Exactly this many.
    Count(u32),
    /// One per NUMA domain.
    PerNode,
}

/// Where replicas may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Pin {
    /// On any CPU of the replica pool.
    None,
    /// Each on the CPUs of its own NUMA domain.
    Node,
}

/// Where replicas allocate memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Memory {
    /// Wherever the kernel likes: no memory policy is set.
    None,
    /// Bound to the DRAM near the replica's CPUs.
    Local,
}

/// A validated layout policy: the plan's `[layouts.<name>]` table without its unknowns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Layout {
    /// The layout's name in the plan, used in errors and reports.
    pub name: String,
    /// How many replicas.
    pub replicas: Replicas,
    /// CPU pinning.
    pub pin: Pin,
    /// Memory policy.
    pub memory: Memory,
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
    /// NUMA nodes to bind memory to, sorted; empty means no memory policy.
    pub memory_nodes: Vec<u32>,
    /// Worker threads the replica should run: one per CPU of `cpus`.
    pub threads: u32,
    /// Index into [`HostTopology::domains`] when pinned to a node.
    pub domain: Option<u32>,
}

/// A layout that cannot be placed, naming the plan field at fault and the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlacementError {
    /// A required enum field was left unset.
    #[error("layouts[{layout:?}].{field}: unspecified; use {choices}")]
    Unspecified {
        /// Layout name.
        layout: String,
        /// Field name.
        field: &'static str,
        /// Accepted values, quoted, for the message.
        choices: &'static str,
    },
    /// An enum field carries a value this agent does not know (a newer controller?).
    #[error("layouts[{layout:?}].{field}: unknown value {value}; use {choices}")]
    UnknownValue {
        /// Layout name.
        layout: String,
        /// Field name.
        field: &'static str,
        /// The raw wire value.
        value: i32,
        /// Accepted values, quoted, for the message.
        choices: &'static str,
    },
    /// `replicas = 0`.
    #[error("layouts[{layout:?}].replicas: 0 replicas; use at least 1 or replicas = \"per-node\"")]
    ZeroReplicas {
        /// Layout name.
        layout: String,
    },
    /// More node-pinned replicas than NUMA domains.
    #[error(
        "layouts[{layout:?}].replicas: {requested} replicas but this host has {domains} NUMA \
         domains; use replicas = \"per-node\" or at most {domains}"
    )]
    MoreReplicasThanDomains {
        /// Layout name.
        layout: String,
        /// Replicas asked for.
        requested: u32,
        /// Domains on this host.
        domains: usize,
    },
    /// More node-pinned replicas than domains the load reservation leaves CPUs in.
    #[error(
        "layouts[{layout:?}].replicas: {requested} replicas but only {usable} of this host's \
         {domains} NUMA domains keep CPUs after load.reserve_cpus = {reserved}; use at most \
         {usable} replicas or a smaller load.reserve_cpus"
    )]
    MoreReplicasThanUsableDomains {
        /// Layout name.
        layout: String,
        /// Replicas asked for.
        requested: u32,
        /// Domains with CPUs left in the pool.
        usable: usize,
        /// Domains on this host.
        domains: usize,
        /// `load.reserve_cpus`.
        reserved: u32,
    },
    /// More unpinned replicas than CPUs to run them on.
    #[error(
        "layouts[{layout:?}].replicas: {requested} replicas but only {cpus} CPUs are left for \
         replicas (load.reserve_cpus = {reserved}); use at most {cpus}"
    )]
    MoreReplicasThanCpus {
        /// Layout name.
        layout: String,
        /// Replicas asked for.
        requested: u32,
        /// CPUs in the replica pool.
        cpus: usize,
        /// `load.reserve_cpus`.
        reserved: u32,
    },
    /// Node pinning asked for but the reservation empties every domain.
    #[error(
        "layouts[{layout:?}].pin: \"node\" but load.reserve_cpus = {reserved} leaves no NUMA \
         domain any CPU; use a smaller load.reserve_cpus or pin = \"none\""
    )]
    NoUsableDomain {
        /// Layout name.
        layout: String,
        /// `load.reserve_cpus`.
        reserved: u32,
    },
    /// The load reservation takes every allowed CPU.
    #[error(
        "load.reserve_cpus: {reserved} CPUs reserved for the load generator but this host \
         allows only {allowed}, leaving none for replicas; use at most {}",
        allowed.saturating_sub(1)
    )]
    ReserveTooLarge {
        /// `load.reserve_cpus`.
        reserved: u32,
        /// Allowed CPUs on this host.
        allowed: usize,
    },
}

const PIN_CHOICES: &str = "\"none\" or \"node\"";
const MEMORY_CHOICES: &str = "\"none\" or \"local\"";
const REPLICAS_CHOICES: &str = "a count or \"per-node\"";

impl TryFrom<&v1::LayoutSpec> for Layout {
    type Error = PlacementError;

    fn try_from(spec: &v1::LayoutSpec) -> Result<Self, Self::Error> {
        use v1::layout_spec::Replicas as WireReplicas;
        let layout = || spec.name.clone();
        let unknown = |field, value, choices| PlacementError::UnknownValue {
            layout: layout(),
            field,
            value,
            choices,
        };
        let unspecified = |field, choices| PlacementError::Unspecified {
            layout: layout(),
            field,
            choices,
        };

        let replicas = match spec.replicas {
            Some(WireReplicas::Count(0)) => {
                return Err(PlacementError::ZeroReplicas { layout: layout() })
            }
            Some(WireReplicas::Count(n)) => Replicas::Count(n),
            Some(WireReplicas::PerNode(true)) => Replicas::PerNode,
            // `per_node = false` says what the layout is not, not what it is.
            Some(WireReplicas::PerNode(false)) | None => {
                return Err(unspecified("replicas", REPLICAS_CHOICES))
            }
            // Not placed by this agent yet.
            Some(WireReplicas::PerPackage(_)) | Some(WireReplicas::PerL3(_)) => {
                return Err(unspecified("replicas", REPLICAS_CHOICES))
            }
        };
        let pin = match v1::Pin::try_from(spec.pin) {
            Ok(v1::Pin::None) => Pin::None,
            Ok(v1::Pin::Node) => Pin::Node,
            Ok(v1::Pin::Unspecified) => return Err(unspecified("pin", PIN_CHOICES)),
            Ok(_) | Err(_) => return Err(unknown("pin", spec.pin, PIN_CHOICES)),
        };
        let memory = match v1::MemoryPolicy::try_from(spec.memory) {
            Ok(v1::MemoryPolicy::None) => Memory::None,
            Ok(v1::MemoryPolicy::Local) => Memory::Local,
            Ok(v1::MemoryPolicy::Unspecified) => return Err(unspecified("memory", MEMORY_CHOICES)),
            Ok(_) | Err(_) => return Err(unknown("memory", spec.memory, MEMORY_CHOICES)),
        };
        Ok(Layout {
            name: spec.name.clone(),
            replicas,
            pin,
            memory,
        })
    }
}

/// Resolves `layout` on `topology`, keeping the `reserve_load_cpus` highest allowed CPUs for the
/// load generator. See the module documentation for the rules.
pub fn place(
    topology: &HostTopology,
    layout: &Layout,
    reserve_load_cpus: u32,
) -> Result<Placement, PlacementError> {
    let allowed = &topology.allowed_cpus;
    let reserved_count = usize::try_from(reserve_load_cpus).unwrap_or(usize::MAX);
    if reserved_count >= allowed.len() {
        return Err(PlacementError::ReserveTooLarge {
            reserved: reserve_load_cpus,
            allowed: allowed.len(),
        });
    }
    let (pool, reserved) = allowed.split_at(allowed.len() - reserved_count);
    let pool_set: BTreeSet<u32> = pool.iter().copied().collect();
    let mut notes = Vec::new();

    let replicas = match layout.pin {
        Pin::Node => place_pinned(topology, layout, &pool_set, reserve_load_cpus, &mut notes)?,
        Pin::None => place_unpinned(topology, layout, pool, reserve_load_cpus, &mut notes)?,
    };

    let (load_cpus, load_shares_cpus) =
        load_cpus(allowed, reserved, &replicas, reserve_load_cpus, &mut notes);
    Ok(Placement {
        replicas,
        load_cpus,
        load_shares_cpus,
        notes,
    })
}

/// `pin = node`: one replica per usable domain, on that domain's pool CPUs.
fn place_pinned(
    topology: &HostTopology,
    layout: &Layout,
    pool: &BTreeSet<u32>,
    reserved: u32,
    notes: &mut Vec<String>,
) -> Result<Vec<ReplicaPlan>, PlacementError> {
    // (domain index, domain, its CPUs left in the pool)
    let mut usable: Vec<(usize, &Domain, Vec<u32>)> = Vec::new();
    for (i, domain) in topology.domains.iter().enumerate() {
        let cpus: Vec<u32> = domain
            .cpus
            .iter()
            .copied()
            .filter(|c| pool.contains(c))
            .collect();
        if cpus.is_empty() {
            notes.push(format!(
                "NUMA domain {i} (CPUs {}) gets no replica: all its CPUs are reserved for the \
                 load generator",
                cpulist::format(&domain.cpus)
            ));
        } else {
            usable.push((i, domain, cpus));
        }
    }
    if usable.is_empty() {
        return Err(PlacementError::NoUsableDomain {
            layout: layout.name.clone(),
            reserved,
        });
    }

    let count = match layout.replicas {
        Replicas::PerNode => usable.len(),
        Replicas::Count(0) => {
            return Err(PlacementError::ZeroReplicas {
                layout: layout.name.clone(),
            })
        }
        Replicas::Count(n) => {
            let requested = usize::try_from(n).unwrap_or(usize::MAX);
            if requested > topology.domains.len() {
                return Err(PlacementError::MoreReplicasThanDomains {
                    layout: layout.name.clone(),
                    requested: n,
                    domains: topology.domains.len(),
                });
            }
            if requested > usable.len() {
                return Err(PlacementError::MoreReplicasThanUsableDomains {
                    layout: layout.name.clone(),
                    requested: n,
                    usable: usable.len(),
                    domains: topology.domains.len(),
                    reserved,
                });
            }
            if requested < usable.len() {
                notes.push(format!(
                    "{requested} node-pinned replicas use the first {requested} of {} NUMA \
                     domains",
                    usable.len()
                ));
            }
            requested
        }
    };

    let mut replicas = Vec::with_capacity(count);
    for (index, (domain_index, domain, cpus)) in (0u32..).zip(usable.into_iter().take(count)) {
        if cpus.len() < domain.cpus.len() {
            notes.push(format!(
                "replica {index} runs on {} of NUMA domain {domain_index}'s {} CPUs: the rest \
                 are reserved for the load generator",
                cpus.len(),
                domain.cpus.len()
            ));
        }
        let memory_nodes = match layout.memory {
            Memory::None => Vec::new(),
            Memory::Local => domain_memory(&topology.numa_nodes, domain, index, notes),
        };
        replicas.push(ReplicaPlan {
            index,
            threads: cpu_count(&cpus),
            cpus,
            memory_nodes,
            domain: u32::try_from(domain_index).ok(),
        });
    }
    Ok(replicas)
}

/// The node a node-pinned replica's memory goes to: its domain's lowest DRAM node, else its
/// domain's first node (noted), else none (noted; only a hand-built topology lacks nodes).
fn domain_memory(
    nodes: &[NumaNode],
    domain: &Domain,
    replica: u32,
    notes: &mut Vec<String>,
) -> Vec<u32> {
    let dram = nodes
        .iter()
        .filter(|node| domain.nodes.contains(&node.os_index) && node.is_dram())
        .map(|node| node.os_index)
        .min();
    if let Some(node) = dram {
        return vec![node];
    }
    match domain.nodes.first() {
        Some(&first) => {
            let subtype = nodes
                .iter()
                .find(|node| node.os_index == first)
                .map_or("unknown", |node| node.subtype.as_str());
            notes.push(format!(
                "replica {replica}: its NUMA domain has no DRAM node; memory is bound to node \
                 {first} ({subtype})"
            ));
            vec![first]
        }
        None => {
            notes.push(format!(
                "replica {replica}: its NUMA domain has no memory node; no memory policy is set"
            ));
            Vec::new()
        }
    }
}

/// `pin = none`: every replica gets the whole pool.
fn place_unpinned(
    topology: &HostTopology,
    layout: &Layout,
    pool: &[u32],
    reserved: u32,
    notes: &mut Vec<String>,
) -> Result<Vec<ReplicaPlan>, PlacementError> {
    let pool_set: BTreeSet<u32> = pool.iter().copied().collect();
    let pool_domains: Vec<&Domain> = topology
        .domains
        .iter()
        .filter(|domain| domain.cpus.iter().any(|cpu| pool_set.contains(cpu)))
        .collect();

    let count = match layout.replicas {
        // hwloc always yields a domain; only a hand-built topology can have none: run one.
        Replicas::PerNode => pool_domains.len().max(1),
        Replicas::Count(0) => {
            return Err(PlacementError::ZeroReplicas {
                layout: layout.name.clone(),
            })
        }
        Replicas::Count(n) => {
            let requested = usize::try_from(n).unwrap_or(usize::MAX);
            if requested > pool.len() {
                return Err(PlacementError::MoreReplicasThanCpus {
                    layout: layout.name.clone(),
                    requested: n,
                    cpus: pool.len(),
                    reserved,
                });
            }
            requested
        }
    };

    let memory_nodes = match layout.memory {
        Memory::None => Vec::new(),
        Memory::Local => pool_memory(&topology.numa_nodes, &pool_domains, notes),
    };
    Ok((0u32..)
        .take(count)
        .map(|index| ReplicaPlan {
            index,
            cpus: pool.to_vec(),
            memory_nodes: memory_nodes.clone(),
            threads: cpu_count(pool),
            domain: None,
        })
        .collect())
}

/// The nodes unpinned replicas' memory goes to: every DRAM node of the pool's domains, else the
/// first node of each of those domains (noted).
fn pool_memory(nodes: &[NumaNode], domains: &[&Domain], notes: &mut Vec<String>) -> Vec<u32> {
    let in_pool_domains =
        |node: &&NumaNode| domains.iter().any(|d| d.nodes.contains(&node.os_index));
    let dram: Vec<u32> = nodes
        .iter()
        .filter(in_pool_domains)
        .filter(|node| node.is_dram())
        .map(|node| node.os_index)
        .collect();
    if !dram.is_empty() {
        return sorted(dram);
    }
    let firsts: Vec<u32> = domains
        .iter()
        .filter_map(|d| d.nodes.first().copied())
        .collect();
    if firsts.is_empty() {
        notes.push("no NUMA node holds the replicas' CPUs; no memory policy is set".to_owned());
    } else {
        notes.push(format!(
            "the replicas' NUMA domains have no DRAM node; memory is bound to nodes {}",
            cpulist::format(&firsts)
        ));
    }
    sorted(firsts)
}

/// Where the load generator runs, and whether it shares CPUs with the replicas.
fn load_cpus(
    allowed: &[u32],
    reserved: &[u32],
    replicas: &[ReplicaPlan],
    reserve_load_cpus: u32,
    notes: &mut Vec<String>,
) -> (Vec<u32>, bool) {
    if reserve_load_cpus > 0 {
        return (reserved.to_vec(), false);
    }
    let used: BTreeSet<u32> = replicas
        .iter()
        .flat_map(|r| r.cpus.iter().copied())
        .collect();
    let spare: Vec<u32> = allowed
        .iter()
        .copied()
        .filter(|c| !used.contains(c))
        .collect();
    if !spare.is_empty() {
        return (spare, false);
    }
    // `place` checked that the pool, a subset of `allowed`, is not empty.
    let Some(&last) = allowed.last() else {
        return (Vec::new(), false);
    };
    notes.push(format!(
        "the load generator shares CPU {last} with the replicas; `[load] reserve_cpus = 1` \
         gives it its own"
    ));
    (vec![last], true)
}

fn cpu_count(cpus: &[u32]) -> u32 {
    u32::try_from(cpus.len()).unwrap_or(u32::MAX)
}

fn sorted(mut v: Vec<u32>) -> Vec<u32> {
    v.sort_unstable();
    v.dedup();
    v
}

#[cfg(test)]
mod tests;
