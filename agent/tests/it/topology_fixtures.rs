//! Topology loading and per-node placement against real machines' hwloc XML.
//!
//! `tests/fixtures/topologies/truth.json` holds what hwloc's own tools report for each fixture;
//! our reading must agree with it field by field.

// A panic is how a test reports failure; the workspace's unwrap_used lint is for library code.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use numaload_agent::placement::{self, Layout, Memory, NodePolicy, Pin, Placement, Replicas, Smt};
use numaload_agent::topology::{self, HostTopology};
use serde_json::Value;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/topologies")
}

fn truth() -> serde_json::Map<String, Value> {
    let text = std::fs::read_to_string(fixtures_dir().join("truth.json")).unwrap();
    match serde_json::from_str(&text).unwrap() {
        Value::Object(map) => map,
        other => panic!("truth.json is not an object: {other}"),
    }
}

fn u32s(value: &Value) -> Vec<u32> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| u32::try_from(v.as_u64().unwrap()).unwrap())
        .collect()
}

fn load(file: &str) -> HostTopology {
    topology::from_xml_file(&fixtures_dir().join(file)).unwrap_or_else(|e| panic!("{e}"))
}

fn per_node() -> Layout {
    Layout::new("per-node", Replicas::PerNode, Pin::Node, Memory::Local)
}

fn place(file: &str, layout: &Layout, reserve: u32) -> Placement {
    placement::place(&load(file), layout, reserve).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn cpus_of(placement: &Placement) -> Vec<Vec<u32>> {
    placement.replicas.iter().map(|r| r.cpus.clone()).collect()
}

fn nodes_of(placement: &Placement) -> Vec<Vec<u32>> {
    placement
        .replicas
        .iter()
        .map(|r| r.memory_nodes.clone())
        .collect()
}

fn range(from: u32, to: u32) -> Vec<u32> {
    (from..=to).collect()
}

#[test]
fn every_fixture_has_a_truth_entry_and_the_reverse() {
    let on_disk: BTreeSet<String> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".xml"))
        .collect();
    let in_truth: BTreeSet<String> = truth().keys().cloned().collect();
    assert_eq!(on_disk, in_truth);
    assert!(on_disk.len() >= 12, "fixtures went missing: {on_disk:?}");
}

#[test]
fn xml_topologies_agree_with_hwloc() {
    for (file, expected) in truth() {
        let got = load(&file);
        assert_eq!(
            got.pus,
            expected["pus"].as_u64().unwrap() as u32,
            "{file}: pus"
        );
        assert_eq!(
            got.cores,
            expected["cores"].as_u64().unwrap() as u32,
            "{file}: cores"
        );
        assert_eq!(
            got.allowed_cpus,
            u32s(&expected["cpus"]),
            "{file}: allowed cpus"
        );

        let nodes = expected["numa_nodes"].as_array().unwrap();
        assert_eq!(
            got.numa_nodes.len(),
            nodes.len(),
            "{file}: {:?}",
            got.numa_nodes
        );
        for (node, want) in got.numa_nodes.iter().zip(nodes) {
            let what = format!("{file}: node {}", node.os_index);
            assert_eq!(
                u64::from(node.os_index),
                want["os_index"].as_u64().unwrap(),
                "{what}"
            );
            assert_eq!(node.cpus, u32s(&want["cpus"]), "{what}: cpus");
            assert_eq!(
                node.memory_bytes,
                want["memory_bytes"].as_u64().unwrap(),
                "{what}"
            );
            assert_eq!(
                node.subtype,
                want["subtype"].as_str().unwrap(),
                "{what}: subtype"
            );
        }

        let domains: Vec<(Vec<u32>, Vec<u32>)> = expected["domains"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| (u32s(&d["cpus"]), u32s(&d["nodes"])))
            .collect();
        let got_domains: Vec<(Vec<u32>, Vec<u32>)> = got
            .domains
            .iter()
            .map(|d| (d.cpus.clone(), d.nodes.clone()))
            .collect();
        assert_eq!(got_domains, domains, "{file}: domains");
    }
}

