//! The measured window against a real server process that stops (SIGSTOP/SIGCONT) across the
//! end of the window: every request intended inside the window must be accounted for, and the
//! stall must show in the corrected latency (issue 12, point 1).
//!
//! The server is this test binary run again as a child process (`serve_when_asked`), a
//! thread-per-connection keep-alive HTTP/1.1 server pinned to the first allowed CPU, so that the
//! whole process can be stopped like a replica in a GC pause.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sched::{sched_getaffinity, sched_setaffinity, CpuSet};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use numaload_agent::loadgen::{self, Arrivals, Cancel, LoadConfig, LoadShape, Mode};

/// Set in the child's environment: `serve_when_asked` then serves instead of returning.
const SERVE_ENV: &str = "NUMALOAD_WINDOW_TEST_SERVE";
/// Milliseconds the child's server takes over each response (0 when unset).
const DELAY_ENV: &str = "NUMALOAD_WINDOW_TEST_DELAY_MS";

/// CPUs this process may use, ascending.
fn allowed_cpus() -> Vec<u32> {
    let set = sched_getaffinity(Pid::from_raw(0)).expect("sched_getaffinity");
    (0..CpuSet::count())
        .filter(|&c| set.is_set(c).unwrap_or(false))
        .map(|c| c as u32)
        .collect()
}

/// Not a test: the window tests' server. [`ServerProcess`] runs this test binary again with
/// `--ignored --exact window::serve_when_asked` and [`SERVE_ENV`] set, and this serves until the
/// parent closes its stdin. A process of its own, so that a test can stop the whole server
/// (SIGSTOP) as a GC pause stops a replica; the test binary itself, so that nothing else has to
/// be built or found (`cargo test` on a fresh clone has it). Ignored, so that a test run does not
/// count it as a passed test; run without [`SERVE_ENV`] (`--include-ignored`) it fails, saying so.
#[test]
#[ignore = "the window tests' server process (ServerProcess starts it), not a test"]
fn serve_when_asked() {
    let _turn = crate::turns::beside_others();
    assert!(
        std::env::var_os(SERVE_ENV).is_some(),
        "not a test: the window tests' server, which ServerProcess starts with {SERVE_ENV} set"
    );
    let mut set = CpuSet::new();
    set.set(allowed_cpus()[0] as usize).expect("cpu");
    sched_setaffinity(Pid::from_raw(0), &set).expect("pin server");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    println!("listening {}", listener.local_addr().expect("addr"));
    std::io::stdout().flush().expect("flush");
    // Exits with the parent: its end of our stdin closes.
    std::thread::spawn(|| {
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        std::process::exit(0);
    });
    let delay = std::env::var(DELAY_ENV)
        .ok()
        .and_then(|ms| ms.parse().ok())
        .map_or(Duration::ZERO, Duration::from_millis);
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        std::thread::spawn(move || serve(stream, delay));
    }
}

/// Answers every `GET` on a keep-alive connection with `200 ok`, `delay` after its head came.
fn serve(stream: TcpStream, delay: Duration) {
    let _ = stream.set_nodelay(true);
    let mut writer = stream.try_clone().expect("clone");
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) if line == "\r\n" => {
                std::thread::sleep(delay);
                let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                if writer.write_all(answer).is_err() {
                    return;
                }
            }
            Ok(_) => {}
        }
    }
}

/// The server child process; killed on drop.
struct ServerProcess {
    child: Child,
    addr: SocketAddr,
}

impl ServerProcess {
    fn start() -> Self {
        Self::answering_after(Duration::ZERO)
    }

