//! The files in `deploy/` against the real binary: each parses, has the fields its kind needs,
//! and every `numaload` command line in it is one the binary's argument parser accepts (a renamed
//! or removed flag fails here, not on a fleet).
//!
//! - `deploy/systemd/numaload-agent.service`: sections, a dedicated user, restart policy,
//!   hardening, `ExecStart`, and `systemd-analyze verify`.
//! - `deploy/kubernetes/agent-daemonset.yaml`: a DaemonSet whose selector matches its pod labels,
//!   Guaranteed QoS (requests == limits, integer CPUs), the TLS secret mounted where `--tls-dir`
//!   points, the port it listens on exposed.
//! - `deploy/kubernetes/controller-job.yaml`: the plan ConfigMap (placed by `numaload plan` on a
//!   real 4-package topology), the Job mounting it where `numaload run` reads it, TLS and results.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize as _;
use serde_norway::Value;

const BIN: &str = env!("CARGO_BIN_EXE_numaload");
/// Where the deploy files install the binary.
const INSTALLED: &str = "/usr/local/bin/numaload";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(relative: &str) -> String {
    let path = repo().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Every document of a (multi-document) YAML file.
fn yaml_documents(relative: &str) -> Vec<Value> {
    let text = read(relative);
    serde_norway::Deserializer::from_str(&text)
        .map(|doc| Value::deserialize(doc).unwrap_or_else(|e| panic!("{relative}: {e}")))
        .filter(|doc| !doc.is_null())
        .collect()
}

/// `value` at a dotted path (`spec.template.metadata.labels`; a number indexes a sequence).
fn at<'a>(value: &'a Value, path: &str, file: &str) -> &'a Value {
    let mut here = value;
    for key in path.split('.') {
        let next = match key.parse::<usize>() {
            Ok(i) => here.get(i),
            Err(_) => here.get(key),
        };
        here = next.unwrap_or_else(|| panic!("{file}: no {path} (missing {key:?})"));
    }
    here
}

fn text<'a>(value: &'a Value, path: &str, file: &str) -> &'a str {
    at(value, path, file)
        .as_str()
        .unwrap_or_else(|| panic!("{file}: {path} is not a string"))
}

fn seq<'a>(value: &'a Value, path: &str, file: &str) -> &'a [Value] {
    at(value, path, file)
        .as_sequence()
        .map(Vec::as_slice)
        .unwrap_or_else(|| panic!("{file}: {path} is not a list"))
}

fn strings(values: &[Value], what: &str) -> Vec<String> {
    values
        .iter()
        .map(|v| match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            other => panic!("{what}: {other:?} is not a string"),
        })
        .collect()
}

/// The one document of `kind` in `docs`, with the fields every object needs.
fn object<'a>(docs: &'a [Value], kind: &str, api_version: &str, file: &str) -> &'a Value {
    let found: Vec<&Value> = docs
        .iter()
        .filter(|d| d.get("kind").and_then(Value::as_str) == Some(kind))
        .collect();
    assert_eq!(found.len(), 1, "{file}: expected one {kind}");
    let doc = found[0];
    assert_eq!(text(doc, "apiVersion", file), api_version, "{file}: {kind}");
    assert!(
        !text(doc, "metadata.name", file).is_empty(),
        "{file}: {kind} without metadata.name"
    );
    assert_eq!(
        text(doc, "metadata.namespace", file),
        "numaload",
        "{file}: {kind}"
    );
    doc
}

/// `numaload SUBCOMMAND --help`.
fn help(subcommand: &str) -> String {
    let out = Command::new(BIN)
        .args([subcommand, "--help"])
        .output()
        .expect("running numaload");
    assert!(
        out.status.success(),
        "numaload {subcommand} --help: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 help")
}

/// Whether `help` lists `flag` (`--tls-dir`), as a whole word.
fn lists_flag(help: &str, flag: &str) -> bool {
    help.match_indices(flag).any(|(i, _)| {
        let before = help[..i].chars().next_back();
        let after = help[i + flag.len()..].chars().next();
        before.is_none_or(|c| !c.is_alphanumeric() && c != '-')
            && after.is_none_or(|c| !c.is_alphanumeric() && c != '-')
    })
}

