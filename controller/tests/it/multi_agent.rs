//! Several agents, for real, as separate `numaload agent` processes on loopback ports: a run on
//! all of them at once, an agent killed mid-run, a second run refused while one is going, and
//! Ctrl-C on the controller. Each case checks that no replica survives.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common;
use crate::common::agents::{alive, replicas_of, wait_until, AgentProcess};
use crate::common::{run_plan, OpenPlan, BIN, LAYOUT_PER_NODE, LAYOUT_SINGLE};

fn scratch(name: &str) -> PathBuf {
    common::scratch("multi", name)
}

/// Two layouts, one replica and one per node, at 300 req/s for `duration`.
fn plan(dir: &Path, duration: &str) -> PathBuf {
    OpenPlan {
        name: "multi",
        work_us: 5,
        rate: 300,
        duration,
        warmup: "300ms",
        layouts: &[LAYOUT_SINGLE, LAYOUT_PER_NODE],
        ..OpenPlan::default()
    }
    .write(dir)
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("run controller")
}

#[test]
fn a_run_on_two_agents_starts_together_and_merges_exactly() {
    // Alone: an ok status needs both generators to keep up from the first send, which a
    // machine busy with other tests' load denies them (the layout is then rightly suspect).
    let _turn = crate::turns::alone();
    let (a, b) = (AgentProcess::start(), AgentProcess::start());
    let dir = scratch("two");
    let hlog = dir.join("result.hlog");
    let result = run_plan(
        &plan(&dir, "1500ms"),
        &[
            "--agent",
            &a.address,
            "--agent",
            &b.address,
            "--hlog",
            hlog.to_str().expect("utf8"),
            "--quiet",
        ],
    )
    .result;
    assert_eq!(result["hosts"].as_array().expect("hosts").len(), 2);
    assert_eq!(result["degraded"], false);
    for layout in result["layouts"].as_array().expect("layouts") {
        assert_eq!(layout["status"], "ok", "{}", layout["error"]);
        let agents = layout["agents"].as_array().expect("agents");
        assert_eq!(agents.len(), 2);
        let sum: u64 = agents
            .iter()
            .map(|a| a["requests"].as_u64().expect("requests"))
            .sum();
        assert_eq!(
            layout["requests"].as_u64(),
            Some(sum),
            "global = sum of agents"
        );
        assert_eq!(
            layout["latency_ns"]["count"].as_u64(),
            Some(sum),
            "one merged histogram"
        );
        // Synchronized: both agents began measuring within 200 ms of each other (corrected
        // for clock offsets; the schedule aims for the same instant).
        let starts: Vec<u64> = agents
            .iter()
            .map(|a| a["measuring_at_unix_ns"].as_u64().expect("start"))
            .collect();
        let gap = starts[0].abs_diff(starts[1]);
        assert!(
            gap < 200_000_000,
            "{}: agents started {} ms apart",
            layout["name"],
            gap / 1_000_000
        );
        // The load itself began at one instant on both (each agent's start converted by its
        // measured clock offset): what the schedule and the clock correction leave of the skew
        // is under a millisecond. The rest is each agent's own wake-up after the instant it was
        // given, which a busy host delays and each agent reports (`start_late_ns`).
        let skew = layout["start_skew_ns"]
            .as_u64()
            .expect("start skew of two agents");
        let late: Vec<u64> = agents
            .iter()
            .map(|a| a["start_late_ns"].as_u64().expect("a synchronized start"))
            .collect();
        let wake_spread = late[0].abs_diff(late[1]);
        assert!(
            skew < wake_spread + 1_000_000,
            "{}: start skew {skew} ns, agents late by {late:?} ns",
            layout["name"]
        );
        let replica_agents: Vec<&str> = layout["replicas"]
            .as_array()
            .expect("replicas")
            .iter()
            .map(|r| r["agent"].as_str().expect("agent"))
            .collect();
        assert!(
            replica_agents.contains(&a.address.as_str())
                && replica_agents.contains(&b.address.as_str())
        );
    }
    let log = std::fs::read_to_string(&hlog).expect("hlog");
    assert!(
        log.contains("#[BaseTime:")
            && log.contains("Tag=single,")
            && log.contains("Tag=per-node.uncorrected,"),
        "{log}"
    );
    assert!(
        replicas_of(a.pid()).is_empty() && replicas_of(b.pid()).is_empty(),
        "replicas left"
    );
}

