//! Reading a replica's `/metrics` (Prometheus text) for the sampler: tokio tasks, queue depth,
//! blocking threads and in-flight C calls, which only the process itself can tell.
//!
//! One keep-alive connection per replica, a short timeout, and a parser that reads only the
//! few unlabelled gauges it needs. A scrape that fails or is slow is reported as missing
//! (`-1`), never as zero.

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
}

impl RuntimeGauges {
    pub const MISSING: RuntimeGauges = RuntimeGauges {
        alive_tasks: -1,
        global_queue_depth: -1,
        blocking_threads: -1,
        inflight_calls: -1,
    };
}

/// Picks the gauges out of a Prometheus text exposition.
pub fn parse_gauges(text: &str) -> RuntimeGauges {
    let mut gauges = RuntimeGauges::MISSING;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
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
            _ => continue,
        };
        *slot = value as i64;
    }
    gauges
}

/// One scrape's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scrape {
    pub gauges: RuntimeGauges,
    /// How long the request took; the timeout itself (a lower bound) when it timed out; `None`
    /// when it failed outright.
    pub probe: Option<Duration>,
    pub timed_out: bool,
}

/// A kept-open connection to one replica's `/metrics`.
#[derive(Debug)]
pub struct Scraper {
    address: SocketAddr,
    stream: Option<TcpStream>,
    buffer: Vec<u8>,
}

/// Larger answers are not a numaload target's `/metrics`.
const MAX_RESPONSE: usize = 1 << 20;

impl Scraper {
    pub fn new(address: SocketAddr) -> Self {
        Self {
            address,
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
                probe: Some(started.elapsed()),
                timed_out: false,
            },
            Ok(None) => {
                self.stream = None;
                Scrape {
                    gauges: RuntimeGauges::MISSING,
                    probe: None,
                    timed_out: false,
                }
            }
            Err(_) => {
                // The answer may still arrive on this connection: start afresh next time.
                self.stream = None;
                Scrape {
                    gauges: RuntimeGauges::MISSING,
                    probe: Some(timeout),
                    timed_out: true,
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
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: numaload-sampler\r\n\r\n")
            .await
            .ok()?;
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
fn complete_body(buffer: &[u8]) -> Option<String> {
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
    fn reads_the_gauges_it_needs_and_marks_the_rest_missing() {
        let text = "# HELP tokio_alive_tasks Alive tasks.\n# TYPE tokio_alive_tasks gauge\n\
                    tokio_alive_tasks 12\ntokio_global_queue_depth 0\n\
                    numaload_requests_total{status=\"200\"} 5\nnumaload_ffi_inflight_calls 7\n";
        let g = parse_gauges(text);
        assert_eq!(
            g,
            RuntimeGauges {
                alive_tasks: 12,
                global_queue_depth: 0,
                blocking_threads: -1,
                inflight_calls: 7
            }
        );
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
