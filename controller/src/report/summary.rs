//! The per-layout figures every human format shares, so that each says the same thing about
//! status, delivery, lower bounds, threads and placement.

use crate::report::pct::{Pct, TOO_FEW};
use crate::report::{duration_ns, thousands};
use crate::result::{LayoutResult, LayoutStatus, Percentiles};

/// What marks a figure that is a lower bound (decided by requests never answered, which waited
/// at least that long).
pub const AT_LEAST: &str = "≥ ";

/// The legend of [`AT_LEAST`], for a report that shows one.
pub const AT_LEAST_MEANS: &str =
    "≥ marks a lower bound: requests never answered waited at least that long, from their intended send";

/// The status a report shows: the result's own, except that `ok` with reasons for caution
/// (reasons in `suspect`, or a placement mismatch), which a result file may carry, reads as
/// `suspect`. Aggregation writes `suspect` itself in that case, so the two agree; either way no
/// report says ok over a reason not to trust the figures.
pub fn status_of(l: &LayoutResult) -> LayoutStatus {
    let reasons = !l.suspect.is_empty() || !placement_ok(l);
    if l.status == LayoutStatus::Ok && reasons {
        LayoutStatus::Suspect
    } else {
        l.status
    }
}

/// The word of [`status_of`]: `ok`, or in capitals (`SUSPECT`, `INCOMPLETE`, `DEGRADED`,
/// `FAILED`) so that anything but ok stands out.
pub fn status(l: &LayoutResult) -> &'static str {
    match status_of(l) {
        LayoutStatus::Ok => "ok",
        LayoutStatus::Suspect => "SUSPECT",
        LayoutStatus::Incomplete => "INCOMPLETE",
        LayoutStatus::Degraded => "DEGRADED",
        LayoutStatus::Failed => "FAILED",
    }
}

/// The rows of the connections' setup each report shows under the latency rows: connect, TLS
/// handshake (with TLS) and first byte; none when the result has no setup.
pub fn setup_rows(l: &LayoutResult) -> Vec<(&'static str, &Percentiles)> {
    let Some(setup) = &l.connection_setup else {
        return Vec::new();
    };
    let mut rows = vec![("connect", &setup.connect_ns)];
    if let Some(handshake) = &setup.tls_handshake_ns {
        rows.push(("handshake", handshake));
    }
    rows.push(("first byte", &setup.first_byte_ns));
    rows
}

/// The most OS threads any replica had.
pub fn threads_max(l: &LayoutResult) -> u32 {
    l.replicas.iter().map(|r| r.threads_max).max().unwrap_or(0)
}

/// Every replica ran where the layout asked, when ready and when the measurement ended
/// (vacuously true without replicas).
pub fn placement_ok(l: &LayoutResult) -> bool {
    l.replicas
        .iter()
        .all(|r| r.placement_ok && r.mismatches_at_end.is_empty())
}

/// Errors per attempt ([`crate::trust::error_rate`]).
pub fn error_rate(l: &LayoutResult) -> f64 {
    crate::trust::error_rate(l.requests, l.errors)
}

/// A percentile for people: the duration (`≥ 3.90 s` when it is a lower bound), or
/// "n/a (too few)", or "-" without samples.
pub fn percentile_cell(p: &Percentiles, pct: Pct) -> String {
    match pct.shown(p) {
        Some(_) => figure(p, pct),
        None if p.count == 0 => "-".to_owned(),
        None => TOO_FEW.to_owned(),
    }
}

/// The percentile's duration, prefixed by [`AT_LEAST`] when `p` names it a lower bound, whether
/// or not there are samples enough for it (callers that care check [`Pct::shown`]).
pub fn figure(p: &Percentiles, pct: Pct) -> String {
    let mark = if p.is_lower_bound(pct.field()) {
        AT_LEAST
    } else {
        ""
    };
    format!("{mark}{}", duration_ns(pct.value(p)))
}

/// Whether any of `pcts` that `p` has samples enough to show is a lower bound.
pub fn shows_a_lower_bound(p: &Percentiles, pcts: &[Pct]) -> bool {
    pcts.iter()
        .any(|pct| pct.shown(p).is_some() && p.is_lower_bound(pct.field()))
}

