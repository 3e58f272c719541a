//! A fleet of real agents, each a `numaload agent` process on loopback: load a fleet cannot
//! deliver ends `incomplete` with each agent's shortfall (and the report summarizes more than a
//! handful of agents instead of a block per agent); an agent killed mid-run under each
//! `[fleet]` policy: `abort` cancels the run everywhere and names it, `degrade` with
//! `max_lost_agents` carries on.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::common;
use crate::common::agents::{replicas_of, wait_until, AgentProcess};
use crate::common::BIN;

/// Ten agents: more than the eight past which the reports summarize a fleet.
const FLEET: usize = 10;

/// A plan whose load no agent can deliver: 400 req/s at one replica of the `ffi` target that
/// serves one 5 ms call at a time (at most 200 req/s, asleep, so the machine stays idle).
fn undeliverable(dir: &Path) -> PathBuf {
    common::write_plan(
        dir,
        r#"name = "undeliverable"
[target]
name = "ffi"
work_us = 5000
work_mode = "sleep"
dispatch = "bounded"
limit = 1
[load]
mode = "open"
rate = 400
connections = 2
duration = "2s"
warmup = "300ms"
[[layouts]]
name = "one"
replicas = 1
"#,
    )
}

#[test]
fn a_fleet_that_cannot_deliver_its_load_is_incomplete_with_each_agents_shortfall() {
    let _turn = crate::turns::beside_others();
    let agents: Vec<AgentProcess> = (0..FLEET).map(|_| AgentProcess::start()).collect();
    let dir = common::scratch("fleet", "undelivered");
    let out = dir.join("result.json");
    let mut run = Command::new(BIN);
    run.arg("run")
        .arg(undeliverable(&dir))
        .arg("--out")
        .arg(&out)
        .arg("--quiet");
    for agent in &agents {
        run.args(["--agent", &agent.address]);
    }
    let output = run.output().expect("run numaload");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(4), "not to be trusted: {stdout}");
    let result = common::read_json(&out);
    let layout = common::layout(&result, "one");
    assert_eq!(layout["status"], "incomplete", "{}", layout["suspect"]);
    let per_agent = layout["agents"].as_array().expect("agents");
    assert_eq!(per_agent.len(), FLEET);
    for agent in per_agent {
        // Each agent is measured against what it was asked: 400 req/s for 2 s.
        let delivery = &agent["delivery"];
        assert_eq!(agent["status"], "incomplete", "{agent}");
        assert_eq!(delivery["asked"], 800, "{agent}");
        let (intended, answered) = (
            delivery["intended"].as_u64().expect("intended"),
            delivery["answered"].as_u64().expect("answered"),
        );
        assert!(intended >= 799, "{agent}");
        assert!(answered <= intended / 2 + 20, "at most 200 req/s: {agent}");
    }
    let sum = |key: &str| -> u64 {
        per_agent
            .iter()
            .map(|a| a["delivery"][key].as_u64().expect("count"))
            .sum()
    };
    assert_eq!(
        layout["delivery"]["intended"].as_u64(),
        Some(sum("intended"))
    );
    assert_eq!(
        layout["delivery"]["answered"].as_u64(),
        Some(sum("answered"))
    );
    // The report summarizes the ten agents and names the worst with their shortfall.
    assert!(
        stdout.contains(&format!(
            "  agents       {FLEET} agents: {FLEET} incomplete\n"
        )),
        "{stdout}"
    );
    assert_eq!(stdout.matches("\n  worst agent  ").count(), 5, "{stdout}");
    assert!(stdout.contains("[INCOMPLETE] p99 "), "{stdout}");
    assert!(stdout.contains(", short "), "{stdout}");
    assert!(
        !stdout.contains("\n  replica 0 "),
        "no line per replica: {stdout}"
    );
    assert!(
        stdout.contains(&format!("asked 4,000 req/s over {FLEET} agents")),
        "{stdout}"
    );
    for agent in &agents {
        assert!(replicas_of(agent.pid()).is_empty(), "replicas left");
    }
}

