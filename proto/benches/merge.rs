//! Merging 1,000 serialized histograms, as the controller merges every worker's histograms
//! (issue 6, goal < 100 ms).
//!
//! Each histogram holds 10,000 latencies log-uniform over 10 µs..100 ms (a different stream
//! per histogram), encoded with `numaload_proto::histogram::encode` (V2, as the agent ships
//! them); `merge/1000_encoded` times `merge_encoded` over all 1,000, decoding included, and
//! `merge/1000_decode_only` the decoding alone, to show where the time goes.
//!
//! `cargo bench -p numaload-proto --bench merge`

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use numaload_proto::histogram::{decode, encode, merge_encoded, new_latency};

const HISTOGRAMS: u64 = 1_000;
const VALUES_PER_HISTOGRAM: u64 = 10_000;

fn encoded_histograms() -> Vec<Vec<u8>> {
    (0..HISTOGRAMS)
        .map(|h| {
            let mut state = 0x9E37_79B9_7F4A_7C15u64 ^ (h + 1).wrapping_mul(0xD1B5_4A32_D192_ED03);
            let mut histogram = new_latency();
            for _ in 0..VALUES_PER_HISTOGRAM {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let unit = (state >> 11) as f64 / (1u64 << 53) as f64;
                histogram.saturating_record((10_000.0 * 10_000f64.powf(unit)) as u64);
            }
            encode(&histogram).expect("encode a valid histogram")
        })
        .collect()
}

fn merge(c: &mut Criterion) {
    let encoded = encoded_histograms();
    let bytes: usize = encoded.iter().map(Vec::len).sum();
    println!(
        "merge: {HISTOGRAMS} histograms of {VALUES_PER_HISTOGRAM} values, {} KiB encoded in all",
        bytes / 1024
    );
    let mut group = c.benchmark_group("merge");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(8));
    group.bench_function("1000_encoded", |b| {
        b.iter(|| {
            let merged = merge_encoded(encoded.iter().map(Vec::as_slice));
            black_box(merged.map(|h| h.len()).unwrap_or_default())
        })
    });
    // Where the time goes: decoding alone (each decode allocates a full-range histogram).
    group.bench_function("1000_decode_only", |b| {
        b.iter(|| {
            let total: u64 = encoded
                .iter()
                .map(|bytes| decode(bytes).map(|h| h.len()).unwrap_or_default())
                .sum();
            black_box(total)
        })
    });
    group.finish();
}

criterion_group!(benches, merge);
criterion_main!(benches);
