//! Network devices: the plain [`Nic`] every source fills in, and what hwloc's network OS
//! devices say of each interface (name and locality), for a topology that kept I/O objects.

use std::collections::BTreeSet;

use hwlocality::object::attributes::ObjectAttributes;
use hwlocality::object::types::{OSDeviceType, ObjectType};
use hwlocality::Topology;
use serde::Serialize;

/// One network interface and where its traffic is handled.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Nic {
    pub name: String,
    /// IPv4 and IPv6 addresses (a live host only).
    pub addresses: Vec<String>,
    /// The driver bound to its device; empty when unknown or virtual.
    pub driver: String,
    /// The NUMA node of its device; `None` when the platform gives none.
    pub numa_node: Option<u32>,
    /// The CPUs near its device, sorted.
    pub local_cpus: Vec<u32>,
    pub rx_queues: u32,
    pub tx_queues: u32,
    /// Its device's interrupts and the CPUs allowed to handle each.
    pub irqs: Vec<NicIrq>,
    /// No device behind it (loopback, bridge, veth, ifb, ...).
    pub is_virtual: bool,
}

/// One interrupt of a network device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NicIrq {
    pub irq: u32,
    /// As `/proc/interrupts` names it.
    pub name: String,
    /// The CPUs allowed to handle it (`/proc/irq/N/smp_affinity_list`), sorted.
    pub cpus: Vec<u32>,
}

/// hwloc's network OS devices (present when I/O objects were kept, as in an XML topology saved
/// by `lstopo`): each interface's name, and its locality from the nearest non-I/O ancestor
/// (its NUMA node when that locality holds exactly one, and its allowed CPUs).
pub(super) fn network_devices(topology: &Topology, allowed: &BTreeSet<u32>) -> Vec<Nic> {
    let mut nics = Vec::new();
    for device in topology.objects_with_type(ObjectType::OSDevice) {
        let Some(ObjectAttributes::OSDevice(attributes)) = device.attributes() else {
            continue;
        };
        if attributes.device_type() != OSDeviceType::Network {
            continue;
        }
        let (Some(name), Some(near)) = (device.name(), device.first_non_io_ancestor()) else {
            continue;
        };
        let nodes: Vec<u32> = near
            .nodeset()
            .map(|set| {
                set.iter_set()
                    .filter_map(|n| u32::try_from(usize::from(n)).ok())
                    .collect()
            })
            .unwrap_or_default();
        let local_cpus: Vec<u32> = near
            .cpuset()
            .map(|set| {
                set.iter_set()
                    .filter_map(|c| u32::try_from(usize::from(c)).ok())
                    .filter(|c| allowed.contains(c))
                    .collect()
            })
            .unwrap_or_default();
        nics.push(Nic {
            name: name.to_string_lossy().into_owned(),
            numa_node: match nodes.as_slice() {
                [one] => Some(*one),
                _ => None,
            },
            local_cpus,
            ..Nic::default()
        });
    }
    nics.sort_by(|a, b| a.name.cmp(&b.name));
    nics
}
