//! Where each replica sits before the SMT filter, one [`Seat`] per replica: on exactly the
//! explicit `cpus`, on one unit of the pinned level each, or on the whole pool unpinned (the
//! rules are in the module doc of `placement`).

use numaload_proto::cpulist;

use super::{Layout, Level, PlacementError, Replicas};
use crate::topology::{Domain, HostTopology};

/// One replica's CPUs before the SMT filter, and what it is pinned to.
pub(super) struct Seat<'t> {
    pub cpus: Vec<u32>,
    /// With `pin = "node"`: the domain whose memory is local.
    pub domain: Option<&'t Domain>,
    pub unit: Option<u32>,
}

/// Explicit `cpus`: every replica on exactly those, which must all be allowed.
pub(super) fn explicit<'t>(
    topology: &'t HostTopology,
    layout: &Layout,
    cpus: &[u32],
    reserved: &[u32],
    notes: &mut Vec<String>,
) -> Result<Vec<Seat<'t>>, PlacementError> {
    let allowed = &topology.allowed_cpus;
    let outside: Vec<u32> = cpus
        .iter()
        .copied()
        .filter(|c| allowed.binary_search(c).is_err())
        .collect();
    if !outside.is_empty() || cpus.is_empty() {
        let offline = outside
            .iter()
            .copied()
            .filter(|c| topology.offline_cpus.binary_search(c).is_ok())
            .collect();
        return Err(PlacementError::CpusNotAllowed {
            layout: layout.name.clone(),
            outside,
            offline,
            allowed: allowed.clone(),
        });
    }
    let shared: Vec<u32> = cpus
        .iter()
        .copied()
        .filter(|c| reserved.binary_search(c).is_ok())
        .collect();
    if !shared.is_empty() {
        notes.push(format!(
            "the explicit cpus include CPUs {} reserved for the load generator: they are shared",
            cpulist::format(&shared)
        ));
    }
    let count = match layout.replicas {
        Replicas::Count(n) => n,
        // check_layout refused per-unit counts with explicit cpus.
        _ => 1,
    };
    Ok((0..count)
        .map(|_| Seat {
            cpus: cpus.to_vec(),
            domain: None,
            unit: None,
        })
        .collect())
}

/// `pin` to a level: one replica per usable unit (or the first `n`), on that unit's pool CPUs.
pub(super) fn pinned<'t>(
    topology: &'t HostTopology,
    layout: &Layout,
    level: Level,
    pool: &[u32],
    reserved: u32,
    notes: &mut Vec<String>,
) -> Result<Vec<Seat<'t>>, PlacementError> {
    let units = level.units(topology);
    // (unit index, the unit's CPUs, its CPUs left in the pool)
    let mut usable: Vec<(usize, &[u32], Vec<u32>)> = Vec::new();
    for (i, unit) in units.iter().enumerate() {
        if layout.replicas == Replicas::NicLocal && !holds_nic(topology, i, &layout.nic_nodes) {
            continue;
        }
        let cpus: Vec<u32> = unit
            .iter()
            .copied()
            .filter(|c| pool.binary_search(c).is_ok())
            .collect();
        if !cpus.is_empty() {
            usable.push((i, unit, cpus));
        } else if level != Level::Core {
            notes.push(format!(
                "{} {i} (CPUs {}) gets no replica: all its CPUs are reserved for the load \
                 generator",
                level.noun(),
                cpulist::format(unit)
            ));
        }
    }
    if usable.is_empty() {
        return Err(PlacementError::NoUsableUnit {
            layout: layout.name.clone(),
            reserved,
            level,
        });
    }

    let count = match layout.replicas {
        Replicas::Count(n) => {
            let requested = usize::try_from(n).unwrap_or(usize::MAX);
            if requested > units.len() {
                return Err(PlacementError::MoreReplicasThanUnits {
                    layout: layout.name.clone(),
                    requested: n,
                    units: units.len(),
                    level,
                });
            }
            if requested > usable.len() {
                return Err(PlacementError::MoreReplicasThanUsableUnits {
                    layout: layout.name.clone(),
                    requested: n,
                    usable: usable.len(),
                    units: units.len(),
                    reserved,
                    level,
                });
            }
            if requested < usable.len() {
                notes.push(format!(
                    "{requested} {}-pinned replicas use the first {requested} of {} {}s",
                    level.pin_word(),
                    usable.len(),
                    level.noun()
                ));
            }
            requested
        }
        // check_layout made sure a per-unit count matches the pin level.
        _ => usable.len(),
    };

    let mut seats = Vec::with_capacity(count);
    for (index, (unit_index, unit, cpus)) in (0u32..).zip(usable.into_iter().take(count)) {
        if cpus.len() < unit.len() {
            notes.push(format!(
                "replica {index} runs on {} of {} {unit_index}'s {} CPUs: the rest are reserved \
                 for the load generator",
                cpus.len(),
                level.noun(),
                unit.len()
            ));
        }
        seats.push(Seat {
            cpus,
            domain: match level {
                Level::Node => topology.domains.get(unit_index),
                _ => None,
            },
            unit: u32::try_from(unit_index).ok(),
        });
    }
    Ok(seats)
}

/// Whether NUMA domain `index` holds one of the network interface's nodes.
fn holds_nic(topology: &HostTopology, index: usize, nic_nodes: &[u32]) -> bool {
    topology
        .domains
        .get(index)
        .is_some_and(|d| d.nodes.iter().any(|n| nic_nodes.contains(n)))
}

/// `pin = "none"`: every replica gets the whole pool.
pub(super) fn unpinned<'t>(
    topology: &'t HostTopology,
    layout: &Layout,
    pool: &[u32],
    reserved: u32,
) -> Result<Vec<Seat<'t>>, PlacementError> {
    let count = match (layout.replicas, layout.replicas.level()) {
        (Replicas::Count(n), _) => {
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
        // hwloc always yields a unit; only a hand-built topology can have none: run one.
        (_, Some(level)) => level
            .units(topology)
            .iter()
            .filter(|unit| unit.iter().any(|c| pool.binary_search(c).is_ok()))
            .count()
            .max(1),
        (_, None) => 1,
    };
    Ok((0..count)
        .map(|_| Seat {
            cpus: pool.to_vec(),
            domain: None,
            unit: None,
        })
        .collect())
}
