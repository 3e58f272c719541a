//! `numaload plan PLAN --topology FILE --json`: the placement an agent on that host would launch,
//! checked against what hwloc reports for real machines (`truth.json`), and impossible plans
//! refused with one line naming the field, exit code 2, before anything is launched.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../agent/tests/fixtures/topologies")
}

/// A plan file in the temp directory, removed when dropped.
struct PlanFile(PathBuf);

impl PlanFile {
    fn new(name: &str, layouts: &str) -> Self {
        let text = format!(
            "name = \"cli-plan\"\n[target]\nname = \"async\"\n[load]\nmode = \"open\"\n\
             rate = 100\nduration = \"1s\"\n{layouts}\n"
        );
        let path = std::env::temp_dir().join(format!(
            "numaload-cli-plan-{}-{name}.toml",
            std::process::id()
        ));
        std::fs::write(&path, text).expect("write plan");
        PlanFile(path)
    }
}

impl Drop for PlanFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn numaload_plan(plan: &Path, topology: &Path, json: bool) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_numaload"));
    command
        .arg("plan")
        .arg(plan)
        .arg("--topology")
        .arg(topology);
    if json {
        command.arg("--json");
    }
    command.output().expect("run numaload")
}

fn truth() -> serde_json::Map<String, Value> {
    let text = std::fs::read_to_string(fixtures().join("truth.json")).expect("truth");
    match serde_json::from_str(&text).expect("json") {
        Value::Object(map) => map,
        other => panic!("truth.json is not an object: {other}"),
    }
}

#[test]
fn per_node_plan_agrees_with_hwloc_on_every_fixture() {
    let plan = PlanFile::new(
        "per-node",
        "[[layouts]]\nname = \"numa\"\nreplicas = \"per-node\"",
    );
    let truth = truth();
    assert!(truth.len() >= 12, "fixtures went missing");
    for (file, want) in &truth {
        let out = numaload_plan(&plan.0, &fixtures().join(file), true);
        assert!(
            out.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got: Value = serde_json::from_slice(&out.stdout).expect("plan JSON");
        let layouts = got["layouts"].as_array().expect("layouts");
        assert_eq!(layouts.len(), 1, "{file}");
        assert_eq!(layouts[0]["name"], "numa", "{file}");
        let replicas = layouts[0]["replicas"].as_array().expect("replicas");
        let domains = want["domains"].as_array().expect("domains");
        assert_eq!(
            replicas.len(),
            domains.len(),
            "{file}: one replica per domain"
        );
        for (i, (replica, domain)) in replicas.iter().zip(domains).enumerate() {
            assert_eq!(replica["cpus"], domain["cpus"], "{file}: replica {i} CPUs");
            let cpus = replica["cpus"].as_array().expect("cpus").len() as u64;
            assert_eq!(replica["threads"], cpus, "{file}: replica {i} threads");
            let memory = replica["memory_nodes"].as_array().expect("memory nodes");
            assert_eq!(memory.len(), 1, "{file}: replica {i} memory {memory:?}");
            let domain_nodes = domain["nodes"].as_array().expect("nodes");
            assert!(
                domain_nodes.contains(&memory[0]),
                "{file}: replica {i} memory {memory:?} outside its domain {domain_nodes:?}"
            );
            let policy = replica["memory_policy"].as_str().expect("policy");
            assert!(policy.starts_with("bind:"), "{file}: {policy}");
        }
        // No reservation: the load generator takes CPUs near no node, else shares one.
        assert!(
            !layouts[0]["load_cpus"].as_array().expect("load").is_empty(),
            "{file}"
        );
    }
}

#[test]
fn policies_resolve_on_a_four_socket_host() {
    let plan = PlanFile::new(
        "policies",
        "[[layouts]]\nname = \"sockets\"\nreplicas = \"per-package\"\n\
         [[layouts]]\nname = \"spread\"\nreplicas = 1\nmemory = \"interleave\"\n\
         [[layouts]]\nname = \"r\"\nsweep.replicas = [1, \"per-l3\"]",
    );
    let out = numaload_plan(&plan.0, &fixtures().join("64amd64-4s2n4ca2co.xml"), true);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Value = serde_json::from_slice(&out.stdout).expect("plan JSON");
    let layouts = got["layouts"].as_array().expect("layouts");
    let names: Vec<&str> = layouts.iter().filter_map(|l| l["name"].as_str()).collect();
    assert_eq!(
        names,
        ["sockets", "spread", "r/replicas=1", "r/replicas=per-l3"]
    );
    let sockets = layouts[0]["replicas"].as_array().expect("replicas");
    assert_eq!(sockets.len(), 4);
    assert_eq!(sockets[1]["memory_nodes"], serde_json::json!([2, 3]));
    assert_eq!(sockets[1]["cpus"].as_array().map(Vec::len), Some(16));
    assert_eq!(layouts[1]["replicas"][0]["memory_policy"], "interleave:0-7");
    assert_eq!(layouts[3]["replicas"].as_array().map(Vec::len), Some(8));

    // The text form says the same, one replica per line.
    let out = numaload_plan(&plan.0, &fixtures().join("64amd64-4s2n4ca2co.xml"), false);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("replica 1: CPUs 16-31, memory bind:2-3, 16 worker threads"),
        "{text}"
    );
    assert!(text.contains("spread: 1 replica\n"), "{text}");
}

