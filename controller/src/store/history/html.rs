//! The HTML history: one self-contained page (inline CSS, inline SVG, no script, nothing
//! fetched). Per history series (a plan's layout on one set of hosts, or any host: see
//! [`changes`]), a trend chart of each figure over its runs
//! ([`crate::report::html::trend`]): every run a point linking to its full report (hollow when
//! the layout was not `ok`), the level between change points, each change point marked with
//! its step, the plan's thresholds on the figure as limit lines; the change points listed below
//! each chart, and a table of the runs below the charts.

use std::fmt::Write as _;

use crate::compare::Figure;
use crate::plan::{Metric, Thresholds};
use crate::report::html::svg::esc;
use crate::report::html::trend::{self, Level, Limit, Mark, Point, Trend};
use crate::result::LayoutStatus;

use super::labels_text;
use crate::store::changes::{self, Change, Series, Settings};
use crate::store::record::StoredRun;

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse;font-size:0.9em}td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:left}\
td.n{text-align:right}text{font-size:11px;fill:#555}h3{font-size:1em;margin:1.2em 0 0.2em}\
ul.changes{margin:0.2em 0 1em;font-size:0.9em}.worse{color:#B34700}.better{color:#00795A}";

/// What the page shows and where it links.
pub struct Page<'a> {
    /// The figures charted, in order.
    pub figures: &'a [Figure],
    /// One series over every host (`--any-host`).
    pub any_host: bool,
    pub settings: Settings,
    /// Where each run's full report is (relative to the page), by run id.
    pub link: &'a dyn Fn(&str) -> String,
    /// The plan's thresholds of a run, by run id (the newest run's are drawn).
    pub thresholds: &'a dyn Fn(&str) -> Option<&'a Thresholds>,
}

impl std::fmt::Debug for Page<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Page")
            .field("figures", &self.figures)
            .field("any_host", &self.any_host)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// The page.
pub fn render(runs: &[StoredRun], page: &Page<'_>) -> String {
    let mut out = String::new();
    let title = "numaload history";
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
         <title>{title}</title><style>{STYLE}{}</style></head><body><main>\n<h1>{title}</h1>\n",
        trend::STYLE
    );
    if runs.is_empty() {
        out.push_str("<p>No stored runs match.</p>\n");
    } else {
        let _ = writeln!(
            out,
            "<p>Change points: E-Divisive means, permutation test at significance {}, window {} \
             runs, over the runs in which the layout was ok (hollow points were not: never a \
             baseline). Dashed grey: the level between change points; dotted orange: the plan's \
             thresholds.</p>",
            page.settings.level, page.settings.window
        );
    }
    for s in changes::series(runs, page.any_host) {
        let _ = writeln!(out, "<section><h2>{}</h2>", esc(&changes::title(&s)));
        for figure in page.figures {
            out.push_str(&figure_chart(&s, *figure, page));
        }
        out.push_str(&table(&s, page));
        out.push_str("</section>\n");
    }
    out.push_str("</main></body></html>\n");
    out
}

/// The threshold metric of a figure.
fn metric(figure: Figure) -> Metric {
    match figure {
        Figure::Throughput => Metric::Throughput,
        Figure::P50 => Metric::P50,
        Figure::P99 => Metric::P99,
        Figure::P999 => Metric::P999,
        Figure::ErrorRate => Metric::ErrorRate,
    }
}

