//! `numaload watch`: any running process and its whole tree, without restarting it — threads by
//! state, allowed and last CPUs, context switches, run-queue wait, migrations, CPU, memory,
//! pages per node and the cgroup quota — as a terminal view, JSON, or Prometheus metrics.
//! Reading, rates and rendering live in `numaload_agent::watch`; this file is the loop.
//!
//! Exit codes: 0 when `--count` refreshes are done or every watched process has exited (each
//! exit is one line on stderr); 2 when a PID does not exist or cannot be read, or `--name`
//! matches nothing; 4 for the rest (a metrics address that cannot be bound), by the one table
//! (`numaload::compare::exit::TABLE`).

use std::io::{self, IsTerminal, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use numaload_agent::procfs::tree::{self, ProcEntry};
use numaload_agent::watch::{self, Tracker};

use super::BadInput;

/// The shortest refresh: every look reads several files per thread.
const MIN_INTERVAL: Duration = Duration::from_millis(100);
const MAX_INTERVAL: Duration = Duration::from_secs(3600);

#[derive(clap::Args, Debug)]
pub struct WatchArgs {
    /// Processes to watch, each with its whole tree (children, their children, its process group).
    #[arg(value_name = "PID", required_unless_present = "name")]
    pub pids: Vec<u32>,
    /// Watch every process whose name or command line matches this regular expression (at most
    /// 64), instead of PIDs.
    #[arg(long, value_name = "PATTERN", conflicts_with = "pids")]
    pub name: Option<String>,
    /// Time between refreshes (100ms to 1h).
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    pub interval: Duration,
    /// Stop after N refreshes.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// One refresh, then exit (`--count 1`).
    #[arg(long, conflicts_with = "count")]
    pub once: bool,
    /// One JSON document per refresh, one line each: an object for a single PID, an array for
    /// several PIDs or `--name`.
    #[arg(long)]
    pub json: bool,
    /// One line per thread too: tid, name, state, allowed CPUs, last CPU, run-queue wait, switches.
    #[arg(long)]
    pub threads: bool,
    /// Serve the watch as Prometheus metrics on this address (`GET /metrics`, plain HTTP).
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,
}

pub fn main(args: WatchArgs) -> anyhow::Result<ExitCode> {
    if !(MIN_INTERVAL..=MAX_INTERVAL).contains(&args.interval) {
        return Err(BadInput(format!(
            "--interval {}: must be between 100ms and 1h",
            humantime::format_duration(args.interval)
        ))
        .into());
    }
    let count = if args.once { Some(1) } else { args.count };
    if count == Some(0) {
        return Err(BadInput("--count 0: at least one refresh".into()).into());
    }
    let roots = resolve(&args).map_err(|e| BadInput(e.to_string()))?;
    let listener = args
        .metrics_listen
        .map(|address| {
            TcpListener::bind(address)
                .with_context(|| format!("--metrics-listen {address}: cannot bind"))
        })
        .transpose()?;

    let table = tree::scan();
    let mut watched: Vec<(ProcEntry, Tracker)> = Vec::new();
    for root in roots {
        let sample = watch::look(&root, &table).ok_or_else(|| {
            BadInput(format!(
                "pid {}: exited before it could be watched",
                root.pid
            ))
        })?;
        watched.push((root, Tracker::new(sample)));
    }
    let metrics = Arc::new(Mutex::new(String::new()));
    let mut listener = listener;
    let mut out = Output {
        json_array: args.name.is_some() || watched.len() > 1,
        terminal: io::stdout().is_terminal(),
        ..Output::from(&args)
    };
    let mut last = Instant::now();
    let mut refreshes = 0;
    loop {
        let trackers: Vec<&Tracker> = watched.iter().map(|(_, t)| t).collect();
        *metrics.lock().unwrap_or_else(|p| p.into_inner()) = watch::metrics::render(&trackers);
        if let Some(listener) = listener.take() {
            let address = listener.local_addr()?;
            let text = Arc::clone(&metrics);
            std::thread::spawn(move || serve(listener, text));
            eprintln!("watch metrics on http://{address}/metrics");
        }
        if let Err(e) = out.show(&trackers) {
            // A closed pipe (`| head`) ends the watch quietly.
            return match e.kind() {
                io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
                _ => Err(e).context("writing to stdout"),
            };
        }
        refreshes += 1;
        if count.is_some_and(|n| refreshes >= n) {
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep((last + args.interval).saturating_duration_since(Instant::now()));
        let table = tree::scan();
        let now = Instant::now();
        let elapsed = now - last;
        last = now;
        watched.retain_mut(|(root, tracker)| match watch::look(root, &table) {
            Some(sample) => {
                tracker.update(sample, elapsed);
                true
            }
            None => {
                eprintln!(
                    "numaload watch: process {} ({}) exited",
                    root.pid, root.comm
                );
                false
            }
        });
        if watched.is_empty() {
            return Ok(ExitCode::SUCCESS);
        }
    }
}

/// The processes to watch: the PIDs (each checked, duplicates dropped) or `--name`'s matches.
fn resolve(args: &WatchArgs) -> Result<Vec<ProcEntry>, watch::WatchError> {
    if let Some(pattern) = &args.name {
        return watch::find_by_name(pattern, std::process::id());
    }
    let mut roots: Vec<ProcEntry> = Vec::new();
    for &pid in &args.pids {
        if !roots.iter().any(|r| r.pid == pid) {
            roots.push(watch::find(pid)?);
        }
    }
    Ok(roots)
}

/// Where and how each refresh is shown.
#[derive(Debug, Default)]
struct Output {
    json: bool,
    json_array: bool,
    threads: bool,
    terminal: bool,
    interval: Duration,
}

impl From<&WatchArgs> for Output {
    fn from(args: &WatchArgs) -> Self {
        Output {
            json: args.json,
            threads: args.threads,
            interval: args.interval,
            ..Output::default()
        }
    }
}

impl Output {
    fn show(&mut self, trackers: &[&Tracker]) -> io::Result<()> {
        let mut stdout = io::stdout().lock();
        if self.json {
            let docs: Vec<serde_json::Value> = trackers.iter().map(|t| json(t)).collect();
            let doc = match (self.json_array, docs.as_slice()) {
                (false, [one]) => one.clone(),
                _ => serde_json::Value::Array(docs),
            };
            writeln!(stdout, "{doc}")?;
        } else {
            let text = watch::view::render(trackers, self.interval, self.threads);
            if self.terminal {
                // Home and clear, then the view: a plain redraw.
                write!(stdout, "\x1b[H\x1b[2J{text}")?;
            } else {
                writeln!(stdout, "{text}")?;
            }
        }
        stdout.flush()
    }
}

/// One tree's last sample with its rates (`null` until a second sample).
fn json(tracker: &Tracker) -> serde_json::Value {
    let mut value = serde_json::to_value(&tracker.last).unwrap_or_default();
    if let Some(object) = value.as_object_mut() {
        let rates = serde_json::to_value(tracker.rates).unwrap_or_default();
        object.insert("rates".into(), rates);
    }
    value
}

/// Answers every connection with the latest metrics text, one at a time (each bounded by
/// 2 s timeouts), until the process exits.
fn serve(listener: TcpListener, text: Arc<Mutex<String>>) {
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
        let mut request = [0u8; 1024];
        if !matches!(stream.read(&mut request), Ok(n) if n > 0) {
            continue;
        }
        let body = text.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        );
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(body.as_bytes());
    }
}
