//! Capacity search: per layout, the highest open-loop rate that still meets the objective
//! (`search.slo_p99`, `max_error_rate`), found like Nighthawk's adaptive load controller but
//! per layout and per host.
//!
//! Each step is a short measured run of one layout at one rate ([`crate::run::run`], replicas
//! launched afresh). A step passes when its status is `ok`, the corrected p99 is within the
//! objective, the error rate is within its bound and the achieved rate kept up with the asked
//! one (≥ 99%): a rate the generator or the target could not sustain is not "sustainable"
//! whatever its latency, and a step whose status is not `ok` (its load not delivered, an
//! agent lost, a reason to suspect its figures) did not keep up; the step's reason says which.
//! The search doubles the rate from `start_rate` until a step fails (halving first if the
//! start already fails), then bisects between the highest pass and the lowest failure until
//! they are within `precision` of each other or `max_steps` is spent: bounded time, always.

pub use crate::plan::Search;
use crate::plan::{Arrivals, LoadMode, Plan};
use crate::result::{LayoutResult, LayoutStatus, RunResult};
pub use crate::result::{LayoutSearch, SearchResult, Step};
use crate::run::{Calibrate, Progress};

pub use crate::trust::MIN_REQUESTS_FOR_P99;
use crate::trust::{asked_rate, error_rate, KEPT_UP};

/// Whether a measured step meets the objective, and if not why.
pub fn judge(search: &Search, asked: f64, layout: &LayoutResult) -> (bool, String) {
    if layout.status != LayoutStatus::Ok {
        return (false, not_ok(layout));
    }
    let error_rate = error_rate(layout.requests, layout.errors);
    let slo_ns = search.slo_p99.as_nanos() as u64;
    if layout.latency_ns.count == 0 {
        (false, "no request answered".into())
    } else if layout.latency_ns.count < MIN_REQUESTS_FOR_P99 {
        (
            false,
            format!(
                "only {} requests: too few for a p99; lengthen load.duration",
                layout.latency_ns.count
            ),
        )
    } else if layout.throughput_rps < asked * KEPT_UP {
        (
            false,
            format!("achieved {:.0} of {asked:.0} req/s", layout.throughput_rps),
        )
    } else if error_rate > search.max_error_rate {
        (
            false,
            format!(
                "error rate {:.3}% > {:.3}%",
                error_rate * 100.0,
                search.max_error_rate * 100.0
            ),
        )
    } else if layout.latency_ns.p99 > slo_ns {
        (
            false,
            format!(
                "p99 {} > {}",
                crate::units::duration_ns(layout.latency_ns.p99),
                crate::units::duration_ns(slo_ns)
            ),
        )
    } else {
        (true, String::new())
    }
}

/// Why a step whose status is not `ok` did not keep up: `not kept up: incomplete, 12474 of
/// 24000 answered (min 99%)`, the error of a failed or degraded one, a suspect one's reasons.
fn not_ok(layout: &LayoutResult) -> String {
    let status = layout.status;
    let detail = match (&layout.error, layout.delivery) {
        (Some(error), _) => error.clone(),
        (None, Some(d)) if status == LayoutStatus::Incomplete => format!(
            "{} of {} answered (min {}%)",
            d.answered,
            d.intended,
            (d.min_share * 1000.0).round() / 10.0
        ),
        _ => layout.suspect.join("; "),
    };
    if detail.is_empty() {
        format!("not kept up: {status}")
    } else {
        format!("not kept up: {status}, {detail}")
    }
}

/// The next rate to try, or `None` when the search is done. `steps` so far, in order.
pub fn next_rate(search: &Search, steps: &[Step]) -> Option<f64> {
    if steps.len() >= search.max_steps as usize {
        return None;
    }
    let Some(last) = steps.last() else {
        return Some(search.start_rate);
    };
    if !last.conclusive {
        return None;
    }
    let best_pass = steps
        .iter()
        .filter(|s| s.passed)
        .map(|s| s.rate_rps)
        .fold(None, |m: Option<f64>, r| Some(m.map_or(r, |m| m.max(r))));
    let first_fail = steps
        .iter()
        .filter(|s| !s.passed)
        .map(|s| s.rate_rps)
        .fold(None, |m: Option<f64>, r| Some(m.map_or(r, |m| m.min(r))));
    match (best_pass, first_fail) {
        // Still climbing: double, unless that passes the ceiling.
        (Some(pass), None) => {
            let next = (pass * 2.0).min(search.max_rate);
            (next > pass).then_some(next)
        }
        // Nothing passed yet: halve below the lowest failure, down to a floor of 1 req/s.
        (None, Some(fail)) => {
            let next = fail / 2.0;
            (next >= 1.0 && last.rate_rps > 1.0).then_some(next)
        }
        (Some(pass), Some(fail)) if fail > pass => {
            ((fail - pass) / fail > search.precision).then_some((pass + fail) / 2.0)
        }
        // A pass above a failure (noise): trust the failure, search below it.
        (Some(_), Some(fail)) => {
            let next = fail / 2.0;
            (next >= 1.0).then_some(next)
        }
        (None, None) => None,
    }
}

