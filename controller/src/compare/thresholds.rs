//! The plan's `[thresholds]` checked on each layout's merged figures ([`check`]), and the exit
//! code they give ([`exit`]): a crossed threshold is [`Exit::Regression`] (1), an inconclusive
//! one [`Exit::Inconclusive`] (3), by the one table.
//!
//! What a threshold is checked on is an interval of the figure:
//! - **one trial** (or fewer than two trials with the figure): the merged value, a point; a
//!   percentile that is a lower bound (decided by requests never answered) reaches up to
//!   infinity, since the real wait is at least that long;
//! - **two or more trials**: the mean over the trials and its 95% Student t-interval
//!   ([`stats::mean_interval`]), reaching up to infinity when a trial's figure is a lower bound.
//!
//! The threshold **passes** when every value of the interval meets the condition, **fails**
//! when none does, and is **inconclusive** otherwise, with the trials that would narrow the
//! interval enough to decide (the same √n estimate as a comparison's). A figure with too few
//! samples (p99.9 below 1000 requests) or a layout nobody measured is inconclusive too.
//! Late sends are counted over the whole layout only, so they are checked on the merged value.

use super::exit::Exit;
use super::judge::{trials_needed, CONFIDENCE};
use crate::plan::{Metric, Threshold, Thresholds};
use crate::report::pct::Pct;
use crate::result::{Interval, LayoutResult, RunResult, ThresholdOutcome, ThresholdResult};
use crate::stats;

/// Checks the plan's thresholds on every layout of `result`, filling each layout's
/// `thresholds` (replacing what was there).
pub fn check_run(result: &mut RunResult) {
    let thresholds = result.plan.thresholds.clone();
    for layout in &mut result.layouts {
        layout.thresholds = check(&thresholds, layout);
    }
}

/// The thresholds of `thresholds` that apply to layout `l`, each checked.
pub fn check(thresholds: &Thresholds, l: &LayoutResult) -> Vec<ThresholdResult> {
    thresholds
        .for_layout(&l.name)
        .into_iter()
        .map(|(threshold, scope)| {
            let mut r = decide(&threshold, &reading(threshold.metric, l));
            r.scope = scope;
            r
        })
        .collect()
}

/// The exit code of the thresholds `result` carries: 1 when one is crossed, else 3 when one is
/// inconclusive, else 0.
pub fn exit(result: &RunResult) -> Exit {
    Exit::first(
        result
            .layouts
            .iter()
            .flat_map(|l| &l.thresholds)
            .filter_map(|t| match t.outcome {
                ThresholdOutcome::Fail => Some(Exit::Regression),
                ThresholdOutcome::Inconclusive => Some(Exit::Inconclusive),
                ThresholdOutcome::Pass => None,
            }),
    )
}

/// One stderr line per threshold not met: `threshold crossed (exit 1): layout "single" max <
/// 1us: 3ms 100us`, and `threshold inconclusive (exit 3): ...` with why.
pub fn lines(result: &RunResult) -> Vec<String> {
    result
        .layouts
        .iter()
        .flat_map(|l| l.thresholds.iter().map(move |t| (l, t)))
        .filter_map(|(l, t)| {
            let head = match t.outcome {
                ThresholdOutcome::Pass => return None,
                ThresholdOutcome::Fail => "threshold crossed (exit 1)",
                ThresholdOutcome::Inconclusive => "threshold inconclusive (exit 3)",
            };
            let why = if t.why.is_empty() {
                String::new()
            } else {
                format!(" ({})", t.why)
            };
            Some(format!(
                "{head}: layout \"{}\" {}: {}{why}",
                l.name,
                t.name(),
                t.value_text()
            ))
        })
        .collect()
}

/// What a layout's result says of one metric.
#[derive(Debug, Clone, PartialEq)]
struct Reading {
    /// The merged value and whether it is a lower bound, or why there is none.
    merged: Result<(f64, bool), String>,
    /// One value per measured trial that has the figure, and whether any is a lower bound.
    trials: Vec<f64>,
    trials_bounded: bool,
}

