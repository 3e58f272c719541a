//! Under a REAL cgroup CPU quota (and cpuset), as root: the target server warns about worker
//! threads versus its quota, and a run whose agent lives in a limited cgroup reports the agent's
//! and the replicas' limits, resolves its plan inside the agent's cpuset, and flags a replica
//! running 2× or more worker threads than its quota.
//!
//! Needs root (to create cgroups). Not root: prints `SKIPPED: needs root` and returns. cgroup v1
//! (this lab's hybrid hosts: `/sys/fs/cgroup/cpu/NAME`, `/sys/fs/cgroup/cpuset/NAME`) and v2
//! (`/sys/fs/cgroup/NAME` with `cpu.max`, `cpuset.cpus`) are both handled. Every cgroup is
//! removed afterwards, also when an assertion fails (a guard with `Drop`).

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common;
use crate::common::BIN;
const PERIOD_US: u64 = 100_000;

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        == Some("0")
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    V1,
    V2,
}

fn cgroup_kind() -> Option<Kind> {
    if Path::new("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").exists() {
        Some(Kind::V1)
    } else if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        Some(Kind::V2)
    } else {
        None
    }
}

/// `Some(kind)` when this test can create cgroups here; prints why not and returns `None`.
fn can_run(test: &str) -> Option<Kind> {
    if !is_root() {
        // A developer without root may skip; CI never: there the skip would hide the very
        // failure this test exists to catch.
        assert!(
            std::env::var_os("CI").is_none(),
            "{test} needs root to create cgroups, and CI (CI is set) must run it: run as root"
        );
        println!("SKIPPED: needs root ({test} creates cgroups; CI runs as root)");
        return None;
    }
    let kind = cgroup_kind();
    assert!(
        kind.is_some(),
        "running as root but neither cgroup v1 (/sys/fs/cgroup/cpu) nor v2 \
         (/sys/fs/cgroup/cgroup.controllers) is mounted"
    );
    kind
}

fn write(path: &Path, value: &str) {
    std::fs::write(path, value).unwrap_or_else(|e| panic!("write {value:?} to {path:?}: {e}"));
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read {path:?}: {e}"))
        .trim()
        .to_owned()
}

/// A cgroup made for one test (a CPU quota, optionally a cpuset), removed on drop: its processes
/// are killed, then the directories removed.
struct TestCgroup {
    /// The directories holding it: v1 `cpu/NAME` (and `cpuset/NAME`), v2 one `NAME`.
    dirs: Vec<PathBuf>,
    /// The path as `/proc/<pid>/cgroup` shows it.
    path: String,
}

impl TestCgroup {
    /// `quota_us` per 100 ms, and when `cpuset` is given, those CPUs and memory nodes.
    fn new(kind: Kind, tag: &str, quota_us: u64, cpuset: Option<(&str, &str)>) -> TestCgroup {
        let name = format!("numaload-test-{}-{tag}", std::process::id());
        let mut group = TestCgroup {
            dirs: Vec::new(),
            path: format!("/{name}"),
        };
        let quota = format!("{quota_us}");
        match kind {
            Kind::V1 => {
                let cpu = Path::new("/sys/fs/cgroup/cpu").join(&name);
                group.make(&cpu);
                write(&cpu.join("cpu.cfs_period_us"), &PERIOD_US.to_string());
                write(&cpu.join("cpu.cfs_quota_us"), &quota);
                if let Some((cpus, mems)) = cpuset {
                    let set = Path::new("/sys/fs/cgroup/cpuset").join(&name);
                    group.make(&set);
                    write(&set.join("cpuset.cpus"), cpus);
                    write(&set.join("cpuset.mems"), mems);
                }
            }
            Kind::V2 => {
                let root = Path::new("/sys/fs/cgroup");
                let wanted = if cpuset.is_some() {
                    "+cpu +cpuset"
                } else {
                    "+cpu"
                };
                write(&root.join("cgroup.subtree_control"), wanted);
                let dir = root.join(&name);
                group.make(&dir);
                write(&dir.join("cpu.max"), &format!("{quota} {PERIOD_US}"));
                if let Some((cpus, mems)) = cpuset {
                    write(&dir.join("cpuset.cpus"), cpus);
                    write(&dir.join("cpuset.mems"), mems);
                }
            }
        }
        group
    }

    fn make(&mut self, dir: &Path) {
        std::fs::create_dir(dir).unwrap_or_else(|e| panic!("mkdir {dir:?}: {e}"));
        self.dirs.push(dir.to_path_buf());
    }

    /// `sh -c` that moves itself into every directory of the group, then execs `args`.
    fn command(&self, args: &[&str]) -> Command {
        let mut script = String::new();
        for dir in &self.dirs {
            script.push_str(&format!("echo $$ > '{}/cgroup.procs' && ", dir.display()));
        }
        script.push_str("exec \"$@\"");
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(script).arg("sh").arg(BIN).args(args);
        cmd
    }

