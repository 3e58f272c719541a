//! Topology discovery: what this host (or a saved one) offers to place replicas on.
//!
//! This is the only module where hwloc (through `hwlocality`) types appear. It turns an hwloc
//! topology into [`HostTopology`], plain data that the rest of the agent, the tests and the wire
//! ([`numaload_proto::v1::Topology`]) share:
//!
//! - [`discover`] reads this host;
//! - [`from_xml_file`] reads a topology saved with `lstopo topo.xml` (planning and tests);
//! - [`from_synthetic`] builds one from an hwloc synthetic description such as
//!   `"package:2 numa:2 core:2 pu:2"`.
//!
//! Files and descriptions are always loaded through the hwloc API, never through the
//! `HWLOC_XMLFILE`/`HWLOC_SYNTHETIC` environment variables: those silently fall back to the real
//! machine on a bad value, and a planning mistake must be an error instead.
//!
//! What the numbers mean (they agree with what hwloc itself reports with default flags):
//! - only *allowed* resources count: a cgroup-restricted process sees fewer PUs, cores and nodes;
//! - a NUMA node's `cpus` are the allowed CPUs near it, possibly none (memory-only nodes);
//! - [`Domain`]s group NUMA nodes with identical, non-empty CPU sets, sorted by first CPU:
//!   a "per-node" layout runs one replica per domain. Persistent-memory (`NVM`) nodes share a
//!   CPU set with DRAM but define no domain of their own. When no node has an allowed CPU the
//!   whole machine becomes one domain and [`HostTopology::warnings`] says so.
//! - [`HostTopology::packages_cpus`] and [`HostTopology::l3_domains`] are the same kind of
//!   [`Domain`] for packages and last-level caches: their allowed CPUs, and the NUMA nodes of the
//!   domains those CPUs belong to. A host without any L3 uses its highest cache level instead
//!   (with a warning); allowed CPUs under no such cache are in no L3 domain (with a warning).
//! - [`HostTopology::core_cpus`] lists every core with its allowed PUs (its SMT siblings); a PU
//!   hwloc puts under no core counts as a core of its own.
//! - CPUs the machine has but are not online are in [`HostTopology::offline_cpus`], never in
//!   `allowed_cpus`: nothing is ever placed on them.
//!
//! A topology read from XML or a synthetic description is not "this system": binding calls on it
//! do nothing. Plan with any topology, bind with the one [`discover`] returns.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use hwlocality::object::attributes::ObjectAttributes;
use hwlocality::object::depth::Depth;
use hwlocality::object::types::ObjectType;
use hwlocality::object::TopologyObject;
use hwlocality::topology::builder::{FileInputError, TypeFilter};
use hwlocality::Topology;
use numaload_proto::cpulist;
use serde::Serialize;

use devices::network_devices;
pub use devices::{Nic, NicIrq};

mod devices;

/// What a host offers for placement, in OS indexes (as `/proc` and `taskset` number them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostTopology {
    /// Allowed processing units (hardware threads).
    pub pus: u32,
    /// Cores with at least one allowed PU.
    pub cores: u32,
    /// Packages (sockets) with at least one allowed PU; 0 if hwloc found no package information.
    pub packages: u32,
    /// Allowed PUs, sorted.
    pub allowed_cpus: Vec<u32>,
    /// Allowed NUMA nodes, sorted by OS index.
    pub numa_nodes: Vec<NumaNode>,
    /// NUMA nodes grouped by identical non-empty CPU sets, sorted by first CPU.
    pub domains: Vec<Domain>,
    /// Packages (sockets) with allowed CPUs, sorted by first CPU; `nodes` are the NUMA nodes of
    /// the domains their CPUs belong to (empty when their CPUs are near no allowed node).
    pub packages_cpus: Vec<Domain>,
    /// Last-level cache domains (L3, or the highest cache level the host has), as for packages.
    pub l3_domains: Vec<Domain>,
    /// The cache level `l3_domains` come from: `"L3"`, else `"L2"` or `"L1"`, or `"machine"`
    /// when hwloc knows no cache (one domain of every allowed CPU).
    pub l3_level: String,
    /// Every core with at least one allowed PU: its allowed PUs, sorted; cores sorted by first PU.
    pub core_cpus: Vec<Vec<u32>>,
    /// CPUs the machine has that are not online (never allowed, never placed on), sorted.
    pub offline_cpus: Vec<u32>,
    /// Oddities worth telling the user (CPUs near no node, fallback domain, ...).
    pub warnings: Vec<String>,
    /// Network interfaces, sorted by name: here from hwloc's network OS devices (name and
    /// locality); on a live host `nic::read_host` fills in what sysfs adds.
    pub nics: Vec<Nic>,
}

