//! A live host's network interfaces as the kernel shows them: for each one in
//! `/sys/class/net`, its driver, its device's NUMA node and local CPUs, its receive and transmit
//! queues, its device's interrupts with the CPUs allowed to handle each
//! (`/proc/irq/N/smp_affinity_list`, named from `/proc/interrupts`), and its addresses.
//!
//! The device of an interface is followed to the bus device that carries the NUMA node (for a
//! virtio NIC the virtio device's PCI parent). A platform that gives no node (`numa_node` of
//! -1, or no such file) leaves it unknown, as does an interface with no device behind it
//! (loopback, bridges, veth, ifb), which is marked virtual.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use numaload_proto::cpulist;

use crate::topology::{HostTopology, Nic, NicIrq};

/// Where the kernel's files are: `/sys` and `/proc` on a live host, a fixture tree in tests.
#[derive(Debug, Clone)]
pub struct Roots {
    pub sys: PathBuf,
    pub proc: PathBuf,
}

impl Default for Roots {
    fn default() -> Self {
        Self {
            sys: PathBuf::from("/sys"),
            proc: PathBuf::from("/proc"),
        }
    }
}

/// Fills `topology.nics` from this host's sysfs: what a live host shows beyond hwloc's view.
pub fn read_host(topology: &mut HostTopology) {
    topology.nics = read(&Roots::default(), &addresses());
}

/// Every interface under `roots.sys/class/net`, sorted by name, with the `addresses` given per
/// interface name. An interface whose files cannot be read shows what could be.
pub fn read(roots: &Roots, addresses: &BTreeMap<String, Vec<String>>) -> Vec<Nic> {
    let irq_names = fs::read_to_string(roots.proc.join("interrupts"))
        .map(|text| irq_names(&text))
        .unwrap_or_default();
    let class = roots.sys.join("class/net");
    let Ok(entries) = fs::read_dir(&class) else {
        return Vec::new();
    };
    let mut nics: Vec<Nic> = entries
        .filter_map(Result::ok)
        .map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let mut nic = interface(roots, &class.join(&name), &irq_names);
            nic.addresses = addresses.get(&name).cloned().unwrap_or_default();
            nic.name = name;
            nic
        })
        .collect();
    nics.sort_by(|a, b| a.name.cmp(&b.name));
    nics
}

