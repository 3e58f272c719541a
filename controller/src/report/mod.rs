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

    /// A setup row with too few connections for its p99 and p99.9 says so, and every row of
    /// the latency block, header included, keeps its columns aligned with it.
    #[test]
    fn the_text_latency_block_stays_aligned_when_a_percentile_has_too_few_samples() {
        use crate::result::{ConnectionSetup, Percentiles};
        let mut result: RunResult =
            serde_json::from_str(include_str!("../../tests/fixtures/quickstart-result.json"))
                .expect("fixture");
        let few = Percentiles {
            count: 64,
            p50: 5_170_000,
            p90: 5_200_000,
            p99: 5_240_000,
            p999: 5_240_000,
            max: 5_240_000,
            ..Percentiles::default()
        };
        result.layouts[0].connection_setup = Some(ConnectionSetup {
            connections: 64,
            connect_ns: few.clone(),
            tls_handshake_ns: None,
            tls_resumed: 0,
            first_byte_ns: few,
        });
        let text = render(&result, Format::Text);
        let block: Vec<&str> = text
            .lines()
            .skip_while(|line| !line.starts_with("  latency "))
            .take_while(|line| !line.starts_with("  connections "))
            .filter(|line| !line.contains(summary::AT_LEAST_MEANS))
            .collect();
        assert!(
            block.iter().any(|line| line.starts_with("  connect ")
                && line.contains(pct::TOO_FEW)
                && line.ends_with("5.24 ms")),
            "{text}"
        );
        let widths: Vec<usize> = block.iter().map(|line| line.chars().count()).collect();
        assert!(
            block.len() >= 4 && widths.iter().all(|w| *w == widths[0]),
            "rows of unequal width {widths:?}:\n{}",
            block.join("\n")
        );
    }

    /// The connections' setup, the TLS handshakes resumed and the gRPC calls per code: every
    /// format shows the same figures (the human ones as durations, the CSV in nanoseconds).
    #[test]
    fn setup_and_grpc_status_figures_agree_in_every_format() {
        use crate::result::{ConnectionSetup, Percentiles};
        let mut result: RunResult =
            serde_json::from_str(include_str!("../../tests/fixtures/quickstart-result.json"))
                .expect("fixture");
        let figures = |count: u64, p50: u64, p99: u64, p999: u64, max: u64| Percentiles {
            count,
            p50,
            p90: p99,
            p99,
            p999,
            max,
            ..Percentiles::default()
        };
        let l = &mut result.layouts[0];
        l.connection_setup = Some(ConnectionSetup {
            connections: 2_000,
            connect_ns: figures(2_000, 41_000, 97_000, 130_000, 150_000),
            tls_handshake_ns: Some(figures(2_000, 812_000, 1_930_000, 2_410_000, 2_600_000)),
            tls_resumed: 1_500,
            first_byte_ns: figures(2_000, 1_320_000, 3_070_000, 4_440_000, 5_210_000),
        });
        l.grpc_status_codes.insert("0".into(), 9_870);
        l.grpc_status_codes.insert("5".into(), 12);
        let human = [
            "41.0 µs",
            "97.0 µs",
            "130.0 µs",
            "150.0 µs",
            "812.0 µs",
            "1.93 ms",
            "2.41 ms",
            "2.60 ms",
            "1.32 ms",
            "3.07 ms",
            "4.44 ms",
            "5.21 ms",
            "2,000 opened during the load",
            "TLS 2,000 handshakes, 1,500 resumed (75.0%)",
            "0 ×9,870, 5 ×12",
        ];
        for format in [Format::Text, Format::Markdown, Format::Html] {
            let shown = render(&result, format);
            for figure in human {
                assert!(
                    shown.contains(figure),
                    "{format:?} lacks {figure:?}:\n{shown}"
                );
            }
        }
        let csv = render(&result, Format::Csv);
        let rows: Vec<Vec<&str>> = csv.lines().map(|l| l.split(',').collect()).collect();
        let column = |name: &str| {
            let i = rows[0].iter().position(|c| *c == name).expect(name);
            rows[1][i].to_owned()
        };
        for (name, value) in [
            ("connect_count", "2000"),
            ("connect_p50_ns", "41000"),
            ("connect_p99_ns", "97000"),
            ("connect_p999_ns", "130000"),
            ("connect_max_ns", "150000"),
            ("tls_handshake_count", "2000"),
            ("tls_handshake_p50_ns", "812000"),
            ("tls_handshake_p99_ns", "1930000"),
            ("tls_handshake_p999_ns", "2410000"),
            ("tls_handshake_max_ns", "2600000"),
            ("tls_resumed", "1500"),
            ("first_byte_p50_ns", "1320000"),
            ("first_byte_p99_ns", "3070000"),
            ("first_byte_p999_ns", "4440000"),
            ("first_byte_max_ns", "5210000"),
            ("grpc_status_0", "9870"),
            ("grpc_status_5", "12"),
            ("grpc_status_2", "0"),
        ] {
            assert_eq!(column(name), value, "{name}");
        }
        let json: serde_json::Value =
            serde_json::from_str(&render(&result, Format::Json)).expect("json");
        let setup = &json["layouts"][0]["connection_setup"];
        assert_eq!(setup["tls_handshake_ns"]["p99"], 1_930_000);
        assert_eq!(setup["tls_resumed"], 1_500);
        assert_eq!(json["layouts"][0]["grpc_status_codes"]["5"], 12);
    }
}
