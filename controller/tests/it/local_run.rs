//! The whole slice, for real: the `numaload` binary reads a plan, starts its local agent on
//! loopback gRPC, launches pinned replica processes, drives open-loop load at them, and writes
//! a result that must match the schema and show what was measured and where it ran.

use std::path::{Path, PathBuf};

use crate::common;
use crate::common::{
    assert_matches_schema, numaload, run_plan, Finished, OpenPlan, LAYOUT_PER_NODE, LAYOUT_SINGLE,
};

fn scratch(name: &str) -> PathBuf {
    common::scratch("local-run", name)
}

/// Two layouts, one replica and one per node, at 1000 req/s for 2 s.
fn plan() -> OpenPlan<'static> {
    OpenPlan {
        name: "local-run-test",
        rate: 1000,
        connections: 8,
        layouts: &[LAYOUT_SINGLE, LAYOUT_PER_NODE],
        ..OpenPlan::default()
    }
}

fn alive(pid: u64) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap_or_default()
            .contains("State:\tZ")
}

#[test]
fn a_local_run_measures_real_replicas_and_reports_where_they_ran() {
    let _turn = crate::turns::beside_others();
    let dir = scratch("full");
    let run = run_plan(&plan().write(&dir), &["--quiet"]);
    let (result, stdout) = (run.result, run.stdout);
    assert_matches_schema(&result);

    assert_eq!(
        result["plan"]["name"], "local-run-test",
        "the plan is echoed"
    );
    assert!(result["host"]["pus"].as_u64().expect("pus") >= 1);
    let layouts = result["layouts"].as_array().expect("layouts");
    assert_eq!(layouts.len(), 2);
    let mut pids = Vec::new();
    for layout in layouts {
        let name = layout["name"].as_str().expect("name");
        assert_eq!(layout["status"], "ok", "{name}: {}", layout["error"]);
        let requests = layout["requests"].as_u64().expect("requests");
        assert!(requests > 0, "{name}: no requests");
        // The percentiles come from a real histogram holding every measured request.
        assert_eq!(
            layout["latency_ns"]["count"].as_u64(),
            Some(requests),
            "{name}"
        );
        assert!(layout["latency_ns"]["p99"].as_u64().expect("p99") > 0);
        assert!(
            layout["latency_ns"]["p99"].as_u64()
                >= layout["latency_uncorrected_ns"]["p50"].as_u64(),
            "{name}: corrected p99 below uncorrected p50"
        );
        assert!(!layout["histograms"]["corrected_v2_base64"]
            .as_str()
            .expect("hist")
            .is_empty());
        let samples = layout["thread_samples"].as_array().expect("samples");
        assert!(
            samples.len() >= 10,
            "{name}: {} thread samples in 2 s at 100 ms",
            samples.len()
        );
        for replica in layout["replicas"].as_array().expect("replicas") {
            assert_eq!(replica["placement_ok"], true, "{name}: {replica}");
            assert_eq!(
                replica["actual_cpus"], replica["intended_cpus"],
                "{name}: read back from /proc"
            );
            assert!(
                replica["threads_max"].as_u64().expect("threads") >= 1,
                "{name}: threads sampled"
            );
            assert!(
                !replica["pages_by_node"]
                    .as_object()
                    .expect("pages")
                    .is_empty(),
                "{name}: numa_maps read"
            );
            pids.push(replica["pid"].as_u64().expect("pid"));
        }
        // The replicas listen on loopback: the receive work is lo's, counted on every node
        // (this host's one) from /proc/softirqs, none of it a device's interrupts.
        let receive = &layout["net_receive"][0];
        assert_eq!(receive["interface"], "lo", "{name}: {receive}");
        let nodes = receive["nodes"].as_array().expect("nodes");
        let net_rx: u64 = nodes
            .iter()
            .map(|n| n["net_rx"].as_u64().expect("net_rx"))
            .sum();
        assert!(
            net_rx > 0,
            "{name}: loopback traffic runs NET_RX softirqs: {receive}"
        );
        assert_eq!(
            receive["on_replica_nodes"].as_f64(),
            Some(1.0),
            "{name}: one node"
        );
    }
    let per_node = &layouts[1];
    for replica in per_node["replicas"].as_array().expect("replicas") {
        let policy = replica["memory_policy"].as_str().expect("policy");
        assert!(
            policy.starts_with("bind:"),
            "per-node replicas bind memory locally, got {policy}"
        );
    }
    assert!(
        stdout.contains("Verdict:"),
        "the report leads with a verdict:\n{stdout}"
    );
    assert!(stdout.contains("p99.9"), "{stdout}");
    for pid in pids {
        assert!(!alive(pid), "replica {pid} outlived the run");
    }
}

