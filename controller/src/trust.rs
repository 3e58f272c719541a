//! The rules for trusting a figure, in one place: when a load worker may have limited the
//! measurement, when a percentile has enough samples to mean anything, when a layout kept up
//! with the rate it was asked for, when a replica's worker threads over-subscribe its CPU quota,
//! and what the error rate is (with nothing attempted decided once). Aggregation's suspicions,
//! the capacity search, the reports' caveats (`report::caveats`) and `compare` all read them
//! from here. A leaf: it knows no result type, only numbers.

/// A load worker busier than this may itself have limited the measurement (invariant 3). The
/// share it spent busy-polling for responses (closed loop, no backlog at the server) is waiting
/// on the server, not work: it is taken out of `busy` before the comparison.
pub const SATURATED_BUSY: f64 = 0.85;

/// Open loop: a worker busier than [`SATURATED_BUSY`] (pacing, the busy-polls that only waited
/// for a send time, taken out) limited the measurement only if the generator also fell behind
/// its schedule: more than this share of the layout's sends were late (over 1 ms behind).
/// Without send-lag figures (closed loop) the busy share alone decides.
pub const FELL_BEHIND_LATE: f64 = 0.01;

/// Whether a load worker may have limited the measurement: its working share (`busy` less the
/// share spent spinning for responses and pacing sends) is above [`SATURATED_BUSY`], it did not
/// wait on the server (naps below [`WAITED_ON_SERVER`]), and, in open loop (`late_share` is the
/// layout's late sends over its send slots), the schedule fell behind.
pub fn generator_limited(
    busy: f64,
    spun: f64,
    paced: f64,
    napped: f64,
    late_share: Option<f64>,
) -> bool {
    busy - spun - paced > SATURATED_BUSY
        && napped < WAITED_ON_SERVER
        && late_share.is_none_or(|late| late > FELL_BEHIND_LATE)
}

/// A closed-loop worker that spent at least this share of the measurement in coalescing naps
/// waited on the server, however busy it read: it naps only when it has nothing to read while
/// the server has a backlog, which a saturated generator never has.
pub const WAITED_ON_SERVER: f64 = 0.05;

/// A layout whose throughput reached at least this share of the asked rate kept up with it; one
/// below did not (the generator or the target could not sustain the rate).
pub const KEPT_UP: f64 = 0.99;

/// The rate a layout's window asked for, to hold its throughput to ([`KEPT_UP`]): `nominal`
/// (the plan's rate, times the agents that each applied it), or, with Poisson arrivals
/// (`drawn`), what the schedules drew: the window's `intended` requests over its `elapsed_s`. A
/// Poisson count is not the rate times the time — it is off by its square root, by 2% one time
/// in three at 2,000 requests — so holding it to the nominal rate would call a run that kept up
/// one that fell behind.
pub fn asked_rate(nominal: f64, drawn: bool, intended: Option<u64>, elapsed_s: f64) -> f64 {
    match intended {
        Some(count) if drawn && elapsed_s > 0.0 => count as f64 / elapsed_s,
        _ => nominal,
    }
}

/// An agent's live reports come every second while it measures: one that came this long after
/// the one before says the agent did not run in between (stopped, or starved of CPU)...
pub const STALLED_LIVE_INTERVAL_MS: u64 = 1_500;
/// ...and so does a gap this long between two of its samples of a replica (every 100 ms)...
pub const STALLED_SAMPLE_GAP_MS: u64 = 500;
/// ...and the controller hearing nothing from it for this long while it measured says it was cut
/// off, slowed or stopped.
pub const SILENT_WHILE_MEASURING_NS: u64 = 2_500_000_000;

/// A server's own request count and the generator's may differ by this share of the
/// generator's before the layout is suspect...
pub const COUNT_TOLERANCE: f64 = 0.01;
/// ...or by this many requests (a counter read while a few were in flight).
pub const COUNT_SLACK: u64 = 10;