#[test]
fn per_node_placement_gives_one_replica_per_domain() {
    for (file, expected) in truth() {
        let topology = load(&file);
        let placement =
            placement::place(&topology, &per_node(), 0).unwrap_or_else(|e| panic!("{file}: {e}"));
        let domains = expected["domains"].as_array().unwrap();
        assert_eq!(placement.replicas.len(), domains.len(), "{file}");
        for (replica, domain) in placement.replicas.iter().zip(domains) {
            assert_eq!(
                replica.cpus,
                u32s(&domain["cpus"]),
                "{file}: replica {}",
                replica.index
            );
            assert_eq!(replica.threads as usize, replica.cpus.len(), "{file}");
            assert_eq!(
                replica.memory_nodes.len(),
                1,
                "{file}: replica {}",
                replica.index
            );
            assert!(
                u32s(&domain["nodes"]).contains(&replica.memory_nodes[0]),
                "{file}: replica {} memory {:?} outside its domain",
                replica.index,
                replica.memory_nodes
            );
        }
        assert!(!placement.load_cpus.is_empty(), "{file}");
    }
}

#[test]
fn memory_tiers_bind_to_dram_and_report_the_domain_without_it() {
    let placement = placement::place(&load("fakeheteromemtiers.xml"), &per_node(), 1).unwrap();
    let memory: Vec<Vec<u32>> = placement
        .replicas
        .iter()
        .map(|r| r.memory_nodes.clone())
        .collect();
    assert_eq!(memory, vec![vec![0], vec![1], vec![2]]);
    assert!(
        placement
            .notes
            .iter()
            .any(|n| n.contains("no DRAM node") && n.contains("(HBM)")),
        "{:?}",
        placement.notes
    );
}

#[test]
fn cgroup_restricted_host_warns_and_gives_stray_cpus_to_the_load() {
    let topology = load("16amd64-8n2c-cpusets.xml");
    assert!(
        topology.warnings.iter().any(|w| w.contains("0-1,12-15")),
        "{:?}",
        topology.warnings
    );
    assert!(
        topology.warnings.iter().any(|w| w.contains("NUMA node 4")),
        "{:?}",
        topology.warnings
    );
    let placement = placement::place(&topology, &per_node(), 0).unwrap();
    assert_eq!(placement.load_cpus, vec![0, 1, 12, 13, 14, 15]);
    assert!(!placement.load_shares_cpus);
}

#[test]
fn wire_form_matches() {
    let topology = load("64amd64-4s2n4ca2co.xml");
    let wire = numaload_proto::v1::Topology::from(&topology);
    assert_eq!((wire.pus, wire.cores, wire.packages), (64, 64, 4));
    assert_eq!(wire.numa_nodes.len(), 8);
    assert_eq!(wire.domains.len(), 8);
    assert_eq!(wire.allowed_cpus, topology.allowed_cpus);
}

#[test]
fn missing_file_is_an_error_naming_it() {
    let path = fixtures_dir().join("no-such-machine.xml");
    let err = topology::from_xml_file(&path).unwrap_err().to_string();
    assert!(err.contains("no-such-machine.xml"), "{err}");
}

/// A scratch file removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, contents: &str) -> Self {
        let path = std::env::temp_dir().join(format!("numaload-{}-{name}", std::process::id()));
        std::fs::write(&path, contents).unwrap();
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn malformed_xml_is_an_error_naming_the_file() {
    let real = std::fs::read_to_string(fixtures_dir().join("2arm-2c.xml")).unwrap();
    let cases = [
        ("truncated.xml", real[..real.len() / 2].to_owned()),
        ("not-xml.xml", "this is not a topology\n".to_owned()),
        ("empty.xml", String::new()),
        (
            "other.xml",
            "<?xml version=\"1.0\"?>\n<html></html>\n".to_owned(),
        ),
    ];
    for (name, contents) in cases {
        let file = TempFile::new(name, &contents);
        let err = topology::from_xml_file(&file.0).unwrap_err().to_string();
        assert!(err.contains(&file.0.display().to_string()), "{name}: {err}");
    }
}