/// One NUMA node: a bank of memory and the allowed CPUs near it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NumaNode {
    /// The kernel's node number (`/sys/devices/system/node/nodeN`).
    pub os_index: u32,
    /// Allowed CPUs near this node, sorted; empty for a memory-only node.
    pub cpus: Vec<u32>,
    /// Local memory, 0 if unknown.
    pub memory_bytes: u64,
    /// hwloc's memory kind: `""` (plain), `"DRAM"`, `"HBM"`, `"NVM"`, ...
    pub subtype: String,
}

impl NumaNode {
    /// Ordinary memory: what "memory = local" binds to when it has the choice.
    pub fn is_dram(&self) -> bool {
        self.subtype.is_empty() || self.subtype == "DRAM"
    }

    /// Persistent memory: such nodes define no domain of their own.
    pub fn is_persistent(&self) -> bool {
        self.subtype == "NVM"
    }
}

/// A placement unit: CPUs and the NUMA nodes that share exactly that CPU set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Domain {
    /// Allowed CPUs, sorted, never empty.
    pub cpus: Vec<u32>,
    /// OS indexes of the NUMA nodes of this domain, sorted.
    pub nodes: Vec<u32>,
}

/// Why a topology could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    /// The XML file is missing, unreadable or not an hwloc topology.
    #[error("cannot load topology file {}: {reason}", path.display())]
    Xml {
        /// The file as given.
        path: PathBuf,
        /// What went wrong, for humans.
        reason: String,
    },
    /// hwloc rejected a synthetic description.
    #[error("invalid synthetic topology {description:?}: {reason}")]
    Synthetic {
        /// The description as given.
        description: String,
        /// What went wrong, for humans.
        reason: String,
    },
    /// hwloc could not read this host.
    #[error("cannot discover this host's topology with hwloc: {0}")]
    Discover(String),
    /// hwloc returned something this module cannot represent (an infinite or huge CPU set).
    #[error("topology from {origin}: {detail}")]
    Unrepresentable {
        /// Where the topology came from.
        origin: String,
        /// What could not be represented.
        detail: String,
    },
}

/// Reads this host's topology.
pub fn discover() -> Result<HostTopology, TopologyError> {
    let topology = Topology::builder()
        .build()
        .map_err(|e| TopologyError::Discover(e.to_string()))?;
    summarize(&topology, "this host")
}

/// Reads a topology saved as hwloc XML (`lstopo topo.xml`); every error names the file.
pub fn from_xml_file(path: &Path) -> Result<HostTopology, TopologyError> {
    let xml_error = |reason: String| TopologyError::Xml {
        path: path.to_path_buf(),
        reason,
    };
    // hwloc only says "invalid" for a missing file; ask the OS first for a precise reason.
    std::fs::metadata(path).map_err(|e| xml_error(e.to_string()))?;
    let topology = Topology::builder()
        .with_io_type_filter(TypeFilter::KeepImportant)
        .map_err(|e| xml_error(format!("hwloc cannot keep I/O devices ({e})")))?
        .from_xml_file(path)
        .map_err(|e| match e {
            // hwloc's own message repeats the path; say what it means instead.
            FileInputError::Invalid(_) => xml_error("not an hwloc topology XML file".to_owned()),
            other => xml_error(other.to_string()),
        })?
        .build()
        .map_err(|e| xml_error(format!("hwloc could not parse it as a topology ({e})")))?;
    summarize(&topology, &path.display().to_string())
}

/// Builds a topology from an hwloc synthetic description, e.g. `"package:2 numa:2 core:2 pu:2"`.
pub fn from_synthetic(description: &str) -> Result<HostTopology, TopologyError> {
    let synthetic_error = |reason: String| TopologyError::Synthetic {
        description: description.to_owned(),
        reason,
    };
    let topology = Topology::builder()
        .from_synthetic(description)
        .map_err(|e| synthetic_error(e.to_string()))?
        .build()
        .map_err(|e| synthetic_error(e.to_string()))?;
    summarize(&topology, &format!("synthetic description {description:?}"))
}

