//! Load shapes against a real server on 127.0.0.1: a recorded trace replayed request by request,
//! and stages counted apart. (The schedules themselves are checked statistically, without a
//! socket, in the generator's unit tests: `loadgen/shape/tests.rs`.)

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use numaload_agent::loadgen::{self, Arrivals, LoadConfig, LoadShape, Mode, Stage, TraceEntry};

use super::loadgen::{bytes, config, run_bounded, serial, template, RawServer, Reply, OK_2};

/// 600 entries over 1.2 s at uneven gaps (some together), each naming one of three requests.
fn trace() -> Vec<TraceEntry> {
    let mut at = Duration::ZERO;
    (0..600u64)
        .map(|i| {
            // Gaps of 0 to 4 ms in a fixed irregular pattern: 2 ms on average.
            at += Duration::from_micros((i * 7_919) % 5 * 1_000);
            TraceEntry {
                at,
                request: ((i * 31) % 7 % 3) as u32,
            }
        })
        .collect()
}

#[test]
fn a_trace_is_replayed_exactly_request_by_request() {
    let _turn = crate::turns::beside_others();
    let _serial = serial();
    let ok = bytes(OK_2);
    let server = RawServer::start(move |_| Reply::keep(&ok));
    let entries = trace();
    let last = entries.last().expect("entries").at;
    let warmup = Duration::from_millis(200);
    let config = LoadConfig {
        warmup,
        duration: last + Duration::from_millis(1) - warmup,
        requests: vec![
            template("a", "GET", "/a", 1),
            template("b", "POST", "/b", 1),
            template("c", "GET", "/c", 1),
        ],
        shape: LoadShape {
            trace: Some(entries.iter().copied().collect::<Arc<[TraceEntry]>>()),
            ..LoadShape::default()
        },
        // Any rate: a trace does not use it.
        ..config(Mode::Open { rate_per_sec: 1.0 }, vec![server.addr], 4)
    };
    let report = run_bounded(&config);
    assert_eq!(report.errors().total(), 0, "{:?}", report.errors());
    // The server got every entry of the trace (the warm-up's too), each as the one it names.
    let paths = ["/a", "/b", "/c"];
    let mut want: BTreeMap<&str, u64> = BTreeMap::new();
    for entry in &entries {
        *want.entry(paths[entry.request as usize]).or_default() += 1;
    }
    let mut got: BTreeMap<&str, u64> = BTreeMap::new();
    for seen in server.seen() {
        let path = paths
            .iter()
            .find(|p| **p == seen.path)
            .unwrap_or_else(|| panic!("unexpected {seen:?}"));
        let method = if *path == "/b" { "POST" } else { "GET" };
        assert_eq!(seen.method, method);
        *got.entry(path).or_default() += 1;
    }
    assert_eq!(got, want, "the server saw exactly the trace");
    // The window measured the entries from the warm-up's end on, each under its own request.
    let r = &report.per_replica()[0];
    let measured: Vec<&TraceEntry> = entries.iter().filter(|e| e.at >= warmup).collect();
    assert_eq!(r.requests, measured.len() as u64);
    assert_eq!(
        Some(r.requests),
        loadgen::window_sends(&config),
        "the schedule's count of the window"
    );
    for (index, by) in r.by_request.iter().enumerate() {
        let named = measured.iter().filter(|e| e.request as usize == index);
        assert_eq!(by.requests, named.count() as u64, "request {index}");
    }
}

