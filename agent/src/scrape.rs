//! Reading a replica's `/metrics` (Prometheus text) for the sampler: tokio tasks, queue depth,
//! blocking threads and in-flight C calls, which only the process itself can tell.
//!
//! One keep-alive connection per replica, a short timeout, and a parser that reads only the
//! few unlabelled gauges it needs. A scrape that fails or is slow is reported as missing
//! (`-1`), never as zero.
//!
//! # Why the parser is hand-written
//!
//! The sampler scrapes every replica 10 times a second, on the agent's runtime, while the load
//! runs. The parser here is one pass per question over the body's lines, without allocating per
//! line, and reads only what the sampler asks for (`parse_gauges`, `parse_buckets`,
//! `parse_series`). The maintained crate that parses the text format, `prometheus-parse`, runs a
//! regex per line and allocates an owned `String` per line and per label to build the whole
//! page, many times the work, on every scrape of every replica (`prometheus-client`, which
//! writes our own pages, does not parse). The scrape's share of sampling is in the sampler's
//! figure of BENCHMARKS.md (point 5).
//!
//! The parser reads untrusted bytes from any server a user brings, so it is fuzzed:
//! `fuzz/fuzz_targets/scrape.rs` (every parser here and [`complete_body`]), its seeds in
//! `fuzz/corpus/scrape/` replayed by `agent/tests/it/fuzz_corpus.rs` on a stable toolchain.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The gauges the sampler records, `-1` when the target does not export one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuntimeGauges {
    pub alive_tasks: i64,
    pub global_queue_depth: i64,
    pub blocking_threads: i64,
    pub inflight_calls: i64,
    /// `numaload_requests_total`, summed over its status labels.
    pub requests_total: i64,
    /// The tokio runtime's workers, and its counters summed over them: busy time (in
    /// microseconds) and parks, for the sampler's rates.
    pub workers: i64,
    pub worker_busy_us: i64,
    pub worker_parks: i64,
    /// Tasks stolen between workers, and tasks in their local queues (tokio_unstable builds).
    pub worker_steals: i64,
    pub local_queue_depth: i64,
}

/// Cumulative counts of `numaload_request_duration_seconds_bucket`, by upper edge in seconds
/// (`+Inf` as infinity), as the exposition lists them.
pub type Buckets = Vec<(f64, u64)>;

/// The buckets of the handler-time histogram in an exposition.
pub fn parse_buckets(text: &str) -> Buckets {
    let prefix = "numaload_request_duration_seconds_bucket{le=\"";
    text.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix(prefix)?;
            let (edge, rest) = rest.split_once('"')?;
            let count = rest.rsplit(' ').next()?.parse::<f64>().ok()? as u64;
            let edge = if edge == "+Inf" {
                f64::INFINITY
            } else {
                edge.parse().ok()?
            };
            Some((edge, count))
        })
        .collect()
}

/// The p99 of what happened between two snapshots of the buckets, as the upper edge of the
/// bucket it falls in (nanoseconds); `None` with no new request or mismatched buckets.
pub fn interval_p99_ns(before: &Buckets, after: &Buckets) -> Option<u64> {
    if before.len() != after.len() || after.is_empty() {
        return None;
    }
    let deltas: Vec<(f64, u64)> = after
        .iter()
        .zip(before)
        .map(|(a, b)| (a.0, a.1.saturating_sub(b.1)))
        .collect();
    let total = deltas.last()?.1;
    if total == 0 {
        return None;
    }
    let wanted = (total as f64 * 0.99).ceil() as u64;
    let edge = deltas.iter().find(|(_, count)| *count >= wanted)?.0;
    Some(if edge.is_finite() {
        (edge * 1e9) as u64
    } else {
        u64::MAX
    })
}

impl RuntimeGauges {
    pub const MISSING: RuntimeGauges = RuntimeGauges {
        alive_tasks: -1,
        global_queue_depth: -1,
        blocking_threads: -1,
        inflight_calls: -1,
        requests_total: -1,
        workers: -1,
        worker_busy_us: -1,
        worker_parks: -1,
        worker_steals: -1,
        local_queue_depth: -1,
    };
}

