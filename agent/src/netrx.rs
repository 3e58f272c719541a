//! Where the kernel does a host's receive work: per CPU, the `NET_RX` softirqs
//! (`/proc/softirqs`) and the interrupts of one network interface (`/proc/interrupts`, its
//! device's interrupt numbers), read before and after a measured window and added up per NUMA
//! node. A replica whose node did little of it had its packets received elsewhere: the cost of
//! the interconnect that a NIC-local placement avoids.

use std::collections::BTreeMap;

use numaload_proto::v1::{NetReceive, NodeReceive};

/// Per CPU: `NET_RX` softirqs run and the interface's interrupts handled, since boot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reading {
    pub net_rx: BTreeMap<u32, u64>,
    pub interrupts: BTreeMap<u32, u64>,
}

/// What the counting needs to know of the host: the interface, its node and interrupts, and
/// each NUMA node's CPUs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Site {
    /// The interface the load arrives on; empty when none was found.
    pub interface: String,
    pub interface_node: Option<u32>,
    pub irqs: Vec<u32>,
    /// Each NUMA node and its CPUs.
    pub nodes: Vec<(u32, Vec<u32>)>,
}

impl Site {
    /// Reads the counters now (an unreadable file counts nothing).
    pub fn read(&self) -> Reading {
        let softirqs = std::fs::read_to_string("/proc/softirqs").unwrap_or_default();
        let interrupts = std::fs::read_to_string("/proc/interrupts").unwrap_or_default();
        Reading {
            net_rx: row_per_cpu(&softirqs, |name| name == "NET_RX"),
            interrupts: row_per_cpu(&interrupts, |name| {
                name.parse::<u32>()
                    .is_ok_and(|irq| self.irqs.contains(&irq))
            }),
        }
    }

    /// What happened between two readings, per NUMA node.
    pub fn between(&self, before: &Reading, after: &Reading) -> NetReceive {
        let delta = |a: &BTreeMap<u32, u64>, b: &BTreeMap<u32, u64>, cpu: &u32| {
            b.get(cpu)
                .unwrap_or(&0)
                .saturating_sub(*a.get(cpu).unwrap_or(&0))
        };
        NetReceive {
            interface: self.interface.clone(),
            interface_node: self.interface_node.map_or(-1, |n| n as i32),
            nodes: self
                .nodes
                .iter()
                .map(|(node, cpus)| NodeReceive {
                    node: *node,
                    net_rx: cpus
                        .iter()
                        .map(|c| delta(&before.net_rx, &after.net_rx, c))
                        .sum(),
                    interface_interrupts: cpus
                        .iter()
                        .map(|c| delta(&before.interrupts, &after.interrupts, c))
                        .sum(),
                    cpus: cpus.clone(),
                })
                .collect(),
        }
    }
}

/// The rows of a `/proc/softirqs` or `/proc/interrupts` text whose name `wanted` accepts,
/// added up per CPU (the header names the CPU of each column).
fn row_per_cpu(text: &str, wanted: impl Fn(&str) -> bool) -> BTreeMap<u32, u64> {
    let mut lines = text.lines();
    let cpus: Vec<u32> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|h| h.strip_prefix("CPU")?.parse().ok())
        .collect();
    let mut out: BTreeMap<u32, u64> = BTreeMap::new();
    for line in lines {
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        if !wanted(name.trim()) {
            continue;
        }
        for (cpu, count) in cpus.iter().zip(rest.split_whitespace()) {
            let Ok(count) = count.parse::<u64>() else {
                break;
            };
            *out.entry(*cpu).or_default() += count;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOFTIRQS: &str = "                    CPU0       CPU1       CPU2       CPU3\n\
          HI:          0          0          0          0\n\
      NET_TX:         24         12          0          0\n\
      NET_RX:       1000         10       2000          5\n\
       BLOCK:          9          9          9          9\n";
    const INTERRUPTS: &str = "           CPU0       CPU1       CPU2       CPU3\n\
 24:          1          0          0          0  IO-APIC   5-edge      ACPI:Ged\n\
 40:          0          0        700          0  PCI-MSIX-0000:00:03.0   1-edge      virtio2-input.0\n\
 41:          0          0        100          3  PCI-MSIX-0000:00:03.0   2-edge      virtio2-output.0\n\
NMI:          7          7          7          7   Non-maskable interrupts\n";

    #[test]
    fn rows_are_read_per_cpu_by_the_header() {
        let rx = row_per_cpu(SOFTIRQS, |n| n == "NET_RX");
        assert_eq!(rx, BTreeMap::from([(0, 1000), (1, 10), (2, 2000), (3, 5)]));
        let irqs = [40, 41];
        let nic = row_per_cpu(INTERRUPTS, |n| {
            n.parse::<u32>().is_ok_and(|i| irqs.contains(&i))
        });
        assert_eq!(nic, BTreeMap::from([(0, 0), (1, 0), (2, 800), (3, 3)]));
    }

    #[test]
    fn a_window_is_added_up_per_node() {
        let site = Site {
            interface: "eth1".into(),
            interface_node: Some(1),
            irqs: vec![40, 41],
            nodes: vec![(0, vec![0, 1]), (1, vec![2, 3])],
        };
        let before = Reading {
            net_rx: BTreeMap::from([(0, 100), (1, 0), (2, 1000), (3, 0)]),
            interrupts: BTreeMap::from([(2, 50)]),
        };
        let after = Reading {
            net_rx: BTreeMap::from([(0, 110), (1, 5), (2, 1900), (3, 100)]),
            interrupts: BTreeMap::from([(2, 850), (3, 3)]),
        };
        let window = site.between(&before, &after);
        assert_eq!(window.interface, "eth1");
        assert_eq!(window.interface_node, 1);
        let per_node: Vec<(u32, u64, u64)> = window
            .nodes
            .iter()
            .map(|n| (n.node, n.net_rx, n.interface_interrupts))
            .collect();
        assert_eq!(per_node, [(0, 15, 0), (1, 1000, 803)]);
    }

    #[test]
    fn this_host_s_counters_read() {
        let site = Site {
            nodes: vec![(0, vec![0])],
            ..Site::default()
        };
        let reading = site.read();
        assert!(reading.net_rx.contains_key(&0), "{reading:?}");
    }
}