/// The rate a step asked for: `rate`, or with Poisson arrivals what its schedules drew
/// ([`asked_rate`]).
fn asked(plan: &Plan, rate: f64, measured: &LayoutResult) -> f64 {
    let drawn = plan.load.arrivals == Arrivals::Poisson;
    asked_rate(
        rate,
        drawn,
        measured.delivery.map(|d| d.intended),
        measured.elapsed_s,
    )
}

/// Runs the search for every layout of `plan` on `fleet`.
pub async fn run(
    plan: &Plan,
    search: &Search,
    fleet: &crate::run::Fleet,
    tls: Option<&tonic::transport::ClientTlsConfig>,
    mut progress: impl FnMut(Progress),
) -> anyhow::Result<RunResult> {
    anyhow::ensure!(
        matches!(plan.load.mode, LoadMode::Open { .. }),
        "search needs load.mode = \"open\": the search sets the rate"
    );
    let plan = &plan.with_seed(); // one seed for every step
    let (mut layouts, mut searches) = (Vec::new(), Vec::new());
    let mut last_run: Option<RunResult> = None;
    let mut first_run: Option<RunResult> = None;
    for layout in &plan.layouts {
        let mut steps: Vec<Step> = Vec::new();
        let mut best: Option<LayoutResult> = None;
        let mut latest: Option<LayoutResult> = None;
        while let Some(rate) = next_rate(search, &steps) {
            let mut step_plan = plan.clone();
            step_plan.repeat = 1;
            step_plan.layouts = vec![layout.clone()];
            step_plan.load.mode = LoadMode::Open { rate };
            progress(Progress::Notice(format!(
                "[{}] search: trying {rate:.0} req/s",
                layout.name
            )));
            // The hosts are calibrated once, by the first step; later steps reuse it.
            let calibrate = if first_run.is_none() {
                Calibrate::Yes
            } else {
                Calibrate::No
            };
            let result =
                crate::run::run_with(&step_plan, fleet, tls, calibrate, &mut progress).await?;
            if first_run.is_none() {
                first_run = Some(result.clone());
            }
            let measured = result.layouts.first().cloned();
            last_run = Some(result);
            let Some(measured) = measured else { break };
            let (passed, reason) = judge(search, asked(plan, rate, &measured), &measured);
            steps.push(Step {
                rate_rps: rate,
                achieved_rps: measured.throughput_rps,
                p99_ns: measured.latency_ns.p99,
                error_rate: error_rate(measured.requests, measured.errors),
                passed,
                reason: reason.clone(),
                conclusive: measured.latency_ns.count >= MIN_REQUESTS_FOR_P99,
            });
            progress(Progress::Notice(format!(
                "[{}] search: {rate:.0} req/s {}",
                layout.name,
                if passed {
                    "meets the objective".to_owned()
                } else {
                    format!("fails: {reason}")
                }
            )));
            if passed && best.as_ref().is_none_or(|b| b.target_rate_rps < Some(rate)) {
                best = Some(measured.clone());
            }
            latest = Some(measured);
            if last_run.as_ref().is_some_and(|r| r.cancelled) {
                break;
            }
        }
        let max_rate_rps = steps
            .iter()
            .filter(|s| s.passed)
            .map(|s| s.rate_rps)
            .reduce(f64::max);
        let first_failing_rps = steps
            .iter()
            .filter(|s| !s.passed && max_rate_rps.is_none_or(|m| s.rate_rps > m))
            .map(|s| s.rate_rps)
            .reduce(f64::min);
        searches.push(LayoutSearch {
            name: layout.name.clone(),
            max_rate_rps,
            first_failing_rps,
            steps,
        });
        if let Some(shown) = best.or(latest) {
            layouts.push(shown);
        }
        if last_run.as_ref().is_some_and(|r| r.cancelled) {
            break;
        }
    }
    let mut result = last_run.ok_or_else(|| anyhow::anyhow!("the search ran no step"))?;
    if let Some(first) = first_run {
        // Same agents in the same order: each host's calibration from the step that made it.
        for (host, calibrated) in result.hosts.iter_mut().zip(first.hosts) {
            host.calibration = calibrated.calibration;
        }
    }
    result.plan = plan.clone();
    result.layouts = layouts;
    result.search = Some(SearchResult {
        slo_p99_ns: search.slo_p99.as_nanos() as u64,
        max_error_rate: search.max_error_rate,
        layouts: searches,
    });
    Ok(result)
}

