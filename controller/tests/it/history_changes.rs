//! Change points on a real history: runs of the built-in target stored in SQLite, `[target]
//! work_us` raised half way; `history --changes` finds the change at the run that raised it, and
//! the HTML history of these runs renders in headless Chromium with the change marked.

use std::path::Path;

use numaload::store::{Access, Store};

use crate::common::{self, OpenPlan};
use crate::history_support::{cli, history_page};
use crate::report_formats::{chromium, non_background_share};

const RUNS: usize = 16;
const RAISED_AT: usize = 8;

#[test]
fn a_raised_work_us_is_found_at_the_run_that_raised_it_and_the_page_shows_it() {
    let _turn = crate::turns::beside_others();
    let dir = common::scratch("history-changes", "real");
    let db = dir.join("history.db");
    let db = db.to_str().expect("utf8");
    record_runs(&dir, db);
    // Runs in which the layout was not ok are left out: the change lies between the last ok run
    // before the raise and the first ok run after it.
    let mut store = Store::open(db, Access::Read).expect("open");
    let runs = store.runs(&Default::default()).expect("runs");
    assert_eq!(runs.len(), RUNS);
    let ok: Vec<usize> = (0..RUNS)
        .filter(|i| runs[*i].layouts[0].status.as_str() == "ok")
        .collect();
    let before = ok
        .iter()
        .rev()
        .find(|i| **i < RAISED_AT)
        .expect("an ok run before");
    let after = ok
        .iter()
        .find(|i| **i >= RAISED_AT)
        .expect("an ok run after");
    assert!(
        ok.len() >= RUNS - 3,
        "too many runs not ok on this host: {ok:?}"
    );

    let (code, json, err) = cli(&[
        "history",
        "--store",
        db,
        "--changes",
        "--format",
        "json",
        "--figure",
        "p50",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let doc: serde_json::Value = serde_json::from_str(&json).expect("json");
    let changes = doc["series"][0]["figures"][0]["changes"]
        .as_array()
        .expect("changes")
        .clone();
    let at_raise = changes
        .iter()
        .find(|c| c["after"]["labels"]["commit"] == format!("c{after}"))
        .unwrap_or_else(|| panic!("no change at c{after}: {json}"));
    assert_eq!(at_raise["before"]["labels"]["commit"], format!("c{before}"));
    assert_eq!(at_raise["worse"], true);
    // The step is told against the level before it. (Its size is the machine's as much as the
    // work's: the baseline's latency grows on a busy host, so no size is asserted.)
    let figure = |key: &str| {
        at_raise[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{key}: {at_raise}"))
    };
    assert!(figure("step") > 0.0, "{at_raise}");
    let relative = figure("step") / figure("mean_before");
    assert!(
        (figure("relative_step") - relative).abs() < 1e-9,
        "relative step {} vs {relative}: {at_raise}",
        figure("relative_step")
    );
    assert!(
        at_raise["p_value"].as_f64().is_some_and(|p| p <= 0.01),
        "{at_raise}"
    );
    // The biggest step found is the raise.
    let largest = changes
        .iter()
        .max_by(|a, b| {
            a["step"]
                .as_f64()
                .unwrap_or(0.0)
                .total_cmp(&b["step"].as_f64().unwrap_or(0.0))
        })
        .expect("a change");
    assert_eq!(largest, at_raise, "{json}");
    let (code, text, _) = cli(&["history", "--store", db, "--changes", "--figure", "p50"]);
    assert_eq!(code, Some(0));
    let first_after = format!("commit=c{after}");
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with("first after:") && l.ends_with(&first_after)),
        "{text}"
    );

    let page = history_page(db, &dir, &[]);
    let html = std::fs::read_to_string(&page).expect("page");
    assert_eq!(
        html.matches("<svg").count(),
        5,
        "one chart per figure: {html}"
    );
    assert!(html.contains(r#"class="change-worse""#), "{html}");
    screenshot(&page, &dir);
}

/// `RUNS` runs of the built-in target stored in `db`, labelled `commit=cN`, `work_us` raised
/// from 10 to 2,000 at run `RAISED_AT`: 2 ms of CPU per request lift every median after the raise
/// above 2 ms, beyond the spread a busy machine gives the medians before it, and take a fifth of
/// the replica's CPU (100 req/s).
fn record_runs(dir: &Path, db: &str) {
    for i in 0..RUNS {
        let plan = OpenPlan {
            name: "raised",
            work_us: if i < RAISED_AT { 10 } else { 2_000 },
            rate: 100,
            duration: "600ms",
            warmup: "200ms",
            ..OpenPlan::default()
        }
        .write(dir);
        let (code, _, err) = cli(&[
            "run",
            plan.to_str().expect("utf8"),
            "--quiet",
            "--store",
            db,
            "--label",
            &format!("commit=c{i}"),
        ]);
        assert!(matches!(code, Some(0 | 4)), "run {i}: {err}");
    }
}

/// The page renders in headless Chromium, without console errors, not blank.
fn screenshot(page: &Path, dir: &Path) {
    let png = dir.join("history.png");
    let shot = chromium(
        page,
        &dir.join("profile-history"),
        &[
            &format!("--screenshot={}", png.display()),
            "--window-size=1280,2000",
        ],
    );
    let log = String::from_utf8_lossy(&shot.stderr);
    assert!(shot.status.success(), "chromium failed: {log}");
    let errors: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Refused"))
        .collect();
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    let (width, height, share) = non_background_share(&png);
    assert_eq!((width, height), (1280, 2000));
    assert!(
        share > 0.03,
        "the page looks blank: {:.1}% drawn",
        share * 100.0
    );
    eprintln!("screenshot: {}", png.display());
}
