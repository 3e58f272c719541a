//! The percentiles of one merged latency histogram, as a result carries them.

use serde::{Deserialize, Serialize};

use super::defaults::is_zero;

/// Percentiles of one merged histogram, nanoseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// Answered requests: the exact values the figures are read from.
    pub count: u64,
    /// Requests never answered whose waits (lower bounds) the figures include as well.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub waits: u64,
    pub min: u64,
    pub mean: f64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
    /// The figures above (`mean`, `p50`, `p90`, `p99`, `p999`, `max`) that are lower bounds:
    /// decided by requests never answered, whose waits are known only to be at least as long
    /// (reports show them as "≥ 3.9 s"). Empty when every figure is exact.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lower_bounds: Vec<String>,
}

impl Percentiles {
    /// Whether the figure named `field` (as in [`Percentiles::lower_bounds`]) is a lower bound.
    pub fn is_lower_bound(&self, field: &str) -> bool {
        self.lower_bounds.iter().any(|f| f == field)
    }
}
