//! The HTML report's thresholds table: the rows every report lists ([`crate::report::thresholds`]),
//! anything but met marked.

use std::fmt::Write as _;

use super::svg::esc;
use crate::result::RunResult;

/// The plan's `[thresholds]`: one row per layout and threshold, anything but met marked.
pub fn table(out: &mut String, result: &RunResult) {
    let rows = crate::report::thresholds::rows(result);
    let Some(summary) = crate::report::thresholds::summary(&rows) else {
        return;
    };
    let _ = writeln!(
        out,
        "<h2>Thresholds</h2><p>{}</p><table id=\"thresholds\"><thead><tr><th>layout</th>\
         <th>threshold</th><th>value</th><th>outcome</th></tr></thead><tbody>",
        esc(&summary)
    );
    for r in &rows {
        let class = match r.outcome {
            crate::result::ThresholdOutcome::Pass => "",
            crate::result::ThresholdOutcome::Fail => " class=\"bad\"",
            crate::result::ThresholdOutcome::Inconclusive => " class=\"caution\"",
        };
        let why = if r.why.is_empty() {
            String::new()
        } else {
            format!(": {}", esc(&r.why))
        };
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td{class}>{}{why}</td></tr>",
            esc(&r.layout),
            esc(&r.threshold),
            esc(&r.value),
            esc(r.word)
        );
    }
    let _ = writeln!(out, "</tbody></table>");
}
