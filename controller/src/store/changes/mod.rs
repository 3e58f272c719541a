//! Change points over the stored history: `numaload history --changes`, the marks of the HTML
//! history and `compare --baseline since-change`. Pure: stored runs in, change points out.
//!
//! A history series is one plan (by name) and one layout on the same hosts and topology (the
//! host fingerprint; a run stored before the store kept it joins the runs of its host set), or
//! on any host when asked. Each figure of a series is a series of values: the runs in which the
//! layout was `ok` and the figure was measured, oldest first (a run not `ok` is never a
//! baseline, and its figures are not trusted to mark a change either). [`edivisive`] finds the
//! change points of each; a [`Change`] names the runs on either side, the step between the
//! means of the values from the previous change point to it and from it to the next, and its
//! p-value.

pub mod edivisive;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::json;

use crate::compare::Figure;
use crate::result::LayoutStatus;

use super::record::{StoredLayout, StoredRun};
pub use edivisive::{Settings, Split};

/// One history series: a plan's layout on one set of hosts (or any).
#[derive(Debug)]
pub struct Series<'a> {
    pub plan: &'a str,
    pub layout: &'a str,
    /// The host fingerprint its runs share (`None`: any host).
    pub host_fingerprint: Option<String>,
    /// Every run with this layout, oldest first, whatever its status.
    pub points: Vec<(&'a StoredRun, &'a StoredLayout)>,
}

impl<'a> Series<'a> {
    /// The runs in which the layout was `ok` and `figure` was measured, with its value.
    pub fn values(&self, figure: Figure) -> Vec<(&'a StoredRun, f64)> {
        self.points
            .iter()
            .filter(|(_, l)| l.status == LayoutStatus::Ok)
            .filter_map(|(run, l)| {
                l.figure(figure)
                    .filter(|v| v.is_finite())
                    .map(|v| (*run, v))
            })
            .collect()
    }

    /// The hosts of its newest run.
    pub fn hosts(&self) -> String {
        self.points
            .last()
            .map(|(run, _)| run.hosts.join(", "))
            .unwrap_or_default()
    }

    /// The change points of `figure`.
    pub fn changes(&self, figure: Figure, settings: &Settings) -> Vec<Change<'a>> {
        let values = self.values(figure);
        let numbers: Vec<f64> = values.iter().map(|(_, v)| *v).collect();
        edivisive::change_points(&numbers, settings)
            .into_iter()
            .map(|split| Change {
                figure,
                before: values[split.index - 1].0,
                after: values[split.index].0,
                split,
            })
            .collect()
    }
}

/// A change point of one figure of a series.
#[derive(Debug, Clone)]
pub struct Change<'a> {
    pub figure: Figure,
    /// Indexes into the series' `ok` values of the figure ([`Series::values`]).
    pub split: Split,
    /// The last run before the change and the first after it.
    pub before: &'a StoredRun,
    pub after: &'a StoredRun,
}

impl Change<'_> {
    /// `+1.02ms (+1671.2%)`: the step, absolute and relative (the error rate's in points).
    pub fn step_text(&self) -> String {
        let step = self.split.step();
        let sign = if step < 0.0 { "-" } else { "+" };
        let absolute = format!("{sign}{}", self.figure.show(step.abs()));
        match self.split.relative_step() {
            Some(r) if self.figure.relative() => format!("{absolute} ({:+.1}%)", 100.0 * r),
            _ if !self.figure.relative() => format!("{absolute} (points)"),
            _ => absolute,
        }
    }

    /// Whether the step is for the worse (higher latency or error rate, lower throughput).
    pub fn worse(&self) -> bool {
        (self.split.step() > 0.0) != self.figure.higher_is_better()
    }
}

/// The key a figure has on the command line and in JSON.
pub fn figure_key(figure: Figure) -> &'static str {
    match figure {
        Figure::Throughput => "throughput",
        Figure::P50 => "p50",
        Figure::P99 => "p99",
        Figure::P999 => "p99.9",
        Figure::ErrorRate => "error-rate",
    }
}

/// The runs grouped into series, in order of first appearance: by plan name, layout and host
/// fingerprint (unless `any_host`).
pub fn series(runs: &[StoredRun], any_host: bool) -> Vec<Series<'_>> {
    // Runs stored without a host fingerprint join the fingerprint their host set has elsewhere.
    let mut by_hosts: BTreeMap<String, &str> = BTreeMap::new();
    for run in runs.iter().filter(|r| !r.host_fingerprint.is_empty()) {
        by_hosts.insert(run.hosts.join(","), &run.host_fingerprint);
    }
    let key = |run: &StoredRun| -> Option<String> {
        if any_host {
            return None;
        }
        Some(if run.host_fingerprint.is_empty() {
            let hosts = run.hosts.join(",");
            by_hosts.get(&hosts).map_or(hosts, |f| (*f).to_owned())
        } else {
            run.host_fingerprint.clone()
        })
    };
    let mut out: Vec<Series<'_>> = Vec::new();
    for run in runs {
        let host = key(run);
        for l in &run.layouts {
            let found = out.iter_mut().find(|s| {
                s.plan == run.plan_name && s.layout == l.name && s.host_fingerprint == host
            });
            match found {
                Some(s) => s.points.push((run, l)),
                None => out.push(Series {
                    plan: &run.plan_name,
                    layout: &l.name,
                    host_fingerprint: host.clone(),
                    points: vec![(run, l)],
                }),
            }
        }
    }
    out
}