#[test]
fn a_plan_the_host_cannot_place_fails_before_anything_launches() {
    let _turn = crate::turns::beside_others();
    let dir = scratch("too-many");
    let plan = OpenPlan {
        layouts: &[
            LAYOUT_SINGLE,
            "[[layouts]]\nname = \"per-node\"\nreplicas = 64\npin = \"node\"\n",
        ],
        ..plan()
    }
    .write(&dir);
    let run = numaload(&["run", plan.to_str().expect("utf8"), "--quiet"]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "stderr: {stderr}");
    assert!(
        stderr.contains("replicas"),
        "the error names the field: {stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(run.stdout.is_empty(), "no report for a refused plan");
}

#[test]
fn a_bad_plan_file_is_one_line_naming_the_key() {
    let _turn = crate::turns::beside_others();
    let dir = scratch("bad");
    let plan = OpenPlan { rate: -5, ..plan() }.write(&dir);
    let run = numaload(&["run", plan.to_str().expect("utf8")]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "stderr: {stderr}");
    assert!(stderr.contains("rate"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}

#[test]
fn repeat_runs_trials_interleaved_and_merges_them_with_an_interval() {
    let _turn = crate::turns::beside_others();
    let dir = scratch("repeat");
    let plan = OpenPlan {
        name: "repeat-test",
        extra: "repeat = 2",
        duration: "700ms",
        warmup: "200ms",
        ..plan()
    }
    .write(&dir);
    let run = run_plan(&plan, &["--quiet"]);
    // The interval is labelled for what it is: about the mean over trials, not the merged p99.
    let report = &run.stdout;
    assert!(
        report.contains("95% CI       of the mean over 2 trials")
            && report.contains("the p99 above is the merged histogram's, a different statistic"),
        "{report}"
    );
    let result = run.result;
    let mut starts = Vec::new();
    for layout in result["layouts"].as_array().expect("layouts") {
        let trials = layout["trials"].as_array().expect("trials");
        assert_eq!(trials.len(), 2, "{}", layout["name"]);
        let sum: u64 = trials
            .iter()
            .map(|t| t["requests"].as_u64().expect("requests"))
            .sum();
        assert_eq!(
            layout["requests"].as_u64(),
            Some(sum),
            "merged counters add up"
        );
        assert_eq!(
            layout["latency_ns"]["count"].as_u64(),
            Some(sum),
            "merged histogram holds every trial"
        );
        assert!(
            layout["confidence"]["throughput_rps"]["low"]
                .as_f64()
                .is_some(),
            "{}",
            layout["confidence"]
        );
        for agent in layout["agents"].as_array().expect("agents") {
            starts.push((
                agent["measuring_at_unix_ns"].as_u64().expect("start"),
                agent["trial"].as_u64().expect("trial"),
                layout["name"].as_str().expect("name").to_owned(),
            ));
        }
    }
    starts.sort();
    let order: Vec<(u64, String)> = starts
        .into_iter()
        .map(|(_, trial, name)| (trial, name))
        .collect();
    let expected = [
        (1, "single"),
        (1, "per-node"),
        (2, "single"),
        (2, "per-node"),
    ];
    assert_eq!(
        order,
        expected.map(|(t, n)| (t, n.to_owned())),
        "A B A B, not A A B B"
    );
}

#[test]
fn a_capacity_search_doubles_the_rate_while_the_objective_holds() {
    let _turn = crate::turns::beside_others();
    let dir = scratch("search");
    let plan = OpenPlan {
        name: "search-test",
        extra: "[search]\nslo_p99 = \"2s\"\nstart_rate = 150\nmax_steps = 3",
        duration: "800ms",
        warmup: "200ms",
        // One layout is enough to see the steps.
        layouts: &[LAYOUT_SINGLE],
        ..plan()
    }
    .write(&dir);
    let Finished {
        result,
        out,
        stdout,
    } = run_plan(&plan, &["--quiet"]);
    assert_matches_schema(&result);
    let search = &result["search"]["layouts"][0];
    let rates: Vec<f64> = search["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s["rate_rps"].as_f64().expect("rate"))
        .collect();
    assert_eq!(
        rates,
        vec![150.0, 300.0, 600.0],
        "doubling while every step passes, bounded by max_steps"
    );
    assert_eq!(search["max_rate_rps"].as_f64(), Some(600.0));
    // Calibrated once, by the first step; the result carries it.
    assert!(
        result["hosts"][0]["calibration"]["task_spawn_ns"].as_u64() > Some(0),
        "{}",
        result["hosts"][0]
    );
    assert_eq!(
        result["layouts"][0]["target_rate_rps"].as_f64(),
        Some(600.0),
        "the layout shown is the best passing step"
    );
    assert!(stdout.contains("Max sustainable rate at p99"), "{stdout}");
    assert!(
        stdout.contains("Verdict: single sustains 600 req/s"),
        "{stdout}"
    );
    for (format, headline) in [
        ("markdown", "max sustainable rate at p99"),
        ("html", "Max sustainable rate at p99"),
    ] {
        let report = numaload(&["report", out.to_str().expect("utf8"), "--format", format]);
        let text = String::from_utf8_lossy(&report.stdout);
        assert!(
            text.contains(headline) && text.contains("600"),
            "{format}: {text}"
        );
    }
}

#[test]
fn agent_config_gives_the_local_agent_the_targets_a_user_brings() {
    let _turn = crate::turns::beside_others();
    let dir = scratch("agent-config");
    // Only the built-in target, under another name: a plan naming "async" is now refused by
    // the agent, one naming "mine" runs it.
    let config = dir.join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "[targets.mine]\nprogram = {:?}\n\
             args = [\"target\", \"--variant\", \"async\", \"--listen\", \"{{listen}}\", \
             \"--threads\", \"{{threads}}\", \"--work-us={{knob.work_us}}\"]\n\
             ready = \"line:^numaload-target listening on \"\n\
             knobs.work_us = {{ range = [0, 1000], default = 0 }}\n",
            common::BIN
        ),
    )
    .expect("write config");
    let mine = OpenPlan {
        target: "mine",
        duration: "500ms",
        warmup: "100ms",
        layouts: &[LAYOUT_SINGLE],
        ..plan()
    };
    let config_arg = config.to_str().expect("utf8");
    let result = run_plan(
        &mine.write(&dir),
        &["--agent-config", config_arg, "--quiet"],
    )
    .result;
    assert_matches_schema(&result);
    assert_eq!(result["plan"]["target"]["name"], "mine");
    assert!(result["layouts"][0]["requests"].as_u64().expect("requests") > 0);

    // The built-in name is not in this configuration.
    let builtin = OpenPlan {
        target: "async",
        ..mine
    }
    .write(&dir);
    let refused = numaload(&[
        "run",
        builtin.to_str().expect("utf8"),
        "--agent-config",
        config_arg,
        "--quiet",
    ]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("async"), "{stderr}");
}

#[test]
fn agent_config_is_refused_with_remote_agents_and_bad_files() {
    let _turn = crate::turns::beside_others();
    let dir = scratch("agent-config-refused");
    let plan = plan().write(&dir);
    let config = dir.join("agent.toml");
    std::fs::write(&config, "[targets.mine]\nprogram = \"/bin/true\"\n").expect("write");
    let run = numaload(&[
        "run",
        plan.to_str().expect("utf8"),
        "--agent",
        "127.0.0.1:9",
        "--agent-config",
        config.to_str().expect("utf8"),
    ]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--agent-config") && stderr.contains("127.0.0.1:9"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");

    std::fs::write(&config, "[targets.mine]\nprogram = 5\n").expect("write");
    let run = numaload(&[
        "run",
        plan.to_str().expect("utf8"),
        "--agent-config",
        config.to_str().expect("utf8"),
    ]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("agent.toml"), "{stderr}");
}

/// A one-layout plan, short: the progress tests only need every phase once.
fn short_plan() -> OpenPlan<'static> {
    OpenPlan {
        name: "progress",
        ..OpenPlan::default()
    }
}

/// Off a terminal (a pipe here, as in CI logs), progress is one plain line per phase on stderr,
/// nothing redrawn and no escape sequence: exactly these four lines.
#[test]
fn progress_off_a_terminal_is_one_plain_line_per_phase() {
    let _turn = crate::turns::beside_others();
    let dir = scratch("progress-plain");
    let plan = short_plan().write(&dir);
    let run = numaload(&["run", plan.to_str().expect("utf8")]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    let agent = stderr
        .strip_prefix("[single] ")
        .and_then(|rest| rest.split_once(": "))
        .map(|(agent, _)| agent.to_owned())
        .unwrap_or_else(|| panic!("a phase line first: {stderr}"));
    assert!(agent.starts_with("127.0.0.1:"), "{stderr}");
    let expected: String = [
        "launching replicas",
        "warming up",
        "measuring",
        "stopping replicas",
    ]
    .iter()
    .map(|phase| format!("[single] {agent}: {phase}\n"))
    .collect();
    assert_eq!(stderr, expected);
    assert!(String::from_utf8_lossy(&run.stdout).contains("── layout \"single\" ["));
}

/// On a terminal (a pseudo-terminal made by util-linux's `script`), progress is indicatif's
/// live display — a bar with the time left while warming up and measuring, the live figures —
/// instead of the plain lines, and the report still follows it.
#[test]
fn progress_on_a_terminal_is_a_live_display_and_the_report_follows() {
    let _turn = crate::turns::beside_others();
    let dir = scratch("progress-tty");
    let plan = short_plan().write(&dir);
    let command = format!("'{}' run '{}'", common::BIN, plan.to_str().expect("utf8"));
    let started = std::time::Instant::now();
    let run = std::process::Command::new("script")
        .args(["-q", "-e", "-c", &command, "/dev/null"])
        .env("TERM", "xterm")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run script (util-linux)");
    // Through the terminal: stdout and stderr together, lines redrawn in place.
    let screen = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{screen}");
    let frames: Vec<&str> = screen.split(['\r', '\n']).collect();
    let live = |needle: &str| frames.iter().any(|f| f.contains(needle));
    assert!(live("[single] warming up"), "{screen}");
    assert!(live("s left [single] measuring"), "{screen}");
    assert!(live("[#") && live("s left"), "no time bar: {screen}");
    assert!(live("[single] measuring: "), "no live figures: {screen}");
    assert!(live("[single] stopping replicas"), "{screen}");
    assert!(
        !live("[single] 127.0.0.1:"),
        "plain lines on a terminal: {screen}"
    );
    // Cheap: about 10 frames a second at most (each frame clears the one agent's line).
    let frames = screen.matches("\x1b[2K").count() as f64;
    let limit = 12.0 * started.elapsed().as_secs_f64() + 5.0;
    assert!(frames <= limit, "{frames} frames, more than {limit}");
    let report = screen
        .find("── layout \"single\" [")
        .unwrap_or_else(|| panic!("no report: {screen}"));
    assert!(screen[report..].contains("Verdict:"), "{screen}");
}
