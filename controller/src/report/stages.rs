//! The open loop's shape in the words every human format uses: the load as the plan asked for
//! it (a constant rate, stages, Poisson arrivals and their seed, a trace), and a layout's
//! figures stage by stage. Pure: result in, rows and lines out; each format lays them out (the
//! text report's table is here too, [`text_table`], to keep `text.rs` short).

use std::fmt::Write as _;

use crate::plan::{Arrivals, Load, Stage};
use crate::report::pct::Pct;
use crate::report::summary::{percentile_cell, shows_a_lower_bound};
use crate::report::thousands;
use crate::result::{LayoutResult, StageResult};

/// The percentiles a stage row shows (corrected latency).
pub const STAGE_PERCENTILES: [Pct; 4] = [Pct::P50, Pct::P99, Pct::P999, Pct::Max];

/// One stage of a layout as the reports show it.
#[derive(Debug, Clone, PartialEq)]
pub struct StageRow {
    /// `1`, `2`, ...
    pub stage: String,
    /// `1,000 req/s` (a step) or `1,000 → 5,000 req/s` (a ramp).
    pub asked: String,
    /// `0–10 s`: from the window's open.
    pub span: String,
    /// Measured throughput, and the share of the stage's mean asked rate (`998 req/s (99.8%)`).
    pub throughput: String,
    pub requests: String,
    pub errors: String,
    pub late_sends: String,
    /// p50, p99, p99.9 and max (or "n/a (too few)", "-"), a lower bound marked "≥ ".
    pub latency: [String; 4],
}

/// The rows of a layout's stages; none without stages.
pub fn stage_rows(l: &LayoutResult) -> Vec<StageRow> {
    l.stages.iter().map(stage_row).collect()
}

/// Whether a figure of [`stage_rows`] is a lower bound.
pub fn stages_show_a_lower_bound(l: &LayoutResult) -> bool {
    l.stages
        .iter()
        .any(|s| shows_a_lower_bound(&s.latency_ns, &STAGE_PERCENTILES))
}

fn stage_row(s: &StageResult) -> StageRow {
    let asked = s.asked_rps();
    let share = if asked > 0.0 {
        format!(" ({:.1}%)", 100.0 * s.throughput_rps / asked)
    } else {
        String::new()
    };
    StageRow {
        stage: s.stage.to_string(),
        asked: rates(s.from_rps, s.to_rps),
        span: format!(
            "{}–{} s",
            seconds(s.start_s),
            seconds(s.start_s + s.duration_s)
        ),
        throughput: format!("{} req/s{share}", thousands(s.throughput_rps)),
        requests: thousands(s.requests as f64),
        errors: thousands(s.errors as f64),
        late_sends: thousands(s.late_sends as f64),
        latency: STAGE_PERCENTILES.map(|pct| percentile_cell(&s.latency_ns, pct)),
    }
}

/// `1,000 req/s`, or `1,000 → 5,000 req/s` for a ramp.
fn rates(from: f64, to: f64) -> String {
    if from == to {
        format!("{} req/s", thousands(from))
    } else {
        format!("{} → {} req/s", thousands(from), thousands(to))
    }
}

/// Whole seconds without a fraction, else to the millisecond (`10`, `2.5`).
fn seconds(s: f64) -> String {
    let rounded = (s * 1_000.0).round() / 1_000.0;
    if rounded.fract() == 0.0 {
        format!("{rounded:.0}")
    } else {
        format!("{rounded}")
    }
}

/// The text report's `stages` table of a layout (empty without stages): per stage what it
/// asked, what it got, and its corrected latency.
pub fn text_table(l: &LayoutResult) -> String {
    let mut out = String::new();
    let rows = stage_rows(l);
    if rows.is_empty() {
        return out;
    }
    let width = |f: fn(&StageRow) -> &String, min: usize| {
        rows.iter()
            .map(|r| f(r).chars().count())
            .max()
            .unwrap_or(0)
            .max(min)
    };
    let (asked, span, got) = (
        width(|r| &r.asked, 5),
        width(|r| &r.span, 4),
        width(|r| &r.throughput, 10),
    );
    let _ = writeln!(
        &mut out,
        "  stages       {:>2} {:<asked$} {:<span$} {:>got$} {:>10} {:>8} {:>6} {:>10} {:>10} {:>10} {:>10}",
        "#", "asked", "span", "throughput", "requests", "errors", "late", "p50", "p99", "p99.9", "max"
    );
    for r in rows {
        let [p50, p99, p999, max] = &r.latency;
        let _ = writeln!(
            &mut out,
            "               {:>2} {:<asked$} {:<span$} {:>got$} {:>10} {:>8} {:>6} {p50:>10} {p99:>10} {p999:>10} {max:>10}",
            r.stage, r.asked, r.span, r.throughput, r.requests, r.errors, r.late_sends
        );
    }
    out
}

/// The load as the plan asked for it, for a report's header: `open loop at 5,000 req/s`, `open
/// loop in 3 stages (0 → 5,000 req/s over 10s, 5,000 req/s for 30s, 5,000 → 0 req/s over
/// 10s)`, `open loop replaying "arrivals.csv" (12,000 requests, speed 2)`, each followed by
/// `, Poisson arrivals (seed 42)` when they are; `closed loop (...)`.
pub fn load_words(load: &Load) -> String {
    let Some(rate) = load.rate() else {
        return "closed loop (as fast as each connection can go)".to_owned();
    };
    let mut words = if let Some(trace) = &load.trace {
        let speed = if trace.speed == 1.0 {
            String::new()
        } else {
            format!(", speed {}", trace.speed)
        };
        format!(
            "open loop replaying {:?} ({} requests{speed}; {} req/s over the window)",
            trace.file,
            thousands(trace.entries as f64),
            thousands(rate)
        )
    } else if load.stages.is_empty() {
        format!("open loop at {} req/s", thousands(rate))
    } else {
        let stages: Vec<String> = load.stages.iter().map(stage_words).collect();
        format!(
            "open loop in {} stage(s) ({})",
            load.stages.len(),
            stages.join(", ")
        )
    };
    if load.arrivals == Arrivals::Poisson {
        let seed = load
            .seed
            .map_or_else(|| "drawn at run time".to_owned(), |s| format!("seed {s}"));
        words.push_str(&format!(", Poisson arrivals ({seed})"));
    }
    words
}

/// `5,000 req/s for 30s`, `0 → 5,000 req/s over 10s`.
fn stage_words(stage: &Stage) -> String {
    let length = humantime::format_duration(stage.duration);
    if stage.is_step() {
        format!("{} for {length}", rates(stage.from, stage.to))
    } else {
        format!("{} over {length}", rates(stage.from, stage.to))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn spans_and_rates_read_as_people_write_them() {
        assert_eq!(rates(1_000.0, 1_000.0), "1,000 req/s");
        assert_eq!(rates(0.0, 5_000.0), "0 → 5,000 req/s");
        assert_eq!(seconds(10.0), "10");
        assert_eq!(seconds(2.5), "2.5");
        let ramp = Stage {
            from: 0.0,
            to: 5_000.0,
            duration: Duration::from_secs(10),
        };
        assert_eq!(stage_words(&ramp), "0 → 5,000 req/s over 10s");
        let step = Stage {
            from: 200.0,
            to: 200.0,
            duration: Duration::from_millis(1_500),
        };
        assert_eq!(stage_words(&step), "200 req/s for 1s 500ms");
    }
}
