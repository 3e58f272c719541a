//! `numaload compare` through the binary: the real result in `fixtures/` as the baseline and
//! variants of it edited here as the new result (p99 scaled by 1.2 is a regression, by 1.03 is
//! not, and so on). Exit codes (the one table, `exit_codes.rs` tests each): 1 on a regression
//! beyond the threshold, 0 otherwise, 2 on bad input or results of different layouts, 4 when a
//! layout is not to be trusted. JUnit XML is validated against a JUnit schema (xmllint) and
//! parsed for its cases.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

use crate::common;
use crate::common::manifest;

fn fixture() -> Value {
    common::read_json(&manifest("tests/fixtures/quickstart-result.json"))
}

fn scratch(name: &str) -> PathBuf {
    common::scratch("compare", name)
}

fn write(dir: &Path, name: &str, value: &Value) -> PathBuf {
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, serde_json::to_string_pretty(value).expect("json")).expect("write");
    path
}

/// What one `numaload compare` printed and returned.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn numaload(args: &[&str]) -> Run {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_numaload"))
        .args(args)
        .output()
        .expect("run numaload");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Compares the fixture against the fixture edited by `edit`, with extra arguments.
fn compare_with(name: &str, edit: impl FnOnce(&mut Value), extra: &[&str]) -> Run {
    let dir = scratch(name);
    let base = write(&dir, "base", &fixture());
    let mut new = fixture();
    edit(&mut new);
    let new = write(&dir, "new", &new);
    let mut args = vec![
        "compare",
        base.to_str().expect("utf8"),
        new.to_str().expect("utf8"),
    ];
    args.extend_from_slice(extra);
    numaload(&args)
}

/// Multiplies a layout's number at `path` (e.g. `["latency_ns", "p99"]`) by `factor`.
fn scale(result: &mut Value, layout: usize, path: &[&str], factor: f64) {
    let mut v = &mut result["layouts"][layout];
    for key in path {
        v = &mut v[*key];
    }
    *v = if v.is_u64() {
        json!((v.as_u64().expect("u64") as f64 * factor).round() as u64)
    } else {
        json!(v.as_f64().expect("number") * factor)
    };
}

fn name(layout: usize) -> String {
    fixture()["layouts"][layout]["name"]
        .as_str()
        .expect("name")
        .to_owned()
}

#[test]
fn the_same_result_has_no_regression_and_says_it_is_unreplicated() {
    let run = compare_with("same", |_| {}, &[]);
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    let first = run.stdout.lines().next().expect("headline");
    assert!(
        first.starts_with("numaload compare: No regression beyond 5%"),
        "{first}"
    );
    assert!(first.contains("Unreplicated"), "{first}");
    assert!(!run.stdout.contains("NOT LIKE FOR LIKE"));
}

/// (case, layout, figure path, factor, extra args, exit code, text expected in the output)
type Case<'a> = (
    &'a str,
    usize,
    &'a [&'a str],
    f64,
    &'a [&'a str],
    i32,
    String,
);

#[test]
fn changes_are_judged_against_the_threshold() {
    let p99 = &["latency_ns", "p99"][..];
    let throughput = &["throughput_rps"][..];
    let cases: [Case<'_>; 6] = [
        (
            "p99-up-20",
            1,
            p99,
            1.2,
            &[],
            1,
            format!("REGRESSION beyond 5%: {} p99 corrected +20.0%", name(1)),
        ),
        (
            "p99-up-3",
            1,
            p99,
            1.03,
            &[],
            0,
            "no significant change (unreplicated)".to_owned(),
        ),
        (
            "p99-down-20",
            0,
            p99,
            0.8,
            &[],
            0,
            "better (unreplicated)".to_owned(),
        ),
        (
            "throughput-down-10",
            0,
            throughput,
            0.9,
            &[],
            1,
            format!("{} throughput -10.0%", name(0)),
        ),
        (
            "throughput-down-10-allowed",
            0,
            throughput,
            0.9,
            &["--max-regression", "15%"],
            0,
            "No regression beyond 15%".to_owned(),
        ),
        (
            "p99-up-20-bare-number",
            1,
            p99,
            1.2,
            &["--max-regression", "25"],
            0,
            "No regression beyond 25%".to_owned(),
        ),
    ];
    for (case, layout, path, factor, extra, code, expected) in cases {
        let run = compare_with(case, |r| scale(r, layout, path, factor), extra);
        assert_eq!(
            run.code,
            Some(code),
            "{case}:\n{}{}",
            run.stdout,
            run.stderr
        );
        assert!(
            run.stdout.contains(&expected),
            "{case}: no {expected:?} in\n{}",
            run.stdout
        );
    }
}

#[test]
fn new_errors_are_a_regression_in_points_not_percent() {
    let run = compare_with(
        "errors",
        |r| {
            // 1 error in 100 attempts: +1 percentage point over an error-free base.
            r["layouts"][0]["requests"] = json!(9_900);
            r["layouts"][0]["errors"] = json!(100);
        },
        &[],
    );
    assert_eq!(run.code, Some(1), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("error rate +1.000 pp (0.000% → 1.000%)"),
        "{}",
        run.stdout
    );
}