/// Two layouts of 4 s each at 300 req/s on three agents, with the plan's `[fleet]` table given;
/// agent 1 is killed with SIGKILL while the first layout is measured. Returns the run's exit
/// code and result, once no agent left a replica.
fn kill_one_of_three(name: &str, fleet: &str) -> (Option<i32>, serde_json::Value, String) {
    let mut agents: Vec<AgentProcess> = (0..3).map(|_| AgentProcess::start()).collect();
    let dir = common::scratch("fleet", name);
    let plan = common::OpenPlan {
        name,
        rate: 300,
        duration: "4s",
        warmup: "300ms",
        layouts: &[
            "[[layouts]]\nname = \"first\"\nreplicas = 1\n",
            "[[layouts]]\nname = \"second\"\nreplicas = 1\n",
        ],
        ..common::OpenPlan::default()
    };
    let plan = common::write_plan(&dir, &format!("{}\n{fleet}\n", plan.toml()));
    let out = dir.join("result.json");
    let mut run = Command::new(BIN);
    run.arg("run")
        .arg(&plan)
        .arg("--out")
        .arg(&out)
        .arg("--quiet");
    for agent in &agents {
        run.args(["--agent", &agent.address]);
    }
    let controller = run
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("controller");
    let victim = agents[1].pid();
    wait_until("agent 1 runs its replica", Duration::from_secs(20), || {
        !replicas_of(victim).is_empty()
    });
    // Into the first layout's measurement (after its 300 ms warm-up).
    std::thread::sleep(Duration::from_millis(1_000));
    agents[1].child.kill().expect("SIGKILL agent 1");
    let _ = agents[1].child.wait();
    let output = controller.wait_with_output().expect("controller ends");
    for (i, agent) in agents.iter().enumerate().filter(|(i, _)| *i != 1) {
        wait_until("no replica left", Duration::from_secs(10), || {
            replicas_of(agent.pid()).is_empty()
        });
        assert!(
            replicas_of(agent.pid()).is_empty(),
            "agent {i} left a replica"
        );
    }
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.code(), common::read_json(&out), stderr)
}

#[test]
fn on_agent_loss_abort_cancels_the_run_everywhere_at_the_first_loss_and_names_the_agent() {
    let _turn = crate::turns::beside_others();
    let (code, result, stderr) = kill_one_of_three("abort", "[fleet]\non_agent_loss = \"abort\"");
    assert_eq!(code, Some(4), "{stderr}");
    let victim = result["agents"][1]["agent"]
        .as_str()
        .expect("agent 1")
        .to_owned();
    assert_eq!(result["agents"][1]["status"], "lost");
    let why = result["aborted"]
        .as_str()
        .expect("the result says why it was aborted");
    assert!(
        why.contains(&victim) && why.contains("on_agent_loss = \"abort\""),
        "{why}"
    );
    assert_eq!(result["cancelled"], true);
    // The first layout keeps what the others measured before the abort; the second never ran.
    let first = common::layout(&result, "first");
    assert_ne!(first["status"], "ok", "{first}");
    let second = common::layout(&result, "second");
    assert_eq!(second["status"], "failed", "{second}");
    for agent in second["agents"].as_array().expect("agents") {
        assert_eq!(agent["status"], "failed", "{agent}");
    }
    let error = second["error"].as_str().expect("why the second failed");
    assert!(
        error.contains("aborted") || error.contains("cancel"),
        "{error}"
    );
}

#[test]
fn degrade_carries_on_after_a_loss_within_max_lost_agents() {
    let _turn = crate::turns::beside_others();
    let (code, result, stderr) = kill_one_of_three("degrade", "[fleet]\nmax_lost_agents = 1");
    assert_eq!(code, Some(4), "a lost agent is not to be trusted: {stderr}");
    assert_eq!(result["aborted"], serde_json::Value::Null, "{stderr}");
    assert_eq!(result["cancelled"], false);
    assert_eq!(result["degraded"], true);
    // Both layouts ran to the end on the two agents left; the lost one is named in each.
    for name in ["first", "second"] {
        let layout = common::layout(&result, name);
        assert_eq!(layout["status"], "degraded", "{layout}");
        let agents = layout["agents"].as_array().expect("agents");
        for i in [0, 2] {
            assert!(
                agents[i]["requests"].as_u64() > Some(0),
                "{name}: {}",
                agents[i]
            );
        }
        assert_eq!(agents[1]["status"], "failed");
        let error = agents[1]["error"].as_str().expect("why");
        assert!(error.contains("agent lost"), "{error}");
    }
}
