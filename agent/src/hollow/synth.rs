//! What a hollow agent reports, made up deterministically: the same agent index, plan and layout
//! always give the same placement, samples and summary, so a test can compute each agent's
//! figures itself and check the controller's merge to the request. Pure: no clock, no I/O.
//!
//! Agents whose indexes differ by a multiple of [`SHAPES`] report alike. Each agent serves
//! every request it is asked for (open loop: its rate times the window,
//! spread over its replicas; closed loop: 100 per connection and second), answered `200`,
//! with a latency distribution of its own: [`BUCKETS`] values around a median between 100 µs
//! and 1 ms that depends on the agent, the request counts spread over them.

use hdrhistogram::Histogram;
use numaload_proto::histogram::{self, HistogramError};
use numaload_proto::v1::{
    layout_spec, ErrorCounts, LayoutSpec, LayoutSummary, LoadMode, Placed, ReplicaPlacement,
    ReplicaStats, RunPlan, StatusCount, ThreadSample, WorkerResult,
};

/// Distinct latency values per worker: the histograms cost the same whatever the rate.
pub const BUCKETS: u64 = 64;

/// Distinct latency distributions: agent `i` has the `i % SHAPES`-th, so that a process of
/// thousands of hollow agents makes up each layout's figures [`SHAPES`] times, not once per
/// agent ([`shape`]).
pub const SHAPES: u32 = 64;

/// Which of the [`SHAPES`] agent `agent` reports: agents of one shape report alike.
pub fn shape(agent: u32) -> u32 {
    agent % SHAPES
}

/// Closed loop: requests each connection completes per second.
const CLOSED_PER_CONNECTION: u64 = 100;

/// A deterministic sequence (SplitMix64) seeded from the agent and the layout.
struct Seeded(u64);