/// Turns an hwloc topology into plain data. `origin` names it in errors and warnings.
fn summarize(topology: &Topology, origin: &str) -> Result<HostTopology, TopologyError> {
    let allowed_cpus = indexes(
        topology.allowed_cpuset().iter_set().map(usize::from),
        origin,
    )?;
    let allowed: BTreeSet<u32> = allowed_cpus.iter().copied().collect();

    let count_allowed = |object_type: ObjectType| -> Result<u32, TopologyError> {
        let mut count = 0u32;
        for object in topology.objects_with_type(object_type) {
            if !allowed_cpus_of(object, &allowed, origin)?.is_empty() {
                count += 1;
            }
        }
        Ok(count)
    };
    let pus = count_allowed(ObjectType::PU)?;
    let cores = count_allowed(ObjectType::Core)?;
    let packages = count_allowed(ObjectType::Package)?;

    let allowed_nodes = topology.allowed_nodeset();
    let mut numa_nodes = Vec::new();
    for node in topology.objects_at_depth(Depth::NUMANode) {
        let Some(os_index) = node.os_index() else {
            continue;
        };
        if !allowed_nodes.is_set(os_index) {
            continue;
        }
        let memory_bytes = match node.attributes() {
            Some(ObjectAttributes::NUMANode(attributes)) => {
                attributes.local_memory().map_or(0, |bytes| bytes.get())
            }
            _ => 0,
        };
        numa_nodes.push(NumaNode {
            os_index: index(os_index, origin)?,
            cpus: allowed_cpus_of(node, &allowed, origin)?,
            memory_bytes,
            subtype: node
                .subtype()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
        });
    }
    numa_nodes.sort_by_key(|node| node.os_index);

    let mut warnings = Vec::new();
    let domains = group_domains(&numa_nodes, &allowed_cpus, &mut warnings);

    let online = indexes(topology.cpuset().iter_set().map(usize::from), origin)?;
    let mut offline_cpus = indexes(
        topology.complete_cpuset().iter_set().map(usize::from),
        origin,
    )?;
    offline_cpus.retain(|cpu| online.binary_search(cpu).is_err());
    if !offline_cpus.is_empty() {
        warnings.push(format!(
            "CPUs {} are offline: nothing is placed on them",
            cpulist::format(&offline_cpus)
        ));
    }

    let packages_cpus = cpu_groups(topology, &[ObjectType::Package], &allowed, origin)?;
    let packages_cpus = with_nodes(packages_cpus, &domains);
    let (l3_level, l3_domains) = last_level_caches(topology, &allowed, origin, &mut warnings)?;
    let l3_domains = with_nodes(l3_domains, &domains);
    let core_cpus = core_cpus(topology, &allowed_cpus, origin)?;
    let nics = network_devices(topology, &allowed);
    Ok(HostTopology {
        pus,
        cores,
        packages,
        allowed_cpus,
        numa_nodes,
        domains,
        packages_cpus,
        l3_domains,
        l3_level: l3_level.to_owned(),
        core_cpus,
        offline_cpus,
        warnings,
        nics,
    })
}

/// The distinct, non-empty allowed CPU sets of the objects of these types, sorted by first CPU.
fn cpu_groups(
    topology: &Topology,
    types: &[ObjectType],
    allowed: &BTreeSet<u32>,
    origin: &str,
) -> Result<Vec<Vec<u32>>, TopologyError> {
    let mut groups = BTreeSet::new();
    for &object_type in types {
        for object in topology.objects_with_type(object_type) {
            let cpus = allowed_cpus_of(object, allowed, origin)?;
            if !cpus.is_empty() {
                groups.insert(cpus);
            }
        }
    }
    Ok(groups.into_iter().collect())
}

/// L3 cache domains and their level; without any L3, the highest cache level present. Allowed
/// CPUs under no such cache are warned about: per-l3 layouts do not use them.
fn last_level_caches(
    topology: &Topology,
    allowed: &BTreeSet<u32>,
    origin: &str,
    warnings: &mut Vec<String>,
) -> Result<(&'static str, Vec<Vec<u32>>), TopologyError> {
    let levels: [(&str, &[ObjectType]); 3] = [
        ("L3", &[ObjectType::L3Cache]),
        ("L2", &[ObjectType::L2Cache]),
        ("L1", &[ObjectType::L1Cache]),
    ];
    for (level, types) in levels {
        let groups = cpu_groups(topology, types, allowed, origin)?;
        if groups.is_empty() {
            continue;
        }
        let covered: BTreeSet<u32> = groups.iter().flatten().copied().collect();
        let outside: Vec<u32> = allowed.difference(&covered).copied().collect();
        if !outside.is_empty() {
            warnings.push(format!(
                "allowed CPUs {} are under no {level} cache: per-l3 layouts do not use them",
                cpulist::format(&outside)
            ));
        }
        return Ok((level, groups));
    }
    let all: Vec<u32> = allowed.iter().copied().collect();
    Ok((
        "machine",
        if all.is_empty() {
            Vec::new()
        } else {
            vec![all]
        },
    ))
}

