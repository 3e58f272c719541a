//! The test harness shared by the integration tests: [`TestServer`] runs `serve` in-process
//! on a listener of the test's own, [`Client`] is a raw HTTP/1.1 client so that what goes over
//! the wire is exactly what the test wrote, and [`Metrics`] reads a `/metrics` page.

// Each test binary uses a different part of the harness.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use numaload_target::{serve, ServerConfig};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A server running on the test's runtime until [`TestServer::stop`].
pub struct TestServer {
    pub addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl TestServer {
    /// The `async` variant spinning `work_us` per request.
    pub async fn start(work_us: u64) -> Self {
        Self::start_with(ServerConfig::async_spin(work_us)).await
    }

    pub async fn start_with(config: ServerConfig) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, config, async {
            let _ = stopped.await;
        }));
        TestServer { addr, stop, task }
    }

    pub async fn connect(&self) -> Client {
        let stream = TcpStream::connect(self.addr).await.expect("connect");
        Client {
            stream: BufReader::new(stream),
        }
    }

    /// One request on a fresh connection.
    pub async fn get(&self, path: &str) -> Response {
        self.connect().await.get(path).await
    }

    pub async fn metrics(&self) -> Metrics {
        let response = self.get("/metrics").await;
        assert_eq!(response.status, 200);
        Metrics::parse(&response.body)
    }

    /// Signals shutdown and expects `serve` to return `Ok` soon.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(3), self.task)
            .await
            .expect("serve returns after shutdown")
            .expect("serve task did not panic")
            .expect("serve returns Ok");
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A keep-alive HTTP/1.1 client on one TCP connection.
pub struct Client {
    pub stream: BufReader<TcpStream>,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).await.expect("connect");
        // As a load generator would: no Nagle delay on small requests.
        stream.set_nodelay(true).expect("nodelay");
        Client {
            stream: BufReader::new(stream),
        }
    }

    pub async fn get(&mut self, path: &str) -> Response {
        let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n");
        self.stream
            .get_mut()
            .write_all(request.as_bytes())
            .await
            .expect("send request");
        self.read_response().await
    }

    async fn read_response(&mut self) -> Response {
        let mut status_line = String::new();
        self.stream
            .read_line(&mut status_line)
            .await
            .expect("status line");
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            self.stream.read_line(&mut line).await.expect("header");
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').expect("header has a colon");
            headers.push((name.to_owned(), value.trim().to_owned()));
        }
        let mut response = Response {
            status,
            headers,
            body: String::new(),
        };
        let length: usize = response
            .header("content-length")
            .expect("content-length")
            .parse()
            .expect("numeric content-length");
        let mut body = vec![0; length];
        self.stream.read_exact(&mut body).await.expect("body");
        response.body = String::from_utf8(body).expect("utf-8 body");
        response
    }
}

/// A `/metrics` page checked line by line: every sample is `name value` or
/// `name{labels} value` with a float value, and every metric has `# HELP` and `# TYPE` (a
/// histogram's under its family name, without `_bucket`, `_sum`, `_count`).
#[derive(Debug)]
pub struct Metrics {
    samples: BTreeMap<String, f64>,
    /// The page as served.
    pub text: String,
}

