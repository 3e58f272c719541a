//! Reports rendered from a [`RunResult`] alone: pure functions from a result to text, one module
//! per [`Format`], each with `fn render(&RunResult) -> String`.
//!
//! Every report leads with the answer ([`verdict`]) and then says what the reader should be
//! careful about ([`caveats`]): suspect, incomplete, degraded and failed layouts, placement
//! mismatches, a cancelled run, percentiles read from too few samples (shown as "n/a (too
//! few)", never as a number: [`pct`]). [`summary`] holds what every format says the same way:
//! each layout's status word (the result's `LayoutStatus`, never "ok" over a reason not to trust
//! it), how much of its load was delivered, and latency figures that are lower bounds (requests
//! never answered) shown as "≥ 3.90 s"; [`service`] what the service under test did besides its
//! latency, [`stages`] the load's shape and each stage's figures, [`lines`] the load workers'
//! and cgroups' lines, [`thresholds`] the plan's
//! `[thresholds]` checked. [`brief`] is the result in brief as JSON, for `run --json`.

pub mod brief;
pub mod caveats;
pub mod csv;
pub mod fleet;
pub mod html;
pub mod json;
pub mod lines;
pub mod markdown;
pub mod pct;
pub mod service;
pub mod stages;
pub mod summary;
pub mod text;
pub mod thresholds;
pub mod verdict;

use crate::result::RunResult;

/// The output formats of `numaload report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Markdown,
    Html,
    Json,
    Csv,
}

impl Format {
    /// Every format, with the name `--format` takes.
    pub const ALL: [(&'static str, Format); 5] = [
        ("text", Format::Text),
        ("markdown", Format::Markdown),
        ("html", Format::Html),
        ("json", Format::Json),
        ("csv", Format::Csv),
    ];

    /// `"md"` is accepted for Markdown.
    pub fn from_name(name: &str) -> Option<Format> {
        let name = name.to_ascii_lowercase();
        if name == "md" {
            return Some(Format::Markdown);
        }
        Format::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, format)| *format)
    }
}

pub use crate::units::{duration_ns, thousands};

/// Renders `result` in `format`.
pub fn render(result: &RunResult, format: Format) -> String {
    match format {
        Format::Text => text::render(result),
        Format::Markdown => markdown::render(result),
        Format::Html => html::render(result),
        Format::Json => json::render(result),
        Format::Csv => csv::render(result),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_numbers_for_people() {
        assert_eq!(duration_ns(850), "850 ns");
        assert_eq!(duration_ns(81_234), "81.2 µs");
        assert_eq!(duration_ns(1_234_567), "1.23 ms");
        assert_eq!(duration_ns(2_500_000_000), "2.50 s");
        assert_eq!(thousands(0.4), "0");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(1_234_567.8), "1,234,568");
        assert_eq!(thousands(-1000.0), "-1,000");
    }

    #[test]
    fn format_names() {
        let cases = [
            ("text", Some(Format::Text)),
            ("markdown", Some(Format::Markdown)),
            ("md", Some(Format::Markdown)),
            ("HTML", Some(Format::Html)),
            ("json", Some(Format::Json)),
            ("csv", Some(Format::Csv)),
            ("pdf", None),
        ];
        for (name, expected) in cases {
            assert_eq!(Format::from_name(name), expected, "{name}");
        }
    }
}
