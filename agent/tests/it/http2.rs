//! The load generator over HTTP/2 against real servers on 127.0.0.1: nginx (Debian's 1.22,
//! its configuration written by each test) over h2c (prior knowledge) and over TLS with
//! `http2`, and the Go test server over TLS (Go's standard library chooses `h2` by ALPN).
//! Streams are really multiplexed (a server that blocks per request answers more than one
//! connection could one at a time; nginx logs only the plan's connections), a GOAWAY mid-run
//! (nginx's `keepalive_requests`) is counted and costs no request, and a server that does not
//! choose `h2` is refused in one line. A bare server of the test's own refuses streams
//! (REFUSED_STREAM) without going away: the requests go again on the same connection.

use std::collections::BTreeSet;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use numaload_agent::loadgen::{
    self, Cancel, LoadConfig, LoadError, LoadReport, Mode, Protocol, TlsSettings,
};
use rcgen::{CertificateParams, KeyPair};

/// A loopback port nothing listens on right now.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("http2")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// A self-signed certificate for 127.0.0.1 in `dir` (`cert.pem`, `key.pem`); its PEM.
fn certificate(dir: &Path) -> String {
    let key = KeyPair::generate().expect("key");
    let cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .expect("params")
        .self_signed(&key)
        .expect("cert");
    std::fs::write(dir.join("cert.pem"), cert.pem()).expect("cert");
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).expect("key");
    cert.pem()
}

/// A server process, stopped (SIGTERM, then waited for) when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
    dir: PathBuf,
}

impl Server {
    /// nginx, one worker, `listen` (e.g. `http2` or `ssl http2`) on a free port, `extra` in
    /// its `http` block; its access log holds `$connection $connection_requests
    /// $server_protocol $status` per request.
    fn nginx(dir: &Path, listen: &str, extra: &str) -> Self {
        let port = free_port();
        let d = dir.display();
        let ssl = if listen.contains("ssl") {
            format!("ssl_certificate {d}/cert.pem;\nssl_certificate_key {d}/key.pem;\n")
        } else {
            String::new()
        };
        let conf = format!(
            "daemon off;\nmaster_process on;\nworker_processes 1;\nuser root;\n\
             pid {d}/nginx.pid;\nlock_file {d}/nginx.lock;\nerror_log stderr warn;\n\
             events {{ worker_connections 1024; }}\nhttp {{\n\
             log_format conns '$connection $connection_requests $server_protocol $status';\n\
             access_log {d}/access.log conns;\n\
             client_body_temp_path {d}/cb;\nproxy_temp_path {d}/px;\n\
             fastcgi_temp_path {d}/fc;\nuwsgi_temp_path {d}/uw;\nscgi_temp_path {d}/sc;\n\
             {ssl}{extra}\n\
             server {{ listen 127.0.0.1:{port} {listen}; location / {{ return 200 \"ok\\n\"; }} }}\n}}\n"
        );
        std::fs::write(dir.join("nginx.conf"), conf).expect("conf");
        let child = Command::new("/usr/sbin/nginx")
            .args(["-p", &d.to_string(), "-c", "nginx.conf", "-e", "stderr"])
            .stdout(Stdio::null())
            .spawn()
            .expect("nginx (scripts/setup-system.sh installs it)");
        Self::ready(child, port, dir)
    }

