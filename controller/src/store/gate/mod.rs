//! The rolling-baseline gate: a new result judged against the distribution of stored runs of
//! the same plan (fingerprint) and hosts, layout by layout and figure by figure. It fills
//! the two-file compare's [`Comparison`], so the exit code and JUnit output are the same.
//!
//! # Which stored runs ([`Scope`])
//!
//! Only runs of the same plan fingerprint, and by default only runs on the same hosts with the
//! same topology (`record::host_fingerprint`: names, CPU model, packages, nodes, cores, PUs,
//! allowed CPUs; a run stored before the store kept it counts when its host set is the same):
//! a run from another machine or another cpuset is not this machine's history. `--any-host`
//! widens to every host. `--where KEY=VALUE` (repeatable) keeps the runs carrying every such
//! label, e.g. one branch's (`--where branch=main`).
//!
//! # Too little history ([`Bootstrap`])
//!
//! With fewer stored runs in which the layout was `ok` than `--min-runs`, a figure is not
//! judged: `--bootstrap pass` (the default: a new history's first runs pass and are stored,
//! building the baseline) says so and passes; `--bootstrap inconclusive` makes it
//! inconclusive (exit 3) until the history is long enough.
//!
//! # The plausibility rule
//!
//! For one layout and one figure, let the history be the values of the selected stored runs
//! that measured it (`h₁ … hₙ`), with mean `m`, sample standard deviation `s`, and *worst*
//! value `w` (the highest latency or error rate, the lowest throughput). The new value `v`
//!
//! - is not judged when `n` is below `--min-runs` (3 by default): it passes, or is
//!   inconclusive, as `--bootstrap` says;
//! - is a **regression** when it is worse than `w` by more than `--max-regression` (relative to
//!   `w`; for the error rate, by more than 0.1 percentage points) **and** worse than `m` by
//!   more than `--sigmas` × `s` (3 by default). The first condition keeps a steady history (tiny
//!   `s`) from failing on a change too small to matter; the second keeps a noisy history (a
//!   wide range) from failing on a value its spread makes plausible;
//! - is otherwise **worse** when it lies beyond `w` in the worse direction (outside every
//!   stored run, but plausible), **better** when it lies beyond the history's best value by
//!   more than the threshold, and **no significant change** inside the range.
//!
//! A history that drifts (a least-squares trend over the runs worse by more than the threshold
//! from its first to its last run) is flagged on the layout: the gate catches steps, not slow
//! drifts that the range absorbs; `numaload history` shows them.
//!
//! # Only trusted runs are a baseline
//!
//! A layout's history holds only the stored runs in which that layout was `ok`: a run where it
//! was suspect, incomplete, degraded or failed is skipped for that layout (and still counts for
//! its other layouts), and `last:N` means the last N runs in which the layout was `ok`. How
//! many were skipped is flagged. A run stored before statuses said `suspect` and `incomplete`
//! reads as the status it recorded (`ok`, `degraded` or `failed`). The new result itself is
//! refused when a layout is not `ok` (exit 4), unless `--allow-suspect` / `--allow-degraded`
//! accept its status, as in the two-file compare.

mod baseline;
pub mod text;

use crate::compare::exit::{self, Allow};
use crate::compare::{
    self, stats, Comparison, Figure, FigureComparison, LayoutComparison, Side, Verdict,
    ERROR_RATE_TOLERANCE,
};
use crate::report::{caveats, summary};
use crate::result::{LayoutResult, LayoutStatus, RunResult};

use super::record::{self, StoredLayout, StoredRun};
use baseline::{since_last_change, skipped_flag};
pub use baseline::{Baseline, Scope};

/// `--sigmas` when not given.
pub const DEFAULT_SIGMAS: f64 = 3.0;
/// `--min-runs` when not given.
pub const DEFAULT_MIN_RUNS: usize = 3;

/// What a figure with fewer stored runs than `--min-runs` gives (`--bootstrap`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Bootstrap {
    /// Not judged, and passing: the run is stored and the history grows.
    #[default]
    Pass,
    /// Inconclusive (exit 3) until the history is long enough.
    Inconclusive,
}