/// Checks a command line from a deploy file against the binary: the installed path, a
/// subcommand, every `--flag` listed in that subcommand's `--help`, and the whole line accepted by
/// the parser (run with `--help` appended, which stops before anything is done: clap rejects an
/// unknown flag or a malformed value it meets first). Returns the flags and their values.
fn check_command(args: &[String], source: &str) -> BTreeMap<String, Vec<String>> {
    assert!(args.len() >= 2, "{source}: command {args:?} too short");
    assert_eq!(args[0], INSTALLED, "{source}: runs {:?}", args[0]);
    let subcommand = args[1].as_str();
    let help = help(subcommand);
    let mut flags: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut i = 2;
    while i < args.len() {
        let arg = &args[i];
        if let Some(flag) = arg.strip_prefix("--") {
            let (name, inline_value) = match flag.split_once('=') {
                Some((name, value)) => (format!("--{name}"), Some(value.to_owned())),
                None => (format!("--{flag}"), None),
            };
            assert!(
                lists_flag(&help, &name),
                "{source}: `numaload {subcommand}` has no {name} flag (not in its --help):\n{help}"
            );
            let value = match inline_value {
                Some(v) => Some(v),
                None if args.get(i + 1).is_some_and(|next| !next.starts_with("--")) => {
                    i += 1;
                    Some(args[i].clone())
                }
                None => None,
            };
            flags.entry(name).or_default().extend(value);
        }
        i += 1;
    }
    let parsed = Command::new(BIN)
        .args(&args[1..])
        .arg("--help")
        .output()
        .expect("running numaload");
    assert!(
        parsed.status.success(),
        "{source}: the binary's parser refuses {args:?}: {}",
        String::from_utf8_lossy(&parsed.stderr)
    );
    flags
}

/// A Kubernetes quantity that is a whole number of CPUs (`"8"` or `8`, not `"500m"` or `1.5`).
fn whole_cpus(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// Checks a container for Guaranteed QoS: cpu and memory requested, requests == limits, whole
/// CPUs.
fn assert_guaranteed(container: &Value, file: &str) {
    let requests = at(container, "resources.requests", file);
    let limits = at(container, "resources.limits", file);
    assert_eq!(
        requests, limits,
        "{file}: Guaranteed QoS needs resources.requests == resources.limits"
    );
    for resource in ["cpu", "memory"] {
        assert!(
            requests.get(resource).is_some(),
            "{file}: Guaranteed QoS needs a {resource} request and limit"
        );
    }
    let cpu = at(requests, "cpu", file);
    assert!(
        whole_cpus(cpu).is_some_and(|n| n > 0),
        "{file}: cpu = {cpu:?}: exclusive CPUs (static CPU manager) need a whole number"
    );
}

/// The volume of `pod` mounted at `mount_path` in `container`.
fn volume_at<'a>(pod: &'a Value, container: &Value, mount_path: &str, file: &str) -> &'a Value {
    let mount = seq(container, "volumeMounts", file)
        .iter()
        .find(|m| m.get("mountPath").and_then(Value::as_str) == Some(mount_path))
        .unwrap_or_else(|| panic!("{file}: nothing mounted at {mount_path}"));
    let name = text(mount, "name", file);
    seq(pod, "volumes", file)
        .iter()
        .find(|v| v.get("name").and_then(Value::as_str) == Some(name))
        .unwrap_or_else(|| panic!("{file}: volume {name} mounted at {mount_path} is not declared"))
}

/// The one value of `flag`.
fn flag_value<'a>(flags: &'a BTreeMap<String, Vec<String>>, flag: &str, source: &str) -> &'a str {
    match flags.get(flag).map(Vec::as_slice) {
        Some([value]) => value,
        other => panic!("{source}: expected one {flag} VALUE, found {other:?}"),
    }
}

fn assert_selector_matches(doc: &Value, file: &str) {
    let selector = at(doc, "spec.selector.matchLabels", file)
        .as_mapping()
        .expect("matchLabels is a map");
    let labels = at(doc, "spec.template.metadata.labels", file);
    assert!(!selector.is_empty(), "{file}: empty selector");
    for (key, value) in selector {
        assert_eq!(
            labels.get(key),
            Some(value),
            "{file}: selector {key:?}={value:?} does not match the pod template's labels"
        );
    }
}

