//! `examples/ffi-storm.toml` for real: the ffi target's blocking C call dispatched three ways
//! under the same open-loop load. Asserts the shapes the example exists to show, as ratios
//! (never absolute times): spawn-blocking's OS threads climb far above its worker count,
//! bounded keeps them near its limit, and inline starves an unrelated fast request (/metrics).
//! Bounded and inline cannot keep up with the rate: they must say so (status `incomplete`,
//! exit 4) and show it as latency (inline's p99 a lower bound of seconds), never as a blank.

use crate::common;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

#[test]
fn the_blocking_call_storm_shows_thread_growth_a_bound_and_starvation() {
    let _turn = crate::turns::alone();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/ffi-storm.toml");
    let out = std::env::temp_dir().join(format!("numaload-ffi-storm-{}.json", std::process::id()));
    let run = Command::new(env!("CARGO_BIN_EXE_numaload"))
        .arg("run")
        .arg(&example)
        .arg("--out")
        .arg(&out)
        .arg("--quiet")
        .output()
        .expect("run numaload");
    // Bounded and inline fall behind the rate on purpose: the measurement of those layouts is
    // not to be trusted as a capacity figure, and the exit code says so.
    assert_eq!(
        run.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let result = common::read_json(&out);
    let layout = |name: &str| -> Value {
        result["layouts"]
            .as_array()
            .expect("layouts")
            .iter()
            .find(|l| l["name"] == name)
            .cloned()
            .expect(name)
    };
    let replica = |name: &str, key: &str| -> i64 {
        layout(name)["replicas"][0][key]
            .as_i64()
            .unwrap_or_else(|| panic!("{name}: {key}"))
    };
    let (sb_threads, sb_workers) = (
        replica("spawn-blocking", "threads_max"),
        replica("spawn-blocking", "worker_threads"),
    );
    let bounded_threads = replica("bounded", "threads_max");
    println!("threads max: spawn-blocking {sb_threads} ({sb_workers} workers), bounded {bounded_threads}");
    assert!(
        sb_threads >= sb_workers + 16,
        "spawn-blocking: {sb_threads} threads for {sb_workers} workers"
    );
    assert!(
        sb_threads >= 2 * bounded_threads,
        "spawn-blocking {sb_threads} vs bounded {bounded_threads}"
    );
    // The limit (the target caps its blocking pool at it) + the workers + main and the
    // runtime's few helpers.
    assert!(
        bounded_threads <= 8 + replica("bounded", "worker_threads") + 4,
        "bounded: {bounded_threads}"
    );
    assert!(
        replica("bounded", "blocking_threads_max") <= 8,
        "blocking pool stays within the limit"
    );

    let (inline_probe, sb_probe) = (
        replica("inline", "metrics_probe_p50_ns"),
        replica("spawn-blocking", "metrics_probe_p50_ns"),
    );
    println!("metrics probe p50: inline {inline_probe} ns, spawn-blocking {sb_probe} ns");
    assert!(
        sb_probe > 0 && inline_probe >= 10 * sb_probe,
        "inline {inline_probe} vs spawn-blocking {sb_probe}"
    );
    for name in ["bounded", "inline"] {
        assert_eq!(
            layout(name)["status"],
            "incomplete",
            "{name} cannot keep up"
        );
    }
    let inline = &layout("inline")["latency_ns"];
    println!("inline latency: {inline}");
    assert!(
        inline["p99"].as_u64().expect("p99") >= 1_000_000_000,
        "inline's p99 shows the collapse as seconds: {inline}"
    );
    assert!(
        inline["lower_bounds"]
            .as_array()
            .is_some_and(|b| b.iter().any(|f| f == "p99")),
        "inline's p99 is decided by requests never answered: {inline}"
    );
    let rate = layout("inline")["target_rate_rps"].as_f64().expect("rate");
    assert!(
        layout("inline")["throughput_rps"].as_f64().expect("rps") < rate / 2.0,
        "inline collapses"
    );
    // Spawn-blocking serves far more than inline, which one blocked worker starves. Whether it
    // reaches the full rate depends on the host: the test runs a debug-built target, which a
    // slow host holds below 6,000 req/s (the release build keeps up).
    let served = |name: &str| layout(name)["throughput_rps"].as_f64().expect("rps");
    assert!(
        served("spawn-blocking") >= 4.0 * served("inline").max(1.0),
        "spawn-blocking {} req/s vs inline {} req/s",
        served("spawn-blocking"),
        served("inline")
    );
}
