//! Servers nobody here wrote, run as targets by the agent library on this host: the Go test
//! server (pure Go and cgo builds, built here from `tests/servers/go` with Debian's Go) and
//! Debian's nginx (a master and its workers), started from agent configurations — the shipped
//! examples in `examples/` — with every thread of every process verified, and the failures a
//! user's server can have: never ready, dead at once, dead while measured, a thread that moved
//! itself off its CPUs, grandchildren that left the process group. Nothing may survive a layout.

use std::path::Path;
use std::time::Duration;

use numaload_agent::config::{AgentConfig, ConfigFile};
use numaload_agent::loadgen::Cancel;
use numaload_agent::run::{self, StartSignal};
use numaload_proto::v1::{
    self, layout_spec::Replicas, run_event::Event, LayoutFailed, LayoutSummary, Placed, RunPlan,
};
use numaload_test_support::go_servers;

/// An example agent configuration from `examples/`, with the Go binaries where this test built
/// them.
fn example_config(path: &str) -> String {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path))
        .expect("example config");
    text.replace(
        "/usr/local/lib/numaload",
        &go_servers(env!("CARGO_TARGET_TMPDIR"))
            .display()
            .to_string(),
    )
}

fn config(text: &str) -> AgentConfig {
    ConfigFile::parse(text)
        .unwrap_or_else(|e| panic!("config: {e}"))
        .apply(AgentConfig::builtin(Path::new("/nonexistent/numaload")))
}

fn layout(name: &str, edit: impl FnOnce(&mut v1::LayoutSpec)) -> v1::LayoutSpec {
    let mut spec = v1::LayoutSpec {
        name: name.into(),
        replicas: Some(Replicas::Count(1)),
        pin: v1::Pin::None as i32,
        memory: v1::MemoryPolicy::None as i32,
        ..Default::default()
    };
    edit(&mut spec);
    spec
}

/// One replica on CPU 0 with memory bound to node 0; the load generator gets CPU 1.
fn pinned(name: &str, threads: u32) -> v1::LayoutSpec {
    layout(name, |l| {
        l.cpus = "0".into();
        l.memory = v1::MemoryPolicy::Nodes as i32;
        l.memory_nodes = vec![0];
        l.threads = threads;
    })
}

fn plan(target: &str, connections: u32, layouts: Vec<v1::LayoutSpec>) -> RunPlan {
    RunPlan {
        run_id: "targets".into(),
        name: "targets".into(),
        target: Some(v1::TargetSpec {
            name: target.into(),
            ..Default::default()
        }),
        load: Some(v1::LoadSpec {
            mode: v1::LoadMode::Closed as i32,
            connections,
            duration_ms: 1_000,
            warmup_ms: 200,
            reserve_cpus: 1,
            timeout_ms: 2_000,
            ..Default::default()
        }),
        layouts,
        skip_calibration: true,
        ..Default::default()
    }
}

#[derive(Debug, Default)]
struct Outcome {
    placed: Vec<Placed>,
    summaries: Vec<LayoutSummary>,
    failed: Vec<LayoutFailed>,
}

impl Outcome {
    fn summary(&self, layout: &str) -> &LayoutSummary {
        self.summaries
            .iter()
            .find(|s| s.layout == layout)
            .unwrap_or_else(|| panic!("no summary for {layout}: {:?}", self.failed))
    }

    fn failure(&self, layout: &str) -> &str {
        &self
            .failed
            .iter()
            .find(|f| f.layout == layout)
            .unwrap_or_else(|| panic!("{layout} did not fail"))
            .error
    }
}

/// Runs a plan on this host with the agent library, as `numaload agent` would.
async fn execute(config: &AgentConfig, plan: &RunPlan) -> Outcome {
    let topology = numaload_agent::topology::discover().expect("topology");
    let prepared = run::prepare(plan, config, &topology).unwrap_or_else(|e| panic!("prepare: {e}"));
    let (events, mut rx) = tokio::sync::mpsc::channel::<Result<v1::RunEvent, tonic::Status>>(4096);
    let collect = async move {
        let mut outcome = Outcome::default();
        while let Some(Ok(event)) = rx.recv().await {
            match event.event {
                Some(Event::Placed(p)) => outcome.placed.push(p),
                Some(Event::Summary(s)) => outcome.summaries.push(s),
                Some(Event::Failed(f)) => outcome.failed.push(f),
                _ => {}
            }
        }
        outcome
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

/// Pids of live processes whose command line holds `marker`.
fn processes_with(marker: &str) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let zombie = state
                .rsplit_once(')')
                .is_some_and(|(_, r)| r.trim_start().starts_with('Z'));
            !zombie
                && std::fs::read(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|c| String::from_utf8_lossy(&c).contains(marker))
        })
        .collect()
}

