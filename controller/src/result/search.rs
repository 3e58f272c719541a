//! The search part of a result: per layout, the highest rate that met the objective, with every
//! step (the `search` module fills it).

use serde::{Deserialize, Serialize};

/// What the search found for one layout, with every step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayoutSearch {
    pub name: String,
    /// The highest rate that passed; `None` when none did (even the lowest tried failed).
    pub max_rate_rps: Option<f64>,
    /// The lowest rate that failed, when one did.
    pub first_failing_rps: Option<f64>,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub rate_rps: f64,
    pub achieved_rps: f64,
    pub p99_ns: u64,
    pub error_rate: f64,
    pub passed: bool,
    /// Why it failed (empty when it passed).
    pub reason: String,
    /// False when the step had too few requests to judge a p99 (fewer than 100): the search
    /// stops there rather than go lower still.
    #[serde(default = "yes")]
    pub conclusive: bool,
}

fn yes() -> bool {
    true
}

/// The search part of a result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchResult {
    pub slo_p99_ns: u64,
    pub max_error_rate: f64,
    pub layouts: Vec<LayoutSearch>,
}
