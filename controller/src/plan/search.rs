//! The `[search]` table, validated: what a capacity search looks for (the `search` module runs it).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The `[search]` table, validated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Search {
    #[serde(with = "humantime_serde_ns")]
    pub slo_p99: Duration,
    pub max_error_rate: f64,
    pub start_rate: f64,
    pub max_rate: f64,
    /// Stop bisecting when the highest pass is within this fraction of the lowest failure.
    pub precision: f64,
    pub max_steps: u32,
}

mod humantime_serde_ns {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_nanos() as u64)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_nanos(u64::deserialize(d)?))
    }
}
