//! Placement: a layout policy resolved on one host's topology into CPU sets and memory nodes.
//!
//! The controller sends policy ([`Layout`]: how many replicas, pinned to what, which memory
//! policy); [`place`] turns it into concrete [`ReplicaPlan`]s on a [`HostTopology`]. It is a pure
//! function: no I/O, no hwloc, the same answer for an XML topology and for this host.
//!
//! # Rules
//!
//! - **Pool.** The replica pool is the allowed CPUs minus the `reserve_load_cpus` highest allowed
//!   CPUs, which go to the load generator. Reserving every allowed CPU is an error naming
//!   `load.reserve_cpus`.
//! - **Units.** `pin = "node" | "package" | "l3" | "core"` pins each replica to one *unit* of that
//!   level: a NUMA domain, a package, a last-level-cache domain or a core ([`HostTopology`]'s
//!   `domains`, `packages_cpus`, `l3_domains`, `core_cpus`). A unit's CPUs are intersected with
//!   the pool; a unit the reservation leaves empty is not usable: it is skipped (with a note for
//!   nodes, packages and L3 domains).
//! - **`replicas = "per-node" | "per-package" | "per-l3"`.** One replica per usable unit of that
//!   level, pinned to it (`pin` of the same level) or all on the pool (`pin = "none"`); any
//!   other `pin` is an error naming `pin`.
//! - **`replicas = n`.** `n = 0` is an error. Pinned, `n` must not exceed the usable units (the
//!   first `n` are used, noted when fewer than all); unpinned, `n` must not exceed the pool's CPUs.
//! - **`pin = "none"`.** Every replica's `cpus` is the whole pool: replicas are not tied to a unit,
//!   but the agent still sets this affinity so that the reserved load CPUs stay free.
//! - **Explicit `cpus`.** Every replica runs on exactly these CPUs; each must be allowed (an
//!   offline or cgroup-excluded CPU is an error naming `cpus`); `pin` must be `"none"` and
//!   `replicas` a count. CPUs also reserved for the load generator are shared, with a note.
//! - **`smt = "one-per-core"`.** Each replica's CPU set keeps only its lowest CPU of every core.
//! - **`memory`.** `"none"`: no policy. `"local"`: `MPOL_BIND` to the *default DRAM node* of each
//!   NUMA domain the replica's CPUs belong to (with `pin = "node"`: its own domain's) — the lowest
//!   DRAM node (subtype `""` or `"DRAM"`) of the domain; domains without DRAM are left out while
//!   another has one; if none has, the first node of each, with a note. HBM and NVM nodes are
//!   never chosen while DRAM is near. `"interleave"`: `MPOL_INTERLEAVE` over every DRAM node of
//!   those domains (same fallback). A node list: `MPOL_BIND` to exactly those nodes; a node the
//!   host does not have (or does not allow) is an error naming the field.
//! - **Threads.** `threads` when given, else the number of CPUs in the replica's set.
//! - **Load CPUs.** With a reservation, the reserved CPUs. Otherwise the allowed CPUs no replica
//!   uses, preferring those on cores no replica uses (SMT siblings of replica CPUs only when
//!   nothing else is left, with a note); if there are none, the highest allowed CPU, shared
//!   with the replicas (`load_shares_cpus = true`) and a note saying how to avoid it.
//!
//! Errors ([`PlacementError`]) are one line naming the plan field at fault and the fix.

use std::collections::{BTreeMap, BTreeSet};

use crate::topology::HostTopology;

mod cpus;
mod error;
mod layout;
mod level;
mod load;
mod memory;
mod plan;
mod seats;

use cpus::core_index;
use load::load_cpus;
use memory::{near_memory, touched_domains, Who};
use seats::{explicit, pinned, unpinned, Seat};

pub use error::PlacementError;
pub use layout::{Layout, Memory, Pin, Replicas, Smt};
pub use level::Level;
pub use load::load_only;
pub use plan::{NodePolicy, Placement, ReplicaPlan};

