//! A trend chart: one figure over a history's runs, each run a point linking to its report, the
//! level between change points drawn as a line, each change point marked and each threshold
//! drawn as a limit line. Knows nothing of the store: the history page fills a [`Trend`].

use std::fmt::Write as _;

use super::svg::{esc, nice_ticks, Scale, Svg};

/// One run of the trend.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Not measured: no point.
    pub value: Option<f64>,
    /// A run not to be trusted (its layout not `ok`): drawn hollow, never part of a level.
    pub trusted: bool,
    pub tip: String,
    pub href: String,
}

/// A change point: between the point `at − 1` and the point `at`.
#[derive(Debug, Clone, PartialEq)]
pub struct Mark {
    pub at: usize,
    pub label: String,
    /// For the worse (drawn red) or the better (green).
    pub worse: bool,
}

/// The mean of the trusted points from `from` to `to` (inclusive), between change points.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Level {
    pub from: usize,
    pub to: usize,
    pub mean: f64,
}

/// A threshold's limit: a horizontal line.
#[derive(Debug, Clone, PartialEq)]
pub struct Limit {
    pub value: f64,
    pub label: String,
}

/// What one chart shows.
pub struct Trend<'a> {
    /// The chart's accessible name.
    pub title: &'a str,
    pub points: &'a [Point],
    pub levels: &'a [Level],
    pub marks: &'a [Mark],
    pub limits: &'a [Limit],
    /// A value on the axis.
    pub show: &'a dyn Fn(f64) -> String,
    /// Under the first and the last point (their start times).
    pub first: &'a str,
    pub last: &'a str,
}

impl std::fmt::Debug for Trend<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trend")
            .field("title", &self.title)
            .field("points", &self.points.len())
            .finish_non_exhaustive()
    }
}

/// The classes the chart uses, for the page's stylesheet.
pub const STYLE: &str = ".axis{stroke:#999}.grid{stroke:#eee}.trend{fill:none;stroke:#0072B2;stroke-width:1.5}\
.point{fill:#0072B2}.point:hover{fill:#D55E00}.untrusted{fill:#fff;stroke:#999;stroke-width:1.5}\
.level{stroke:#555;stroke-width:2;stroke-dasharray:6 3}.limit{stroke:#E69F00;stroke-width:1.5;stroke-dasharray:2 2}\
.limit-label{fill:#A36A00}.change-worse{stroke:#D55E00;stroke-width:2}.change-better{stroke:#009E73;stroke-width:2}\
.mark-worse{fill:#D55E00;font-weight:bold}.mark-better{fill:#009E73;font-weight:bold}";

/// The chart as SVG.
pub fn chart(t: &Trend<'_>) -> String {
    let (width, height, left, bottom, top, right) = (760.0, 240.0, 90.0, 30.0, 22.0, 16.0);
    let values = t.points.iter().filter_map(|p| p.value);
    let max = values
        .chain(t.limits.iter().map(|l| l.value))
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let ticks = nice_ticks(max * 1.05, 4);
    let y = Scale {
        d0: 0.0,
        d1: ticks.last().copied().unwrap_or(1.0),
        p0: height - bottom,
        p1: top,
    };
    let x = Scale {
        d0: 0.0,
        d1: (t.points.len().max(2) - 1) as f64,
        p0: left + 8.0,
        p1: width - right - 8.0,
    };
    let mut svg = Svg::new(width, height, t.title);
    for tick in &ticks {
        svg.line((left, y.at(*tick)), (width - right, y.at(*tick)), "grid");
        svg.text((left - 6.0, y.at(*tick) + 4.0), "end", "", &(t.show)(*tick));
    }
    svg.line(
        (left, height - bottom),
        (width - right, height - bottom),
        "axis",
    );
    svg.line((left, top), (left, height - bottom), "axis");
    for limit in t.limits {
        let at = y.at(limit.value);
        svg.line((left, at), (width - right, at), "limit");
        svg.text(
            (width - right - 2.0, at - 4.0),
            "end",
            "limit-label",
            &limit.label,
        );
    }
    for level in t.levels {
        let at = y.at(level.mean);
        svg.line(
            (x.at(level.from as f64) - 4.0, at),
            (x.at(level.to as f64) + 4.0, at),
            "level",
        );
    }
    for mark in t.marks {
        let at = (x.at(mark.at as f64) + x.at(mark.at.saturating_sub(1) as f64)) / 2.0;
        let (line, text) = if mark.worse {
            ("change-worse", "mark-worse")
        } else {
            ("change-better", "mark-better")
        };
        svg.line((at, top), (at, height - bottom), line);
        svg.text((at + 3.0, top - 8.0), "start", text, &mark.label);
    }
    let trend: Vec<(f64, f64)> = t
        .points
        .iter()
        .enumerate()
        .filter(|(_, p)| p.trusted)
        .filter_map(|(i, p)| p.value.map(|v| (x.at(i as f64), y.at(v))))
        .collect();
    svg.polyline(&trend, "trend", "");
    for (i, p) in t.points.iter().enumerate() {
        let Some(v) = p.value else { continue };
        let mut circle = String::new();
        let _ = write!(
            circle,
            r#"<a href="{}"><circle cx="{:.1}" cy="{:.1}" r="4" class="{}"><title>{}</title></circle></a>"#,
            esc(&p.href),
            x.at(i as f64),
            y.at(v),
            if p.trusted { "point" } else { "untrusted" },
            esc(&p.tip)
        );
        svg.raw(&circle);
    }
    svg.text((left, height - 8.0), "start", "", t.first);
    svg.text((width - right, height - 8.0), "end", "", t.last);
    svg.finish() + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_levels_and_limits_are_drawn_where_they_belong() {
        let points: Vec<Point> = (0..6)
            .map(|i| Point {
                value: Some(if i < 3 { 10.0 } else { 20.0 }),
                trusted: i != 4,
                tip: format!("run {i} <b>"),
                href: format!("runs/{i}.html"),
            })
            .collect();
        let svg = chart(&Trend {
            title: "p99 of single",
            points: &points,
            levels: &[
                Level {
                    from: 0,
                    to: 2,
                    mean: 10.0,
                },
                Level {
                    from: 3,
                    to: 5,
                    mean: 20.0,
                },
            ],
            marks: &[Mark {
                at: 3,
                label: "+100%".into(),
                worse: true,
            }],
            limits: &[Limit {
                value: 25.0,
                label: "p99 < 25".into(),
            }],
            show: &|v| format!("{v}"),
            first: "first",
            last: "last",
        });
        assert_eq!(svg.matches(r#"class="point""#).count(), 5);
        assert_eq!(svg.matches(r#"class="untrusted""#).count(), 1);
        assert_eq!(svg.matches(r#"class="level""#).count(), 2);
        assert_eq!(svg.matches(r#"class="change-worse""#).count(), 1);
        assert!(svg.contains(">+100%</text>") && svg.contains(">p99 &lt; 25</text>"));
        assert!(svg.contains("run 0 &lt;b&gt;"), "tips are escaped");
        assert!(svg.contains(r#"<a href="runs/5.html">"#));
    }
}
