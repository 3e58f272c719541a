//! The plan's `[thresholds]` as every report lists them: one [`Row`] per layout and threshold,
//! a [`summary`] line, and the terminal's block ([`text`]); the Markdown and HTML reports render
//! the same rows in their own markup.

use std::fmt::Write as _;

use crate::result::{RunResult, ThresholdOutcome};

/// One threshold of one layout, as the reports show it.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub layout: String,
    /// `p99 < 2ms`.
    pub threshold: String,
    /// `1ms 200us`, `≥ 3s`, or the mean and its interval with trials.
    pub value: String,
    pub outcome: ThresholdOutcome,
    /// `met`, `CROSSED`, `INCONCLUSIVE`: anything but met stands out.
    pub word: &'static str,
    /// Why it is inconclusive, and what would decide it.
    pub why: String,
}

/// Every layout's thresholds, in plan order; empty when the plan has none.
pub fn rows(result: &RunResult) -> Vec<Row> {
    result
        .layouts
        .iter()
        .flat_map(|l| {
            l.thresholds.iter().map(|t| Row {
                layout: l.name.clone(),
                threshold: t.name(),
                value: t.value_text(),
                outcome: t.outcome,
                word: word(t.outcome),
                why: t.why.clone(),
            })
        })
        .collect()
}

fn word(outcome: ThresholdOutcome) -> &'static str {
    match outcome {
        ThresholdOutcome::Pass => "met",
        ThresholdOutcome::Fail => "CROSSED",
        ThresholdOutcome::Inconclusive => "INCONCLUSIVE",
    }
}

/// `Thresholds: 1 crossed (exit 1), 3 met.`, or `None` without thresholds.
pub fn summary(rows: &[Row]) -> Option<String> {
    if rows.is_empty() {
        return None;
    }
    let count = |o| rows.iter().filter(|r| r.outcome == o).count();
    let (fail, undecided, pass) = (
        count(ThresholdOutcome::Fail),
        count(ThresholdOutcome::Inconclusive),
        count(ThresholdOutcome::Pass),
    );
    let mut parts = Vec::new();
    if fail > 0 {
        parts.push(format!("{fail} crossed (exit 1)"));
    }
    if undecided > 0 {
        let code = if fail > 0 { "" } else { " (exit 3)" };
        parts.push(format!("{undecided} inconclusive{code}"));
    }
    if pass > 0 {
        parts.push(format!("{pass} met"));
    }
    Some(format!("Thresholds: {}.", parts.join(", ")))
}

/// The terminal's block: the summary, then one line per threshold (and why, when undecided).
pub fn text(result: &RunResult) -> String {
    let rows = rows(result);
    let Some(summary) = summary(&rows) else {
        return String::new();
    };
    let mut out = format!("{summary}\n");
    let layout_width = rows.iter().map(|r| r.layout.len()).max().unwrap_or(0);
    let threshold_width = rows.iter().map(|r| r.threshold.len()).max().unwrap_or(0);
    for r in &rows {
        let _ = writeln!(
            out,
            "  {:<12} {:<layout_width$}  {:<threshold_width$}  {}",
            r.word, r.layout, r.threshold, r.value
        );
        if !r.why.is_empty() {
            let _ = writeln!(out, "  {:<12} {}", "", r.why);
        }
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Metric, Scope};
    use crate::result::ThresholdResult;

    fn threshold(
        metric: Metric,
        condition: &str,
        value: f64,
        outcome: ThresholdOutcome,
    ) -> ThresholdResult {
        ThresholdResult {
            metric,
            condition: condition.to_owned(),
            scope: Scope::Plan,
            value: Some(value),
            interval: None,
            trials: 1,
            lower_bound: false,
            outcome,
            why: if outcome == ThresholdOutcome::Inconclusive {
                "too few samples".to_owned()
            } else {
                String::new()
            },
        }
    }

    #[test]
    fn each_threshold_is_listed_with_its_value_and_outcome() {
        let mut r: RunResult =
            serde_json::from_str(include_str!("../../tests/fixtures/quickstart-result.json"))
                .expect("fixture");
        assert_eq!(text(&r), "");
        r.layouts[0].thresholds = vec![
            threshold(Metric::P99, "< 2ms", 1.2e6, ThresholdOutcome::Pass),
            threshold(
                Metric::Throughput,
                "> 9500 req/s",
                4990.0,
                ThresholdOutcome::Fail,
            ),
        ];
        r.layouts[1].thresholds = vec![threshold(
            Metric::P999,
            "< 5ms",
            1e6,
            ThresholdOutcome::Inconclusive,
        )];
        let shown = text(&r);
        let lines: Vec<&str> = shown.lines().collect();
        assert_eq!(
            lines[0],
            "Thresholds: 1 crossed (exit 1), 1 inconclusive, 1 met."
        );
        assert!(
            lines[1].contains("met")
                && lines[1].contains("p99 < 2ms")
                && lines[1].ends_with("1ms 200us"),
            "{shown}"
        );
        assert!(
            lines[2].contains("CROSSED") && lines[2].ends_with("4990 req/s"),
            "{shown}"
        );
        assert!(
            lines[3].contains("INCONCLUSIVE") && lines[3].contains(&r.layouts[1].name),
            "{shown}"
        );
        assert!(lines[4].trim() == "too few samples", "{shown}");
    }
}