/// Resolves `layout` on `topology`, keeping the `reserve_load_cpus` highest allowed CPUs for the
/// load generator. See the module documentation for the rules.
pub fn place(
    topology: &HostTopology,
    layout: &Layout,
    reserve_load_cpus: u32,
) -> Result<Placement, PlacementError> {
    let Seated {
        replicas,
        reserved,
        mut notes,
    } = place_replicas(topology, layout, reserve_load_cpus)?;
    let (load_cpus, load_shares_cpus) =
        load_cpus(topology, reserved, &replicas, reserve_load_cpus, &mut notes);
    Ok(Placement {
        replicas,
        load_cpus,
        load_shares_cpus,
        notes,
    })
}

/// Resolves `layout` on a host whose load comes from load agents on other hosts: every
/// allowed CPU is the replicas', and no load generator runs here.
pub fn place_without_load(
    topology: &HostTopology,
    layout: &Layout,
) -> Result<Placement, PlacementError> {
    let Seated {
        replicas, notes, ..
    } = place_replicas(topology, layout, 0)?;
    Ok(Placement {
        replicas,
        load_cpus: Vec::new(),
        load_shares_cpus: false,
        notes,
    })
}

/// The replicas' part of a placement.
struct Seated<'t> {
    replicas: Vec<ReplicaPlan>,
    /// The CPUs reserved for the load generator.
    reserved: &'t [u32],
    notes: Vec<String>,
}

/// The replicas' part of [`place`]: their plans, the CPUs reserved for load, and the notes.
fn place_replicas<'t>(
    topology: &'t HostTopology,
    layout: &Layout,
    reserve_load_cpus: u32,
) -> Result<Seated<'t>, PlacementError> {
    let allowed = &topology.allowed_cpus;
    let reserved_count = usize::try_from(reserve_load_cpus).unwrap_or(usize::MAX);
    if reserved_count >= allowed.len() {
        return Err(PlacementError::ReserveTooLarge {
            reserved: reserve_load_cpus,
            allowed: allowed.len(),
        });
    }
    check_layout(topology, layout)?;
    let (pool, reserved) = allowed.split_at(allowed.len() - reserved_count);
    let mut notes = Vec::new();
    let uses_l3 = layout.pin == Pin::L3 || layout.replicas == Replicas::PerL3;
    if uses_l3 && topology.l3_level != "L3" {
        notes.push(match topology.l3_level.as_str() {
            "machine" => "this host reports no caches: the whole machine is one L3 domain".into(),
            level => format!("this host has no L3 cache: L3 domains are its {level} caches"),
        });
    }

    let sets: Vec<Seat<'_>> = match (&layout.cpus, layout.pin.level()) {
        (Some(cpus), _) => explicit(topology, layout, cpus, reserved, &mut notes)?,
        (None, Some(level)) => {
            pinned(topology, layout, level, pool, reserve_load_cpus, &mut notes)?
        }
        (None, None) => unpinned(topology, layout, pool, reserve_load_cpus)?,
    };

    let mut memory_cache: BTreeMap<Vec<u32>, Vec<u32>> = BTreeMap::new();
    let mut replicas = Vec::with_capacity(sets.len());
    for (index, set) in (0u32..).zip(sets) {
        let cpus = match layout.smt {
            Smt::All => set.cpus,
            Smt::OnePerCore => one_per_core(&set.cpus, &topology.core_cpus),
        };
        let (memory_policy, memory_nodes) = match &layout.memory {
            Memory::None => (NodePolicy::Default, Vec::new()),
            Memory::Nodes(nodes) => (NodePolicy::Bind, nodes.clone()),
            Memory::Local | Memory::Interleave => {
                let interleave = layout.memory == Memory::Interleave;
                let domains = set
                    .domain
                    .map_or_else(|| touched_domains(topology, &cpus), |d| vec![d]);
                // Unpinned replicas share one pool: say things about its memory once.
                let who = if set.unit.is_none() && layout.cpus.is_none() {
                    Who::Pool
                } else {
                    Who::Replica(index)
                };
                let nodes = if let (Who::Pool, Some(nodes)) = (who, memory_cache.get(&cpus)) {
                    nodes.clone()
                } else {
                    let nodes =
                        near_memory(&topology.numa_nodes, &domains, interleave, who, &mut notes);
                    memory_cache.insert(cpus.clone(), nodes.clone());
                    nodes
                };
                let policy = match (nodes.is_empty(), interleave) {
                    (true, _) => NodePolicy::Default,
                    (false, true) => NodePolicy::Interleave,
                    (false, false) => NodePolicy::Bind,
                };
                (policy, nodes)
            }
        };
        replicas.push(ReplicaPlan {
            index,
            threads: layout.threads.unwrap_or_else(|| cpu_count(&cpus)),
            cpus,
            memory_nodes,
            memory_policy,
            unit: set.unit,
        });
    }

    Ok(Seated {
        replicas,
        reserved,
        notes,
    })
}

