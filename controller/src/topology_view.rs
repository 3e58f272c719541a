//! `numaload topology`: a host's topology as people and programs read it.

use numaload_proto::cpulist;
use numaload_proto::v1::Topology;
use serde_json::json;

/// The JSON shape `{pus, cores, packages, allowed_cpus, numa_nodes: [{os_index, cpus,
/// memory_bytes, subtype}], domains: [{cpus, nodes}], nics: [{name, addresses, driver,
/// numa_node (-1: none), local_cpus, rx_queues, tx_queues, virtual, irqs: [{irq, name,
/// cpus}]}]}`.
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
        "nics": topology.nics.iter().map(|n| json!({
            "name": n.name,
            "addresses": n.addresses,
            "driver": n.driver,
            "numa_node": n.numa_node,
            "local_cpus": n.local_cpus,
            "rx_queues": n.rx_queues,
            "tx_queues": n.tx_queues,
            "virtual": n.is_virtual,
            "irqs": n.irqs.iter().map(|i| json!({"irq": i.irq, "name": i.name, "cpus": i.cpus})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
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
    for nic in topology.nics.iter().filter(|n| !n.is_virtual) {
        out.push_str(&nic_line(nic));
    }
    let virtual_nics: Vec<&str> = topology
        .nics
        .iter()
        .filter(|n| n.is_virtual)
        .map(|n| n.name.as_str())
        .collect();
    if !virtual_nics.is_empty() {
        out.push_str(&format!(
            "  virtual interfaces (no device, no node): {}\n",
            virtual_nics.join(", ")
        ));
    }
    out
}

/// `nic eth0 (mlx5_core): node 1, CPUs 8-15, 8 rx / 8 tx queues, 10.0.0.2`, then one line per
/// interrupt with the CPUs allowed to handle it.
fn nic_line(nic: &numaload_proto::v1::Nic) -> String {
    let or_dash = |cpus: &[u32]| {
        if cpus.is_empty() {
            "-".to_owned()
        } else {
            cpulist::format(cpus)
        }
    };
    let node = if nic.numa_node < 0 {
        "none".to_owned()
    } else {
        nic.numa_node.to_string()
    };
    let driver = if nic.driver.is_empty() {
        String::new()
    } else {
        format!(" ({})", nic.driver)
    };
    let addresses = if nic.addresses.is_empty() {
        String::new()
    } else {
        format!(", {}", nic.addresses.join(" "))
    };
    // An XML topology knows no queues: say nothing rather than 0.
    let queues = if nic.rx_queues + nic.tx_queues == 0 {
        String::new()
    } else {
        format!(", {} rx / {} tx queues", nic.rx_queues, nic.tx_queues)
    };
    let mut out = format!(
        "  nic {}{driver}: node {node}, CPUs {}{queues}{addresses}\n",
        nic.name,
        or_dash(&nic.local_cpus),
    );
    for irq in &nic.irqs {
        out.push_str(&format!(
            "    irq {:>4} {:<24} CPUs {}\n",
            irq.irq,
            irq.name,
            or_dash(&irq.cpus)
        ));
    }
    out
}
