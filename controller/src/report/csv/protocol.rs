//! The CSV columns of what a layout's protocol did, after the latency and delivery columns: the
//! connections' setup (connect, TLS handshake, first byte: a count and the percentiles the text
//! report shows, and the resumed handshakes), the HTTP/2 counters, the errors by kind, and the
//! gRPC calls per `grpc-status` code, one numeric column each so that a spreadsheet can sum
//! and chart them; an agent's row (`--per-agent`) has its own setup, gRPC calls per code and
//! errors by kind (the layout's columns of the same names, its errors last: columns are only
//! added at the end).
//! A cell is empty when the layout has nothing to say there (not measured, no connection timed,
//! no TLS, no gRPC), never a 0 that would read as measured.

use crate::report::pct::Pct;
use std::collections::BTreeMap;

use crate::result::{AgentLayoutResult, ConnectionSetup, ErrorKinds, LayoutResult, Percentiles};

/// The setup histograms, each a group of columns `NAME_count`, `NAME_p50_ns`, ... `NAME_max_ns`.
const SETUP: [&str; 3] = ["connect", "tls_handshake", "first_byte"];

/// The percentiles of a setup group, as the text report shows them.
const SETUP_PERCENTILES: [Pct; 4] = [Pct::P50, Pct::P99, Pct::P999, Pct::Max];

/// The largest status code gRPC defines (16, `UNAUTHENTICATED`); the agent counts a response
/// without a valid one as 2 (`UNKNOWN`), so every call is in one of the columns 0 to this.
pub const GRPC_MAX_CODE: u32 = 16;

/// The header of these columns, in order.
pub fn columns() -> Vec<String> {
    let mut out = setup_columns();
    out.extend(["goaways", "flow_blocked"].map(str::to_owned));
    out.extend(error_columns());
    out.extend(grpc_columns());
    out
}

/// The columns an agent's row adds (`--per-agent`): its own setup, gRPC calls per code and
/// errors by kind.
pub fn agent_columns() -> Vec<String> {
    let mut out = setup_columns();
    out.extend(grpc_columns());
    out.extend(error_columns());
    out
}

/// `errors_connect` to `errors_stream_reset`, in [`ErrorKinds::by_kind`]'s order.
fn error_columns() -> impl Iterator<Item = String> {
    ErrorKinds::default()
        .by_kind()
        .map(|(kind, _)| format!("errors_{}", kind.replace(' ', "_")))
        .into_iter()
}

/// The setup groups, then `tls_resumed`.
fn setup_columns() -> Vec<String> {
    let mut out = Vec::new();
    for name in SETUP {
        out.push(format!("{name}_count"));
        out.extend(
            SETUP_PERCENTILES
                .iter()
                .map(|pct| format!("{name}_{}_ns", pct.field())),
        );
    }
    out.push("tls_resumed".to_owned());
    out
}

/// `grpc_status_0` to `grpc_status_16`.
fn grpc_columns() -> Vec<String> {
    (0..=GRPC_MAX_CODE)
        .map(|code| format!("grpc_status_{code}"))
        .collect()
}

/// A layout's cells of [`columns`].
pub fn cells(l: &LayoutResult) -> Vec<String> {
    let measured = l.status.measured();
    let setup = l.connection_setup.as_ref().filter(|_| measured);
    let mut out = setup_cells(setup);
    let count = |n: u64| {
        if measured {
            n.to_string()
        } else {
            String::new()
        }
    };
    out.push(count(l.counts.goaways));
    out.push(count(l.counts.flow_blocked));
    out.extend(error_cells(Some(&l.errors_by_kind).filter(|_| measured)));
    out.extend(grpc_cells(&l.grpc_status_codes, measured));
    out
}

/// An agent's cells of [`agent_columns`].
pub fn agent_cells(a: &AgentLayoutResult) -> Vec<String> {
    let measured = a.status.measured();
    let mut out = setup_cells(a.connection_setup.as_ref().filter(|_| measured));
    out.extend(grpc_cells(&a.grpc_status_codes, measured));
    out.extend(error_cells(a.errors_by_kind.as_ref().filter(|_| measured)));
    out
}

