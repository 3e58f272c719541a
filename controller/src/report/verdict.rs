//! Which layout won, by what criterion, and by how much.
//!
//! Open loop holds the rate fixed, so throughput says little: the winner is the layout with the
//! lowest corrected p99 among those that kept up with the rate without errors (and measured
//! the 100 requests a p99 needs). Closed loop lets each layout go as fast as it can: the winner
//! has the highest throughput.
//!
//! Who may win: a layout that every agent measured and that delivered its load, `ok` or
//! `suspect` (as [`summary::status_of`] reads the status). `incomplete` (too little of its load
//! answered: its throughput fell short and its latency is partly lower bounds), `degraded`
//! (some agents' figures missing) and `failed` layouts cannot win, and the verdict counts them
//! rather than hiding them. A `suspect` layout was measured in full, with reasons not to trust
//! it: it may still win or be the one beaten (on a small host every layout can be suspect for
//! the same reason, the load generator sharing CPUs, and the comparison is still the best there
//! is), but the verdict then calls it SUSPECT, so no answer rests on a layout that is not `ok`
//! without saying so. Likewise a p99 that is a lower bound is marked "≥" and said to be one.

use crate::report::pct::Pct;
use crate::report::summary;
use crate::report::{duration_ns, thousands};
use crate::result::{LayoutResult, LayoutStatus};

use crate::trust::KEPT_UP;

/// What a verdict says of a winner or runner-up that is not `ok`.
const SUSPECT_CAVEAT: &str = "SUSPECT: see the reasons above before trusting this answer";
/// What a verdict says of a winner whose p99 is a lower bound.
const BOUND_CAVEAT: &str = "is a lower bound (requests never answered): the true p99 is higher";

/// Whether a verdict line rests on figures to be careful with (a SUSPECT layout or a lower
/// bound), so a report can set it apart from a clean answer.
pub fn cautions(line: &str) -> bool {
    line.contains(SUSPECT_CAVEAT) || line.contains(BOUND_CAVEAT)
}

/// The verdict of a whole result: a capacity search's answer when there was one, else the
/// layouts' comparison.
pub fn run_verdict(result: &crate::result::RunResult) -> String {
    let Some(search) = &result.search else {
        return verdict(&result.layouts);
    };
    let slo = duration_ns(search.slo_p99_ns);
    let mut found: Vec<(&str, f64)> = search
        .layouts
        .iter()
        .filter_map(|l| l.max_rate_rps.map(|r| (l.name.as_str(), r)))
        .collect();
    found.sort_by(|a, b| b.1.total_cmp(&a.1));
    match found.as_slice() {
        [] => format!("Verdict: no layout met p99 ≤ {slo} at any rate tried."),
        [(name, rate)] => format!(
            "Verdict: {name} sustains {} req/s at p99 ≤ {slo}{}.",
            thousands(*rate),
            if search.layouts.len() > 1 { "; no other layout met the objective" } else { "" }
        ),
        [(best, best_rate), (next, next_rate), ..] => format!(
            "Verdict: {best} sustains the most at p99 ≤ {slo}: {} vs {} req/s for {next} ({:.2}x). \
             Rates are the highest that passed; the true limit lies below the next step that failed.",
            thousands(*best_rate),
            thousands(*next_rate),
            best_rate / next_rate
        ),
    }
}

/// One line: the winner and its margin, or why there is none.
pub fn verdict(layouts: &[LayoutResult]) -> String {
    let count = |status| {
        layouts
            .iter()
            .filter(|l| summary::status_of(l) == status)
            .count()
    };
    // Every agent measured these; the incomplete ones are compared and lose.
    let contenders: Vec<&LayoutResult> = layouts
        .iter()
        .filter(|l| {
            matches!(
                summary::status_of(l),
                LayoutStatus::Ok | LayoutStatus::Suspect | LayoutStatus::Incomplete
            )
        })
        .collect();
    let Some(first) = contenders.first() else {
        return "Verdict: no layout was measured by every agent; see the errors above.".to_owned();
    };
    let mut line = match first.target_rate_rps {
        Some(rate) => open_loop(&contenders, rate),
        None => closed_loop(&contenders),
    };
    let not_compared = [
        (
            LayoutStatus::Incomplete,
            "incomplete (their load was not delivered) and cannot win",
        ),
        (LayoutStatus::Failed, "failed and are not compared"),
        (
            LayoutStatus::Degraded,
            "degraded (some agents did not measure them) and are not compared",
        ),
    ];
    for (status, why) in not_compared {
        let n = count(status);
        if n > 0 {
            line.push_str(&format!(" ({n} layout(s) {why}.)"));
        }
    }
    line
}

