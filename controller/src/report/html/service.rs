//! A layout's request mix, status codes, reconnects, HTTP/2 counters, connections opened and
//! replica trees as HTML (the words come
//! from [`crate::report::service`], shared with the other formats).

use std::fmt::Write as _;

use super::svg::esc;
use crate::report::pct::Pct;
use crate::report::service::{self, MIX_PERCENTILES};
use crate::result::LayoutResult;

/// The block, empty when there is nothing to show.
pub fn section(l: &LayoutResult) -> String {
    let mut out = String::new();
    if l.status.measured() {
        for (label, line) in service::labelled_lines(l) {
            let _ = writeln!(out, r#"<p class="sub">{label}: {}</p>"#, esc(&line));
        }
        mix_table(&mut out, l);
    }
    let mut items = Vec::new();
    for r in &l.replicas {
        if let Some(tree) = service::tree(r) {
            items.push(format!("<li>replica {}: {}</li>", r.index, esc(&tree)));
        }
        for line in service::mismatches(r) {
            items.push(format!(
                r#"<li class="bad">replica {} MISMATCH {}</li>"#,
                r.index,
                esc(&line)
            ));
        }
        if let Some(line) = service::scraped(r) {
            items.push(format!(
                "<li>replica {} scraped: {}</li>",
                r.index,
                esc(&line)
            ));
        }
    }
    if !items.is_empty() {
        let _ = writeln!(
            out,
            r#"<h3>Process trees</h3><ul class="trees">{}</ul>"#,
            items.concat()
        );
    }
    out
}

fn mix_table(out: &mut String, l: &LayoutResult) {
    let rows = service::mix_rows(l);
    if rows.is_empty() {
        return;
    }
    let head = percentile_heads(&MIX_PERCENTILES);
    let _ = writeln!(
        out,
        r#"<h3>Request mix</h3><table class="mix"><thead><tr><th>request</th><th>weight</th><th>share</th><th>calls</th><th>requests</th><th>errors</th>{head}</tr></thead><tbody>"#
    );
    for r in rows {
        let latency = number_cells(&r.latency);
        let _ = writeln!(
            out,
            r#"<tr><td>{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td>{latency}</tr>"#,
            esc(&r.name),
            r.weight,
            esc(&r.share),
            esc(&r.calls),
            esc(&r.requests),
            esc(&r.errors)
        );
    }
    let _ = writeln!(out, "</tbody></table>");
}

/// The header cells of these percentiles: `<th>p50</th>...`.
pub(super) fn percentile_heads(pcts: &[Pct]) -> String {
    pcts.iter()
        .map(|p| format!("<th>{}</th>", p.label()))
        .collect()
}

/// A row's figures as right-aligned cells, escaped.
pub(super) fn number_cells(cells: &[String]) -> String {
    cells
        .iter()
        .map(|cell| format!(r#"<td class="num">{}</td>"#, esc(cell)))
        .collect()
}
