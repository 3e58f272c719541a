//! The store, history and gate tests, written once and run against any store URL (a SQLite
//! file, a throw-away PostgreSQL database), and synthetic results to fill them.
#![allow(dead_code)] // each test binary uses a part

pub mod pg;

use std::path::Path;
use std::process::Command;

use numaload::result::{LayoutStatus, RunResult};
use numaload::store::{Access, Put, Query, Store};

use crate::common;

/// The quickstart fixture (an old result: no trials, no per-request mix) as plan `plan`, run
/// number `i` (a minute apart), both layouts at `p99_ms` and `throughput` req/s.
pub fn synthetic(plan: &str, i: usize, p99_ms: f64, throughput: f64) -> RunResult {
    let text = std::fs::read_to_string(common::manifest("tests/fixtures/quickstart-result.json"))
        .expect("fixture");
    let mut r: RunResult = serde_json::from_str(&text).expect("the fixture loads");
    r.plan.name = plan.to_owned();
    r.run_id = format!("run-{plan}-{i:03}");
    r.started_at = format!("2026-12-01T{:02}:{:02}:00Z", 10 + i / 60, i % 60);
    for l in &mut r.layouts {
        l.latency_ns.p99 = (p99_ms * 1e6) as u64;
        l.latency_ns.p50 = (p99_ms * 0.5e6) as u64;
        l.latency_ns.p999 = (p99_ms * 2e6) as u64;
        l.throughput_rps = throughput;
    }
    r
}

/// Stores one result per value, oldest first, as runs 0, 1, ...
pub fn fill(url: &str, plan: &str, p99s_ms: &[f64]) {
    let mut store = Store::open(url, Access::Write).expect("open the store");
    for (i, p99) in p99s_ms.iter().enumerate() {
        let labels = vec![("commit".to_owned(), format!("c{i}"))];
        let put = store.put(&synthetic(plan, i, *p99, 5000.0), &labels);
        assert_eq!(put, Ok(Put::Stored));
    }
}

/// A `numaload` run: exit code, standard output and error.
pub fn cli(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(common::BIN)
        .args(args)
        .env_remove(numaload::store::STORE_ENV)
        .output()
        .expect("run numaload");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A result stored and read back: its figures, labels and full JSON; stored twice, kept once.
pub fn store_and_read_back(url: &str) {
    let mut store = Store::open(url, Access::Write).expect("open");
    let result = synthetic("roundtrip", 0, 2.0, 4000.0);
    let labels = vec![
        ("commit".to_owned(), "abc123".to_owned()),
        ("branch".to_owned(), "main".to_owned()),
    ];
    assert_eq!(store.put(&result, &labels), Ok(Put::Stored));
    assert_eq!(store.put(&result, &labels), Ok(Put::AlreadyStored));
    let runs = store.runs(&Query::default()).expect("runs");
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run.run_id, result.run_id);
    assert_eq!(run.plan_name, "roundtrip");
    assert_eq!(run.hosts, vec!["vm".to_owned()]);
    assert_eq!(run.labels["commit"], "abc123");
    assert_eq!(run.labels.len(), 2);
    let names: Vec<&str> = run.layouts.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["one-process", "per-node"]);
    assert_eq!(run.layouts[0].p99_ns, Some(2e6));
    assert_eq!(run.layouts[0].throughput_rps, Some(4000.0));
    assert_eq!(run.layouts[0].error_rate, Some(0.0));
    assert_eq!(run.layouts[0].trials, 1);
    assert_eq!(store.result(&result.run_id).expect("result"), result);
    // A second connection (another process would do the same) sees it too.
    let mut again = Store::open(url, Access::Read).expect("reopen");
    assert_eq!(again.runs(&Query::default()).expect("runs").len(), 1);
}

