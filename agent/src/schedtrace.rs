//! The Go runtime's own view of its scheduler: with `GODEBUG=schedtrace=1000` (a target with
//! `schedtrace = "go"`) it prints one line a second on stderr,
//!
//! ```text
//! SCHED 2013ms: gomaxprocs=2 idleprocs=0 threads=12 spinningthreads=1 idlethreads=3 runqueue=4 [1 0]
//! ```
//!
//! which the replica's output reader parses here ([`parse_line`]) and keeps for the sampler;
//! such lines are not kept among the replica's last output lines (they would crowd out what a
//! failure message needs). Unknown `key=value` pairs (newer Go adds `needspinning=`) are ignored.

use numaload_proto::v1::GoSchedTrace;

/// How a target's runtime reports its scheduler, from `schedtrace = "..."` in its entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedtrace {
    /// `GODEBUG=schedtrace=1000`, `SCHED` lines on stderr.
    Go,
}

/// A `schedtrace` value naming no runtime this agent knows; the message names the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("schedtrace = {value:?}: the only runtime known is \"go\" (GODEBUG=schedtrace=1000)")]
pub struct UnknownSchedtrace {
    pub value: String,
}

impl Schedtrace {
    /// The configuration's value, checked.
    pub fn parse(text: &str) -> Result<Schedtrace, UnknownSchedtrace> {
        match text {
            "go" => Ok(Schedtrace::Go),
            _ => Err(UnknownSchedtrace {
                value: text.to_owned(),
            }),
        }
    }

    /// The `GODEBUG` value to start the target with, keeping any the target's `env` sets.
    pub fn godebug(self, existing: Option<&str>) -> String {
        match existing.filter(|v| !v.is_empty()) {
            Some(v) => format!("{v},schedtrace=1000"),
            None => "schedtrace=1000".to_owned(),
        }
    }
}

/// Lines kept between two samples at most (a runtime printing far more often than asked is
/// not allowed to grow the agent's memory).
pub const MAX_PENDING: usize = 64;

/// One `SCHED` line; `None` for any other line (including `scheddetail`'s `P0:`/`M1:` lines).
pub fn parse_line(line: &str) -> Option<GoSchedTrace> {
    let rest = line.trim_start().strip_prefix("SCHED ")?;
    let (at, rest) = rest.split_once(':')?;
    let runtime_ms = at.trim().strip_suffix("ms")?.parse().ok()?;
    let (pairs, queues) = match rest.split_once('[') {
        Some((pairs, queues)) => (pairs, Some(queues.trim_end().strip_suffix(']')?)),
        None => (rest, None),
    };
    let mut trace = GoSchedTrace {
        runtime_ms,
        ..Default::default()
    };
    let mut seen = 0;
    for pair in pairs.split_whitespace() {
        let Some((key, value)) = pair.split_once('=') else {
            continue;
        };
        let slot = match key {
            "gomaxprocs" => &mut trace.gomaxprocs,
            "idleprocs" => &mut trace.idleprocs,
            "threads" => &mut trace.threads,
            "spinningthreads" => &mut trace.spinningthreads,
            "idlethreads" => &mut trace.idlethreads,
            "runqueue" => &mut trace.runqueue,
            _ => continue,
        };
        *slot = value.parse().ok()?;
        seen += 1;
    }
    if seen == 0 {
        return None;
    }
    if let Some(queues) = queues {
        trace.local_runqueues = queues
            .split_whitespace()
            .map(str::parse)
            .collect::<Result<_, _>>()
            .ok()?;
    }
    Some(trace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sched_lines_as_go_prints_them() {
        let t = parse_line(
            "SCHED 2013ms: gomaxprocs=2 idleprocs=0 threads=12 spinningthreads=1 idlethreads=3 \
             runqueue=4 [1 0]",
        )
        .expect("a SCHED line");
        assert_eq!(
            (t.runtime_ms, t.gomaxprocs, t.idleprocs, t.threads),
            (2013, 2, 0, 12)
        );
        assert_eq!((t.spinningthreads, t.idlethreads, t.runqueue), (1, 3, 4));
        assert_eq!(t.local_runqueues, [1, 0]);
        // Newer Go adds needspinning=; scheddetail=1 adds fields too.
        let newer = parse_line(
            "SCHED 0ms: gomaxprocs=1 idleprocs=1 threads=3 spinningthreads=0 needspinning=0 \
             idlethreads=0 runqueue=0 [0]",
        )
        .expect("newer Go");
        assert_eq!((newer.threads, newer.local_runqueues.len()), (3, 1));
        let detail = parse_line(
            "SCHED 1004ms: gomaxprocs=1 idleprocs=1 threads=5 spinningthreads=0 idlethreads=2 \
             runqueue=0 gcwaiting=0 nmidlelocked=0 stopwait=0 sysmonwait=0",
        )
        .expect("scheddetail's summary");
        assert!(detail.local_runqueues.is_empty());
    }

    #[test]
    fn other_lines_are_not_sched_lines() {
        for line in [
            "",
            "listening on 127.0.0.1:8080",
            "  P0: status=1 schedtick=5 syscalltick=0 m=0 runqsize=0 gfreecnt=0",
            "SCHED soon: gomaxprocs=1",
            "SCHED 10ms: nothing here",
            "SCHED 10ms: gomaxprocs=x",
            "SCHED 10ms: gomaxprocs=1 [1 x]",
        ] {
            assert_eq!(parse_line(line), None, "{line:?}");
        }
    }

    #[test]
    fn the_key_has_one_value_and_keeps_a_targets_godebug() {
        assert_eq!(Schedtrace::parse("go"), Ok(Schedtrace::Go));
        let err = Schedtrace::parse("java").expect_err("unknown");
        assert_eq!(
            err.to_string(),
            "schedtrace = \"java\": the only runtime known is \"go\" (GODEBUG=schedtrace=1000)"
        );
        assert_eq!(Schedtrace::Go.godebug(None), "schedtrace=1000");
        assert_eq!(
            Schedtrace::Go.godebug(Some("madvdontneed=1")),
            "madvdontneed=1,schedtrace=1000"
        );
    }
}