#[test]
fn stages_are_counted_apart_and_add_up_to_the_window() {
    let _turn = crate::turns::beside_others();
    let _serial = serial();
    let ok = bytes(OK_2);
    let server = RawServer::start(move |_| Reply::keep(&ok));
    let stages = vec![
        Stage {
            from: 500.0,
            to: 500.0,
            duration: Duration::from_secs(1),
        },
        Stage {
            from: 500.0,
            to: 1_500.0,
            duration: Duration::from_secs(1),
        },
    ];
    let config = LoadConfig {
        warmup: Duration::from_millis(300),
        duration: Duration::from_secs(2),
        shape: LoadShape {
            stages,
            ..LoadShape::default()
        },
        ..config(Mode::Open { rate_per_sec: 1.0 }, vec![server.addr], 4)
    };
    let report = run_bounded(&config);
    assert_eq!(report.errors().total(), 0, "{:?}", report.errors());
    let r = &report.per_replica()[0];
    let [first, second] = &r.by_stage[..] else {
        panic!("{} stages reported", r.by_stage.len())
    };
    // 500 asked in the step, 1,000 in the ramp; evenly spread, each stage's count is its
    // integral to within a request per connection at its edges.
    assert!(
        first.requests.abs_diff(500) <= 4,
        "step: {}",
        first.requests
    );
    assert!(
        second.requests.abs_diff(1_000) <= 4,
        "ramp: {}",
        second.requests
    );
    assert_eq!(first.requests + second.requests, r.requests);
    assert_eq!(Some(r.requests), loadgen::window_sends(&config));
    assert_eq!(first.corrected.len(), first.requests);
    assert_eq!(second.uncorrected.len(), second.requests);
}

/// Poisson arrivals at 1,000 req/s over 40 connections to a server that answers each request in
/// 5 ms: with one schedule per connection (25 req/s each, exponential gaps) an eighth of the
/// sends would fall due while their connection still waited for its previous answer, and go out
/// late (more when a busy machine stretches the answers). Taken from a pool, a send goes to
/// whichever connection is free: late only when all 40 are busy, which at an eighth of their
/// capacity almost never happens, even with the answers stretched threefold. Even spacing (a
/// gap of 40 ms per connection) is the control: what the machine itself makes late, beside it.
/// It takes the machine alone: a test loading the server's CPU beside it stretches the answers
/// by more than any margin, and bursts of Poisson sends feel that before evenly spaced ones do.
#[test]
fn poisson_sends_go_to_a_free_connection_rather_than_wait_for_their_own() {
    let _turn = crate::turns::alone();
    let _serial = serial();
    let ok = bytes(OK_2);
    let server = RawServer::start(move |_| {
        std::thread::sleep(Duration::from_millis(5));
        Reply::keep(&ok)
    });
    let even = LoadConfig {
        warmup: Duration::from_millis(200),
        duration: Duration::from_millis(500),
        ..config(
            Mode::Open {
                rate_per_sec: 1_000.0,
            },
            vec![server.addr],
            40,
        )
    };
    let poisson = LoadConfig {
        shape: LoadShape {
            arrivals: Arrivals::Poisson { seed: 3, stream: 0 },
            ..LoadShape::default()
        },
        ..even.clone()
    };
    let late = |config: &LoadConfig| {
        let report = run_bounded(config);
        let r = &report.per_replica()[0];
        assert_eq!(
            Some(r.requests + report.errors().total()),
            loadgen::window_sends(config),
            "every send slot of the window has its outcome"
        );
        r.counts.late_sends as f64 / r.requests.max(1) as f64
    };
    // Three rounds, the two spacings taking turns, each judged by its median round: a burst of
    // the machine's own work falls on one short run, not on a spacing, while a send waiting for
    // its own connection would be late in every Poisson round.
    let (mut even_late, mut poisson_late) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        even_late.push(late(&even));
        poisson_late.push(late(&poisson));
    }
    let percents = |shares: &[f64]| {
        shares
            .iter()
            .map(|share| format!("{:.1}%", 100.0 * share))
            .collect::<Vec<_>>()
            .join(" ")
    };
    println!(
        "sent late: {} evenly spaced, {} Poisson",
        percents(&even_late),
        percents(&poisson_late)
    );
    let median = |mut shares: Vec<f64>| {
        shares.sort_by(f64::total_cmp);
        shares[shares.len() / 2]
    };
    let (even_late, poisson_late) = (median(even_late), median(poisson_late));
    assert!(
        poisson_late < even_late + 0.05,
        "Poisson {:.1}% late against even spacing's {:.1}% (medians of three rounds)",
        100.0 * poisson_late,
        100.0 * even_late
    );
}
