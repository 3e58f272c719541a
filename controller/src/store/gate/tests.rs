//! The rule on synthetic histories: steady, noisy, drifting, a step change, too few runs; and
//! which stored runs a baseline holds.

use super::*;
use crate::store::record::StoredRun;

const MS: f64 = 1_000_000.0;

fn rule() -> Rule {
    Rule {
        threshold_pct: 5.0,
        sigmas: DEFAULT_SIGMAS,
        min_runs: DEFAULT_MIN_RUNS,
        bootstrap: Bootstrap::Inconclusive,
    }
}

/// Ten p99s of 10 ms within ±0.5%.
fn steady() -> Vec<f64> {
    [
        1.0, 0.996, 1.004, 0.998, 1.003, 1.0, 0.995, 1.005, 0.999, 1.001,
    ]
    .iter()
    .map(|x| 10.0 * MS * x)
    .collect()
}

/// Ten p99s between 8 and 14 ms (mean 11, sd ≈ 2.1).
fn noisy() -> Vec<f64> {
    [8.0, 14.0, 9.0, 13.0, 11.0, 12.0, 8.5, 13.5, 10.0, 11.0]
        .iter()
        .map(|x| x * MS)
        .collect()
}

/// Ten p99s climbing 2% a run from 10 ms (10 → 11.95 ms).
fn drifting() -> Vec<f64> {
    (0..10).map(|i| 10.0 * MS * 1.02f64.powi(i)).collect()
}

fn verdict(history: &[f64], new_ms: f64) -> (Verdict, bool) {
    let f = judge(Figure::P99, history, new_ms * MS, &rule());
    (f.verdict, f.regression)
}

#[test]
fn a_steady_history_fails_a_real_step_but_not_a_tiny_change() {
    use Verdict::*;
    // 3% above the mean: many sigmas out, yet within 5% of the worst run.
    assert_eq!(verdict(&steady(), 10.3), (Worse, false));
    assert_eq!(verdict(&steady(), 10.0), (NoSignificantChange, false));
    assert_eq!(verdict(&steady(), 12.0), (Worse, true));
    assert_eq!(verdict(&steady(), 9.0), (Better, false));
}

#[test]
fn a_noisy_history_makes_a_wide_range_plausible() {
    use Verdict::*;
    // 16 ms is 14% beyond the worst run but within 3 sd (≈ 6.3 ms) of the 11 ms mean.
    assert_eq!(verdict(&noisy(), 16.0), (Worse, false));
    assert_eq!(verdict(&noisy(), 12.0), (NoSignificantChange, false));
    assert_eq!(verdict(&noisy(), 20.0), (Worse, true));
}

#[test]
fn a_drifting_history_is_flagged_and_a_step_off_its_trend_fails() {
    use Verdict::*;
    let h = drifting();
    // The next run on the trend (12.2 ms) lies within 5% of the worst (11.95 ms).
    assert_eq!(verdict(&h, 12.2), (Worse, false));
    assert_eq!(verdict(&h, 14.0), (Worse, true));
    let drift = drift_pct(Figure::P99, &h, 5.0).expect("a drift");
    assert!((15.0..20.0).contains(&drift), "{drift}");
    assert_eq!(drift_pct(Figure::P99, &steady(), 5.0), None);
    assert_eq!(drift_pct(Figure::P99, &noisy(), 5.0), None);
    // Throughput falling is the worse direction.
    let falling: Vec<f64> = (0..10).map(|i| 1000.0 - 20.0 * i as f64).collect();
    assert!(drift_pct(Figure::Throughput, &falling, 5.0).is_some());
}

#[test]
fn after_a_step_in_the_history_the_last_runs_are_the_new_normal() {
    use Verdict::*;
    let mut h: Vec<f64> = steady();
    h.extend(steady().iter().map(|x| x * 1.3));
    // Against all twenty runs 13 ms is inside the range; against the last five too.
    assert_eq!(verdict(&h, 13.0), (NoSignificantChange, false));
    assert_eq!(verdict(&h[15..], 13.0), (NoSignificantChange, false));
    // The old level is now better than every recent run.
    assert_eq!(verdict(&h[15..], 10.0), (Better, false));
    // A step from the old level fails against the old runs only.
    assert_eq!(verdict(&h[..10], 13.0), (Worse, true));
}

