//! What the service under test did besides its latency, in the words every human format uses:
//! the request mix, status codes, reconnects, each replica's process tree, placement
//! mismatches by pid and thread, and the series scraped from its metrics. Pure: result in,
//! rows and lines out; each format only lays them out.

use crate::report::pct::Pct;
use crate::report::summary::{percentile_cell, shows_a_lower_bound};
use crate::report::thousands;
use crate::result::{ConnectionSetup, LayoutResult, ReplicaResult, RequestMix};

/// One request of a layout's mix as the reports show it.
#[derive(Debug, Clone, PartialEq)]
pub struct MixRow {
    pub name: String,
    pub weight: u32,
    /// Its weight over the sum of weights, in percent (`90%`).
    pub share: String,
    /// Its calls of the window: `requests` (answered as expected) and `errors` together.
    pub calls: String,
    pub requests: String,
    pub errors: String,
    /// p50, p99, p99.9 and max (or "n/a (too few)", "-"), a lower bound marked "≥ ".
    pub latency: [String; 4],
}

/// The percentiles a mix row shows.
pub const MIX_PERCENTILES: [Pct; 4] = [Pct::P50, Pct::P99, Pct::P999, Pct::Max];

/// The rows of a layout's mix; none when it has one request or none (its figures are then the
/// layout's own).
pub fn mix_rows(l: &LayoutResult) -> Vec<MixRow> {
    if l.request_mix.len() < 2 {
        return Vec::new();
    }
    let total: u64 = l.request_mix.iter().map(|m| u64::from(m.weight)).sum();
    l.request_mix.iter().map(|m| mix_row(m, total)).collect()
}

/// Whether a figure of [`mix_rows`] is a lower bound.
pub fn mix_shows_a_lower_bound(l: &LayoutResult) -> bool {
    l.request_mix.len() >= 2
        && l.request_mix
            .iter()
            .any(|m| shows_a_lower_bound(&m.latency_ns, &MIX_PERCENTILES))
}

fn mix_row(m: &RequestMix, total_weight: u64) -> MixRow {
    let share = if total_weight == 0 {
        "-".to_owned()
    } else {
        format!("{:.0}%", 100.0 * f64::from(m.weight) / total_weight as f64)
    };
    MixRow {
        name: m.name.clone(),
        weight: m.weight,
        share,
        calls: thousands(m.calls() as f64),
        requests: thousands(m.requests as f64),
        errors: thousands(m.errors as f64),
        latency: MIX_PERCENTILES.map(|pct| percentile_cell(&m.latency_ns, pct)),
    }
}

/// `200 ×9,870, 503 ×12` when a code is not 2xx or there is more than one; else `None`.
pub fn status_codes(l: &LayoutResult) -> Option<String> {
    let unusual = l.status_codes.len() > 1 || l.status_codes.keys().any(|c| !c.starts_with('2'));
    if !unusual {
        return None;
    }
    Some(crate::units::counted(&l.status_codes))
}

/// `0 ×9,870, 5 ×12`: gRPC calls by `grpc-status`, whenever there were any.
pub fn grpc_status_codes(l: &LayoutResult) -> Option<String> {
    if l.grpc_status_codes.is_empty() {
        return None;
    }
    Some(crate::units::counted(&l.grpc_status_codes))
}

/// What the layout's protocol did, each line with the label the Markdown and HTML reports give
/// it: `status codes`, `grpc-status`, `reconnects`, `http/2` and `connections` (opened, and the
/// TLS handshakes resumed), those with anything to say. The text report prints the same lines,
/// `connections` under its setup rows.
pub fn labelled_lines(l: &LayoutResult) -> Vec<(&'static str, String)> {
    [
        ("status codes", status_codes(l)),
        ("grpc-status", grpc_status_codes(l)),
        ("reconnects", reconnects(l)),
        ("http/2", http2(l)),
        ("connections", l.connection_setup.as_ref().map(connections)),
    ]
    .into_iter()
    .filter_map(|(label, line)| Some((label, line?)))
    .collect()
}

