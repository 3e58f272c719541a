//! The history store for real: SQLite files through the system libsqlite3 and a throw-away
//! PostgreSQL cluster, the same store, history and gate tests on both (`history_support/`),
//! concurrent writers, every failure a store can have (locked, read-only, corrupt, newer
//! schema, unreachable), and `numaload run --store` keeping the result when the store fails.

use crate::common;
use crate::common::OpenPlan;
use std::path::{Path, PathBuf};
use std::time::Duration;

use numaload::store::{Access, Store};

use crate::history_support;
use crate::history_support::{cli, pg::Cluster};

fn scratch(name: &str) -> PathBuf {
    common::scratch("history", name)
}

fn sqlite(name: &str) -> (PathBuf, String) {
    let dir = scratch(name);
    let url = dir.join("history.db").to_str().expect("utf8").to_owned();
    (dir, url)
}

#[test]
fn sqlite_stores_and_reads_back() {
    let _turn = crate::turns::beside_others();
    let (_dir, url) = sqlite("roundtrip");
    history_support::store_and_read_back(&url);
}

#[test]
fn sqlite_concurrent_writers_all_land() {
    let _turn = crate::turns::beside_others();
    let (_dir, url) = sqlite("concurrent");
    history_support::concurrent_writers(&url);
}

#[test]
fn sqlite_history_in_every_format() {
    let _turn = crate::turns::beside_others();
    let (dir, url) = sqlite("history");
    history_support::history_cli(&url, &dir);
}

#[test]
fn sqlite_rolling_baseline_gate() {
    let _turn = crate::turns::beside_others();
    let (dir, url) = sqlite("gate");
    history_support::gate_cli(&url, &dir);
}

#[test]
fn sqlite_baseline_skips_untrusted_runs() {
    let _turn = crate::turns::beside_others();
    let (dir, url) = sqlite("untrusted");
    history_support::baseline_skips_untrusted_runs(&url, &dir);
}

#[test]
fn sqlite_scoped_baselines() {
    let _turn = crate::turns::beside_others();
    let (dir, url) = sqlite("scoped");
    history_support::scoped_baselines(&url, &dir);
}

#[test]
fn sqlite_change_points_and_since_change() {
    let _turn = crate::turns::beside_others();
    let (dir, url) = sqlite("changes");
    history_support::changes_cli(&url, &dir);
}

#[test]
fn sqlite_newer_schema_is_refused() {
    let _turn = crate::turns::beside_others();
    let (_dir, url) = sqlite("newer");
    history_support::newer_schema_is_refused(&url);
}