#[test]
fn agent_daemonset() {
    let file = "deploy/kubernetes/agent-daemonset.yaml";
    let docs = yaml_documents(file);
    let ds = object(&docs, "DaemonSet", "apps/v1", file);
    assert_selector_matches(ds, file);
    let pod = at(ds, "spec.template.spec", file);
    let containers = seq(pod, "containers", file);
    assert_eq!(containers.len(), 1, "{file}: one container, the agent");
    let agent = &containers[0];
    assert!(!text(agent, "image", file).is_empty());
    for container in containers {
        assert_guaranteed(container, file);
    }

    let command = strings(seq(agent, "command", file), file);
    assert_eq!(command.get(1).map(String::as_str), Some("agent"), "{file}");
    let flags = check_command(&command, file);
    let tls_dir = flag_value(&flags, "--tls-dir", file);
    let secret = volume_at(pod, agent, tls_dir, file);
    assert!(
        !text(secret, "secret.secretName", file).is_empty(),
        "{file}: --tls-dir {tls_dir} is not a mounted secret"
    );

    // The controller dials the node's address: hostNetwork, and the listen port declared.
    assert_eq!(
        at(pod, "hostNetwork", file).as_bool(),
        Some(true),
        "{file}: agents are dialled at their node's address"
    );
    let listen = flag_value(&flags, "--listen", file);
    let port: u64 = listen
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or_else(|| panic!("{file}: --listen {listen} has no port"));
    let ports = seq(agent, "ports", file);
    assert!(
        ports
            .iter()
            .any(|p| p.get("containerPort").and_then(Value::as_u64) == Some(port)),
        "{file}: --listen port {port} not among the container's ports"
    );
    // Under the RuntimeDefault seccomp profile set_mempolicy needs CAP_SYS_NICE (see the file).
    let added = strings(seq(agent, "securityContext.capabilities.add", file), file);
    assert!(
        added.iter().any(|c| c == "SYS_NICE"),
        "{file}: memory binding needs SYS_NICE under RuntimeDefault seccomp"
    );
}

