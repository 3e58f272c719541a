//! Your service under numaload, end to end through the binary: the shipped example pairs
//! (`examples/go-server/`, `examples/nginx/`: an agent configuration and a plan) run with
//! `numaload run PLAN --agent-config FILE`, shortened, on this host. The Go test server is built
//! from `tests/servers/go` with Debian's Go; nginx is Debian's. Each compares two layouts with
//! every thread of every process verified, and the result carries the request mix, the status
//! codes, the process trees and the scraped series; the report shows them.

use std::path::{Path, PathBuf};

use numaload_test_support::go_servers;
use serde_json::Value;

use crate::common::{assert_matches_schema, layout, manifest, run_plan, scratch};

/// An example pair, shortened (one trial, a short window) and with the Go binaries where this
/// test built them; returns the plan and configuration paths.
fn example(name: &str, edit_plan: impl Fn(String) -> String) -> (PathBuf, PathBuf) {
    example_in(name, name, edit_plan)
}

/// [`example`] in a scratch directory of its own (tests run in parallel).
fn example_in(
    name: &str,
    scratch_name: &str,
    edit_plan: impl Fn(String) -> String,
) -> (PathBuf, PathBuf) {
    let dir = scratch("own", scratch_name);
    let read = |file: &str| {
        std::fs::read_to_string(manifest(&format!("../examples/{name}/{file}"))).expect(file)
    };
    let config = read("agent.toml").replace(
        "/usr/local/lib/numaload",
        &go_servers(env!("CARGO_TARGET_TMPDIR"))
            .display()
            .to_string(),
    );
    let plan = edit_plan(
        read("plan.toml")
            .replace("repeat = 3", "repeat = 1")
            .replace("duration = \"10s\"", "duration = \"1s\"")
            .replace("warmup = \"2s\"", "warmup = \"300ms\""),
    );
    let (plan_path, config_path) = (dir.join("plan.toml"), dir.join("agent.toml"));
    std::fs::write(&plan_path, plan).expect("plan");
    std::fs::write(&config_path, config).expect("config");
    (plan_path, config_path)
}

/// The example run with its agent configuration: the result (matching the schema) and the
/// report.
fn run(plan: &Path, config: &Path) -> (Value, String) {
    let run = run_plan(plan, &["--agent-config", config.to_str().expect("utf8")]);
    assert_matches_schema(&run.result);
    (run.result, run.stdout)
}

fn scraped_last(replica: &Value, series: &str) -> f64 {
    replica["scraped"]
        .as_array()
        .expect("scraped")
        .iter()
        .find(|s| s["name"] == series)
        .and_then(|s| s["last"].as_f64())
        .unwrap_or_else(|| panic!("{series} not scraped: {replica}"))
}

#[test]
fn the_go_server_example_compares_layouts_with_a_request_mix() {
    let _turn = crate::turns::beside_others();
    let (plan, config) = example("go-server", |plan| {
        plan.replace("connections = 64", "connections = 16")
    });
    let (result, report) = run(&plan, &config);
    for name in ["one-process", "per-node"] {
        let layout = layout(&result, name);
        assert_eq!(layout["status"], "ok", "{layout}");
        assert_eq!(layout["errors"], 0, "{layout}");
        // The mix: 9 GETs of / to 1 POST of /echo, each with its own merged figures.
        let mix = layout["request_mix"].as_array().expect("request_mix");
        let requests = |n: &str| {
            let entry = mix.iter().find(|m| m["name"] == n).expect(n);
            assert!(
                entry["latency_ns"]["p99"].as_u64().expect("p99") > 0,
                "{entry}"
            );
            assert_eq!(entry["errors"], 0);
            entry["requests"].as_u64().expect("requests")
        };
        let (work, echo) = (requests("work"), requests("echo"));
        let total = layout["requests"].as_u64().expect("requests");
        assert_eq!(work + echo, total, "the mix accounts for every request");
        let share = echo as f64 / total as f64;
        assert!((0.07..=0.13).contains(&share), "echo share {share}");
        assert_eq!(
            layout["status_codes"]["200"].as_u64(),
            Some(total),
            "{layout}"
        );
        // The server's own request counter agrees with the generator (no suspicion raised).
        assert!(
            !layout["suspect"].to_string().contains("miscounts"),
            "{}",
            layout["suspect"]
        );
        for replica in layout["replicas"].as_array().expect("replicas") {
            let served = replica["server_requests"]
                .as_u64()
                .expect("server_requests");
            let received = replica["generator_responses"]
                .as_u64()
                .expect("generator_responses");
            assert!(
                received >= total,
                "{received} responses over the load, {total} measured"
            );
            assert!(
                served.abs_diff(received) <= 10 + received / 100,
                "{served} vs {received}"
            );
            assert_eq!(replica["placement_ok"], true, "{replica}");
            assert_eq!(replica["processes"], 1);
            assert!(
                replica["threads"].as_u64().expect("threads") >= 3,
                "{replica}"
            );
            // GOMAXPROCS = {threads}: the layout's worker threads reached the Go runtime.
            let threads = replica["worker_threads"].as_f64().expect("worker_threads");
            assert_eq!(scraped_last(replica, "go_gomaxprocs"), threads, "{replica}");
        }
    }
    assert!(
        report.contains("work") && report.contains("echo"),
        "{report}"
    );
}

#[test]
fn the_nginx_example_finds_and_verifies_every_worker() {
    let _turn = crate::turns::beside_others();
    let (plan, config) = example("nginx", |plan| {
        plan.replace("rate = 20000", "rate = 2000")
            .replace("connections = 64", "connections = 8")
            .replace(
                "name = \"one-nginx\"\nreplicas = 1\nthreads = \"auto\"",
                "name = \"one-nginx\"\nreplicas = 1\nthreads = 3",
            )
    });
    let (result, report) = run(&plan, &config);
    let one = layout(&result, "one-nginx");
    assert_eq!(one["status"], "ok", "{one}");
    let replica = &one["replicas"][0];
    // worker_processes {threads} = 3: the master and three workers, every one verified.
    assert_eq!(replica["processes_max"], 4, "{replica}");
    let at_end = replica["processes_at_end"]
        .as_array()
        .expect("processes_at_end");
    assert_eq!(at_end.len(), 4, "{replica}");
    assert_eq!(replica["placement_ok"], true);
    let layout = layout(&result, "per-node");
    assert_eq!(layout["status"], "ok", "{layout}");
    assert_eq!(
        layout["status_codes"]["200"].as_u64(),
        layout["requests"].as_u64()
    );
    assert!(report.contains("one-nginx") && report.contains("per-node"));
}

#[test]
fn a_server_count_that_disagrees_with_the_generator_marks_the_layout_suspect() {
    let _turn = crate::turns::beside_others();
    // The counter named is not the requests counter (go_threads, a gauge of a few threads):
    // exactly the mismatch the check exists to catch, between what the server says it served
    // and what the generator received.
    let (plan, config) = example_in("go-server", "go-server-miscount", |plan| {
        plan.replace("connections = 64", "connections = 4")
    });
    let text = std::fs::read_to_string(&config).expect("config").replacen(
        "requests_counter = \"http_requests_total\"",
        "requests_counter = \"go_threads\"",
        1,
    );
    std::fs::write(&config, text).expect("config");
    let (result, report) = run(&plan, &config);
    let one = layout(&result, "one-process");
    let suspect = one["suspect"].to_string();
    assert!(
        suspect.contains("the server counted") && suspect.contains("one of them miscounts"),
        "{suspect}"
    );
    assert!(report.contains("one of them miscounts"), "{report}");
}