#[test]
fn an_agent_killed_mid_run_degrades_the_result_and_leaves_no_replica() {
    let _turn = crate::turns::beside_others();
    let (a, mut b) = (AgentProcess::start(), AgentProcess::start());
    let dir = scratch("kill");
    let out = dir.join("result.json");
    let controller = Command::new(BIN)
        .args([
            "run",
            plan(&dir, "4s").to_str().expect("utf8"),
            "--agent",
            &a.address,
            "--agent",
            &b.address,
        ])
        .args(["--out", out.to_str().expect("utf8"), "--quiet"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("controller");
    let b_pid = b.pid();
    let mut b_replicas = Vec::new();
    wait_until(
        "agent b launches its replica",
        Duration::from_secs(20),
        || {
            b_replicas = replicas_of(b_pid);
            !b_replicas.is_empty()
        },
    );
    std::thread::sleep(Duration::from_millis(800));
    b.child.kill().expect("kill -9 agent b");
    let _ = b.child.wait();
    let started = Instant::now();
    let output = controller.wait_with_output().expect("controller ends");
    assert!(
        started.elapsed() < Duration::from_secs(40),
        "controller took {:?}",
        started.elapsed()
    );
    // A lost agent: the measurement is not to be trusted (exit 4).
    assert_eq!(
        output.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result = common::read_json(&out);
    assert_eq!(result["degraded"], true);
    let agents = result["agents"].as_array().expect("agents");
    assert_eq!(agents[1]["status"], "lost");
    assert!(
        agents[1]["error"]
            .as_str()
            .expect("error")
            .contains(&b.address),
        "{}",
        agents[1]
    );
    let first = &result["layouts"][0];
    assert_eq!(first["status"], "degraded", "{first}");
    assert!(
        first["agents"][0]["requests"]
            .as_u64()
            .expect("a's requests")
            > 0,
        "a's data kept"
    );
    wait_until("b's replicas die with it", Duration::from_secs(5), || {
        !b_replicas.iter().any(|&p| alive(p))
    });
    assert!(replicas_of(a.pid()).is_empty(), "a stopped its replicas");
}

#[test]
fn a_second_run_is_refused_as_busy_and_ctrl_c_cancels_without_orphans() {
    let _turn = crate::turns::beside_others();
    let agent = AgentProcess::start();
    let dir = scratch("busy");
    let long_plan = plan(&dir, "20s");
    let first = Command::new(BIN)
        .args([
            "run",
            long_plan.to_str().expect("utf8"),
            "--agent",
            &agent.address,
            "--quiet",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("first run");
    let mut replicas = Vec::new();
    wait_until("the first run launches", Duration::from_secs(20), || {
        replicas = replicas_of(agent.pid());
        !replicas.is_empty()
    });
    let second = run(&[
        "run",
        long_plan.to_str().expect("utf8"),
        "--agent",
        &agent.address,
        "--quiet",
    ]);
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        !second.status.success() && stderr.contains("busy"),
        "{stderr}"
    );
    // One line says why (besides, on a one-domain host, the notice that its layouts differ only
    // in NUMA placement, printed before the run is asked for).
    let why: Vec<&str> = stderr
        .trim()
        .lines()
        .filter(|l| !l.contains("have one NUMA domain"))
        .collect();
    assert_eq!(why.len(), 1, "{stderr}");

    // Ctrl-C on the first controller: it cancels the run on the agent and reports.
    nix_kill(first.id(), "INT");
    let started = Instant::now();
    let output = first.wait_with_output().expect("first ends");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "cancel took {:?}",
        started.elapsed()
    );
    // Cancelled: not to be trusted (exit 4).
    assert_eq!(output.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&output.stdout).contains("cancelled"));
    wait_until("replicas stopped", Duration::from_secs(10), || {
        !replicas.iter().any(|&p| alive(p))
    });
    // The agent is free again: a new run is accepted and measured (exit 4 only for its
    // statuses: 150 requests are too few for a p99.9, so its layouts are suspect).
    let again = run(&[
        "run",
        plan(&scratch("again"), "500ms").to_str().expect("utf8"),
        "--agent",
        &agent.address,
        "--quiet",
    ]);
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        matches!(again.status.code(), Some(0 | 4)) && !stderr.contains("numaload: error"),
        "{stderr}"
    );
}

fn nix_kill(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

#[test]
fn with_tls_the_agent_refuses_controllers_without_the_fleets_certificate() {
    // Alone: the admitted run must measure ok, which a machine busy with other tests' load
    // denies it (its layouts are then rightly incomplete or suspect).
    let _turn = crate::turns::alone();
    let dir = scratch("tls");
    let (fleet, other) = (dir.join("fleet"), dir.join("other"));
    for certs in [&fleet, &other] {
        let _ = std::fs::remove_dir_all(certs);
        let made = run(&[
            "certs",
            "--dir",
            certs.to_str().expect("utf8"),
            "--host",
            "127.0.0.1",
        ]);
        assert!(
            made.status.success(),
            "{}",
            String::from_utf8_lossy(&made.stderr)
        );
    }
    let key_mode = std::fs::metadata(fleet.join("agent.key"))
        .expect("key")
        .permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&key_mode) & 0o077,
        0,
        "keys are private"
    );
    let agent = AgentProcess::start_with(&["--tls-dir", fleet.to_str().expect("utf8")]);
    // A window of 300 requests per layout: one answer still in flight at its close on a busy
    // host is under the 1% a layout may miss (the admitted run must measure, not be refused).
    let plan = plan(&dir, "1s");
    let plan = plan.to_str().expect("utf8");

    let plain = run(&["run", plan, "--agent", &agent.address, "--quiet"]);
    assert!(
        !plain.status.success(),
        "a controller without TLS got through"
    );
    let stranger = run(&[
        "run",
        plan,
        "--agent",
        &agent.address,
        "--tls-dir",
        other.to_str().expect("utf8"),
        "--quiet",
    ]);
    assert!(
        !stranger.status.success(),
        "a certificate from another CA got through"
    );
    assert!(
        replicas_of(agent.pid()).is_empty(),
        "nothing was launched for them"
    );

    let member = run(&[
        "run",
        plan,
        "--agent",
        &agent.address,
        "--tls-dir",
        fleet.to_str().expect("utf8"),
        "--quiet",
    ]);
    assert!(
        member.status.success(),
        "{}",
        String::from_utf8_lossy(&member.stderr)
    );

    // `plan --agent` talks to it as `run` does: refused without the fleet's certificate.
    let plain = run(&["plan", plan, "--agent", &agent.address]);
    assert_eq!(
        plain.status.code(),
        Some(4),
        "a check without TLS got through"
    );
    let fleet = fleet.to_str().expect("utf8");
    let checked = run(&["plan", plan, "--agent", &agent.address, "--tls-dir", fleet]);
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
}

