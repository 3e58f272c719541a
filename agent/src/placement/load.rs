//! Where the load generator runs: the reserved CPUs, else the ones no replica uses (the rules
//! are in the module doc of `placement`).

use std::collections::BTreeSet;

use numaload_proto::cpulist;

use super::cpus::core_index;
use super::error::PlacementError;
use super::plan::{Placement, ReplicaPlan};
use crate::topology::HostTopology;

/// A load agent's placement: no replica, the load generator on the `reserve_load_cpus` highest
/// allowed CPUs, or on every allowed CPU when that is 0.
pub fn load_only(
    topology: &HostTopology,
    reserve_load_cpus: u32,
) -> Result<Placement, PlacementError> {
    let allowed = &topology.allowed_cpus;
    let reserved = usize::try_from(reserve_load_cpus).unwrap_or(usize::MAX);
    if reserved > allowed.len() || allowed.is_empty() {
        return Err(PlacementError::ReserveTooLarge {
            reserved: reserve_load_cpus,
            allowed: allowed.len(),
        });
    }
    let load_cpus = if reserved == 0 {
        allowed.clone()
    } else {
        allowed[allowed.len() - reserved..].to_vec()
    };
    Ok(Placement {
        replicas: Vec::new(),
        load_cpus,
        load_shares_cpus: false,
        notes: Vec::new(),
    })
}

/// Where the load generator runs, and whether it shares CPUs with the replicas.
pub(super) fn load_cpus(
    topology: &HostTopology,
    reserved: &[u32],
    replicas: &[ReplicaPlan],
    reserve_load_cpus: u32,
    notes: &mut Vec<String>,
) -> (Vec<u32>, bool) {
    let used: BTreeSet<u32> = replicas
        .iter()
        .flat_map(|r| r.cpus.iter().copied())
        .collect();
    if reserve_load_cpus > 0 {
        // Only explicit cpus can reach into the reservation (and were noted).
        let shares = reserved.iter().any(|c| used.contains(c));
        return (reserved.to_vec(), shares);
    }
    let allowed = &topology.allowed_cpus;
    let spare: Vec<u32> = allowed
        .iter()
        .copied()
        .filter(|c| !used.contains(c))
        .collect();
    let core_of = core_index(&topology.core_cpus);
    let busy_cores: BTreeSet<usize> = used
        .iter()
        .filter_map(|c| core_of.get(c))
        .copied()
        .collect();
    let on_busy_core = |cpu: &u32| core_of.get(cpu).is_some_and(|c| busy_cores.contains(c));
    let free: Vec<u32> = spare.iter().copied().filter(|c| !on_busy_core(c)).collect();
    if !free.is_empty() {
        return (free, false);
    }
    if !spare.is_empty() {
        notes.push(format!(
            "the load generator runs on CPUs {}, SMT siblings of replica CPUs: they share cores",
            cpulist::format(&spare)
        ));
        return (spare, false);
    }
    // `place` checked that the pool, a subset of `allowed`, is not empty.
    let Some(&last) = allowed.last() else {
        return (Vec::new(), false);
    };
    notes.push(format!(
        "the load generator shares CPU {last} with the replicas; `load.reserve_cpus = 1` \
         gives it its own"
    ));
    (vec![last], true)
}