impl Metrics {
    pub fn parse(page: &str) -> Self {
        let mut help = BTreeMap::new();
        let mut kind = BTreeMap::new();
        let mut samples = BTreeMap::new();
        for line in page.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let (name, text) = rest.split_once(' ').expect("HELP name text");
                assert!(!text.is_empty(), "empty help: {line}");
                help.insert(name.to_owned(), text.to_owned());
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, t) = rest.split_once(' ').expect("TYPE name type");
                assert!(
                    ["counter", "gauge", "histogram", "summary", "untyped"].contains(&t),
                    "bad type: {line}"
                );
                assert!(help.contains_key(name), "TYPE before HELP: {line}");
                kind.insert(name.to_owned(), t.to_owned());
            } else {
                let (series, value) = line.rsplit_once(' ').expect("sample `name value`");
                let name = match series.split_once('{') {
                    Some((name, labels)) => {
                        assert!(labels.ends_with('}'), "unclosed labels: {line}");
                        name
                    }
                    None => series,
                };
                assert!(
                    !name.is_empty()
                        && name
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
                    "bad metric name: {line}"
                );
                let value: f64 = value
                    .parse()
                    .unwrap_or_else(|_| panic!("value is not a float: {line}"));
                let family = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|suffix| {
                        let family = name.strip_suffix(suffix)?;
                        (kind.get(family).map(String::as_str) == Some("histogram"))
                            .then_some(family)
                    })
                    .unwrap_or(name);
                assert!(help.contains_key(family), "no HELP for {name}");
                assert!(kind.contains_key(family), "no TYPE for {name}");
                samples.insert(series.to_owned(), value);
            }
        }
        Metrics {
            samples,
            text: page.to_owned(),
        }
    }

    /// The value of a series (`name` or `name{labels}` exactly as served), if present.
    pub fn try_get(&self, series: &str) -> Option<f64> {
        self.samples.get(series).copied()
    }

    pub fn get(&self, name: &str) -> f64 {
        *self
            .samples
            .get(name)
            .unwrap_or_else(|| panic!("no {name} in {:?}", self.samples))
    }
}

/// The series of `numaload_requests_total` counting requests answered 200.
pub const OK_REQUESTS: &str = "numaload_requests_total{status=\"200\"}";

pub fn process_cpu_time() -> Duration {
    use nix::time::{clock_gettime, ClockId};
    let t = clock_gettime(ClockId::CLOCK_PROCESS_CPUTIME_ID).expect("process CPU clock");
    Duration::new(t.tv_sec() as u64, t.tv_nsec() as u32)
}

/// OS threads of this (test) process, from `/proc/self/status`.
pub fn os_threads() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("a Threads line")
}

/// A server on a runtime of its own (built by `runtime::build`, so `/metrics` counts its
/// blocking threads), in a thread of its own: the test's runtime plays the load generator and
/// is not starved by what the server does to its workers.
pub struct RuntimeServer {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<anyhow::Result<()>>>,
}

impl RuntimeServer {
    pub fn start(
        workers: usize,
        max_blocking_threads: Option<usize>,
        config: ServerConfig,
    ) -> Self {
        let (stop, stopped) = oneshot::channel::<()>();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let rt = numaload_target::runtime::build(workers, max_blocking_threads)?;
            let served = rt.block_on(async {
                // Set up (pool threads started) before the address says "ready", as `run`.
                let server = numaload_target::Server::new(config)?;
                let listener = TcpListener::bind("127.0.0.1:0").await?;
                addr_tx.send(listener.local_addr()?)?;
                server
                    .serve(listener, async {
                        let _ = stopped.await;
                    })
                    .await
            });
            rt.shutdown_timeout(Duration::from_secs(1));
            served
        });
        let addr = addr_rx
            .recv_timeout(Duration::from_secs(5))
            .expect("the server thread reports its address");
        RuntimeServer {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    pub async fn connect(&self) -> Client {
        Client::connect(self.addr).await
    }

    pub async fn get(&self, path: &str) -> Response {
        self.connect().await.get(path).await
    }

    pub async fn metrics(&self) -> Metrics {
        let response = self.get("/metrics").await;
        assert_eq!(response.status, 200);
        Metrics::parse(&response.body)
    }

    /// Signals shutdown and expects `serve` to return `Ok` within 5 s.
    pub fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let thread = self.thread.take().expect("running");
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !thread.is_finished() {
            assert!(
                std::time::Instant::now() < deadline,
                "serve did not return after shutdown"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        thread
            .join()
            .expect("server thread did not panic")
            .expect("serve returns Ok");
    }
}

impl Drop for RuntimeServer {
    fn drop(&mut self) {
        // A failing test still stops its server; the thread is left to finish on its own.
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