#[test]
fn sqlite_failures_are_one_line_naming_the_store() {
    let _turn = crate::turns::beside_others();
    let dir = scratch("failures");
    let one_line = |e: numaload::store::StoreError, what: &str| {
        let text = e.to_string();
        assert!(text.starts_with("store ") && !text.contains('\n'), "{text}");
        assert!(text.contains(what), "{what}: {text}");
    };
    // Corrupt: not a database.
    let corrupt = dir.join("corrupt.db");
    std::fs::write(&corrupt, vec![b'x'; 4096]).expect("write");
    let e = Store::open(corrupt.to_str().expect("utf8"), Access::Write).expect_err("corrupt");
    one_line(e, "not a SQLite database");
    // Read-only (a file: URI asks SQLite for it: tests run as root, which file modes do not stop).
    let (_d, ro) = sqlite("failures-ro");
    drop(Store::open(&ro, Access::Write).expect("create"));
    let e = Store::open(&format!("file:{ro}?mode=ro"), Access::Write)
        .and_then(|mut s| s.put(&history_support::synthetic("ro", 0, 1.0, 1.0), &[]))
        .expect_err("read-only");
    one_line(e, "read-only");
    // Locked: another connection holds the write lock past the wait.
    let (_d, locked) = sqlite("failures-locked");
    drop(Store::open(&locked, Access::Write).expect("create"));
    let holder = rusqlite::Connection::open(&locked).expect("open");
    holder.execute_batch("BEGIN EXCLUSIVE").expect("lock");
    let e = Store::open_waiting(&locked, Access::Write, Duration::from_millis(200))
        .and_then(|mut s| s.put(&history_support::synthetic("locked", 0, 1.0, 1.0), &[]))
        .expect_err("locked");
    one_line(e, "locked by another process");
    holder.execute_batch("ROLLBACK").expect("unlock");
    // Missing, for reading: nothing to show.
    let missing = dir.join("missing.db");
    let e = Store::open(missing.to_str().expect("utf8"), Access::Read).expect_err("missing");
    one_line(e, "no such database file");
    // Through the binary: exit 4 (no answer: the store failed), one line on stderr.
    let (code, out, err) = cli(&["history", "--store", corrupt.to_str().expect("utf8")]);
    assert_eq!(code, Some(4), "{out}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("corrupt.db") && err.contains("move the file aside"),
        "{err}"
    );
    // A store without a selection, a selection without a store: bad input.
    let (code, _, err) = cli(&["compare", "--store", "x.db", "a.json", "b.json"]);
    assert_eq!(code, Some(2), "{err}");
    let (code, _, err) = cli(&["compare", "--baseline", "last:3", "b.json"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("needs a store"), "{err}");
}

#[test]
fn unreachable_postgres_is_one_line() {
    let _turn = crate::turns::beside_others();
    let e = Store::open_waiting(
        "postgres://someone:secret@127.0.0.1:1/numaload",
        Access::Write,
        Duration::from_secs(2),
    )
    .expect_err("nothing listens on port 1");
    let text = e.to_string();
    assert!(
        text.contains("cannot reach the PostgreSQL server"),
        "{text}"
    );
    assert!(
        text.contains("someone:***@127.0.0.1:1"),
        "the password is hidden: {text}"
    );
    assert!(!text.contains("secret") && !text.contains('\n'), "{text}");
}

/// The same tests on a real PostgreSQL server, one fresh database each.
#[test]
fn postgres_store_history_and_gate() {
    let _turn = crate::turns::beside_others();
    let cluster = Cluster::start("suite");
    let dir = scratch("postgres");
    history_support::concurrent_writers(&cluster.database("concurrent"));
    history_support::store_and_read_back(&cluster.database("roundtrip"));
    history_support::history_cli(&cluster.database("history"), &dir);
    history_support::gate_cli(&cluster.database("gate"), &dir);
    history_support::baseline_skips_untrusted_runs(&cluster.database("untrusted"), &dir);
    history_support::scoped_baselines(&cluster.database("scoped"), &dir);
    history_support::changes_cli(&cluster.database("changes"), &dir);
    history_support::newer_schema_is_refused(&cluster.database("newer"));
    let missing = format!("postgres://numaload@127.0.0.1:{}/no_such_db", cluster.port);
    let e = Store::open(&missing, Access::Write).expect_err("no database");
    assert!(e.to_string().contains("createdb"), "{e}");
}

/// `numaload run --store` for real: stored with its labels and its layouts' statuses (the exit
/// code follows them: 0 when every layout is ok, 4 when one is not); with a broken store the
/// result is still written and printed, the error is one line, the exit code 4.
#[test]
fn run_stores_the_result_and_keeps_it_when_the_store_fails() {
    let _turn = crate::turns::beside_others();
    let dir = scratch("run");
    let plan = OpenPlan {
        name: "history-run",
        duration: "300ms",
        warmup: "100ms",
        ..OpenPlan::default()
    }
    .write(&dir);
    let (plan, db) = (plan.to_str().expect("utf8"), dir.join("h.db"));
    let out = dir.join("result.json");
    let (code, _, err) = cli(&[
        "run",
        plan,
        "--quiet",
        "--out",
        out.to_str().expect("utf8"),
        "--store",
        db.to_str().expect("utf8"),
        "--label",
        "commit=abc",
    ]);
    let result = common::read_json(&out);
    let status = result["layouts"][0]["status"].as_str().expect("status");
    assert_eq!(
        code,
        Some(if status == "ok" { 0 } else { 4 }),
        "{status}: {err}"
    );
    let mut store = Store::open(db.to_str().expect("utf8"), Access::Read).expect("open");
    let runs = store.runs(&Default::default()).expect("runs");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].labels["commit"], "abc");
    assert_eq!(runs[0].layouts[0].status.as_str(), status);
    assert!(runs[0].layouts[0].throughput_rps.is_some_and(|t| t > 0.0));

    let corrupt = dir.join("corrupt.db");
    std::fs::write(&corrupt, vec![b'x'; 4096]).expect("write");
    let kept = dir.join("kept.json");
    let (code, stdout, err) = cli(&[
        "run",
        plan,
        "--quiet",
        "--out",
        kept.to_str().expect("utf8"),
        "--store",
        corrupt.to_str().expect("utf8"),
    ]);
    assert_eq!(code, Some(4), "{err}");
    assert!(kept.exists(), "the result is written to --out");
    assert!(stdout.contains("single"), "the report is printed: {stdout}");
    let errors: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("numaload: error"))
        .collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(
        errors[0].contains("corrupt.db") && errors[0].contains("kept in"),
        "{err}"
    );

    let (code, _, err) = cli(&["run", plan, "--label", "commit=abc"]);
    assert_eq!(code, Some(2), "a label without a store: {err}");
}

