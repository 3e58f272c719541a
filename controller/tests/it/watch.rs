//! `numaload watch` on real processes: the figures against `/proc`, a process that exits
//! mid-watch, a missing pid, `--name`, and `--metrics-listen` through promtool (its metric lint,
//! and the shipped thread-count alert rule on the series it serves). Everything started is killed.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common;
use crate::common::BIN;
use numaload_test_support::promtool;
use serde_json::Value;

/// A child killed and reaped when the test ends, whatever happens.
struct Running(Child);

impl Running {
    fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(program: &str, args: &[&str]) -> Running {
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    Running(child)
}

fn proc_field(pid: u32, field: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
        .trim()
        .to_owned()
}

/// The built target with 3 workers, pinned to CPU 0 by `taskset` (so "allowed CPUs" is not just
/// every CPU), once all its threads are up.
fn target() -> Running {
    let target = spawn(
        "taskset",
        &[
            "-c",
            "0",
            BIN,
            "target",
            "--variant",
            "async",
            "--threads",
            "3",
            "--listen",
            "127.0.0.1:0",
        ],
    );
    let pid = target.pid();
    let deadline = Instant::now() + Duration::from_secs(20);
    // taskset execs the target in place: same pid. Wait for its workers.
    while Instant::now() < deadline {
        let threads = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("Threads:"))
                    .and_then(|v| v.trim().parse::<u32>().ok())
            });
        if threads.is_some_and(|t| t >= 4) {
            return target;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the target never started its 3 workers");
}

