//! The open loop's shape, validated: how sends are spread (`arrivals`, `seed`), the rate stage
//! by stage (`[[load.stages]]`), or a recorded trace to replay (`trace`, `speed`); and their
//! wire form. `validate/shape.rs` checks them, `trace.rs` reads a trace file.

use std::sync::Arc;
use std::time::Duration;

use numaload_proto::v1;
use serde::{Deserialize, Serialize};

/// How the open loop spreads its sends over the rate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arrivals {
    /// Evenly spaced.
    #[default]
    Uniform,
    /// A Poisson process at the rate: exponential gaps, drawn from the seed.
    Poisson,
}

impl Arrivals {
    pub fn is_uniform(&self) -> bool {
        *self == Arrivals::Uniform
    }
}

/// One `[[load.stages]]` table: the rate going linearly from `from` to `to` requests per
/// second over `duration` (a step, `rate = N`, when they are equal).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Stage {
    pub from: f64,
    pub to: f64,
    #[serde(with = "super::durations::text")]
    pub duration: Duration,
}

impl Stage {
    /// Requests the stage asks for: its rate's integral.
    pub fn requests(&self) -> f64 {
        (self.from + self.to) / 2.0 * self.duration.as_secs_f64()
    }

    pub fn is_step(&self) -> bool {
        self.from == self.to
    }

    pub(super) fn to_wire(self) -> v1::LoadStage {
        v1::LoadStage {
            from_rps: self.from,
            to_rps: self.to,
            duration_ms: super::durations::millis(self.duration),
        }
    }
}

/// `[load] trace`: the file, its speed, and (once read) its entries.
///
/// Echoed in the result as the file, the speed, how many entries were read and a digest of
/// them, so that a replay can tell it has the same trace; the entries themselves are not.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Trace {
    /// As the plan gives it: relative to the plan file's folder.
    pub file: String,
    /// Offsets are divided by it: 2 replays twice as fast.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub speed: f64,
    /// Entries read (0 until read).
    #[serde(default)]
    pub entries: u64,
    /// FNV-1a of the entries as sent (offset in ns and request name, in order), hex.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub digest: String,
    /// The entries, in time order, offsets already divided by `speed`; `None` until read.
    #[serde(skip)]
    pub sends: Option<Arc<[TraceSend]>>,
}

/// Two traces are the same when they name the same file at the same speed and hold the same
/// entries (by count and digest); whether this copy still has them in memory does not matter.
impl PartialEq for Trace {
    fn eq(&self, other: &Self) -> bool {
        self.file == other.file
            && self.speed == other.speed
            && self.entries == other.entries
            && self.digest == other.digest
    }
}

/// One entry of a trace: when, from the load's start, and which request of the plan (its index
/// in `[load]`'s requests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceSend {
    pub at: Duration,
    pub request: u32,
}

fn one() -> f64 {
    1.0
}

fn is_one(speed: &f64) -> bool {
    *speed == 1.0
}

/// The wire form of a trace's entries (`sends` in time order): gaps between offsets.
pub(super) fn trace_to_wire(sends: &[TraceSend]) -> v1::LoadTrace {
    let mut before = Duration::ZERO;
    let mut wire = v1::LoadTrace {
        gaps_ns: Vec::with_capacity(sends.len()),
        requests: Vec::with_capacity(sends.len()),
    };
    for send in sends {
        let gap = send.at.saturating_sub(before);
        wire.gaps_ns
            .push(u64::try_from(gap.as_nanos()).unwrap_or(u64::MAX));
        wire.requests.push(send.request);
        before = send.at;
    }
    wire
}

/// The mean rate stages ask for over their whole length.
pub(super) fn mean_rate(stages: &[Stage]) -> f64 {
    let seconds: f64 = stages.iter().map(|s| s.duration.as_secs_f64()).sum();
    let requests: f64 = stages.iter().map(Stage::requests).sum();
    if seconds > 0.0 {
        requests / seconds
    } else {
        0.0
    }
}