fn scraped<'a>(summary: &'a LayoutSummary, name: &str) -> &'a v1::ScrapedSeries {
    summary.replicas[0]
        .scraped
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("{name} not scraped: {:?}", summary.replicas[0].scraped))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_go_server_runs_pinned_with_gomaxprocs_and_every_thread_verified() {
    let _turn = crate::turns::beside_others();
    let config = config(&example_config("examples/go-server/agent.toml"));
    let plan = plan(
        "go-server",
        8,
        vec![layout("anywhere", |l| l.threads = 2), pinned("pinned", 1)],
    );
    let outcome = execute(&config, &plan).await;
    assert!(outcome.failed.is_empty(), "{:?}", outcome.failed);
    for placed in &outcome.placed {
        let replica = &placed.replicas[0];
        assert!(replica.placement_ok, "{placed:?}");
        assert_eq!(replica.processes, 1);
        assert_eq!(replica.tree[0].comm, "go-server");
        // The Go runtime runs several OS threads; every one of them was read back.
        assert!(replica.threads >= 3, "{} threads", replica.threads);
    }
    let pinned = outcome
        .placed
        .iter()
        .find(|p| p.layout == "pinned")
        .expect("placed");
    assert_eq!(pinned.replicas[0].actual_cpus, [0]);
    assert_eq!(pinned.replicas[0].memory_policy, "bind:0");
    for (layout, gomaxprocs) in [("anywhere", 2.0), ("pinned", 1.0)] {
        let summary = outcome.summary(layout);
        // GOMAXPROCS={threads} reached the server: it says so in its own metrics.
        assert_eq!(
            scraped(summary, "go_gomaxprocs").last,
            gomaxprocs,
            "{layout}"
        );
        assert!(scraped(summary, "go_goroutines").max >= 1.0);
        // The server's own counter, scraped every 100 ms while measured (its last sample is up
        // to one interval before the end, so it may trail the generator's count a little).
        let served = scraped(summary, "http_requests_total").last;
        let sent: u64 = summary.workers.iter().map(|w| w.requests).sum();
        assert!(
            served >= 0.5 * sent as f64,
            "{layout}: served {served}, measured {sent}"
        );
        let replica = &summary.replicas[0];
        assert_eq!(replica.processes_max, 1);
        assert!(
            replica.mismatches_at_end.is_empty(),
            "{:?}",
            replica.mismatches_at_end
        );
        assert!(replica.threads_max >= 3 && replica.samples > 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cgo_handler_blocking_in_c_makes_the_go_runtime_start_threads() {
    let _turn = crate::turns::beside_others();
    let config = config(&example_config("examples/go-server/agent.toml"));
    let mut figures = Vec::new();
    for target in ["go-server", "go-server-cgo"] {
        let outcome = execute(&config, &plan(target, 32, vec![pinned(target, 1)])).await;
        let summary = outcome.summary(target);
        assert!(summary.workers.iter().map(|w| w.requests).sum::<u64>() > 0);
        figures.push((
            summary.replicas[0].threads_max,
            scraped(summary, "go_threads").max,
        ));
    }
    let [(pure, pure_go), (cgo, cgo_go)] = figures[..] else {
        unreachable!()
    };
    // 32 connections, each request 1 ms inside C: each call holds an OS thread, so the runtime
    // starts threads well past GOMAXPROCS = 1; the pure build stays near its baseline.
    assert!(
        cgo >= 2 * pure && cgo >= 10,
        "threads: cgo {cgo}, pure {pure}"
    );
    assert!(
        cgo_go >= 10.0 && pure_go < cgo_go,
        "go_threads: cgo {cgo_go}, pure {pure_go}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_master_and_every_worker_are_found_verified_and_stopped() {
    let _turn = crate::turns::beside_others();
    let config = config(&example_config("examples/nginx/agent.toml"));
    let plan = plan("nginx", 8, vec![pinned("nginx", 3)]);
    let outcome = execute(&config, &plan).await;
    assert!(outcome.failed.is_empty(), "{:?}", outcome.failed);
    let placed = &outcome.placed[0].replicas[0];
    assert!(placed.placement_ok, "{placed:?}");
    let summary = outcome.summary("nginx");
    let replica = &summary.replicas[0];
    // worker_processes {threads} = 3: a master and three workers, all verified at the end.
    assert_eq!(replica.processes_max, 4, "{replica:?}");
    assert_eq!(replica.processes.len(), 4, "{:?}", replica.processes);
    let workers = replica
        .processes
        .iter()
        .filter(|p| p.comm == "nginx")
        .count();
    assert_eq!(workers, 4, "{:?}", replica.processes);
    assert!(replica
        .processes
        .iter()
        .all(|p| p.memory_policy == "bind:0"));
    assert!(replica.mismatches_at_end.is_empty());
    assert!(summary.workers.iter().map(|w| w.requests).sum::<u64>() > 100);
    let master = placed.pid;
    assert!(
        !Path::new(&format!("/proc/{master}")).exists(),
        "the master outlived its layout"
    );
    for p in &replica.processes {
        assert!(
            !Path::new(&format!("/proc/{}", p.pid)).exists(),
            "{p:?} survived"
        );
    }
}

/// A shell script as a target: `{listen}` goes to the Go server it starts.
fn script_target(name: &str, script: &str, ready: &str) -> String {
    let go = go_servers(env!("CARGO_TARGET_TMPDIR")).join("go-server");
    format!(
        "[targets.{name}]\nprogram = \"/bin/sh\"\nargs = [\"-c\", {script:?}, \"{name}\", \"{go}\", \"{{listen}}\"]\n\
         ready = {ready:?}\nready_within = \"1s\"\nstop_grace = \"500ms\"\n",
        go = go.display()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thread_that_moves_itself_off_its_cpus_fails_the_layout_naming_it() {
    let _turn = crate::turns::beside_others();
    // The wrapper starts the server, then, once the load runs, widens every thread of it to all
    // CPUs: the check at the end must catch the server's threads, not the shell's.
    let script = r#""$1" -listen "$2" & sleep 0.6; taskset -a -p -c 0-1 $! >/dev/null; wait"#;
    let config = config(&script_target("mover", script, "http:/healthz"));
    let outcome = execute(&config, &plan("mover", 4, vec![pinned("mover", 1)])).await;
    let error = outcome.failure("mover");
    assert!(
        error.starts_with("placement does not match the plan when the measurement ended"),
        "{error}"
    );
    assert!(
        error.contains("(go-server)") || error.contains("(sh)") || error.contains("tid "),
        "{error}"
    );
    assert!(
        error.contains("may run on CPUs 0-1") && error.contains("intended 0 (outside: 1)"),
        "{error}"
    );
    assert!(error.contains(" tid "), "names the thread: {error}");
    assert!(
        outcome.placed[0].replicas[0].placement_ok,
        "at ready it was still in place"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_name_the_probe_the_exit_status_and_the_output_and_others_go_on() {
    let _turn = crate::turns::beside_others();
    let never = "[targets.never]\nprogram = \"/bin/sh\"\n\
                 args = [\"-c\", \"echo starting on $0 >&2; exec sleep 30\", \"{listen}\"]\n\
                 ready = \"tcp\"\nready_within = \"1s\"\n";
    let dies = "[targets.dies]\nprogram = \"/bin/sh\"\n\
                args = [\"-c\", \"echo cannot bind $0 >&2; exit 3\", \"{listen}\"]\n";
    // Dies 1 s in: after warm-up, inside the measurement.
    let later = script_target(
        "later",
        r#""$1" -listen "$2" & sleep 0.8; kill $!; echo lost my server >&2; exit 4"#,
        "http:/healthz",
    );
    let config = config(&format!("{never}{dies}{later}"));
    let mut plan = plan("never", 2, vec![layout("never", |_| {})]);
    let target = |name: &str| {
        Some(v1::TargetSpec {
            name: name.into(),
            ..Default::default()
        })
    };
    plan.layouts
        .push(layout("dies", |l| l.target = target("dies")));
    plan.layouts
        .push(layout("later", |l| l.target = target("later")));
    plan.layouts
        .push(layout("fine", |l| l.target = target("never")));
    // The last layout runs a target that works, to show a failure does not stop the run.
    let ok = script_target("ok", r#"exec "$1" -listen "$2""#, "http:/healthz");
    let config = {
        let mut config = config;
        let extra = self::config(&ok);
        config.targets.extend(extra.targets);
        config
    };
    plan.layouts.last_mut().expect("layout").target = target("ok");
    let started = std::time::Instant::now();
    let outcome = execute(&config, &plan).await;

    let never = outcome.failure("never");
    assert!(never.contains("ready = \"tcp\" on 127.0.0.1:"), "{never}");
    assert!(never.contains("not answering within 1s"), "{never}");
    assert!(
        never.contains("starting on 127.0.0.1:"),
        "the last stderr lines: {never}"
    );
    let dies = outcome.failure("dies");
    assert!(dies.contains("exited before it was ready"), "{dies}");
    assert!(dies.contains("exited with status 3"), "{dies}");
    assert!(dies.contains("cannot bind 127.0.0.1:"), "{dies}");
    let later = outcome.failure("later");
    assert!(
        later.starts_with("during the measurement: replica 0"),
        "{later}"
    );
    assert!(
        later.contains("exited with status 4") && later.contains("lost my server"),
        "{later}"
    );
    assert!(
        outcome
            .summary("fine")
            .workers
            .iter()
            .map(|w| w.requests)
            .sum::<u64>()
            > 0
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(
        processes_with("sleep 30").is_empty(),
        "the never-ready server survived"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grandchildren_that_left_the_group_die_with_their_layout() {
    let _turn = crate::turns::beside_others();
    // A wrapper that starts a helper in a session of its own (out of the replica's process
    // group) and the server in the background, the way init scripts do.
    let marker = format!("2{}.5", std::process::id());
    let script = format!(r#"setsid sleep {marker} & "$1" -listen "$2" & wait"#);
    let config = config(&script_target("wrapper", &script, "http:/healthz"));
    let outcome = execute(&config, &plan("wrapper", 2, vec![pinned("wrapper", 1)])).await;
    let summary = outcome.summary("wrapper");
    // sh, setsid's sleep, the Go server.
    assert_eq!(
        summary.replicas[0].processes_max, 3,
        "{:?}",
        summary.replicas[0]
    );
    assert!(
        processes_with(&marker).is_empty(),
        "the grandchild in its own session survived"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_that_drops_the_memory_policy_fails_the_layout_naming_it() {
    let _turn = crate::turns::beside_others();
    // The server's helper asks for node-local allocation itself (numactl --localalloc):
    // its process no longer carries the replica's bind:0.
    let marker = format!("3{}.5", std::process::id());
    let script = format!(r#"numactl --localalloc sleep {marker} & exec "$1" -listen "$2""#);
    let config = config(&script_target("dropper", &script, "http:/healthz"));
    let outcome = execute(&config, &plan("dropper", 2, vec![pinned("dropper", 1)])).await;
    let error = outcome.failure("dropper");
    assert!(
        error.starts_with("placement does not match the plan"),
        "{error}"
    );
    assert!(
        error.contains("(sleep): memory policy local; intended bind:0"),
        "names the process and both policies: {error}"
    );
    assert!(
        processes_with(&marker).is_empty(),
        "the helper survived its layout"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_on_a_taken_address_is_told_to_listen_on_its_own() {
    let _turn = crate::turns::beside_others();
    // The server listens on a fixed address (here one this test holds), not on the {listen} the
    // agent passes it: the second replica of any such target meets the first one's port.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = taken.local_addr().expect("address");
    let script = format!(r#"exec "$1" -listen {address}"#);
    let config = config(&script_target("fixed", &script, "http:/healthz"));
    let outcome = execute(&config, &plan("fixed", 2, vec![pinned("fixed", 1)])).await;
    let error = outcome.failure("fixed");
    assert!(error.contains("exited before it was ready"), "{error}");
    assert!(error.contains("address already in use"), "{error}");
    assert!(
        error.ends_with(numaload_agent::replica::ADDRESS_IN_USE_HINT),
        "the hint to use {{listen}}: {error}"
    );
    drop(taken);
}