/// Every core's allowed PUs; a PU under no core is a core of its own.
fn core_cpus(
    topology: &Topology,
    allowed_cpus: &[u32],
    origin: &str,
) -> Result<Vec<Vec<u32>>, TopologyError> {
    let allowed: BTreeSet<u32> = allowed_cpus.iter().copied().collect();
    let mut cores = cpu_groups(topology, &[ObjectType::Core], &allowed, origin)?;
    let covered: BTreeSet<u32> = cores.iter().flatten().copied().collect();
    cores.extend(
        allowed_cpus
            .iter()
            .filter(|cpu| !covered.contains(cpu))
            .map(|&cpu| vec![cpu]),
    );
    cores.sort();
    Ok(cores)
}

/// Gives each CPU group the nodes of the NUMA domains its CPUs belong to.
fn with_nodes(groups: Vec<Vec<u32>>, domains: &[Domain]) -> Vec<Domain> {
    groups
        .into_iter()
        .map(|cpus| {
            let mut nodes: Vec<u32> = domains
                .iter()
                .filter(|d| d.cpus.iter().any(|c| cpus.binary_search(c).is_ok()))
                .flat_map(|d| d.nodes.iter().copied())
                .collect();
            nodes.sort_unstable();
            nodes.dedup();
            Domain { cpus, nodes }
        })
        .collect()
}

/// Groups nodes into domains (see the module doc) and explains anything surprising.
fn group_domains(
    numa_nodes: &[NumaNode],
    allowed_cpus: &[u32],
    warnings: &mut Vec<String>,
) -> Vec<Domain> {
    // Keyed by CPU list: lexicographic order sorts domains by first CPU.
    let mut by_cpus: BTreeMap<&[u32], Vec<u32>> = BTreeMap::new();
    for node in numa_nodes {
        if node.cpus.is_empty() || node.is_persistent() {
            continue;
        }
        by_cpus.entry(&node.cpus).or_default().push(node.os_index);
    }
    let domains: Vec<Domain> = by_cpus
        .into_iter()
        .map(|(cpus, nodes)| Domain {
            cpus: cpus.to_vec(),
            nodes,
        })
        .collect();

    if domains.is_empty() {
        let nodes: Vec<u32> = numa_nodes
            .iter()
            .filter(|node| !node.is_persistent())
            .map(|node| node.os_index)
            .collect();
        warnings.push(format!(
            "no NUMA node has an allowed CPU: all allowed CPUs ({}) form one machine-wide domain",
            cpulist::format(allowed_cpus)
        ));
        return vec![Domain {
            cpus: allowed_cpus.to_vec(),
            nodes,
        }];
    }

    let in_domains: BTreeSet<u32> = domains
        .iter()
        .flat_map(|d| d.cpus.iter().copied())
        .collect();
    let orphans: Vec<u32> = allowed_cpus
        .iter()
        .copied()
        .filter(|cpu| !in_domains.contains(cpu))
        .collect();
    if !orphans.is_empty() {
        warnings.push(format!(
            "allowed CPUs {} are near no allowed NUMA node: node-pinned replicas will not use them",
            cpulist::format(&orphans)
        ));
    }
    for node in numa_nodes.iter().filter(|n| n.cpus.is_empty()) {
        warnings.push(format!(
            "NUMA node {} has no allowed CPU near it: it belongs to no domain",
            node.os_index
        ));
    }
    if in_domains.len() < domains.iter().map(|d| d.cpus.len()).sum::<usize>() {
        warnings.push(
            "NUMA domains overlap (nodes with different but intersecting CPU sets): \
             node-pinned replicas may share CPUs"
                .to_owned(),
        );
    }
    domains
}

/// The allowed CPUs of an hwloc object, sorted; empty if it has no CPU set.
fn allowed_cpus_of(
    object: &TopologyObject,
    allowed: &BTreeSet<u32>,
    origin: &str,
) -> Result<Vec<u32>, TopologyError> {
    let Some(cpuset) = object.cpuset() else {
        return Ok(Vec::new());
    };
    let mut cpus = indexes(cpuset.iter_set().map(usize::from), origin)?;
    cpus.retain(|cpu| allowed.contains(cpu));
    Ok(cpus)
}

