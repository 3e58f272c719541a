//! `/metrics` in the Prometheus text exposition format.
//!
//! [`ServerMetrics`] holds the counters every variant shares (requests by status, a latency
//! histogram, connections) and renders them with the tokio runtime's stable metrics and the
//! blocking-pool thread count of [`crate::runtime`]. A variant with metrics of its own (the
//! `ffi` variant's in-flight C calls) implements [`MetricSource`] and is handed to
//! [`ServerMetrics::new`]; its samples are appended to the same page.

use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::runtime::Handle;

use crate::histogram::{HistogramSnapshot, LatencyHistogram};
use crate::{proc_status, runtime};

/// The `Content-Type` of a `/metrics` page.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Metrics a variant adds to `/metrics`.
pub trait MetricSource: Send + Sync + fmt::Debug {
    /// Appends this source's metrics; called on every scrape.
    fn write_metrics(&self, out: &mut Exposition);
}

/// A Prometheus text page being written: each metric with its `# HELP` and `# TYPE` lines.
#[derive(Debug, Default)]
pub struct Exposition {
    text: String,
}

impl Exposition {
    /// Writes a counter (a value that only goes up).
    pub fn counter(&mut self, name: &str, help: &str, value: u64) {
        self.header(name, help, "counter");
        // Writing to a String cannot fail.
        let _ = writeln!(self.text, "{name} {value}");
    }

    /// Writes a counter whose value is not a whole number (seconds).
    pub fn counter_seconds(&mut self, name: &str, help: &str, value: f64) {
        self.header(name, help, "counter");
        let _ = writeln!(self.text, "{name} {}", PromFloat(value));
    }

    /// Writes a gauge (a value that goes up and down).
    pub fn gauge(&mut self, name: &str, help: &str, value: f64) {
        self.header(name, help, "gauge");
        let _ = writeln!(self.text, "{name} {}", PromFloat(value));
    }

    /// Writes a counter with one label, one sample per `(label value, count)`.
    pub fn labelled_counter(
        &mut self,
        name: &str,
        help: &str,
        label: &str,
        values: &[(&str, u64)],
    ) {
        self.header(name, help, "counter");
        debug_assert!(
            is_metric_name(label) && !label.contains(':'),
            "label {label:?}"
        );
        for (value, count) in values {
            let value = escape_label_value(value);
            let _ = writeln!(self.text, "{name}{{{label}=\"{value}\"}} {count}");
        }
    }

    /// Writes a histogram: its `_bucket{le=...}` series, `_sum` and `_count`.
    pub fn histogram(&mut self, name: &str, help: &str, snapshot: &HistogramSnapshot) {
        self.header(name, help, "histogram");
        for (le, count) in &snapshot.cumulative {
            let _ = writeln!(
                self.text,
                "{name}_bucket{{le=\"{}\"}} {count}",
                PromFloat(*le)
            );
        }
        let _ = writeln!(self.text, "{name}_sum {}", PromFloat(snapshot.sum_seconds));
        let _ = writeln!(self.text, "{name}_count {}", snapshot.count);
    }

    fn header(&mut self, name: &str, help: &str, kind: &str) {
        debug_assert!(is_metric_name(name), "invalid metric name {name:?}");
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.text, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    /// The finished page.
    pub fn into_text(self) -> String {
        self.text
    }
}

/// Formats a float as Prometheus spells it (`+Inf`, `-Inf`, `NaN`).
struct PromFloat(f64);

impl fmt::Display for PromFloat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            v if v.is_nan() => f.write_str("NaN"),
            v if v == f64::INFINITY => f.write_str("+Inf"),
            v if v == f64::NEG_INFINITY => f.write_str("-Inf"),
            v => write!(f, "{v}"),
        }
    }
}

/// A label value as the text format wants it: `\\`, `"` and newlines escaped.
fn escape_label_value(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// A counter on its own cache line, so that workers bumping it do not also invalidate the
/// line holding the other counters.
#[derive(Debug, Default)]
#[repr(align(128))]
struct PaddedCounter(AtomicU64);

/// How a workload request ended, as the `status` label of `numaload_requests_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestStatus {
    /// 200: the work was done.
    Ok,
    /// 500: the work failed (a panicked blocking call).
    Failed,
    /// 503: the server could not take the work (shutting down).
    Unavailable,
}

impl RequestStatus {
    /// Every status, in the order `/metrics` lists them.
    pub const ALL: [RequestStatus; 3] = [
        RequestStatus::Ok,
        RequestStatus::Failed,
        RequestStatus::Unavailable,
    ];

