//! A new result judged against a baseline: per layout (matched by name) and [`Figure`], the
//! change and a [`Verdict`]. Pure: [`compare`] takes two [`RunResult`]s, [`text::render`] and
//! [`junit::render`] turn the [`Comparison`] into what `numaload compare` prints and writes.
//!
//! Each side of a figure is a [`Side`]: the pooled value (read from the merged histograms, as
//! every percentile must be) and one value per trial (`repeat = N`).
//!
//! **One trial on a side** (unreplicated): the pooled values are shown and tested; a change
//! beyond the threshold in the worse direction is a regression; there is no interval.
//!
//! **Two or more trials on both sides**: the figure shown, the figure tested and the interval are
//! one statistic, the mean of the per-trial values ([`Statistic::TrialMean`]), with a 95% Welch
//! t-interval of the change. The rule never gets weaker with more evidence:
//! - the whole interval beyond the threshold in the worse direction, or the change itself
//!   beyond it: a **regression** (a change beyond `--max-regression` is one unless the evidence
//!   shows it is within the threshold, which an interval reaching past it does not);
//! - the whole interval within the threshold: no regression (better, worse within the
//!   threshold, or no significant change, as the interval says);
//! - the change within the threshold but the interval reaching past it: **inconclusive**
//!   ([`Verdict::Inconclusive`], its own exit code), with the trials per side that would make the
//!   interval narrow enough to decide, estimated from its width (√n scaling).
//!
//! Error rate is judged in absolute terms (percentage points): a relative change of a tiny rate
//! means nothing (0 → 1 error is +∞%). It regresses when it rises by more than
//! [`ERROR_RATE_TOLERANCE`].
//!
//! Results of different plans (target, load or layouts differ) or hosts (hostname, CPU model
//! or PU count differ) are still compared layout by layout, but [`Comparison::mismatches`]
//! says so first. A layout of the base missing from the new result cannot be judged: bad input,
//! unless the new run was cancelled (then it never ran, and the run is not to be trusted).
//!
//! Only trusted measurements are judged: a layout that is not `ok` on either side (or a
//! cancelled run) is listed in [`Comparison::untrusted`] and its figures are not judged, unless
//! `--allow-suspect` / `--allow-degraded` accept its status ([`exit::Allow`]).
//! [`Comparison::exit`] gives the exit code by [`exit::TABLE`].
//!
//! `figure.rs` reads a figure's sides from a result, `judge.rs` applies the rule to one figure,
//! this file compares the layouts of two results, `mismatch.rs` says why they may not be
//! comparable, `exit.rs` holds the exit codes and what is not to be trusted, `text.rs` and
//! `junit.rs` render the outcome. `thresholds.rs` checks a run's `[thresholds]` on its own
//! figures (no baseline), by the same intervals and exit table.

pub mod exit;
mod figure;
mod judge;
pub mod junit;
mod mismatch;
pub use crate::stats;
pub mod text;
pub mod thresholds;

pub use figure::{side, Figure, Side};
pub use judge::{
    judge, FigureComparison, Statistic, Verdict, CONFIDENCE, ERROR_RATE_TOLERANCE,
    MAX_TRIALS_SUGGESTED,
};
pub use mismatch::mismatches;

use crate::report::{caveats, summary};
use crate::result::{LayoutResult, LayoutStatus, RunResult};
use exit::{Allow, Concern, Exit, Untrusted};
use judge::not_judged;

/// `--max-regression` when not given, percent.
pub const DEFAULT_MAX_REGRESSION_PCT: f64 = 5.0;

/// One layout present on both sides.
#[derive(Debug, Clone, PartialEq)]
pub struct LayoutComparison {
    pub name: String,
    pub base_status: LayoutStatus,
    pub new_status: LayoutStatus,
    /// Not judged: a side is not to be trusted (listed in [`Comparison::untrusted`]).
    pub refused: bool,
    pub figures: Vec<FigureComparison>,
    /// Reasons for caution on either side, prefixed `base:` or `new:`.
    pub flags: Vec<String>,
}

