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
///
/// The usual case — every histogram made by [`new_latency`] and V2-encoded by [`encode`], as the
/// agents ship them — takes a fast path: the counts in each payload are added index by index into
/// one array, with no histogram decoded per input (decoding zeroes a full 1 ns..60 s counts array
/// each time, which dominated merging 1,000 of them). Anything else (other bounds or precision,
/// DEFLATE, values past 60 s) goes through the full decode and [`merge_into`]. Both give the same
/// histogram: same counts in the same buckets, hence the same percentiles, min, max and mean.
pub fn merge_encoded<'a>(
    encoded: impl IntoIterator<Item = &'a [u8]>,
) -> Result<Histogram<u64>, HistogramError> {
    let mut total = new_latency();
    let mut counts: Vec<u64> = Vec::new();
    for bytes in encoded {
        if bytes.is_empty() {
            continue;
        }
        if !add_latency_counts(bytes, &mut counts)? {
            merge_into(&mut total, &decode(bytes)?)?;
        }
    }
    for (index, &count) in counts.iter().enumerate() {
        if count > 0 {
            total
                .record_n(latency_value_at(index), count)
                .map_err(|e| HistogramError::Merge(format!("{e:?}")))?;
        }
    }
    Ok(total)
}

/// V2 cookie of an uncompressed histogram with 8-byte counts, as `hdrhistogram` writes it.
const V2_COOKIE: u32 = 0x1c84_9303 | 0x10;
/// Bytes before the payload: cookie, payload length, normalizing offset, digits, low, high, ratio.
const V2_HEADER: usize = 40;
/// `new_latency`'s layout: 3 digits → 2048 sub-buckets, half of them (2^10) per bucket after the
/// first; lowest value 1 → unit magnitude 0.
const SUB_BUCKET_HALF_COUNT_MAGNITUDE: u32 = 10;
const SUB_BUCKET_HALF_COUNT: usize = 1 << SUB_BUCKET_HALF_COUNT_MAGNITUDE;

/// Adds the counts of one V2 histogram with `new_latency`'s layout into `counts` (indexed like
/// its counts array). `Ok(false)` when the bytes are something else (the caller decodes them).
fn add_latency_counts(bytes: &[u8], counts: &mut Vec<u64>) -> Result<bool, HistogramError> {
    let be_u32 = |at: usize| {
        bytes
            .get(at..at + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let be_u64 = |at: usize| {
        bytes
            .get(at..at + 8)
            .map(|b| u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
    };
    let header = (
        be_u32(0),
        be_u32(4),
        be_u32(8),
        be_u32(12),
        be_u64(16),
        be_u64(24),
        be_u64(32),
    );
    let (Some(cookie), Some(len), Some(0), Some(digits), Some(1), Some(high), Some(ratio)) = header
    else {
        return Ok(false);
    };
    if cookie != V2_COOKIE
        || digits != u32::from(SIGNIFICANT_DIGITS)
        || high > MAX_LATENCY_NS
        || f64::from_bits(ratio) != 1.0
    {
        return Ok(false);
    }
    let payload = bytes
        .get(V2_HEADER..V2_HEADER + len as usize)
        .ok_or_else(|| HistogramError::Decode("payload shorter than its header says".into()))?;
    let bad = || HistogramError::Decode("malformed V2 payload".into());
    let (mut at, mut index) = (0usize, 0usize);
    while at < payload.len() {
        // LEB128 (up to 9 bytes, the 9th carrying 8 bits), zig-zag encoded.
        let mut raw: u64 = 0;
        let mut shift = 0;
        loop {
            let byte = *payload.get(at).ok_or_else(bad)?;
            at += 1;
            if shift == 56 {
                raw |= u64::from(byte) << 56;
                break;
            }
            raw |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                break;
            }
            shift += 7;
        }
        let value = ((raw >> 1) as i64) ^ -((raw & 1) as i64);
        if value < 0 {
            index = index
                .checked_add(value.unsigned_abs() as usize)
                .ok_or_else(bad)?;
        } else {
            if index >= counts.len() {
                if index > 1 << 20 {
                    return Err(bad());
                }
                counts.resize(index + 1, 0);
            }
            counts[index] = counts[index].saturating_add(value as u64);
            index += 1;
        }
    }
    Ok(true)
}

/// The lowest value of counts-array slot `index` in `new_latency`'s layout (HdrHistogram's
/// `value_for`: the first bucket holds 2048 sub-buckets, each later one the upper 1024, twice as
/// wide).
fn latency_value_at(index: usize) -> u64 {
    let bucket = (index >> SUB_BUCKET_HALF_COUNT_MAGNITUDE) as i64 - 1;
    let mut sub_bucket = (index & (SUB_BUCKET_HALF_COUNT - 1)) + SUB_BUCKET_HALF_COUNT;
    let bucket = if bucket < 0 {
        sub_bucket -= SUB_BUCKET_HALF_COUNT;
        0
    } else {
        bucket as u32
    };
    (sub_bucket as u64) << bucket
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

    /// The fast path must give exactly what decoding and adding gives.
    #[test]
    fn the_fast_merge_equals_decoding_and_adding() {
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut encoded = Vec::new();
        let mut slow = new_latency();
        for h in 0..40u64 {
            let mut one = new_latency();
            for _ in 0..(h * 37 % 500) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                // Values from 1 ns to ~60 s, log-spread, with repeats.
                let value = 1 + (state % 1_000) * 10u64.pow((state >> 20) as u32 % 8);
                one.saturating_record(value.min(MAX_LATENCY_NS));
            }
            merge_into(&mut slow, &one).expect("slow");
            encoded.push(encode(&one).expect("encode"));
        }
        let fast = merge_encoded(encoded.iter().map(Vec::as_slice)).expect("fast");
        assert_eq!(fast.len(), slow.len());
        assert_eq!((fast.min(), fast.max()), (slow.min(), slow.max()));
        assert!((fast.mean() - slow.mean()).abs() < 1e-6 * slow.mean().max(1.0));
        for q in [0.0, 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999, 1.0] {
            assert_eq!(
                fast.value_at_quantile(q),
                slow.value_at_quantile(q),
                "q {q}"
            );
        }
        let fast_buckets: Vec<(u64, u64)> = fast
            .iter_recorded()
            .map(|v| (v.value_iterated_to(), v.count_at_value()))
            .collect();
        let slow_buckets: Vec<(u64, u64)> = slow
            .iter_recorded()
            .map(|v| (v.value_iterated_to(), v.count_at_value()))
            .collect();
        assert_eq!(
            fast_buckets, slow_buckets,
            "same counts in the same buckets"
        );
    }

    #[test]
    fn histograms_of_another_layout_still_merge() {
        // Two significant digits: another counts layout, so the full decode path adds it.
        let mut coarse = Histogram::<u64>::new_with_bounds(1, MAX_LATENCY_NS, 2).expect("bounds");
        coarse.record(5_000_000_000).expect("5 s");
        let mut ours = new_latency();
        ours.record(5_000).expect("5 µs");
        let merged = merge_encoded([
            encode(&coarse).expect("a").as_slice(),
            encode(&ours).expect("b").as_slice(),
        ])
        .expect("merge");
        assert_eq!(merged.len(), 2);
        assert_eq!(merged.value_at_quantile(0.0), ours.value_at_quantile(0.0));
        assert!(merged.max() >= 4_900_000_000, "{}", merged.max());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(decode(b"not a histogram").is_err());
        assert_eq!(decode(&[]).expect("empty is empty").len(), 0);
    }
}