#[test]
fn too_few_runs_are_inconclusive_or_pass_as_bootstrap_says() {
    for n in 0..3 {
        let (v, regression) = verdict(&steady()[..n], 50.0);
        assert_eq!(v, Verdict::Inconclusive { trials_needed: 3 }, "{n}");
        assert!(!regression);
        let pass = Rule {
            bootstrap: Bootstrap::Pass,
            ..rule()
        };
        let f = judge(Figure::P99, &steady()[..n], 50.0 * MS, &pass);
        let expected = format!(
            "bootstrap: {n} stored run(s), the gate needs 3 ({} more; --bootstrap pass)",
            3 - n
        );
        assert_eq!(f.verdict, Verdict::NotJudged(expected), "{n}");
        assert!(!f.regression);
    }
    assert!(verdict(&steady()[..3], 50.0).1);
    assert_eq!(Bootstrap::parse("pass"), Ok(Bootstrap::Pass));
    assert_eq!(
        Bootstrap::parse("inconclusive"),
        Ok(Bootstrap::Inconclusive)
    );
    assert!(Bootstrap::parse("fail")
        .expect_err("fail")
        .starts_with("--bootstrap fail"));
    assert_eq!(Bootstrap::default(), Bootstrap::Pass);
}

#[test]
fn the_query_keeps_to_this_host_and_the_labels_asked() {
    let new: RunResult = serde_json::from_str(include_str!(
        "../../../tests/fixtures/quickstart-result.json"
    ))
    .expect("fixture");
    let scope = Scope {
        labels: vec![("branch".into(), "main".into())],
        any_host: false,
    };
    let q = Baseline::Label("release".into(), "1".into()).query(&new, &scope);
    assert_eq!(
        q.same_hosts,
        Some((record::host_fingerprint(&new), record::hosts(&new)))
    );
    assert_eq!(
        q.labels,
        [
            ("branch".to_owned(), "main".to_owned()),
            ("release".to_owned(), "1".to_owned())
        ]
    );
    let wide = Baseline::Last(3).query(
        &new,
        &Scope {
            any_host: true,
            ..Scope::default()
        },
    );
    assert_eq!((wide.same_hosts, wide.hosts), (None, None));
    assert_eq!(wide.fingerprint, Some(record::fingerprint(&new)));
}

#[test]
fn throughput_and_error_rate_directions() {
    let tp = [1000.0, 1010.0, 990.0, 1005.0, 995.0];
    let r = rule();
    assert!(judge(Figure::Throughput, &tp, 900.0, &r).regression);
    assert!(!judge(Figure::Throughput, &tp, 1200.0, &r).regression);
    assert_eq!(
        judge(Figure::Throughput, &tp, 1200.0, &r).verdict,
        Verdict::Better
    );
    let errors = [0.0, 0.0, 0.0001, 0.0];
    assert!(!judge(Figure::ErrorRate, &errors, 0.0008, &r).regression);
    assert!(judge(Figure::ErrorRate, &errors, 0.01, &r).regression);
}

#[test]
fn baselines_parse_and_name_the_flag() {
    assert_eq!(Baseline::parse("last:10"), Ok(Baseline::Last(10)));
    assert_eq!(
        Baseline::parse("label:release=1.2"),
        Ok(Baseline::Label("release".into(), "1.2".into()))
    );
    assert_eq!(Baseline::parse("since-change"), Ok(Baseline::SinceChange));
    for bad in ["last:0", "last:x", "first:3", "label:nokey", "", "since"] {
        let e = Baseline::parse(bad).expect_err(bad);
        assert!(e.starts_with("--baseline "), "{e}");
    }
}