impl LayoutComparison {
    pub fn regressions(&self) -> impl Iterator<Item = &FigureComparison> {
        self.figures.iter().filter(|f| f.regression)
    }
}

/// Everything `numaload compare` reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub threshold_pct: f64,
    /// `plan "x", run R on host H, started T` for each side.
    pub base_run: String,
    pub new_run: String,
    /// Why the two results may not be comparable (different plans or hosts), most important
    /// first; empty when they are.
    pub mismatches: Vec<String>,
    /// Run-wide reasons for caution (cancelled, degraded), prefixed `base:` or `new:`.
    pub flags: Vec<String>,
    pub layouts: Vec<LayoutComparison>,
    pub only_in_base: Vec<String>,
    pub only_in_new: Vec<String>,
    /// What is not `ok` on either side, allowed or not, run-wide first.
    pub untrusted: Vec<Untrusted>,
}

impl Comparison {
    /// Whether a figure regressed beyond the threshold.
    pub fn regressed(&self) -> bool {
        self.layouts
            .iter()
            .any(|l| l.regressions().next().is_some())
    }

    /// Whether some figure was too noisy to decide (and none regressed: then that decides).
    pub fn inconclusive(&self) -> bool {
        !self.regressed()
            && self
                .layouts
                .iter()
                .flat_map(|l| &l.figures)
                .any(|f| matches!(f.verdict, Verdict::Inconclusive { .. }))
    }

    /// What is not to be trusted and not allowed: each makes the exit code 4.
    pub fn refused(&self) -> impl Iterator<Item = &Untrusted> {
        self.untrusted.iter().filter(|u| !u.allowed)
    }

    /// What is not `ok` but accepted by `--allow-suspect` / `--allow-degraded`.
    pub fn allowed(&self) -> impl Iterator<Item = &Untrusted> {
        self.untrusted.iter().filter(|u| u.allowed)
    }

    /// Layouts of the base missing from a new result that was not cancelled: the two results
    /// measure different layouts (bad input). In a cancelled run they never ran (not to be
    /// trusted, said by [`Comparison::untrusted`]).
    pub fn missing(&self) -> &[String] {
        let cancelled = self
            .untrusted
            .iter()
            .any(|u| u.side == "new" && u.concern == Concern::Cancelled);
        if cancelled {
            &[]
        } else {
            &self.only_in_base
        }
    }

    /// The exit code, by [`exit::TABLE`]'s precedence.
    pub fn exit(&self) -> Exit {
        Exit::first(
            [
                (!self.missing().is_empty()).then_some(Exit::BadInput),
                self.refused().next().map(|_| Exit::Untrusted),
                self.regressed().then_some(Exit::Regression),
                self.inconclusive().then_some(Exit::Inconclusive),
            ]
            .into_iter()
            .flatten(),
        )
    }

    /// Whether any judged figure lacked an interval.
    pub fn unreplicated(&self) -> bool {
        self.layouts
            .iter()
            .flat_map(|l| &l.figures)
            .any(|f| f.unreplicated && !matches!(f.verdict, Verdict::NotJudged(_)))
    }
}

/// Compares `new` against `base`; `threshold_pct` is `--max-regression` in percent; `allow`
/// says which statuses other than `ok` are judged anyway.
pub fn compare(base: &RunResult, new: &RunResult, threshold_pct: f64, allow: Allow) -> Comparison {
    let mut layouts = Vec::new();
    let mut only_in_base = Vec::new();
    for b in &base.layouts {
        match new.layouts.iter().find(|n| n.name == b.name) {
            Some(n) => layouts.push(compare_layout(b, n, threshold_pct, allow)),
            None => only_in_base.push(b.name.clone()),
        }
    }
    let only_in_new = new
        .layouts
        .iter()
        .filter(|n| !base.layouts.iter().any(|b| b.name == n.name))
        .map(|n| n.name.clone())
        .collect();
    let mut flags = Vec::new();
    for (side, r) in [("base", base), ("new", new)] {
        flags.extend(
            caveats::flags(r)
                .into_iter()
                .filter(|f| f.layout.is_none())
                .map(|f| format!("{side}: {}", f.message)),
        );
    }
    Comparison {
        threshold_pct,
        base_run: describe(base),
        new_run: describe(new),
        mismatches: mismatches(base, new),
        flags,
        layouts,
        only_in_base,
        only_in_new,
        untrusted: [
            exit::untrusted(base, "base", allow),
            exit::untrusted(new, "new", allow),
        ]
        .concat(),
    }
}

