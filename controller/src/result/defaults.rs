//! What a field absent from a result file reads as, and which fields are left out when zero,
//! so results written by any version of the schema read and write back alike.

/// A figure a result file lacks reads as -1, "not measured".
pub(super) fn missing() -> i64 {
    -1
}

/// A result file that names no trial ran one: the first.
pub(super) fn first_trial() -> u32 {
    1
}

/// Fields a schema 2 file may lack are left out when zero, so such a file reads and writes back
/// unchanged.
pub(super) fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// As [`is_zero`], for a share of the measurement.
pub(super) fn is_zero_share(share: &f64) -> bool {
    *share == 0.0
}