#[test]
fn discover_reads_this_host() {
    let topology = topology::discover().unwrap();
    assert!(!topology.allowed_cpus.is_empty());
    assert_eq!(topology.pus as usize, topology.allowed_cpus.len());
    assert!(topology.cores >= 1 && topology.cores <= topology.pus);
    assert!(!topology.domains.is_empty());

    // Our affinity is within the allowed CPUs, which are online CPUs.
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let field = |name: &str| {
        let line = status.lines().find(|l| l.starts_with(name)).unwrap();
        numaload_proto::cpulist::parse(line.split_once(':').unwrap().1).unwrap()
    };
    let allowed: BTreeSet<u32> = topology.allowed_cpus.iter().copied().collect();
    for cpu in field("Cpus_allowed_list") {
        assert!(
            allowed.contains(&cpu),
            "CPU {cpu} is in our affinity but not allowed"
        );
    }
    let online = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap();
    let online: BTreeSet<u32> = numaload_proto::cpulist::parse(&online)
        .unwrap()
        .into_iter()
        .collect();
    assert!(
        allowed.is_subset(&online),
        "{allowed:?} not within online {online:?}"
    );
    let parallelism = std::thread::available_parallelism().unwrap().get();
    assert!(
        allowed.len() >= parallelism,
        "{} < {parallelism}",
        allowed.len()
    );

    // Every node hwloc reports is a kernel node we may allocate on.
    let mems = field("Mems_allowed_list");
    for node in &topology.numa_nodes {
        assert!(
            mems.contains(&node.os_index),
            "node {} not in Mems_allowed",
            node.os_index
        );
        let sys = format!("/sys/devices/system/node/node{}", node.os_index);
        if Path::new("/sys/devices/system/node").exists() {
            assert!(Path::new(&sys).exists(), "{sys} missing");
        }
    }
    assert!(!topology.numa_nodes.is_empty());

    // And the default layout places on it.
    let placement = placement::place(&topology, &per_node(), 0).unwrap();
    assert_eq!(placement.replicas.len(), topology.domains.len());
}

#[test]
fn per_package_on_four_sockets_of_two_nodes_each() {
    let layout = Layout::new("p", Replicas::PerPackage, Pin::Package, Memory::Local);
    let placement = place("64amd64-4s2n4ca2co.xml", &layout, 0);
    assert_eq!(
        cpus_of(&placement),
        (0..4)
            .map(|p| range(16 * p, 16 * p + 15))
            .collect::<Vec<_>>()
    );
    // Local memory is each of the package's two NUMA domains' own DRAM node.
    assert_eq!(
        nodes_of(&placement),
        vec![vec![0, 1], vec![2, 3], vec![4, 5], vec![6, 7]]
    );
    for replica in &placement.replicas {
        assert_eq!(replica.threads, 16);
        assert_eq!(replica.memory_policy, NodePolicy::Bind);
    }

    let interleave = Layout::new("i", Replicas::PerPackage, Pin::Package, Memory::Interleave);
    let placement = place("64amd64-4s2n4ca2co.xml", &interleave, 0);
    assert_eq!(nodes_of(&placement)[3], vec![6, 7]);
    assert_eq!(placement.replicas[3].memory_policy, NodePolicy::Interleave);
}

#[test]
fn per_l3_follows_the_last_level_caches() {
    let layout = Layout::new("l3", Replicas::PerL3, Pin::L3, Memory::Local);
    let cases: &[(&str, usize, &[u32])] = &[
        // 4 packages x 2 L3 (one per node).
        ("64amd64-4s2n4ca2co.xml", 8, &[0, 1, 2, 3, 4, 5, 6, 7]),
        // One L3 per package, one node each.
        (
            "32intel64-2p8co2t+8ve.xml",
            2,
            &[0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23],
        ),
        // A hybrid part: one L3 over the P- and E-cores.
        (
            "20em64t-hybrid-1p6c2t+2ca4co1t.xml",
            1,
            &[
                0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19,
            ],
        ),
    ];
    for (file, replicas, first) in cases {
        let placement = place(file, &layout, 0);
        assert_eq!(placement.replicas.len(), *replicas, "{file}");
        assert_eq!(placement.replicas[0].cpus, *first, "{file}");
        assert_eq!(placement.replicas[0].memory_nodes, vec![0], "{file}");
    }
    // No L3 at all: the L2 caches stand in, and the placement says so.
    let placement = place("8em64t-2s2ca2c.xml", &layout, 0);
    assert_eq!(
        cpus_of(&placement),
        vec![vec![0, 4], vec![1, 5], vec![2, 6], vec![3, 7]]
    );
    assert!(
        placement.notes.iter().any(|n| n.contains("L2 caches")),
        "{:?}",
        placement.notes
    );
}

#[test]
fn one_per_core_halves_an_smt_host() {
    let mut layout = Layout::new("smt", Replicas::PerNode, Pin::Node, Memory::Local);
    let all = place("32intel64-2p8co2t+8ve.xml", &layout, 0);
    layout.smt = Smt::OnePerCore;
    let one = place("32intel64-2p8co2t+8ve.xml", &layout, 0);
    assert_eq!(all.replicas[0].cpus.len(), 16);
    assert_eq!(one.replicas[0].cpus, range(0, 7));
    assert_eq!(one.replicas[1].cpus, range(8, 15));
    assert_eq!(one.replicas[0].threads, 8);
    // The siblings are left: the load generator takes them, saying they share cores.
    assert_eq!(one.load_cpus, range(16, 31));
    assert!(!one.load_shares_cpus);
    assert!(
        one.notes.iter().any(|n| n.contains("SMT siblings")),
        "{:?}",
        one.notes
    );
}

