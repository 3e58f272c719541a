//! Latency histograms on the wire: HdrHistogram, serialized in the V2 format.
//!
//! Every percentile numaload reports comes from histograms merged with [`merge_into`]; nothing
//! ever averages percentiles. Values are nanoseconds.

use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};
use hdrhistogram::Histogram;

/// Highest latency a histogram can hold: 60 s in nanoseconds. Larger values are clamped.
pub const MAX_LATENCY_NS: u64 = 60_000_000_000;
/// Significant decimal digits kept: 3 means values are exact to 0.1%.
pub const SIGNIFICANT_DIGITS: u8 = 3;

/// Errors decoding or merging a histogram that came over the wire or from a result file.
#[derive(Debug, thiserror::Error)]
pub enum HistogramError {
    #[error("histogram bytes are not a valid HdrHistogram V2 encoding: {0}")]
    Decode(String),
    #[error("histogram could not be encoded: {0}")]
    Encode(String),
    #[error("histograms cannot be merged: {0}")]
    Merge(String),
}

/// A fresh latency histogram: 1 ns to [`MAX_LATENCY_NS`], [`SIGNIFICANT_DIGITS`] digits.
pub fn new_latency() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_LATENCY_NS, SIGNIFICANT_DIGITS)
        .expect("constant bounds 1..60s with 3 digits are valid for HdrHistogram")
}

/// Serializes a histogram in the V2 format (uncompressed).
pub fn encode(histogram: &Histogram<u64>) -> Result<Vec<u8>, HistogramError> {
    let mut bytes = Vec::new();
    V2Serializer::new()
        .serialize(histogram, &mut bytes)
        .map_err(|e| HistogramError::Encode(format!("{e:?}")))?;
    Ok(bytes)
}

/// Reads a V2 (or V2 + DEFLATE) histogram. Empty input is an empty histogram.
pub fn decode(bytes: &[u8]) -> Result<Histogram<u64>, HistogramError> {
    if bytes.is_empty() {
        return Ok(new_latency());
    }
    let mut reader = bytes;
    Deserializer::new()
        .deserialize(&mut reader)
        .map_err(|e| HistogramError::Decode(format!("{e:?}")))
}

/// Adds every count of `other` into `total`, growing `total`'s range if `other` reaches further.
pub fn merge_into(
    total: &mut Histogram<u64>,
    other: &Histogram<u64>,
) -> Result<(), HistogramError> {
    total
        .add(other)
        .map_err(|e| HistogramError::Merge(format!("{e:?}")))
}

/// Decodes and merges many encoded histograms into one.
pub fn merge_encoded<'a>(
    encoded: impl IntoIterator<Item = &'a [u8]>,
) -> Result<Histogram<u64>, HistogramError> {
    let mut total = new_latency();
    for bytes in encoded {
        merge_into(&mut total, &decode(bytes)?)?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_every_count() {
        let mut h = new_latency();
        for v in [1_000, 2_000, 2_000, 5_000_000, MAX_LATENCY_NS] {
            h.record(v).expect("in range");
        }
        let back = decode(&encode(&h).expect("encode")).expect("decode");
        assert_eq!(back.len(), 5);
        assert_eq!(back.max(), h.max());
        assert_eq!(back.value_at_quantile(0.5), h.value_at_quantile(0.5));
    }

    #[test]
    fn merged_percentile_is_the_pooled_percentile_not_the_mean() {
        // Worker A: 99 fast requests; worker B: 1 fast, 99 slow ones.
        let mut a = new_latency();
        let mut b = new_latency();
        let mut pooled = new_latency();
        for _ in 0..99 {
            a.record(100_000).expect("in range");
            pooled.record(100_000).expect("in range");
            b.record(50_000_000).expect("in range");
            pooled.record(50_000_000).expect("in range");
        }
        let merged = merge_encoded([
            encode(&a).expect("a").as_slice(),
            encode(&b).expect("b").as_slice(),
        ])
        .expect("merge");
        assert_eq!(merged.len(), 198);
        assert_eq!(
            merged.value_at_quantile(0.25),
            pooled.value_at_quantile(0.25)
        );
        assert_eq!(
            merged.value_at_quantile(0.99),
            pooled.value_at_quantile(0.99)
        );
        let mean_of_p50s = (a.value_at_quantile(0.5) + b.value_at_quantile(0.5)) / 2;
        assert_ne!(merged.value_at_quantile(0.5), mean_of_p50s);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(decode(b"not a histogram").is_err());
        assert_eq!(decode(&[]).expect("empty is empty").len(), 0);
    }
}
