//! `[load]`, validated: the load applied to every layout, one after the other, and its wire form.
//! `validate/mod.rs` checks it; `request.rs` holds what is sent.

use std::time::Duration;

use numaload_proto::v1;
use serde::{Deserialize, Serialize};

use super::request::{self, Request};

/// Below this share of the window's requests answered a layout is `incomplete`, unless the
/// plan says otherwise.
pub const DEFAULT_MIN_DELIVERED: f64 = 0.99;

/// The load applied to every layout, one after the other.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Load {
    /// Open loop carries its rate; closed loop has none.
    #[serde(flatten)]
    pub mode: LoadMode,
    /// Connections over all replicas, 1..=10000.
    pub connections: u32,
    /// Measured time per layout, more than zero and at most an hour.
    #[serde(with = "duration_text")]
    pub duration: Duration,
    /// Load before measuring starts (may be zero).
    #[serde(with = "duration_text")]
    pub warmup: Duration,
    /// CPUs taken out of replica placement and given to the load generator (0: spare CPUs only).
    pub reserve_cpus: u32,
    /// Requests slower than this count as timeout errors (more than zero).
    #[serde(with = "duration_text")]
    pub timeout: Duration,
    /// Open loop: how late a send may be (0..=1 ms). A result without the key reads as 0, the
    /// tightest pacing.
    #[serde(
        default,
        with = "duration_text",
        skip_serializing_if = "Duration::is_zero"
    )]
    pub send_precision: Duration,
    /// The share of the window's requests (open loop: intended; closed loop: sent) that must be
    /// answered for the layout to be `ok` rather than `incomplete`, 0..=1. A result without the
    /// key reads as the default.
    #[serde(default = "default_min_delivered")]
    pub min_delivered: f64,
    /// What is sent: at least one request, names unique; each connection draws its next one
    /// by weight. `GET /` when the plan says nothing.
    #[serde(default = "request::default_requests")]
    pub requests: Vec<Request>,
    /// Response statuses that count as success, sorted; empty means any 2xx.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expect_status: Vec<u16>,
    /// The network interface the load arrives on at the hosts under test (`nic-local` layouts,
    /// the receive accounting); empty: the one holding each agent's replica_address.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub interface: String,
}

/// How requests are sent.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "lowercase")]
pub enum LoadMode {
    /// A constant rate over all connections; latency is timed from the intended send time.
    Open {
        /// Requests per second, finite and positive.
        rate: f64,
    },
    /// Each connection sends its next request when the previous response arrives.
    Closed {
        /// Whether a worker with nothing to read naps before blocking while the server has a
        /// backlog, so responses are read in bursts (the agent's `loadgen::coalesce`).
        #[serde(default = "yes")]
        coalesce: bool,
        /// Whether a worker with nothing to read and no nap due busy-polls an adaptive window
        /// (at most 25 µs) before blocking (the agent's `loadgen::spin`).
        #[serde(default = "yes")]
        spin: bool,
    },
}

fn yes() -> bool {
    true
}

fn default_min_delivered() -> f64 {
    DEFAULT_MIN_DELIVERED
}

impl Load {
    /// Requests per second for open loop, `None` for closed loop.
    pub fn rate(&self) -> Option<f64> {
        match self.mode {
            LoadMode::Open { rate } => Some(rate),
            LoadMode::Closed { .. } => None,
        }
    }

    pub(super) fn to_spec(&self) -> v1::LoadSpec {
        let (mode, rate, coalesce, spin) = match self.mode {
            LoadMode::Open { rate } => (v1::LoadMode::Open, rate, true, true),
            LoadMode::Closed { coalesce, spin } => (v1::LoadMode::Closed, 0.0, coalesce, spin),
        };
        v1::LoadSpec {
            mode: mode as i32,
            rate,
            connections: self.connections,
            duration_ms: millis(self.duration),
            warmup_ms: millis(self.warmup),
            reserve_cpus: self.reserve_cpus,
            timeout_ms: millis(self.timeout),
            no_coalesce: !coalesce,
            no_spin: !spin,
            send_precision_ns: u64::try_from(self.send_precision.as_nanos()).unwrap_or(u64::MAX),
            interface: self.interface.clone(),
            requests: self.requests.iter().map(Request::to_wire).collect(),
            expect_status: self.expect_status.iter().map(|&c| u32::from(c)).collect(),
        }
    }
}

/// Saturates rather than wraps: only `timeout` has no upper bound, and "forever" is what a
/// timeout of 584 million years means anyway.
pub(super) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Durations as humantime text ("5s", "1s 500ms"), the way plan files write them.
mod duration_text {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(duration: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_duration(*duration))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text).map_err(serde::de::Error::custom)
    }
}
