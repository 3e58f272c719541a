//! `numaload new DIR --program PATH ...` writes a pair that works as written: the plan passes
//! `numaload plan`, and the pair runs a real server (the built-in target, served by this very
//! binary, started as a user's program would be) through `numaload run --agent-config`. The
//! plan is only shortened (its window and warm-up), as the other end-to-end tests do.

use std::path::Path;

use crate::common::{layout, numaload, run_plan, scratch, BIN};

fn new_pair(dir: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["new", dir.to_str().expect("utf8"), "--program", BIN];
    args.extend_from_slice(extra);
    numaload(&args)
}

#[test]
fn the_written_pair_plans_and_runs_the_server() {
    let _turn = crate::turns::beside_others();
    let dir = scratch("new", "pair");
    let made = new_pair(
        &dir,
        &[
            "--name",
            "mine",
            "--arg",
            "target",
            "--arg=--listen",
            "--arg={listen}",
            "--arg=--threads",
            "--arg={threads}",
            "--ready",
            "line:^numaload-target listening on ",
        ],
    );
    let stdout = String::from_utf8_lossy(&made.stdout);
    assert!(
        made.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&made.stderr)
    );
    assert!(stdout.contains("--agent-config"), "{stdout}");
    let (plan, config) = (dir.join("plan.toml"), dir.join("agent.toml"));
    let agent_text = std::fs::read_to_string(&config).expect("agent.toml");
    assert!(agent_text.contains("[targets.mine]"), "{agent_text}");
    assert!(
        !agent_text.contains("PORT"),
        "the arguments name {{listen}}: {agent_text}"
    );

    let planned = numaload(&["plan", plan.to_str().expect("utf8")]);
    assert!(
        planned.status.success(),
        "{}",
        String::from_utf8_lossy(&planned.stderr)
    );

    let text = std::fs::read_to_string(&plan).expect("plan.toml");
    let short = text
        .replace("duration = \"10s\"", "duration = \"1s\"")
        .replace("warmup = \"2s\"", "warmup = \"300ms\"");
    assert_ne!(
        short, text,
        "the written plan has the window this test shortens"
    );
    std::fs::write(&plan, short).expect("plan");
    let run = run_plan(&plan, &["--agent-config", config.to_str().expect("utf8")]);
    for name in ["one-process", "per-node"] {
        let l = layout(&run.result, name);
        assert!(
            l["status"] == "ok" || l["status"] == "suspect",
            "{name}: {}\n{}",
            l["status"],
            run.stdout
        );
        assert!(l["throughput_rps"].as_f64().unwrap_or(0.0) > 0.0, "{name}");
    }
}

#[test]
fn mistakes_are_one_line_and_nothing_is_written() {
    let _turn = crate::turns::beside_others();
    let dir = scratch("new", "mistakes");
    let missing = dir.join("no-such-server");
    let cases: [(Vec<&str>, &str); 3] = [
        (
            vec!["--program", missing.to_str().expect("utf8")],
            "--program",
        ),
        (vec!["--program", BIN, "--arg={prot}"], "args[0]"),
        (vec!["--program", BIN, "--ready", "http:healthz"], "ready"),
    ];
    for (args, names) in cases {
        let target = dir.join("out");
        let mut all = vec!["new", target.to_str().expect("utf8")];
        all.extend(args.iter().copied());
        let made = numaload(&all);
        let stderr = String::from_utf8_lossy(&made.stderr);
        assert_eq!(made.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(names), "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
        assert!(!target.join("agent.toml").exists(), "{args:?}");
    }
    // A second `new` into the same directory keeps the first pair.
    let first = new_pair(&dir, &["--arg={listen}"]);
    assert!(first.status.success());
    let again = new_pair(&dir, &["--arg={listen}"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
}

#[test]
fn a_go_binary_gets_gomaxprocs_from_its_threads() {
    let _turn = crate::turns::beside_others();
    let dir = scratch("new", "go");
    let go = numaload_test_support::go_servers(env!("CARGO_TARGET_TMPDIR")).join("go-server");
    let made = numaload(&[
        "new",
        dir.to_str().expect("utf8"),
        "--program",
        go.to_str().expect("utf8"),
        "--arg=-listen",
        "--arg={listen}",
    ]);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let agent = std::fs::read_to_string(dir.join("agent.toml")).expect("agent.toml");
    assert!(agent.contains("[targets.go-server]"), "{agent}");
    assert!(agent.contains("GOMAXPROCS = \"{threads}\""), "{agent}");
    // numaload itself is no Go binary.
    let own = scratch("new", "not-go");
    let made = new_pair(&own, &["--arg={listen}"]);
    assert!(made.status.success());
    let agent = std::fs::read_to_string(own.join("agent.toml")).expect("agent.toml");
    assert!(!agent.contains("GOMAXPROCS"), "{agent}");
}