/// Whether a layout delivered its load (every status that may win).
fn delivered(l: &LayoutResult) -> bool {
    summary::status_of(l) != LayoutStatus::Incomplete
}

/// What a careful reader must know about the layouts a verdict names: which are SUSPECT, and
/// whether the winner's p99 is a lower bound (open loop only: `p99` says so).
fn trust_caveat(named: &[&LayoutResult], p99: bool) -> String {
    let suspect: Vec<&str> = named
        .iter()
        .filter(|l| summary::status_of(l) == LayoutStatus::Suspect)
        .map(|l| l.name.as_str())
        .collect();
    let mut out = String::new();
    match suspect.as_slice() {
        [] => {}
        [one] => out.push_str(&format!(" {one} is {SUSPECT_CAVEAT}.")),
        several => out.push_str(&format!(" {} are {SUSPECT_CAVEAT}.", several.join(" and "))),
    }
    if let Some(best) = named
        .first()
        .filter(|l| p99 && l.latency_ns.is_lower_bound("p99"))
    {
        out.push_str(&format!(" {}'s p99 {BOUND_CAVEAT}.", best.name));
    }
    out
}

/// A layout's p99 for the verdict: `≥ 3.90 s` when it is a lower bound.
fn p99(l: &LayoutResult) -> String {
    summary::figure(&l.latency_ns, Pct::P99)
}

fn open_loop(contenders: &[&LayoutResult], rate: f64) -> String {
    let eligible: Vec<&LayoutResult> = contenders
        .iter()
        .copied()
        .filter(|l| {
            delivered(l)
                && l.errors == 0
                && l.throughput_rps >= rate * KEPT_UP
                && Pct::P99.shown(&l.latency_ns).is_some()
        })
        .collect();
    let criterion = format!("lowest p99 at {} req/s open loop", thousands(rate));
    match eligible.as_slice() {
        [] => format!(
            "Verdict: no layout kept up with {} req/s without errors and with 100 requests measured for a p99.",
            thousands(rate)
        ),
        [only] if contenders.len() == 1 => format!(
            "Verdict: {} is the only layout: p99 {}.{}",
            only.name,
            p99(only),
            trust_caveat(&[only], true)
        ),
        [only] => format!(
            "Verdict: {} wins ({criterion}): p99 {}; every other layout fell behind or had errors.{}",
            only.name,
            p99(only),
            trust_caveat(&[only], true)
        ),
        _ => {
            let mut by_p99 = eligible.clone();
            by_p99.sort_by_key(|l| l.latency_ns.p99);
            let (best, next) = (by_p99[0], by_p99[1]);
            let ratio = next.latency_ns.p99 as f64 / best.latency_ns.p99.max(1) as f64;
            if same_cpus(best, next) {
                return format!(
                    "Verdict: no layout difference to measure on this host: {} and {} ran on the \
                     same CPUs, so their p99 gap ({} vs {}) is run-to-run noise, not the layout.",
                    best.name,
                    next.name,
                    p99(best),
                    p99(next)
                );
            }
            // The runner-up's lower bound makes the margin one too.
            let at_least = if next.latency_ns.is_lower_bound("p99") {
                "at least "
            } else {
                ""
            };
            format!(
                "Verdict: {} wins ({criterion}): p99 {} vs {} for {} ({at_least}{:.2}x lower).{}{}",
                best.name,
                p99(best),
                p99(next),
                next.name,
                ratio,
                caveat(best, next),
                trust_caveat(&[best, next], true)
            )
        }
    }
}

/// Whether two layouts' replicas ran on the same CPUs (a one-node host makes "per-node" one
/// process on the same CPUs): then no gap between them can be the layout's doing.
fn same_cpus(a: &LayoutResult, b: &LayoutResult) -> bool {
    let cpus = |l: &LayoutResult| {
        l.replicas
            .iter()
            .map(|r| r.actual_cpus.clone())
            .collect::<Vec<_>>()
    };
    cpus(a) == cpus(b)
}

