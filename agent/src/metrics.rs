//! The agent's own `/metrics` (Prometheus text), served on `numaload agent --metrics-listen`:
//! whether a run is going, how runs ended, how many replicas it keeps running, and its own
//! process figures under the standard `process_*` names — so a fleet's agents can be watched
//! and alerted on like the targets they start.
//!
//! The page is written by the Prometheus project's `prometheus-client` crate (its Prometheus
//! text 0.0.4 encoder): [`AgentMetrics`] is a [`Collector`] over the relaxed atomics the service
//! bumps. `gauge`, `counter` and `Value` (crate-private) are the small helpers `watch`'s exporter shares.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    CounterValueEncoder, DescriptorEncoder, EncodeCounterValue, EncodeGaugeValue, EncodeMetric,
    GaugeValueEncoder,
};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// The `Content-Type` of a `/metrics` page.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Counters the service updates; cheap relaxed atomics, read only when scraped.
#[derive(Debug, Default)]
pub struct AgentMetrics {
    pub runs_started: AtomicU64,
    pub runs_refused_busy: AtomicU64,
    pub runs_refused_invalid: AtomicU64,
    pub runs_active: AtomicU64,
    pub layouts_ok: AtomicU64,
    pub layouts_failed: AtomicU64,
    pub replicas_running: AtomicU64,
}

impl AgentMetrics {
    /// The exposition text.
    pub fn render(self: &Arc<Self>) -> String {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Arc::clone(self)));
        encode(&registry)
    }
}

impl Collector for AgentMetrics {
    fn encode(&self, mut out: DescriptorEncoder<'_>) -> fmt::Result {
        let out = &mut out;
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        if let Ok(usage) = crate::procfs::read_usage(std::process::id()) {
            gauge(
                out,
                "process_threads",
                "OS threads of the agent process.",
                usage.threads,
            )?;
            counter(
                out,
                "process_cpu_seconds_total",
                "User and system CPU time of the agent process, in seconds.",
                usage.cpu_time_ns as f64 / 1e9,
            )?;
            gauge(
                out,
                "process_resident_memory_bytes",
                "Resident memory size of the agent process, in bytes.",
                usage.rss_bytes,
            )?;
        }
        if let Some(open) = crate::procfs::own_open_fds() {
            gauge(
                out,
                "process_open_fds",
                "Open file descriptors of the agent process.",
                open,
            )?;
        }
        labelled_counter(
            out,
            "numaload_agent_runs_total",
            "Execute calls by outcome.",
            "outcome",
            &[
                ("started", get(&self.runs_started)),
                ("refused_busy", get(&self.runs_refused_busy)),
                ("refused_invalid", get(&self.runs_refused_invalid)),
            ],
        )?;
        gauge(
            out,
            "numaload_agent_run_active",
            "1 while a run is going.",
            get(&self.runs_active),
        )?;
        labelled_counter(
            out,
            "numaload_agent_layouts_total",
            "Layouts finished, by status.",
            "status",
            &[
                ("ok", get(&self.layouts_ok)),
                ("failed", get(&self.layouts_failed)),
            ],
        )?;
        gauge(
            out,
            "numaload_agent_replicas_running",
            "Replica processes the agent is running now.",
            get(&self.replicas_running),
        )
    }
}

/// The page of everything registered in `registry`, in the Prometheus text format.
pub(crate) fn encode(registry: &Registry) -> String {
    let mut page = String::new();
    // Writing to a String cannot fail, and the collectors fail only on a write error.
    let _ = prometheus_client::encoding::prometheus_text::encode(&mut page, registry);
    page
}

/// Encodes a gauge family with one unlabelled sample.
pub(crate) fn gauge(
    out: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    value: impl EncodeGaugeValue + fmt::Debug + Send + Sync,
) -> fmt::Result {
    ConstGauge::new(value).encode(out.encode_descriptor(name, help, None, MetricType::Gauge)?)
}

/// Encodes a counter family with one unlabelled sample; `name` ends in `_total`.
pub(crate) fn counter(
    out: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    value: impl EncodeCounterValue + fmt::Debug + Send + Sync,
) -> fmt::Result {
    ConstCounter::new(value).encode(out.encode_descriptor(
        counter_base(name),
        help,
        None,
        MetricType::Counter,
    )?)
}