#[test]
fn controller_job() {
    let file = "deploy/kubernetes/controller-job.yaml";
    let docs = yaml_documents(file);
    let config_map = object(&docs, "ConfigMap", "v1", file);
    let claim = object(&docs, "PersistentVolumeClaim", "v1", file);
    let job = object(&docs, "Job", "batch/v1", file);
    let pod = at(job, "spec.template.spec", file);
    let restart = text(pod, "restartPolicy", file);
    assert!(
        restart == "Never" || restart == "OnFailure",
        "{file}: a Job's pods need restartPolicy Never or OnFailure, not {restart}"
    );
    let containers = seq(pod, "containers", file);
    assert_eq!(containers.len(), 1, "{file}: one container, the controller");
    let controller = &containers[0];

    let command = strings(seq(controller, "command", file), file);
    assert_eq!(command.get(1).map(String::as_str), Some("run"), "{file}");
    let flags = check_command(&command, file);
    assert!(
        !flags.get("--agent").is_none_or(Vec::is_empty),
        "{file}: the Job names no --agent"
    );

    // The plan: the positional argument, in the mounted ConfigMap of this file.
    let plan_path = Path::new(&command[2]);
    assert!(!command[2].starts_with("--"), "{file}: run needs a plan");
    let plan_dir = plan_path.parent().and_then(Path::to_str).expect("plan dir");
    let plan_key = plan_path
        .file_name()
        .and_then(|n| n.to_str())
        .expect("name");
    let volume = volume_at(pod, controller, plan_dir, file);
    assert_eq!(
        text(volume, "configMap.name", file),
        text(config_map, "metadata.name", file),
        "{file}: {plan_dir} is not the plan ConfigMap"
    );
    let plan = at(config_map, "data", file)
        .get(plan_key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{file}: the ConfigMap has no data key {plan_key}"));
    assert_plan_places(plan, file);

    let tls_dir = flag_value(&flags, "--tls-dir", file);
    let secret = volume_at(pod, controller, tls_dir, file);
    assert!(!text(secret, "secret.secretName", file).is_empty());

    // Results outlive the pod: --out is on the claim.
    let out = Path::new(flag_value(&flags, "--out", file));
    let out_dir = out.parent().and_then(Path::to_str).expect("--out dir");
    let results = volume_at(pod, controller, out_dir, file);
    assert_eq!(
        text(results, "persistentVolumeClaim.claimName", file),
        text(claim, "metadata.name", file),
        "{file}: --out is not on the results claim"
    );
}

/// The ConfigMap's plan is valid and places on a 4-package, 8-node host (hwloc XML fixture).
fn assert_plan_places(plan: &str, file: &str) {
    let dir = std::env::temp_dir().join(format!("numaload-deploy-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("plan.toml");
    std::fs::write(&path, plan).expect("writing the plan");
    let topology = repo().join("agent/tests/fixtures/topologies/64amd64-4s2n4ca2co.xml");
    let out = Command::new(BIN)
        .arg("plan")
        .arg(&path)
        .arg("--topology")
        .arg(&topology)
        .output()
        .expect("running numaload plan");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "{file}: `numaload plan` refuses the ConfigMap's plan: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An INI-ish systemd unit: section → key → values (a key may repeat).
type Unit = BTreeMap<String, BTreeMap<String, Vec<String>>>;

fn parse_unit(text: &str, file: &str) -> Unit {
    let mut unit = Unit::new();
    let mut section: Option<String> = None;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        assert!(
            !line.ends_with('\\'),
            "{file}:{}: continuation lines are not used here",
            n + 1
        );
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = Some(name.to_owned());
            unit.entry(name.to_owned()).or_default();
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("{file}:{}: not KEY=VALUE: {line}", n + 1));
        let section = section
            .as_ref()
            .unwrap_or_else(|| panic!("{file}:{}: a key before any section", n + 1));
        unit.get_mut(section)
            .expect("section")
            .entry(key.trim().to_owned())
            .or_default()
            .push(value.trim().to_owned());
    }
    unit
}

#[test]
fn agent_systemd_unit() {
    let file = "deploy/systemd/numaload-agent.service";
    let text = read(file);
    let unit = parse_unit(&text, file);
    for section in ["Unit", "Service", "Install"] {
        assert!(unit.contains_key(section), "{file}: no [{section}]");
    }
    let service = &unit["Service"];
    let one = |key: &str| -> &str {
        match service.get(key).map(Vec::as_slice) {
            Some([value]) => value,
            other => panic!("{file}: [Service] {key}= expected once, found {other:?}"),
        }
    };
    assert_eq!(one("Restart"), "on-failure", "{file}");
    assert!(!one("RestartSec").is_empty(), "{file}");
    let user = one("User");
    assert!(
        !user.is_empty() && user != "root" && user != "0",
        "{file}: User={user}: run as a dedicated user"
    );
    assert_eq!(one("NoNewPrivileges"), "yes", "{file}");
    assert_eq!(one("ProtectSystem"), "strict", "{file}");
    assert_eq!(one("ProtectHome"), "yes", "{file}");
    assert_eq!(one("PrivateTmp"), "yes", "{file}");
    let families: Vec<&str> = one("RestrictAddressFamilies").split_whitespace().collect();
    for family in ["AF_INET", "AF_INET6", "AF_UNIX"] {
        assert!(families.contains(&family), "{file}: {family} not allowed");
    }
    let nofile: u64 = one("LimitNOFILE").parse().expect("LimitNOFILE is a number");
    assert!(
        nofile >= 65_536,
        "{file}: LimitNOFILE={nofile} is too low for load connections"
    );
    // The capabilities the unit may hold are exactly those it grants (none, or CAP_SYS_NICE).
    assert_eq!(
        one("CapabilityBoundingSet"),
        one("AmbientCapabilities"),
        "{file}: bounding set and ambient set differ"
    );
    assert!(
        one("CapabilityBoundingSet")
            .split_whitespace()
            .all(|c| c == "CAP_SYS_NICE"),
        "{file}: only CAP_SYS_NICE can be needed (see the comments)"
    );

    let command: Vec<String> = one("ExecStart")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    assert_eq!(command.get(1).map(String::as_str), Some("agent"), "{file}");
    let flags = check_command(&command, file);
    assert_eq!(flag_value(&flags, "--tls-dir", file), "/etc/numaload/tls");
    assert!(
        !unit["Install"].get("WantedBy").is_none_or(|w| w.is_empty()),
        "{file}: [Install] WantedBy= missing"
    );

    systemd_analyze_verify(&text, file);
}

/// `systemd-analyze verify` on the unit (with the binary under test as ExecStart): it names
/// unknown keys and bad values. Never skipped: `scripts/setup-system.sh` installs it (Debian's
/// `systemd` package).
fn systemd_analyze_verify(unit: &str, file: &str) {
    let probe = Command::new("systemd-analyze").arg("--version").output();
    assert!(
        probe.is_ok_and(|o| o.status.success()),
        "systemd-analyze not found: scripts/setup-system.sh installs it (Debian package systemd); \
         it checks {file}"
    );
    let dir = std::env::temp_dir().join(format!("numaload-deploy-unit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("numaload-agent.service");
    std::fs::write(&path, unit.replace(INSTALLED, BIN)).expect("writing the unit");
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("running systemd-analyze");
    let _ = std::fs::remove_dir_all(&dir);
    let report =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    let complaints: Vec<&str> = report
        .lines()
        .filter(|l| l.contains("numaload-agent.service"))
        .collect();
    assert!(
        complaints.is_empty(),
        "{file}: systemd-analyze verify:\n{report}"
    );
}

#[test]
fn lists_flag_matches_whole_flags_only() {
    let help = "  --tls-dir <DIR>  x\n  --listen-all\n  --out, -o";
    assert!(lists_flag(help, "--tls-dir"));
    assert!(lists_flag(help, "--out"));
    assert!(!lists_flag(help, "--listen"));
    assert!(!lists_flag(help, "--tls"));
}

#[test]
fn readme_names_every_file() {
    let readme = read("deploy/README.md");
    for file in [
        "systemd/numaload-agent.service",
        "kubernetes/agent-daemonset.yaml",
        "kubernetes/controller-job.yaml",
    ] {
        assert!(
            readme.contains(file),
            "deploy/README.md does not mention {file}"
        );
    }
}
