//! The flags that change or check a plan from the command line: `--set KEY=VALUE` on `plan` and
//! `run` (the file's own checks and errors, one line naming the `--set` when it leads nowhere)
//! and `NUMALOAD_SET` (more of them, from the environment), `run --json` (the result in brief on
//! stdout, the report on stderr), and `plan --agent-config` and `plan --agent` (the agent's own
//! checks of the target, its knobs and limits, from its configuration file or a running agent).

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::common::agents::{replicas_of, AgentProcess};
use crate::common::{
    self, numaload, read_json, refusal, OpenPlan, BIN, LAYOUT_PER_NODE, LAYOUT_SINGLE,
};

fn scratch(name: &str) -> PathBuf {
    common::scratch("plan-flags", name)
}

/// A host with 64 PUs on 8 NUMA nodes (from the agent's topology fixtures).
fn fixture_host() -> PathBuf {
    common::manifest("../agent/tests/fixtures/topologies/64amd64-4s2n4ca2co.xml")
}

fn plan_text() -> String {
    OpenPlan {
        name: "plan-flags",
        layouts: &[LAYOUT_SINGLE, LAYOUT_PER_NODE],
        ..OpenPlan::default()
    }
    .toml()
}

/// `numaload plan PLAN --topology FIXTURE --json ARGS…`.
fn plan(plan: &Path, args: &[&str]) -> Output {
    let plan = plan.to_str().expect("utf-8 path");
    let host = fixture_host();
    let host = host.to_str().expect("utf-8 path");
    let mut all = vec!["plan", plan, "--topology", host, "--json"];
    all.extend_from_slice(args);
    numaload(&all)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn replicas<'a>(placed: &'a Value, layout: &str) -> &'a Vec<Value> {
    placed["layouts"]
        .as_array()
        .expect("layouts")
        .iter()
        .find(|l| l["name"] == layout)
        .and_then(|l| l["replicas"].as_array())
        .unwrap_or_else(|| panic!("no layout {layout}: {placed}"))
}