#[test]
fn an_agent_without_credentials_will_not_listen_beyond_loopback() {
    let _turn = crate::turns::beside_others();
    let refused = run(&["agent", "--listen", "0.0.0.0:0"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--tls-dir"));
    let insecure = run(&["agent", "--listen", "0.0.0.0:0", "--insecure"]);
    assert_eq!(insecure.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&insecure.stderr).contains("loopback"));
}

#[test]
fn a_run_told_not_to_calibrate_skips_it_and_one_told_to_carries_it() {
    let _turn = crate::turns::beside_others();
    use numaload::run::{run_with, Calibrate, Progress};
    let agent = AgentProcess::start();
    let dir = scratch("calibrate");
    let mut plan = numaload::plan::load(&plan(&dir, "1500ms")).expect("plan");
    plan.layouts.truncate(1);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let addresses = [agent.address.clone()];
    for (calibrate, calibrated) in [(Calibrate::No, false), (Calibrate::Yes, true)] {
        let mut live = Vec::new();
        let keep = |p: Progress| {
            if let Progress::Load {
                rate_rps, p99_ns, ..
            } = p
            {
                live.push((rate_rps, p99_ns));
            }
        };
        let result = runtime
            .block_on(run_with(
                &plan,
                &numaload::run::Fleet::agents(addresses.to_vec()),
                None,
                calibrate,
                keep,
            ))
            .expect("run");
        // The generator's own live figures arrive while measuring (about once a second), at
        // about the plan's 300 req/s.
        assert!(
            live.iter()
                .any(|&(rate, p99)| rate > 150.0 && rate < 450.0 && p99.is_some()),
            "{live:?}"
        );
        assert!(result.layouts[0].requests > 0, "{calibrate:?}: measured");
        assert_eq!(
            result.hosts[0].calibration.is_some(),
            calibrated,
            "{calibrate:?}: {:?}",
            result.hosts[0].calibration
        );
    }
}

/// Pids of live processes below `ancestor` (by parent, to any depth) whose command line holds
/// `marker`.
fn descendants_with(ancestor: u32, marker: &str) -> Vec<u32> {
    let mut table = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let ppid = stat
            .rsplit(')')
            .next()
            .and_then(|r| r.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok())
            .unwrap_or(0);
        let cmdline = String::from_utf8_lossy(
            &std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default(),
        )
        .into_owned();
        table.push((pid, ppid, cmdline));
    }
    let below = |mut pid: u32| {
        for _ in 0..64 {
            let Some(&(_, ppid, _)) = table.iter().find(|(p, _, _)| *p == pid) else {
                return false;
            };
            if ppid == ancestor {
                return true;
            }
            pid = ppid;
        }
        false
    };
    table
        .iter()
        .filter(|(pid, _, cmd)| cmd.contains(marker) && alive(*pid) && below(*pid))
        .map(|(pid, _, _)| *pid)
        .collect()
}