/// `4 opened during the load (...)`, and with TLS the handshakes and how many resumed.
pub fn connections(setup: &ConnectionSetup) -> String {
    let resumed = match setup.resumed_share() {
        Some(share) => format!(
            "; TLS {} handshakes, {} resumed ({:.1}%)",
            thousands(setup.tls_handshake_ns.as_ref().map_or(0, |h| h.count) as f64),
            thousands(setup.tls_resumed as f64),
            100.0 * share
        ),
        None => String::new(),
    };
    let each = if setup.tls_handshake_ns.is_some() {
        "one connect, TLS handshake and first byte each"
    } else {
        "one connect and first byte each"
    };
    format!(
        "{} opened during the load ({each}){resumed}",
        thousands(setup.connections as f64)
    )
}

/// `requests: read (GET /items/1) weight 3, write (POST /items) weight 1; success: 200, 201;
/// knobs: gomaxprocs=8` when the plan says more than the default `GET /` (else `None`).
pub fn requests_line(plan: &crate::plan::Plan) -> Option<String> {
    let load = &plan.load;
    let mut parts = Vec::new();
    let default =
        load.requests.len() == 1 && load.requests[0] == crate::plan::Request::default_get();
    if !default {
        let requests: Vec<String> = load
            .requests
            .iter()
            .map(|r| {
                let what = format!("{} {}", r.method, r.path);
                let named = if r.name == what {
                    what
                } else {
                    format!("{} ({what})", r.name)
                };
                if load.requests.len() > 1 {
                    format!("{named} weight {}", r.weight)
                } else {
                    named
                }
            })
            .collect();
        parts.push(format!("requests: {}", requests.join(", ")));
    }
    if !load.expect_status.is_empty() {
        let codes: Vec<String> = load.expect_status.iter().map(u16::to_string).collect();
        parts.push(format!("success: {}", codes.join(", ")));
    }
    if !plan.target.knobs.is_empty() {
        let knobs: Vec<String> = plan
            .target
            .knobs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        parts.push(format!("knobs: {}", knobs.join(", ")));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// `31 (the server closed connections after a response)` when non-zero.
pub fn reconnects(l: &LayoutResult) -> Option<String> {
    (l.counts.reconnects > 0).then(|| {
        format!(
            "{} (the server closed connections after a response)",
            thousands(l.counts.reconnects as f64)
        )
    })
}

/// `12 GOAWAY (connections reconnected, unprocessed streams sent again); 3 requests waited on
/// the server's flow-control window` when either is non-zero (HTTP/2).
pub fn http2(l: &LayoutResult) -> Option<String> {
    let mut parts = Vec::new();
    if l.counts.goaways > 0 {
        parts.push(format!(
            "{} GOAWAY (connections reconnected, unprocessed streams sent again)",
            thousands(l.counts.goaways as f64)
        ));
    }
    if l.counts.flow_blocked > 0 {
        parts.push(format!(
            "{} request(s) waited on the server's flow-control window",
            thousands(l.counts.flow_blocked as f64)
        ));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// `3 processes, 41 threads when ready; at most 3 processes while measured; 12 pages off its
/// nodes`: the replica's tree, when the agent read it.
pub fn tree(r: &ReplicaResult) -> Option<String> {
    if r.processes == 0 && r.processes_max == 0 && r.processes_at_end.is_empty() {
        return None;
    }
    let mut parts = vec![format!(
        "{} process(es), {} thread(s) when ready",
        r.processes, r.threads
    )];
    if r.processes_max > 0 {
        parts.push(format!(
            "at most {} process(es) while measured",
            r.processes_max
        ));
    }
    if !r.processes_at_end.is_empty() {
        let names: Vec<String> = r
            .processes_at_end
            .iter()
            .map(|p| format!("{} {} ({} thread(s))", p.pid, p.comm, p.threads))
            .collect();
        parts.push(format!("at the end: {}", names.join(", ")));
    }
    let off = r.pages_off_node.max(r.pages_off_node_at_end);
    if off > 0 {
        parts.push(format!(
            "{} page(s) off its memory nodes",
            thousands(off as f64)
        ));
    }
    Some(parts.join("; "))
}

/// Every mismatch of the replica, `when ready:` or `at the end:` first.
pub fn mismatches(r: &ReplicaResult) -> Vec<String> {
    let ready = r
        .mismatches
        .iter()
        .map(|m| format!("when ready: {}", m.line()));
    let end = r
        .mismatches_at_end
        .iter()
        .map(|m| format!("at the end: {}", m.line()));
    ready.chain(end).collect()
}

/// `go_goroutines max 250, queue max 3.5`: the highest value of each scraped series.
pub fn scraped(r: &ReplicaResult) -> Option<String> {
    if r.scraped.is_empty() {
        return None;
    }
    let series: Vec<String> = r
        .scraped
        .iter()
        .map(|s| format!("{} max {}", s.name, number(s.max)))
        .collect();
    Some(series.join(", "))
}

/// A scraped value: whole numbers with thousands separators, others with two decimals.
pub fn number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        thousands(value)
    } else {
        format!("{value:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::result::{Mismatch, Percentiles};

    fn mix(name: &str, weight: u32, count: u64) -> RequestMix {
        RequestMix {
            name: name.into(),
            weight,
            calls: Some(count + 1),
            requests: count,
            errors: 1,
            latency_ns: Percentiles {
                count,
                p50: 1_000,
                p99: 2_000_000,
                p999: 5_000_000,
                max: 9_000_000,
                ..Percentiles::default()
            },
            latency_v2_base64: String::new(),
            waited_v2_base64: String::new(),
        }
    }

    fn layout() -> LayoutResult {
        let fixture: crate::result::RunResult =
            serde_json::from_str(include_str!("../../tests/fixtures/quickstart-result.json"))
                .expect("fixture");
        fixture.layouts[0].clone()
    }

    #[test]
    fn the_mix_shows_shares_and_hides_what_has_too_few_samples() {
        let mut l = layout();
        l.request_mix = vec![mix("read", 9, 9_000)];
        assert!(mix_rows(&l).is_empty(), "one request is the layout itself");
        l.request_mix.push(mix("write", 1, 500));
        let rows = mix_rows(&l);
        assert_eq!(rows[0].share, "90%");
        assert_eq!(rows[0].requests, "9,000");
        assert_eq!(rows[0].latency[2], "5.00 ms");
        assert_eq!(rows[1].share, "10%");
        assert_eq!(rows[1].latency[2], "n/a (too few)");
    }

    #[test]
    fn status_codes_show_when_unusual() {
        let mut l = layout();
        assert_eq!(status_codes(&l), None);
        l.status_codes.insert("200".into(), 10);
        assert_eq!(status_codes(&l), None, "all 2xx, one code");
        l.status_codes.insert("503".into(), 1_200);
        assert_eq!(status_codes(&l).as_deref(), Some("200 ×10, 503 ×1,200"));
        l.status_codes.remove("200");
        assert_eq!(status_codes(&l).as_deref(), Some("503 ×1,200"));
        assert_eq!(grpc_status_codes(&l), None, "no gRPC");
        l.grpc_status_codes.insert("0".into(), 9_870);
        l.grpc_status_codes.insert("5".into(), 12);
        assert_eq!(grpc_status_codes(&l).as_deref(), Some("0 ×9,870, 5 ×12"));
        assert_eq!(reconnects(&l), None);
        l.counts.reconnects = 31;
        assert!(reconnects(&l).is_some_and(|r| r.starts_with("31 ")));
    }

    #[test]
    fn a_replica_tree_and_its_mismatches_name_pids_and_threads() {
        let mut r = layout().replicas[0].clone();
        assert_eq!(tree(&r), None, "older results have no tree");
        assert!(mismatches(&r).is_empty());
        (r.processes, r.threads, r.processes_max) = (2, 17, 3);
        assert_eq!(
            tree(&r).as_deref(),
            Some("2 process(es), 17 thread(s) when ready; at most 3 process(es) while measured")
        );
        r.mismatches_at_end.push(Mismatch {
            pid: 10,
            tid: 12,
            comm: "w".into(),
            what: "ran on CPUs 0-7, intended 0-3".into(),
        });
        r.mismatches.push(Mismatch {
            pid: 10,
            tid: 0,
            comm: "srv".into(),
            what: "memory policy default, intended bind:0".into(),
        });
        assert_eq!(
            mismatches(&r),
            [
                "when ready: pid 10 (srv): memory policy default, intended bind:0",
                "at the end: pid 10 tid 12 (w): ran on CPUs 0-7, intended 0-3"
            ]
        );
        assert_eq!(number(250.0), "250");
        assert_eq!(number(3.456), "3.46");
    }
}