#[test]
fn set_changes_the_plan_a_layout_addressed_by_its_name() {
    let _turn = crate::turns::beside_others();
    let dir = scratch("set");
    let file = common::write_plan(&dir, &plan_text());
    let out = plan(
        &file,
        &[
            "--set",
            "layouts.per-node.threads=4",
            "--set",
            "layouts.single.replicas=3",
            "--set",
            "load.rate=20000",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let placed: Value = serde_json::from_slice(&out.stdout).expect("plan JSON");
    let per_node = replicas(&placed, "per-node");
    assert_eq!(per_node.len(), 8, "one replica per node of the fixture");
    assert!(per_node.iter().all(|r| r["threads"] == 4), "{placed}");
    assert_eq!(replicas(&placed, "single").len(), 3, "{placed}");
}

#[test]
fn a_set_value_meets_the_files_own_check_and_error() {
    let _turn = crate::turns::beside_others();
    let dir = scratch("same-error");
    let file = common::write_plan(&dir, &plan_text());
    let by_set = refusal(&plan(&file, &["--set", "load.rate=fast"]));
    let written = common::write_plan(&dir, &plan_text().replace("rate = 500", "rate = \"fast\""));
    assert_eq!(written, file, "the same file name, so the same origin");
    let by_file = refusal(&plan(&written, &[]));
    assert!(by_file.contains(r#"load.rate = "fast""#), "{by_file}");
    assert_eq!(by_set, format!("{by_file} (--set load.rate=fast)"));

    // A later --set wins, and a value the validator refuses is named the same way.
    let file = common::write_plan(&dir, &plan_text());
    let out = refusal(&plan(
        &file,
        &[
            "--set",
            "load.rate=5",
            "--set",
            "layouts.per-node.threads=0",
        ],
    ));
    assert!(
        out.contains(r#"layouts.per-node.threads = 0"#)
            && out.ends_with("(--set layouts.per-node.threads=0)"),
        "{out}"
    );
}

#[test]
fn numaload_set_in_the_environment_sets_before_the_flags() {
    let _turn = crate::turns::beside_others();
    let dir = scratch("env");
    let file = common::write_plan(&dir, &plan_text());
    let with_env = |env: &str, args: &[&str]| {
        let mut all = vec![
            "plan",
            file.to_str().expect("utf-8"),
            "--topology",
            fixture_host().to_str().expect("utf-8"),
            "--json",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
        all.extend(args.iter().map(|a| (*a).to_owned()));
        std::process::Command::new(BIN)
            .args(&all)
            .env("NUMALOAD_SET", env)
            .output()
            .expect("run numaload")
    };
    let out = with_env(
        "layouts.per-node.threads=4  layouts.single.replicas=3",
        &["--set", "layouts.single.replicas=2"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let placed: Value = serde_json::from_slice(&out.stdout).expect("plan JSON");
    assert!(
        replicas(&placed, "per-node")
            .iter()
            .all(|r| r["threads"] == 4),
        "{placed}"
    );
    assert_eq!(
        replicas(&placed, "single").len(),
        2,
        "the flag wins: {placed}"
    );
    let line = refusal(&with_env("layouts.per-node.threads=0", &[]));
    assert!(
        line.ends_with("(layouts.per-node.threads=0 from NUMALOAD_SET)"),
        "{line}"
    );
}

#[test]
fn a_set_that_leads_nowhere_is_one_line_naming_it() {
    let _turn = crate::turns::beside_others();
    let dir = scratch("nowhere");
    let file = common::write_plan(&dir, &plan_text());
    let origin = file.display().to_string();
    let cases: [(&str, &[&str]); 5] = [
        (
            "layouts.nope.threads=4",
            &[
                r#"no table of layouts is named "nope""#,
                r#""single", "per-node""#,
            ],
        ),
        (
            "load.rat=5",
            &[r#"unknown key "rat""#, "(--set load.rat=5)"],
        ),
        (
            "lod.rate=5",
            &[r#"unknown key "lod""#, "(--set lod.rate=5)"],
        ),
        ("load.rate.per_s=5", &["load.rate is an integer"]),
        ("load.rate", &["--set load.rate: no \"=\""]),
    ];
    for (set, says) in cases {
        let line = refusal(&plan(&file, &["--set", set]));
        assert!(line.starts_with(&origin), "{set}: {line}");
        assert!(line.contains(&format!("--set {set}")), "{set}: {line}");
        for said in says {
            assert!(line.contains(said), "{set}: {line}");
        }
    }
    // run checks the same before it starts anything: no agent is needed to be refused.
    let line = refusal(&numaload(&[
        "run",
        file.to_str().expect("utf-8"),
        "--agent",
        "127.0.0.1:9",
        "--set",
        "layouts.nope.threads=4",
    ]));
    assert!(line.contains("--set layouts.nope.threads=4"), "{line}");
}

#[test]
fn run_json_prints_the_brief_on_stdout_and_the_report_on_stderr() {
    let _turn = crate::turns::beside_others();
    let dir = scratch("json");
    let file = OpenPlan {
        name: "plan-flags-json",
        duration: "1s",
        ..OpenPlan::default()
    }
    .write(&dir);
    let result = dir.join("result.json");
    let run = std::process::Command::new(BIN)
        .arg("run")
        .arg(&file)
        .args(["--quiet", "--json", "--set", "load.rate=300", "--out"])
        .arg(&result)
        .output()
        .expect("run numaload");
    let err = stderr(&run);
    assert!(matches!(run.status.code(), Some(0 | 4)), "{err}");
    let brief: Value = serde_json::from_slice(&run.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}",
            String::from_utf8_lossy(&run.stdout)
        )
    });
    let whole = read_json(&result);
    assert_eq!(brief["plan"], "plan-flags-json");
    assert_eq!(brief["run_id"], whole["run_id"]);
    assert_eq!(whole["plan"]["load"]["rate"], 300.0, "the --set rate ran");
    let verdict = brief["verdict"].as_str().expect("verdict");
    assert!(verdict.starts_with("Verdict:"), "{verdict}");
    assert!(
        err.lines().any(|l| l.trim() == verdict),
        "the report, verdict and all, is on stderr: {err}"
    );
    let layout = &brief["layouts"][0];
    assert_eq!(layout["name"], "single");
    assert_eq!(layout["status"], whole["layouts"][0]["status"]);
    assert_eq!(layout["requests"], whole["layouts"][0]["requests"]);
    assert_eq!(
        layout["latency_ns"]["p99"],
        whole["layouts"][0]["latency_ns"]["p99"]
    );
    assert!(
        layout["requests"].as_u64().expect("requests") > 0,
        "{brief}"
    );
    assert_eq!(run.status.success(), layout["status"] == "ok", "{err}");
}

/// An agent configuration whose one target is the built-in server under another name, with
/// one knob.
fn agent_toml(dir: &Path) -> PathBuf {
    let path = dir.join("agent.toml");
    let text = format!(
        "[targets.svc]\nprogram = {BIN:?}\nargs = [\"target\", \"--listen\", \"{{listen}}\", \
         \"--work-us\", \"{{knob.work_us}}\"]\n\
         [targets.svc.knobs]\nwork_us = {{ range = [0, 1000], default = 10 }}\n"
    );
    std::fs::write(&path, text).expect("write agent.toml");
    path
}

#[test]
fn plan_with_an_agent_config_checks_the_target_and_its_knobs() {
    let _turn = crate::turns::beside_others();
    let dir = scratch("agent-config");
    let config = agent_toml(&dir);
    let config = config.to_str().expect("utf-8");
    let plan_of = |target: &str| {
        let text = plan_text().replace(
            "[target]\nname = \"async\"\nwork_us = 10\n",
            &format!(
                "[target]\nname = \"{target}\"\n{}",
                "[target.knobs]\nwork_us = 20\n"
            ),
        );
        assert!(text.contains("[target.knobs]"), "{text}");
        common::write_plan(&dir, &text)
    };

    let file = plan_of("svc");
    let out = plan(&file, &["--agent-config", config]);
    assert!(out.status.success(), "{}", stderr(&out));

    // The knob's value, set on the command line, is checked by the agent's declaration.
    let line = refusal(&plan(
        &file,
        &[
            "--agent-config",
            config,
            "--set",
            "target.knobs.work_us=5000",
        ],
    ));
    assert!(
        line.contains("--agent-config") && line.contains("work_us"),
        "{line}"
    );

    let line = refusal(&plan(
        &file,
        &[
            "--agent-config",
            config,
            "--set",
            "target.knobs.gomaxprocs=2",
        ],
    ));
    assert!(line.contains("gomaxprocs"), "{line}");

    let file = plan_of("async");
    let line = refusal(&plan(&file, &["--agent-config", config]));
    assert!(line.contains("async") && line.contains("svc"), "{line}");
    // Without the configuration, the target is not this command's to know.
    assert!(plan(&file, &[]).status.success());
}

#[test]
fn plan_with_a_running_agent_checks_there_as_the_agent_config_does() {
    let _turn = crate::turns::beside_others();
    let dir = scratch("agent");
    let config = agent_toml(&dir);
    let config = config.to_str().expect("utf-8");
    let agent = AgentProcess::start_with(&["--insecure", "--config", config]);
    let text = plan_text().replace(
        "[target]\nname = \"async\"\nwork_us = 10\n",
        "[target]\nname = \"svc\"\n[target.knobs]\nwork_us = 20\n",
    );
    assert!(text.contains("name = \"svc\""), "{text}");
    let file = common::write_plan(&dir, &text);
    let file = file.to_str().expect("utf-8");

    let out = numaload(&["plan", file, "--agent", &agent.address]);
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        shown.starts_with(&format!("placement on agent {}\n", agent.address))
            && shown.contains("single: 1 replica\n  replica 0: CPUs ")
            && shown.contains("per-node: "),
        "{shown}"
    );
    let out = numaload(&["plan", file, "--agent", &agent.address, "--json"]);
    let placed: Value = serde_json::from_slice(&out.stdout).expect("plan JSON");
    assert_eq!(replicas(&placed, "single").len(), 1, "{placed}");
    assert!(
        replicas_of(agent.pid()).is_empty(),
        "a check launches no replica"
    );

    // What the agent refuses is the line --agent-config gives, after who refuses it.
    let cases: [&[&str]; 3] = [
        &["--set", "target.name=async"],
        &["--set", "target.knobs.gomaxprocs=2"],
        &["--set", "target.knobs.work_us=5000"],
    ];
    for sets in cases {
        let by = |how: &[&str]| {
            let mut args = vec!["plan", file];
            args.extend_from_slice(how);
            args.extend_from_slice(sets);
            refusal(&numaload(&args))
        };
        let remote = by(&["--agent", &agent.address]);
        let local = by(&["--agent-config", config]);
        let (remote_who, remote_why) = remote.split_once(" refuses it: ").expect("who: why");
        let (local_who, local_why) = local.split_once(" refuses it: ").expect("who: why");
        assert_eq!(remote_why, local_why, "{sets:?}");
        assert_eq!(
            remote_who,
            format!("{file}: the agent at {}", agent.address)
        );
        assert_eq!(
            local_who,
            format!("{file}: the agent of --agent-config {config}")
        );
    }

    // An agent not there is not bad input: exit code 4, naming the address.
    let out = numaload(&["plan", file, "--agent", "127.0.0.1:9"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("127.0.0.1:9"), "{}", stderr(&out));
}