fn watch(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(BIN)
        .arg("watch")
        .args(args)
        .output()
        .expect("run numaload watch");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn cpulist(text: &str) -> Vec<u64> {
    numaload_proto::cpulist::parse(text)
        .expect("cpulist")
        .into_iter()
        .map(u64::from)
        .collect()
}

#[test]
fn once_json_matches_proc() {
    let _turn = crate::turns::beside_others();
    let target = target();
    let pid = target.pid();
    let (code, stdout, stderr) = watch(&[&pid.to_string(), "--once", "--json"]);
    assert_eq!(code, Some(0), "{stderr}");
    let doc: Value = serde_json::from_str(&stdout).expect("one JSON object");
    assert_eq!(doc["pid"], pid);
    let threads = proc_field(pid, "Threads");
    assert_eq!(doc["threads"].to_string(), threads, "{doc}");
    let allowed = cpulist(&proc_field(pid, "Cpus_allowed_list"));
    assert_eq!(allowed, [0]);
    let as_list = |v: &Value| -> Vec<u64> {
        v.as_array()
            .expect("array")
            .iter()
            .filter_map(Value::as_u64)
            .collect()
    };
    assert_eq!(as_list(&doc["cpus_allowed"]), allowed);
    let by_state = &doc["threads_by_state"];
    let states: u64 = ["running", "sleeping", "uninterruptible", "other"]
        .iter()
        .map(|s| by_state[s].as_u64().expect("count"))
        .sum();
    assert_eq!(states.to_string(), threads);
    let mut tids: Vec<u64> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("task dir")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    tids.sort();
    let details = doc["processes"][0]["thread_details"]
        .as_array()
        .expect("threads");
    let seen: Vec<u64> = details.iter().filter_map(|t| t["tid"].as_u64()).collect();
    assert_eq!(seen, tids);
    for t in details {
        assert_eq!(as_list(&t["cpus_allowed"]), allowed, "{t}");
        assert_eq!(t["last_cpu"], 0, "pinned to CPU 0: {t}");
    }
    for field in [
        "run_delay_ns",
        "voluntary_ctxt_switches",
        "nonvoluntary_ctxt_switches",
        "rss_bytes",
        "cpu_time_ns",
    ] {
        assert!(doc[field].is_u64(), "{field}: {doc}");
    }
    assert!(doc["voluntary_ctxt_switches"].as_u64() > Some(0));
    assert!(doc["rss_bytes"].as_u64() > Some(1 << 20));
    let pages = doc["pages_by_node"].as_object().expect("pages by node");
    assert!(pages.values().any(|p| p.as_u64() > Some(0)), "{doc}");
    assert!(doc.get("cpu_quota_cpus").is_some() && doc.get("warning").is_some());
    assert!(doc["processes"].as_array().is_some_and(|p| p.len() == 1));
}

#[test]
fn two_pids_give_an_array() {
    let _turn = crate::turns::beside_others();
    let a = spawn("sleep", &["60"]);
    let b = spawn("sleep", &["61"]);
    let (code, stdout, stderr) = watch(&[
        &a.pid().to_string(),
        &b.pid().to_string(),
        "--once",
        "--json",
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    let doc: Value = serde_json::from_str(&stdout).expect("JSON");
    let pids: Vec<u64> = doc
        .as_array()
        .expect("an array")
        .iter()
        .filter_map(|d| d["pid"].as_u64())
        .collect();
    assert_eq!(pids, [u64::from(a.pid()), u64::from(b.pid())]);
}

#[test]
fn a_process_that_exits_ends_the_watch_with_one_line() {
    let _turn = crate::turns::beside_others();
    let sleeper = spawn("sleep", &["1"]);
    let pid = sleeper.pid();
    let started = Instant::now();
    let (code, stdout, stderr) =
        watch(&[&pid.to_string(), "--interval", "200ms", "--count", "150"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        stderr,
        format!("numaload watch: process {pid} (sleep) exited\n")
    );
    assert!(stdout.contains(&format!("{pid} (sleep)")), "{stdout}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "150 refreshes would take 30 s; the watch should end when sleep does"
    );
}

#[test]
fn a_missing_pid_is_one_line_and_exit_2() {
    let _turn = crate::turns::beside_others();
    let (code, stdout, stderr) = watch(&["999999999", "--once"]);
    assert_eq!(code, Some(2));
    assert_eq!(stdout, "");
    assert_eq!(stderr, "numaload: error: pid 999999999: no such process\n");
    let (code, _, stderr) = watch(&["--name", "^no such process name here$", "--once"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn name_finds_every_match_by_command_line() {
    let _turn = crate::turns::beside_others();
    let a = spawn("sleep", &["3141.59"]);
    let b = spawn("sleep", &["3141.59"]);
    let (code, stdout, stderr) = watch(&["--name", "^sleep 3141\\.59$", "--once", "--json"]);
    assert_eq!(code, Some(0), "{stderr}");
    let doc: Value = serde_json::from_str(&stdout).expect("JSON");
    let pids: Vec<u64> = doc
        .as_array()
        .expect("--name gives an array")
        .iter()
        .filter_map(|d| d["pid"].as_u64())
        .collect();
    let mut want = [u64::from(a.pid()), u64::from(b.pid())];
    want.sort();
    assert_eq!(pids, want);
}

/// Scrapes `--metrics-listen` once and returns the body.
fn scrape_watch(pid: u32) -> String {
    let mut watcher = Running(
        Command::new(BIN)
            .args([
                "watch",
                &pid.to_string(),
                "--interval",
                "200ms",
                "--count",
                "300",
            ])
            .args(["--metrics-listen", "127.0.0.1:0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("watch"),
    );
    let stderr = watcher.0.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let address = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| {
            l.strip_prefix("watch metrics on http://")?
                .strip_suffix("/metrics")
                .map(str::to_owned)
        })
        .expect("the watch says where its metrics are");
    let mut stream = std::net::TcpStream::connect(&address).expect("connect");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    drop(watcher);
    response
        .split_once("\r\n\r\n")
        .expect("head and body")
        .1
        .to_owned()
}

#[test]
fn metrics_pass_promtool_and_the_thread_alert_reads_them() {
    let _turn = crate::turns::beside_others();
    let target = target();
    let pid = target.pid();
    let body = scrape_watch(pid);
    let threads = proc_field(pid, "Threads");
    let series = format!("process_threads{{pid=\"{pid}\",comm=\"numaload\"}}");
    assert!(
        body.contains(&format!("{series} {threads}\n")),
        "{series} {threads} not in\n{body}"
    );
    for name in [
        "numaload_watch_run_delay_seconds_total{",
        "numaload_watch_context_switches_total{",
        "numaload_watch_threads{",
        "numaload_watch_anon_pages{",
    ] {
        assert!(body.contains(name), "{name} not in\n{body}");
    }
    let (ok, text) = promtool::check_metrics(&body);
    assert!(ok, "{text}\n{body}");

    // The shipped rule on the very series the watch serves (as Prometheus stores it, with the
    // scrape's job and instance): above 50 threads for 30 s fires, with pid and comm kept.
    let dir = common::scratch("watch", "rules");
    let rules = common::manifest("../deploy/prometheus/numaload-rules.yml");
    let yaml: serde_norway::Value =
        serde_norway::from_str(&std::fs::read_to_string(&rules).expect("rules")).expect("yaml");
    let rule = &yaml["groups"][0]["rules"][0];
    assert_eq!(rule["alert"].as_str(), Some("NumaloadManyOsThreads"));
    let description = rule["annotations"]["description"].as_str().expect("text");
    let stored = series.replace('}', ",job=\"watch\",instance=\"host:9464\"}");
    let test = serde_json::json!({
        "rule_files": [rules.display().to_string()],
        "evaluation_interval": "5s",
        "tests": [{
            "interval": "5s",
            "input_series": [{"series": stored, "values": "60x12"}],
            "alert_rule_test": [{
                "eval_time": "45s",
                "alertname": "NumaloadManyOsThreads",
                "exp_alerts": [{
                    "exp_labels": {
                        "severity": "warning", "job": "watch", "instance": "host:9464",
                        "pid": pid.to_string(), "comm": "numaload"
                    },
                    "exp_annotations": {
                        "summary": "watch host:9464 has 60 OS threads",
                        "description": description
                    }
                }]
            }]
        }]
    });
    let file = dir.join("watch-rules.test.yml");
    std::fs::write(&file, test.to_string()).expect("write");
    let (ok, text) = promtool::run(&dir, &["test", "rules", &file.display().to_string()], "");
    assert!(ok, "{text}");
}
