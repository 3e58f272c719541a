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
use numaload_agent::loadgen::{self, Cancel, LoadConfig, Mode};

/// Set in the child's environment: `serve_when_asked` then serves instead of returning.
const SERVE_ENV: &str = "NUMALOAD_WINDOW_TEST_SERVE";

/// CPUs this process may use, ascending.
fn allowed_cpus() -> Vec<u32> {
    let set = sched_getaffinity(Pid::from_raw(0)).expect("sched_getaffinity");
    (0..CpuSet::count())
        .filter(|&c| set.is_set(c).unwrap_or(false))
        .map(|c| c as u32)
        .collect()
}

/// Not a test of its own: the server, when this binary is started by [`ServerProcess::start`].
#[test]
fn serve_when_asked() {
    let _turn = crate::turns::beside_others();
    if std::env::var_os(SERVE_ENV).is_none() {
        return;
    }
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
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        std::thread::spawn(move || serve(stream));
    }
}

/// Answers every `GET` on a keep-alive connection with `200 ok`.
fn serve(stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut writer = stream.try_clone().expect("clone");
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) if line == "\r\n" => {
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
        let mut child = Command::new(std::env::current_exe().expect("test binary"))
            .args([
                "--exact",
                "window::serve_when_asked",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(SERVE_ENV, "1")
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
        mode: Mode::Open { rate_per_sec: RATE },
        targets: vec![addr],
        connections: CONNECTIONS,
        cpus: vec![*allowed_cpus().last().expect("a CPU")],
        warmup: Duration::from_millis(300),
        duration: Duration::from_millis(1_500),
        timeout: Duration::from_secs(2),
        coalesce: true,
        spin: true,
        send_precision: Duration::ZERO,
        live: None,
        requests: Vec::new(),
        expect_status: Vec::new(),
    }
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
    let pid = server.pid();
    let called = Instant::now();
    let stop_at = called + config.warmup + config.duration - Duration::from_millis(200);
    let stopper = std::thread::spawn(move || {
        std::thread::sleep(stop_at.saturating_duration_since(Instant::now()));
        kill(pid, Signal::SIGSTOP).expect("SIGSTOP the server");
        std::thread::sleep(Duration::from_millis(350));
        kill(pid, Signal::SIGCONT).expect("SIGCONT the server");
    });
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