impl Bootstrap {
    /// `pass` or `inconclusive`.
    pub fn parse(text: &str) -> Result<Bootstrap, String> {
        match text {
            "pass" => Ok(Bootstrap::Pass),
            "inconclusive" => Ok(Bootstrap::Inconclusive),
            _ => Err(format!(
                "--bootstrap {text}: expected pass (too little history passes) or inconclusive \
                 (too little history is exit 3)"
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Bootstrap::Pass => "pass",
            Bootstrap::Inconclusive => "inconclusive",
        }
    }
}

/// The gate's knobs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rule {
    /// `--max-regression`, percent.
    pub threshold_pct: f64,
    pub sigmas: f64,
    pub min_runs: usize,
    pub bootstrap: Bootstrap,
}

/// Judges one figure of one layout against its history (see the module doc).
pub fn judge(figure: Figure, history: &[f64], new: f64, rule: &Rule) -> FigureComparison {
    let n = history.len();
    let side = Side {
        pooled: stats::mean(history),
        trials: history.to_vec(),
    };
    let mut out = FigureComparison {
        figure,
        base: (n > 0).then(|| side.clone()),
        new: Some(Side::single(new)),
        change: None,
        interval: None,
        verdict: Verdict::NoSignificantChange,
        regression: false,
        unreplicated: false,
        // The history's mean is what `base` shows; the new run is one value.
        statistic: crate::compare::Statistic::Pooled,
    };
    if n < rule.min_runs.max(1) {
        // Too little history to judge: as `--bootstrap` says.
        out.verdict = match rule.bootstrap {
            Bootstrap::Inconclusive => Verdict::Inconclusive {
                trials_needed: rule.min_runs.max(1) as u32,
            },
            Bootstrap::Pass => Verdict::NotJudged(bootstrap_why(n, rule.min_runs.max(1))),
        };
        return out;
    }
    let m = side.pooled;
    let s = if n > 1 {
        stats::variance(history).sqrt()
    } else {
        0.0
    };
    // Signed so that positive is worse, whichever way the figure goes.
    let worse_by = |from: f64| {
        if figure.higher_is_better() {
            from - new
        } else {
            new - from
        }
    };
    let (worst, best) = if figure.higher_is_better() {
        (min(history), max(history))
    } else {
        (max(history), min(history))
    };
    let margin = |at: f64| {
        if figure.relative() {
            at.abs() * rule.threshold_pct / 100.0
        } else {
            ERROR_RATE_TOLERANCE
        }
    };
    let beyond_range = worse_by(worst) > margin(worst);
    let beyond_sigmas = worse_by(m) > rule.sigmas * s;
    out.change = Some(if figure.relative() {
        if m == 0.0 {
            if new == 0.0 {
                0.0
            } else {
                f64::INFINITY.copysign(new)
            }
        } else {
            100.0 * (new - m) / m.abs()
        }
    } else {
        100.0 * (new - m)
    });
    out.regression = beyond_range && beyond_sigmas;
    out.verdict = if out.regression || worse_by(worst) > 0.0 {
        Verdict::Worse
    } else if -worse_by(best) > margin(best) {
        Verdict::Better
    } else {
        Verdict::NoSignificantChange
    };
    out
}

/// What a figure not judged for too little history says: [`BOOTSTRAP`] first.
fn bootstrap_why(have: usize, need: usize) -> String {
    format!(
        "{BOOTSTRAP}: {have} stored run(s), the gate needs {need} ({} more; --bootstrap pass)",
        need - have
    )
}

/// How a figure not judged for too little history (`--bootstrap pass`) begins its reason.
pub const BOOTSTRAP: &str = "bootstrap";

fn min(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::INFINITY, f64::min)
}

