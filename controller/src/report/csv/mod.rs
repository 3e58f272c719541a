//! One row per layout, RFC 4180 as the `csv` crate writes it (comma-separated, fields quoted when
//! they hold a comma, quote or line break, CRLF-free: rows end in `\n`), a header row first. Latencies are integer
//! nanoseconds; a percentile with too few samples for it (see
//! [`crate::report::pct`]) or a failed layout's figures are empty cells, never a
//! number that would be read as measured.
//!
//! The columns are listed and explained once, in `docs/report.md` ("The CSV columns" and "The
//! per-agent CSV columns"), which a test holds to [`columns`] and [`AGENT_COLUMNS`]: the first
//! ones are the layout's status and headline figures, then its latency, delivery, request mix
//! and stages; last what its protocol did ([`protocol`]: the connections' setup, HTTP/2, errors
//! by kind, gRPC calls per code). Columns are only ever added at the end, so that a
//! spreadsheet's references to the earlier ones keep their meaning. `status_codes` is
//! `code=count` joined with `;` (`200=9870;503=12`); `request_mix` and `stages` hold one entry
//! per request or stage joined with `;` ([`mix_entry`], [`stage_entry`]).
//!
//! `report --format csv --per-agent` writes one row per layout, trial and agent instead
//! ([`agent_columns`]): each agent's own figures, from the same data as the layout's.

mod protocol;

use crate::report::caveats;
use crate::report::pct::Pct;
use crate::report::summary;
use crate::result::{LayoutResult, Percentiles, RequestMix, RunResult, StageResult};

/// The first columns of the header row, then [`protocol::columns`].
const LAYOUT_COLUMNS: [&str; 37] = [
    "layout",
    "status",
    "mode",
    "target_rate_rps",
    "throughput_rps",
    "requests",
    "errors",
    "error_rate",
    "late_sends",
    "p50_ns",
    "p90_ns",
    "p99_ns",
    "p999_ns",
    "max_ns",
    "p50_uncorrected_ns",
    "p99_uncorrected_ns",
    "p999_uncorrected_ns",
    "max_uncorrected_ns",
    "threads_max",
    "replicas",
    "placement_ok",
    "load_cpus",
    "load_shares_cpus",
    "suspect",
    "reconnects",
    "status_codes",
    "request_mix",
    "p50_lower_bound",
    "p90_lower_bound",
    "p99_lower_bound",
    "p999_lower_bound",
    "max_lower_bound",
    "intended",
    "answered",
    "min_delivered",
    "warmup_dropped",
    "stages",
];

/// The header row.
pub fn columns() -> Vec<String> {
    header(&LAYOUT_COLUMNS, protocol::columns())
}

/// Renders the header and one row per layout.
pub fn render(result: &RunResult) -> String {
    records(std::iter::once(columns()).chain(result.layouts.iter().map(row)))
}

/// The first columns of the per-agent table's header row.
const AGENT_COLUMNS: [&str; 21] = [
    "layout",
    "trial",
    "agent",
    "status",
    "error",
    "asked_rate_rps",
    "elapsed_s",
    "requests",
    "throughput_rps",
    "errors",
    "intended",
    "answered",
    "asked",
    "shortfall",
    "p50_ns",
    "p99_ns",
    "p999_ns",
    "max_ns",
    "p99_lower_bound",
    "measuring_at_unix_ns",
    "role",
];

/// The header row of the per-agent table: [`AGENT_COLUMNS`], then the agent's own setup, gRPC
/// calls per code and errors by kind ([`protocol::agent_columns`]).
pub fn agent_columns() -> Vec<String> {
    header(&AGENT_COLUMNS, protocol::agent_columns())
}

/// A header row: the `first` columns, then the `rest`.
fn header(first: &[&str], rest: Vec<String>) -> Vec<String> {
    first.iter().map(|c| (*c).to_owned()).chain(rest).collect()
}

/// Renders the header and one row per layout, trial and agent.
pub fn render_agents(result: &RunResult) -> String {
    let rows = result
        .layouts
        .iter()
        .flat_map(|l| l.agents.iter().map(move |a| agent_row(l, a)));
    records(std::iter::once(agent_columns()).chain(rows))
}

