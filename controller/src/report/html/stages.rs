//! A layout's stages as an HTML table (the words come from [`crate::report::stages`], shared
//! with the other formats).

use std::fmt::Write as _;

use super::service::{number_cells, percentile_heads};
use super::svg::esc;
use crate::report::stages::{self, STAGE_PERCENTILES};
use crate::result::LayoutResult;

/// The table, empty without stages.
pub fn section(l: &LayoutResult) -> String {
    let rows = stages::stage_rows(l);
    if rows.is_empty() || !l.status.measured() {
        return String::new();
    }
    let mut out = String::new();
    let head = percentile_heads(&STAGE_PERCENTILES);
    let _ = writeln!(
        out,
        r#"<h3>By stage</h3><table class="stages"><thead><tr><th>stage</th><th>asked</th><th>span</th><th>throughput</th><th>requests</th><th>errors</th><th>late sends</th>{head}</tr></thead><tbody>"#
    );
    for r in rows {
        let latency = number_cells(&r.latency);
        let _ = writeln!(
            out,
            r#"<tr><td class="num">{}</td><td>{}</td><td>{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td>{latency}</tr>"#,
            esc(&r.stage),
            esc(&r.asked),
            esc(&r.span),
            esc(&r.throughput),
            esc(&r.requests),
            esc(&r.errors),
            esc(&r.late_sends)
        );
    }
    let _ = writeln!(out, "</tbody></table>");
    out
}
