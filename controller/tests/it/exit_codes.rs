//! The one table of exit codes through the binary: `numaload --help` prints it, and each code
//! comes out of `run` and `compare` where the table says (the store gate's are in
//! `history_support::baseline_skips_untrusted_runs`). Results are the checked-in fixture with
//! statuses edited; two real runs give a suspect layout (too few requests for a p99.9) and a
//! failed one (a target that exits at once).

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::common::{self, OpenPlan};

/// Exit code, stdout and stderr of one `numaload` run.
fn numaload(args: &[&str]) -> (Option<i32>, String, String) {
    let out = common::numaload(args);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn fixture() -> Value {
    common::read_json(&common::manifest("tests/fixtures/quickstart-result.json"))
}

fn name(result: &Value, layout: usize) -> String {
    result["layouts"][layout]["name"]
        .as_str()
        .expect("name")
        .to_owned()
}

fn write(dir: &Path, file: &str, value: &Value) -> PathBuf {
    let path = dir.join(file);
    std::fs::write(&path, serde_json::to_string_pretty(value).expect("json")).expect("write");
    path
}

/// `compare BASE NEW EXTRA…` on the fixture as the base and the fixture edited by `edit_new`
/// (and `edit_base`) as the new result.
fn compare(
    case: &str,
    edit_base: impl FnOnce(&mut Value),
    edit_new: impl FnOnce(&mut Value),
    extra: &[&str],
) -> (Option<i32>, String, String) {
    let dir = common::scratch("exit-codes", case);
    let (mut base, mut new) = (fixture(), fixture());
    edit_base(&mut base);
    edit_new(&mut new);
    let (base, new) = (
        write(&dir, "base.json", &base),
        write(&dir, "new.json", &new),
    );
    let mut args = vec![
        "compare",
        base.to_str().expect("utf8"),
        new.to_str().expect("utf8"),
    ];
    args.extend_from_slice(extra);
    numaload(&args)
}

fn set_status(result: &mut Value, layout: usize, status: &str, why: &str) {
    let l = &mut result["layouts"][layout];
    l["status"] = json!(status);
    match status {
        "failed" | "degraded" => l["error"] = json!(why),
        _ => l["suspect"] = json!([why]),
    }
}

fn p99_up_20(result: &mut Value) {
    let p99 = &mut result["layouts"][1]["latency_ns"]["p99"];
    *p99 = json!((p99.as_f64().expect("p99") * 1.2).round() as u64);
}

/// Three trials a side, p99 10/14/6 ms and 2% worse: within the threshold, but the interval
/// reaches far past it.
fn noisy_trials(result: &mut Value, factor: f64) {
    let l = &mut result["layouts"][0];
    let template = json!({
        "trial": 0, "status": "ok", "requests": l["requests"], "throughput_rps": l["throughput_rps"],
        "errors": 0, "latency_ns": l["latency_ns"],
    });
    let trials: Vec<Value> = [10.0, 14.0, 6.0]
        .iter()
        .enumerate()
        .map(|(i, ms)| {
            let mut t = template.clone();
            t["trial"] = json!(i + 1);
            t["latency_ns"]["p99"] = json!((ms * factor * 1e6) as u64);
            t["throughput_rps"] = json!(5000.0 + 100.0 * i as f64);
            t
        })
        .collect();
    l["trials"] = json!(trials);
}

#[test]
fn help_prints_the_table() {
    let _turn = crate::turns::beside_others();
    for args in [&["--help"][..], &["run", "--help"], &["compare", "--help"]] {
        let (code, out, err) = numaload(args);
        assert_eq!(code, Some(0), "{args:?}: {err}");
        assert!(
            out.contains(numaload::compare::exit::TABLE),
            "{args:?}:\n{out}"
        );
    }
    let (_, out, _) = numaload(&["run", "--help"]);
    assert!(out.contains("--allow-suspect") && out.contains("--allow-degraded"));
}

/// Each code of the table once from `compare`, and which wins when several apply.
#[test]
fn compare_gives_each_code_of_the_table() {
    let _turn = crate::turns::beside_others();
    let f = fixture();
    let (zero, one) = (name(&f, 0), name(&f, 1));
    // 0: the same result.
    let (code, out, err) = compare("same", |_| {}, |_| {}, &[]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(err.is_empty(), "{err}");
    // 1: p99 20% worse.
    let (code, out, _) = compare("regression", |_| {}, p99_up_20, &[]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("REGRESSION beyond 5%"), "{out}");
    // 2: a bad flag; and two results of different layouts.
    let (code, _, err) = compare("bad-flag", |_| {}, |_| {}, &["--max-regression", "x"]);
    assert_eq!(code, Some(2), "{err}");
    let renamed = |r: &mut Value| r["layouts"][0]["name"] = json!("renamed");
    let (code, out, _) = compare("renamed", |_| {}, renamed, &[]);
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains(&format!(
            "NOT COMPARABLE: layout \"{zero}\" measured in the base is missing"
        )),
        "{out}"
    );
    // 3: noisy trials, the change within the threshold: how many trials would decide it.
    let (code, out, _) = compare(
        "inconclusive",
        |r| noisy_trials(r, 1.0),
        |r| noisy_trials(r, 1.02),
        &[],
    );
    assert_eq!(code, Some(3), "{out}");
    assert!(
        out.contains("trials a side would decide it (repeat = ") && out.contains("; now 3)"),
        "{out}"
    );
    // 4: a layout of the new result not ok.
    let (code, out, err) = compare(
        "incomplete",
        |_| {},
        |r| set_status(r, 1, "incomplete", "120 of 24,000 answered"),
        &[],
    );
    assert_eq!(code, Some(4), "{out}");
    let said = format!("layout \"{one}\" is incomplete in the new result: ");
    assert!(out.contains(&format!("NOT TO BE TRUSTED: {said}")), "{out}");
    assert!(err.contains(&said) && err.contains("exit 4"), "{err}");

    // Precedence: bad input over untrusted over a regression over inconclusive.
    let (code, out, _) = compare(
        "missing-and-suspect",
        |_| {},
        |r| {
            renamed(r);
            set_status(r, 1, "suspect", "late sends");
        },
        &[],
    );
    assert_eq!(code, Some(2), "{out}");
    let (code, out, _) = compare(
        "suspect-and-regression",
        |_| {},
        |r| {
            p99_up_20(r);
            set_status(r, 0, "suspect", "late sends");
        },
        &[],
    );
    assert_eq!(code, Some(4), "{out}");
    assert!(
        out.contains("REGRESSION beyond 5%"),
        "the rest is still said: {out}"
    );
    // A layout missing from a cancelled run never ran: not to be trusted, not bad input.
    let (code, out, _) = compare(
        "cancelled",
        |_| {},
        |r| {
            r["layouts"].as_array_mut().expect("layouts").remove(1);
            r["cancelled"] = json!(true);
        },
        &[],
    );
    assert_eq!(code, Some(4), "{out}");
    assert!(
        out.contains("the new run was cancelled before it ran"),
        "{out}"
    );
}

/// `--allow-suspect` and `--allow-degraded` make those statuses warnings naming the layout, on
/// either side; incomplete and failed stay exit 4 whatever the flags.
#[test]
fn compare_refuses_what_is_not_ok_unless_allowed() {
    let _turn = crate::turns::beside_others();
    let zero = name(&fixture(), 0);
    let both = ["--allow-suspect", "--allow-degraded"];
    // (case, side edited, status, flags, exit code)
    let cases: [(&str, &str, &str, &[&str], i32); 9] = [
        ("suspect", "new", "suspect", &[], 4),
        ("suspect-allowed", "new", "suspect", &["--allow-suspect"], 0),
        (
            "suspect-wrong-flag",
            "new",
            "suspect",
            &["--allow-degraded"],
            4,
        ),
        ("base-suspect", "base", "suspect", &[], 4),
        (
            "base-suspect-allowed",
            "base",
            "suspect",
            &["--allow-suspect"],
            0,
        ),
        ("degraded", "new", "degraded", &[], 4),
        (
            "degraded-allowed",
            "new",
            "degraded",
            &["--allow-degraded"],
            0,
        ),
        ("incomplete", "new", "incomplete", &both, 4),
        ("failed", "new", "failed", &both, 4),
    ];
    for (case, side, status, flags, expected) in cases {
        let edit = |r: &mut Value| set_status(r, 0, status, "why it is so");
        let (code, out, err) = if side == "base" {
            compare(case, edit, |_| {}, flags)
        } else {
            compare(case, |_| {}, edit, flags)
        };
        assert_eq!(code, Some(expected), "{case}:\n{out}{err}");
        let state = if status == "failed" {
            "failed".to_owned()
        } else {
            format!("is {status}")
        };
        let named = format!("layout \"{zero}\" {state} in the {side} result: why it is so");
        assert!(err.contains(&named), "{case}: {err}");
        if expected == 0 {
            assert!(err.contains("warning: "), "{case}: {err}");
            // Allowed, the layout is judged: the other layout and this one both.
            assert!(
                out.contains("No regression beyond 5%: 10 figure(s)"),
                "{case}: {out}"
            );
        } else {
            assert!(err.contains("not to be trusted (exit 4)"), "{case}: {err}");
            assert!(
                out.contains(&format!("NOT TO BE TRUSTED: {named}")),
                "{case}: {out}"
            );
            // The other layout is still judged.
            assert!(out.contains("5 figure(s) in 1 layout(s)"), "{case}: {out}");
        }
    }
    // A lost agent degrades the run as a whole.
    let (code, _, err) = compare("run-degraded", |_| {}, |r| r["degraded"] = json!(true), &[]);
    assert_eq!(code, Some(4), "{err}");
    assert!(
        err.contains("the run is degraded in the new result"),
        "{err}"
    );
    let (code, _, err) = compare(
        "run-degraded-allowed",
        |_| {},
        |r| r["degraded"] = json!(true),
        &["--allow-degraded"],
    );
    assert_eq!(code, Some(0), "{err}");
}

/// A real run whose replica is placed on every allowed CPU, the load generator's reserved one
/// included: the generator shares CPUs with the replica, which makes the layout suspect, so
/// `run` exits 4 unless `--allow-suspect`, and says why on stderr either way. The code follows
/// the status the result carries (a loaded machine may make the layout incomplete, never
/// allowed).
#[test]
fn run_exits_by_the_statuses_of_its_layouts() {
    let _turn = crate::turns::beside_others();
    let dir = common::scratch("exit-codes", "run-suspect");
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let allowed = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .expect("Cpus_allowed_list")
        .trim();
    let shared = format!("[[layouts]]\nname = \"single\"\nreplicas = 1\ncpus = \"{allowed}\"\n");
    let plan = OpenPlan {
        name: "exit-codes",
        rate: 500,
        duration: "1500ms",
        warmup: "200ms",
        layouts: &[shared.as_str()],
        ..OpenPlan::default()
    }
    .write(&dir);
    let out = dir.join("result.json");
    let args = |flags: &[&'static str]| -> Vec<String> {
        let mut a: Vec<String> = ["run", plan.to_str().expect("utf8"), "--quiet", "--out"]
            .map(str::to_owned)
            .to_vec();
        a.push(out.to_str().expect("utf8").to_owned());
        a.extend(flags.iter().map(|f| (*f).to_owned()));
        a
    };
    for flags in [&[][..], &["--allow-suspect"]] {
        let argv = args(flags);
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let (code, _, err) = numaload(&argv);
        let result = common::read_json(&out);
        let status = result["layouts"][0]["status"].as_str().expect("status");
        assert_ne!(
            status, "ok",
            "the generator shared the replica's CPUs: {result}"
        );
        let allowed = status == "suspect" && !flags.is_empty();
        assert_eq!(
            code,
            Some(if allowed { 0 } else { 4 }),
            "{flags:?} {status}: {err}"
        );
        assert!(
            err.contains(&format!("layout \"single\" is {status}")),
            "{flags:?}: {err}"
        );
        assert!(
            err.contains(if allowed { "warning: " } else { "exit 4" }),
            "{err}"
        );
    }
}

/// A target that exits at once fails its layout: exit 4 whatever the flags.
#[test]
fn a_failed_layout_is_exit_4_whatever_the_flags() {
    let _turn = crate::turns::beside_others();
    let dir = common::scratch("exit-codes", "run-failed");
    let config = dir.join("agent.toml");
    std::fs::write(
        &config,
        "[targets.broken]\nprogram = \"/bin/sh\"\nargs = [\"-c\", \"exit 3\", \"{listen}\"]\n\
         ready = \"tcp\"\nknobs.work_us = { range = [0, 1000], default = 0 }\n",
    )
    .expect("write config");
    let plan = OpenPlan {
        name: "exit-codes-failed",
        target: "broken",
        duration: "300ms",
        warmup: "100ms",
        ..OpenPlan::default()
    }
    .write(&dir);
    let (code, stdout, err) = numaload(&[
        "run",
        plan.to_str().expect("utf8"),
        "--agent-config",
        config.to_str().expect("utf8"),
        "--quiet",
        "--allow-suspect",
        "--allow-degraded",
    ]);
    assert_eq!(code, Some(4), "{stdout}{err}");
    assert!(
        err.contains("layout \"single\" failed: ") && err.contains("failed is never accepted"),
        "{err}"
    );
}
