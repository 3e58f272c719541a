//! `numaload history`: stored runs in time order with their figures and labels, as text (a
//! small trend per plan and layout), JSON, CSV or HTML ([`html`]: a self-contained SVG trend
//! per layout, each run a point linking to its full report). Pure: runs in, text out.

pub mod html;

use std::fmt::Write as _;

use serde_json::json;

use crate::compare::Figure;
use crate::result::LayoutStatus;

use super::record::{self, StoredLayout, StoredRun};

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Csv,
    Html,
}

impl Format {
    pub fn from_name(name: &str) -> Result<Format, String> {
        match name {
            "text" => Ok(Format::Text),
            "json" => Ok(Format::Json),
            "csv" => Ok(Format::Csv),
            "html" => Ok(Format::Html),
            _ => Err(format!("--format {name}: expected text, json, csv or html")),
        }
    }
}

/// `--figure`: `throughput`, `p50`, `p99`, `p99.9` (or `p999`), `error-rate`.
pub fn figure_from_name(name: &str) -> Result<Figure, String> {
    match name {
        "throughput" => Ok(Figure::Throughput),
        "p50" => Ok(Figure::P50),
        "p99" => Ok(Figure::P99),
        "p99.9" | "p999" => Ok(Figure::P999),
        "error-rate" | "errors" => Ok(Figure::ErrorRate),
        _ => Err(format!(
            "--figure {name}: expected throughput, p50, p99, p99.9 or error-rate"
        )),
    }
}

/// One line of a trend: a plan's layout and its runs, oldest first.
#[derive(Debug)]
pub struct Series<'a> {
    pub plan: &'a str,
    pub layout: &'a str,
    pub points: Vec<(&'a StoredRun, &'a StoredLayout)>,
}

/// The runs grouped by plan name and layout, in order of first appearance.
pub fn series(runs: &[StoredRun]) -> Vec<Series<'_>> {
    let mut out: Vec<Series<'_>> = Vec::new();
    for run in runs {
        for l in &run.layouts {
            match out
                .iter_mut()
                .find(|s| s.plan == run.plan_name && s.layout == l.name)
            {
                Some(s) => s.points.push((run, l)),
                None => out.push(Series {
                    plan: &run.plan_name,
                    layout: &l.name,
                    points: vec![(run, l)],
                }),
            }
        }
    }
    out
}

/// `▁▂▄█` from the values (missing ones as a space), scaled between their min and max.
pub fn sparkline(values: &[Option<f64>]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let present: Vec<f64> = values.iter().flatten().copied().collect();
    let lo = present.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = present.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    values
        .iter()
        .map(|v| match v {
            None => ' ',
            Some(_) if hi <= lo => BARS[3],
            Some(v) => BARS[(((v - lo) / (hi - lo)) * 7.0).round() as usize],
        })
        .collect()
}

fn labels_text(run: &StoredRun) -> String {
    run.labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The text view: per plan and layout, a trend line and one row per run.
pub fn text(runs: &[StoredRun], figure: Figure) -> String {
    let mut out = String::new();
    if runs.is_empty() {
        out.push_str("no stored runs match\n");
        return out;
    }
    for s in series(runs) {
        let values: Vec<Option<f64>> = s.points.iter().map(|(_, l)| l.figure(figure)).collect();
        let present: Vec<f64> = values.iter().flatten().copied().collect();
        let change = match (present.first(), present.last()) {
            (Some(a), Some(b)) if present.len() > 1 && *a != 0.0 => {
                format!(" ({:+.1}% first to last)", 100.0 * (b - a) / a.abs())
            }
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "plan \"{}\" · layout \"{}\" · {}: {} run(s)  trend {}{change}",
            s.plan,
            s.layout,
            figure.name(),
            s.points.len(),
            sparkline(&values)
        );
        for (run, l) in &s.points {
            let value = l.figure(figure).map_or_else(
                || format!("- ({})", record::status_text(l.status)),
                |v| figure.show(v),
            );
            // A run whose layout was not ok says so: no baseline includes it.
            let untrusted = match l.status {
                LayoutStatus::Ok | LayoutStatus::Failed => String::new(),
                status => format!("  ({status}: never a baseline)"),
            };
            let _ = writeln!(
                out,
                "  {}  {:<36} {:>14}  {}  {}  {}{untrusted}",
                run.started_at,
                run.run_id,
                value,
                run.hosts.join(","),
                &run.plan_fingerprint[..run.plan_fingerprint.len().min(8)],
                labels_text(run)
            );
        }
        out.push('\n');
    }
    out
}

/// The JSON view: every run with every figure of its layouts.
pub fn json(runs: &[StoredRun]) -> String {
    let runs: Vec<serde_json::Value> = runs
        .iter()
        .map(|r| {
            json!({
                "run_id": r.run_id,
                "started_at": r.started_at,
                "plan": r.plan_name,
                "plan_fingerprint": r.plan_fingerprint,
                "hosts": r.hosts,
                "agents": r.agents,
                "cancelled": r.cancelled,
                "degraded": r.degraded,
                "labels": r.labels,
                "layouts": r.layouts.iter().map(|l| json!({
                    "name": l.name,
                    "status": record::status_text(l.status),
                    "trials": l.trials,
                    "requests": l.requests,
                    "throughput_rps": l.throughput_rps,
                    "p50_ns": l.p50_ns,
                    "p99_ns": l.p99_ns,
                    "p999_ns": l.p999_ns,
                    "error_rate": l.error_rate,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    serde_json::to_string_pretty(&runs).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}")) + "\n"
}

/// The CSV view: one row per run and layout.
pub fn csv(runs: &[StoredRun]) -> String {
    let header = [
        "started_at",
        "run_id",
        "plan",
        "plan_fingerprint",
        "hosts",
        "layout",
        "status",
        "trials",
        "requests",
        "throughput_rps",
        "p50_ns",
        "p99_ns",
        "p999_ns",
        "error_rate",
        "labels",
    ]
    .map(str::to_owned);
    let num = |v: Option<f64>| v.map_or_else(String::new, |v| v.to_string());
    let rows = runs.iter().flat_map(|r| {
        r.layouts.iter().map(move |l| {
            [
                r.started_at.clone(),
                r.run_id.clone(),
                r.plan_name.clone(),
                r.plan_fingerprint.to_string(),
                r.hosts.join(" "),
                l.name.clone(),
                record::status_text(l.status).to_string(),
                l.trials.to_string(),
                l.requests.to_string(),
                num(l.throughput_rps),
                num(l.p50_ns),
                num(l.p99_ns),
                num(l.p999_ns),
                num(l.error_rate),
                labels_text(r),
            ]
        })
    });
    crate::report::csv::records(std::iter::once(header).chain(rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparklines_scale_between_min_and_max() {
        assert_eq!(sparkline(&[Some(1.0), Some(2.0), None, Some(3.0)]), "▁▅ █");
        assert_eq!(sparkline(&[Some(5.0), Some(5.0)]), "▄▄");
        assert_eq!(sparkline(&[]), "");
    }

    #[test]
    fn names() {
        assert_eq!(figure_from_name("p99"), Ok(Figure::P99));
        assert!(figure_from_name("p98").is_err_and(|e| e.starts_with("--figure p98")));
        assert!(Format::from_name("xml").is_err_and(|e| e.starts_with("--format xml")));
    }
}