/// One interface's directory under `class/net`.
fn interface(roots: &Roots, dir: &Path, irq_names: &BTreeMap<u32, String>) -> Nic {
    let (rx_queues, tx_queues) = queues(&dir.join("queues"));
    let mut nic = Nic {
        rx_queues,
        tx_queues,
        ..Nic::default()
    };
    let Ok(device) = fs::canonicalize(dir.join("device")) else {
        nic.is_virtual = true;
        return nic;
    };
    nic.driver = fs::read_link(dir.join("device/driver"))
        .ok()
        .and_then(|link| link.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    let Some(bus) = bus_device(&device) else {
        return nic;
    };
    nic.numa_node = read_trimmed(&bus.join("numa_node"))
        .and_then(|text| text.parse::<i64>().ok())
        .and_then(|node| u32::try_from(node).ok());
    nic.local_cpus = read_trimmed(&bus.join("local_cpulist"))
        .and_then(|text| cpulist::parse(&text).ok())
        .unwrap_or_default();
    nic.irqs = device_irqs(&bus)
        .into_iter()
        .map(|irq| NicIrq {
            irq,
            name: irq_names.get(&irq).cloned().unwrap_or_default(),
            cpus: read_trimmed(&roots.proc.join(format!("irq/{irq}/smp_affinity_list")))
                .and_then(|text| cpulist::parse(&text).ok())
                .unwrap_or_default(),
        })
        .collect();
    nic
}

/// The device itself or the nearest parent (three up at most) that has a `numa_node` file:
/// the bus device (PCI) that a virtio or other child device hangs from.
fn bus_device(device: &Path) -> Option<PathBuf> {
    device
        .ancestors()
        .take(4)
        .find(|dir| dir.join("numa_node").is_file())
        .map(Path::to_path_buf)
}

/// The interrupts of a bus device (its `msi_irqs` entries), ascending.
fn device_irqs(bus: &Path) -> Vec<u32> {
    let mut irqs: Vec<u32> = fs::read_dir(bus.join("msi_irqs"))
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    irqs.sort_unstable();
    irqs
}

/// Receive and transmit queues: the `rx-N` and `tx-N` entries of `queues/`.
fn queues(dir: &Path) -> (u32, u32) {
    let Ok(entries) = fs::read_dir(dir) else {
        return (0, 0);
    };
    let names: Vec<String> = entries
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let count = |prefix: &str| names.iter().filter(|n| n.starts_with(prefix)).count() as u32;
    (count("rx-"), count("tx-"))
}

/// Each numbered interrupt's name, the last field of its `/proc/interrupts` line.
pub fn irq_names(interrupts: &str) -> BTreeMap<u32, String> {
    interrupts
        .lines()
        .filter_map(|line| {
            let (number, rest) = line.trim_start().split_once(':')?;
            let irq = number.trim().parse().ok()?;
            let name = rest.split_whitespace().last()?;
            Some((irq, name.to_owned()))
        })
        .collect()
}

fn read_trimmed(path: &Path) -> Option<String> {
    fs::read_to_string(path).ok().map(|s| s.trim().to_owned())
}

/// This host's interface addresses by interface name (IPv4 and IPv6, as text).
fn addresses() -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let Ok(interfaces) = nix::ifaddrs::getifaddrs() else {
        return out;
    };
    for interface in interfaces {
        let Some(address) = interface.address else {
            continue;
        };
        let text = if let Some(v4) = address.as_sockaddr_in() {
            v4.ip().to_string()
        } else if let Some(v6) = address.as_sockaddr_in6() {
            v6.ip().to_string()
        } else {
            continue;
        };
        out.entry(interface.interface_name).or_default().push(text);
    }
    out
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    /// A scratch directory, removed when dropped.
    struct Scratch(PathBuf);

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    /// A sysfs and procfs tree as a virtio NIC on node 1 and a loopback show them.
    fn fixture() -> (Scratch, Roots) {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let root = Scratch(std::env::temp_dir().join(format!(
            "numaload-nic-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        )));
        let sys = root.0.join("sys");
        let proc = root.0.join("proc");
        let pci = sys.join("devices/pci0000:00/0000:00:03.0");
        let virtio = pci.join("virtio2");
        let driver = sys.join("bus/virtio/drivers/virtio_net");
        for dir in [
            &virtio,
            &driver,
            &pci.join("msi_irqs/38"),
            &pci.join("msi_irqs/39"),
        ] {
            fs::create_dir_all(dir).expect("mkdir");
        }
        fs::write(pci.join("numa_node"), "1\n").expect("numa_node");
        fs::write(pci.join("local_cpulist"), "4-7\n").expect("local_cpulist");
        symlink(&driver, virtio.join("driver")).expect("driver link");
        for (name, device, queues) in [
            (
                "eth0",
                Some(&virtio),
                ["rx-0", "rx-1", "tx-0", "tx-1"].as_slice(),
            ),
            ("lo", None, ["rx-0", "tx-0"].as_slice()),
        ] {
            let dir = sys.join("class/net").join(name);
            for queue in queues {
                fs::create_dir_all(dir.join("queues").join(queue)).expect("queue");
            }
            if let Some(device) = device {
                symlink(device, dir.join("device")).expect("device link");
            }
        }
        for (irq, cpus) in [(38, "4-5\n"), (39, "6\n")] {
            let dir = proc.join(format!("irq/{irq}"));
            fs::create_dir_all(&dir).expect("irq dir");
            fs::write(dir.join("smp_affinity_list"), cpus).expect("affinity");
        }
        fs::write(
            proc.join("interrupts"),
            "           CPU0       CPU1\n 38:          0      11063 PCI-MSIX-0000:00:03.0   \
             1-edge      virtio2-input.0\n 39:       6477          0 PCI-MSIX-0000:00:03.0   \
             2-edge      virtio2-output.0\nNMI:          0          0   Non-maskable interrupts\n",
        )
        .expect("interrupts");
        (root, Roots { sys, proc })
    }

    #[test]
    fn a_nic_is_read_with_its_node_queues_and_the_cpus_of_its_interrupts() {
        let (_root, roots) = fixture();
        let addresses = BTreeMap::from([("eth0".to_owned(), vec!["10.0.0.2".to_owned()])]);
        let nics = read(&roots, &addresses);
        let names: Vec<&str> = nics.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["eth0", "lo"]);
        let eth0 = &nics[0];
        assert_eq!(eth0.driver, "virtio_net");
        assert_eq!(
            eth0.numa_node,
            Some(1),
            "from the virtio device's PCI parent"
        );
        assert_eq!(eth0.local_cpus, [4, 5, 6, 7]);
        assert_eq!((eth0.rx_queues, eth0.tx_queues), (2, 2));
        assert_eq!(eth0.addresses, ["10.0.0.2"]);
        assert!(!eth0.is_virtual);
        let irqs: Vec<(u32, &str, Vec<u32>)> = eth0
            .irqs
            .iter()
            .map(|i| (i.irq, i.name.as_str(), i.cpus.clone()))
            .collect();
        assert_eq!(
            irqs,
            [
                (38, "virtio2-input.0", vec![4, 5]),
                (39, "virtio2-output.0", vec![6])
            ]
        );
        let lo = &nics[1];
        assert!(lo.is_virtual);
        assert_eq!((lo.numa_node, lo.irqs.len()), (None, 0));
    }

    #[test]
    fn a_platform_without_a_node_leaves_it_unknown() {
        let (_root, roots) = fixture();
        let pci = roots.sys.join("devices/pci0000:00/0000:00:03.0");
        fs::write(pci.join("numa_node"), "-1\n").expect("numa_node");
        let nics = read(&roots, &BTreeMap::new());
        assert_eq!(nics[0].numa_node, None);
        assert_eq!(nics[0].local_cpus, [4, 5, 6, 7]);
    }

    #[test]
    fn interrupt_names_are_the_last_field_of_their_line() {
        let names =
            irq_names(" 41:   3954   0  PCI-MSIX-0000:00:04.0   1-edge   eth1-TxRx-0\nLOC: 1 2\n");
        assert_eq!(names, BTreeMap::from([(41, "eth1-TxRx-0".to_owned())]));
    }

    #[test]
    fn this_host_shows_its_interfaces_and_loopback_is_virtual() {
        let nics = read(&Roots::default(), &addresses());
        let lo = nics.iter().find(|n| n.name == "lo").expect("loopback");
        assert!(lo.is_virtual, "{lo:?}");
        assert!(lo.addresses.iter().any(|a| a == "127.0.0.1"), "{lo:?}");
    }
}