/// Picks the gauges out of a Prometheus text exposition.
pub fn parse_gauges(text: &str) -> RuntimeGauges {
    let mut gauges = RuntimeGauges::MISSING;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        if let Some(rest) = line.strip_prefix("numaload_requests_total") {
            if let Some(value) = rest.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()) {
                gauges.requests_total = gauges.requests_total.max(0) + value as i64;
            }
            continue;
        }
        let Some((name, value)) = line.split_once(' ') else {
            continue;
        };
        let Ok(value) = value.trim().parse::<f64>() else {
            continue;
        };
        let slot = match name {
            "tokio_alive_tasks" => &mut gauges.alive_tasks,
            "tokio_global_queue_depth" => &mut gauges.global_queue_depth,
            "tokio_blocking_threads" => &mut gauges.blocking_threads,
            "numaload_ffi_inflight_calls" => &mut gauges.inflight_calls,
            "tokio_workers" => &mut gauges.workers,
            "tokio_worker_busy_seconds_total" => {
                gauges.worker_busy_us = (value * 1e6) as i64;
                continue;
            }
            "tokio_worker_parks_total" => &mut gauges.worker_parks,
            "tokio_worker_steals_total" => &mut gauges.worker_steals,
            "tokio_worker_local_queue_depth" => &mut gauges.local_queue_depth,
            _ => continue,
        };
        *slot = value as i64;
    }
    gauges
}

/// One scrape's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Scrape {
    pub gauges: RuntimeGauges,
    /// The handler-time histogram's buckets (empty when the target has none or failed).
    pub buckets: Buckets,
    /// How long the request took; the timeout itself (a lower bound) when it timed out; `None`
    /// when it failed outright.
    pub probe: Option<Duration>,
    pub timed_out: bool,
    /// The whole exposition, for the named series a target asks to keep.
    pub text: String,
}

/// The value of each series in an exposition, summed over the label sets it matches; `None`
/// where none matches. A series is a name (every line of that name: a counter split by status
/// is summed) or a name with labels, `name{label="value",...}` (only the lines carrying each of
/// them, summed over their other labels): see [`is_series`].
pub fn parse_series(text: &str, series: &[String]) -> Vec<Option<f64>> {
    let mut values = vec![None; series.len()];
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let name_end = line.find(['{', ' ']).unwrap_or(line.len());
        let name = &line[..name_end];
        if !series.iter().any(|s| split_series(s).0 == name) {
            continue;
        }
        // The value follows the labels; a timestamp may follow the value.
        let (labels, after_labels) = match line[name_end..].starts_with('{') {
            true => line[name_end..].rsplit_once('}').unwrap_or(("", "")),
            false => ("", &line[name_end..]),
        };
        let Some(value) = after_labels
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<f64>().ok())
        else {
            continue;
        };
        for (slot, wanted) in series.iter().enumerate() {
            let (wanted_name, wanted_labels) = split_series(wanted);
            if wanted_name == name && carries(labels, wanted_labels) {
                *values[slot].get_or_insert(0.0) += value;
            }
        }
    }
    values
}

/// Whether `series` is one a target may have scraped: a metric name (letters, digits, `_`,
/// `:`), or one with the labels a line must carry, `name{label="value",...}`, each value
/// without quotes, backslashes, commas or braces.
pub fn is_series(series: &str) -> bool {
    let (name, labels) = split_series(series);
    let metric = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
    if !metric || name.len() == series.len() {
        return metric;
    }
    series.ends_with('}')
        && !labels.is_empty()
        && labels.split(',').all(|pair| {
            let Some((label, value)) = pair.split_once('=') else {
                return false;
            };
            let label_ok = label.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"'));
            label_ok && value.is_some_and(|v| !v.contains(['"', '\\', ',', '{', '}']))
        })
}

/// A series' name and the labels it asks for (`method="Work",code="5"`; empty for a name).
fn split_series(series: &str) -> (&str, &str) {
    match series.split_once('{') {
        Some((name, labels)) => (name, labels.strip_suffix('}').unwrap_or(labels)),
        None => (series, ""),
    }
}