fn figure_chart(s: &Series<'_>, figure: Figure, page: &Page<'_>) -> String {
    let found = s.changes(figure, &page.settings);
    let values = s.values(figure);
    // Where each `ok` value's run is among the series' points.
    let position = |run: &StoredRun| {
        s.points
            .iter()
            .position(|(r, _)| std::ptr::eq(*r, run))
            .unwrap_or(0)
    };
    let points: Vec<Point> = s
        .points
        .iter()
        .map(|(run, l)| {
            let value = l.figure(figure);
            let shown = value.map_or_else(|| "not measured".to_owned(), |v| figure.show(v));
            Point {
                value,
                trusted: l.status == LayoutStatus::Ok,
                tip: format!(
                    "{} · {} · {shown} · {} {}",
                    run.started_at,
                    run.run_id,
                    l.status,
                    labels_text(run)
                ),
                href: (page.link)(&run.run_id),
            }
        })
        .collect();
    let mut bounds: Vec<usize> = vec![0];
    bounds.extend(found.iter().map(|c| c.split.index));
    bounds.push(values.len());
    let levels: Vec<Level> = bounds
        .windows(2)
        .filter(|b| b[1] > b[0])
        .map(|b| Level {
            from: position(values[b[0]].0),
            to: position(values[b[1] - 1].0),
            mean: crate::stats::mean(
                &values[b[0]..b[1]]
                    .iter()
                    .map(|(_, v)| *v)
                    .collect::<Vec<_>>(),
            ),
        })
        .collect();
    let marks: Vec<Mark> = found
        .iter()
        .map(|c| Mark {
            at: position(c.after),
            label: c.step_text(),
            worse: c.worse(),
        })
        .collect();
    let newest = s.points.last().map(|(run, _)| run.run_id.as_str());
    let limits: Vec<Limit> = newest
        .and_then(|id| (page.thresholds)(id))
        .map(|t| t.for_layout(s.layout))
        .unwrap_or_default()
        .into_iter()
        .filter(|(t, _)| t.metric == metric(figure) && t.limit.is_finite())
        .map(|(t, _)| Limit {
            value: t.limit,
            label: t.to_string(),
        })
        .collect();
    let title = format!(
        "{} of layout {} over {} runs, {} change point(s)",
        figure.name(),
        s.layout,
        s.points.len(),
        found.len()
    );
    let first = s.points.first().map_or("", |(r, _)| r.started_at.as_str());
    let last = s.points.last().map_or("", |(r, _)| r.started_at.as_str());
    let mut out = format!(
        "<h3>{} · {} change point(s)</h3>\n",
        esc(figure.name()),
        found.len()
    );
    out.push_str(&trend::chart(&Trend {
        title: &title,
        points: &points,
        levels: &levels,
        marks: &marks,
        limits: &limits,
        show: &|v| figure.show(v),
        first,
        last,
    }));
    out.push_str(&change_list(&found, values.len(), page));
    out
}

fn change_list(found: &[Change<'_>], runs: usize, page: &Page<'_>) -> String {
    if found.is_empty() {
        return String::new();
    }
    let mut out = String::from("<ul class=\"changes\">\n");
    for c in found {
        let run = |r: &StoredRun| {
            format!(
                "<a href=\"{}\">{}</a> ({}{}{})",
                esc(&(page.link)(&r.run_id)),
                esc(&r.run_id),
                esc(&r.started_at),
                if r.labels.is_empty() { "" } else { ", " },
                esc(&labels_text(r))
            )
        };
        let _ = writeln!(
            out,
            "<li><span class=\"{}\">{}</span> at run {} of {runs}: {} → {}, {}; last before {}, \
             first after {}</li>",
            if c.worse() { "worse" } else { "better" },
            esc(&c.step_text()),
            c.split.index + 1,
            esc(&c.figure.show(c.split.mean_before)),
            esc(&c.figure.show(c.split.mean_after)),
            esc(&changes::p_text(c.split.p_value)),
            run(c.before),
            run(c.after),
        );
    }
    out.push_str("</ul>\n");
    out
}

fn table(s: &Series<'_>, page: &Page<'_>) -> String {
    let mut out = String::from("<table><tr><th>started</th><th>run</th><th>status</th>");
    for figure in page.figures {
        let _ = write!(out, "<th>{}</th>", esc(figure.name()));
    }
    out.push_str("<th>hosts</th><th>labels</th></tr>\n");
    for (run, l) in &s.points {
        let _ = write!(
            out,
            "<tr><td>{}</td><td><a href=\"{}\">{}</a></td><td>{}</td>",
            esc(&run.started_at),
            esc(&(page.link)(&run.run_id)),
            esc(&run.run_id),
            l.status
        );
        for figure in page.figures {
            let _ = write!(
                out,
                "<td class=\"n\">{}</td>",
                l.figure(*figure)
                    .map_or_else(|| "-".to_owned(), |v| esc(&figure.show(v)))
            );
        }
        let _ = writeln!(
            out,
            "<td>{}</td><td>{}</td></tr>",
            esc(&run.hosts.join(", ")),
            esc(&labels_text(run)),
        );
    }
    out.push_str("</table>\n");
    out
}
