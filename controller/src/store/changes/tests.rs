//! The detector on synthetic series (a step, a slow drift, a change of spread, two steps far
//! apart, pure noise over many seeds) and the series it is run on.

use super::edivisive::{change_points, Rng, Settings};
use super::*;

/// `n` normal values of mean `mean` and standard deviation `sd` (Box–Muller).
fn normal(rng: &mut Rng, n: usize, mean: f64, sd: f64) -> Vec<f64> {
    let uniform = |rng: &mut Rng| ((rng.next() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    (0..n)
        .map(|_| {
            let (u, v) = (uniform(rng), uniform(rng));
            mean + sd * (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
        })
        .collect()
}

fn indexes(values: &[f64], settings: &Settings) -> Vec<usize> {
    change_points(values, settings)
        .iter()
        .map(|s| s.index)
        .collect()
}

#[test]
fn a_step_is_found_at_its_run_with_its_size() {
    let mut rng = Rng::new(1);
    let mut x = normal(&mut rng, 20, 10.0, 0.3);
    x.extend(normal(&mut rng, 20, 12.0, 0.3));
    let found = change_points(&x, &Settings::default());
    assert_eq!(found.len(), 1, "{found:?}");
    let step = &found[0];
    assert_eq!(step.index, 20);
    assert!(step.p_value <= 0.01, "{step:?}");
    assert!((step.step() - 2.0).abs() < 0.3, "{step:?}");
    assert!((step.relative_step().expect("relative") - 0.2).abs() < 0.03);
    assert_eq!((step.before.clone(), step.after.clone()), (0..20, 20..40));
}

#[test]
fn a_small_step_in_a_long_history_and_a_return_are_both_found() {
    // 10 → 10.6 at run 50, back to 10 at run 90, in 140 runs: three windows.
    let mut rng = Rng::new(2);
    let mut x = normal(&mut rng, 50, 10.0, 0.2);
    x.extend(normal(&mut rng, 40, 10.6, 0.2));
    x.extend(normal(&mut rng, 50, 10.0, 0.2));
    assert_eq!(indexes(&x, &Settings::default()), [50, 90]);
}

#[test]
fn a_slow_drift_is_cut_where_it_has_moved_and_every_step_goes_its_way() {
    let mut rng = Rng::new(3);
    let noise = normal(&mut rng, 60, 0.0, 0.1);
    let x: Vec<f64> = (0..60)
        .map(|i| 10.0 * 1.01f64.powi(i) + noise[i as usize])
        .collect();
    let found = change_points(&x, &Settings::default());
    assert!(!found.is_empty(), "a 80% drift is not one distribution");
    assert!(found.iter().all(|s| s.step() > 0.0), "{found:?}");
    // The baseline since the last change is the recent level, not the whole history's mean.
    let (start, last) = since_last_change(&x, &Settings::default());
    assert_eq!(start, last.expect("a change").index);
    let recent = crate::stats::mean(&x[start..]);
    assert!(
        (recent - x[59]).abs() < (crate::stats::mean(&x) - x[59]).abs() / 2.0,
        "{recent} against {}",
        x[59]
    );
}

#[test]
fn a_change_of_spread_alone_is_found() {
    let mut rng = Rng::new(4);
    let mut x = normal(&mut rng, 40, 10.0, 0.2);
    x.extend(normal(&mut rng, 40, 10.0, 2.0));
    let found = change_points(&x, &Settings::default());
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].index.abs_diff(40) <= 3, "{found:?}");
}

/// The share of pure-noise series in which anything is found stays within the level: 200
/// seeds, normal and skewed (log-normal, as latency percentiles are) noise.
#[test]
fn pure_noise_gives_no_change_point_beyond_the_level() {
    for level in [0.01, 0.05] {
        let settings = Settings {
            level,
            ..Settings::default()
        };
        for (shape, skewed) in [("normal", false), ("log-normal", true)] {
            let mut false_changes = 0;
            for seed in 0..200u64 {
                let mut rng = Rng::new(1000 + seed);
                let mut x = normal(&mut rng, 40, 0.0, 1.0);
                if skewed {
                    x.iter_mut().for_each(|v| *v = (2.0 + *v * 0.5).exp());
                }
                if !change_points(&x, &settings).is_empty() {
                    false_changes += 1;
                }
            }
            let allowed = (level * 200.0).round() as usize;
            assert!(
                false_changes <= allowed,
                "{shape} noise at {level}: {false_changes} of 200 series with a change (≤ {allowed})"
            );
        }
    }
}

#[test]
fn the_answer_is_deterministic_and_empty_where_nothing_can_change() {
    let mut rng = Rng::new(5);
    let mut x = normal(&mut rng, 15, 5.0, 0.5);
    x.extend(normal(&mut rng, 15, 7.0, 0.5));
    let settings = Settings::default();
    assert_eq!(change_points(&x, &settings), change_points(&x, &settings));
    assert!(change_points(&[3.0; 30], &settings).is_empty(), "constant");
    assert!(
        change_points(&[1.0, 9.0, 1.0], &settings).is_empty(),
        "too short"
    );
    assert!(change_points(&[], &settings).is_empty());
    // Mostly zero with two errors (an error rate): not a change.
    let mut errors = vec![0.0; 30];
    errors[7] = 0.001;
    errors[21] = 0.002;
    assert!(change_points(&errors, &settings).is_empty());
}

fn stored(i: usize, host: &str, status: LayoutStatus, p99_ms: f64) -> StoredRun {
    StoredRun {
        run_id: format!("run-{i:03}"),
        started_at: format!("2026-12-01T10:{i:02}:00Z"),
        plan_name: "ci".into(),
        plan_fingerprint: "f".into(),
        host_fingerprint: host.into(),
        hosts: vec!["vm".into()],
        agents: vec![],
        cancelled: false,
        degraded: false,
        labels: [("commit".to_owned(), format!("c{i}"))].into(),
        layouts: vec![StoredLayout {
            name: "single".into(),
            status,
            trials: 1,
            requests: 1000,
            throughput_rps: Some(500.0),
            p50_ns: Some(p99_ms * 0.5e6),
            p99_ns: Some(p99_ms * 1e6),
            p999_ns: Some(p99_ms * 2e6),
            error_rate: Some(0.0),
        }],
    }
}

#[test]
fn series_are_scoped_and_a_change_names_the_runs_on_either_side() {
    let mut runs: Vec<StoredRun> = (0..24)
        .map(|i| {
            let level = if i < 12 { 1.0 } else { 2.0 };
            stored(i, "h1", LayoutStatus::Ok, level + 0.01 * (i % 3) as f64)
        })
        .collect();
    // A suspect run at 9 ms: not trusted, not a change.
    runs[5].layouts[0].status = LayoutStatus::Suspect;
    runs[5].layouts[0].p99_ns = Some(9e6);
    // Another host's runs, and one stored before fingerprints, on the first host's set.
    let mut elsewhere = stored(30, "h2", LayoutStatus::Ok, 5.0);
    elsewhere.hosts = vec!["other".into()];
    runs.push(elsewhere);
    runs.push(stored(31, "", LayoutStatus::Ok, 2.0));
    let all = series(&runs, false);
    assert_eq!(all.len(), 2);
    assert_eq!(
        all[0].points.len(),
        25,
        "the run without a fingerprint joins h1"
    );
    assert_eq!(
        all[0].values(Figure::P99).len(),
        24,
        "the suspect run is left out"
    );
    assert_eq!(series(&runs, true).len(), 1);

    let changes = all[0].changes(Figure::P99, &Settings::default());
    assert_eq!(changes.len(), 1, "{changes:?}");
    let c = &changes[0];
    assert_eq!(
        (c.before.run_id.as_str(), c.after.run_id.as_str()),
        ("run-011", "run-012")
    );
    assert!(c.worse());
    assert!(
        c.step_text().starts_with('+') && c.step_text().contains("%)"),
        "{}",
        c.step_text()
    );

    let text = text(
        &runs,
        &[Figure::P99, Figure::Throughput],
        false,
        &Settings::default(),
    );
    assert!(text.starts_with("1 change point(s) in 2 series"), "{text}");
    assert!(text.contains("CHANGE at run 12 of 24"), "{text}");
    assert!(
        text.contains("last before: 2026-12-01T10:11:00Z  run-011  commit=c11"),
        "{text}"
    );
    assert!(
        text.contains("first after: 2026-12-01T10:12:00Z  run-012  commit=c12"),
        "{text}"
    );
    assert!(
        text.contains("throughput: no change point (24 run(s))"),
        "{text}"
    );

    let doc: serde_json::Value =
        serde_json::from_str(&json(&runs, &[Figure::P99], false, &Settings::default()))
            .expect("json");
    let change = &doc["series"][0]["figures"][0]["changes"][0];
    assert_eq!(change["after"]["run_id"], "run-012");
    assert_eq!(change["worse"], true);
    assert!(change["p_value"].as_f64().is_some_and(|p| p <= 0.01));
}

/// Why a permutation test: the t-test Hunter applies to the chosen split (the best of every
/// split) finds a change in pure noise far more often than its level says.
#[test]
fn a_t_test_of_the_chosen_split_is_not_held_to_its_level() {
    let level = 0.01;
    let mut false_changes = 0;
    for seed in 0..200u64 {
        let mut rng = Rng::new(1000 + seed);
        let x = normal(&mut rng, 40, 0.0, 1.0);
        let (tau, _) = super::edivisive::best_split(&x, 4).expect("a split");
        let (a, b) = (&x[..tau], &x[tau..]);
        let (va, vb) = (
            crate::stats::variance(a) / a.len() as f64,
            crate::stats::variance(b) / b.len() as f64,
        );
        let t = (crate::stats::mean(b) - crate::stats::mean(a)) / (va + vb).sqrt();
        let df =
            (va + vb).powi(2) / (va * va / (a.len() - 1) as f64 + vb * vb / (b.len() - 1) as f64);
        let p = 2.0 * crate::stats::student_t_cdf(-t.abs(), df);
        if p <= level {
            false_changes += 1;
        }
    }
    assert!(
        false_changes > 3 * (level * 200.0) as usize,
        "the t-test of the best split: {false_changes} of 200 noise series"
    );
}