/// Whether a line's labels (its text from `{` to before the closing `}`) carry each
/// `label="value"` of `wanted`, as whole pairs.
fn carries(labels: &str, wanted: &str) -> bool {
    wanted.is_empty()
        || wanted.split(',').all(|pair| {
            labels.match_indices(pair).any(|(at, _)| {
                let before = labels[..at].trim_end().chars().next_back();
                let after = labels[at + pair.len()..].trim_start().chars().next();
                matches!(before, Some('{' | ',')) && matches!(after, None | Some(','))
            })
        })
}

/// A kept-open connection to one replica's metrics endpoint.
#[derive(Debug)]
pub struct Scraper {
    address: SocketAddr,
    request: Vec<u8>,
    stream: Option<TcpStream>,
    buffer: Vec<u8>,
}

/// Larger answers are not a numaload target's `/metrics`.
const MAX_RESPONSE: usize = 1 << 20;

impl Scraper {
    /// A scraper of `path` (e.g. `/metrics`) at `address`.
    pub fn new(address: SocketAddr, path: &str) -> Self {
        Self {
            address,
            request: format!("GET {path} HTTP/1.1\r\nHost: numaload-sampler\r\n\r\n").into_bytes(),
            stream: None,
            buffer: Vec::with_capacity(8192),
        }
    }

    /// One scrape within `timeout`; `MISSING` gauges on any failure (the connection is then
    /// reopened). The time it took is also a probe: `/metrics` is an unrelated fast request, so a
    /// runtime whose workers are blocked answers it late.
    pub async fn scrape(&mut self, timeout: Duration) -> Scrape {
        let started = std::time::Instant::now();
        match tokio::time::timeout(timeout, self.fetch()).await {
            Ok(Some(body)) => Scrape {
                gauges: parse_gauges(&body),
                buckets: parse_buckets(&body),
                probe: Some(started.elapsed()),
                timed_out: false,
                text: body,
            },
            Ok(None) => {
                self.stream = None;
                Scrape {
                    gauges: RuntimeGauges::MISSING,
                    buckets: Vec::new(),
                    probe: None,
                    timed_out: false,
                    text: String::new(),
                }
            }
            Err(_) => {
                // The answer may still arrive on this connection: start afresh next time.
                self.stream = None;
                Scrape {
                    gauges: RuntimeGauges::MISSING,
                    buckets: Vec::new(),
                    probe: Some(timeout),
                    timed_out: true,
                    text: String::new(),
                }
            }
        }
    }

    async fn fetch(&mut self) -> Option<String> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(self.address).await.ok()?;
            stream.set_nodelay(true).ok()?;
            self.stream = Some(stream);
        }
        let stream = self.stream.as_mut()?;
        stream.write_all(&self.request).await.ok()?;
        self.buffer.clear();
        loop {
            if let Some(body) = complete_body(&self.buffer) {
                return Some(body);
            }
            if self.buffer.len() > MAX_RESPONSE {
                return None;
            }
            let mut chunk = [0u8; 8192];
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            self.buffer.extend_from_slice(&chunk[..n]);
        }
    }
}