#[test]
fn different_plans_and_hosts_are_flagged_not_compared_blindly() {
    let run = compare_with(
        "mismatch",
        |r| {
            r["plan"]["load"]["rate"] = json!(6000.0);
            r["plan"]["layouts"][0]["pin"] = json!("node");
            r["host"]["hostname"] = json!("other-host");
            if let Some(hosts) = r["hosts"].as_array_mut() {
                hosts[0]["hostname"] = json!("other-host");
            }
        },
        &[],
    );
    assert_eq!(run.code, Some(0), "{}", run.stdout);
    let first = run.stdout.lines().next().expect("headline");
    assert!(first.contains("NOT LIKE FOR LIKE"), "{first}");
    for expected in [
        "different plans: load.rate = 5000.0 in the base, 6000.0 in the new result",
        &format!(
            "different plans: layouts.{}.pin = \"none\" in the base, \"node\" in the new result",
            name(0)
        ),
        &format!(
            "different hosts: hostname {} in the base, other-host in the new result",
            fixture()["host"]["hostname"].as_str().expect("hostname")
        ),
    ] {
        assert!(
            run.stdout.contains(expected),
            "no {expected:?} in\n{}",
            run.stdout
        );
    }
    // Matching layouts are still compared.
    assert!(run.stdout.contains(&format!("── layout \"{}\"", name(1))));
}

#[test]
fn layouts_on_one_side_are_not_comparable_and_failures_are_not_trusted() {
    let run = compare_with(
        "one-side",
        |r| {
            let layouts = r["layouts"].as_array_mut().expect("layouts");
            layouts.remove(0);
            let mut extra = layouts[0].clone();
            extra["name"] = json!("per-l3");
            layouts.push(extra);
        },
        &[],
    );
    // Measured in the base and missing from the new result: the two results measure different
    // layouts, bad input (2), not a pass.
    assert_eq!(run.code, Some(2), "{}", run.stdout);
    assert!(run.stdout.contains(&format!(
        "layout \"{}\" was measured in the base and is MISSING from the new result: the two \
         results measure different layouts",
        name(0)
    )));
    assert!(run
        .stdout
        .contains("layout \"per-l3\" is only in the new result"));

    let run = compare_with(
        "failed-now",
        |r| {
            r["layouts"][1]["status"] = json!("failed");
            r["layouts"][1]["error"] = json!("agent lost: connection reset");
        },
        &[],
    );
    // Failed is never to be trusted, whatever the flags: 4.
    assert_eq!(run.code, Some(4), "{}", run.stdout);
    let said = format!(
        "layout \"{}\" failed in the new result: agent lost: connection reset",
        name(1)
    );
    assert!(
        run.stdout.contains(&format!("NOT TO BE TRUSTED: {said}")),
        "{}",
        run.stdout
    );
    assert!(run.stderr.contains(&said), "{}", run.stderr);
}

#[test]
fn percentiles_without_enough_samples_are_not_judged() {
    let run = compare_with(
        "few",
        |r| {
            r["layouts"][1]["latency_ns"]["count"] = json!(500);
            scale(r, 1, &["latency_ns", "p999"], 3.0);
        },
        &[],
    );
    assert_eq!(
        run.code,
        Some(0),
        "a p99.9 from 500 samples cannot fail CI:\n{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("not judged: new: too few samples (500; p99.9 needs 1000)"),
        "{}",
        run.stdout
    );
}

#[test]
fn junit_is_well_formed_with_a_failure_per_regression() {
    let dir = scratch("junit-out");
    let junit = dir.join("junit.xml");
    let evil = "a<b>&\"c\"";
    let run = compare_with(
        "junit",
        |r| {
            scale(r, 1, &["latency_ns", "p99"], 1.2);
            r["layouts"][0]["name"] = json!(evil);
        },
        &["--junit", junit.to_str().expect("utf8")],
    );
    // The renamed layout makes the results not comparable: bad input wins over the regression.
    assert_eq!(run.code, Some(2), "{}", run.stdout);
    let xml = std::fs::read_to_string(&junit).expect("junit written");
    common::assert_valid_junit(&junit);
    let doc = roxmltree::Document::parse(&xml).expect("JUnit XML is well-formed");
    let suite = doc
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .expect("testsuite");
    let cases: Vec<_> = suite
        .children()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    // One matching layout × 5 figures, plus one layout on each side only.
    assert_eq!(cases.len(), 7, "{xml}");
    assert_eq!(suite.attribute("tests"), Some("7"));
    // The p99 regression, and the layout renamed away: missing from the new result.
    assert_eq!(suite.attribute("failures"), Some("2"));
    let failed: Vec<(Option<&str>, Option<&str>, Option<&str>)> = cases
        .iter()
        .filter_map(|c| {
            let failure = c.children().find(|n| n.has_tag_name("failure"))?;
            Some((
                c.attribute("classname"),
                c.attribute("name"),
                failure.attribute("type"),
            ))
        })
        .collect();
    let (one, zero) = (
        format!("numaload.{}", name(1)),
        format!("numaload.{}", name(0)),
    );
    assert_eq!(
        failed,
        [
            (
                Some(one.as_str()),
                Some("p99 corrected"),
                Some("regression")
            ),
            (Some(zero.as_str()), Some("present"), Some("not-comparable"))
        ]
    );
    let skipped: Vec<_> = cases
        .iter()
        .filter(|c| c.children().any(|n| n.has_tag_name("skipped")))
        .filter_map(|c| c.attribute("classname"))
        .collect();
    assert!(
        skipped.contains(&format!("numaload.{evil}").as_str()),
        "{skipped:?}"
    );
}

