//! The scheduler series of a real run on this host: one replica of the
//! built-in `async` target pinned to one CPU under closed-loop load, its handler spinning a few
//! hundred microseconds per request. With 4 worker threads on that CPU the runnable workers queue
//! for it, so the run-queue wait rises; with 1 worker nothing else of the replica competes for the
//! CPU, so it stays near zero. Judged as a ratio of the two layouts' maxima and medians (robust
//! on a noisy 2-core VM), and the result matches the schema and charts the series.

use crate::common;
use crate::common::{assert_matches_schema, layout, numaload, run_plan, write_plan};
use serde_json::Value;

const PLAN: &str = r#"
name = "sched-test"
[target]
name = "async"
work_us = 300
work_mode = "spin"
[load]
mode = "closed"
connections = 16
duration = "2s"
warmup = "500ms"
reserve_cpus = 1
[[layouts]]
name = "four-workers"
replicas = 1
cpus = "0"
threads = 4
[[layouts]]
name = "one-worker"
replicas = 1
cpus = "0"
threads = 1
"#;

/// The median over a layout's samples of one scheduler rate.
fn median(layout: &Value, rate: &str) -> f64 {
    let mut values: Vec<f64> = layout["thread_samples"]
        .as_array()
        .expect("samples")
        .iter()
        .filter_map(|s| s["sched"][rate].as_f64())
        .collect();
    assert!(values.len() >= 5, "{rate}: {} samples", values.len());
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[test]
fn run_queue_wait_rises_when_a_replicas_threads_outnumber_its_cpus() {
    let _turn = crate::turns::alone();
    let dir = common::scratch("sched", "workers");
    let run = run_plan(&write_plan(&dir, PLAN), &["--quiet"]);
    let (result, out) = (run.result, run.out);
    assert_matches_schema(&result);
    let (four, one) = (
        layout(&result, "four-workers"),
        layout(&result, "one-worker"),
    );
    let max = |l: &Value, rate: &str| {
        l["replicas"][0]["sched_max"][rate]
            .as_f64()
            .unwrap_or_else(|| panic!("{rate} max: {}", l["replicas"][0]))
    };
    let (wait_four, wait_one) = (
        median(four, "run_delay_ms_per_s"),
        median(one, "run_delay_ms_per_s"),
    );
    let (max_four, max_one) = (
        max(four, "run_delay_ms_per_s"),
        max(one, "run_delay_ms_per_s"),
    );
    println!(
        "run-queue wait ms/s: 4 workers median {wait_four:.1} max {max_four:.1}; \
         1 worker median {wait_one:.1} max {max_one:.1}"
    );
    // Four workers on one busy CPU: while one runs, the runnable others wait (up to 3000 ms/s).
    assert!(wait_four >= 100.0, "4 workers: median {wait_four:.1} ms/s");
    assert!(
        wait_four >= 3.0 * wait_one.max(10.0),
        "4 workers {wait_four:.1} ms/s vs 1 worker {wait_one:.1} ms/s"
    );
    // Each layout's max is of the same samples as its median. (Not four's max against one's:
    // a single second in which the host's other processes took the one worker's CPU is a max
    // as high as four workers' own.)
    assert!(
        max_four >= wait_four && max_one >= wait_one,
        "max {max_four} and {max_one} below the medians"
    );
    // The other rates are there, and the replica's CPU is in use. Four workers sharing one CPU
    // must switch; one worker alone on a quiet CPU, always busy, may never switch at all (seen:
    // a median of 0 per second on an otherwise idle machine), so only its series is required.
    assert!(median(four, "ctxt_switches_per_s") > 0.0);
    for l in [four, one] {
        let (used, waited) = (
            median(l, "cpus_used"),
            median(l, "run_delay_ms_per_s") / 1_000.0,
        );
        assert!(used > 0.0, "{}: CPU used {used:.2}", l["name"]);
        // Under closed-loop load a worker always has a request to serve: it runs or waits for
        // its CPU nearly all the time. How that time splits between the two is the machine's
        // (other processes on the CPU take their share); the sum is the replica's own, and
        // half of it leaves room for the idle moments between requests.
        assert!(
            used + waited > 0.5,
            "{}: CPU used {used:.2} and run-queue wait {waited:.2} of each second",
            l["name"]
        );
        assert!(max(l, "ctxt_switches_per_s") >= 0.0, "{}", l["name"]);
    }
    // The tokio runtime's own view of the same layouts: 4 workers vs 1.
    let workers = four["thread_samples"]
        .as_array()
        .expect("samples")
        .iter()
        .find_map(|s| s["tokio"]["workers"].as_i64());
    assert_eq!(workers, Some(4));
    // Work stealing and local queues (a tokio_unstable build of the target): present as series.
    let samples = four["thread_samples"].as_array().expect("samples");
    assert!(
        samples
            .iter()
            .any(|s| s["tokio"]["steals_per_s"].as_f64().is_some()),
        "steals per second in the samples"
    );
    assert!(samples
        .iter()
        .any(|s| s["tokio"]["local_queue_depth"].as_i64().is_some()));
    let html = numaload(&["report", out.to_str().expect("utf8"), "--format", "html"]);
    let html = String::from_utf8_lossy(&html.stdout);
    for heading in [
        "Run-queue wait per replica",
        "Context switches per replica",
        "tokio: busy workers",
        "tokio: steals",
        "tokio: local queue depth",
    ] {
        assert!(html.contains(heading), "{heading} charted");
    }
}
