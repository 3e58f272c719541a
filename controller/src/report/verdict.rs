//! Which layout won, by what criterion, and by how much.
//!
//! Open loop holds the rate fixed, so throughput says little: the winner is the layout with the
//! lowest corrected p99 among those that kept up with the rate without errors. Closed loop lets
//! each layout go as fast as it can: the winner has the highest throughput. A layout that failed,
//! fell behind or had errors cannot win, and the verdict says so rather than hiding it.

use crate::result::{LayoutResult, LayoutStatus};
use crate::report::{duration_ns, thousands};

/// Share of the target rate a layout must reach to count as keeping up.
const KEPT_UP: f64 = 0.99;

/// One line: the winner and its margin, or why there is none.
pub fn verdict(layouts: &[LayoutResult]) -> String {
    let measured: Vec<&LayoutResult> = layouts.iter().filter(|l| l.status == LayoutStatus::Ok).collect();
    let failed = layouts.len() - measured.len();
    let Some(first) = measured.first() else {
        return "Verdict: no layout was measured; see the errors above.".to_owned();
    };
    let mut line = match first.target_rate_rps {
        Some(rate) => open_loop(&measured, rate),
        None => closed_loop(&measured),
    };
    if failed > 0 {
        line.push_str(&format!(" ({failed} layout(s) failed and are not compared.)"));
    }
    line
}

fn open_loop(measured: &[&LayoutResult], rate: f64) -> String {
    let eligible: Vec<&&LayoutResult> = measured
        .iter()
        .filter(|l| l.errors == 0 && l.throughput_rps >= rate * KEPT_UP && l.latency_ns.count > 0)
        .collect();
    let criterion = format!("lowest p99 at {} req/s open loop", thousands(rate));
    match eligible.as_slice() {
        [] => format!("Verdict: no layout kept up with {} req/s without errors.", thousands(rate)),
        [only] if measured.len() == 1 => {
            format!("Verdict: {} is the only layout: p99 {}.", only.name, duration_ns(only.latency_ns.p99))
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
            format!(
                "Verdict: {} wins ({criterion}): p99 {} vs {} for {} ({:.2}x lower).",
                best.name,
                duration_ns(best.latency_ns.p99),
                duration_ns(next.latency_ns.p99),
                next.name,
                ratio
            )
        }
    }
}

fn closed_loop(measured: &[&LayoutResult]) -> String {
    let mut by_rate: Vec<&&LayoutResult> = measured.iter().collect();
    by_rate.sort_by(|a, b| b.throughput_rps.total_cmp(&a.throughput_rps));
    match by_rate.as_slice() {
        [only] => format!("Verdict: {} is the only layout: {} req/s.", only.name, thousands(only.throughput_rps)),
        [best, next, ..] => {
            let ratio = best.throughput_rps / next.throughput_rps.max(f64::MIN_POSITIVE);
            format!(
                "Verdict: {} wins (highest throughput, closed loop): {} vs {} req/s for {} ({:.2}x).",
                best.name,
                thousands(best.throughput_rps),
                thousands(next.throughput_rps),
                next.name,
                ratio
            )
        }
        [] => "Verdict: no layout was measured.".to_owned(),
    }
}
