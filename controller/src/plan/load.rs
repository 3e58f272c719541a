//! `[load]`, validated: the load applied to every layout, one after the other, and its wire form.
//! `validate/mod.rs` checks it; `request.rs` holds what is sent.

use std::time::Duration;

use numaload_proto::v1;
use serde::{Deserialize, Serialize};

use super::durations::millis;
use super::protocol::{Protocol, Tls};
use super::request::{self, Request};
use super::shape::{self, Arrivals, Stage, Trace};

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
    #[serde(with = "super::durations::text")]
    pub duration: Duration,
    /// Load before measuring starts (may be zero).
    #[serde(with = "super::durations::text")]
    pub warmup: Duration,
    /// CPUs taken out of replica placement and given to the load generator (0: spare CPUs only).
    pub reserve_cpus: u32,
    /// Requests slower than this count as timeout errors (more than zero).
    #[serde(with = "super::durations::text")]
    pub timeout: Duration,
    /// Open loop: how late a send may be (0..=1 ms). A result without the key reads as 0, the
    /// tightest pacing.
    #[serde(
        default,
        with = "super::durations::text",
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
    /// Open loop: how sends are spread over the rate (uniform unless the plan says).
    #[serde(default, skip_serializing_if = "Arrivals::is_uniform")]
    pub arrivals: Arrivals,
    /// Poisson arrivals: the seed; `None` until a run draws one (the result's echo has the one
    /// the run used).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Open loop: the rate stage by stage after the warm-up (which runs at the first stage's
    /// starting rate); `duration` is their sum and the mode's `rate` their mean. Empty: the
    /// mode's rate throughout.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<Stage>,
    /// Open loop: a recorded trace replayed instead of a rate; once read, `duration` reaches
    /// just past its last entry and the mode's `rate` is the window's entries over it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<Trace>,
    /// TLS to the targets; `None`: clear text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<Tls>,
    /// The HTTP version spoken.
    #[serde(default, skip_serializing_if = "Protocol::is_h1")]
    pub protocol: Protocol,
    /// HTTP/2: requests in flight at once per connection, each on its own stream.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub streams: u32,
}

fn one() -> u32 {
    1
}

fn is_one(n: &u32) -> bool {
    *n == 1
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
    /// Poisson arrivals without a seed: draws one at random, so that a run records the seed it
    /// used (below 2^63, so that a plan can give it back as a TOML integer). Otherwise nothing.
    pub fn draw_seed(&mut self) {
        if self.arrivals == Arrivals::Poisson && self.seed.is_none() {
            use std::hash::{BuildHasher, Hasher};
            let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            hasher.write_u128(now.as_nanos());
            self.seed = Some(hasher.finish() >> 1);
        }
    }

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
            arrivals: match self.arrivals {
                Arrivals::Uniform => v1::Arrivals::Uniform,
                Arrivals::Poisson => v1::Arrivals::Poisson,
            } as i32,
            seed: self.seed.unwrap_or(0),
            stream: 0,
            stages: self.stages.iter().map(|s| s.to_wire()).collect(),
            trace: self
                .trace
                .as_ref()
                .map(|t| shape::trace_to_wire(t.sends.as_deref().unwrap_or_default())),
            tls: self.tls.as_ref().map(Tls::to_wire),
            protocol: self.protocol.to_wire() as i32,
            streams: self.streams,
        }
    }
}