#[test]
fn impossible_plans_fail_before_launch_with_one_line_naming_the_field() {
    let cases = [
        (
            "too-many",
            "[[layouts]]\nname = \"x\"\nreplicas = 9\npin = \"node\"",
            "layouts.x.replicas: 9 replicas but this host has 8 NUMA domains",
        ),
        (
            "no-such-node",
            "[[layouts]]\nname = \"x\"\nreplicas = 1\nmemory = [8]",
            "layouts.x.memory: NUMA nodes 8 do not exist",
        ),
        (
            "outside",
            "[[layouts]]\nname = \"x\"\nreplicas = 1\ncpus = \"60-70\"",
            "layouts.x.cpus: CPUs 64-70 are not allowed on this host",
        ),
        (
            "more-than-cpus",
            "[[layouts]]\nname = \"x\"\nreplicas = 65",
            "layouts.x.replicas: 65 replicas but only 64 CPUs",
        ),
        (
            "file-error",
            "[[layouts]]\nname = \"x\"\nreplicas = 0",
            "layouts.x.replicas = 0:",
        ),
    ];
    for (name, layouts, expected) in cases {
        let plan = PlanFile::new(name, layouts);
        let out = numaload_plan(&plan.0, &fixtures().join("64amd64-4s2n4ca2co.xml"), true);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert!(out.stdout.is_empty(), "{name}: printed a placement");
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{name}: not one line: {stderr}");
        assert!(lines[0].contains(expected), "{name}: {stderr}");
        assert!(
            lines[0].contains(&plan.0.display().to_string()),
            "{name}: does not name the file: {stderr}"
        );
    }
}

#[test]
fn a_missing_topology_file_is_bad_input() {
    let plan = PlanFile::new("missing", "[[layouts]]\nname = \"x\"\nreplicas = 1");
    let out = numaload_plan(&plan.0, Path::new("no/such/host.xml"), false);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no/such/host.xml"));
}

/// `nic-local` on a real machine's XML, whose network devices hwloc places: one replica on the
/// NUMA domain of the named interface, and an interface the host lacks refused naming it.
#[test]
fn nic_local_places_on_the_named_interface_s_node() {
    let xml = fixtures().join("32em64t-2n8c+dax+nvme+mic+dimms.xml");
    for (interface, cpus, memory) in [("eth0", 0..=7, 0), ("ib0", 8..=15, 1)] {
        let plan = PlanFile::new(
            &format!("nic-{interface}"),
            &format!(
                "interface = \"{interface}\"\n[[layouts]]\nname = \"nic\"\nreplicas = \"nic-local\""
            ),
        );
        let out = numaload_plan(&plan.0, &xml, true);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let json: Value = serde_json::from_slice(&out.stdout).expect("json");
        let replicas = json["layouts"][0]["replicas"].as_array().expect("replicas");
        assert_eq!(replicas.len(), 1, "{interface}: {json}");
        let expected: Vec<u32> = cpus.collect();
        assert_eq!(
            replicas[0]["cpus"],
            serde_json::json!(expected),
            "{interface}: {json}"
        );
        assert_eq!(
            replicas[0]["memory_nodes"],
            serde_json::json!([memory]),
            "{json}"
        );
    }
    let plan = PlanFile::new(
        "nic-missing",
        "interface = \"eth9\"\n[[layouts]]\nname = \"nic\"\nreplicas = \"nic-local\"",
    );
    let out = numaload_plan(&plan.0, &xml, false);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("load.interface = \"eth9\": this host has no such network interface")
            && stderr.contains("ib0"),
        "{stderr}"
    );
}

/// A reader that leaves early (`numaload plan --json | head`) closes the pipe: the command still
/// ends by its exit code, without a panic. The read end is closed before the command starts, so
/// its first write meets the closed pipe.
#[test]
fn a_reader_that_closes_the_pipe_is_no_failure() {
    for args in [
        &["plan", "--json"][..],
        &["plan"][..],
        &["topology", "--json"][..],
    ] {
        let (reader, writer) = std::io::pipe().expect("a pipe");
        drop(reader);
        let mut command = Command::new(env!("CARGO_BIN_EXE_numaload"));
        command.args(args);
        if args[0] == "plan" {
            command
                .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/quickstart.toml"));
        }
        let output = command.stdout(writer).output().expect("run numaload");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}
