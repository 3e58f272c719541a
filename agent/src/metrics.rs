//! The agent's own `/metrics` (Prometheus text), served on `numaload agent --metrics-listen`:
//! whether a run is going, how runs ended, how many replicas it keeps running, and its own OS
//! threads — so a fleet's agents can be watched and alerted on like the targets they start.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

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
    pub fn render(&self) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let threads = crate::procfs::read_threads(std::process::id()).unwrap_or(0);
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, samples: &[(&str, u64)]| {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
            for (labels, value) in samples {
                out.push_str(&format!("{name}{labels} {value}\n"));
            }
        };
        metric(
            "process_threads",
            "gauge",
            "OS threads of the agent process.",
            &[("", u64::from(threads))],
        );
        metric(
            "numaload_agent_runs_total",
            "counter",
            "Execute calls by outcome.",
            &[
                ("{outcome=\"started\"}", get(&self.runs_started)),
                ("{outcome=\"refused_busy\"}", get(&self.runs_refused_busy)),
                (
                    "{outcome=\"refused_invalid\"}",
                    get(&self.runs_refused_invalid),
                ),
            ],
        );
        metric(
            "numaload_agent_run_active",
            "gauge",
            "1 while a run is going.",
            &[("", get(&self.runs_active))],
        );
        metric(
            "numaload_agent_layouts_total",
            "counter",
            "Layouts finished, by status.",
            &[
                ("{status=\"ok\"}", get(&self.layouts_ok)),
                ("{status=\"failed\"}", get(&self.layouts_failed)),
            ],
        );
        metric(
            "numaload_agent_replicas_running",
            "gauge",
            "Replica processes the agent is running now.",
            &[("", get(&self.replicas_running))],
        );
        out
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
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
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
    }
}
