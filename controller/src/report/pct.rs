//! The percentiles reports show ([`Pct`]), and whether one has samples enough to be shown.
//!
//! A percentile read from fewer samples than it needs is an extrapolation: with 500 requests the
//! "p99.9" is simply the maximum. [`Pct::min_samples`] is the smallest count for which the
//! percentile is backed by at least one sample beyond it (`1 / (1 - q)`: 100 for p99, 1000 for
//! p99.9, by [`crate::trust::min_samples`]); below it, reports print [`TOO_FEW`] instead of a
//! number.

use crate::result::Percentiles;
use crate::trust::min_samples;

/// What reports print for a percentile read from too few samples.
pub const TOO_FEW: &str = "n/a (too few)";

/// The percentiles reports show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pct {
    P50,
    P90,
    P99,
    P999,
    Max,
}

impl Pct {
    pub fn label(self) -> &'static str {
        match self {
            Pct::P50 => "p50",
            Pct::P90 => "p90",
            Pct::P99 => "p99",
            Pct::P999 => "p99.9",
            Pct::Max => "max",
        }
    }

    /// Its field in [`Percentiles`], as [`Percentiles::lower_bounds`] names it.
    pub fn field(self) -> &'static str {
        match self {
            Pct::P50 => "p50",
            Pct::P90 => "p90",
            Pct::P99 => "p99",
            Pct::P999 => "p999",
            Pct::Max => "max",
        }
    }

    /// The quantile, 1.0 for the maximum.
    pub fn quantile(self) -> f64 {
        match self {
            Pct::P50 => 0.5,
            Pct::P90 => 0.9,
            Pct::P99 => 0.99,
            Pct::P999 => 0.999,
            Pct::Max => 1.0,
        }
    }

    /// Samples needed before this percentile means anything (the maximum needs one).
    pub fn min_samples(self) -> u64 {
        min_samples(self.quantile())
    }

    pub fn value(self, p: &Percentiles) -> u64 {
        match self {
            Pct::P50 => p.p50,
            Pct::P90 => p.p90,
            Pct::P99 => p.p99,
            Pct::P999 => p.p999,
            Pct::Max => p.max,
        }
    }

    /// The value, or `None` when `p` has too few samples for it.
    pub fn shown(self, p: &Percentiles) -> Option<u64> {
        (p.count > 0 && p.count >= self.min_samples()).then(|| self.value(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::MIN_REQUESTS_FOR_P999;

    #[test]
    fn samples_needed_per_percentile() {
        let cases = [
            (0.5, 2),
            (0.9, 10),
            (0.99, 100),
            (0.999, 1000),
            (0.9999, 10_000),
            (1.0, 1),
        ];
        for (q, expected) in cases {
            assert_eq!(min_samples(q), expected, "q = {q}");
        }
        assert_eq!(Pct::P999.min_samples(), MIN_REQUESTS_FOR_P999);
    }

    #[test]
    fn a_percentile_with_too_few_samples_is_not_shown() {
        let p = |count| Percentiles {
            count,
            p99: 7,
            p999: 9,
            max: 10,
            ..Default::default()
        };
        let cases = [
            (0, Pct::Max, None),
            (1, Pct::Max, Some(10)),
            (99, Pct::P99, None),
            (100, Pct::P99, Some(7)),
            (999, Pct::P999, None),
            (1000, Pct::P999, Some(9)),
        ];
        for (count, pct, expected) in cases {
            assert_eq!(pct.shown(&p(count)), expected, "{count} {pct:?}");
        }
    }
}
