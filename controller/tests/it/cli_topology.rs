//! `numaload topology --xml FILE --json` on real machines' hwloc XML agrees with what hwloc
//! itself reports for them (`truth.json`, produced with Debian's hwloc tools).

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../agent/tests/fixtures/topologies")
}

#[test]
fn topology_json_agrees_with_hwloc_on_every_fixture() {
    let truth: Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("truth.json")).expect("truth"),
    )
    .expect("json");
    let truth = truth.as_object().expect("object");
    assert!(truth.len() >= 10, "fixtures went missing");
    for (file, want) in truth {
        let out = Command::new(env!("CARGO_BIN_EXE_numaload"))
            .args(["topology", "--json", "--xml"])
            .arg(fixtures().join(file))
            .output()
            .expect("run numaload");
        assert!(
            out.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got: Value = serde_json::from_slice(&out.stdout).expect("topology JSON");
        assert_eq!(got["pus"], want["pus"], "{file}: pus");
        assert_eq!(got["cores"], want["cores"], "{file}: cores");
        assert_eq!(got["allowed_cpus"], want["cpus"], "{file}: allowed CPUs");
        let nodes = got["numa_nodes"].as_array().expect("nodes");
        let want_nodes = want["numa_nodes"].as_array().expect("nodes");
        assert_eq!(nodes.len(), want_nodes.len(), "{file}: node count");
        for (node, want_node) in nodes.iter().zip(want_nodes) {
            for key in ["os_index", "cpus", "memory_bytes", "subtype"] {
                assert_eq!(
                    node[key], want_node[key],
                    "{file}: node {} {key}",
                    want_node["os_index"]
                );
            }
        }
        assert_eq!(got["domains"], want["domains"], "{file}: domains");
    }
}

#[test]
fn a_missing_topology_file_is_an_error_naming_it() {
    let out = Command::new(env!("CARGO_BIN_EXE_numaload"))
        .args(["topology", "--xml", "/nonexistent/host.xml"])
        .output()
        .expect("run numaload");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("/nonexistent/host.xml"), "{stderr}");
}

#[test]
fn this_host_topology_is_readable() {
    let out = Command::new(env!("CARGO_BIN_EXE_numaload"))
        .args(["topology", "--json"])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Value = serde_json::from_slice(&out.stdout).expect("json");
    let pus = got["pus"].as_u64().expect("pus");
    let parallelism = std::thread::available_parallelism()
        .expect("parallelism")
        .get() as u64;
    assert!(
        pus >= parallelism,
        "hwloc sees {pus} PUs, the process may use {parallelism}"
    );
    assert!(!got["domains"].as_array().expect("domains").is_empty());
}

/// The network devices of an XML topology come from hwloc's OS devices: each interface's NUMA
/// node and CPUs are what hwloc's own `hwloc-calc` says for `os=NAME` in the same file.
#[test]
fn an_xml_topologys_network_devices_carry_the_locality_hwloc_gives_them() {
    let file = fixtures().join("32em64t-2n8c+dax+nvme+mic+dimms.xml");
    let out = Command::new(env!("CARGO_BIN_EXE_numaload"))
        .args(["topology", "--json", "--xml"])
        .arg(&file)
        .output()
        .expect("run numaload");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Value = serde_json::from_slice(&out.stdout).expect("topology JSON");
    let nics = got["nics"].as_array().expect("nics");
    let names: Vec<&str> = nics.iter().filter_map(|n| n["name"].as_str()).collect();
    assert_eq!(names, ["eth0", "eth1", "ib0"], "{got}");
    let hwloc_calc = |what: &str, device: &str| -> String {
        let out = Command::new("hwloc-calc")
            .arg("--input")
            .arg(&file)
            .args([
                "--physical-output",
                "--intersect",
                what,
                &format!("os={device}"),
            ])
            .output()
            .expect("hwloc-calc (Debian's hwloc package) runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    for nic in nics {
        let name = nic["name"].as_str().expect("name");
        let node = hwloc_calc("NUMAnode", name);
        let cpus: Vec<u64> = hwloc_calc("PU", name)
            .split(',')
            .map(|c| c.parse().expect("a PU"))
            .collect();
        assert_eq!(nic["numa_node"].to_string(), node, "{name}: {nic}");
        assert_eq!(nic["local_cpus"], serde_json::json!(cpus), "{name}: {nic}");
    }
    assert_ne!(
        nics[0]["numa_node"], nics[2]["numa_node"],
        "ib0 sits on the other node"
    );
}

/// On this host the interfaces come from sysfs: loopback is there, virtual, with its address.
#[test]
fn this_hosts_interfaces_are_listed_and_loopback_is_virtual() {
    let out = Command::new(env!("CARGO_BIN_EXE_numaload"))
        .args(["topology", "--json"])
        .output()
        .expect("run");
    let got: Value = serde_json::from_slice(&out.stdout).expect("json");
    let lo = got["nics"]
        .as_array()
        .expect("nics")
        .iter()
        .find(|n| n["name"] == "lo")
        .unwrap_or_else(|| panic!("no loopback in {got}"));
    assert_eq!(lo["virtual"], true, "{lo}");
    assert_eq!(lo["numa_node"], -1, "{lo}");
    assert!(
        lo["addresses"]
            .as_array()
            .is_some_and(|a| a.iter().any(|a| a == "127.0.0.1")),
        "{lo}"
    );
}