/// A counter family with one label, one sample per `(label value, count)`.
fn labelled_counter(
    out: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    label: &str,
    values: &[(&str, u64)],
) -> fmt::Result {
    let mut family = out.encode_descriptor(counter_base(name), help, None, MetricType::Counter)?;
    for (value, count) in values {
        ConstCounter::new(*count).encode(family.encode_family(&[(label, *value)])?)?;
    }
    Ok(())
}

/// A counter's name without the `_total` the encoder appends to every counter.
pub(crate) fn counter_base(name: &str) -> &str {
    debug_assert!(name.ends_with("_total"), "counter {name:?} without _total");
    name.strip_suffix("_total").unwrap_or(name)
}

/// A sample value written as the shortest text that reads back the same: a whole number
/// without a fraction (`2`, where the library writes an `f64` as `2.0`), else the float.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Value(pub f64);

/// Whole numbers below this are written as integers (exact in an `f64`: below 2^53).
const EXACT_INTEGER: f64 = 9_007_199_254_740_992.0;

impl Value {
    fn integer(self) -> Option<i64> {
        (self.0.fract() == 0.0 && self.0.abs() < EXACT_INTEGER).then_some(self.0 as i64)
    }
}

impl EncodeGaugeValue for Value {
    fn encode(&self, encoder: &mut GaugeValueEncoder<'_>) -> fmt::Result {
        match self.integer() {
            Some(n) => EncodeGaugeValue::encode(&n, encoder),
            None => EncodeGaugeValue::encode(&self.0, encoder),
        }
    }
}

impl EncodeCounterValue for Value {
    fn encode(&self, encoder: &mut CounterValueEncoder<'_>) -> fmt::Result {
        match self.integer() {
            Some(n) if n >= 0 => EncodeCounterValue::encode(&(n as u64), encoder),
            _ => EncodeCounterValue::encode(&self.0, encoder),
        }
    }
}

/// Serves `GET /metrics` (any path) until the task is dropped; one short response per connection.
pub async fn serve(listener: TcpListener, metrics: Arc<AgentMetrics>) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        let metrics = Arc::clone(&metrics);
        tokio::spawn(async move {
            let mut request = [0u8; 1024];
            // Read the request head (bounded); its content does not matter.
            let read =
                tokio::time::timeout(std::time::Duration::from_secs(2), stream.read(&mut request))
                    .await;
            if !matches!(read, Ok(Ok(n)) if n > 0) {
                return;
            }
            let body = metrics.render();
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: {CONTENT_TYPE}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.write_all(body.as_bytes()).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_values_are_written_without_a_fraction() {
        #[derive(Debug)]
        struct Page;
        impl Collector for Page {
            fn encode(&self, mut out: DescriptorEncoder<'_>) -> fmt::Result {
                gauge(&mut out, "a", "A.", Value(2.0))?;
                gauge(&mut out, "b", "B.", Value(1.5))?;
                gauge(&mut out, "c", "C.", Value(f64::NAN))?;
                counter(&mut out, "d_seconds_total", "D.", Value(3.0))
            }
        }
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Page));
        assert_eq!(
            encode(&registry),
            "# HELP a A.\n# TYPE a gauge\na 2\n# HELP b B.\n# TYPE b gauge\nb 1.5\n\
             # HELP c C.\n# TYPE c gauge\nc NaN\n\
             # HELP d_seconds_total D.\n# TYPE d_seconds_total counter\nd_seconds_total 3\n"
        );
    }

    #[tokio::test]
    async fn serves_counters_in_prometheus_text() {
        let metrics = Arc::new(AgentMetrics::default());
        metrics.runs_started.fetch_add(2, Ordering::Relaxed);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("addr");
        let server = tokio::spawn(serve(listener, Arc::clone(&metrics)));
        let mut stream = tokio::net::TcpStream::connect(address)
            .await
            .expect("connect");
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .expect("write");
        let mut text = String::new();
        stream.read_to_string(&mut text).await.expect("read");
        server.abort();
        assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
        assert!(
            text.contains("numaload_agent_runs_total{outcome=\"started\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE process_threads gauge\nprocess_threads "),
            "{text}"
        );
        for series in [
            "\nprocess_cpu_seconds_total ",
            "\nprocess_resident_memory_bytes ",
            "\nprocess_open_fds ",
        ] {
            assert!(text.contains(series), "{series} not in {text}");
        }
    }
}