/// Durations as integer nanoseconds in JSON: exact, and what the rest of the result uses.
#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn search() -> Search {
        Search {
            slo_p99: Duration::from_millis(5),
            max_error_rate: 0.001,
            start_rate: 1000.0,
            max_rate: 1_000_000.0,
            precision: 0.05,
            max_steps: 20,
        }
    }

    /// Simulates a server that meets the objective up to `capacity` req/s.
    fn simulate(search: &Search, capacity: f64) -> Vec<Step> {
        let mut steps = Vec::new();
        while let Some(rate) = next_rate(search, &steps) {
            let passed = rate <= capacity;
            steps.push(Step {
                rate_rps: rate,
                achieved_rps: rate,
                p99_ns: 0,
                error_rate: 0.0,
                passed,
                reason: String::new(),
                conclusive: true,
            });
        }
        steps
    }

    /// A measured step of the quickstart fixture at `rate`, well within the objective.
    fn step_at(rate: f64) -> LayoutResult {
        let result: RunResult =
            serde_json::from_str(include_str!("../tests/fixtures/quickstart-result.json"))
                .expect("fixture");
        let mut l = result.layouts[0].clone();
        l.throughput_rps = rate;
        l.latency_ns.p99 = 1_000_000;
        l.errors = 0;
        l
    }

    #[test]
    fn a_step_whose_status_is_not_ok_did_not_keep_up_and_says_why() {
        let rate = 1000.0;
        assert_eq!(
            judge(&search(), rate, &step_at(rate)),
            (true, String::new())
        );
        let mut incomplete = step_at(rate);
        incomplete.status = LayoutStatus::Incomplete;
        incomplete.delivery = Some(crate::result::Delivery {
            intended: 24_000,
            answered: 12_474,
            min_share: 0.99,
            asked: None,
        });
        let mut suspect = step_at(rate);
        suspect.status = LayoutStatus::Suspect;
        suspect.suspect = vec!["load generator saturated".into()];
        let mut degraded = step_at(rate);
        degraded.status = LayoutStatus::Degraded;
        degraded.error = Some("agent b lost".into());
        let cases = [
            (
                incomplete,
                "not kept up: incomplete, 12474 of 24000 answered (min 99%)",
            ),
            (suspect, "not kept up: suspect, load generator saturated"),
            (degraded, "not kept up: degraded, agent b lost"),
        ];
        for (layout, reason) in cases {
            assert_eq!(
                judge(&search(), rate, &layout),
                (false, reason.to_owned()),
                "{}",
                layout.status
            );
        }
    }

    #[test]
    fn doubles_then_bisects_to_within_the_precision() {
        let steps = simulate(&search(), 11_300.0);
        let rates: Vec<f64> = steps.iter().map(|s| s.rate_rps).collect();
        assert_eq!(
            &rates[..5],
            &[1000.0, 2000.0, 4000.0, 8000.0, 16000.0],
            "{rates:?}"
        );
        let best = steps
            .iter()
            .filter(|s| s.passed)
            .map(|s| s.rate_rps)
            .fold(0.0, f64::max);
        let fail = steps
            .iter()
            .filter(|s| !s.passed)
            .map(|s| s.rate_rps)
            .fold(f64::MAX, f64::min);
        assert!(
            best <= 11_300.0 && (fail - best) / fail <= 0.05,
            "{best} {fail} {rates:?}"
        );
        assert!(steps.len() <= 12, "bounded: {} steps", steps.len());
    }

    #[test]
    fn an_inconclusive_step_ends_the_search() {
        let mut steps = simulate(&search(), 10.0);
        assert!(steps.len() > 2);
        steps.truncate(2);
        steps[1].conclusive = false;
        assert_eq!(next_rate(&search(), &steps), None);
    }

    #[test]
    fn halves_when_the_start_already_fails_and_stops_at_the_step_budget() {
        let steps = simulate(&search(), 300.0);
        assert_eq!(steps[1].rate_rps, 500.0);
        assert_eq!(steps[2].rate_rps, 250.0);
        assert!(steps.iter().any(|s| s.passed));
        let capped = Search {
            max_steps: 3,
            ..search()
        };
        assert_eq!(simulate(&capped, 1e9).len(), 3);
        let ceiling = Search {
            max_rate: 3000.0,
            ..search()
        };
        let rates: Vec<f64> = simulate(&ceiling, 1e9).iter().map(|s| s.rate_rps).collect();
        assert_eq!(rates, vec![1000.0, 2000.0, 3000.0], "never above max_rate");
    }
}
