//! What recording one latency costs a load worker (`make bench` point 5; the aim is 50 ns at
//! most).
//!
//! The worker records into its own `TargetStats` histograms (HdrHistogram, 1 ns..60 s, 3
//! digits) with `saturating_record`, one value per histogram; an open-loop request records
//! three (corrected, uncorrected, send lag). Values cycle through 4,096 latencies spread
//! log-uniformly over 20 µs..20 ms, so the benchmark touches as many buckets as a real run and
//! is not one hot counter.
//!
//! `cargo bench -p numaload-agent --bench record`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use numaload_agent::loadgen::TargetStats;

/// Deterministic latencies (ns), log-uniform over 20 µs..20 ms.
fn latencies() -> Vec<u64> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    (0..4_096)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let unit = (state >> 11) as f64 / (1u64 << 53) as f64;
            (20_000.0 * 1_000f64.powf(unit)) as u64
        })
        .collect()
}

fn record(c: &mut Criterion) {
    let values = latencies();
    let mask = values.len() - 1;
    let mut group = c.benchmark_group("record");
    group.throughput(Throughput::Elements(1));

    let mut stats = TargetStats::new(0);
    let mut i = 0usize;
    group.bench_function("one_latency", |b| {
        b.iter(|| {
            i = (i + 1) & mask;
            stats.corrected.saturating_record(black_box(values[i]));
        })
    });

    // What the worker does per served open-loop request: count it, record three histograms.
    let mut stats = TargetStats::new(0);
    let mut i = 0usize;
    group.bench_function("open_loop_request", |b| {
        b.iter(|| {
            i = (i + 1) & mask;
            let (lag, uncorrected) = (values[i] / 16, values[(i + 1) & mask]);
            stats.requests += 1;
            stats.uncorrected.saturating_record(black_box(uncorrected));
            stats.send_lag.saturating_record(black_box(lag));
            stats
                .corrected
                .saturating_record(black_box(lag + uncorrected));
        })
    });
    group.finish();
    black_box(&stats);
}

criterion_group!(benches, record);
criterion_main!(benches);