fn agent_row(l: &LayoutResult, a: &crate::result::AgentLayoutResult) -> Vec<String> {
    let measured = a.status.measured();
    let when = |value: String| if measured { value } else { String::new() };
    let pct = |pct: Pct| {
        pct.shown(&a.latency_ns)
            .filter(|_| measured)
            .map(|ns| ns.to_string())
            .unwrap_or_default()
    };
    let delivery = match a.delivery.filter(|_| measured) {
        Some(d) => [
            d.intended.to_string(),
            d.answered.to_string(),
            d.asked.map(|n| n.to_string()).unwrap_or_default(),
            d.shortfall().to_string(),
        ],
        None => Default::default(),
    };
    let status = match a.status {
        crate::result::LayoutStatus::Ok => "ok".to_owned(),
        other => other.as_str().to_uppercase(),
    };
    let mut row = vec![
        l.name.clone(),
        a.trial.to_string(),
        a.agent.clone(),
        status,
        a.error.clone().unwrap_or_default(),
        a.asked_rate_rps.map(|r| r.to_string()).unwrap_or_default(),
        when(format!("{:.3}", a.elapsed_s)),
        when(a.requests.to_string()),
        when(format!("{:.1}", a.throughput_rps)),
        when(a.errors.to_string()),
    ];
    row.extend(delivery);
    row.extend([Pct::P50, Pct::P99, Pct::P999, Pct::Max].map(pct));
    row.push(
        Pct::P99
            .shown(&a.latency_ns)
            .filter(|_| measured)
            .map(|_| a.latency_ns.is_lower_bound("p99").to_string())
            .unwrap_or_default(),
    );
    row.push(
        a.measuring_at_unix_ns
            .map(|ns| ns.to_string())
            .unwrap_or_default(),
    );
    row.push(a.role.map(|r| r.as_str().to_owned()).unwrap_or_default());
    row.extend(protocol::agent_cells(a));
    row
}

/// CSV text of `records` (the header first), each ending in `\n`, fields quoted only when they
/// must be. Every record must have as many fields as the first: the tables here are fixed.
pub fn records<R, F>(records: impl IntoIterator<Item = R>) -> String
where
    R: IntoIterator<Item = F>,
    F: AsRef<[u8]>,
{
    let mut out = csv::Writer::from_writer(Vec::new());
    for record in records {
        out.write_record(record)
            .expect("a CSV table here has a fixed field count, and writing to memory cannot fail");
    }
    let bytes = out
        .into_inner()
        .expect("flushing CSV into memory cannot fail");
    // The fields are Rust strings, so the text is UTF-8.
    String::from_utf8_lossy(&bytes).into_owned()
}

fn row(l: &LayoutResult) -> Vec<String> {
    let measured = l.status.measured();
    let when = |value: String| if measured { value } else { String::new() };
    let pct = |p: &Percentiles, pct: Pct| {
        pct.shown(p)
            .filter(|_| measured)
            .map(|ns| ns.to_string())
            .unwrap_or_default()
    };
    let reasons: Vec<String> = caveats::layout_flags(l)
        .into_iter()
        .map(|f| f.message)
        .collect();
    let (c, u) = (&l.latency_ns, &l.latency_uncorrected_ns);
    let bound = |pct: Pct| {
        pct.shown(c)
            .filter(|_| measured)
            .map(|_| c.is_lower_bound(pct.field()).to_string())
            .unwrap_or_default()
    };
    let delivery = match l.delivery.filter(|_| measured) {
        Some(d) => [
            d.intended.to_string(),
            d.answered.to_string(),
            d.min_share.to_string(),
        ],
        None => Default::default(),
    };
    let mut row = vec![
        l.name.clone(),
        summary::status(l).to_owned(),
        l.mode.clone(),
        l.target_rate_rps.map(|r| r.to_string()).unwrap_or_default(),
        when(format!("{:.1}", l.throughput_rps)),
        when(l.requests.to_string()),
        when(l.errors.to_string()),
        when(format!("{:.6}", summary::error_rate(l))),
        when(l.counts.late_sends.to_string()),
        pct(c, Pct::P50),
        pct(c, Pct::P90),
        pct(c, Pct::P99),
        pct(c, Pct::P999),
        pct(c, Pct::Max),
        pct(u, Pct::P50),
        pct(u, Pct::P99),
        pct(u, Pct::P999),
        pct(u, Pct::Max),
        when(summary::threads_max(l).to_string()),
        l.replicas.len().to_string(),
        summary::placement_ok(l).to_string(),
        numaload_proto::cpulist::format(&l.load.cpus),
        l.load.shares_cpus_with_replicas.to_string(),
        reasons.join("; "),
        when(l.counts.reconnects.to_string()),
        l.status_codes
            .iter()
            .map(|(code, count)| format!("{code}={count}"))
            .collect::<Vec<_>>()
            .join(";"),
        l.request_mix
            .iter()
            .map(mix_entry)
            .collect::<Vec<_>>()
            .join(";"),
    ];
    row.extend([Pct::P50, Pct::P90, Pct::P99, Pct::P999, Pct::Max].map(bound));
    row.extend(delivery);
    row.push(when(l.counts.warmup_dropped.to_string()));
    row.push(
        l.stages
            .iter()
            .map(stage_entry)
            .collect::<Vec<_>>()
            .join(";"),
    );
    row.extend(protocol::cells(l));
    row
}