/// The errors by kind, in [`error_columns`]' order; empty cells without them (not measured,
/// or a result that does not carry an agent's).
fn error_cells(errors: Option<&ErrorKinds>) -> Vec<String> {
    match errors {
        Some(e) => e.by_kind().map(|(_, n)| n.to_string()).to_vec(),
        None => vec![String::new(); ErrorKinds::default().by_kind().len()],
    }
}

/// The calls per code, 0 for a code not seen, when there were gRPC calls; else empty cells.
fn grpc_cells(codes: &BTreeMap<String, u64>, measured: bool) -> Vec<String> {
    let grpc = measured && !codes.is_empty();
    (0..=GRPC_MAX_CODE)
        .map(|code| {
            if grpc {
                let n = codes.get(&code.to_string()).copied();
                n.unwrap_or(0).to_string()
            } else {
                String::new()
            }
        })
        .collect()
}

/// The setup groups and `tls_resumed`: empty without a setup, the TLS group and `tls_resumed`
/// empty in clear text.
fn setup_cells(setup: Option<&ConnectionSetup>) -> Vec<String> {
    let group = |p: Option<&Percentiles>| -> Vec<String> {
        let Some(p) = p else {
            return vec![String::new(); 1 + SETUP_PERCENTILES.len()];
        };
        let mut cells = vec![p.count.to_string()];
        cells.extend(
            SETUP_PERCENTILES
                .iter()
                .map(|pct| pct.shown(p).map(|ns| ns.to_string()).unwrap_or_default()),
        );
        cells
    };
    let handshake = setup.and_then(|s| s.tls_handshake_ns.as_ref());
    let mut out = group(setup.map(|s| &s.connect_ns));
    out.extend(group(handshake));
    out.extend(group(setup.map(|s| &s.first_byte_ns)));
    out.push(
        setup
            .filter(|_| handshake.is_some())
            .map(|s| s.tls_resumed.to_string())
            .unwrap_or_default(),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn percentiles(count: u64, base: u64) -> Percentiles {
        Percentiles {
            count,
            p50: base,
            p90: base * 2,
            p99: base * 3,
            p999: base * 4,
            max: base * 5,
            ..Percentiles::default()
        }
    }

    fn layout() -> LayoutResult {
        let result: crate::result::RunResult = serde_json::from_str(include_str!(
            "../../../tests/fixtures/quickstart-result.json"
        ))
        .expect("fixture");
        result.layouts[0].clone()
    }

    /// The cell of `column` in `l`'s cells.
    fn cell(l: &LayoutResult, column: &str) -> String {
        let i = columns()
            .iter()
            .position(|c| c == column)
            .unwrap_or_else(|| panic!("no column {column}"));
        cells(l)[i].clone()
    }

    #[test]
    fn every_row_has_a_cell_per_column_and_the_names_are_unique() {
        let names = columns();
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "{names:?}");
        assert_eq!(cells(&layout()).len(), names.len());
        let mut failed = layout();
        failed.status = crate::result::LayoutStatus::Failed;
        assert!(cells(&failed).iter().all(String::is_empty), "not measured");
    }

    #[test]
    fn tls_setup_shows_count_percentiles_and_resumed_handshakes() {
        let mut l = layout();
        l.connection_setup = Some(ConnectionSetup {
            connections: 1_000,
            connect_ns: percentiles(1_000, 10_000),
            tls_handshake_ns: Some(percentiles(1_000, 200_000)),
            tls_resumed: 640,
            first_byte_ns: percentiles(50, 300_000),
        });
        // 50 first bytes: a p99 needs 100, a p99.9 1,000; empty, never a number read as measured.
        let expected = [
            ("connect_count", "1000"),
            ("connect_p50_ns", "10000"),
            ("connect_p99_ns", "30000"),
            ("connect_p999_ns", "40000"),
            ("connect_max_ns", "50000"),
            ("tls_handshake_count", "1000"),
            ("tls_handshake_p99_ns", "600000"),
            ("tls_resumed", "640"),
            ("first_byte_count", "50"),
            ("first_byte_p50_ns", "300000"),
            ("first_byte_p99_ns", ""),
            ("first_byte_p999_ns", ""),
            ("first_byte_max_ns", "1500000"),
        ];
        for (column, value) in expected {
            assert_eq!(cell(&l, column), value, "{column}");
        }
        // Clear text: no handshake, so no TLS cells at all (not zeros).
        l.connection_setup.as_mut().expect("setup").tls_handshake_ns = None;
        assert_eq!(cell(&l, "tls_handshake_count"), "");
        assert_eq!(cell(&l, "tls_resumed"), "");
        assert_eq!(cell(&l, "connect_count"), "1000");
        // A result whose agents did not time the setup.
        l.connection_setup = None;
        assert_eq!(cell(&l, "connect_count"), "");
    }

    #[test]
    fn an_agent_row_names_its_errors_by_kind_as_the_layout_row_does() {
        let kinds = |names: Vec<String>| -> Vec<String> {
            names
                .into_iter()
                .filter(|c| c.starts_with("errors_"))
                .collect()
        };
        let (layout, agent) = (kinds(columns()), kinds(agent_columns()));
        assert_eq!(layout.len(), ErrorKinds::default().by_kind().len());
        assert_eq!(agent, layout);
        // Last: columns are only added at the end.
        assert!(agent_columns().ends_with(&agent));
    }

    #[test]
    fn grpc_calls_are_counted_per_code_only_in_a_grpc_layout() {
        let mut l = layout();
        assert_eq!(cell(&l, "grpc_status_0"), "", "no gRPC: no counts");
        l.grpc_status_codes.insert("0".into(), 9_870);
        l.grpc_status_codes.insert("5".into(), 12);
        l.errors_by_kind.grpc_status = 12;
        assert_eq!(cell(&l, "grpc_status_0"), "9870");
        assert_eq!(cell(&l, "grpc_status_5"), "12");
        assert_eq!(cell(&l, "grpc_status_16"), "0");
        assert_eq!(cell(&l, "errors_grpc_status"), "12");
        l.counts.goaways = 3;
        assert_eq!(cell(&l, "goaways"), "3");
        assert_eq!(cell(&l, "flow_blocked"), "0");
    }

    #[test]
    fn an_agent_row_has_its_own_setup_grpc_calls_per_code_and_errors_by_kind() {
        let mut a = layout().agents[0].clone();
        let names = agent_columns();
        let cell = |a: &AgentLayoutResult, column: &str| {
            let i = names.iter().position(|c| c == column).expect(column);
            agent_cells(a)[i].clone()
        };
        assert_eq!(agent_cells(&a).len(), names.len());
        assert_eq!(cell(&a, "connect_count"), "", "a result without it");
        a.connection_setup = Some(ConnectionSetup {
            connections: 200,
            connect_ns: percentiles(200, 10_000),
            tls_handshake_ns: None,
            tls_resumed: 0,
            first_byte_ns: percentiles(200, 300_000),
        });
        a.grpc_status_codes.insert("14".into(), 7);
        assert_eq!(cell(&a, "errors_grpc_status"), "", "a result without them");
        a.errors_by_kind = Some(ErrorKinds {
            grpc_status: 7,
            unsent: 2,
            ..ErrorKinds::default()
        });
        assert_eq!(cell(&a, "errors_grpc_status"), "7");
        assert_eq!(cell(&a, "errors_unsent"), "2");
        assert_eq!(cell(&a, "errors_connect"), "0");
        assert_eq!(cell(&a, "connect_count"), "200");
        assert_eq!(cell(&a, "connect_p99_ns"), "30000");
        assert_eq!(cell(&a, "tls_handshake_count"), "", "clear text");
        assert_eq!(cell(&a, "grpc_status_14"), "7");
        assert_eq!(cell(&a, "grpc_status_0"), "0");
        a.status = crate::result::LayoutStatus::Failed;
        assert!(agent_cells(&a).iter().all(String::is_empty), "not measured");
    }
}
