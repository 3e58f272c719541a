//! Plain values as the plan writes them, read for any key: a duration in whole milliseconds, a
//! float shown back as TOML writes it.

use std::time::Duration;

use super::super::problem::{quoted, KeyPath, Problem};

/// The longest measured window (and the longest stages add up to).
pub(super) const MAX_DURATION: Duration = Duration::from_secs(3600);

/// A humantime duration in whole milliseconds, the unit the wire carries.
pub(super) fn duration(text: &str, key: KeyPath, example: &str) -> Result<Duration, Problem> {
    let parsed = humantime::parse_duration(text).map_err(|e| {
        let fix = format!("not a duration ({e}); write a number and a unit, e.g. {example}");
        Problem::value(key.clone(), quoted(text), &fix)
    })?;
    if parsed.subsec_nanos() % 1_000_000 != 0 {
        let fix = "must be a whole number of milliseconds (the agent counts in ms), e.g. \"1ms\"";
        return Err(Problem::value(key, quoted(text), fix));
    }
    Ok(parsed)
}

/// A float as TOML writes it: `5000`, `-5`, `2.5`, `nan`, `inf`.
pub(super) fn number(value: f64) -> String {
    if value.is_nan() {
        "nan".to_owned()
    } else if value.is_infinite() {
        if value > 0.0 { "inf" } else { "-inf" }.to_owned()
    } else {
        value.to_string()
    }
}
