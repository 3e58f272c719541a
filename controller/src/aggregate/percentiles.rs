//! Percentiles read from latency histograms, exact or bounded below by the waits of requests
//! never answered, and a histogram's text form in the result file.

use base64::Engine as _;
use hdrhistogram::Histogram;
use numaload_proto::histogram::{self, HistogramError};

use crate::result::Percentiles;

/// The percentiles of one histogram of exact values.
pub fn percentiles(h: &Histogram<u64>) -> Percentiles {
    if h.is_empty() {
        return Percentiles::default();
    }
    // One pass over the counts for the four (a fleet reads thousands of histograms).
    let mut at = h.value_at_quantiles([0.50, 0.90, 0.99, 0.999]);
    let mut next = || at.next().unwrap_or(0);
    let (p50, p90, p99, p999) = (next(), next(), next(), next());
    Percentiles {
        count: h.len(),
        min: h.min(),
        mean: h.mean(),
        p50,
        p90,
        p99,
        p999,
        max: h.max(),
        waits: 0,
        lower_bounds: Vec::new(),
    }
}

/// The percentiles over `answered` (exact latencies) and `waited` (lower bounds of the waits of
/// requests never answered), read from their sum. Raising any value of `waited` can only raise
/// a figure, so every figure is at least what it reads; a percentile is exact when the answered
/// requests at or below it reach its rank on their own, and otherwise named in `lower_bounds`
/// (so are `mean` and `max` whenever anything waited, and `min` when a wait is the lowest).
pub fn bounded_percentiles(answered: &Histogram<u64>, waited: &Histogram<u64>) -> Percentiles {
    if waited.is_empty() {
        return percentiles(answered);
    }
    let mut all = answered.clone();
    if all.add(waited).is_err() {
        // Both come from `histogram::new_latency`, so they always add; if one did not, the
        // answered figures alone are still true, only missing the waits.
        return percentiles(answered);
    }
    let mut out = percentiles(&all);
    let total = all.len();
    out.count = answered.len();
    out.waits = waited.len();
    let exact = |quantile: f64, value: u64| {
        let rank = ((quantile * total as f64).ceil() as u64).max(1);
        answered.count_between(0, value) >= rank
    };
    let mut bounds: Vec<&str> = Vec::new();
    if answered.is_empty() || answered.min() > all.min() {
        bounds.push("min");
    }
    bounds.push("mean");
    for (name, quantile, value) in [
        ("p50", 0.50, out.p50),
        ("p90", 0.90, out.p90),
        ("p99", 0.99, out.p99),
        ("p999", 0.999, out.p999),
    ] {
        if !exact(quantile, value) {
            bounds.push(name);
        }
    }
    bounds.push("max");
    out.lower_bounds = bounds.into_iter().map(str::to_owned).collect();
    out
}

pub(super) fn base64_of(h: &Histogram<u64>) -> Result<String, HistogramError> {
    Ok(base64::engine::general_purpose::STANDARD.encode(histogram::encode(h)?))
}