#[test]
fn an_agent_killed_mid_run_takes_nginx_and_every_worker_with_it() {
    let _turn = crate::turns::beside_others();
    // nginx's workers are the master's children: the master's parent-death signal does not
    // reach them (killed alone, the master leaves them serving). The agent's watchdog does.
    let dir = scratch("kill-nginx");
    let config = dir.join("agent.toml");
    std::fs::copy(common::manifest("../examples/nginx/agent.toml"), &config).expect("config");
    let mut agent =
        AgentProcess::start_with(&["--insecure", "--config", config.to_str().expect("utf8")]);
    let plan = dir.join("plan.toml");
    std::fs::write(
        &plan,
        "name = \"kill-nginx\"\n[target]\nname = \"nginx\"\n[load]\nmode = \"open\"\nrate = 200\n\
         connections = 2\nduration = \"20s\"\nwarmup = \"200ms\"\n[[layouts]]\nname = \"two-workers\"\n\
         replicas = 1\nthreads = 2\n",
    )
    .expect("plan");
    let mut controller = Command::new(BIN)
        .args([
            "run",
            plan.to_str().expect("utf8"),
            "--agent",
            &agent.address,
            "--quiet",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("controller");
    let agent_pid = agent.pid();
    let mut nginx = Vec::new();
    wait_until(
        "nginx's master and two workers run",
        Duration::from_secs(20),
        || {
            nginx = descendants_with(agent_pid, "nginx: ");
            nginx.len() == 3
        },
    );
    agent.child.kill().expect("kill -9 the agent");
    let _ = agent.child.wait();
    wait_until(
        "nginx's master and workers die with the agent",
        Duration::from_secs(5),
        || !nginx.iter().any(|&p| alive(p)),
    );
    let _ = controller.kill();
    let _ = controller.wait();
}
