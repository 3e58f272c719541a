//! The Go runtime's own view of its scheduler through the agent library:
//! the shipped Go test server with `schedtrace = "go"` added to its entries, so the agent starts
//! it with `GODEBUG=schedtrace=1000` and parses the `SCHED` lines of its stderr into each
//! sample. Under the same load the cgo build, whose handler blocks 1 ms in C, makes the runtime
//! start OS threads well past GOMAXPROCS = 1, and its `SCHED` lines say so; the pure build's stay
//! near its baseline.
//!
//! The trace changes what it watches (Go 1.19): with `schedtrace` set, sysmon never takes its
//! deep sleep, so after an idle spell it looks every 10 ms, and it hands a P off only from a call
//! it saw in C on two looks in a row. Calls of 1 ms (the entry's default) then run one at a time
//! on the one P and no thread is started (6 threads, ~900 req/s at 32 connections here, where
//! without the trace the same load starts dozens). So this test blocks 20 ms per call.

use std::path::Path;

use numaload_agent::config::{AgentConfig, ConfigFile};
use numaload_agent::loadgen::Cancel;
use numaload_agent::run::{self, StartSignal};
use numaload_proto::v1::{self, layout_spec::Replicas, run_event::Event, RunPlan};
use numaload_test_support::go_servers;

/// The shipped example configuration, with the Go binaries built here and the scheduler trace on.
fn config() -> AgentConfig {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/go-server/agent.toml");
    let text = std::fs::read_to_string(path)
        .expect("example config")
        .replace(
            "/usr/local/lib/numaload",
            &go_servers(env!("CARGO_TARGET_TMPDIR"))
                .display()
                .to_string(),
        )
        .replace(
            "stop_grace = \"2s\"\n",
            "stop_grace = \"2s\"\nschedtrace = \"go\"\n",
        );
    assert_eq!(text.matches("schedtrace = \"go\"").count(), 2, "{text}");
    ConfigFile::parse(&text)
        .unwrap_or_else(|e| panic!("config: {e}"))
        .apply(AgentConfig::builtin(Path::new("/nonexistent/numaload")))
}

fn plan(target: &str, knobs: &[(&str, &str)]) -> RunPlan {
    RunPlan {
        run_id: "schedtrace".into(),
        name: "schedtrace".into(),
        target: Some(v1::TargetSpec {
            name: target.into(),
            knobs: knobs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        }),
        load: Some(v1::LoadSpec {
            mode: v1::LoadMode::Closed as i32,
            connections: 32,
            duration_ms: 2_500,
            warmup_ms: 200,
            reserve_cpus: 1,
            timeout_ms: 2_000,
            ..Default::default()
        }),
        layouts: vec![v1::LayoutSpec {
            name: target.into(),
            replicas: Some(Replicas::Count(1)),
            pin: v1::Pin::None as i32,
            memory: v1::MemoryPolicy::None as i32,
            cpus: "0".into(),
            threads: 1,
            ..Default::default()
        }],
        skip_calibration: true,
        ..Default::default()
    }
}

/// Every `SCHED` line sampled in one layout, and the summary's most threads.
async fn traces(
    config: &AgentConfig,
    target: &str,
    knobs: &[(&str, &str)],
) -> (Vec<v1::GoSchedTrace>, u32) {
    let topology = numaload_agent::topology::discover().expect("topology");
    let prepared = run::prepare(&plan(target, knobs), config, &topology)
        .unwrap_or_else(|e| panic!("prepare: {e}"));
    let (events, mut rx) = tokio::sync::mpsc::channel::<Result<v1::RunEvent, tonic::Status>>(4096);
    let collect = async move {
        let (mut lines, mut max, mut failed) = (Vec::new(), None, Vec::new());
        while let Some(Ok(event)) = rx.recv().await {
            match event.event {
                Some(Event::Samples(batch)) => {
                    lines.extend(batch.samples.into_iter().flat_map(|s| s.go_sched))
                }
                Some(Event::Summary(s)) => {
                    println!(
                        "{}: /proc threads max {}, requests {}",
                        s.layout,
                        s.replicas[0].threads_max,
                        s.workers.iter().map(|w| w.requests).sum::<u64>()
                    );
                    max = Some(s.replicas[0].go_threads_max)
                }
                Some(Event::Failed(f)) => failed.push(f.error),
                _ => {}
            }
        }
        (lines, max.unwrap_or_else(|| panic!("{target}: {failed:?}")))
    };
    let run = run::execute(
        prepared,
        config,
        events,
        Cancel::new(),
        StartSignal::default(),
    );
    let ((), outcome) = tokio::join!(run, collect);
    outcome
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sched_lines_show_the_cgo_build_starting_threads_and_the_pure_build_not() {
    let _turn = crate::turns::alone();
    let config = config();
    let (pure, pure_max) = traces(&config, "go-server", &[]).await;
    // 20 ms in C, longer than sysmon's 10 ms between looks (see the module doc).
    let (cgo, cgo_max) = traces(&config, "go-server-cgo", &[("block_us", "20000")]).await;
    for (name, lines) in [("pure", &pure), ("cgo", &cgo)] {
        // About one line a second over 2.5 s, each stamped with the sample that read it.
        assert!(lines.len() >= 2, "{name}: {lines:?}");
        assert!(lines.iter().all(|l| l.gomaxprocs == 1), "{name}: {lines:?}");
        assert!(lines.iter().all(|l| l.local_runqueues.len() == 1));
        assert!(lines.windows(2).all(|w| w[0].runtime_ms < w[1].runtime_ms));
        assert!(lines.windows(2).all(|w| w[0].t_ms <= w[1].t_ms));
    }
    let threads = |lines: &[v1::GoSchedTrace]| lines.iter().map(|l| l.threads).max().unwrap_or(0);
    println!(
        "SCHED threads: pure {:?}, cgo {:?}",
        pure.iter().map(|l| l.threads).collect::<Vec<_>>(),
        cgo.iter().map(|l| l.threads).collect::<Vec<_>>()
    );
    assert_eq!((threads(&pure), threads(&cgo)), (pure_max, cgo_max));
    // 32 connections, each request 1 ms inside C: each call holds an OS thread.
    assert!(
        cgo_max >= 10 && cgo_max >= 2 * pure_max,
        "SCHED threads: cgo {cgo_max}, pure {pure_max}"
    );
}