/// The body of a complete `200` response with a Content-Length, if `buffer` holds one.
pub fn complete_body(buffer: &[u8]) -> Option<String> {
    let head_end = buffer.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&buffer[..head_end]).ok()?;
    let length: usize = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse().ok())?
    })?;
    let body = buffer.get(head_end..head_end + length)?;
    head.starts_with("HTTP/1.1 200")
        .then(|| String::from_utf8_lossy(body).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_series_with_labels_keeps_the_lines_carrying_them_summed_over_the_rest() {
        let text = "calls_total{method=\"Work\",grpc_status=\"0\"} 3\n\
                    calls_total{method=\"Work\",grpc_status=\"5\"} 40\n\
                    calls_total{method=\"Echo\", grpc_status=\"0\"} 100 1700000000\n\
                    calls_total{path=\"method=\\\"Work\\\"\",method=\"Other\"} 7\n\
                    calls_total{method=\"Workers\"} 9\n";
        let series = [
            "calls_total{method=\"Work\"}",
            "calls_total{grpc_status=\"0\",method=\"Echo\"}",
            "calls_total{method=\"Work\",grpc_status=\"0\"}",
            "calls_total{method=\"Work\",grpc_status=\"7\"}",
            "calls_total",
        ]
        .map(String::from);
        assert_eq!(
            parse_series(text, &series),
            [Some(43.0), Some(100.0), Some(3.0), None, Some(159.0)]
        );
    }

    #[test]
    fn a_series_is_a_metric_name_or_one_with_whole_label_pairs() {
        for good in [
            "go_threads",
            "a:b_c",
            "x{method=\"Work\"}",
            "x{a=\"\",_b=\"1 2\"}",
        ] {
            assert!(is_series(good), "{good}");
        }
        for bad in [
            "",
            "a b",
            "x{}",
            "x{method=\"Work\"",
            "x{method=Work}",
            "x{1a=\"v\"}",
            "x{a=\"v,w\"}",
            "x{a=\"v\\\"\"}",
            "{a=\"v\"}",
            "x{a=\"v\"}y",
        ] {
            assert!(!is_series(bad), "{bad}");
        }
    }

    #[test]
    fn named_series_are_summed_over_labels() {
        let text = "# TYPE go_goroutines gauge\ngo_goroutines 12\n\
                    http_requests_total{code=\"200\"} 5 1700000000\n\
                    http_requests_total{code=\"500\",path=\"/a}b\"} 2\n\
                    go_goroutines_total 99\n";
        let names = ["go_goroutines", "http_requests_total", "go_threads"].map(String::from);
        assert_eq!(parse_series(text, &names), [Some(12.0), Some(7.0), None]);
    }

    #[test]
    fn reads_the_gauges_it_needs_and_marks_the_rest_missing() {
        let text = "# HELP tokio_alive_tasks Alive tasks.\n# TYPE tokio_alive_tasks gauge\n\
                    tokio_alive_tasks 12\ntokio_global_queue_depth 0\n\
                    numaload_requests_total{status=\"200\"} 5\nnumaload_ffi_inflight_calls 7\n\
                    tokio_workers 2\ntokio_worker_busy_seconds_total 1.5\n\
                    tokio_worker_parks_total 40\ntokio_worker_steals_total 9\n\
                    tokio_worker_local_queue_depth 3\n";
        let g = parse_gauges(text);
        assert_eq!(
            g,
            RuntimeGauges {
                alive_tasks: 12,
                global_queue_depth: 0,
                blocking_threads: -1,
                inflight_calls: 7,
                requests_total: 5,
                workers: 2,
                worker_busy_us: 1_500_000,
                worker_parks: 40,
                worker_steals: 9,
                local_queue_depth: 3,
            }
        );
    }

    #[test]
    fn the_p99_of_an_interval_comes_from_bucket_deltas() {
        let text = |counts: [u64; 4]| {
            format!(
                "numaload_request_duration_seconds_bucket{{le=\"0.001\"}} {}\n\
                 numaload_request_duration_seconds_bucket{{le=\"0.01\"}} {}\n\
                 numaload_request_duration_seconds_bucket{{le=\"0.1\"}} {}\n\
                 numaload_request_duration_seconds_bucket{{le=\"+Inf\"}} {}\n",
                counts[0], counts[1], counts[2], counts[3]
            )
        };
        let before = parse_buckets(&text([100, 100, 100, 100]));
        // 100 new requests: 98 under 1 ms, 2 between 10 and 100 ms -> p99 is in the 0.1 bucket.
        let after = parse_buckets(&text([198, 198, 200, 200]));
        assert_eq!(interval_p99_ns(&before, &after), Some(100_000_000));
        assert_eq!(interval_p99_ns(&before, &before), None, "nothing new");
        assert_eq!(interval_p99_ns(&before, &Vec::new()), None);
    }

    #[test]
    fn a_body_is_complete_only_when_all_of_it_arrived() {
        let full = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello";
        assert_eq!(complete_body(full).as_deref(), Some("hello"));
        assert_eq!(complete_body(&full[..full.len() - 1]), None);
        assert_eq!(
            complete_body(b"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n"),
            None
        );
    }
}