#[test]
fn pin_core_gives_each_replica_one_core() {
    let layout = Layout::new("cores", Replicas::Count(3), Pin::Core, Memory::Local);
    let placement = place("32intel64-2p8co2t+8ve.xml", &layout, 0);
    assert_eq!(
        cpus_of(&placement),
        vec![vec![0, 16], vec![1, 17], vec![2, 18]]
    );
    assert_eq!(nodes_of(&placement), vec![vec![0], vec![0], vec![0]]);
    assert!(placement.replicas.iter().all(|r| r.threads == 2));

    let mut one_pu = layout.clone();
    one_pu.smt = Smt::OnePerCore;
    one_pu.threads = Some(4);
    let placement = place("32intel64-2p8co2t+8ve.xml", &one_pu, 0);
    assert_eq!(cpus_of(&placement), vec![vec![0], vec![1], vec![2]]);
    assert!(placement.replicas.iter().all(|r| r.threads == 4));

    let too_many = Layout::new("cores", Replicas::Count(17), Pin::Core, Memory::None);
    let err = placement::place(&load("32intel64-2p8co2t+8ve.xml"), &too_many, 0).unwrap_err();
    assert_eq!(
        err.to_string(),
        "layouts.cores.replicas: 17 replicas but this host has 16 cores; use at most 16"
    );
}

#[test]
fn explicit_cpus_and_memory_nodes() {
    let mut layout = Layout::new("x", Replicas::Count(2), Pin::None, Memory::Nodes(vec![0]));
    layout.cpus = Some([range(0, 7), range(16, 23)].concat());
    let placement = place("32intel64-2p8co2t+8ve.xml", &layout, 0);
    assert_eq!(placement.replicas.len(), 2);
    for replica in &placement.replicas {
        assert_eq!(replica.cpus, [range(0, 7), range(16, 23)].concat());
        assert_eq!(replica.memory_nodes, vec![0]);
        assert_eq!(replica.memory_policy, NodePolicy::Bind);
        assert_eq!(replica.threads, 16);
    }
    assert_eq!(placement.load_cpus, [range(8, 15), range(24, 31)].concat());

    // CPUs the cgroup leaves out are refused, naming the field.
    let mut outside = Layout::new("x", Replicas::Count(1), Pin::None, Memory::Local);
    outside.cpus = Some(vec![2, 3, 4]);
    let err = placement::place(&load("16amd64-8n2c-cpusets.xml"), &outside, 0).unwrap_err();
    assert_eq!(
        err.to_string(),
        "layouts.x.cpus: CPUs 4 are not allowed on this host (4 offline); use CPUs from \
         0-3,5-6,12-15"
    );
}

/// `load.reserve_cpus = 2` on every real machine: the two highest allowed CPUs, on two
/// different cores (two load workers never split one core), apart from every replica; a NUMA
/// domain the reservation empties gets no replica and a note says so. Reserving every CPU is
/// refused, naming the key and the most it may be.
#[test]
fn two_load_cpus_on_every_fixture() {
    for (file, _) in truth() {
        let topology = load(&file);
        let allowed = &topology.allowed_cpus;
        if allowed.len() <= 2 {
            let err = placement::place(&topology, &per_node(), 2).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "load.reserve_cpus: 2 CPUs reserved for the load generator but this host \
                     allows only {}, leaving none for replicas; use at most {}",
                    allowed.len(),
                    allowed.len() - 1
                ),
                "{file}"
            );
            continue;
        }
        let placement = place(&file, &per_node(), 2);
        assert_eq!(
            placement.load_cpus,
            allowed[allowed.len() - 2..],
            "{file}: the two highest allowed CPUs"
        );
        assert!(!placement.load_shares_cpus, "{file}");
        let core_of = |cpu: u32| {
            topology
                .core_cpus
                .iter()
                .position(|core| core.contains(&cpu))
                .unwrap_or_else(|| panic!("{file}: CPU {cpu} on no core"))
        };
        let cores: BTreeSet<usize> = placement.load_cpus.iter().map(|&c| core_of(c)).collect();
        assert_eq!(
            cores.len(),
            2,
            "{file}: load CPUs {:?} share a core",
            placement.load_cpus
        );
        for replica in &placement.replicas {
            assert!(
                replica
                    .cpus
                    .iter()
                    .all(|c| !placement.load_cpus.contains(c)),
                "{file}: replica {} on {:?} shares the load CPUs {:?}",
                replica.index,
                replica.cpus,
                placement.load_cpus
            );
        }
        for (i, domain) in topology.domains.iter().enumerate() {
            let emptied = !domain.cpus.is_empty()
                && domain.cpus.iter().all(|c| placement.load_cpus.contains(c));
            let noted = placement
                .notes
                .iter()
                .any(|n| n.starts_with(&format!("NUMA domain {i} ")) && n.contains("no replica"));
            assert_eq!(emptied, noted, "{file}: domain {i}: {:?}", placement.notes);
        }
    }
}