fn reading(metric: Metric, l: &LayoutResult) -> Reading {
    if !l.status.measured() {
        return Reading {
            merged: Err(format!("layout {} was not measured", l.name)),
            trials: Vec::new(),
            trials_bounded: false,
        };
    }
    let measured = || l.trials.iter().filter(|t| t.status.measured());
    let plain = |merged: f64, trials: Vec<f64>| Reading {
        merged: Ok((merged, false)),
        trials,
        trials_bounded: false,
    };
    match metric {
        Metric::Throughput => plain(
            l.throughput_rps,
            measured().map(|t| t.throughput_rps).collect(),
        ),
        Metric::ErrorRate => plain(
            crate::trust::error_rate(l.requests, l.errors),
            measured()
                .map(|t| crate::trust::error_rate(t.requests, t.errors))
                .collect(),
        ),
        // As the text report gives it: late sends over the answered requests.
        Metric::LateSends => plain(
            l.counts.late_sends as f64 / l.requests.max(1) as f64,
            Vec::new(),
        ),
        Metric::P50 | Metric::P99 | Metric::P999 | Metric::Max => {
            let pct = match metric {
                Metric::P50 => Pct::P50,
                Metric::P99 => Pct::P99,
                Metric::P999 => Pct::P999,
                _ => Pct::Max,
            };
            let merged = match pct.shown(&l.latency_ns) {
                Some(ns) => Ok((ns as f64, l.latency_ns.is_lower_bound(pct.field()))),
                None => Err(format!(
                    "too few samples ({}; {} needs {})",
                    l.latency_ns.count,
                    pct.label(),
                    pct.min_samples()
                )),
            };
            let shown: Vec<_> = measured()
                .filter_map(|t| Some((pct.shown(&t.latency_ns)?, &t.latency_ns)))
                .collect();
            Reading {
                merged,
                trials: shown.iter().map(|(ns, _)| *ns as f64).collect(),
                trials_bounded: shown.iter().any(|(_, p)| p.is_lower_bound(pct.field())),
            }
        }
    }
}

/// The outcome of `threshold` on what `reading` says (scope left as the plan's: the caller
/// knows it).
fn decide(threshold: &Threshold, reading: &Reading) -> ThresholdResult {
    let mut result = ThresholdResult {
        metric: threshold.metric,
        condition: threshold.condition(),
        scope: crate::plan::Scope::Plan,
        value: None,
        interval: None,
        trials: 1,
        lower_bound: false,
        outcome: ThresholdOutcome::Inconclusive,
        why: String::new(),
    };
    // The values the figure may have: [low, high].
    let (value, low, high) = match (
        stats::mean_interval(&reading.trials, CONFIDENCE),
        &reading.merged,
    ) {
        (Some(i), _) => {
            let mean = stats::mean(&reading.trials);
            result.trials = reading.trials.len() as u32;
            result.interval = Some(Interval {
                low: i.low,
                high: i.high,
            });
            result.lower_bound = reading.trials_bounded;
            let high = if reading.trials_bounded {
                f64::INFINITY
            } else {
                i.high
            };
            (mean, i.low, high)
        }
        (None, Ok((v, bound))) => {
            result.lower_bound = *bound;
            (*v, *v, if *bound { f64::INFINITY } else { *v })
        }
        (None, Err(why)) => {
            result.why = why.clone();
            return result;
        }
    };
    result.value = Some(value);
    let (meets_low, meets_high) = (threshold.holds(low), threshold.holds(high));
    result.outcome = if meets_low && meets_high {
        ThresholdOutcome::Pass
    } else if !meets_low && !meets_high {
        ThresholdOutcome::Fail
    } else {
        ThresholdOutcome::Inconclusive
    };
    if result.outcome == ThresholdOutcome::Inconclusive {
        result.why = inconclusive_why(threshold, &result, low, high);
    }
    result
}

