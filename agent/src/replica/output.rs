//! A replica's stdout and stderr: read continuously (a server must never block on a full pipe),
//! the last lines of each kept for error messages and the report, and watched for the `ready =
//! "line:REGEX"` probe. With the Go runtime's scheduler trace on, its `SCHED` lines are parsed
//! into [`GoSchedTrace`]s for the sampler instead of kept ([`crate::schedtrace`]).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use numaload_proto::v1::GoSchedTrace;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

use crate::schedtrace;

/// Lines of each stream kept.
const LINES_KEPT: usize = 40;

/// What a replica printed.
#[derive(Debug, Clone, Default)]
pub struct Output(Arc<Mutex<Captured>>);

#[derive(Debug, Default)]
struct Captured {
    stdout: VecDeque<String>,
    stderr: VecDeque<String>,
    /// Whether a line matched the readiness pattern.
    matched: bool,
    /// Streams that reached end-of-file.
    closed: u8,
    /// `SCHED` lines not yet taken by the sampler; `None` when not parsed.
    go_sched: Option<Vec<GoSchedTrace>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Output {
    /// An output whose stderr `SCHED` lines are parsed (a target with `schedtrace = "go"`).
    pub fn with_go_schedtrace() -> Output {
        let output = Output::default();
        if let Ok(mut c) = output.0.lock() {
            c.go_sched = Some(Vec::new());
        }
        output
    }

    /// The `SCHED` lines read since the last call; `None` when they are not parsed.
    pub fn take_go_sched(&self) -> Option<Vec<GoSchedTrace>> {
        let mut c = self.0.lock().ok()?;
        c.go_sched.as_mut().map(std::mem::take)
    }

    /// Reads `reader` line by line until it closes, keeping the last lines and noting a match of
    /// `ready_line`.
    pub fn follow<R: AsyncRead + Unpin + Send + 'static>(
        &self,
        reader: R,
        stream: Stream,
        ready_line: Option<regex::Regex>,
    ) {
        let captured = Arc::clone(&self.0);
        tokio::spawn(async move {
            let mut reader = BufReader::new(reader);
            let mut bytes = Vec::new();
            loop {
                bytes.clear();
                match reader.read_until(b'\n', &mut bytes).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                let line = String::from_utf8_lossy(&bytes).trim_end().to_owned();
                let Ok(mut c) = captured.lock() else { break };
                if stream == Stream::Stderr {
                    if let Some(pending) = c.go_sched.as_mut() {
                        if let Some(trace) = schedtrace::parse_line(&line) {
                            if pending.len() < schedtrace::MAX_PENDING {
                                pending.push(trace);
                            }
                            continue;
                        }
                    }
                }
                if ready_line.as_ref().is_some_and(|r| r.is_match(&line)) {
                    c.matched = true;
                }
                let kept = match stream {
                    Stream::Stdout => &mut c.stdout,
                    Stream::Stderr => &mut c.stderr,
                };
                if kept.len() == LINES_KEPT {
                    kept.pop_front();
                }
                kept.push_back(line);
            }
            if let Ok(mut c) = captured.lock() {
                c.closed += 1;
            }
        });
    }

    pub fn lines(&self, stream: Stream) -> Vec<String> {
        self.0.lock().map_or_else(
            |_| Vec::new(),
            |c| match stream {
                Stream::Stdout => c.stdout.iter().cloned().collect(),
                Stream::Stderr => c.stderr.iter().cloned().collect(),
            },
        )
    }

    /// Whether a line matched the readiness pattern.
    pub fn matched(&self) -> bool {
        self.0.lock().is_ok_and(|c| c.matched)
    }

    /// Lines printed on both streams so far (to tell when a server stopped printing).
    pub fn count(&self) -> usize {
        self.0.lock().map_or(0, |c| c.stdout.len() + c.stderr.len())
    }

    /// The last few stderr lines (else stdout's) as a clause for an error message.
    pub fn tail(&self) -> String {
        let mut lines = self.lines(Stream::Stderr);
        let mut stream = "stderr";
        if lines.is_empty() {
            lines = self.lines(Stream::Stdout);
            stream = "stdout";
        }
        if lines.is_empty() {
            return "; it printed nothing".to_owned();
        }
        format!(
            "; its {stream} ended with: {}",
            lines[lines.len().saturating_sub(5)..].join(" | ")
        )
    }
}