/// `12,474 of 24,000 answered (51.9%, min 99%)`, then `; 1,200 warm-up requests dropped when
/// the window opened` when some were: how much of the window's load was delivered. `None` for
/// a result that does not say (one without `delivery`, or a layout not measured).
pub fn delivery(l: &LayoutResult) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(d) = l.delivery.filter(|_| l.status.measured()) {
        // Rounded down, so a share short of the minimum never reads as reaching it.
        let share = (d.share() * 1000.0).floor() / 10.0;
        let min = (d.min_share * 1000.0).round() / 10.0;
        parts.push(format!(
            "{} of {} answered ({share:.1}%, min {min}%)",
            thousands(d.answered as f64),
            thousands(d.intended as f64)
        ));
    }
    if l.counts.warmup_dropped > 0 {
        parts.push(format!(
            "{} warm-up requests dropped when the window opened",
            thousands(l.counts.warmup_dropped as f64)
        ));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// Whether the delivery is worth a line where space is short: below the minimum, or warm-up
/// requests were dropped.
pub fn delivery_notable(l: &LayoutResult) -> bool {
    l.delivery.is_some_and(|d| !d.met()) || l.counts.warmup_dropped > 0
}

/// The rate asked of a layout: the plan's (`5,000 req/s`), or with several agents driving load
/// the sum of what each was asked (`12,800 req/s over 64 agents`); `None` in closed loop.
pub fn asked(l: &LayoutResult) -> Option<String> {
    let rate = l.target_rate_rps?;
    // Each agent once (with `repeat` it has an entry per trial).
    let mut seen = std::collections::BTreeSet::new();
    let driving: Vec<f64> = l
        .agents
        .iter()
        .filter(|a| seen.insert(a.agent.as_str()))
        .filter_map(|a| a.asked_rate_rps)
        .collect();
    if driving.len() < 2 {
        return Some(format!("{} req/s", thousands(rate)));
    }
    Some(format!(
        "{} req/s over {} agents",
        thousands(driving.iter().sum()),
        thousands(driving.len() as f64)
    ))
}

/// The label of the corrected latency line: closed loop has no schedule to correct against.
pub fn corrected_label(l: &LayoutResult) -> &'static str {
    if l.mode == "open" {
        "corrected"
    } else {
        "closed-loop"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::Delivery;

    fn layout() -> LayoutResult {
        let result: crate::result::RunResult =
            serde_json::from_str(include_str!("../../tests/fixtures/quickstart-result.json"))
                .expect("fixture");
        result.layouts[0].clone()
    }

    #[test]
    fn percentile_cells() {
        let p = |count| Percentiles {
            count,
            p999: 2_000_000,
            ..Default::default()
        };
        let cases = [(0, "-"), (999, TOO_FEW), (1000, "2.00 ms")];
        for (count, expected) in cases {
            assert_eq!(percentile_cell(&p(count), Pct::P999), expected);
        }
    }

    #[test]
    fn exactly_the_figures_named_lower_bounds_read_at_least() {
        let p = Percentiles {
            count: 1000,
            p50: 1_000_000,
            p90: 2_000_000,
            p99: 3_900_000_000,
            p999: 4_000_000_000,
            max: 4_100_000_000,
            lower_bounds: vec!["mean".into(), "p99".into(), "p999".into(), "max".into()],
            ..Default::default()
        };
        let cases = [
            (Pct::P50, "1.00 ms"),
            (Pct::P90, "2.00 ms"),
            (Pct::P99, "≥ 3.90 s"),
            (Pct::P999, "≥ 4.00 s"),
            (Pct::Max, "≥ 4.10 s"),
        ];
        for (pct, expected) in cases {
            assert_eq!(percentile_cell(&p, pct), expected, "{pct:?}");
        }
        assert!(shows_a_lower_bound(&p, &[Pct::P50, Pct::Max]));
        assert!(!shows_a_lower_bound(&p, &[Pct::P50, Pct::P90]));
        // No request answered, 150 waits: the p99 is theirs, never a blank.
        let waits_only = Percentiles {
            count: 150,
            p99: 3_900_000_000,
            lower_bounds: vec!["p99".into()],
            ..Default::default()
        };
        assert_eq!(percentile_cell(&waits_only, Pct::P99), "≥ 3.90 s");
    }

    #[test]
    fn the_status_shown_is_the_results_and_never_ok_over_a_reason() {
        let mut l = layout();
        let cases = [
            (LayoutStatus::Ok, "ok"),
            (LayoutStatus::Suspect, "SUSPECT"),
            (LayoutStatus::Incomplete, "INCOMPLETE"),
            (LayoutStatus::Degraded, "DEGRADED"),
            (LayoutStatus::Failed, "FAILED"),
        ];
        for (result_status, word) in cases {
            l.status = result_status;
            assert_eq!(status(&l), word);
        }
        // `ok` with reasons, as a result file may carry it.
        l.status = LayoutStatus::Ok;
        l.suspect = vec!["the load generator was 97% busy".into()];
        assert_eq!(status_of(&l), LayoutStatus::Suspect);
        l.suspect.clear();
        l.replicas[0].placement_ok = false;
        assert_eq!(status(&l), "SUSPECT");
        // A worse status is never softened by the reasons.
        l.status = LayoutStatus::Incomplete;
        assert_eq!(status(&l), "INCOMPLETE");
    }

    #[test]
    fn delivery_reads_answered_of_intended_against_the_minimum() {
        let mut l = layout();
        assert_eq!(delivery(&l), None, "a result that does not say");
        l.delivery = Some(Delivery {
            intended: 24_000,
            answered: 12_474,
            min_share: 0.99,
            asked: None,
        });
        assert_eq!(
            delivery(&l).as_deref(),
            Some("12,474 of 24,000 answered (51.9%, min 99%)")
        );
        assert!(delivery_notable(&l));
        l.delivery = Some(Delivery {
            intended: 24_000,
            answered: 23_999,
            min_share: 0.995,
            asked: None,
        });
        assert_eq!(
            delivery(&l).as_deref(),
            Some("23,999 of 24,000 answered (99.9%, min 99.5%)")
        );
        assert!(!delivery_notable(&l));
        l.counts.warmup_dropped = 1_200;
        assert!(delivery_notable(&l));
        assert_eq!(
            delivery(&l).as_deref(),
            Some(
                "23,999 of 24,000 answered (99.9%, min 99.5%); 1,200 warm-up requests dropped \
                 when the window opened"
            )
        );
    }
}