fn describe(r: &RunResult) -> String {
    format!(
        "plan \"{}\", run {} on {}, started {}",
        r.plan.name, r.run_id, r.host.hostname, r.started_at
    )
}

fn compare_layout(
    b: &LayoutResult,
    n: &LayoutResult,
    threshold_pct: f64,
    allow: Allow,
) -> LayoutComparison {
    let mut flags = Vec::new();
    for (side, l) in [("base", b), ("new", n)] {
        flags.extend(
            caveats::layout_flags(l)
                .into_iter()
                .map(|f| format!("{side}: {}", f.message)),
        );
    }
    let (b_status, n_status) = (summary::status_of(b), summary::status_of(n));
    let refused: Vec<String> = [("base", b_status), ("new", n_status)]
        .into_iter()
        .filter(|(_, status)| !allow.allows(*status))
        .map(|(side, status)| format!("{side}: {status}, not to be trusted"))
        .collect();
    let figures = Figure::ALL
        .into_iter()
        .map(|figure| {
            let (bs, ns) = (side(b, figure), side(n, figure));
            if !refused.is_empty() {
                let measured = |s: Result<Side, String>, l: &LayoutResult| {
                    s.ok().filter(|_| l.status.measured())
                };
                return not_judged(figure, measured(bs, b), measured(ns, n), refused.join("; "));
            }
            match (bs, ns) {
                (Ok(bs), Ok(ns)) => judge(figure, bs, ns, threshold_pct),
                (bs, ns) => {
                    let why = [bs.as_ref().err(), ns.as_ref().err()]
                        .into_iter()
                        .zip(["base", "new"])
                        .filter_map(|(e, side)| e.map(|e| format!("{side}: {e}")))
                        .collect::<Vec<_>>()
                        .join("; ");
                    not_judged(figure, bs.ok(), ns.ok(), why)
                }
            }
        })
        .collect();
    LayoutComparison {
        name: b.name.clone(),
        base_status: b_status,
        new_status: n_status,
        refused: !refused.is_empty(),
        figures,
        flags,
    }
}

