//! `numaload topology`: a host's topology as people and programs read it.

use numaload_proto::cpulist;
use numaload_proto::v1::Topology;
use serde_json::json;

/// The JSON shape `{pus, cores, packages, allowed_cpus, numa_nodes: [{os_index, cpus,
/// memory_bytes, subtype}], domains: [{cpus, nodes}]}`.
pub fn json(topology: &Topology) -> serde_json::Value {
    json!({
        "pus": topology.pus,
        "cores": topology.cores,
        "packages": topology.packages,
        "allowed_cpus": topology.allowed_cpus,
        "numa_nodes": topology.numa_nodes.iter().map(|n| json!({
            "os_index": n.os_index,
            "cpus": n.cpus,
            "memory_bytes": n.memory_bytes,
            "subtype": n.subtype,
        })).collect::<Vec<_>>(),
        "domains": topology.domains.iter().map(|d| json!({"cpus": d.cpus, "nodes": d.nodes})).collect::<Vec<_>>(),
    })
}

/// A short table: totals, then one line per node and per domain.
pub fn text(topology: &Topology, source: &str) -> String {
    let mut out = format!(
        "{source}: {} package(s), {} cores, {} PUs (allowed {}), {} NUMA node(s), {} domain(s)\n",
        topology.packages,
        topology.cores,
        topology.pus,
        cpulist::format(&topology.allowed_cpus),
        topology.numa_nodes.len(),
        topology.domains.len()
    );
    for node in &topology.numa_nodes {
        let kind = if node.subtype.is_empty() {
            String::new()
        } else {
            format!(" [{}]", node.subtype)
        };
        out.push_str(&format!(
            "  node {:>3}{kind}: CPUs {:<16} memory {:.1} GiB\n",
            node.os_index,
            if node.cpus.is_empty() {
                "-".to_owned()
            } else {
                cpulist::format(&node.cpus)
            },
            node.memory_bytes as f64 / (1u64 << 30) as f64
        ));
    }
    for (i, domain) in topology.domains.iter().enumerate() {
        out.push_str(&format!(
            "  domain {i}: CPUs {} with node(s) {} (one replica for replicas = \"per-node\")\n",
            cpulist::format(&domain.cpus),
            cpulist::format(&domain.nodes)
        ));
    }
    out
}
