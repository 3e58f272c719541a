//! The per-layout figures that the tabular formats (Markdown, CSV, HTML) share, so that each
//! says the same thing about status, threads and placement.

use crate::report::duration_ns;
use crate::report::trust::{Pct, TOO_FEW};
use crate::result::{LayoutResult, LayoutStatus, Percentiles};

/// `ok`, `SUSPECT` (measured, with reasons for caution), `DEGRADED` (measured by some of the
/// agents only) or `FAILED`.
pub fn status(l: &LayoutResult) -> &'static str {
    match l.status {
        LayoutStatus::Failed => "FAILED",
        LayoutStatus::Degraded => "DEGRADED",
        LayoutStatus::Ok if !l.suspect.is_empty() || !placement_ok(l) => "SUSPECT",
        LayoutStatus::Ok => "ok",
    }
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

/// A percentile for people: the duration, or "n/a (too few)".
pub fn percentile_cell(p: &Percentiles, pct: Pct) -> String {
    match pct.shown(p) {
        Some(ns) => duration_ns(ns),
        None if p.count == 0 => "-".to_owned(),
        None => TOO_FEW.to_owned(),
    }
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
}