/// The series' title: `plan "ci" · layout "single" · on vm (hosts 1a2b3c4d)`.
pub fn title(s: &Series<'_>) -> String {
    let hosts = match &s.host_fingerprint {
        Some(f) => format!("on {} (hosts {f})", s.hosts()),
        None => "on any host".to_owned(),
    };
    format!("plan \"{}\" · layout \"{}\" · {hosts}", s.plan, s.layout)
}

fn labels(run: &StoredRun) -> String {
    run.labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `p = 0.0005`.
pub fn p_text(p: f64) -> String {
    format!("p = {p:.4}")
}

/// What `history --changes` prints: per series and figure, each change point with the runs on
/// either side, the step and its p-value.
pub fn text(runs: &[StoredRun], figures: &[Figure], any_host: bool, settings: &Settings) -> String {
    let mut out = String::new();
    if runs.is_empty() {
        out.push_str("no stored runs match\n");
        return out;
    }
    let all = series(runs, any_host);
    let found: Vec<Vec<Vec<Change<'_>>>> = all
        .iter()
        .map(|s| figures.iter().map(|f| s.changes(*f, settings)).collect())
        .collect();
    let count: usize = found.iter().flatten().map(Vec::len).sum();
    let _ = writeln!(
        out,
        "{count} change point(s) in {} series (E-Divisive means, permutation test at significance \
         {}, window {} runs; only runs in which the layout was ok)\n",
        all.len(),
        settings.level,
        settings.window
    );
    for (s, figure_changes) in all.iter().zip(&found) {
        let ok = s
            .points
            .iter()
            .filter(|(_, l)| l.status == LayoutStatus::Ok)
            .count();
        let _ = writeln!(out, "{} · {} run(s), {ok} ok", title(s), s.points.len());
        for (figure, changes) in figures.iter().zip(figure_changes) {
            let n = s.values(*figure).len();
            if changes.is_empty() {
                let _ = writeln!(out, "  {}: no change point ({n} run(s))", figure.name());
                continue;
            }
            let _ = writeln!(
                out,
                "  {}: {} change point(s) ({n} run(s))",
                figure.name(),
                changes.len()
            );
            for c in changes {
                let _ = writeln!(
                    out,
                    "    CHANGE at run {} of {n}: {} → {}, {}, {} ({} run(s) before, {} after)",
                    c.split.index + 1,
                    figure.show(c.split.mean_before),
                    figure.show(c.split.mean_after),
                    c.step_text(),
                    p_text(c.split.p_value),
                    c.split.before.len(),
                    c.split.after.len()
                );
                for (side, run) in [("last before", c.before), ("first after", c.after)] {
                    let _ = writeln!(
                        out,
                        "      {side}: {}  {}  {}",
                        run.started_at,
                        run.run_id,
                        labels(run)
                    );
                }
                if c.before.plan_fingerprint != c.after.plan_fingerprint {
                    let _ = writeln!(
                        out,
                        "      the plan changed here (fingerprint {} → {})",
                        c.before.plan_fingerprint, c.after.plan_fingerprint
                    );
                }
            }
        }
        out.push('\n');
    }
    out
}

/// `history --changes --format json`: every series and figure with its change points.
pub fn json(runs: &[StoredRun], figures: &[Figure], any_host: bool, settings: &Settings) -> String {
    let run_json = |run: &StoredRun| {
        json!({
            "run_id": run.run_id,
            "started_at": run.started_at,
            "plan_fingerprint": run.plan_fingerprint,
            "labels": run.labels,
        })
    };
    let all: Vec<serde_json::Value> = series(runs, any_host)
        .iter()
        .map(|s| {
            let figures: Vec<serde_json::Value> = figures
                .iter()
                .map(|f| {
                    let changes: Vec<serde_json::Value> = s
                        .changes(*f, settings)
                        .iter()
                        .map(|c| {
                            json!({
                                "index": c.split.index,
                                "p_value": c.split.p_value,
                                "mean_before": c.split.mean_before,
                                "mean_after": c.split.mean_after,
                                "step": c.split.step(),
                                "relative_step": c.split.relative_step(),
                                "worse": c.worse(),
                                "runs_before": c.split.before.len(),
                                "runs_after": c.split.after.len(),
                                "before": run_json(c.before),
                                "after": run_json(c.after),
                            })
                        })
                        .collect();
                    json!({
                        "figure": figure_key(*f),
                        "runs": s.values(*f).len(),
                        "changes": changes,
                    })
                })
                .collect();
            json!({
                "plan": s.plan,
                "layout": s.layout,
                "host_fingerprint": s.host_fingerprint,
                "hosts": s.hosts(),
                "runs": s.points.len(),
                "figures": figures,
            })
        })
        .collect();
    let doc = json!({
        "significance": settings.level,
        "window": settings.window,
        "series": all,
    });
    serde_json::to_string_pretty(&doc).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}")) + "\n"
}

/// `compare --baseline since-change`: of one figure's values (oldest first), the index the
/// baseline starts at (just after the last change point; 0 without one) and that change point.
pub fn since_last_change(values: &[f64], settings: &Settings) -> (usize, Option<Split>) {
    let last = edivisive::change_points(values, settings).pop();
    (last.as_ref().map_or(0, |s| s.index), last)
}

#[cfg(test)]
mod tests;