/// Collects the indexes of a finite hwloc bitmap (iterated in increasing order).
fn indexes(set: impl Iterator<Item = usize>, origin: &str) -> Result<Vec<u32>, TopologyError> {
    // An infinite bitmap would iterate up to hwloc's index limit: refuse long before that.
    const MAX_CPUS: usize = 1 << 20;
    let mut out = Vec::new();
    for i in set {
        if out.len() >= MAX_CPUS {
            return Err(TopologyError::Unrepresentable {
                origin: origin.to_owned(),
                detail: format!("a CPU set has more than {MAX_CPUS} members"),
            });
        }
        out.push(index(i, origin)?);
    }
    Ok(out)
}

fn index(i: usize, origin: &str) -> Result<u32, TopologyError> {
    u32::try_from(i).map_err(|_| TopologyError::Unrepresentable {
        origin: origin.to_owned(),
        detail: format!("index {i} does not fit in 32 bits"),
    })
}

#[cfg(test)]
// A panic is how a test reports failure; the workspace's unwrap_used lint is for library code.
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn node(os_index: u32, cpus: &[u32], subtype: &str) -> NumaNode {
        NumaNode {
            os_index,
            cpus: cpus.to_vec(),
            memory_bytes: 1 << 30,
            subtype: subtype.to_owned(),
        }
    }

    #[test]
    fn synthetic_two_packages_two_nodes_each() {
        let topology = from_synthetic("package:2 numa:2 core:2 pu:2").unwrap();
        assert_eq!(topology.pus, 16);
        assert_eq!(topology.cores, 8);
        assert_eq!(topology.packages, 2);
        assert_eq!(topology.allowed_cpus, (0..16).collect::<Vec<_>>());
        assert_eq!(topology.numa_nodes.len(), 4);
        assert_eq!(topology.domains.len(), 4);
        assert_eq!(topology.domains[1].cpus, vec![4, 5, 6, 7]);
        assert_eq!(topology.domains[1].nodes, vec![1]);
        assert!(topology.warnings.is_empty(), "{:?}", topology.warnings);
    }

    #[test]
    fn bad_synthetic_description_is_an_error_quoting_it() {
        let err = from_synthetic("package:2 bogus:3").unwrap_err().to_string();
        assert!(err.contains("\"package:2 bogus:3\""), "{err}");
    }

    #[test]
    fn nvm_and_cpuless_nodes_define_no_domain() {
        let nodes = [
            node(0, &[0, 1], "DRAM"),
            node(1, &[2, 3], "DRAM"),
            node(2, &[2, 3], "HBM"),
            node(3, &[0, 1], "NVM"),
            node(4, &[], ""),
        ];
        let mut warnings = Vec::new();
        let domains = group_domains(&nodes, &[0, 1, 2, 3], &mut warnings);
        let nodes_of: Vec<_> = domains.iter().map(|d| d.nodes.clone()).collect();
        assert_eq!(nodes_of, vec![vec![0], vec![1, 2]]);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("node 4"), "{warnings:?}");
    }

    #[test]
    fn no_node_with_cpus_falls_back_to_one_machine_wide_domain() {
        let nodes = [node(0, &[], ""), node(1, &[], "NVM")];
        let mut warnings = Vec::new();
        let domains = group_domains(&nodes, &[0, 1, 2], &mut warnings);
        assert_eq!(
            domains,
            vec![Domain {
                cpus: vec![0, 1, 2],
                nodes: vec![0]
            }]
        );
        assert!(warnings[0].contains("machine-wide"), "{warnings:?}");
    }

    #[test]
    fn cpus_near_no_node_are_reported() {
        let nodes = [node(0, &[2, 3], "")];
        let mut warnings = Vec::new();
        group_domains(&nodes, &[0, 1, 2, 3], &mut warnings);
        assert!(warnings[0].contains("CPUs 0-1"), "{warnings:?}");
    }

    #[test]
    fn wire_form_keeps_every_field() {
        let topology = from_synthetic("package:2 numa:1 core:2 pu:1").unwrap();
        let wire = numaload_proto::v1::Topology::from(&topology);
        assert_eq!(wire.pus, 4);
        assert_eq!(wire.cores, 4);
        assert_eq!(wire.packages, 2);
        assert_eq!(wire.allowed_cpus, topology.allowed_cpus);
        assert_eq!(wire.numa_nodes.len(), 2);
        assert_eq!(wire.numa_nodes[1].cpus, vec![2, 3]);
        assert_eq!(
            wire.numa_nodes[1].memory_bytes,
            topology.numa_nodes[1].memory_bytes
        );
        assert_eq!(wire.domains[1].nodes, vec![1]);
    }
}