/// Samples a percentile needs before it is more than the maximum: `1 / (1 - q)`, rounded (2 for
/// the median, 100 for p99, 1000 for p99.9); 1 for the maximum (q ≥ 1).
pub fn min_samples(quantile: f64) -> u64 {
    if quantile >= 1.0 {
        return 1;
    }
    (1.0 / (1.0 - quantile)).round().max(1.0) as u64
}

/// Below this many requests a p99 is the maximum in disguise.
pub const MIN_REQUESTS_FOR_P99: u64 = 100;
/// Below this many requests a p99.9 is an extrapolation.
pub const MIN_REQUESTS_FOR_P999: u64 = 1_000;

/// A replica running this many times its cgroup CPU quota in worker threads, or more, is
/// throttled by CFS: its latency measures the throttling as much as the layout. The target
/// server warns by the same rule at start-up.
pub const QUOTA_OVERSUBSCRIBED: f64 = 2.0;

/// Whether `worker_threads` over-subscribe a CPU quota of `quota_cpus` CPUs (by
/// [`QUOTA_OVERSUBSCRIBED`]); no worker threads over-subscribe nothing.
pub fn quota_oversubscribed(worker_threads: u32, quota_cpus: f64) -> bool {
    worker_threads > 0 && f64::from(worker_threads) >= QUOTA_OVERSUBSCRIBED * quota_cpus
}

/// Errors per attempt; `requests` counts answered requests only. Nothing attempted is an error
/// rate of 0 (no request failed); whether such a layout means anything is the request count's
/// rule, not the rate's.
pub fn error_rate(requests: u64, errors: u64) -> f64 {
    let attempts = requests.saturating_add(errors);
    if attempts == 0 {
        0.0
    } else {
        errors as f64 / attempts as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generator_is_limited_by_work_not_by_pacing_or_waiting() {
        // (busy, spun, paced, napped, late share, limited)
        let cases = [
            (0.90, 0.0, 0.0, 0.0, None, true),
            (0.80, 0.0, 0.0, 0.0, None, false),
            (0.98, 0.20, 0.0, 0.0, None, false),
            (0.90, 0.0, 0.0, 0.10, None, false),
            // Open loop: busy but on schedule is not limited; pacing is not work.
            (0.95, 0.0, 0.0, 0.0, Some(0.0), false),
            (0.95, 0.0, 0.0, 0.0, Some(0.05), true),
            (0.95, 0.0, 0.30, 0.0, Some(0.05), false),
            (0.99, 0.0, 0.05, 0.0, Some(0.5), true),
        ];
        for (busy, spun, paced, napped, late, limited) in cases {
            assert_eq!(
                generator_limited(busy, spun, paced, napped, late),
                limited,
                "busy {busy}, spun {spun}, paced {paced}, napped {napped}, late {late:?}"
            );
        }
    }

    #[test]
    fn a_poisson_window_is_held_to_what_its_schedules_drew_not_the_nominal_rate() {
        // 1,000 req/s for 2 s drew 1,950 sends (within its √2000 ≈ 45 of 2,000).
        assert_eq!(asked_rate(1_000.0, true, Some(1_950), 2.0), 975.0);
        assert_eq!(asked_rate(1_000.0, false, Some(1_950), 2.0), 1_000.0);
        assert_eq!(
            asked_rate(1_000.0, true, None, 2.0),
            1_000.0,
            "an older result"
        );
        assert_eq!(asked_rate(1_000.0, true, Some(1_950), 0.0), 1_000.0);
    }

    #[test]
    fn the_rules_agree_with_themselves() {
        assert_eq!(min_samples(0.99), MIN_REQUESTS_FOR_P99);
        assert_eq!(min_samples(0.999), MIN_REQUESTS_FOR_P999);
        assert_eq!(min_samples(0.5), 2);
        assert_eq!(min_samples(1.0), 1);
        assert_eq!(error_rate(0, 0), 0.0, "nothing attempted: no error");
        assert_eq!(error_rate(99, 1), 0.01);
        assert_eq!(error_rate(0, 5), 1.0);
    }
}
