//! One stage of an open-loop run with `[[load.stages]]` ([`StageResult`]), and the seed and
//! stream an agent drew Poisson arrivals from ([`ArrivalStream`]).

use serde::{Deserialize, Serialize};

use super::errors::ErrorKinds;
use super::percentiles::Percentiles;

/// One stage of a layout's measured window: what the plan asked of it and what the requests
/// intended in it got (whenever they ended), merged over workers, replicas, agents and trials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageResult {
    /// Numbered from 1, in plan order.
    pub stage: u32,
    /// The rate the plan asks for at the stage's start and end, requests per second over all
    /// agents (equal: a step).
    pub from_rps: f64,
    pub to_rps: f64,
    /// When the stage starts, seconds from the window's open, and how long it lasts.
    pub start_s: f64,
    pub duration_s: f64,
    /// How much of it was measured: its duration (less when the run was cancelled in it), over
    /// every trial measured.
    pub measured_s: f64,
    /// Responses with an expected status to requests intended in the stage.
    pub requests: u64,
    pub errors: u64,
    pub errors_by_kind: ErrorKinds,
    pub late_sends: u64,
    /// `requests` over `measured_s` (agents that measure at once add up).
    pub throughput_rps: f64,
    /// From the intended send time, over the answered requests and the lower bounds of the
    /// unanswered ones' waits, as the layout's own `latency_ns`.
    pub latency_ns: Percentiles,
    pub latency_uncorrected_ns: Percentiles,
    /// The merged histograms (HdrHistogram V2, base64), so trials and re-renders merge exactly.
    pub latency_v2_base64: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uncorrected_v2_base64: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub waited_v2_base64: String,
}

impl StageResult {
    /// The mean rate the plan asks for over the stage.
    pub fn asked_rps(&self) -> f64 {
        (self.from_rps + self.to_rps) / 2.0
    }
}

/// Poisson arrivals: the seed and stream an agent drew its send times from. With the plan
/// (whose `load.seed` is the run's), what replays a layout's arrivals exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArrivalStream {
    pub seed: u64,
    pub stream: u32,
}
