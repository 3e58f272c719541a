//! A Prometheus latency histogram with fixed buckets, recorded with lock-free atomics.
//!
//! Each observation bumps one bucket (not cumulative) and adds its nanoseconds to the sum;
//! [`LatencyHistogram::snapshot`] turns the buckets into Prometheus's cumulative `le` counts.
//! `_count` is derived from the buckets, so it always equals the `+Inf` bucket even while
//! requests are being recorded; `_sum` may lag an observation that is half-way through.
//!
//! Why not `prometheus_client::metrics::histogram::Histogram`: its `observe` takes a
//! `parking_lot::Mutex` around the bucket search and an `f64` sum, per request, shared by every
//! worker; this one is a `partition_point` over 17 integers and two relaxed `fetch_add`s, so a
//! whole request's counting (this `record` plus the status counter, `ServerMetrics::request`)
//! costs a fraction of the library's `observe` alone, and workers never wait on each other.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::encoding::{MetricEncoder, NoLabelSet};

/// Upper bounds of the buckets, in seconds (`+Inf` is implied): 50 µs to 10 s, roughly
/// 1-2.5-5 per decade, so both a 50 µs spin and a collapsed 100 ms p50 land in a bucket of
/// their own.
pub const BUCKETS_SECONDS: [f64; 17] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0,
];

/// The same bounds in nanoseconds, for comparisons on the hot path.
const BUCKETS_NS: [u64; 17] = [
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    10_000_000_000,
];

/// Request latencies, by bucket.
#[derive(Debug)]
pub struct LatencyHistogram {
    /// One per bound, plus the `+Inf` overflow.
    buckets: [AtomicU64; BUCKETS_NS.len() + 1],
    sum_ns: AtomicU64,
}

/// A histogram read at one moment, ready to print.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    /// `(le, cumulative count)` for each bound in [`BUCKETS_SECONDS`], then `+Inf`.
    pub cumulative: Vec<(f64, u64)>,
    pub sum_seconds: f64,
    pub count: u64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_ns: AtomicU64::new(0),
        }
    }
}

impl LatencyHistogram {
    /// Records one latency.
    #[inline]
    pub fn record(&self, latency: Duration) {
        let ns = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        // The first bound at or above the latency (`le` is inclusive); past the last, +Inf.
        let bucket = BUCKETS_NS.partition_point(|&bound| bound < ns);
        // Relaxed: the buckets are independent counters read only for reporting.
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_ns.fetch_add(ns, Ordering::Relaxed);
    }

    /// Encodes the histogram's samples (`_bucket`, `_sum`, `_count`) under its descriptor.
    pub fn encode(&self, mut encoder: MetricEncoder<'_>) -> std::fmt::Result {
        let snapshot = self.snapshot();
        // The encoder takes per-bucket counts and accumulates them itself; the last is +Inf.
        let mut below = 0;
        let buckets: Vec<(f64, u64)> = snapshot
            .cumulative
            .iter()
            .map(|&(le, cumulative)| (le, cumulative - std::mem::replace(&mut below, cumulative)))
            .collect();
        let (sum, count) = (snapshot.sum_seconds, snapshot.count);
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }

    /// The cumulative counts, sum and count now.
    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut running = 0;
        let cumulative = BUCKETS_SECONDS
            .iter()
            .copied()
            .chain(std::iter::once(f64::INFINITY))
            .zip(&self.buckets)
            .map(|(le, bucket)| {
                running += bucket.load(Ordering::Relaxed);
                (le, running)
            })
            .collect();
        HistogramSnapshot {
            cumulative,
            sum_seconds: self.sum_ns.load(Ordering::Relaxed) as f64 / 1e9,
            count: running,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_agree() {
        for (s, ns) in BUCKETS_SECONDS.iter().zip(BUCKETS_NS) {
            assert_eq!((s * 1e9).round() as u64, ns);
        }
        assert!(BUCKETS_NS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn records_cumulatively_with_inclusive_bounds() {
        let h = LatencyHistogram::default();
        for us in [10, 50, 51, 3_000, 20_000_000] {
            h.record(Duration::from_micros(us));
        }
        let s = h.snapshot();
        assert_eq!(s.count, 5);
        assert_eq!(s.cumulative.len(), BUCKETS_SECONDS.len() + 1);
        assert_eq!(s.cumulative[0], (0.000_05, 2), "10 us and exactly 50 us");
        assert_eq!(s.cumulative[1], (0.000_1, 3));
        assert_eq!(s.cumulative[6], (0.005, 4));
        assert_eq!(s.cumulative[16], (10.0, 4));
        assert_eq!(s.cumulative[17], (f64::INFINITY, 5), "20 s overflows");
        assert!(
            (s.sum_seconds - 20.003_111).abs() < 1e-9,
            "{}",
            s.sum_seconds
        );
    }
}