    /// The Go test server's cgo build over TLS, each request blocking `block_us` in C.
    fn go_tls(dir: &Path, block_us: u32) -> Self {
        let port = free_port();
        let bin =
            numaload_test_support::go_servers(env!("CARGO_TARGET_TMPDIR")).join("go-server-cgo");
        let child = Command::new(bin)
            .arg("-listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("-block-us")
            .arg(block_us.to_string())
            .arg("-tls-cert")
            .arg(dir.join("cert.pem"))
            .arg("-tls-key")
            .arg(dir.join("key.pem"))
            .env("GOMAXPROCS", "1")
            .stdout(Stdio::null())
            .spawn()
            .expect("go server");
        Self::ready(child, port, dir)
    }

    fn ready(child: Child, port: u16, dir: &Path) -> Self {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let server = Self {
            child,
            addr,
            dir: dir.to_owned(),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "the server did not listen on {addr}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    /// Stops the server; its access log's lines (nginx), each split on spaces.
    fn stop(mut self) -> Vec<Vec<String>> {
        self.terminate();
        let log = std::fs::read_to_string(self.dir.join("access.log")).unwrap_or_default();
        log.lines()
            .map(|l| l.split(' ').map(str::to_owned).collect())
            .collect()
    }

    fn terminate(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.terminate();
    }
}

fn config(protocol: Protocol, target: SocketAddr, connections: u32, streams: u32) -> LoadConfig {
    LoadConfig {
        warmup: Duration::from_millis(200),
        duration: Duration::from_secs(1),
        timeout: Duration::from_secs(2),
        protocol,
        streams,
        ..crate::loadgen::config(Mode::Closed, vec![target], connections)
    }
}

fn tls(ca_pem: &str) -> Option<TlsSettings> {
    Some(TlsSettings {
        server_name: None,
        ca_pem: Some(ca_pem.as_bytes().to_vec()),
        insecure_skip_verify: false,
        alpn: vec!["h2".into()],
        resume: true,
    })
}

/// The replica's figures, over every worker.
fn totals(report: &LoadReport) -> loadgen::TargetStats {
    let mut all = loadgen::TargetStats::new(0);
    for worker in &report.workers {
        for t in &worker.per_target {
            all.add(t);
        }
    }
    all
}

#[test]
fn h2c_to_nginx_carries_every_request_on_the_plans_connections_in_both_modes() {
    let _turn = crate::turns::beside_others();
    let dir = scratch("h2c");
    let server = Server::nginx(&dir, "http2", "keepalive_requests 1000000;");
    let closed = config(Protocol::H2c, server.addr, 2, 8);
    let report = loadgen::run(&closed, &Cancel::new()).expect("h2c load");
    let t = totals(&report);
    assert!(t.requests > 200, "{} requests", t.requests);
    assert_eq!(t.errors.total(), 0, "{:?}", t.errors);
    assert_eq!(t.status_codes.get(&200), Some(&t.requests));
    assert_eq!(t.counts.goaways, 0);
    assert_eq!(t.setup.connect.len(), 2, "two connections opened");
    let open = LoadConfig {
        mode: Mode::Open {
            rate_per_sec: 600.0,
        },
        ..config(Protocol::H2c, server.addr, 2, 4)
    };
    let report = loadgen::run(&open, &Cancel::new()).expect("h2c open loop");
    let t = totals(&report);
    let window = loadgen::window_sends(&open).expect("open loop");
    assert_eq!(
        t.requests + t.errors.total(),
        window,
        "every send slot accounted for"
    );
    assert!(
        t.requests * 10 >= window * 9,
        "{} of {window} served",
        t.requests
    );
    assert_eq!(
        t.errors.stream_reset + t.errors.parse + t.errors.io,
        0,
        "{:?}",
        t.errors
    );
    let log = server.stop();
    assert!(!log.is_empty(), "nginx logged the requests");
    assert!(
        log.iter().all(|l| l[2] == "HTTP/2.0"),
        "every request over HTTP/2"
    );
    let connections: BTreeSet<&str> = log.iter().map(|l| l[0].as_str()).collect();
    assert_eq!(
        connections.len(),
        4,
        "2 connections per run, nothing else: {connections:?}"
    );
}

#[test]
fn an_unreachable_target_counts_connect_errors_in_both_modes_as_http1_does() {
    let _turn = crate::turns::beside_others();
    // As `loadgen::unreachable_target_counts_connect_errors_in_bounded_time` for HTTP/1.1
    // (with its 4 connections, whose connect tries at the scans outpace their send slots):
    // every send slot of the window a refused connect spent is a `connect` error.
    let refused = SocketAddr::from(([127, 0, 0, 1], free_port()));
    for mode in [
        Mode::Open {
            rate_per_sec: 200.0,
        },
        Mode::Closed,
    ] {
        let config = LoadConfig {
            mode,
            warmup: Duration::from_millis(100),
            duration: Duration::from_millis(500),
            ..config(Protocol::H2c, refused, 4, 4)
        };
        let t = totals(&crate::loadgen::run_bounded(&config));
        crate::loadgen::assert_only_connect_errors(t.requests, &t.errors, mode);
        if let Mode::Open { .. } = mode {
            let window = loadgen::window_sends(&config).expect("open loop");
            assert_eq!(t.errors.total(), window, "every send slot accounted for");
        }
    }
}

#[test]
fn streams_are_multiplexed_on_one_tls_connection_to_the_go_server() {
    let _turn = crate::turns::beside_others();
    let dir = scratch("go");
    let ca = certificate(&dir);
    // Each request blocks 20 ms in the server: one connection taking one request at a time
    // would answer at most 50 a second; with 10 streams it answers up to 500.
    let server = Server::go_tls(&dir, 20_000);
    let report = loadgen::run(
        &LoadConfig {
            tls: tls(&ca),
            ..config(Protocol::H2, server.addr, 1, 10)
        },
        &Cancel::new(),
    )
    .expect("Go chooses h2");
    let t = totals(&report);
    assert_eq!(t.errors.total(), 0, "{:?}", t.errors);
    assert_eq!(t.setup.connect.len(), 1, "one connection");
    assert_eq!(t.setup.tls_handshake.len(), 1, "one handshake");
    assert!(t.requests > 150, "{} requests: not multiplexed", t.requests);
    drop(server);
}

#[test]
fn a_goaway_mid_run_is_counted_and_its_connection_reopened_without_losing_a_request() {
    let _turn = crate::turns::beside_others();
    let dir = scratch("goaway");
    let ca = certificate(&dir);
    // After 100 requests on a connection nginx sends GOAWAY and closes it.
    let server = Server::nginx(&dir, "ssl http2", "keepalive_requests 100;");
    let report = loadgen::run(
        &LoadConfig {
            tls: tls(&ca),
            ..config(Protocol::H2, server.addr, 2, 8)
        },
        &Cancel::new(),
    )
    .expect("nginx chooses h2");
    let t = totals(&report);
    assert!(t.counts.goaways >= 2, "{:?}", t.counts);
    assert_eq!(t.errors.total(), 0, "{:?}", t.errors);
    assert!(t.requests > 300, "{} requests", t.requests);
    let log = server.stop();
    let most = log
        .iter()
        .map(|l| l[1].parse::<u32>().expect("n"))
        .max()
        .expect("lines");
    assert!(
        most <= 100,
        "nginx took at most 100 per connection ({most})"
    );
    let connections: BTreeSet<&str> = log.iter().map(|l| l[0].as_str()).collect();
    assert!(
        connections.len() as u64 > t.counts.goaways,
        "{} connections",
        connections.len()
    );
}

#[test]
fn a_tls_server_without_http2_is_refused_before_the_load_in_one_line() {
    let _turn = crate::turns::beside_others();
    let dir = scratch("no-h2");
    let ca = certificate(&dir);
    let server = Server::nginx(&dir, "ssl", "");
    let error = loadgen::run(
        &LoadConfig {
            tls: tls(&ca),
            ..config(Protocol::H2, server.addr, 1, 1)
        },
        &Cancel::new(),
    )
    .expect_err("nginx without http2 does not choose h2");
    let LoadError::Tls(message) = &error else {
        panic!("not a TLS refusal: {error}");
    };
    assert!(message.contains(&server.addr.to_string()), "{message}");
    assert!(!message.contains('\n'), "{message}");
    drop(server);
}

/// A bare HTTP/2 server over h2c that answers `:status 200` to every stream but refuses each
/// `refuse_every`-th with RST_STREAM(REFUSED_STREAM) and never sends GOAWAY: a refused request
/// must go again on the same connection. Counts what it answered and refused; stops when dropped.
struct Refusing {
    addr: SocketAddr,
    answered: Arc<AtomicU64>,
    refused: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    accept: Option<std::thread::JoinHandle<()>>,
}

impl Refusing {
    fn start(refuse_every: u64) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let answered = Arc::new(AtomicU64::new(0));
        let refused = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (a, r, s) = (answered.clone(), refused.clone(), stop.clone());
        let accept = std::thread::spawn(move || {
            let mut connections = Vec::new();
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let (a, r) = (a.clone(), r.clone());
                        connections.push(std::thread::spawn(move || {
                            let _ = Self::serve(conn, refuse_every, &a, &r);
                        }));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
            for c in connections {
                let _ = c.join();
            }
        });
        Self {
            addr,
            answered,
            refused,
            stop,
            accept: Some(accept),
        }
    }

    fn serve(
        mut conn: TcpStream,
        refuse_every: u64,
        answered: &AtomicU64,
        refused: &AtomicU64,
    ) -> std::io::Result<()> {
        use std::io::{Read, Write};
        fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
            let len = payload.len() as u32;
            let mut f = len.to_be_bytes()[1..].to_vec();
            f.extend([kind, flags]);
            f.extend(stream.to_be_bytes());
            f.extend(payload);
            f
        }
        // Bounded: a client silent for 5 s ends the connection.
        conn.set_read_timeout(Some(Duration::from_secs(5)))?;
        conn.set_nodelay(true)?;
        let mut preface = [0; 24];
        conn.read_exact(&mut preface)?;
        conn.write_all(&frame(4, 0, 0, &[]))?;
        let mut streams = 0u64;
        loop {
            let mut head = [0; 9];
            conn.read_exact(&mut head)?;
            let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
            let mut payload = vec![0; len];
            conn.read_exact(&mut payload)?;
            let stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
            let out = match (head[3], head[4] & 1) {
                (4, 0) => frame(4, 1, 0, &[]),
                (6, 0) => frame(6, 1, 0, &payload),
                (1, _) => {
                    streams += 1;
                    if streams % refuse_every == 1 {
                        refused.fetch_add(1, Ordering::Relaxed);
                        frame(3, 0, stream, &7u32.to_be_bytes())
                    } else {
                        answered.fetch_add(1, Ordering::Relaxed);
                        // END_STREAM | END_HEADERS; `:status: 200` is static table entry 8.
                        frame(1, 0x5, stream, &[0x88])
                    }
                }
                _ => continue,
            };
            conn.write_all(&out)?;
        }
    }
}

impl Drop for Refusing {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

#[test]
fn a_refused_stream_without_goaway_goes_again_on_the_same_connection() {
    let _turn = crate::turns::beside_others();
    let server = Refusing::start(3);
    let open = LoadConfig {
        mode: Mode::Open {
            rate_per_sec: 400.0,
        },
        ..config(Protocol::H2c, server.addr, 1, 4)
    };
    for config in [config(Protocol::H2c, server.addr, 1, 4), open] {
        let before = server.refused.load(Ordering::Relaxed);
        let t = totals(&crate::loadgen::run_bounded(&config));
        assert!(
            server.refused.load(Ordering::Relaxed) > before + 10,
            "the server refused streams"
        );
        crate::loadgen::assert_no_errors_but_late(&t.errors, t.requests, "refused streams");
        assert_eq!(t.counts.goaways, 0);
        assert_eq!(t.setup.connect.len(), 1, "one connection, never reopened");
        assert!(
            t.requests <= server.answered.load(Ordering::Relaxed),
            "counted only what the server answered"
        );
        match loadgen::window_sends(&config) {
            Some(window) => assert!(
                t.requests * 10 >= window * 9,
                "{} of {window} open-loop sends answered",
                t.requests
            ),
            None => assert!(t.requests > 100, "{} closed-loop requests", t.requests),
        }
    }
}
