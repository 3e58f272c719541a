//! Topology loading and per-node placement against real machines' hwloc XML.
//!
//! `tests/fixtures/topologies/truth.json` holds what hwloc's own tools report for each fixture;
//! our reading must agree with it field by field.

// A panic is how a test reports failure; the workspace's unwrap_used lint is for library code.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use numaload_agent::placement::{self, Layout, Memory, Pin, Replicas};
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
    Layout {
        name: "per-node".to_owned(),
        replicas: Replicas::PerNode,
        pin: Pin::Node,
        memory: Memory::Local,
    }
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