/// The README's CI example ("Gate it in CI") from an empty store, for real: its first run
/// passes (too little history: `--bootstrap pass`, the default) and is stored; on top of enough
/// history, a run three times slower fails (exit 1).
#[test]
fn the_readme_ci_example_passes_first_and_fails_a_3x_slower_run() {
    let _turn = crate::turns::beside_others();
    let dir = scratch("readme-ci");
    let plan = OpenPlan {
        name: "ci",
        duration: "1500ms",
        warmup: "300ms",
        ..OpenPlan::default()
    }
    .write(&dir);
    let (db, out, junit) = (
        dir.join("history.db"),
        dir.join("result.json"),
        dir.join("compare.xml"),
    );
    let (db, out, junit) = (
        db.to_str().expect("utf8"),
        out.to_str().expect("utf8"),
        junit.to_str().expect("utf8"),
    );
    // numaload run ci/plan.toml --out result.json --store history.db --label commit=...
    let (code, _, err) = cli(&[
        "run",
        plan.to_str().expect("utf8"),
        "--quiet",
        "--out",
        out,
        "--store",
        db,
        "--label",
        "commit=c0",
    ]);
    let result: numaload::result::RunResult =
        serde_json::from_value(common::read_json(Path::new(out))).expect("result");
    assert_eq!(
        result.layouts[0].status.as_str(),
        "ok",
        "the example's run must be ok to become history: {err}"
    );
    assert_eq!(code, Some(0), "{err}");
    // numaload compare --store history.db --baseline last:10 result.json --junit compare.xml
    let gate = |file: &str| {
        cli(&[
            "compare",
            "--store",
            db,
            "--baseline",
            "last:10",
            file,
            "--junit",
            junit,
        ])
    };
    let (code, stdout, err) = gate(out);
    assert_eq!(code, Some(0), "the first run passes: {stdout}{err}");
    assert!(stdout.contains("BOOTSTRAP"), "{stdout}");
    common::assert_valid_junit(Path::new(junit));
    let mut store = Store::open(db, Access::Write).expect("open");
    assert_eq!(
        store.runs(&Default::default()).expect("runs").len(),
        1,
        "and is stored"
    );

    // Enough history: the same run three more times.
    for i in 1..4 {
        let mut again = result.clone();
        again.run_id = format!("{}-{i}", result.run_id);
        again.started_at = format!("2099-01-01T00:00:0{i}Z");
        store.put(&again, &[]).expect("put");
    }
    drop(store);
    let mut slower = result.clone();
    slower.run_id = format!("{}-slower", result.run_id);
    slower.started_at = "2099-01-01T00:01:00Z".into();
    for l in &mut slower.layouts {
        for p in [
            &mut l.latency_ns.p50,
            &mut l.latency_ns.p99,
            &mut l.latency_ns.p999,
        ] {
            *p *= 3;
        }
    }
    let slower_file = dir.join("slower.json");
    std::fs::write(&slower_file, slower.to_json()).expect("write");
    let (code, stdout, err) = gate(slower_file.to_str().expect("utf8"));
    assert_eq!(code, Some(1), "a 3x slower run fails: {stdout}{err}");
    assert!(stdout.contains("REGRESSION"), "{stdout}");
    let (code, stdout, _) = gate(out);
    assert_eq!(code, Some(0), "the run itself is no regression: {stdout}");
}
