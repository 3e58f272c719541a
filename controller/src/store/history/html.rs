//! The HTML history: one self-contained page (inline CSS, inline SVG, no script, nothing
//! fetched), a trend chart per plan and layout with every run a point linking to its full
//! report, and a table of the runs below each chart.

use std::fmt::Write as _;

use crate::compare::Figure;
use crate::report::html::svg::{esc, nice_ticks, Scale, Svg};

use super::{labels_text, series, Series};
use crate::store::record::StoredRun;

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse;font-size:0.9em}td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:left}\
td.n{text-align:right}.axis{stroke:#999}.grid{stroke:#eee}.trend{fill:none;stroke:#0072B2;stroke-width:1.5}\
.point{fill:#0072B2}.point:hover{fill:#D55E00}text{font-size:11px;fill:#555}";

/// The page; `link(run_id)` is where each run's full report is (relative to the page).
pub fn render(runs: &[StoredRun], figure: Figure, link: &dyn Fn(&str) -> String) -> String {
    let mut out = String::new();
    let title = format!("numaload history: {}", figure.name());
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
         <title>{}</title><style>{STYLE}</style></head><body><main>\n<h1>{}</h1>\n",
        esc(&title),
        esc(&title)
    );
    if runs.is_empty() {
        out.push_str("<p>No stored runs match.</p>\n");
    }
    for s in series(runs) {
        let _ = writeln!(
            out,
            "<section><h2>plan \"{}\" · layout \"{}\"</h2>",
            esc(s.plan),
            esc(s.layout)
        );
        out.push_str(&chart(&s, figure, link));
        out.push_str(&table(&s, figure, link));
        out.push_str("</section>\n");
    }
    out.push_str("</main></body></html>\n");
    out
}

fn chart(s: &Series<'_>, figure: Figure, link: &dyn Fn(&str) -> String) -> String {
    let (width, height, left, bottom, top, right) = (760.0, 240.0, 90.0, 30.0, 12.0, 16.0);
    let values: Vec<Option<f64>> = s.points.iter().map(|(_, l)| l.figure(figure)).collect();
    let max = values.iter().flatten().copied().fold(0.0, f64::max);
    let ticks = nice_ticks(max, 4);
    let top_value = ticks.last().copied().unwrap_or(1.0);
    let y = Scale {
        d0: 0.0,
        d1: top_value,
        p0: height - bottom,
        p1: top,
    };
    let last = (s.points.len().max(2) - 1) as f64;
    let x = Scale {
        d0: 0.0,
        d1: last,
        p0: left,
        p1: width - right,
    };
    let mut svg = Svg::new(
        width,
        height,
        &format!(
            "{} of layout {} over {} runs",
            figure.name(),
            s.layout,
            s.points.len()
        ),
    );
    for t in &ticks {
        svg.line((left, y.at(*t)), (width - right, y.at(*t)), "grid");
        svg.text((left - 6.0, y.at(*t) + 4.0), "end", "", &figure.show(*t));
    }
    svg.line(
        (left, height - bottom),
        (width - right, height - bottom),
        "axis",
    );
    svg.line((left, top), (left, height - bottom), "axis");
    let points: Vec<(f64, f64)> = values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.map(|v| (x.at(i as f64), y.at(v))))
        .collect();
    svg.polyline(&points, "trend", "");
    for (i, ((run, _), v)) in s.points.iter().zip(&values).enumerate() {
        let Some(v) = v else { continue };
        let tip = format!(
            "{} · {} · {} {}",
            run.started_at,
            run.run_id,
            figure.show(*v),
            labels_text(run)
        );
        svg.raw(&format!(
            r#"<a href="{}"><circle cx="{:.1}" cy="{:.1}" r="4" class="point"><title>{}</title></circle></a>"#,
            esc(&link(&run.run_id)),
            x.at(i as f64),
            y.at(*v),
            esc(&tip)
        ));
    }
    if let (Some((first, _)), Some((newest, _))) = (s.points.first(), s.points.last()) {
        svg.text((left, height - 8.0), "start", "", &first.started_at);
        svg.text((width - right, height - 8.0), "end", "", &newest.started_at);
    }
    svg.finish() + "\n"
}

fn table(s: &Series<'_>, figure: Figure, link: &dyn Fn(&str) -> String) -> String {
    let mut out = format!(
        "<table><tr><th>started</th><th>run</th><th>{}</th><th>hosts</th><th>labels</th></tr>\n",
        esc(figure.name())
    );
    for (run, l) in &s.points {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td><a href=\"{}\">{}</a></td><td class=\"n\">{}</td><td>{}</td><td>{}</td></tr>",
            esc(&run.started_at),
            esc(&link(&run.run_id)),
            esc(&run.run_id),
            l.figure(figure).map_or_else(|| "-".to_owned(), |v| esc(&figure.show(v))),
            esc(&run.hosts.join(", ")),
            esc(&labels_text(run)),
        );
    }
    out.push_str("</table>\n");
    out
}