/// Checks what needs no placement: combinations, node lists, threads.
fn check_layout(topology: &HostTopology, layout: &Layout) -> Result<(), PlacementError> {
    let name = || layout.name.clone();
    if layout.replicas == Replicas::Count(0) {
        return Err(PlacementError::ZeroReplicas { layout: name() });
    }
    if layout.threads == Some(0) {
        return Err(PlacementError::ZeroThreads { layout: name() });
    }
    if layout.cpus.is_some() {
        if layout.pin != Pin::None {
            return Err(PlacementError::NotWithCpus {
                layout: name(),
                field: "pin",
                fix: "remove pin (the cpus are the pinning)",
            });
        }
        if layout.replicas.level().is_some() {
            return Err(PlacementError::NotWithCpus {
                layout: name(),
                field: "replicas",
                fix: "use a replica count",
            });
        }
    }
    if layout.replicas == Replicas::NicLocal {
        if layout.pin != Pin::Node {
            return Err(PlacementError::NicLocalUnpinned { layout: name() });
        }
        if layout.nic_nodes.is_empty() {
            return Err(PlacementError::NicWithoutNode {
                layout: name(),
                why: "none was given".into(),
            });
        }
    }
    if let (Some(level), Some(pin)) = (layout.replicas.level(), layout.pin.level()) {
        if level != pin {
            return Err(PlacementError::PinDoesNotMatchReplicas {
                layout: name(),
                pin: pin.pin_word(),
                replicas: layout.replicas.word(),
                level,
            });
        }
    }
    if let Memory::Nodes(nodes) = &layout.memory {
        let available: Vec<u32> = topology.numa_nodes.iter().map(|n| n.os_index).collect();
        let missing: Vec<u32> = nodes
            .iter()
            .copied()
            .filter(|n| !available.contains(n))
            .collect();
        if !missing.is_empty() {
            return Err(PlacementError::UnknownNodes {
                layout: name(),
                field: if layout.cpus.is_some() {
                    "memory_nodes"
                } else {
                    "memory"
                },
                missing,
                available,
            });
        }
    }
    Ok(())
}
/// The lowest CPU of `cpus` on each core.
fn one_per_core(cpus: &[u32], cores: &[Vec<u32>]) -> Vec<u32> {
    let core_of = core_index(cores);
    let mut seen = BTreeSet::new();
    // `cpus` is sorted, so the first CPU met on a core is its lowest.
    cpus.iter()
        .copied()
        .filter(|cpu| match core_of.get(cpu) {
            Some(core) => seen.insert(*core),
            None => true,
        })
        .collect()
}

fn cpu_count(cpus: &[u32]) -> u32 {
    u32::try_from(cpus.len()).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests;
