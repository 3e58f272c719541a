//! Durations as the plan file writes them (humantime text: "5s", "1s 500ms", in the result's
//! echo too) and as the wire carries them (whole milliseconds).

use std::time::Duration;

/// Saturates rather than wraps: only `timeout` has no upper bound, and "forever" is what a
/// timeout of 584 million years means anyway.
pub(super) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Durations as humantime text, for `#[serde(with = "super::durations::text")]`.
pub(super) mod text {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(in crate::plan) fn serialize<S: Serializer>(
        duration: &Duration,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_duration(*duration))
    }

    pub(in crate::plan) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text).map_err(serde::de::Error::custom)
    }
}