/// `read weight=9 requests=9000 errors=0 calls=9000 p50_ns=.. p99_ns=.. p999_ns=.. max_ns=..`,
/// then `lower_bounds=p99,max` when some of those figures are lower bounds.
fn mix_entry(m: &RequestMix) -> String {
    format!(
        "{} weight={} requests={} errors={} calls={} {}",
        m.name.replace(';', ","),
        m.weight,
        m.requests,
        m.errors,
        m.calls(),
        latency_fields(&m.latency_ns)
    )
    .trim_end()
    .to_owned()
}

/// `stage=1 from_rps=0 to_rps=5000 start_s=0 duration_s=10 throughput_rps=2493.1
/// requests=24931 errors=0 late_sends=3 p50_ns=.. p99_ns=.. p999_ns=.. max_ns=..`, then
/// `lower_bounds=..` as a mix entry's.
fn stage_entry(s: &StageResult) -> String {
    format!(
        "stage={} from_rps={} to_rps={} start_s={} duration_s={} throughput_rps={:.1} \
         requests={} errors={} late_sends={} {}",
        s.stage,
        s.from_rps,
        s.to_rps,
        s.start_s,
        s.duration_s,
        s.throughput_rps,
        s.requests,
        s.errors,
        s.late_sends,
        latency_fields(&s.latency_ns)
    )
    .trim_end()
    .to_owned()
}

/// `p50_ns=.. p99_ns=.. p999_ns=.. max_ns=..` (those with samples enough), then
/// `lower_bounds=p99,max` naming the ones that are lower bounds, if any.
fn latency_fields(p: &Percentiles) -> String {
    let shown: Vec<(&str, Pct, u64)> = [
        ("p50_ns", Pct::P50),
        ("p99_ns", Pct::P99),
        ("p999_ns", Pct::P999),
        ("max_ns", Pct::Max),
    ]
    .into_iter()
    .filter_map(|(key, pct)| pct.shown(p).map(|ns| (key, pct, ns)))
    .collect();
    let mut fields: Vec<String> = shown
        .iter()
        .map(|(key, _, ns)| format!("{key}={ns}"))
        .collect();
    let bounds: Vec<&str> = shown
        .iter()
        .map(|(_, pct, _)| pct.field())
        .filter(|field| p.is_lower_bound(field))
        .collect();
    if !bounds.is_empty() {
        fields.push(format!("lower_bounds={}", bounds.join(",")));
    }
    fields.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_when_needed() {
        let cases = [
            ("per-node", "per-node"),
            ("a,b", "\"a,b\""),
            ("say \"hi\"", "\"say \"\"hi\"\"\""),
            ("two\nlines", "\"two\nlines\""),
            ("", ""),
        ];
        // Each field between two others, as in a row (a record of one empty field alone is
        // quoted, to tell it from an empty line).
        for (input, expected) in cases {
            assert_eq!(
                records([["x", input, "y"]]),
                format!("x,{expected},y\n"),
                "{input:?}"
            );
        }
    }
}