fn max(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

/// The drift of a history over its runs, percent of its mean (least-squares line, first to
/// last run), when it exceeds the threshold in the worse direction.
pub fn drift_pct(figure: Figure, history: &[f64], threshold_pct: f64) -> Option<f64> {
    let n = history.len();
    if n < 3 || !figure.relative() {
        return None;
    }
    let xs: Vec<f64> = (0..n).map(|i| i as f64).collect();
    let (mx, my) = (stats::mean(&xs), stats::mean(history));
    let sxx: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
    let sxy: f64 = xs
        .iter()
        .zip(history)
        .map(|(x, y)| (x - mx) * (y - my))
        .sum();
    if my == 0.0 || sxx == 0.0 {
        return None;
    }
    let drift = 100.0 * (sxy / sxx) * (n - 1) as f64 / my.abs();
    let worse = if figure.higher_is_better() {
        drift < -threshold_pct
    } else {
        drift > threshold_pct
    };
    worse.then_some(drift)
}

/// Judges `new` against `history` (the runs [`Baseline::query`] selected, oldest first);
/// `allow` says which statuses of the new result other than `ok` are judged anyway.
pub fn gate(
    new: &RunResult,
    history: &[StoredRun],
    baseline: &Baseline,
    scope: &Scope,
    rule: &Rule,
    allow: Allow,
) -> Comparison {
    let layouts = new
        .layouts
        .iter()
        .map(|l| {
            let (stored, skipped) = baseline.of_layout(history, &l.name);
            let since_change = (*baseline == Baseline::SinceChange).then(|| {
                history
                    .iter()
                    .filter(|r| {
                        r.layouts
                            .iter()
                            .any(|s| s.name == l.name && s.status == LayoutStatus::Ok)
                    })
                    .collect::<Vec<_>>()
            });
            gate_layout(l, &stored, since_change.as_deref(), &skipped, rule, allow)
        })
        .collect();
    let mut only_in_base: Vec<String> = history
        .iter()
        .flat_map(|r| &r.layouts)
        .filter(|s| !new.layouts.iter().any(|l| l.name == s.name))
        .map(|s| s.name.clone())
        .collect();
    only_in_base.sort();
    only_in_base.dedup();
    let flags = caveats::flags(new)
        .into_iter()
        .filter(|f| f.layout.is_none())
        .map(|f| format!("new: {}", f.message))
        .collect();
    Comparison {
        threshold_pct: rule.threshold_pct,
        base_run: format!(
            "{} of plan \"{}\" (fingerprint {}){}, {}: {}",
            baseline.describe(),
            new.plan.name,
            record::fingerprint(new),
            scope.describe(),
            if scope.any_host {
                "from every host".to_owned()
            } else {
                format!(
                    "on {} (hosts {})",
                    record::hosts(new).join(", "),
                    record::host_fingerprint(new)
                )
            },
            match (history.first(), history.last()) {
                (Some(a), Some(b)) => format!(
                    "{} run(s) stored, {} to {}",
                    history.len(),
                    a.started_at,
                    b.started_at
                ),
                _ => "none stored".to_owned(),
            }
        ),
        new_run: format!(
            "plan \"{}\", run {} on {}, started {}",
            new.plan.name, new.run_id, new.host.hostname, new.started_at
        ),
        mismatches: Vec::new(),
        flags,
        layouts,
        only_in_base,
        only_in_new: Vec::new(),
        untrusted: exit::untrusted(new, "new", allow),
    }
}

/// One layout of the new result against its baseline (`stored`, oldest first; `skipped` the
/// runs left out for their status). With `since_change` (the runs of `stored`, in the same
/// order), each figure's baseline starts after its last change point.
fn gate_layout(
    l: &LayoutResult,
    stored: &[&StoredLayout],
    since_change: Option<&[&StoredRun]>,
    skipped: &[&StoredLayout],
    rule: &Rule,
    allow: Allow,
) -> LayoutComparison {
    let mut flags: Vec<String> = caveats::layout_flags(l)
        .into_iter()
        .map(|f| format!("new: {}", f.message))
        .collect();
    flags.extend(skipped_flag(skipped));
    let status = summary::status_of(l);
    let refused = !allow.allows(status);
    let figures = Figure::ALL
        .into_iter()
        .map(|figure| {
            let mut values: Vec<f64> = stored.iter().filter_map(|s| s.figure(figure)).collect();
            if let Some(runs) = since_change {
                flags.extend(since_last_change(figure, stored, runs, &mut values));
            }
            if let Some(d) = drift_pct(figure, &values, rule.threshold_pct) {
                flags.push(format!(
                    "history: {} drifted {d:+.1}% over its {} stored run(s) (worse); see numaload history",
                    figure.name(),
                    values.len()
                ));
            }
            let side = if l.status.measured() {
                compare::side(l, figure)
            } else {
                Err("failed, not measured".to_owned())
            };
            let why = match &side {
                _ if refused => format!("new: {status}, not to be trusted"),
                Ok(side) => return judge(figure, &values, side.pooled, rule),
                Err(why) => format!("new: {why}"),
            };
            let mut f = judge(figure, &values, 0.0, rule);
            f.new = side.ok();
            f.change = None;
            f.regression = false;
            f.verdict = Verdict::NotJudged(why);
            f
        })
        .collect();
    LayoutComparison {
        name: l.name.clone(),
        // The baseline holds `ok` runs only.
        base_status: LayoutStatus::Ok,
        new_status: status,
        refused,
        figures,
        flags,
    }
}

#[cfg(test)]
mod tests;
