//! A few SVG primitives and scales, enough for the report's charts. Every piece of text goes
//! through [`esc`]; styling is by class, from the page's stylesheet.

use std::fmt::Write as _;

/// Escapes text for HTML/SVG content and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// An SVG element being drawn; [`Svg::finish`] closes it.
#[derive(Debug)]
pub struct Svg {
    out: String,
}

impl Svg {
    /// A `width`×`height` drawing; `label` is its accessible name.
    pub fn new(width: f64, height: f64, label: &str) -> Svg {
        let mut out = String::new();
        let _ = write!(
            out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" aria-label="{}">"#,
            esc(label)
        );
        Svg { out }
    }

    pub fn line(&mut self, (x1, y1): (f64, f64), (x2, y2): (f64, f64), class: &str) {
        let _ = write!(
            self.out,
            r#"<line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" class="{class}"/>"#
        );
    }

    pub fn polyline(&mut self, points: &[(f64, f64)], class: &str, style: &str) {
        if points.is_empty() {
            return;
        }
        let coords: Vec<String> = points
            .iter()
            .map(|(x, y)| format!("{x:.1},{y:.1}"))
            .collect();
        let _ = write!(
            self.out,
            r#"<polyline points="{}" class="{class}" style="{}"/>"#,
            coords.join(" "),
            esc(style)
        );
    }

    /// A rectangle; `tip` shows on hover (the page's script) and as a native tooltip.
    pub fn rect(&mut self, (x, y): (f64, f64), (w, h): (f64, f64), class: &str, tip: &str) {
        let _ = write!(
            self.out,
            r#"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" class="{class}""#,
            w.max(0.0),
            h.max(0.0)
        );
        self.tip_and_close("rect", tip);
    }

    /// A rectangle filled with an explicit colour (palette colours are data, not classes).
    pub fn rect_filled(
        &mut self,
        (x, y): (f64, f64),
        (w, h): (f64, f64),
        class: &str,
        fill: &str,
        tip: &str,
    ) {
        let _ = write!(
            self.out,
            r#"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" class="{class}" style="fill:{}""#,
            w.max(0.0),
            h.max(0.0),
            esc(fill)
        );
        self.tip_and_close("rect", tip);
    }

    pub fn circle(&mut self, (cx, cy): (f64, f64), r: f64, class: &str, tip: &str) {
        let _ = write!(
            self.out,
            r#"<circle cx="{cx:.1}" cy="{cy:.1}" r="{r}" class="{class}""#
        );
        self.tip_and_close("circle", tip);
    }

    fn tip_and_close(&mut self, element: &str, tip: &str) {
        if tip.is_empty() {
            self.out.push_str("/>");
        } else {
            let tip = esc(tip);
            let _ = write!(
                self.out,
                r#" data-tip="{tip}"><title>{tip}</title></{element}>"#
            );
        }
    }

    /// Text; `anchor` is `start`, `middle` or `end`.
    pub fn text(&mut self, (x, y): (f64, f64), anchor: &str, class: &str, text: &str) {
        let _ = write!(
            self.out,
            r#"<text x="{x:.1}" y="{y:.1}" text-anchor="{anchor}" class="{class}">{}</text>"#,
            esc(text)
        );
    }

    /// Raw markup the caller built safely (groups, transforms).
    pub fn raw(&mut self, markup: &str) {
        self.out.push_str(markup);
    }

    pub fn finish(mut self) -> String {
        self.out.push_str("</svg>");
        self.out
    }
}

/// A linear map from a data interval onto a pixel interval.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    pub d0: f64,
    pub d1: f64,
    pub p0: f64,
    pub p1: f64,
}

impl Scale {
    pub fn at(&self, value: f64) -> f64 {
        let span = self.d1 - self.d0;
        if span == 0.0 {
            return self.p0;
        }
        self.p0 + (value - self.d0) / span * (self.p1 - self.p0)
    }
}

/// Round tick values from 0 up to at least `max`: steps of 1, 2, 2.5 or 5 × 10^k, about
/// `target` of them.
pub fn nice_ticks(max: f64, target: usize) -> Vec<f64> {
    if !max.is_finite() || max <= 0.0 {
        return vec![0.0, 1.0];
    }
    let raw = max / target.max(1) as f64;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    let count = (max / step).ceil() as usize;
    (0..=count.max(1)).map(|i| i as f64 * step).collect()
}

/// Distinct colours for replicas (colour-blind friendly, Okabe–Ito without the orange the load
/// generator uses).
pub const PALETTE: [&str; 6] = [
    "#0072B2", "#009E73", "#CC79A7", "#56B4E9", "#F0E442", "#000000",
];

pub fn palette(index: usize) -> &'static str {
    PALETTE[index % PALETTE.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc(r#"<img src=x onerror="a('b')">&"#),
            "&lt;img src=x onerror=&quot;a(&#39;b&#39;)&quot;&gt;&amp;"
        );
    }

    #[test]
    fn ticks_are_round_and_cover_the_maximum() {
        let cases: [(f64, usize, &[f64]); 4] = [
            (10.0, 5, &[0.0, 2.0, 4.0, 6.0, 8.0, 10.0]),
            (903.0, 4, &[0.0, 250.0, 500.0, 750.0, 1000.0]),
            (3.0, 5, &[0.0, 1.0, 2.0, 3.0]),
            (0.0, 5, &[0.0, 1.0]),
        ];
        for (max, target, expected) in cases {
            assert_eq!(nice_ticks(max, target), expected, "max {max}");
        }
    }

    #[test]
    fn scales_map_linearly() {
        let s = Scale {
            d0: 0.0,
            d1: 10.0,
            p0: 100.0,
            p1: 0.0,
        };
        assert_eq!(s.at(0.0), 100.0);
        assert_eq!(s.at(5.0), 50.0);
        assert_eq!(s.at(10.0), 0.0);
    }
}
