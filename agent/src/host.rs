//! Facts about this host for `Describe` and every result: name, kernel, CPU model; and this
//! process's open-file limit raised for a fleet.

use std::fs;

/// `hostname`, `kernel` (release) and `cpu_model`, read from /proc; "unknown" when absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFacts {
    pub hostname: String,
    pub kernel: String,
    pub cpu_model: String,
}

pub fn facts() -> HostFacts {
    let read = |path: &str| fs::read_to_string(path).map(|s| s.trim().to_owned()).ok();
    HostFacts {
        hostname: read("/proc/sys/kernel/hostname").unwrap_or_else(|| "unknown".into()),
        kernel: read("/proc/sys/kernel/osrelease").unwrap_or_else(|| "unknown".into()),
        cpu_model: read("/proc/cpuinfo")
            .and_then(|text| cpu_model(&text))
            .unwrap_or_else(|| "unknown".into()),
    }
}

/// Raises this process's soft limit of open files to its hard limit and returns the limit now
/// in force: a controller of thousands of agents holds a connection to each, and a process of
/// thousands of hollow agents a listener and a connection each.
pub fn raise_open_files_limit() -> std::io::Result<u64> {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard)?;
    }
    Ok(hard)
}

/// The first `model name` (x86) or `CPU part`/`Hardware` line (ARM) of /proc/cpuinfo.
pub fn cpu_model(cpuinfo: &str) -> Option<String> {
    ["model name", "Hardware", "CPU part", "cpu model", "cpu"]
        .iter()
        .find_map(|key| {
            cpuinfo.lines().find_map(|line| {
                let (k, v) = line.split_once(':')?;
                (k.trim() == *key && !v.trim().is_empty()).then(|| v.trim().to_owned())
            })
        })
}

/// The topology's wire form, for `Describe` (plain data: hwloc types stay in `topology`).
impl From<&crate::topology::HostTopology> for numaload_proto::v1::Topology {
    /// The wire form. Warnings are not part of it: the agent logs or reports them separately.
    fn from(topology: &crate::topology::HostTopology) -> Self {
        numaload_proto::v1::Topology {
            pus: topology.pus,
            cores: topology.cores,
            allowed_cpus: topology.allowed_cpus.clone(),
            numa_nodes: topology
                .numa_nodes
                .iter()
                .map(|node| numaload_proto::v1::NumaNode {
                    os_index: node.os_index,
                    cpus: node.cpus.clone(),
                    memory_bytes: node.memory_bytes,
                    subtype: node.subtype.clone(),
                })
                .collect(),
            domains: topology
                .domains
                .iter()
                .map(|domain| numaload_proto::v1::Domain {
                    cpus: domain.cpus.clone(),
                    nodes: domain.nodes.clone(),
                })
                .collect(),
            packages: topology.packages,
            nics: topology.nics.iter().map(nic_wire).collect(),
        }
    }
}

fn nic_wire(nic: &crate::topology::Nic) -> numaload_proto::v1::Nic {
    numaload_proto::v1::Nic {
        name: nic.name.clone(),
        addresses: nic.addresses.clone(),
        driver: nic.driver.clone(),
        numa_node: nic
            .numa_node
            .and_then(|n| i32::try_from(n).ok())
            .unwrap_or(-1),
        local_cpus: nic.local_cpus.clone(),
        rx_queues: nic.rx_queues,
        tx_queues: nic.tx_queues,
        irqs: nic
            .irqs
            .iter()
            .map(|irq| numaload_proto::v1::NicIrq {
                irq: irq.irq,
                name: irq.name.clone(),
                cpus: irq.cpus.clone(),
            })
            .collect(),
        is_virtual: nic.is_virtual,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_cpu_model_line() {
        let x86 = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\n";
        assert_eq!(cpu_model(x86).as_deref(), Some("AMD EPYC 7B13"));
        assert_eq!(
            cpu_model("processor : 0\nCPU part : 0xd0c\n").as_deref(),
            Some("0xd0c")
        );
        assert_eq!(cpu_model(""), None);
        assert_ne!(facts().kernel, "unknown");
    }
}