/// What a careful reader must know before believing the margin: how many trials it rests on.
fn caveat(best: &LayoutResult, next: &LayoutResult) -> String {
    match (&best.confidence, &next.confidence) {
        (Some(b), Some(n)) => format!(
            " Over {} and {} trials; see the 95% intervals before trusting a small margin.",
            b.trials, n.trials
        ),
        _ => " One trial each: a small margin may be noise.".to_owned(),
    }
}

fn closed_loop(contenders: &[&LayoutResult]) -> String {
    let mut by_rate: Vec<&LayoutResult> = contenders
        .iter()
        .copied()
        .filter(|l| delivered(l))
        .collect();
    by_rate.sort_by(|a, b| b.throughput_rps.total_cmp(&a.throughput_rps));
    match by_rate.as_slice() {
        [only] if contenders.len() == 1 => format!(
            "Verdict: {} is the only layout: {} req/s.{}",
            only.name,
            thousands(only.throughput_rps),
            trust_caveat(&[only], false)
        ),
        [only] => format!(
            "Verdict: {} wins (highest throughput, closed loop): {} req/s; no other layout \
             delivered its load.{}",
            only.name,
            thousands(only.throughput_rps),
            trust_caveat(&[only], false)
        ),
        [best, next, ..] => {
            let ratio = best.throughput_rps / next.throughput_rps.max(f64::MIN_POSITIVE);
            if same_cpus(best, next) {
                return format!(
                    "Verdict: no layout difference to measure on this host: {} and {} ran on the \
                     same CPUs, so their throughput gap ({} vs {} req/s) is run-to-run noise.",
                    best.name,
                    next.name,
                    thousands(best.throughput_rps),
                    thousands(next.throughput_rps)
                );
            }
            format!(
                "Verdict: {} wins (highest throughput, closed loop): {} vs {} req/s for {} ({:.2}x).{}{}",
                best.name,
                thousands(best.throughput_rps),
                thousands(next.throughput_rps),
                next.name,
                ratio,
                caveat(best, next),
                trust_caveat(&[best, next], false)
            )
        }
        [] => "Verdict: no layout delivered its load: each one is incomplete.".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::{LayoutResult, Percentiles};

    /// A layout of the checked-in real result, edited: built from a real one so that the
    /// test keeps up with fields the result gains.
    fn layout(name: &str, rps: f64, p99_ms: u64, errors: u64, cpus: &[u32]) -> LayoutResult {
        let result: crate::result::RunResult =
            serde_json::from_str(include_str!("../../tests/fixtures/quickstart-result.json"))
                .expect("fixture");
        let mut l = result.layouts[0].clone();
        l.name = name.to_owned();
        l.status = LayoutStatus::Ok;
        l.target_rate_rps = Some(1000.0);
        l.throughput_rps = rps;
        l.requests = rps as u64;
        l.errors = errors;
        l.latency_ns = Percentiles {
            count: 1000,
            p99: p99_ms * 1_000_000,
            ..Default::default()
        };
        l.replicas.truncate(1);
        l.replicas[0].intended_cpus = cpus.to_vec();
        l.replicas[0].actual_cpus = cpus.to_vec();
        l
    }

    #[test]
    fn open_loop_winner_is_the_lowest_p99_that_kept_up() {
        let cases: Vec<(Vec<LayoutResult>, &str)> = vec![
            (vec![layout("a", 1000.0, 9, 0, &[0]), layout("b", 1000.0, 3, 0, &[1])], "b wins (lowest p99 at 1,000 req/s open loop): p99 3.00 ms vs 9.00 ms for a (3.00x lower). One trial"),
            // The faster p99 fell behind the rate: it cannot win.
            (vec![layout("a", 1000.0, 9, 0, &[0]), layout("b", 900.0, 3, 0, &[1])], "a wins"),
            // Errors disqualify too.
            (vec![layout("a", 1000.0, 9, 0, &[0]), layout("b", 1000.0, 3, 5, &[1])], "a wins"),
            (vec![layout("a", 900.0, 9, 0, &[0]), layout("b", 900.0, 3, 0, &[1])], "no layout kept up"),
            (vec![layout("a", 1000.0, 9, 0, &[0]), layout("b", 1000.0, 3, 0, &[0])], "no layout difference to measure on this host"),
        ];
        for (layouts, expected) in cases {
            let line = verdict(&layouts);
            assert!(line.contains(expected), "expected {expected:?} in {line:?}");
        }
    }

    #[test]
    fn a_layout_that_is_not_ok_never_wins_unnamed() {
        let with = |status, mut l: LayoutResult| {
            l.status = status;
            l
        };
        let a = || layout("a", 1000.0, 9, 0, &[0]);
        let b = || layout("b", 1000.0, 3, 0, &[1]);
        // (layouts, in the line, never in the line)
        let cases: Vec<(Vec<LayoutResult>, Vec<&str>, Vec<&str>)> = vec![
            (vec![a(), b()], vec!["b wins"], vec!["SUSPECT"]),
            // A suspect winner wins, called so; so does a suspect runner-up.
            (
                vec![a(), with(LayoutStatus::Suspect, b())],
                vec!["b wins", "b is SUSPECT: see the reasons"],
                vec!["a is SUSPECT"],
            ),
            (
                vec![with(LayoutStatus::Suspect, a()), b()],
                vec!["b wins", "a is SUSPECT"],
                vec!["b is SUSPECT"],
            ),
            // The lower p99 did not deliver its load: it cannot win, and the line says why.
            (
                vec![a(), with(LayoutStatus::Incomplete, b())],
                vec![
                    "a wins",
                    "1 layout(s) incomplete (their load was not delivered) and cannot win",
                ],
                vec!["b wins"],
            ),
            (
                vec![a(), with(LayoutStatus::Degraded, b())],
                vec!["a is the only layout", "1 layout(s) degraded"],
                vec!["b wins"],
            ),
            (
                vec![
                    with(LayoutStatus::Incomplete, a()),
                    with(LayoutStatus::Degraded, b()),
                ],
                vec![
                    "no layout kept up",
                    "1 layout(s) incomplete",
                    "1 layout(s) degraded",
                ],
                vec!["wins"],
            ),
        ];
        for (layouts, present, absent) in cases {
            let line = verdict(&layouts);
            for needle in present {
                assert!(line.contains(needle), "expected {needle:?} in {line:?}");
            }
            for needle in absent {
                assert!(!line.contains(needle), "{needle:?} in {line:?}");
            }
            assert_eq!(cautions(&line), line.contains("SUSPECT"), "{line}");
        }
        // Closed loop: the highest throughput wins only if it delivered its load.
        let closed = |name: &str, rps: f64, cpu: u32, status| {
            let mut l = with(status, layout(name, rps, 1, 0, &[cpu]));
            l.target_rate_rps = None;
            l
        };
        let line = verdict(&[
            closed("a", 900.0, 0, LayoutStatus::Ok),
            closed("b", 2000.0, 1, LayoutStatus::Incomplete),
        ]);
        assert!(line.contains("a wins (highest throughput"), "{line}");
        assert!(
            line.contains("no other layout delivered its load"),
            "{line}"
        );
        let line = verdict(&[closed("b", 2000.0, 1, LayoutStatus::Incomplete)]);
        assert!(line.contains("no layout delivered its load"), "{line}");
    }

    #[test]
    fn a_p99_that_is_a_lower_bound_reads_so() {
        let mut b = layout("b", 1000.0, 3, 0, &[1]);
        let mut a = layout("a", 1000.0, 9, 0, &[0]);
        a.latency_ns.lower_bounds = vec!["p99".into(), "max".into()];
        let line = verdict(&[a.clone(), b.clone()]);
        assert!(
            line.contains("p99 3.00 ms vs ≥ 9.00 ms for a (at least 3.00x lower)"),
            "{line}"
        );
        assert!(!cautions(&line), "{line}");
        b.latency_ns.lower_bounds = vec!["p99".into()];
        let line = verdict(&[a, b]);
        assert!(line.contains("p99 ≥ 3.00 ms vs ≥ 9.00 ms"), "{line}");
        assert!(line.contains("b's p99 is a lower bound"), "{line}");
        assert!(cautions(&line), "{line}");
    }

    #[test]
    fn failed_layouts_are_named_not_hidden() {
        let mut failed = layout("b", 0.0, 0, 0, &[1]);
        failed.status = LayoutStatus::Failed;
        let line = verdict(&[layout("a", 1000.0, 2, 0, &[0]), failed]);
        assert!(line.contains("1 layout(s) failed"), "{line}");
    }
}