/// Why an interval that straddles the limit cannot decide, and what would.
fn inconclusive_why(threshold: &Threshold, r: &ThresholdResult, low: f64, high: f64) -> String {
    let limit = threshold.metric.show(threshold.limit);
    if high.is_infinite() {
        return format!(
            "a lower bound (requests never answered waited at least this long) {} {limit}: the \
             real figure may be above it",
            if threshold.op.upper() { "below" } else { "at" }
        );
    }
    let value = r.value.unwrap_or(f64::NAN);
    let needed = trials_needed(
        r.trials as usize,
        (high - low) / 2.0,
        (value - threshold.limit).abs(),
    );
    let side = if threshold.holds(value) {
        "meets it"
    } else {
        "crosses it"
    };
    format!(
        "the mean {side} but its 95% interval reaches across {limit}: about {needed} trials \
         would decide it (repeat = {needed}; now {})",
        r.trials
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::{LayoutStatus, TrialResult};

    fn fixture() -> RunResult {
        serde_json::from_str(include_str!("../../tests/fixtures/quickstart-result.json"))
            .expect("fixture")
    }

    fn threshold(metric: Metric, text: &str) -> Threshold {
        Threshold::parse(metric, text).expect(text)
    }

    fn merged(v: f64, bound: bool) -> Reading {
        Reading {
            merged: Ok((v, bound)),
            trials: Vec::new(),
            trials_bounded: false,
        }
    }

    fn trials(values: &[f64]) -> Reading {
        Reading {
            merged: Ok((stats::mean(values), false)),
            trials: values.to_vec(),
            trials_bounded: false,
        }
    }

    #[test]
    fn one_trial_passes_or_fails_on_the_value() {
        use ThresholdOutcome::*;
        let p99 = threshold(Metric::P99, "< 2ms");
        let cases = [
            (merged(1.5e6, false), Pass),
            (merged(2e6, false), Fail),
            (merged(3e6, false), Fail),
            // A lower bound above the limit is crossed for sure, below it cannot say.
            (merged(3e6, true), Fail),
            (merged(1e6, true), Inconclusive),
        ];
        for (reading, expected) in cases {
            let r = decide(&p99, &reading);
            assert_eq!(r.outcome, expected, "{reading:?}");
            assert_eq!(r.trials, 1);
            assert!(r.interval.is_none());
        }
        let throughput = threshold(Metric::Throughput, ">= 9500");
        assert_eq!(decide(&throughput, &merged(9500.0, false)).outcome, Pass);
        assert_eq!(decide(&throughput, &merged(9499.0, false)).outcome, Fail);
        // A lower bound of a latency meets a "more than" condition for sure.
        let slow = threshold(Metric::P99, "> 1ms");
        assert_eq!(decide(&slow, &merged(2e6, true)).outcome, Pass);
    }

    #[test]
    fn with_trials_the_interval_decides() {
        use ThresholdOutcome::*;
        let p99 = threshold(Metric::P99, "< 2ms");
        let ms = |xs: &[f64]| trials(&xs.iter().map(|x| x * 1e6).collect::<Vec<_>>());
        let cases = [
            // Well below: the whole interval meets it.
            (ms(&[1.0, 1.1, 0.9]), Pass),
            // Well above: none of it does.
            (ms(&[3.0, 3.1, 2.9]), Fail),
            // Mean below, interval reaching across: inconclusive.
            (ms(&[1.0, 2.8, 1.2]), Inconclusive),
            // Mean above, interval reaching below: inconclusive, not crossed.
            (ms(&[1.5, 3.5, 2.4]), Inconclusive),
            // No spread: the mean itself.
            (ms(&[2.5, 2.5]), Fail),
        ];
        for (reading, expected) in cases {
            let r = decide(&p99, &reading);
            assert_eq!(r.outcome, expected, "{reading:?} → {r:?}");
            assert_eq!(r.trials, reading.trials.len() as u32);
            let i = r.interval.expect("an interval");
            assert!(i.low <= r.value.expect("value") && r.value.expect("value") <= i.high);
            if expected == Inconclusive {
                assert!(
                    r.why.contains("trials would decide it (repeat = "),
                    "{}",
                    r.why
                );
            } else {
                assert!(r.why.is_empty());
            }
        }
        // A trial decided by a lower bound leaves the interval open above.
        let mut bounded = ms(&[1.0, 1.1, 0.9]);
        bounded.trials_bounded = true;
        let r = decide(&p99, &bounded);
        assert_eq!(r.outcome, Inconclusive);
        assert!(r.lower_bound && r.why.contains("lower bound"), "{r:?}");
    }

    #[test]
    fn no_figure_is_inconclusive_saying_why() {
        let r = decide(
            &threshold(Metric::P999, "< 2ms"),
            &Reading {
                merged: Err("too few samples (500; p99.9 needs 1000)".into()),
                trials: Vec::new(),
                trials_bounded: false,
            },
        );
        assert_eq!(r.outcome, ThresholdOutcome::Inconclusive);
        assert_eq!(r.value, None);
        assert!(r.why.contains("too few samples"));
    }

    #[test]
    fn a_run_is_checked_per_layout_and_gives_its_exit_code() {
        let mut r = fixture();
        let (p99_0, name_1) = (
            r.layouts[0].latency_ns.p99 as f64,
            r.layouts[1].name.clone(),
        );
        let over = Metric::P99.show(p99_0 * 2.0);
        let under = Metric::P99.show(p99_0 / 2.0);
        let plan = format!(
            "[thresholds]\np99 = \"< {over}\"\nerror_rate = \"< 5%\"\n\
             [thresholds.layouts.{name_1}]\np99 = \"< {under}\"\n"
        );
        let doc: toml::Table = toml::from_str(&plan).expect("toml");
        let echo = serde_json::to_value(&doc["thresholds"]).expect("json");
        r.plan.thresholds = serde_json::from_value(echo).expect("thresholds");
        check_run(&mut r);
        let outcomes: Vec<Vec<(String, ThresholdOutcome)>> = r
            .layouts
            .iter()
            .map(|l| {
                l.thresholds
                    .iter()
                    .map(|t| (t.metric.key().to_owned(), t.outcome))
                    .collect()
            })
            .collect();
        use ThresholdOutcome::*;
        let p99_1 = r.layouts[1].latency_ns.p99 as f64;
        let second = if p99_1 < p99_0 / 2.0 { Pass } else { Fail };
        assert_eq!(
            outcomes,
            [
                vec![("p99".to_owned(), Pass), ("error_rate".to_owned(), Pass)],
                vec![("p99".to_owned(), second), ("error_rate".to_owned(), Pass)],
            ]
        );
        assert_eq!(r.layouts[1].thresholds[0].scope, crate::plan::Scope::Layout);
        assert_eq!(
            exit(&r),
            if second == Fail {
                Exit::Regression
            } else {
                Exit::Pass
            }
        );
        // An inconclusive one is exit 3, a crossed one wins over it.
        r.layouts[0].thresholds[0].outcome = Inconclusive;
        r.layouts[1].thresholds[0].outcome = Pass;
        assert_eq!(exit(&r), Exit::Inconclusive);
        r.layouts[1].thresholds[1].outcome = Fail;
        assert_eq!(exit(&r), Exit::Regression);
        // The JSON round-trips.
        let back: RunResult = serde_json::from_str(&r.to_json()).expect("reads back");
        assert_eq!(back, r);
    }

    #[test]
    fn trials_are_read_from_the_measured_trials() {
        let mut l = fixture().layouts.remove(0);
        let trial = |n: u32, rps: f64, status| TrialResult {
            trial: n,
            status,
            requests: 1000,
            throughput_rps: rps,
            errors: 0,
            latency_ns: l.latency_ns.clone(),
        };
        l.trials = vec![
            trial(1, 100.0, LayoutStatus::Ok),
            trial(2, 110.0, LayoutStatus::Ok),
            trial(3, 0.0, LayoutStatus::Failed),
        ];
        let r = reading(Metric::Throughput, &l);
        assert_eq!(r.trials, [100.0, 110.0]);
        let late = reading(Metric::LateSends, &l);
        assert!(late.trials.is_empty(), "late sends are merged only");
        l.status = LayoutStatus::Failed;
        assert!(reading(Metric::P99, &l).merged.is_err());
    }
}