    fn pids(&self) -> Vec<i32> {
        self.dirs
            .iter()
            .flat_map(|d| {
                std::fs::read_to_string(d.join("cgroup.procs"))
                    .unwrap_or_default()
                    .lines()
                    .filter_map(|l| l.trim().parse().ok())
                    .collect::<Vec<i32>>()
            })
            .collect()
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        // Kill what is left in it (a replica, an agent after a failed assertion), wait for the
        // kernel to empty it, then remove it. A v2 parent's `cgroup.procs` is only writable for
        // moving; killing is enough for both versions.
        let start = Instant::now();
        loop {
            let pids = self.pids();
            if pids.is_empty() || start.elapsed() > Duration::from_secs(10) {
                break;
            }
            for pid in pids {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        for dir in self.dirs.iter().rev() {
            let start = Instant::now();
            while let Err(e) = std::fs::remove_dir(dir) {
                if start.elapsed() > Duration::from_secs(5) {
                    eprintln!("could not remove test cgroup {dir:?}: {e}");
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

/// A child killed (and reaped) when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn target_warns_about_worker_threads_over_a_real_cgroup_quota() {
    let _turn = crate::turns::beside_others();
    let Some(kind) = can_run("target_warns_about_worker_threads_over_a_real_cgroup_quota") else {
        return;
    };
    let group = TestCgroup::new(kind, "target", 50_000, None);
    let mut child = Killed(
        group
            .command(&[
                "target",
                "--variant",
                "async",
                "--listen",
                "127.0.0.1:0",
                "--threads",
                "4",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start target in the cgroup"),
    );
    let pid = child.0.id();
    let stdout = child.0.stdout.take().expect("stdout");
    let mut first = String::new();
    BufReader::new(stdout)
        .read_line(&mut first)
        .expect("target stdout");
    assert!(first.contains("listening on"), "target said {first:?}");
    // It is really in the group, not just asked to be.
    let own = read(&PathBuf::from(format!("/proc/{pid}/cgroup")));
    assert!(own.contains(&group.path), "{own}");
    let _ = child.0.kill();
    let _ = child.0.wait();
    let mut stderr = String::new();
    child
        .0
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("target stderr");
    println!("target stderr under a 0.5 CPU quota ({kind:?}):\n{stderr}");
    assert!(
        stderr.contains("cgroup cpu quota: 0.50 CPUs (50000 us per 100000 us)"),
        "knobs do not show the quota:\n{stderr}"
    );
    assert!(
        stderr.contains("worker threads:   4"),
        "knobs do not show 4 workers:\n{stderr}"
    );
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("warning: 4 worker threads on a cgroup CPU quota of 0.50 CPUs")),
        "no over-subscription warning:\n{stderr}"
    );
}

/// The last online CPU and the first memory node of the host, for a one-CPU cpuset.
fn one_cpu_and_node() -> Option<(u32, u32)> {
    let last_range = |file: &str| -> Option<Vec<u32>> {
        let text = std::fs::read_to_string(file).ok()?;
        let mut out = Vec::new();
        for part in text.trim().split(',') {
            let (lo, hi) = part.split_once('-').unwrap_or((part, part));
            out.extend(lo.parse::<u32>().ok()?..=hi.parse::<u32>().ok()?);
        }
        Some(out)
    };
    let cpus = last_range("/sys/devices/system/cpu/online")?;
    let nodes = last_range("/sys/devices/system/node/has_memory")
        .or_else(|| last_range("/sys/devices/system/node/online"))
        .unwrap_or_else(|| vec![0]);
    (cpus.len() >= 2).then(|| (*cpus.last().unwrap_or(&0), nodes[0]))
}

#[allow(
    clippy::too_many_lines,
    reason = "one real run in a cgroup and every figure of it checked against the cgroup's files"
)]
#[test]
fn a_run_reports_the_agent_and_replica_cgroups_and_flags_oversubscription() {
    let _turn = crate::turns::beside_others();
    let Some(kind) = can_run("a_run_reports_the_agent_and_replica_cgroups") else {
        return;
    };
    // 0.75 CPU and, with two CPUs or more, one CPU: the plan must be resolved inside it.
    let cpuset = one_cpu_and_node();
    let cpuset_text = cpuset.map(|(cpu, node)| (cpu.to_string(), node.to_string()));
    let group = TestCgroup::new(
        kind,
        "agent",
        75_000,
        cpuset_text.as_ref().map(|(c, n)| (c.as_str(), n.as_str())),
    );
    let mut agent = Killed(
        group
            .command(&["agent", "--listen", "127.0.0.1:0", "--insecure"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start agent in the cgroup"),
    );
    let stderr = agent.0.stderr.take().expect("agent stderr");
    let mut lines = BufReader::new(stderr).lines();
    let first = lines.next().expect("agent says something").expect("utf8");
    // Port 0: the agent prints the address it bound ("... listening on ADDRESS (mode)").
    let address = first
        .split_once("listening on ")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("agent: {first}"))
        .to_owned();
    std::thread::spawn(move || for _ in lines {});

    let dir = std::env::temp_dir().join(format!("numaload-cgroup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch");
    let plan = dir.join("plan.toml");
    // Two workers on 0.75 CPU: 2 ≥ 2 × 0.75, the target warns and the report flags it.
    std::fs::write(
        &plan,
        r#"
name = "cgroup"
[target]
name = "async"
work_us = 5
[load]
mode = "open"
rate = 200
connections = 2
duration = "1s"
warmup = "300ms"
reserve_cpus = 0
# The generator shares the quota'd CPU: on a busy machine a few sends miss the window's close.
# Delivery is not what this test is about.
min_delivered = "90%"
[[layouts]]
name = "quota"
replicas = 1
threads = 2
"#,
    )
    .expect("plan");
    let out = dir.join("result.json");
    let run = Command::new(BIN)
        .args([
            "run",
            plan.to_str().expect("utf8"),
            "--agent",
            &address,
            "--out",
            out.to_str().expect("utf8"),
            // 200 requests are too few for a p99.9: suspect, and this test is about the cgroup.
            "--allow-suspect",
        ])
        .output()
        .expect("run controller");
    let report = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "numaload run failed\nstdout:\n{report}\nstderr:\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    println!("report:\n{report}");
    let result = common::read_json(&out);
    common::assert_matches_schema(&result);

    let host = &result["host"]["cgroup"];
    println!("result.host.cgroup = {host}");
    let version = match kind {
        Kind::V1 => "v1",
        Kind::V2 => "v2",
    };
    assert_eq!(host["version"], version, "{host}");
    assert!(
        host["path"]
            .as_str()
            .expect("path")
            .starts_with(&group.path),
        "{host}"
    );
    assert_eq!(host["cpu_quota_cpus"].as_f64(), Some(0.75), "{host}");
    assert_eq!(
        result["hosts"][0]["cgroup"], *host,
        "hosts[] carries it too"
    );
    if let Some((cpu, node)) = cpuset {
        assert_eq!(host["cpuset_cpus"], serde_json::json!([cpu]), "{host}");
        // Plans are resolved inside the agent's cpuset (hwloc sees only the allowed CPUs).
        assert_eq!(result["host"]["allowed_cpus"], serde_json::json!([cpu]));
        let _ = node;
    }

    let layout = &result["layouts"][0];
    // Measured: in a one-CPU cpuset the generator shares the replica's CPU, which makes the
    // layout suspect rather than ok; any worse status would be a failure here.
    assert!(
        matches!(layout["status"].as_str(), Some("ok" | "suspect")),
        "{} {}: {}",
        layout["status"],
        layout["error"],
        layout["suspect"]
    );
    let replicas = layout["replicas"].as_array().expect("replicas");
    assert_eq!(replicas.len(), 1);
    for r in replicas {
        let c = &r["cgroup"];
        println!(
            "replica {} cgroup = {c}, warnings = {}",
            r["index"], r["warnings"]
        );
        // Replicas inherit the agent's cgroup.
        assert_eq!(c["path"], host["path"], "{c}");
        assert_eq!(c["cpu_quota_cpus"].as_f64(), Some(0.75), "{c}");
        if let Some((cpu, _)) = cpuset {
            assert_eq!(r["actual_cpus"], serde_json::json!([cpu]), "{r}");
        }
        let warnings: Vec<&str> = r["warnings"]
            .as_array()
            .expect("warnings")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(
            warnings
                .iter()
                .any(|w| w.starts_with("warning: 2 worker threads on a cgroup CPU quota of 0.75")),
            "{warnings:?}"
        );
    }
    // The text report: the agent's limits in the host header, the replica's quota, the flag.
    assert!(
        report.contains(&format!(
            "  agent cgroup {version} {}: CPU quota 0.75 CPUs",
            host["path"].as_str().unwrap_or_default()
        )),
        "{report}"
    );
    assert!(
        report.contains("cgroup CPU quota 0.75 CPUs for 2 workers (2× or more: throttled)"),
        "{report}"
    );
    assert!(
        report.contains("replica 0 runs 2 worker threads on a cgroup CPU quota of 0.75 CPUs"),
        "{report}"
    );
    drop(agent);
    drop(group);
    let _ = std::fs::remove_dir_all(&dir);
}
