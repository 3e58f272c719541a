//! The terminal report's latency block: the latency percentiles and, under them, the
//! connections' setup, in columns as wide as their widest cell.

use std::fmt::Write as _;

use crate::report::pct::Pct;
use crate::report::service;
use crate::report::stages;
use crate::report::summary::{self, percentile_cell};
use crate::result::{LayoutResult, Percentiles};

/// The latency rows (corrected; uncorrected in open loop) and under them the connections'
/// setup (connect, TLS handshake, first byte), then how many connections and resumed
/// handshakes. One column width for all rows: the widest cell's, at least `CELL` (a
/// percentile with too few samples says so in more).
pub(super) fn table(out: &mut String, l: &LayoutResult) {
    const CELL: usize = 10;
    let row = |label: &'static str, p: &Percentiles| {
        let cells = [Pct::P50, Pct::P99, Pct::P999, Pct::Max].map(|pct| percentile_cell(p, pct));
        (label, cells)
    };
    let mut latency = vec![row(summary::corrected_label(l), &l.latency_ns)];
    if l.mode == "open" {
        latency.push(row("uncorrected", &l.latency_uncorrected_ns));
    }
    let setup: Vec<_> = summary::setup_rows(l)
        .into_iter()
        .map(|(label, p)| row(label, p))
        .collect();
    let width = latency
        .iter()
        .chain(&setup)
        .flat_map(|(_, cells)| cells.iter().map(|c| c.chars().count()))
        .fold(CELL, usize::max);
    let print = |out: &mut String, label: &str, cells: &[String; 4]| {
        let [p50, p99, p999, max] = cells;
        let _ = writeln!(
            out,
            "  {label:<12} {p50:>width$} {p99:>width$} {p999:>width$} {max:>width$}"
        );
    };
    print(
        out,
        "latency",
        &["p50", "p99", "p99.9", "max"].map(String::from),
    );
    for (label, cells) in &latency {
        print(out, label, cells);
    }
    if shows_a_lower_bound(l) {
        let _ = writeln!(out, "  {:<12} {}", "", summary::AT_LEAST_MEANS);
    }
    for (label, cells) in &setup {
        print(out, label, cells);
    }
    if let Some(setup) = &l.connection_setup {
        let _ = writeln!(out, "  connections  {}", service::connections(setup));
    }
}

/// Whether any latency figure of the layout's block (its own or its request mix's) is a lower
/// bound, so the block explains the mark.
fn shows_a_lower_bound(l: &LayoutResult) -> bool {
    let shown = [Pct::P50, Pct::P99, Pct::P999, Pct::Max];
    summary::shows_a_lower_bound(&l.latency_ns, &shown)
        || summary::shows_a_lower_bound(&l.latency_uncorrected_ns, &shown)
        || service::mix_shows_a_lower_bound(l)
        || stages::stages_show_a_lower_bound(l)
}