/// `--max-regression`: `5%`, `5` (percent) or `2.5%`; finite, ≥ 0 and below 1000%.
pub fn parse_threshold(text: &str) -> Result<f64, String> {
    let number = text.trim().trim_end_matches('%').trim();
    let value: f64 = number
        .parse()
        .map_err(|_| format!("--max-regression {text}: not a percentage (write e.g. 5%)"))?;
    if !value.is_finite() || !(0.0..1000.0).contains(&value) {
        return Err(format!(
            "--max-regression {text}: must be a percentage from 0% to below 1000%"
        ));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trials(values: &[f64]) -> Side {
        Side {
            pooled: stats::mean(values),
            trials: values.to_vec(),
        }
    }

    #[test]
    fn single_trials_are_judged_against_the_threshold_alone() {
        use Verdict::*;
        // (figure, base, new, verdict, regression)
        let cases = [
            (Figure::P99, 10.0, 12.0, Worse, true),
            (Figure::P99, 10.0, 10.4, NoSignificantChange, false),
            (Figure::P99, 10.0, 8.0, Better, false),
            (Figure::P99, 10.0, 10.5, NoSignificantChange, false),
            (Figure::Throughput, 1000.0, 900.0, Worse, true),
            (Figure::Throughput, 1000.0, 1100.0, Better, false),
            (
                Figure::Throughput,
                1000.0,
                970.0,
                NoSignificantChange,
                false,
            ),
            (Figure::ErrorRate, 0.0, 0.0, NoSignificantChange, false),
            (Figure::ErrorRate, 0.0, 0.0005, NoSignificantChange, false),
            (Figure::ErrorRate, 0.0, 0.002, Worse, true),
            (Figure::ErrorRate, 0.01, 0.0, Better, false),
            (Figure::P50, 0.0, 1.0, Worse, true),
        ];
        for (figure, base, new, verdict, regression) in cases {
            let c = judge(figure, Side::single(base), Side::single(new), 5.0);
            assert_eq!(c.verdict, verdict, "{figure:?} {base} → {new}");
            assert_eq!(c.regression, regression, "{figure:?} {base} → {new}");
            assert!(c.unreplicated && c.interval.is_none());
        }
    }

    #[test]
    fn with_trials_more_evidence_only_sharpens_the_verdict() {
        use Verdict::*;
        let inconclusive = |n| Inconclusive { trials_needed: n };
        let cases: [(&[f64], &[f64], Verdict, bool); 8] = [
            // +110%, every new trial worse than every old one: a regression, though the
            // interval straddles zero.
            (&[1.0, 1.1], &[1.6, 2.8], Worse, true),
            // Noisy, but the change itself is 20% worse: a regression unless the evidence shows
            // it within the threshold, which this interval does not.
            (&[10.0, 14.0, 6.0], &[12.0, 16.0, 8.0], Worse, true),
            // Tight and 20% worse: a regression.
            (&[10.0, 10.1, 9.9], &[12.0, 12.1, 11.9], Worse, true),
            // Tight, worse but within 5%: worse, not a regression.
            (&[10.0, 10.01, 9.99], &[10.2, 10.21, 10.19], Worse, false),
            (&[10.0, 10.1, 9.9], &[8.0, 8.1, 7.9], Better, false),
            // Within the threshold and the interval too: no significant change.
            (
                &[10.0, 10.1, 9.9],
                &[10.0, 10.1, 9.9],
                NoSignificantChange,
                false,
            ),
            // +2%, but the interval reaches far past 5%: too noisy to decide.
            (
                &[10.0, 14.0, 6.0],
                &[10.2, 14.2, 6.2],
                inconclusive(MAX_TRIALS_SUGGESTED),
                false,
            ),
            // The same change with a tighter spread: far fewer trials would decide it (the interval
            // narrows as 1/√n: 13.6% half-width from 3 trials, 3% of margin to the threshold).
            (
                &[10.0, 10.6, 9.4],
                &[10.2, 10.8, 9.6],
                inconclusive(62),
                false,
            ),
        ];
        for (base, new, verdict, regression) in cases {
            let c = judge(Figure::P99, trials(base), trials(new), 5.0);
            assert_eq!(c.verdict, verdict, "{base:?} → {new:?}");
            assert_eq!(c.regression, regression, "{base:?} → {new:?}");
            assert!(!c.unreplicated && c.interval.is_some());
            assert_eq!(c.statistic, Statistic::TrialMean);
            // The figure shown is the statistic the change and the interval are about.
            let (b, n) = (c.shown(&trials(base)), c.shown(&trials(new)));
            let change = c.change.expect("change");
            assert!(
                (change - 100.0 * (n - b) / b).abs() < 1e-9,
                "{change} vs {b} → {n}"
            );
        }
        // One trial a side with the first case's values: a regression too, as with two trials
        // a side: more trials never weaken the verdict.
        let single = judge(Figure::P99, Side::single(1.05), Side::single(2.2), 5.0);
        assert!(single.regression && single.unreplicated);
        // p99.9 is gated exactly like p99.
        let p999 = judge(Figure::P999, trials(&[1.0, 1.1]), trials(&[1.6, 2.8]), 5.0);
        assert!(p999.regression);
    }

    #[test]
    fn thresholds() {
        let cases = [
            ("5%", Ok(5.0)),
            ("5", Ok(5.0)),
            (" 2.5 % ", Ok(2.5)),
            ("0%", Ok(0.0)),
            ("-1%", Err(())),
            ("abc", Err(())),
            ("NaN", Err(())),
            ("1000%", Err(())),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_threshold(text).map_err(|_| ()), expected, "{text}");
        }
    }
}