/// A side not to be trusted is a failed `trusted` testcase of type `untrusted`, its figures
/// skipped; accepted by a flag, a passing one that says so.
#[test]
fn junit_says_which_side_is_not_to_be_trusted() {
    for (case, flags, failures) in [
        ("junit-suspect", &[][..], 1),
        ("junit-suspect-allowed", &["--allow-suspect"][..], 0),
    ] {
        let dir = scratch(&format!("{case}-out"));
        let junit = dir.join("junit.xml");
        let mut args = vec!["--junit", junit.to_str().expect("utf8")];
        args.extend_from_slice(flags);
        let run = compare_with(
            case,
            |r| {
                r["layouts"][1]["status"] = json!("suspect");
                r["layouts"][1]["suspect"] = json!(["load worker 0 was 97% busy"]);
            },
            &args,
        );
        assert_eq!(run.code, Some(4 * failures), "{case}: {}", run.stdout);
        common::assert_valid_junit(&junit);
        let xml = std::fs::read_to_string(&junit).expect("junit written");
        let doc = roxmltree::Document::parse(&xml).expect("well-formed");
        let trusted = doc
            .descendants()
            .find(|n| n.attribute("name") == Some("trusted (new)"))
            .unwrap_or_else(|| panic!("{case}: no trusted testcase in {xml}"));
        assert_eq!(
            trusted.attribute("classname"),
            Some(format!("numaload.{}", name(1)).as_str())
        );
        let failure = trusted.children().find(|n| n.has_tag_name("failure"));
        assert_eq!(
            failure.and_then(|f| f.attribute("type")),
            (failures == 1).then_some("untrusted"),
            "{case}: {xml}"
        );
        assert!(xml.contains("is suspect in the new result: load worker 0 was 97% busy"));
        let skipped = doc
            .descendants()
            .filter(|n| n.has_tag_name("skipped"))
            .count();
        assert_eq!(skipped, 5 * failures as usize, "{case}: its figures: {xml}");
    }
}

/// The schema check of the test above is no formality: a document a JUnit reader would choke on
/// fails it, and so does one whose failing testcase lost its required name.
#[test]
fn the_junit_schema_check_refuses_broken_documents() {
    let dir = scratch("junit-broken");
    let junit = dir.join("junit.xml");
    let run = compare_with(
        "junit-broken-run",
        |r| scale(r, 1, &["latency_ns", "p99"], 1.2),
        &["--junit", junit.to_str().expect("utf8")],
    );
    assert_eq!(run.code, Some(1), "{}", run.stdout);
    let xml = std::fs::read_to_string(&junit).expect("junit written");
    common::assert_valid_junit(&junit);
    let broken = [
        ("unclosed", xml.replacen("</testcase>", "", 1)),
        (
            "nameless",
            xml.replacen(r#"<testcase name="p99 corrected""#, "<testcase", 1),
        ),
        (
            "failure-outside",
            xml.replacen("<testcase ", "<failure ", 1),
        ),
    ];
    for (what, text) in broken {
        assert_ne!(text, xml, "{what}: the edit must change the document");
        let path = dir.join(format!("{what}.xml"));
        std::fs::write(&path, text).expect("write");
        let refused = std::panic::catch_unwind(|| common::assert_valid_junit(&path));
        assert!(refused.is_err(), "{what}: xmllint accepted it");
    }
}

#[test]
fn bad_input_exits_2() {
    let dir = scratch("bad");
    let good = write(&dir, "good", &fixture());
    let not_json = dir.join("not.json");
    std::fs::write(&not_json, "plan = 1").expect("write");
    let not_result = write(&dir, "not-result", &json!({"layouts": []}));
    let good = good.to_str().expect("utf8");
    let cases: [(Vec<&str>, &str); 5] = [
        (
            vec!["compare", good, "/nonexistent.json"],
            "cannot read result file",
        ),
        (
            vec!["compare", not_json.to_str().expect("utf8"), good],
            "is not a numaload result",
        ),
        (
            vec!["compare", good, not_result.to_str().expect("utf8")],
            "is not a numaload result",
        ),
        (
            vec!["compare", good, good, "--max-regression", "abc"],
            "not a percentage",
        ),
        (
            vec!["compare", good, good, "--max-regression=-5%"],
            "from 0% to below 1000%",
        ),
    ];
    for (args, message) in cases {
        let run = numaload(&args);
        assert_eq!(run.code, Some(2), "{args:?}: {}{}", run.stdout, run.stderr);
        assert!(run.stderr.contains(message), "{args:?}: {}", run.stderr);
    }
}