impl Seeded {
    fn new(agent: u32, layout: &str) -> Self {
        // FNV-1a over the layout's name, mixed with the agent's index.
        let mut hash = 0xcbf2_9ce4_8422_2325_u64;
        for byte in layout.bytes() {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
        Self(hash ^ (u64::from(agent) << 32 | u64::from(agent)))
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..bound` (bound above 0).
    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

/// How many replicas a layout has on a hollow agent: its count, else one (a hollow host has one
/// NUMA node, package and L3).
pub fn replicas(layout: &LayoutSpec) -> u32 {
    match layout.replicas {
        Some(layout_spec::Replicas::Count(n)) => n.max(1),
        _ => 1,
    }
}

/// The requests the plan asks of one hollow agent in one layout's window.
pub fn requests(plan: &RunPlan) -> u64 {
    let Some(load) = &plan.load else {
        return 0;
    };
    let seconds = load.duration_ms as f64 / 1_000.0;
    if load.mode == LoadMode::Closed as i32 {
        (u64::from(load.connections) * CLOSED_PER_CONNECTION) * load.duration_ms / 1_000
    } else {
        (load.rate * seconds).round() as u64
    }
}

/// Where a hollow agent says the layout's replicas run: nowhere real (pid 0), one CPU each.
pub fn placed(layout: &LayoutSpec) -> Placed {
    Placed {
        layout: layout.name.clone(),
        replicas: (0..replicas(layout))
            .map(|index| ReplicaPlacement {
                index,
                pid: 0,
                address: "hollow:0".to_owned(),
                intended_cpus: vec![0],
                actual_cpus: vec![0],
                memory_policy: "default".to_owned(),
                intended_memory_policy: "default".to_owned(),
                placement_ok: true,
                worker_threads: 1,
                processes: 1,
                threads: 1,
                ..Default::default()
            })
            .collect(),
        load_cpus: vec![1],
        load_shares_cpus: false,
        notes: Vec::new(),
    }
}

/// One sample per replica and second of the window.
pub fn samples(plan: &RunPlan, layout: &LayoutSpec) -> Vec<ThreadSample> {
    let seconds = plan
        .load
        .as_ref()
        .map_or(0, |l| l.duration_ms / 1_000)
        .max(1);
    (0..replicas(layout))
        .flat_map(|replica| {
            (1..=seconds).map(move |s| ThreadSample {
                replica,
                t_ms: s * 1_000,
                os_threads: 2,
                cpu_time_ns: s * 100_000_000,
                rss_bytes: 8 << 20,
                alive_tasks: -1,
                global_queue_depth: -1,
                blocking_threads: -1,
                inflight_calls: -1,
                metrics_probe_ns: -1,
                requests_total: -1,
                server_p99_ns: -1,
                processes: 1,
                ..Default::default()
            })
        })
        .collect()
}

/// The agent's latency histogram of `count` requests: [`BUCKETS`] values around its median.
fn latencies(seed: &mut Seeded, count: u64) -> Result<Histogram<u64>, HistogramError> {
    let mut h = histogram::new_latency();
    if count == 0 {
        return Ok(h);
    }
    let median_ns = 100_000 + seed.below(900_000);
    let mut left = count;
    for bucket in 0..BUCKETS {
        let n = if bucket + 1 == BUCKETS {
            left
        } else {
            (count / BUCKETS).min(left)
        };
        left -= n;
        // From a quarter of the median to four times it, the top buckets further out.
        let spread = median_ns / 4 + seed.below(median_ns * 15 / 4);
        let tail = if bucket + 2 >= BUCKETS { 10 } else { 1 };
        if n > 0 {
            h.record_n(spread * tail, n)
                .map_err(|e| HistogramError::Merge(e.to_string()))?;
        }
    }
    Ok(h)
}

/// What hollow agent `agent` reports for `layout` of `plan`: every worker (one per replica)
/// with its synthetic counters and histograms, as a real agent's `LayoutSummary` carries them.
pub fn summary(
    agent: u32,
    plan: &RunPlan,
    layout: &LayoutSpec,
    load_started_unix_ns: u64,
) -> Result<LayoutSummary, HistogramError> {
    let mut seed = Seeded::new(shape(agent), &layout.name);
    let elapsed_ns = plan.load.as_ref().map_or(0, |l| l.duration_ms * 1_000_000);
    let open = plan
        .load
        .as_ref()
        .is_some_and(|l| l.mode != LoadMode::Closed as i32);
    let total = requests(plan);
    let count = replicas(layout);
    let mut workers = Vec::new();
    let mut stats = Vec::new();
    for replica in 0..count {
        let requests =
            total / u64::from(count) + u64::from(u64::from(replica) < total % u64::from(count));
        let corrected = latencies(&mut seed, requests)?;
        let mut uncorrected = histogram::new_latency();
        for v in corrected.iter_recorded() {
            uncorrected
                .record_n(v.value_iterated_to() * 9 / 10, v.count_at_value())
                .map_err(|e| HistogramError::Merge(e.to_string()))?;
        }
        let mut lag = histogram::new_latency();
        if open && requests > 0 {
            lag.record_n(20_000, requests)
                .map_err(|e| HistogramError::Merge(e.to_string()))?;
        }
        workers.push(WorkerResult {
            worker: replica,
            replica,
            cpu: 1,
            requests,
            errors: Some(ErrorCounts::default()),
            latency_corrected: histogram::encode(&corrected)?,
            latency_uncorrected: histogram::encode(&uncorrected)?,
            send_lag: if open {
                histogram::encode(&lag)?
            } else {
                Vec::new()
            },
            cpu_time_ns: elapsed_ns / 10,
            status_codes: vec![StatusCount {
                code: 200,
                count: requests,
            }],
            responses_all: requests,
            ..Default::default()
        });
        stats.push(ReplicaStats {
            replica,
            threads_min: 2,
            threads_max: 2,
            threads_last: 2,
            samples: elapsed_ns / 1_000_000_000,
            memory_policy: "default".to_owned(),
            cpu_time_ns: elapsed_ns / 10,
            rss_bytes_max: 8 << 20,
            alive_tasks_max: -1,
            blocking_threads_max: -1,
            processes_max: 1,
            server_requests: -1,
            generator_responses: requests,
            ..Default::default()
        });
    }
    Ok(LayoutSummary {
        layout: layout.name.clone(),
        elapsed_ns,
        workers,
        replicas: stats,
        load_started_unix_ns,
        // A hollow agent measures no wake-up of its own.
        start_late_ns: None,
        net_receive: None,
        arrivals: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use numaload_proto::v1::LoadSpec;

    fn plan(rate: f64, duration_ms: u64) -> RunPlan {
        RunPlan {
            load: Some(LoadSpec {
                mode: LoadMode::Open as i32,
                rate,
                connections: 4,
                duration_ms,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn layout(replicas: u32) -> LayoutSpec {
        LayoutSpec {
            name: "l".into(),
            replicas: Some(layout_spec::Replicas::Count(replicas)),
            ..Default::default()
        }
    }

    #[test]
    fn the_same_agent_says_the_same_and_another_agent_something_else() {
        let (p, l) = (plan(200.0, 3_000), layout(2));
        let a = summary(7, &p, &l, 0).expect("synthetic");
        assert_eq!(a, summary(7, &p, &l, 0).expect("synthetic"));
        assert_ne!(
            a.workers[0].latency_corrected,
            summary(8, &p, &l, 0).expect("synthetic").workers[0].latency_corrected
        );
    }

    #[test]
    fn every_request_asked_is_answered_and_in_the_histograms() {
        let (p, l) = (plan(333.0, 3_000), layout(3));
        let s = summary(1, &p, &l, 0).expect("synthetic");
        let answered: u64 = s.workers.iter().map(|w| w.requests).sum();
        assert_eq!(answered, 999);
        for w in &s.workers {
            let h = histogram::decode(&w.latency_corrected).expect("decodes");
            assert_eq!(h.len(), w.requests);
        }
        assert_eq!(
            requests(&plan(0.5, 1_000)),
            1,
            "rounded, as a schedule counts"
        );
    }
}