/// Several writers at once, each on its own connection, the first ones racing to create the
/// schema: every result lands.
pub fn concurrent_writers(url: &str) {
    let threads: Vec<_> = (0..6)
        .map(|w| {
            let url = url.to_owned();
            std::thread::spawn(move || {
                let mut store = Store::open(&url, Access::Write).expect("open concurrently");
                for i in 0..5 {
                    let result = synthetic(&format!("writer{w}"), i, 1.0, 1000.0);
                    assert_eq!(store.put(&result, &[]), Ok(Put::Stored));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("a writer failed");
    }
    let mut store = Store::open(url, Access::Read).expect("open");
    let runs = store.runs(&Query::default()).expect("runs");
    assert_eq!(runs.len(), 30);
    assert!(runs.iter().all(|r| r.layouts.len() == 2));
}

/// `numaload history` in every format, with its filters.
pub fn history_cli(url: &str, dir: &Path) {
    fill(url, "steady", &[10.0, 10.1, 9.9, 10.0, 10.2]);
    fill(url, "other", &[3.0, 3.1]);
    let (code, out, err) = cli(&["history", "--store", url]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("plan \"steady\" · layout \"one-process\" · p99 corrected: 5 run(s)"),
        "{out}"
    );
    assert!(
        out.contains("plan \"other\" · layout \"per-node\""),
        "{out}"
    );
    assert!(out.contains("commit=c4"), "{out}");
    let steady_rows: Vec<&str> = out.lines().filter(|l| l.contains("run-steady-")).collect();
    assert_eq!(steady_rows.len(), 10, "{out}");
    assert!(steady_rows[0].contains("run-steady-000") && steady_rows[4].contains("run-steady-004"));

    let (code, json, err) = cli(&[
        "history", "--store", url, "--plan", "steady", "--layout", "per-node", "--format", "json",
        "--last", "3",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let runs: serde_json::Value = serde_json::from_str(&json).expect("json");
    let runs = runs.as_array().expect("array");
    assert_eq!(runs.len(), 3);
    assert_eq!(runs[0]["run_id"], "run-steady-002");
    assert_eq!(runs[2]["layouts"].as_array().expect("layouts").len(), 1);
    assert_eq!(runs[2]["layouts"][0]["p99_ns"], 10.2e6);

    let (code, csv, _) = cli(&[
        "history",
        "--store",
        url,
        "--label",
        "commit=c1",
        "--format",
        "csv",
    ]);
    assert_eq!(code, Some(0));
    assert_eq!(csv.lines().count(), 1 + 4, "{csv}"); // steady and other, two layouts each
    assert!(csv.starts_with("started_at,run_id,plan,"));

    // A plan and a label with commas and quotes read back by Python's csv module as stored.
    let odd = "odd, \"quoted\" plan";
    let mut store = Store::open(url, Access::Write).expect("open");
    let labels = vec![("note".to_owned(), "a, \"b\"".to_owned())];
    assert_eq!(
        store.put(&synthetic(odd, 0, 1.0, 1.0), &labels),
        Ok(Put::Stored)
    );
    drop(store);
    let (code, csv, err) = cli(&["history", "--store", url, "--plan", odd, "--format", "csv"]);
    assert_eq!(code, Some(0), "{err}");
    let rows = common::read_csv_with_python(&csv);
    assert_eq!(rows.len(), 1 + 2, "{csv}");
    assert!(rows.iter().all(|r| r.len() == 15), "{rows:?}");
    assert_eq!(rows[1][2], odd);
    assert_eq!(rows[1][5], "one-process");
    assert_eq!(rows[1][14], "note=a, \"b\"");

    let page = dir.join("history.html");
    let (code, _, err) = cli(&[
        "history",
        "--store",
        url,
        "--plan",
        "steady",
        "--format",
        "html",
        "--figure",
        "throughput",
        "--out",
        page.to_str().expect("utf8"),
    ]);
    assert_eq!(code, Some(0), "{err}");
    let html = std::fs::read_to_string(&page).expect("page");
    assert_eq!(html.matches("<svg").count(), 2);
    assert!(html.contains(r#"<a href="history-runs/run-steady-003.html">"#));
    assert!(
        !html.contains("<script") && !html.contains("src="),
        "self-contained"
    );
    let report = dir.join("history-runs/run-steady-003.html");
    assert!(std::fs::read_to_string(report)
        .expect("report")
        .contains("<svg"));

    let (code, _, err) = cli(&["history", "--store", url, "--figure", "p98"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--figure p98"), "{err}");
}

/// Writes `result` and runs `compare --baseline` on it; returns the exit code, the output and
/// the JUnit failures.
pub fn gate(
    url: &str,
    dir: &Path,
    result: &RunResult,
    baseline: &str,
) -> (Option<i32>, String, usize) {
    let (code, out, err, failures) = gate_with(url, dir, result, baseline, &[]);
    assert!(err.is_empty(), "{err}");
    (code, out, failures)
}

/// [`gate`] with more flags; also returns standard error.
pub fn gate_with(
    url: &str,
    dir: &Path,
    result: &RunResult,
    baseline: &str,
    flags: &[&str],
) -> (Option<i32>, String, String, usize) {
    let new = dir.join(format!("{}.json", result.run_id));
    std::fs::write(&new, result.to_json()).expect("write");
    let junit = dir.join(format!("{}.xml", result.run_id));
    let mut args = vec![
        "compare",
        "--store",
        url,
        "--baseline",
        baseline,
        new.to_str().expect("utf8"),
        "--junit",
        junit.to_str().expect("utf8"),
    ];
    args.extend_from_slice(flags);
    let (code, out, err) = cli(&args);
    let xml = std::fs::read_to_string(&junit).unwrap_or_else(|e| panic!("junit: {e}\n{out}{err}"));
    crate::common::assert_valid_junit(&junit);
    let doc = roxmltree::Document::parse(&xml).expect("JUnit XML parses");
    let failures = doc
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .count();
    (code, out, err, failures)
}

/// `result` with its first layout (`one-process`) given `status` (and a reason for it).
pub fn with_status(mut result: RunResult, status: LayoutStatus) -> RunResult {
    let l = &mut result.layouts[0];
    l.status = status;
    match status {
        LayoutStatus::Failed | LayoutStatus::Degraded => l.error = Some("agent b lost".into()),
        _ => l.suspect = vec![format!("{status} on purpose")],
    }
    result
}

/// The store keeps each layout's status, and a baseline holds only the runs in which the layout
/// was `ok`: runs where it was not are skipped for that layout (counted for the others), and
/// `last:N` counts the last N `ok` ones. A new result not `ok` is refused (exit 4) unless a
/// flag accepts its status.
pub fn baseline_skips_untrusted_runs(url: &str, dir: &Path) {
    use numaload::store::gate::Baseline;
    // Five trusted runs at 10 ms, then three in which one-process was not ok, at 5 ms: were
    // they its baseline, 10 ms would be a regression.
    fill(url, "trusted", &[10.0, 10.1, 9.9, 10.0, 10.05]);
    let untrusted = [
        LayoutStatus::Suspect,
        LayoutStatus::Incomplete,
        LayoutStatus::Degraded,
    ];
    let mut store = Store::open(url, Access::Write).expect("open");
    for (i, status) in untrusted.into_iter().enumerate() {
        let mut r = with_status(synthetic("trusted", 5 + i, 10.0, 5000.0), status);
        r.layouts[0].latency_ns.p99 = 5_000_000;
        r.layouts[0].latency_ns.p50 = 2_500_000;
        r.layouts[0].latency_ns.p999 = 10_000_000;
        assert_eq!(store.put(&r, &[]), Ok(Put::Stored));
    }
    drop(store);
    let new = synthetic("trusted", 100, 10.0, 5000.0);
    let mut store = Store::open(url, Access::Read).expect("open");
    let history = store
        .runs(&Baseline::Last(3).query(&new, &Default::default()))
        .expect("runs");
    // Every status reads back as stored.
    let statuses: Vec<LayoutStatus> = history.iter().map(|r| r.layouts[0].status).collect();
    assert_eq!(&statuses[5..], untrusted);
    assert!(history
        .iter()
        .all(|r| r.layouts[1].status == LayoutStatus::Ok));
    let ids = |layouts: &[&numaload::store::StoredLayout]| -> Vec<Option<f64>> {
        layouts.iter().map(|l| l.p99_ns).collect()
    };
    let (ok, skipped) = Baseline::Last(3).of_layout(&history, "one-process");
    assert_eq!(ids(&ok), [Some(9.9e6), Some(10.0e6), Some(10.05e6)]);
    assert_eq!(skipped.len(), 3);
    let (ok, skipped) = Baseline::Last(3).of_layout(&history, "per-node");
    assert_eq!(ids(&ok), [Some(10.0e6); 3], "the other layout's last three");
    assert!(skipped.is_empty());

    // `history` marks them.
    let (code, out, err) = cli(&["history", "--store", url, "--plan", "trusted"]);
    assert_eq!(code, Some(0), "{err}");
    for status in untrusted {
        let mark = format!("({status}: never a baseline)");
        assert_eq!(out.matches(&mark).count(), 1, "{mark}: {out}");
    }

    let (code, out, failures) = gate(url, dir, &new, "last:3");
    assert_eq!((code, failures), (Some(0), 0), "{out}");
    assert!(
        out.contains(
            "history: 3 stored run(s) left out of the baseline, this layout not ok in them \
             (suspect, incomplete, degraded)"
        ),
        "{out}"
    );

    // The new result not ok: refused, unless its status is accepted.
    let suspect = with_status(new.clone(), LayoutStatus::Suspect);
    let (code, out, err, failures) = gate_with(url, dir, &suspect, "last:3", &[]);
    assert_eq!((code, failures), (Some(4), 1), "{out}");
    assert!(
        out.contains("NOT TO BE TRUSTED: layout \"one-process\" is suspect"),
        "{out}"
    );
    assert!(err.contains("not to be trusted (exit 4)"), "{err}");
    let (code, out, err, failures) = gate_with(url, dir, &suspect, "last:3", &["--allow-suspect"]);
    assert_eq!((code, failures), (Some(0), 0), "{out}");
    assert!(
        err.contains("warning: layout \"one-process\" is suspect"),
        "{err}"
    );
    let incomplete = with_status(new, LayoutStatus::Incomplete);
    let (code, out, _, _) = gate_with(
        url,
        dir,
        &incomplete,
        "last:3",
        &["--allow-suspect", "--allow-degraded"],
    );
    assert_eq!(code, Some(4), "incomplete is never accepted: {out}");
}

/// The rolling-baseline gate through the binary on synthetic histories.
pub fn gate_cli(url: &str, dir: &Path) {
    let steady = [
        10.0, 10.05, 9.95, 10.02, 9.98, 10.0, 10.04, 9.96, 10.01, 9.99,
    ];
    fill(url, "steady", &steady);
    let new = |plan: &str, p99: f64| synthetic(plan, 100, p99, 5000.0);
    let (code, out, failures) = gate(url, dir, &new("steady", 10.3), "last:10");
    assert_eq!((code, failures), (Some(0), 0), "{out}");
    assert!(
        out.contains("No regression (against the stored history)"),
        "{out}"
    );
    let (code, out, failures) = gate(url, dir, &new("steady", 12.0), "last:10");
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(failures, 2 * 3, "p50, p99, p99.9 of both layouts: {out}");
    assert!(out.contains("REGRESSION"), "{out}");

    let noisy = [8.0, 14.0, 9.0, 13.0, 11.0, 12.0, 8.5, 13.5, 10.0, 11.0];
    fill(url, "noisy", &noisy);
    let (code, out, _) = gate(url, dir, &new("noisy", 16.0), "last:10");
    assert_eq!(code, Some(0), "{out}");
    let (code, out, _) = gate(url, dir, &new("noisy", 30.0), "last:10");
    assert_eq!(code, Some(1), "{out}");

    let drifting: Vec<f64> = (0..10).map(|i| 10.0 * 1.02f64.powi(i)).collect();
    fill(url, "drifting", &drifting);
    let (code, out, _) = gate(url, dir, &new("drifting", 12.2), "last:10");
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("drifted +"), "{out}");
    let (code, out, _) = gate(url, dir, &new("drifting", 14.0), "last:10");
    assert_eq!(code, Some(1), "{out}");

    // A step: five runs at 10 ms, then five at 13 ms. The last five are the new normal.
    let step = [10.0, 10.0, 10.1, 9.9, 10.0, 13.0, 13.1, 12.9, 13.0, 13.0];
    fill(url, "step", &step);
    let (code, out, _) = gate(url, dir, &new("step", 13.2), "last:5");
    assert_eq!(code, Some(0), "{out}");
    // Against the runs labelled before the step (commit=c0..c4: one label each), too few.
    // With --bootstrap inconclusive that has its own exit code (3), as in the two-file compare,
    // and each figure is a JUnit failure of type "inconclusive".
    let inconclusive = ["--bootstrap", "inconclusive"];
    let (code, out, err, failures) = gate_with(
        url,
        dir,
        &new("step", 13.2),
        "label:commit=c2",
        &inconclusive,
    );
    assert!(err.is_empty(), "{err}");
    assert_eq!((code, failures), (Some(3), 10), "{out}");
    assert!(out.contains("INCONCLUSIVE: too few stored runs"), "{out}");
    assert!(
        out.contains("inconclusive: 1 stored run(s), the gate needs 3"),
        "{out}"
    );

    // No history for this plan at all: inconclusive (exit 3) when asked, not a regression;
    // by default (--bootstrap pass) not judged and passing, saying so.
    let (code, out, _, _) = gate_with(
        url,
        dir,
        &new("never-stored", 50.0),
        "last:10",
        &inconclusive,
    );
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("none stored"), "{out}");
    let (code, out, failures) = gate(url, dir, &new("never-stored", 50.0), "last:10");
    assert_eq!((code, failures), (Some(0), 0), "{out}");
    assert!(
        out.contains("BOOTSTRAP: 10 figure(s) have fewer than 3 stored runs")
            && out.contains("not judged: bootstrap: 0 stored run(s), the gate needs 3"),
        "{out}"
    );

    // The new run stored already (run --store, then compare) is not its own baseline.
    let mut store = Store::open(url, Access::Write).expect("open");
    let stored_new = new("steady", 12.0);
    store.put(&stored_new, &[]).expect("put");
    let (code, _, _) = gate(url, dir, &stored_new, "last:10");
    assert_eq!(code, Some(1));
}

/// A store from a newer numaload is refused, naming the store and what to do.
pub fn newer_schema_is_refused(url: &str) {
    drop(Store::open(url, Access::Write).expect("create"));
    let mut raw = Store::open(url, Access::Write).expect("open");
    drop(raw.runs(&Query::default()));
    bump_schema(url);
    let e = Store::open(url, Access::Read).expect_err("a newer schema");
    let text = e.to_string();
    assert!(
        text.contains(&format!(
            "schema version 99 is newer than this numaload's ({})",
            numaload::store::schema::CURRENT
        )),
        "{text}"
    );
    assert!(text.starts_with("store "), "{text}");
    assert!(!text.contains('\n'));
    let (code, _, err) = cli(&["history", "--store", url]);
    assert_eq!(code, Some(4), "a store that cannot be read: {err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("use the numaload that wrote it"), "{err}");
}

fn bump_schema(url: &str) {
    raw_sql(url, "INSERT INTO numaload_schema (version) VALUES (99)");
}

/// Runs `sql` on the store behind numaload's back.
fn raw_sql(url: &str, sql: &str) {
    if numaload::store::is_postgres(url) {
        let mut c = postgres::Client::connect(url, postgres::NoTls).expect("connect");
        c.batch_execute(sql).expect(sql);
    } else {
        let c = rusqlite::Connection::open(url).expect("open");
        c.execute_batch(sql).expect(sql);
    }
}

/// `result` as if run on another machine: its hosts renamed.
pub fn elsewhere(mut result: RunResult) -> RunResult {
    for h in std::iter::once(&mut result.host).chain(&mut result.hosts) {
        h.hostname = "elsewhere".into();
    }
    result
}

/// Baselines scoped: `--where KEY=VALUE` keeps the runs carrying every such label; by default
/// only runs on the same hosts and topology count, `--any-host` widens; a run stored without a
/// host fingerprint counts when its host set is the same.
pub fn scoped_baselines(url: &str, dir: &Path) {
    // main at 10 ms, a dev branch at 20 ms, another host at 20 ms, interleaved in time.
    let mut store = Store::open(url, Access::Write).expect("open");
    for i in 0..12 {
        let (result, branch) = match i % 3 {
            0 => (synthetic("scoped", i, 10.0, 5000.0), "main"),
            1 => (synthetic("scoped", i, 20.0, 5000.0), "dev"),
            _ => (elsewhere(synthetic("scoped", i, 20.0, 5000.0)), "main"),
        };
        let labels = vec![
            ("branch".to_owned(), branch.to_owned()),
            ("ci".to_owned(), "yes".to_owned()),
        ];
        assert_eq!(store.put(&result, &labels), Ok(Put::Stored));
    }
    drop(store);
    let new = synthetic("scoped", 100, 20.0, 5000.0);
    // Against main on this host (four runs at 10 ms), 20 ms regresses.
    let (code, out, _, _) = gate_with(url, dir, &new, "last:10", &["--where", "branch=main"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("labelled branch=main") && out.contains("(hosts "),
        "{out}"
    );
    // Two labels: both must match.
    let both = ["--where", "branch=main", "--where", "ci=yes"];
    let (code, out, _, _) = gate_with(url, dir, &new, "last:10", &both);
    assert_eq!(code, Some(1), "{out}");
    let none = [
        "--where",
        "branch=main",
        "--where",
        "ci=no",
        "--bootstrap",
        "inconclusive",
    ];
    let (code, out, _, _) = gate_with(url, dir, &new, "last:10", &none);
    assert_eq!(code, Some(3), "no run carries both: {out}");
    // Every branch on this host: main and dev, 10 and 20 ms: 20 ms is in the range.
    let (code, out, _) = gate(url, dir, &new, "last:10");
    assert_eq!(code, Some(0), "{out}");
    // main on any host: the other host's 20 ms runs count, and 20 ms is in the range again.
    let any = ["--where", "branch=main", "--any-host"];
    let (code, out, _, _) = gate_with(url, dir, &new, "last:10", &any);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("from every host"), "{out}");
    // Which runs each scope reads.
    let mut store = Store::open(url, Access::Read).expect("open");
    let read = |store: &mut Store, scope: &numaload::store::gate::Scope| -> Vec<String> {
        let q = numaload::store::gate::Baseline::Last(10).query(&new, scope);
        store
            .runs(&q)
            .expect("runs")
            .iter()
            .map(|r| r.hosts.join(","))
            .collect()
    };
    let here = read(&mut store, &Default::default());
    assert_eq!(here.len(), 8, "{here:?}");
    assert!(here.iter().all(|h| h != "elsewhere"), "{here:?}");
    let scope = numaload::store::gate::Scope {
        any_host: true,
        ..Default::default()
    };
    assert_eq!(read(&mut store, &scope).len(), 12);
    drop(store);
    // Runs stored before the store kept host fingerprints count by their host set.
    raw_sql(url, "UPDATE runs SET host_fingerprint = ''");
    let mut store = Store::open(url, Access::Read).expect("open");
    assert_eq!(read(&mut store, &Default::default()), here);
    assert!(store
        .runs(&Query::default())
        .expect("runs")
        .iter()
        .all(|r| r.host_fingerprint.is_empty()));
    // Bad flags are bad input.
    let file = dir.join("scoped-new.json");
    std::fs::write(&file, new.to_json()).expect("write");
    let file = file.to_str().expect("utf8");
    let base = ["compare", "--store", url, "--baseline", "last:10", file];
    let (code, _, err) = cli(&[&base[..], &["--where", "nokey"]].concat());
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--where nokey"), "{err}");
    let (code, _, err) = cli(&[&base[..], &["--bootstrap", "maybe"]].concat());
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--bootstrap maybe"), "{err}");
    let (code, _, err) = cli(&["compare", "a.json", "b.json", "--where", "branch=main"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("need --store and --baseline"), "{err}");
}

/// A step in p99 after twelve runs: 10 ms, then 13 ms, each within ±0.5%.
pub fn step_history() -> Vec<f64> {
    (0..24)
        .map(|i| {
            let level = if i < 12 { 10.0 } else { 13.0 };
            level * (1.0 + 0.005 * [0.0, 1.0, -1.0, 0.5][i % 4])
        })
        .collect()
}

/// `history --changes` finds the step at its run and names the runs on either side, in text and
/// JSON; `compare --baseline since-change` judges against the runs after it, where a rolling
/// window spanning the step finds a plausible value; the HTML history marks it and draws the
/// plan's thresholds.
pub fn changes_cli(url: &str, dir: &Path) {
    fill(url, "step2", &step_history());
    let (code, out, err) = cli(&["history", "--store", url, "--changes", "--figure", "p99"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.starts_with("2 change point(s) in 2 series"), "{out}");
    assert!(
        out.contains("CHANGE at run 13 of 24: 10.01 ms → 13.01 ms, +3.00 ms (+30.0%), p = 0.0"),
        "{out}"
    );
    assert!(
        out.contains("last before: 2026-12-01T10:11:00Z  run-step2-011  commit=c11")
            && out.contains("first after: 2026-12-01T10:12:00Z  run-step2-012  commit=c12"),
        "{out}"
    );
    let (code, json, err) = cli(&[
        "history",
        "--store",
        url,
        "--changes",
        "--format",
        "json",
        "--layout",
        "per-node",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let doc: serde_json::Value = serde_json::from_str(&json).expect("json");
    let figures = doc["series"][0]["figures"].as_array().expect("figures");
    assert_eq!(figures.len(), 5, "every figure without --figure");
    let p99 = figures.iter().find(|f| f["figure"] == "p99").expect("p99");
    assert_eq!(p99["changes"][0]["after"]["run_id"], "run-step2-012");
    assert_eq!(p99["changes"][0]["after"]["labels"]["commit"], "c12");
    let throughput = figures.iter().find(|f| f["figure"] == "throughput");
    assert_eq!(
        throughput.expect("throughput")["changes"],
        serde_json::json!([])
    );

    // 14.5 ms: within a rolling window's spread across the step, a regression against the 13 ms
    // runs since it.
    let new = synthetic("step2", 100, 14.5, 5000.0);
    let (code, out, _) = gate(url, dir, &new, "last:24");
    assert_eq!(code, Some(0), "{out}");
    let (code, out, failures) = gate(url, dir, &new, "since-change");
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(failures, 2 * 3, "p50, p99, p99.9 of both layouts: {out}");
    assert!(
        out.contains(
            "history: p99 corrected changed at run run-step2-012 (10.01 ms → 13.01 ms (+30.0%)"
        ) && out.contains("the baseline is the 12 run(s) since"),
        "{out}"
    );

    // Bad flags.
    for (flags, message) in [
        (&["--significance", "0"][..], "--significance 0"),
        (&["--window", "3"][..], "--window 3"),
        (
            &["--changes", "--format", "csv"][..],
            "--changes prints text or json",
        ),
        (&["--where", "nokey"][..], "--where nokey"),
    ] {
        let (code, _, err) = cli(&[&["history", "--store", url][..], flags].concat());
        assert_eq!(code, Some(2), "{flags:?}: {err}");
        assert!(err.contains(message), "{flags:?}: {err}");
    }
    let (code, _, err) = cli(&["compare", "--baseline", "since", "x.json"]);
    assert_eq!(code, Some(2), "{err}");

    // The HTML history: every figure charted per layout, the step marked, the threshold drawn.
    let mut store = Store::open(url, Access::Write).expect("open");
    let mut limited = synthetic("step2", 24, 13.0, 5000.0);
    limited.plan.thresholds.all.insert(
        numaload::plan::Metric::P99,
        numaload::plan::Threshold::parse(numaload::plan::Metric::P99, "< 15ms").expect("parse"),
    );
    assert_eq!(store.put(&limited, &[]), Ok(Put::Stored));
    drop(store);
    let page = history_page(url, dir, &["--plan", "step2"]);
    let html = std::fs::read_to_string(&page).expect("page");
    assert_eq!(html.matches("<svg").count(), 2 * 5, "{html}");
    assert_eq!(
        html.matches(r#"class="change-worse""#).count(),
        2 * 3,
        "p50, p99, p99.9"
    );
    assert_eq!(html.matches("(+30.0%)</text>").count(), 2 * 3);
    assert_eq!(
        html.matches(r#"class="limit""#).count(),
        2,
        "p99's chart of each layout"
    );
    assert!(html.contains(">p99 &lt; 15ms</text>"), "{html}");
    assert_eq!(html.matches(r#"class="level""#).count(), 2 * (3 * 2 + 2));
    assert!(html.contains(r#"<a href="history-runs/run-step2-012.html">run-step2-012</a>"#));
    assert!(
        !html.contains("<script") && !html.contains("src="),
        "self-contained"
    );
}

/// `numaload history --format html --out DIR/history.html` with `flags`; the page's path.
pub fn history_page(url: &str, dir: &Path, flags: &[&str]) -> std::path::PathBuf {
    let page = dir.join("history.html");
    let out = page.to_str().expect("utf8");
    let args = [
        &["history", "--store", url, "--format", "html", "--out", out][..],
        flags,
    ]
    .concat();
    let (code, _, err) = cli(&args);
    assert_eq!(code, Some(0), "{err}");
    page
}
