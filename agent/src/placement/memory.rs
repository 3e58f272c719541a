//! Memory near a replica's CPUs: the NUMA domains its CPUs touch, and the nodes "local" binds to
//! or "interleave" spreads over (the rules are in the module doc of `placement`).

use numaload_proto::cpulist;

use super::cpus::sorted;
use crate::topology::{Domain, HostTopology, NumaNode};

/// The NUMA domains holding any of `cpus`, in topology order.
pub(super) fn touched_domains<'t>(topology: &'t HostTopology, cpus: &[u32]) -> Vec<&'t Domain> {
    topology
        .domains
        .iter()
        .filter(|d| d.cpus.iter().any(|c| cpus.binary_search(c).is_ok()))
        .collect()
}

/// Whose memory a note is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Who {
    /// Every unpinned replica: they share one pool.
    Pool,
    Replica(u32),
}

/// The nodes near `domains` that "local" binds to (each domain's default DRAM node) or
/// "interleave" spreads over (each domain's DRAM nodes). Without any DRAM node: each domain's
/// first node, noted; without any node: none, noted.
pub(super) fn near_memory(
    nodes: &[NumaNode],
    domains: &[&Domain],
    interleave: bool,
    who: Who,
    notes: &mut Vec<String>,
) -> Vec<u32> {
    let dram_of = |domain: &Domain| -> Vec<u32> {
        nodes
            .iter()
            .filter(|node| domain.nodes.contains(&node.os_index) && node.is_dram())
            .map(|node| node.os_index)
            .collect()
    };
    let dram: Vec<u32> = domains
        .iter()
        .flat_map(|domain| {
            let mut dram = dram_of(domain);
            if !interleave {
                // The default DRAM node: the lowest one.
                dram.truncate(1);
            }
            dram
        })
        .collect();
    if !dram.is_empty() {
        return sorted(dram);
    }
    let firsts = sorted(
        domains
            .iter()
            .filter_map(|d| d.nodes.first().copied())
            .collect(),
    );
    let note = match (who, firsts.as_slice()) {
        (Who::Pool, []) => {
            "no NUMA node holds the replicas' CPUs; no memory policy is set".to_owned()
        }
        (Who::Pool, _) => format!(
            "the replicas' NUMA domains have no DRAM node; memory is bound to nodes {}",
            cpulist::format(&firsts)
        ),
        (Who::Replica(i), []) => {
            format!("replica {i}: its NUMA domain has no memory node; no memory policy is set")
        }
        (Who::Replica(i), [first]) => {
            let subtype = nodes
                .iter()
                .find(|node| node.os_index == *first)
                .map_or("unknown", |node| node.subtype.as_str());
            format!(
                "replica {i}: its NUMA domain has no DRAM node; memory is bound to node {first} \
                 ({subtype})"
            )
        }
        (Who::Replica(i), _) => format!(
            "replica {i}: its NUMA domains have no DRAM node; memory is bound to nodes {}",
            cpulist::format(&firsts)
        ),
    };
    notes.push(note);
    firsts
}