/// A stored run whose one layout `l` has `status` and a p99 of `p99_ms`.
fn stored(i: usize, status: LayoutStatus, p99_ms: f64) -> StoredRun {
    StoredRun {
        run_id: format!("run-{i}"),
        started_at: format!("2026-12-01T10:{i:02}:00Z"),
        plan_name: "p".into(),
        plan_fingerprint: "f".into(),
        host_fingerprint: "h".into(),
        hosts: vec!["h".into()],
        agents: vec!["a".into()],
        cancelled: false,
        degraded: false,
        labels: Default::default(),
        layouts: vec![StoredLayout {
            name: "l".into(),
            status,
            trials: 1,
            requests: 1000,
            throughput_rps: Some(1000.0),
            p50_ns: Some(p99_ms * MS / 2.0),
            p99_ns: Some(p99_ms * MS),
            p999_ns: Some(p99_ms * MS * 2.0),
            error_rate: Some(0.0),
        }],
    }
}

#[test]
fn a_baseline_holds_only_the_runs_in_which_the_layout_was_ok() {
    use LayoutStatus::*;
    let history: Vec<StoredRun> = [
        (Ok, 10.0),
        (Suspect, 1.0),
        (Ok, 11.0),
        (Incomplete, 1.0),
        (Ok, 12.0),
        (Degraded, 1.0),
        (Failed, 1.0),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, (status, p99))| stored(i, status, p99))
    .collect();
    let p99s = |layouts: &[&StoredLayout]| -> Vec<f64> {
        layouts
            .iter()
            .filter_map(|l| l.p99_ns)
            .map(|v| v / MS)
            .collect()
    };
    // last:2 is the last two ok runs, not the last two runs.
    let (ok, skipped) = Baseline::Last(2).of_layout(&history, "l");
    assert_eq!(p99s(&ok), [11.0, 12.0]);
    assert_eq!(skipped.len(), 4);
    let (ok, _) = Baseline::Label("k".into(), "v".into()).of_layout(&history, "l");
    assert_eq!(p99s(&ok), [10.0, 11.0, 12.0]);
    assert_eq!(
        skipped_flag(&skipped).as_deref(),
        Some(
            "history: 4 stored run(s) left out of the baseline, this layout not ok in them \
             (suspect, incomplete, degraded, failed)"
        )
    );
    assert_eq!(Baseline::Last(2).of_layout(&history, "other").0.len(), 0);
}

/// `since-change`: each figure's baseline is the runs after its last change point, and the
/// layout says where that was.
#[test]
fn since_change_judges_against_the_runs_after_the_last_change_point() {
    let mut history: Vec<StoredRun> = (0..24)
        .map(|i| {
            let level = if i < 14 { 10.0 } else { 20.0 };
            stored(i, LayoutStatus::Ok, level + 0.1 * (i % 3) as f64)
        })
        .collect();
    history[20].layouts[0].status = LayoutStatus::Suspect;
    let (stored_ok, _) = Baseline::SinceChange.of_layout(&history, "l");
    let runs: Vec<&StoredRun> = history
        .iter()
        .filter(|r| r.layouts[0].status == LayoutStatus::Ok)
        .collect();
    let mut values: Vec<f64> = stored_ok.iter().filter_map(|s| s.p99_ns).collect();
    let flag = since_last_change(Figure::P99, &stored_ok, &runs, &mut values).expect("a change");
    assert_eq!(values.len(), 9, "the 10 runs at 20 ms, one of them suspect");
    assert!(values.iter().all(|v| *v >= 20.0 * MS), "{values:?}");
    assert!(
        flag.starts_with("history: p99 corrected changed at run run-14 (")
            && flag.ends_with("the baseline is the 9 run(s) since"),
        "{flag}"
    );
    // 20 ms is the new normal.
    let f = judge(Figure::P99, &values, 20.0 * MS, &rule());
    assert_eq!(f.verdict, Verdict::NoSignificantChange);
}
