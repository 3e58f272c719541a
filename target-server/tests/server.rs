//! The server in-process: `serve` on a listener of the test's own, driven by a raw HTTP/1.1
//! client so that what goes over the wire is exactly what the test wrote.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use numaload_target::{serve, ServerConfig, Variant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A server running on the test's runtime until [`TestServer::stop`].
struct TestServer {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl TestServer {
    async fn start(work_us: u64) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let config = ServerConfig {
            variant: Variant::Async,
            work_us,
        };
        let task = tokio::spawn(serve(listener, config, async {
            let _ = stopped.await;
        }));
        TestServer { addr, stop, task }
    }

    async fn connect(&self) -> Client {
        let stream = TcpStream::connect(self.addr).await.expect("connect");
        Client {
            stream: BufReader::new(stream),
        }
    }

    /// One request on a fresh connection.
    async fn get(&self, path: &str) -> Response {
        self.connect().await.get(path).await
    }

    async fn metrics(&self) -> Metrics {
        let response = self.get("/metrics").await;
        assert_eq!(response.status, 200);
        Metrics::parse(&response.body)
    }

    /// Signals shutdown and expects `serve` to return `Ok` soon.
    async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(3), self.task)
            .await
            .expect("serve returns after shutdown")
            .expect("serve task did not panic")
            .expect("serve returns Ok");
    }
}

#[derive(Debug)]
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A keep-alive HTTP/1.1 client on one TCP connection.
struct Client {
    stream: BufReader<TcpStream>,
}

impl Client {
    async fn get(&mut self, path: &str) -> Response {
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
/// `name{labels} value` with a float value, and every metric has `# HELP` and `# TYPE`.
#[derive(Debug)]
struct Metrics(BTreeMap<String, f64>);

impl Metrics {
    fn parse(page: &str) -> Self {
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
                assert!(help.contains_key(name), "no HELP for {name}");
                assert!(kind.contains_key(name), "no TYPE for {name}");
                samples.insert(series.to_owned(), value);
            }
        }
        Metrics(samples)
    }

    fn get(&self, name: &str) -> f64 {
        *self
            .0
            .get(name)
            .unwrap_or_else(|| panic!("no {name} in {:?}", self.0))
    }
}

fn process_cpu_time() -> Duration {
    use nix::time::{clock_gettime, ClockId};
    let t = clock_gettime(ClockId::CLOCK_PROCESS_CPUTIME_ID).expect("process CPU clock");
    Duration::new(t.tv_sec() as u64, t.tv_nsec() as u32)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_root_returns_200_with_a_tiny_body() {
    let server = TestServer::start(0).await;
    for path in ["/", "/anything/else?x=1"] {
        let response = server.get(path).await;
        assert_eq!(response.status, 200, "{path}");
        assert_eq!(response.body, "ok\n");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_us_costs_cpu_not_just_time() {
    let server = TestServer::start(2000).await;
    let mut client = server.connect().await;
    let (wall, cpu) = (Instant::now(), process_cpu_time());
    for _ in 0..20 {
        assert_eq!(client.get("/").await.status, 200);
    }
    let (wall, cpu) = (wall.elapsed(), process_cpu_time() - cpu);
    // 20 × 2 ms of spinning: at least 40 ms of wall time and of CPU time (a sleep would pass
    // the first bound but not the second).
    assert!(wall >= Duration::from_millis(40), "took only {wall:?}");
    assert!(cpu >= Duration::from_millis(40), "used only {cpu:?} of CPU");
    assert_eq!(server.metrics().await.get("numaload_work_us"), 2000.0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_well_formed_and_count_requests() {
    let server = TestServer::start(0).await;
    let before = server.metrics().await;
    for _ in 0..7 {
        assert_eq!(server.get("/").await.status, 200);
    }
    let after = server.metrics().await;
    assert_eq!(
        after.get("numaload_requests_total") - before.get("numaload_requests_total"),
        7.0,
        "/metrics itself is not counted"
    );
    assert_eq!(after.get("tokio_workers"), 2.0);
    assert!(after.get("process_os_threads") >= after.get("tokio_workers"));
    assert!(
        after.get("tokio_alive_tasks") >= 1.0,
        "the serve task at least"
    );
    assert!(after.get("tokio_global_queue_depth") >= 0.0);
    assert_eq!(after.get("numaload_work_us"), 0.0);

    let response = server.get("/metrics").await;
    assert!(response
        .header("content-type")
        .is_some_and(|t| t.starts_with("text/plain; version=0.0.4")));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_serves_many_requests_on_one_connection() {
    let server = TestServer::start(10).await;
    let mut client = server.connect().await;
    for _ in 0..5 {
        let response = client.get("/").await;
        assert_eq!(response.status, 200);
        assert_ne!(response.header("connection"), Some("close"));
    }
    let metrics = client.get("/metrics").await;
    let metrics = Metrics::parse(&metrics.body);
    assert_eq!(metrics.get("numaload_requests_total"), 5.0);
    assert_eq!(metrics.get("numaload_connections_open"), 1.0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_and_broken_connections_do_not_hurt_the_server() {
    let server = TestServer::start(0).await;

    let mut garbage = TcpStream::connect(server.addr).await.expect("connect");
    garbage
        .write_all(b"\x00\x01 not http at all\r\n\r\n")
        .await
        .expect("send garbage");
    let mut reply = Vec::new();
    let _ = garbage.read_to_end(&mut reply).await;
    assert!(
        reply.is_empty() || reply.starts_with(b"HTTP/1.1 400"),
        "{:?}",
        String::from_utf8_lossy(&reply)
    );

    let mut half = TcpStream::connect(server.addr).await.expect("connect");
    half.write_all(b"GET / HTTP/1.1\r\nHost: te")
        .await
        .expect("send half a request");
    drop(half);

    assert_eq!(server.get("/").await.status, 200);
    // Both bad connections are counted once they are closed.
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let errors = server
            .metrics()
            .await
            .get("numaload_connection_errors_total");
        if errors >= 2.0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{errors} connection errors counted"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_idle_keep_alive_connections() {
    let server = TestServer::start(0).await;
    let mut client = server.connect().await;
    assert_eq!(client.get("/").await.status, 200);
    let addr = server.addr;
    // `stop` fails if serve waits for the idle connection.
    server.stop().await;
    let mut rest = Vec::new();
    let read = client.stream.read_to_end(&mut rest).await;
    assert!(read.is_err() || rest.is_empty(), "connection closed");
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "no longer listening"
    );
}