    /// A server whose every response takes `delay` (one connection answers one request at a
    /// time, so its capacity is connections / delay).
    fn answering_after(delay: Duration) -> Self {
        let mut child = Command::new(std::env::current_exe().expect("test binary"))
            .args([
                "--ignored",
                "--exact",
                "window::serve_when_asked",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(SERVE_ENV, "1")
            .env(DELAY_ENV, delay.as_millis().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the server process");
        let stdout = child.stdout.take().expect("stdout");
        let addr = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            // libtest prints the test's name on the same line first.
            .find_map(|l| l.split_once("listening ").map(|(_, addr)| addr.to_owned()))
            .expect("the server prints its address")
            .parse()
            .expect("an address");
        Self { child, addr }
    }

    fn pid(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = kill(self.pid(), Signal::SIGCONT);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const RATE: f64 = 2_000.0;
const CONNECTIONS: u32 = 10;

fn open_loop(addr: SocketAddr) -> LoadConfig {
    LoadConfig {
        warmup: Duration::from_millis(300),
        duration: Duration::from_millis(1_500),
        timeout: Duration::from_secs(2),
        ..crate::loadgen::config(Mode::Open { rate_per_sec: RATE }, vec![addr], CONNECTIONS)
    }
}

/// Stops `server` (SIGSTOP) for 350 ms from 200 ms before the end of the window of a load of
/// `config` started at `called`, on a thread of its own.
fn stop_across_the_close(
    server: &ServerProcess,
    config: &LoadConfig,
    called: Instant,
) -> std::thread::JoinHandle<()> {
    let pid = server.pid();
    let stop_at = called + config.warmup + config.duration - Duration::from_millis(200);
    std::thread::spawn(move || {
        std::thread::sleep(stop_at.saturating_duration_since(Instant::now()));
        kill(pid, Signal::SIGSTOP).expect("SIGSTOP the server");
        std::thread::sleep(Duration::from_millis(350));
        kill(pid, Signal::SIGCONT).expect("SIGCONT the server");
    })
}

/// A 350 ms stop of the server process, from 200 ms before the end of the window to 150 ms after
/// it, at a steady 2,000 req/s: the requests in flight when it stopped are answered after the
/// window closed (≈350 ms late) and must be counted; the ones intended during the stop and not
/// sent by the close are `unsent` errors; nothing intended in the window is lost.
#[test]
fn a_stall_across_the_end_of_the_window_shows_and_every_request_is_accounted_for() {
    let _turn = crate::turns::beside_others();
    let server = ServerProcess::start();
    let config = open_loop(server.addr);
    let called = Instant::now();
    let stopper = stop_across_the_close(&server, &config, called);
    let report = loadgen::run(&config, &Cancel::new()).expect("valid config");
    let returned = called.elapsed();
    stopper.join().expect("stopper");
    let r = &report.per_replica()[0];
    let errors = report.errors();
    let (p999, max) = (r.corrected.value_at_quantile(0.999), r.corrected.max());
    let intended = (RATE * config.duration.as_secs_f64()).round() as u64;
    println!(
        "stall across the end: corrected p99.9 {:.1} ms, max {:.1} ms; {} answered, {errors:?} \
         of {intended} intended; returned after {returned:?}",
        p999 as f64 / 1e6,
        max as f64 / 1e6,
        r.requests,
    );
    assert!(
        p999 >= 250_000_000,
        "corrected p99.9 {p999} ns should show the 350 ms stop"
    );
    assert!(
        max >= 300_000_000,
        "corrected max {max} ns should show the stop"
    );
    assert_eq!(
        errors.timeout, 0,
        "answered within the 2 s timeout: {errors:?}"
    );
    // About 200 ms of the schedule could not be sent before the close.
    assert!(
        (200..=600).contains(&errors.unsent),
        "unsent {} (about 400 expected): {errors:?}",
        errors.unsent
    );
    // Every request intended in the window has exactly one outcome.
    let accounted = r.requests + errors.total();
    assert!(
        accounted.abs_diff(intended) <= u64::from(CONNECTIONS),
        "{accounted} outcomes for {intended} requests intended in the window"
    );
    // Waiting for the stalled answers is bounded by the timeout.
    assert!(
        returned < config.warmup + config.duration + config.timeout + Duration::from_secs(1),
        "returned after {returned:?}"
    );
}

/// The same stop across the close under Poisson arrivals (a fixed seed, so the schedule and
/// its count in the window are known): bursts and gaps change nothing of the accounting —
/// every request intended in the window has exactly one outcome, and the stall shows.
#[test]
fn under_poisson_arrivals_a_stall_across_the_close_leaves_nothing_of_the_window_unaccounted() {
    let _turn = crate::turns::beside_others();
    let server = ServerProcess::start();
    let config = LoadConfig {
        shape: LoadShape {
            arrivals: Arrivals::Poisson {
                seed: 20_261_127,
                stream: 0,
            },
            ..LoadShape::default()
        },
        ..open_loop(server.addr)
    };
    let intended = loadgen::window_sends(&config).expect("open loop");
    let uniform = (RATE * config.duration.as_secs_f64()).round() as u64;
    // A Poisson count: about the rate's, but not exactly it.
    assert!(
        intended.abs_diff(uniform) < 200 && intended != uniform,
        "{intended} intended in the window (uniform: {uniform})"
    );
    let stopper = stop_across_the_close(&server, &config, Instant::now());
    let report = loadgen::run(&config, &Cancel::new()).expect("valid config");
    stopper.join().expect("stopper");
    let r = &report.per_replica()[0];
    let errors = report.errors();
    let max = r.corrected.max();
    println!(
        "Poisson, stall across the end: corrected max {:.1} ms; {} answered, {errors:?} of          {intended} intended",
        max as f64 / 1e6,
        r.requests,
    );
    assert_eq!(
        r.requests + errors.total(),
        intended,
        "one outcome per request intended in the window: {errors:?}"
    );
    assert!(errors.unsent > 0, "the stop held sends past the close");
    assert_eq!(r.waited.len(), errors.unsent + errors.timeout);
    assert!(
        max >= 300_000_000,
        "corrected max {max} ns should show the stop"
    );
}

/// The latency over the answered requests and the lower bounds of the unanswered ones' waits,
/// as the controller merges them.
fn with_waits(r: &loadgen::TargetStats) -> hdrhistogram::Histogram<u64> {
    let mut all = r.corrected.clone();
    all.add(&r.waited).expect("same bounds");
    all
}

/// A server stopped (SIGSTOP) from before the window opens until after the run: nothing of the
/// window is answered, every request intended in it is `unsent` or `timeout`, and each one's
/// wait is recorded as a lower bound (unsent: from its intended time to the end of the drain,
/// so at least the drain's `timeout`), so the corrected latency reads as seconds, not a blank.
#[test]
fn a_server_stopped_for_the_whole_window_shows_as_lower_bounds_not_a_blank() {
    let _turn = crate::turns::beside_others();
    let server = ServerProcess::start();
    let config = LoadConfig {
        mode: Mode::Open {
            rate_per_sec: 500.0,
        },
        duration: Duration::from_secs(1),
        timeout: Duration::from_secs(1),
        ..open_loop(server.addr)
    };
    let pid = server.pid();
    let stop_at = Instant::now() + config.warmup - Duration::from_millis(100);
    let stopper = std::thread::spawn(move || {
        std::thread::sleep(stop_at.saturating_duration_since(Instant::now()));
        kill(pid, Signal::SIGSTOP).expect("SIGSTOP the server");
    });
    let report = loadgen::run(&config, &Cancel::new()).expect("valid config");
    stopper.join().expect("stopper");
    drop(server);
    let r = &report.per_replica()[0];
    let errors = report.errors();
    let intended = (500.0 * config.duration.as_secs_f64()).round() as u64;
    let all = with_waits(r);
    println!(
        "stopped for the window: {} answered, {errors:?} of {intended}; waits {} (p50 {:.0} ms, \
         min {:.0} ms)",
        r.requests,
        r.waited.len(),
        r.waited.value_at_quantile(0.5) as f64 / 1e6,
        r.waited.min() as f64 / 1e6,
    );
    assert_eq!(r.requests, 0, "the server was stopped: {errors:?}");
    assert_eq!(
        r.waited.len(),
        errors.unsent + errors.timeout,
        "one lower bound per unanswered request: {errors:?}"
    );
    assert!(
        r.waited.len().abs_diff(intended) <= u64::from(CONNECTIONS),
        "{} waits for {intended} intended",
        r.waited.len()
    );
    // Unsent requests wait at least to the end of the drain, a `timeout` after the close; a
    // timed-out one at least its `timeout`.
    let floor = config.timeout.as_nanos() as u64 * 9 / 10;
    assert!(
        r.waited.min() >= floor,
        "the shortest wait {} ns is below the drain ({floor} ns)",
        r.waited.min()
    );
    assert!(
        all.value_at_quantile(0.99) >= config.timeout.as_nanos() as u64,
        "corrected p99 with the waits: {} ns",
        all.value_at_quantile(0.99)
    );
}

/// A server that answers each request in 40 ms on 4 connections (100 req/s) asked for 8x that:
/// the warm-up's backlog is dropped when the window opens (counted), so the window measures
/// what the server does answer rather than about nothing; the rest of the window's schedule is
/// `unsent`, its waits recorded as lower bounds that put the corrected p99 in the seconds.
#[test]
fn a_server_at_eight_times_its_capacity_shows_its_throughput_and_its_backlog() {
    let _turn = crate::turns::beside_others();
    let delay = Duration::from_millis(40);
    let server = ServerProcess::answering_after(delay);
    let connections = 4;
    let capacity = f64::from(connections) / delay.as_secs_f64();
    let config = LoadConfig {
        mode: Mode::Open {
            rate_per_sec: 8.0 * capacity,
        },
        connections,
        warmup: Duration::from_millis(500),
        duration: Duration::from_secs(2),
        timeout: Duration::from_secs(1),
        ..open_loop(server.addr)
    };
    let report = loadgen::run(&config, &Cancel::new()).expect("valid config");
    let r = &report.per_replica()[0];
    let errors = report.errors();
    let all = with_waits(r);
    let can_answer = capacity * config.duration.as_secs_f64();
    println!(
        "8x capacity: {} answered (the server can {can_answer:.0}), {} warm-up requests dropped, \
         {errors:?}; p99 with waits {:.0} ms, answered only {:.0} ms",
        r.requests,
        r.counts.warmup_dropped,
        all.value_at_quantile(0.99) as f64 / 1e6,
        r.corrected.value_at_quantile(0.99) as f64 / 1e6,
    );
    assert!(
        r.counts.warmup_dropped > 0,
        "the warm-up's backlog is dropped at the open"
    );
    assert!(
        r.requests as f64 >= 0.5 * can_answer,
        "{} answered in the window: the server answers about {can_answer:.0}",
        r.requests
    );
    assert!(
        errors.unsent as f64 >= 0.5 * 8.0 * can_answer,
        "most of the window's schedule is unsent: {errors:?}"
    );
    assert_eq!(r.waited.len(), errors.unsent + errors.timeout);
    assert!(
        all.value_at_quantile(0.99) >= 1_000_000_000,
        "corrected p99 with the waits: {} ns",
        all.value_at_quantile(0.99)
    );
}
