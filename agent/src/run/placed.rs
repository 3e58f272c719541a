//! Reading back where every replica's tree really runs, for the `Placed` event when the replicas
//! are ready and again when the measurement ends (the verdict itself is [`crate::verify`]); and
//! the `Placed` of a layout only checked, not launched ([`intended`]).

use numaload_proto::v1::{self, NodePages, Placed, ReplicaPlacement};

use super::error::LayoutError;
use crate::placement::{Layout, Placement};
use crate::procfs::tree;
use crate::replica::{Replica, ReplicaSet, ReplicaSpec};
use crate::verify::{self, Intended, Verdict};

/// Reads every replica's tree from `/proc` and judges it against its spec.
pub fn verdicts(
    specs: &[ReplicaSpec],
    replicas: &ReplicaSet,
) -> Vec<(Verdict, Vec<v1::ProcessSeen>)> {
    let table = tree::scan();
    specs
        .iter()
        .zip(&replicas.replicas)
        .map(|(spec, replica)| verdict_of(spec, replica, &table))
        .collect()
}

fn verdict_of(
    spec: &ReplicaSpec,
    replica: &Replica,
    table: &[tree::ProcEntry],
) -> (Verdict, Vec<v1::ProcessSeen>) {
    let seen = tree::observe(&replica.tree(table));
    let intended = Intended {
        cpus: &spec.cpus,
        memory_nodes: &spec.memory_nodes,
        policy: spec.memory_policy,
    };
    let processes = seen
        .iter()
        .map(|p| v1::ProcessSeen {
            pid: p.pid,
            ppid: p.ppid,
            comm: p.comm.clone(),
            threads: p.threads.len() as u32,
            memory_policy: p
                .numa
                .as_ref()
                .map_or_else(|| "unreadable".to_owned(), |m| m.policy.clone()),
        })
        .collect();
    (verify::verify(intended, &seen), processes)
}

/// The wire form of a verdict's mismatches.
pub fn wire_mismatches(verdict: &Verdict) -> Vec<v1::PlacementMismatch> {
    verdict
        .mismatches
        .iter()
        .map(|m| v1::PlacementMismatch {
            pid: m.pid,
            tid: m.tid,
            comm: m.comm.clone(),
            what: m.what.clone(),
        })
        .collect()
}

pub fn wire_pages(pages: &std::collections::BTreeMap<u32, u64>) -> Vec<NodePages> {
    pages
        .iter()
        .map(|(&node, &pages)| NodePages { node, pages })
        .collect()
}

/// The `Placed` event: every replica's tree as read back when it was ready.
pub fn read_back(
    layout: &Layout,
    placement: &Placement,
    specs: &[ReplicaSpec],
    replicas: &ReplicaSet,
) -> Placed {
    let mut notes = placement.notes.clone();
    let verdicts = verdicts(specs, replicas);
    let replicas = specs
        .iter()
        .zip(&replicas.replicas)
        .zip(verdicts)
        .map(|((spec, replica), (verdict, tree))| {
            if verdict.processes == 0 {
                notes.push(format!(
                    "replica {}: its process {} could not be read back from /proc",
                    spec.index, replica.pid
                ));
            }
            let warnings: Vec<String> = replica
                .stderr_lines()
                .into_iter()
                .filter(|l| l.starts_with("warning:"))
                .collect();
            for line in &warnings {
                notes.push(format!("replica {}: {line}", spec.index));
            }
            ReplicaPlacement {
                index: spec.index,
                pid: replica.pid,
                address: replica.address.to_string(),
                intended_cpus: spec.cpus.clone(),
                actual_cpus: verdict.actual_cpus.clone(),
                intended_memory_nodes: spec.memory_nodes.clone(),
                intended_memory_policy: spec.memory_policy.describe(&spec.memory_nodes),
                cgroup: Some(crate::cgroup::wire_limits_of(replica.pid)),
                warnings,
                memory_policy: verdict.memory_policy.clone(),
                placement_ok: verdict.ok(),
                worker_threads: spec.worker_threads,
                pages_by_node: wire_pages(&verdict.pages_by_node),
                processes: verdict.processes,
                threads: verdict.threads,
                mismatches: wire_mismatches(&verdict),
                pages_off_node: verdict.pages_off_node,
                tree,
            }
        })
        .collect();
    Placed {
        layout: layout.name.clone(),
        replicas,
        load_cpus: placement.load_cpus.clone(),
        load_shares_cpus: placement.load_shares_cpus,
        notes,
    }
}

/// A layout as it would be placed, for a check (`Check`, `numaload plan`): every replica's
/// intended CPUs, memory nodes and policy and worker threads, the load generator's CPUs and the
/// notes; nothing launched, so nothing read back (no pid, address or actual placement).
pub fn intended(layout: &str, placement: &Placement) -> Placed {
    let replicas = placement
        .replicas
        .iter()
        .map(|r| ReplicaPlacement {
            index: r.index,
            intended_cpus: r.cpus.clone(),
            intended_memory_nodes: r.memory_nodes.clone(),
            intended_memory_policy: r.memory_policy.describe(&r.memory_nodes),
            worker_threads: r.threads,
            ..ReplicaPlacement::default()
        })
        .collect();
    Placed {
        layout: layout.to_owned(),
        replicas,
        load_cpus: placement.load_cpus.clone(),
        load_shares_cpus: placement.load_shares_cpus,
        notes: placement.notes.clone(),
    }
}

/// The failure when a replica's placement failed, one line per such replica naming pid, tid and
/// what it ran on.
pub fn failures(placed: &[ReplicaPlacement], when: &'static str) -> Option<LayoutError> {
    let lines: Vec<String> = placed
        .iter()
        .filter(|r| !r.placement_ok)
        .map(|r| {
            let what: Vec<String> = r
                .mismatches
                .iter()
                .map(|m| {
                    let tid = if m.tid == 0 {
                        String::new()
                    } else {
                        format!(" tid {}", m.tid)
                    };
                    format!("pid {}{tid} ({}): {}", m.pid, m.comm, m.what)
                })
                .collect();
            let what = if what.is_empty() {
                format!(
                    "nothing of it could be read back (intended CPUs {}, memory {})",
                    numaload_proto::cpulist::format(&r.intended_cpus),
                    r.intended_memory_policy
                )
            } else {
                what.join(", ")
            };
            format!(
                "replica {} ({} processes, {} threads): {what}",
                r.index, r.processes, r.threads
            )
        })
        .collect();
    (!lines.is_empty()).then_some(LayoutError::Misplaced {
        when,
        replicas: lines,
    })
}