    /// The HTTP status code.
    pub fn code(self) -> u16 {
        match self {
            RequestStatus::Ok => 200,
            RequestStatus::Failed => 500,
            RequestStatus::Unavailable => 503,
        }
    }

    fn label(self) -> &'static str {
        match self {
            RequestStatus::Ok => "200",
            RequestStatus::Failed => "500",
            RequestStatus::Unavailable => "503",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The counters every variant keeps, plus what the runtime and the OS report at scrape time.
#[derive(Debug)]
pub struct ServerMetrics {
    /// By [`RequestStatus::index`].
    requests: [PaddedCounter; RequestStatus::ALL.len()],
    latency: LatencyHistogram,
    connections_open: AtomicU64,
    connection_errors: AtomicU64,
    accept_errors: AtomicU64,
    work_us: u64,
    runtime: Handle,
    variant_sources: Vec<Arc<dyn MetricSource>>,
}

impl ServerMetrics {
    /// Metrics of a server running on `runtime` with `work_us` of work per request.
    pub fn new(runtime: Handle, work_us: u64, variant_sources: Vec<Arc<dyn MetricSource>>) -> Self {
        ServerMetrics {
            requests: Default::default(),
            latency: LatencyHistogram::default(),
            connections_open: AtomicU64::new(0),
            connection_errors: AtomicU64::new(0),
            accept_errors: AtomicU64::new(0),
            work_us,
            runtime,
            variant_sources,
        }
    }

    // Relaxed is enough: each counter is independent and only read for reporting.

    /// Counts one workload request (not `/metrics`) that ended with `status` after `latency`
    /// (from the handler's start to its response).
    #[inline]
    pub fn request(&self, status: RequestStatus, latency: Duration) {
        self.requests[status.index()]
            .0
            .fetch_add(1, Ordering::Relaxed);
        self.latency.record(latency);
    }

    /// Workload requests answered with `status` so far.
    pub fn requests(&self, status: RequestStatus) -> u64 {
        self.requests[status.index()].0.load(Ordering::Relaxed)
    }

    /// Workload requests answered so far, whatever their status.
    pub fn requests_total(&self) -> u64 {
        RequestStatus::ALL.iter().map(|&s| self.requests(s)).sum()
    }

    pub(crate) fn connection_opened(&self) {
        self.connections_open.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn connection_closed(&self, failed: bool) {
        self.connections_open.fetch_sub(1, Ordering::Relaxed);
        if failed {
            self.connection_errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts a failed `accept`; returns the new total.
    pub(crate) fn accept_error(&self) -> u64 {
        self.accept_errors.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Renders the whole page. Reads `/proc/self/status` (procfs, microseconds).
    pub fn render(&self) -> String {
        let mut out = Exposition::default();
        if let Some(threads) = proc_status::os_threads() {
            out.gauge(
                "process_os_threads",
                "OS threads of this process (/proc/self/status Threads).",
                threads as f64,
            );
        }
        let rt = self.runtime.metrics();
        out.gauge(
            "tokio_workers",
            "Worker threads of the tokio runtime.",
            rt.num_workers() as f64,
        );
        out.gauge(
            "tokio_alive_tasks",
            "Tasks spawned on the tokio runtime and not yet finished.",
            rt.num_alive_tasks() as f64,
        );
        out.gauge(
            "tokio_global_queue_depth",
            "Tasks waiting in the tokio runtime's global (injection) queue.",
            rt.global_queue_depth() as f64,
        );
        // Stable tokio has busy time and parks per worker; steals and local queue depths need
        // `--cfg tokio_unstable` (set in .cargo/config.toml; absent when RUSTFLAGS overrides it).
        let workers = 0..rt.num_workers();
        #[cfg(tokio_unstable)]
        {
            out.counter(
                "tokio_worker_steals_total",
                "Tasks the runtime's workers stole from each other's local queues, summed over workers.",
                workers.clone().map(|w| rt.worker_steal_count(w)).sum(),
            );
            out.gauge(
                "tokio_worker_local_queue_depth",
                "Tasks waiting in the runtime's workers' local queues, summed over workers.",
                workers
                    .clone()
                    .map(|w| rt.worker_local_queue_depth(w))
                    .sum::<usize>() as f64,
            );
        }
        out.counter_seconds(
            "tokio_worker_busy_seconds_total",
            "Time the runtime's workers spent busy, summed over workers.",
            workers
                .clone()
                .map(|w| rt.worker_total_busy_duration(w).as_secs_f64())
                .sum(),
        );
        out.counter(
            "tokio_worker_parks_total",
            "Times the runtime's workers parked (went idle), summed over workers.",
            workers.map(|w| rt.worker_park_count(w)).sum(),
        );
        if let Some(blocking) = runtime::blocking_threads(&self.runtime) {
            out.gauge(
                "tokio_blocking_threads",
                "Threads of the tokio blocking pool, busy or idle (runtime threads minus workers).",
                blocking as f64,
            );
        }
        let by_status: Vec<(&str, u64)> = RequestStatus::ALL
            .iter()
            .map(|&s| (s.label(), self.requests(s)))
            .collect();
        out.labelled_counter(
            "numaload_requests_total",
            "Workload requests answered (every path except /metrics), by HTTP status.",
            "status",
            &by_status,
        );
        out.histogram(
            "numaload_request_duration_seconds",
            "Time from the handler's start to its response, per workload request.",
            &self.latency.snapshot(),
        );
        out.gauge(
            // Base units, not `_us`: promtool's lint rejects abbreviated and non-base units.
            "numaload_work_seconds",
            "Configured work per request (--work-us), in seconds.",
            self.work_us as f64 / 1e6,
        );
        out.gauge(
            "numaload_connections_open",
            "HTTP connections currently open.",
            self.connections_open.load(Ordering::Relaxed) as f64,
        );
        out.counter(
            "numaload_connection_errors_total",
            "HTTP connections that ended in an error (reset, malformed request, ...).",
            self.connection_errors.load(Ordering::Relaxed),
        );
        out.counter(
            "numaload_accept_errors_total",
            "Failed accept() calls on the listening socket.",
            self.accept_errors.load(Ordering::Relaxed),
        );
        for source in &self.variant_sources {
            source.write_metrics(&mut out);
        }
        out.into_text()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct InFlight;

    impl MetricSource for InFlight {
        fn write_metrics(&self, out: &mut Exposition) {
            out.gauge("numaload_ffi_in_flight", "C calls in flight.", 3.0);
        }
    }

    #[test]
    fn exposition_lines() {
        let mut out = Exposition::default();
        out.counter("a_total", "Things.\nMore", 7);
        out.gauge("b", "B.", 1.5);
        out.gauge("c", "C.", f64::INFINITY);
        assert_eq!(
            out.into_text(),
            "# HELP a_total Things.\\nMore\n# TYPE a_total counter\na_total 7\n\
             # HELP b B.\n# TYPE b gauge\nb 1.5\n\
             # HELP c C.\n# TYPE c gauge\nc +Inf\n"
        );
    }

    #[test]
    fn labels_are_escaped() {
        let mut out = Exposition::default();
        out.labelled_counter("x_total", "X.", "kind", &[("a\"b\\c\nd", 1)]);
        assert!(out
            .into_text()
            .ends_with("x_total{kind=\"a\\\"b\\\\c\\nd\"} 1\n"));
    }

    #[test]
    fn metric_names() {
        assert!(is_metric_name("numaload_requests_total"));
        assert!(is_metric_name("a:b_1"));
        assert!(!is_metric_name("1abc"));
        assert!(!is_metric_name("a-b"));
        assert!(!is_metric_name(""));
    }

    #[test]
    fn render_includes_variant_sources() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let metrics = ServerMetrics::new(rt.handle().clone(), 50, vec![Arc::new(InFlight)]);
        metrics.request(RequestStatus::Ok, Duration::from_micros(70));
        metrics.request(RequestStatus::Ok, Duration::from_millis(3));
        metrics.request(RequestStatus::Unavailable, Duration::from_micros(1));
        assert_eq!(metrics.requests_total(), 3);
        let page = metrics.render();
        assert!(
            page.contains("\nnumaload_requests_total{status=\"200\"} 2\n"),
            "{page}"
        );
        assert!(page.contains("\nnumaload_requests_total{status=\"500\"} 0\n"));
        assert!(page.contains("\nnumaload_requests_total{status=\"503\"} 1\n"));
        assert!(page.contains("\nnumaload_request_duration_seconds_bucket{le=\"0.00005\"} 1\n"));
        assert!(page.contains("\nnumaload_request_duration_seconds_bucket{le=\"0.0001\"} 2\n"));
        assert!(page.contains("\nnumaload_request_duration_seconds_bucket{le=\"+Inf\"} 3\n"));
        assert!(page.contains("\nnumaload_request_duration_seconds_count 3\n"));
        assert!(page.contains("\nnumaload_request_duration_seconds_sum 0.003071\n"));
        assert!(
            !page.contains("tokio_blocking_threads"),
            "not a runtime of ours"
        );
        assert!(page.contains("\nnumaload_work_seconds 0.00005\n"), "{page}");
        assert!(page.contains("\ntokio_workers 1\n"), "{page}");
        assert!(page.ends_with("numaload_ffi_in_flight 3\n"), "{page}");
    }
}