#[test]
fn impossible_requests_name_the_field() {
    let topology = load("64amd64-4s2n4ca2co.xml");
    let cases: Vec<(Layout, &str)> = vec![
        (
            Layout::new(
                "n",
                Replicas::Count(1),
                Pin::Node,
                Memory::Nodes(vec![3, 9]),
            ),
            "layouts.n.memory: NUMA nodes 9 do not exist or are not allowed on this host; \
             use nodes from 0-7",
        ),
        (
            Layout::new("r", Replicas::Count(65), Pin::None, Memory::None),
            "layouts.r.replicas: 65 replicas but only 64 CPUs are left for replicas \
             (load.reserve_cpus = 0); use at most 64",
        ),
        (
            Layout::new("p", Replicas::Count(5), Pin::Package, Memory::Local),
            "layouts.p.replicas: 5 replicas but this host has 4 packages; use replicas = \
             \"per-package\" or at most 4",
        ),
        (
            Layout::new("m", Replicas::PerNode, Pin::Package, Memory::Local),
            "layouts.m.pin: \"package\" does not go with replicas = \"per-node\"; use pin = \
             \"node\" or pin = \"none\"",
        ),
    ];
    for (layout, expected) in cases {
        let err = placement::place(&topology, &layout, 0).unwrap_err();
        assert_eq!(err.to_string(), expected, "{}", layout.name);
    }
}

#[test]
fn packages_l3_and_cores_are_read_from_every_fixture() {
    for (file, expected) in truth() {
        let topology = load(&file);
        let allowed: BTreeSet<u32> = topology.allowed_cpus.iter().copied().collect();
        let cores: Vec<u32> = topology.core_cpus.iter().flatten().copied().collect();
        assert_eq!(
            cores.len(),
            allowed.len(),
            "{file}: every allowed PU on one core"
        );
        assert_eq!(
            cores.iter().copied().collect::<BTreeSet<_>>(),
            allowed,
            "{file}: cores"
        );
        assert_eq!(topology.core_cpus.len() as u32, topology.cores, "{file}");
        assert_eq!(
            topology.packages_cpus.len() as u32,
            topology.packages,
            "{file}: packages"
        );
        let node_ids: BTreeSet<u32> = expected["domains"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|d| u32s(&d["nodes"]))
            .collect();
        for group in topology.packages_cpus.iter().chain(&topology.l3_domains) {
            assert!(!group.cpus.is_empty(), "{file}");
            assert!(group.cpus.iter().all(|c| allowed.contains(c)), "{file}");
            assert!(
                group.nodes.iter().all(|n| node_ids.contains(n)),
                "{file}: {group:?}"
            );
        }
    }
    let cgroup = load("16amd64-8n2c-cpusets.xml");
    // Package 0 (CPUs 0-1) is near no allowed node: it has no nodes.
    assert_eq!(cgroup.packages_cpus[0].cpus, vec![0, 1]);
    assert!(cgroup.packages_cpus[0].nodes.is_empty());
}

#[test]
fn per_node_over_memory_tiers_never_gives_nvm_or_hbm_their_own_replica() {
    let placement = place("fakeheteromemtiers.xml", &per_node(), 0);
    // 7 nodes (DRAM, HBM, NVM), 3 domains: one replica per set of CPUs.
    assert_eq!(placement.replicas.len(), 3);
    let interleave = Layout::new("i", Replicas::Count(1), Pin::None, Memory::Interleave);
    let placement = place("fakeheteromemtiers.xml", &interleave, 1);
    // DRAM nodes only.
    assert_eq!(placement.replicas[0].memory_nodes, vec![0, 1]);
    assert_eq!(placement.replicas[0].memory_policy, NodePolicy::Interleave);
}
