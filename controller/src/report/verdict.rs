//! Which layout won, by what criterion, and by how much.
//!
//! Open loop holds the rate fixed, so throughput says little: the winner is the layout with the
//! lowest corrected p99 among those that kept up with the rate without errors (and measured
//! the 100 requests a p99 needs). Closed loop lets
//! each layout go as fast as it can: the winner has the highest throughput. A layout that failed
//! or was degraded (measured by some agents only), fell behind or had errors cannot win, and the
//! verdict says so rather than hiding it.

use crate::report::trust::Pct;
use crate::report::{duration_ns, thousands};
use crate::result::{LayoutResult, LayoutStatus};

use crate::trust::KEPT_UP;

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
    let measured: Vec<&LayoutResult> = layouts
        .iter()
        .filter(|l| l.status == LayoutStatus::Ok)
        .collect();
    let degraded = layouts
        .iter()
        .filter(|l| l.status == LayoutStatus::Degraded)
        .count();
    let failed = layouts.len() - measured.len() - degraded;
    let Some(first) = measured.first() else {
        return "Verdict: no layout was measured; see the errors above.".to_owned();
    };
    let mut line = match first.target_rate_rps {
        Some(rate) => open_loop(&measured, rate),
        None => closed_loop(&measured),
    };
    if failed > 0 {
        line.push_str(&format!(
            " ({failed} layout(s) failed and are not compared.)"
        ));
    }
    if degraded > 0 {
        line.push_str(&format!(
            " ({degraded} layout(s) degraded (some agents did not measure them) and are not compared.)"
        ));
    }
    line
}

fn open_loop(measured: &[&LayoutResult], rate: f64) -> String {
    let eligible: Vec<&&LayoutResult> = measured
        .iter()
        .filter(|l| {
            l.errors == 0
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
        [only] if measured.len() == 1 => {
            format!(
                "Verdict: {} is the only layout: p99 {}.",
                only.name,
                duration_ns(only.latency_ns.p99)
            )
        }
        [only] => format!(
            "Verdict: {} wins ({criterion}): p99 {}; every other layout fell behind or had errors.",
            only.name,
            duration_ns(only.latency_ns.p99)
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
                    duration_ns(best.latency_ns.p99),
                    duration_ns(next.latency_ns.p99)
                );
            }
            format!(
                "Verdict: {} wins ({criterion}): p99 {} vs {} for {} ({:.2}x lower).{}",
                best.name,
                duration_ns(best.latency_ns.p99),
                duration_ns(next.latency_ns.p99),
                next.name,
                ratio,
                caveat(best, next)
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

fn closed_loop(measured: &[&LayoutResult]) -> String {
    let mut by_rate: Vec<&&LayoutResult> = measured.iter().collect();
    by_rate.sort_by(|a, b| b.throughput_rps.total_cmp(&a.throughput_rps));
    match by_rate.as_slice() {
        [only] => format!(
            "Verdict: {} is the only layout: {} req/s.",
            only.name,
            thousands(only.throughput_rps)
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
                "Verdict: {} wins (highest throughput, closed loop): {} vs {} req/s for {} ({:.2}x).{}",
                best.name,
                thousands(best.throughput_rps),
                thousands(next.throughput_rps),
                next.name,
                ratio,
                caveat(best, next)
            )
        }
        [] => "Verdict: no layout was measured.".to_owned(),
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
    fn failed_layouts_are_named_not_hidden() {
        let mut failed = layout("b", 0.0, 0, 0, &[1]);
        failed.status = LayoutStatus::Failed;
        let line = verdict(&[layout("a", 1000.0, 2, 0, &[0]), failed]);
        assert!(line.contains("1 layout(s) failed"), "{line}");
    }
}
