use super::*;
use crate::plan::LoadMode;
use numaload_proto::histogram;
use numaload_proto::v1::{ErrorCounts, ReplicaStats, WorkerResult};
use std::time::Duration;

fn load() -> Load {
    Load {
        mode: LoadMode::Open { rate: 100.0 },
        connections: 4,
        duration: Duration::from_secs(1),
        warmup: Duration::ZERO,
        reserve_cpus: 0,
        timeout: Duration::from_secs(1),
        send_precision: Duration::from_micros(50),
        min_delivered: 0.99,
        requests: vec![crate::plan::Request::default_get()],
        expect_status: Vec::new(),
        interface: String::new(),
        arrivals: crate::plan::Arrivals::Uniform,
        seed: None,
        stages: Vec::new(),
        trace: None,
        tls: None,
        protocol: Default::default(),
        streams: 1,
    }
}

/// A summary of one worker on replica 0 whose requests took `latencies_ns`.
fn summary(latencies_ns: &[u64]) -> LayoutSummary {
    let mut h = histogram::new_latency();
    for &v in latencies_ns {
        h.record(v).expect("in range");
    }
    let bytes = histogram::encode(&h).expect("encode");
    LayoutSummary {
        layout: "l".into(),
        elapsed_ns: 1_000_000_000,
        load_started_unix_ns: 0,
        start_late_ns: None,
        net_receive: None,
        arrivals: None,
        workers: vec![WorkerResult {
            requests: latencies_ns.len() as u64,
            errors: Some(ErrorCounts::default()),
            latency_corrected: bytes.clone(),
            latency_uncorrected: bytes,
            ..Default::default()
        }],
        replicas: vec![ReplicaStats {
            replica: 0,
            ..Default::default()
        }],
    }
}

/// The layout's result when agent "a" alone measured it, with `events`.
fn alone(events: &LayoutEvents, load: &Load) -> LayoutResult {
    let agents = [AgentLayout {
        agent: "a",
        events,
        missing: "",
        clock_offset_ns: 0,
        asked_rate_rps: None,
        simulated: false,
        role: Role::Both,
    }];
    layout_result("l", load, &agents).expect("merge")
}

fn events(summary: LayoutSummary) -> LayoutEvents {
    LayoutEvents {
        summary: Some(summary),
        ..Default::default()
    }
}

#[test]
fn merged_p99_over_agents_is_the_pooled_p99_not_a_max_or_mean_of_theirs() {
    // Skewed: agent a serves 990 fast requests, agent b 10 slow ones.
    let fast: Vec<u64> = vec![100_000; 990];
    let slow: Vec<u64> = (1..=10).map(|i| 50_000_000 + i * 1_000_000).collect();
    let (a, b) = (events(summary(&fast)), events(summary(&slow)));
    let agents = [
        AgentLayout {
            agent: "a",
            events: &a,
            missing: "",
            clock_offset_ns: 0,
            asked_rate_rps: None,
            simulated: false,
            role: Role::Both,
        },
        AgentLayout {
            agent: "b",
            events: &b,
            missing: "",
            clock_offset_ns: 0,
            asked_rate_rps: None,
            simulated: false,
            role: Role::Both,
        },
    ];
    let result = layout_result("l", &load(), &agents).expect("merge");

    let mut pooled = histogram::new_latency();
    for &v in fast.iter().chain(&slow) {
        pooled.record(v).expect("in range");
    }
    assert_eq!(result.requests, 1000);
    assert_eq!(result.latency_ns.p99, pooled.value_at_quantile(0.99));
    assert_eq!(result.latency_ns.p50, pooled.value_at_quantile(0.50));
    let per_agent: Vec<u64> = result.agents.iter().map(|a| a.latency_ns.p99).collect();
    let max = *per_agent.iter().max().expect("two agents");
    let mean = per_agent.iter().sum::<u64>() / 2;
    assert_ne!(result.latency_ns.p99, max, "not the max of per-agent p99s");
    assert_ne!(
        result.latency_ns.p99, mean,
        "not the mean of per-agent p99s"
    );
    // Per-agent figures come from the same data.
    assert_eq!(
        result.agents[0].requests + result.agents[1].requests,
        result.requests
    );
    assert!(
        (result.throughput_rps - 1000.0).abs() < 1e-6,
        "agents' rates add up"
    );
    assert_eq!(result.status, LayoutStatus::Ok);
}

/// Whether a layout whose one load worker used `busy_ns` of CPU, `napped_ns` in naps and
/// `spun_ns` spinning over the summary's 1 s measurement is flagged as generator-limited.
fn flagged_busy(busy_ns: u64, napped_ns: u64, spun_ns: u64) -> bool {
    let mut s = summary(&vec![1_000; 2_000]);
    let w = &mut s.workers[0];
    w.cpu_time_ns = busy_ns;
    (w.naps, w.napped_ns) = (u64::from(napped_ns > 0) * 1_000, napped_ns);
    (w.spins, w.spun_ns) = (u64::from(spun_ns > 0) * 1_000, spun_ns);
    let a = events(s);
    let result = alone(&a, &load());
    assert_eq!(result.load.workers[0].napped, napped_ns as f64 / 1e9);
    assert_eq!(result.load.workers[0].spun, spun_ns as f64 / 1e9);
    result.suspect.iter().any(|s| s.contains("% busy"))
}

#[test]
fn a_busy_load_worker_is_suspect_unless_it_napped_waiting_on_the_server() {
    assert!(!flagged_busy(800_000_000, 0, 0), "80% busy is fine");
    assert!(flagged_busy(900_000_000, 0, 0), "90% busy may be the limit");
    assert!(
        flagged_busy(900_000_000, 20_000_000, 0),
        "2% in naps is no proof"
    );
    assert!(
        !flagged_busy(880_000_000, 100_000_000, 0),
        "10% in naps: it waited on the server"
    );
}

#[test]
fn spinning_for_responses_is_not_saturation() {
    // Working share = busy − spun.
    assert!(
        !flagged_busy(980_000_000, 0, 200_000_000),
        "98% busy of which 20% spinning: 78% working"
    );
    assert!(
        flagged_busy(980_000_000, 0, 50_000_000),
        "98% busy of which 5% spinning: 93% working"
    );
}

/// Whether a layout whose one open-loop worker was `busy_ns` busy, `paced_ns` of it pacing
/// sends, with `late` of its 2,000 sends late, is flagged as generator-limited.
fn flagged_open(busy_ns: u64, paced_ns: u64, late: u64) -> bool {
    let mut s = summary(&vec![1_000; 2_000]);
    let mut lag = histogram::new_latency();
    for i in 0..2_000u64 {
        lag.record(if i < late { 2_000_000 } else { 5_000 })
            .expect("in range");
    }
    let w = &mut s.workers[0];
    w.cpu_time_ns = busy_ns;
    (w.paces, w.paced_ns) = (u64::from(paced_ns > 0) * 1_000, paced_ns);
    w.late_sends = late;
    w.send_lag = histogram::encode(&lag).expect("encode");
    let a = events(s);
    let result = alone(&a, &load());
    assert_eq!(result.load.workers[0].paced, paced_ns as f64 / 1e9);
    result.suspect.iter().any(|s| s.contains("% busy"))
}

#[test]
fn an_open_loop_worker_is_suspect_only_when_it_fell_behind_not_when_it_paced() {
    assert!(
        !flagged_open(950_000_000, 0, 0),
        "95% busy but every send on time: it kept up"
    );
    assert!(
        flagged_open(950_000_000, 0, 100),
        "95% working and 5% of sends late: it fell behind"
    );
    assert!(
        !flagged_open(950_000_000, 300_000_000, 100),
        "30% of it pacing: 65% working, the lateness is not the generator's"
    );
    assert!(
        !flagged_open(950_000_000, 0, 10),
        "0.5% late: within the schedule's noise"
    );
}

#[test]
fn a_lost_agent_degrades_the_layout_and_keeps_the_others_data() {
    let a = events(summary(&[1_000, 2_000, 3_000]));
    let lost = LayoutEvents::default();
    let agents = [
        AgentLayout {
            agent: "a",
            events: &a,
            missing: "",
            clock_offset_ns: 0,
            asked_rate_rps: None,
            simulated: false,
            role: Role::Both,
        },
        AgentLayout {
            agent: "b",
            events: &lost,
            missing: "agent lost: killed",
            clock_offset_ns: 0,
            asked_rate_rps: None,
            simulated: false,
            role: Role::Both,
        },
    ];
    let result = layout_result("l", &load(), &agents).expect("merge");
    assert_eq!(result.status, LayoutStatus::Degraded);
    assert_eq!(result.requests, 3);
    assert!(result
        .error
        .as_deref()
        .is_some_and(|e| e.contains("b: agent lost: killed")));
    assert_eq!(result.agents[1].status, LayoutStatus::Failed);
    assert!(result.suspect.iter().any(|s| s.contains("not every agent")));

    let none = [AgentLayout {
        agent: "b",
        events: &lost,
        missing: "gone",
        clock_offset_ns: 0,
        asked_rate_rps: None,
        simulated: false,
        role: Role::Both,
    }];
    let failed = layout_result("l", &load(), &none).expect("merge");
    assert_eq!(failed.status, LayoutStatus::Failed);
    assert_eq!(failed.error.as_deref(), Some("gone"));
}

fn encoded(latencies_ns: &[u64]) -> Vec<u8> {
    let mut h = histogram::new_latency();
    for &v in latencies_ns {
        h.record(v).expect("in range");
    }
    histogram::encode(&h).expect("encode")
}

fn mix_load() -> Load {
    let mut load = load();
    let mut write = crate::plan::Request::default_get();
    write.name = "write".into();
    write.method = "POST".into();
    write.weight = 3;
    load.requests = vec![crate::plan::Request::default_get(), write];
    load
}

/// One worker on replica 0 that sent `read` GETs and `write` POSTs with these latencies.
fn mix_summary(read: &[u64], write: &[u64], codes: &[(u32, u64)]) -> LayoutSummary {
    use numaload_proto::v1::{RequestOutcome, StatusCount};
    let mut s = summary(&[read, write].concat());
    let w = &mut s.workers[0];
    w.by_request = vec![
        RequestOutcome {
            request: 0,
            requests: read.len() as u64,
            errors: 0,
            latency_corrected: encoded(read),
            ..RequestOutcome::default()
        },
        RequestOutcome {
            request: 1,
            requests: write.len() as u64 + 1,
            errors: 1,
            latency_corrected: encoded(write),
            ..RequestOutcome::default()
        },
    ];
    w.status_codes = codes
        .iter()
        .map(|&(code, count)| StatusCount { code, count })
        .collect();
    w.reconnects = 2;
    s
}

#[test]
fn the_request_mix_is_merged_from_histograms_over_agents_and_trials() {
    let read_a: Vec<u64> = vec![100_000; 900];
    let read_b: Vec<u64> = (1..=100).map(|i| 5_000_000 + i * 10_000).collect();
    let write: Vec<u64> = vec![2_000_000; 50];
    let (a, b) = (
        events(mix_summary(&read_a, &write, &[(200, 950), (503, 1)])),
        events(mix_summary(&read_b, &write, &[(200, 150)])),
    );
    let agent = |name, events| AgentLayout {
        agent: name,
        events,
        missing: "",
        clock_offset_ns: 0,
        asked_rate_rps: None,
        simulated: false,
        role: Role::Both,
    };
    let agents = [agent("a", &a), agent("b", &b)];
    let result = layout_result("l", &mix_load(), &agents).expect("merge");
    let names: Vec<&str> = result.request_mix.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["GET /", "write"]);
    let read = &result.request_mix[0];
    assert_eq!((read.requests, read.errors, read.weight), (1000, 0, 1));
    let mut pooled = histogram::new_latency();
    for &v in read_a.iter().chain(&read_b) {
        pooled.record(v).expect("in range");
    }
    assert_eq!(read.latency_ns.p99, pooled.value_at_quantile(0.99));
    assert_eq!(read.latency_ns.max, pooled.max());
    let write_mix = &result.request_mix[1];
    assert_eq!(
        (write_mix.requests, write_mix.errors, write_mix.weight),
        (102, 2, 3)
    );
    // Every call counted: its successes and its errors.
    assert_eq!((read.calls, write_mix.calls), (Some(1000), Some(104)));
    assert_eq!(result.status_codes["200"], 1100);
    assert_eq!(result.status_codes["503"], 1);
    assert_eq!(result.counts.reconnects, 4);

    // Two trials of the same: counters add, percentiles come from the merged histograms.
    let mut first = result.clone();
    trials::set_trial(&mut first, 1);
    let mut second = result.clone();
    trials::set_trial(&mut second, 2);
    let merged = merge_trials(vec![first, second]).expect("merge trials");
    assert_eq!(merged.request_mix[0].requests, 2000);
    assert_eq!(merged.request_mix[1].calls, Some(208));
    assert_eq!(merged.request_mix[0].latency_ns.count, 2000);
    assert_eq!(
        merged.request_mix[0].latency_ns.p99,
        pooled.value_at_quantile(0.99)
    );
    assert_eq!(merged.status_codes["200"], 2200);
    assert_eq!(merged.counts.reconnects, 8);
}

/// One worker whose requests fell in two stages with these latencies (the second also with
/// one unsent request).
fn staged_summary(first: &[u64], second: &[u64]) -> LayoutSummary {
    use numaload_proto::v1::StageOutcome;
    let mut s = summary(&[first, second].concat());
    s.arrivals = Some(numaload_proto::v1::ArrivalStream { seed: 9, stream: 1 });
    s.workers[0].by_stage = vec![
        StageOutcome {
            stage: 0,
            requests: first.len() as u64,
            late_sends: 1,
            latency_corrected: encoded(first),
            latency_uncorrected: encoded(first),
            ..StageOutcome::default()
        },
        StageOutcome {
            stage: 1,
            requests: second.len() as u64,
            errors: Some(ErrorCounts {
                unsent: 1,
                ..ErrorCounts::default()
            }),
            latency_corrected: encoded(second),
            latency_uncorrected: encoded(second),
            latency_waited: encoded(&[900_000_000]),
            ..StageOutcome::default()
        },
    ];
    s
}

#[test]
fn stages_are_merged_from_histograms_over_agents_and_trials() {
    let mut load = load();
    let stage = |from, to, ms| crate::plan::Stage {
        from,
        to,
        duration: Duration::from_millis(ms),
    };
    load.stages = vec![stage(100.0, 100.0, 400), stage(100.0, 300.0, 600)];
    let calm: Vec<u64> = vec![100_000; 40];
    let busy: Vec<u64> = (1..=120).map(|i| 1_000_000 + i * 100_000).collect();
    let (a, b) = (
        events(staged_summary(&calm, &busy)),
        events(staged_summary(&calm, &[30_000_000; 3])),
    );
    let agent = |name, events| AgentLayout {
        agent: name,
        events,
        missing: "",
        clock_offset_ns: 0,
        asked_rate_rps: None,
        simulated: false,
        role: Role::Both,
    };
    let result = layout_result("l", &load, &[agent("a", &a), agent("b", &b)]).expect("merge");
    let [first, second] = &result.stages[..] else {
        panic!("{} stages", result.stages.len())
    };
    assert_eq!(
        (first.stage, first.start_s, first.duration_s),
        (1, 0.0, 0.4)
    );
    assert_eq!(
        (second.from_rps, second.to_rps, second.start_s),
        (100.0, 300.0, 0.4)
    );
    assert_eq!((first.requests, second.requests), (80, 123));
    assert_eq!((first.late_sends, second.errors_by_kind.unsent), (2, 2));
    assert!(
        (first.throughput_rps - 200.0).abs() < 1e-9,
        "{}",
        first.throughput_rps
    );
    // The second stage's p99 is the pooled one's, with the two unsent waits as lower bounds.
    let mut pooled = histogram::new_latency();
    for &v in busy.iter().chain(&[30_000_000; 3]).chain(&[900_000_000; 2]) {
        pooled.record(v).expect("in range");
    }
    assert_eq!(second.latency_ns.p99, pooled.value_at_quantile(0.99));
    assert!(second.latency_ns.lower_bounds.contains(&"max".to_owned()));
    assert_eq!(second.latency_uncorrected_ns.count, 123);
    assert_eq!(first.requests + second.requests, result.requests);
    let seeds: Vec<_> = result.agents.iter().map(|a| a.arrivals).collect();
    let drawn = Some(crate::result::ArrivalStream { seed: 9, stream: 1 });
    assert_eq!(seeds, [drawn, drawn], "what each agent drew from");
    // Two trials: counts and measured time add up, percentiles come from the merged sums.
    let mut one = result.clone();
    trials::set_trial(&mut one, 1);
    let mut two = result.clone();
    trials::set_trial(&mut two, 2);
    let merged = merge_trials(vec![one, two]).expect("trials");
    let second_merged = &merged.stages[1];
    assert_eq!(second_merged.requests, 246);
    assert_eq!(second_merged.measured_s, 1.2);
    assert_eq!(second_merged.latency_ns.p99, second.latency_ns.p99);
    assert_eq!(second_merged.latency_ns.count, 246);
    // Without per-stage figures (an older agent), no stages.
    let plain = events(summary(&[1_000]));
    assert!(alone(&plain, &load).stages.is_empty());
}

#[test]
fn a_poisson_window_short_of_the_nominal_count_by_chance_is_delivered_not_incomplete() {
    // 2,000 req/s for 1 s asked; the schedule drew 1,950 (1.1 standard deviations short).
    let drawn = events(summary(&vec![100_000; 1_950]));
    let agent = AgentLayout {
        agent: "a",
        events: &drawn,
        missing: "",
        clock_offset_ns: 0,
        asked_rate_rps: Some(2_000.0),
        simulated: false,
        role: Role::Both,
    };
    let mut load = load();
    load.mode = LoadMode::Open { rate: 2_000.0 };
    let even = layout_result("l", &load, &[agent]).expect("merge");
    let short = even.agents[0].delivery.expect("delivery");
    assert_eq!(
        (short.intended, short.asked),
        (2_000, Some(2_000)),
        "even: 50 never sent"
    );
    load.arrivals = crate::plan::Arrivals::Poisson;
    let poisson = layout_result("l", &load, &[agent]).expect("merge");
    let drew = poisson.agents[0].delivery.expect("delivery");
    assert_eq!(drew.intended, 1_950, "a Poisson count, all of it answered");
    assert!(drew.met());
    assert!(
        poisson.suspect.iter().all(|s| !s.contains("fell behind")),
        "{:?}",
        poisson.suspect
    );
    // 400 short (9 standard deviations) is a schedule that did not run in full.
    let cut = events(summary(&vec![100_000; 1_600]));
    let cut = layout_result(
        "l",
        &load,
        &[AgentLayout {
            events: &cut,
            ..agent
        }],
    )
    .expect("merge");
    assert_eq!(cut.agents[0].delivery.expect("delivery").intended, 2_000);
}

#[test]
fn no_mix_without_per_request_figures_and_unknown_indexes_are_named() {
    let plain = events(summary(&[1_000, 2_000]));
    let result = alone(&plain, &mix_load());
    assert!(result.request_mix.is_empty(), "older agents send no mix");
    assert!(result.status_codes.is_empty());

    let mut s = mix_summary(&[1_000], &[2_000], &[]);
    s.workers[0].by_request[1].request = 7;
    let odd = events(s);
    let result = alone(&odd, &mix_load());
    let names: Vec<&str> = result.request_mix.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["GET /", "write", "request #7"]);
    assert_eq!(
        result.request_mix[1].requests, 0,
        "planned but not reported"
    );
}

#[test]
fn the_replica_tree_comes_from_the_placement_and_the_end_of_the_measurement() {
    use numaload_proto::v1::{
        Placed, PlacementMismatch, ProcessSeen, ReplicaPlacement, ScrapedSeries, ScrapedValue,
    };
    let mut s = summary(&[1_000; 10]);
    let process = |pid| ProcessSeen {
        pid,
        ppid: 1,
        comm: "server".into(),
        threads: 4,
        memory_policy: "bind:0".into(),
    };
    s.replicas[0].processes_max = 3;
    s.replicas[0].pages_off_node = 12;
    s.replicas[0].mismatches_at_end = vec![PlacementMismatch {
        pid: 40,
        tid: 41,
        comm: "worker".into(),
        what: "ran on CPUs 0-7, intended 0-3".into(),
    }];
    s.replicas[0].processes = vec![process(40), process(42)];
    s.replicas[0].scraped = vec![ScrapedSeries {
        name: "go_goroutines".into(),
        min: 10.0,
        max: 250.0,
        last: 12.0,
    }];
    let mut e = events(s);
    e.placed = Some(Placed {
        layout: "l".into(),
        replicas: vec![ReplicaPlacement {
            index: 0,
            pid: 40,
            processes: 2,
            threads: 9,
            pages_off_node: 1,
            tree: vec![process(40)],
            placement_ok: true,
            ..Default::default()
        }],
        ..Default::default()
    });
    e.samples = vec![numaload_proto::v1::ThreadSample {
        replica: 0,
        t_ms: 100,
        os_threads: 9,
        processes: 2,
        scraped: vec![ScrapedValue {
            name: "go_goroutines".into(),
            value: 250.0,
        }],
        ..Default::default()
    }];
    let result = alone(&e, &load());
    let r = &result.replicas[0];
    assert_eq!((r.processes, r.threads, r.pages_off_node), (2, 9, 1));
    assert_eq!(r.tree.len(), 1);
    assert_eq!((r.processes_max, r.pages_off_node_at_end), (3, 12));
    assert_eq!(r.processes_at_end.len(), 2);
    assert_eq!(
        r.mismatches_at_end[0].line(),
        "pid 40 tid 41 (worker): ran on CPUs 0-7, intended 0-3"
    );
    assert_eq!(r.scraped[0].max, 250.0);
    let sample = &result.thread_samples[0];
    assert_eq!(sample.processes, 2);
    assert_eq!(sample.scraped["go_goroutines"], 250.0);
}

#[test]
fn scheduler_series_and_maxima_reach_the_result_and_an_unknown_migration_rate_is_null() {
    use numaload_proto::v1::{GoSchedTrace, SchedRates, ThreadSample, TokioRuntime};
    let rates = |wait: f64, migrations: f64| SchedRates {
        run_delay_ms_per_s: wait,
        ctxt_switches_per_s: 900.0,
        nonvoluntary_ctxt_switches_per_s: 300.0,
        migrations_per_s: migrations,
        cpus_used: 0.9,
    };
    let mut s = summary(&[1_000; 10]);
    s.replicas[0].sched_max = Some(rates(420.0, 12.0));
    s.replicas[0].go_threads_max = 17;
    let mut e = events(s);
    e.placed = Some(numaload_proto::v1::Placed {
        layout: "l".into(),
        replicas: vec![numaload_proto::v1::ReplicaPlacement {
            index: 0,
            placement_ok: true,
            ..Default::default()
        }],
        ..Default::default()
    });
    e.samples = vec![
        ThreadSample {
            t_ms: 100,
            ..Default::default()
        },
        ThreadSample {
            t_ms: 200,
            sched: Some(rates(420.0, -1.0)),
            go_sched: vec![GoSchedTrace {
                runtime_ms: 3000,
                gomaxprocs: 1,
                threads: 17,
                local_runqueues: vec![3],
                t_ms: 200,
                ..Default::default()
            }],
            tokio: Some(TokioRuntime {
                workers: 2,
                busy_workers: 1.5,
                parks_per_s: f64::NAN,
                ..Default::default()
            }),
            ..Default::default()
        },
    ];
    let result = alone(&e, &load());
    let r = &result.replicas[0];
    let max = r.sched_max.expect("maxima");
    assert_eq!(
        (max.run_delay_ms_per_s, max.migrations_per_s),
        (420.0, Some(12.0))
    );
    assert_eq!(r.go_threads_max, Some(17));
    let [first, second] = &result.thread_samples[..] else {
        panic!("{:?}", result.thread_samples)
    };
    assert_eq!(first.sched, None, "no rate from a first sample");
    let sched = second.sched.expect("rates");
    assert_eq!(sched.migrations_per_s, None, "-1 on the wire: unknown");
    assert_eq!(second.go_sched[0].threads, 17);
    assert_eq!(second.go_sched[0].local_runqueues, [3]);
    assert_eq!(second.tokio, None, "NaN is left out, JSON cannot hold it");
    // Old result files have none of these fields and still load.
    let json = serde_json::to_value(first).expect("json");
    assert!(json.get("sched").is_none() && json.get("go_sched").is_none());
    let back: crate::result::ThreadSample = serde_json::from_value(json).expect("loads");
    assert_eq!(&back, first);
}

fn histogram_of(values: &[(u64, u64)]) -> hdrhistogram::Histogram<u64> {
    let mut h = histogram::new_latency();
    for &(value, count) in values {
        h.record_n(value, count).expect("in range");
    }
    h
}

#[test]
fn a_percentile_decided_by_an_unanswered_wait_is_a_lower_bound_and_one_that_is_not_is_exact() {
    const MS: u64 = 1_000_000;
    // (answered, waited, the figures that must be lower bounds), each histogram as
    // (value, count) pairs.
    type Counts = &'static [(u64, u64)];
    let cases: &[(Counts, Counts, &[&str])] = &[
        (&[(MS, 1_000)], &[], &[]),
        // 990 answered in 1 ms: p50 and p99 are theirs; p99.9 falls among the waits.
        (&[(MS, 990)], &[(5_000 * MS, 10)], &["mean", "p999", "max"]),
        // Half answered: p50 is the last answered value, p90 up are waits.
        (
            &[(MS, 500)],
            &[(2_000 * MS, 500)],
            &["mean", "p90", "p99", "p999", "max"],
        ),
        // Nothing answered: every figure is a lower bound.
        (
            &[],
            &[(3_000 * MS, 100)],
            &["min", "mean", "p50", "p90", "p99", "p999", "max"],
        ),
        // A wait shorter than every answer decides the minimum.
        (&[(10 * MS, 999)], &[(MS, 1)], &["min", "mean", "max"]),
    ];
    for &(answered, waited, bounds) in cases {
        let (a, w) = (histogram_of(answered), histogram_of(waited));
        let p = bounded_percentiles(&a, &w);
        assert_eq!(
            p.lower_bounds, bounds,
            "answered {answered:?}, waited {waited:?}"
        );
        let mut all = a.clone();
        all.add(&w).expect("same bounds");
        assert_eq!((p.count, p.waits), (a.len(), w.len()));
        assert_eq!(p.p99, all.value_at_quantile(0.99), "read from the sum");
    }
}

/// One worker of a layout whose window intended `answered + unsent` requests: the answered in
/// 1 ms, the unsent waited 2 s.
fn undelivered(answered: u64, unsent: u64) -> LayoutSummary {
    let mut s = summary(&vec![1_000_000; answered as usize]);
    let w = &mut s.workers[0];
    w.errors = Some(ErrorCounts {
        unsent,
        ..ErrorCounts::default()
    });
    w.latency_waited =
        histogram::encode(&histogram_of(&[(2_000_000_000, unsent)])).expect("encode");
    s
}

#[test]
fn a_layout_that_delivered_less_than_min_delivered_is_incomplete_with_its_waits_as_latency() {
    let e = events(undelivered(900, 100));
    let result = alone(&e, &load());
    assert_eq!(result.status, LayoutStatus::Incomplete);
    let delivery = result.delivery.expect("delivery");
    assert_eq!((delivery.intended, delivery.answered), (1_000, 900));
    assert_eq!(result.agents[0].delivery.map(|d| d.shortfall()), Some(100));
    assert!(
        result.suspect[0].starts_with("only 900 of the window's 1,000 requests were answered"),
        "{:?}",
        result.suspect
    );
    // p99 falls among the 100 waits of 2 s: a lower bound, not the answered 1 ms.
    assert!(result.latency_ns.p99 >= 1_990_000_000);
    assert!(result.latency_ns.is_lower_bound("p99"));
    assert!(!result.latency_ns.is_lower_bound("p50"));
    assert!(!result.histograms.waited_v2_base64.is_empty());

    // The same run under a plan that asks for 80% is delivered; its waits still count.
    let lenient = Load {
        min_delivered: 0.8,
        ..load()
    };
    let result = alone(&e, &lenient);
    assert_ne!(result.status, LayoutStatus::Incomplete);
    assert!(result.latency_ns.is_lower_bound("p99"));
}

#[test]
fn trials_take_the_worst_status_and_merge_delivery_and_waits() {
    let (good, bad) = (
        events(summary(&vec![1_000; 1_000])),
        events(undelivered(500, 500)),
    );
    let trial = |events: &LayoutEvents, n: u32| {
        let mut result = alone(events, &load());
        trials::set_trial(&mut result, n);
        result
    };
    let first = trial(&good, 1);
    assert_eq!(first.status, LayoutStatus::Ok);
    let merged = merge_trials(vec![first, trial(&bad, 2)]).expect("merge trials");
    assert_eq!(merged.status, LayoutStatus::Incomplete);
    let delivery = merged.delivery.expect("delivery");
    assert_eq!((delivery.intended, delivery.answered), (2_000, 1_500));
    assert!(merged.latency_ns.is_lower_bound("p99"));
    assert_eq!(
        (merged.latency_ns.count, merged.latency_ns.waits),
        (1_500, 500)
    );
}

/// Agents "a0", "a1", ... each with its events, asked `rate` (the plan's `load()` lasts 1 s).
fn fleet<'a>(
    names: &'a [String],
    events: &'a [LayoutEvents],
    rate: Option<f64>,
) -> Vec<AgentLayout<'a>> {
    names
        .iter()
        .zip(events)
        .map(|(agent, events)| AgentLayout {
            agent,
            events,
            missing: "",
            clock_offset_ns: 0,
            asked_rate_rps: rate,
            simulated: false,
            role: Role::Both,
        })
        .collect()
}

#[test]
fn one_agent_short_of_its_load_makes_the_layout_incomplete_though_the_fleet_total_is_met() {
    // 200 agents asked 100 req/s for 1 s: 199 answer all 100, one answers 10 (90 unsent).
    // The total is 19,910 of 20,000 (99.55%, above 99%): the one agent still fails it.
    let names: Vec<String> = (0..200).map(|i| format!("a{i}")).collect();
    let mut events: Vec<LayoutEvents> = (0..199)
        .map(|_| LayoutEvents::default())
        .map(|_| self::events(summary(&vec![1_000; 100])))
        .collect();
    events.push(self::events(undelivered(10, 90)));
    let result = layout_result("l", &load(), &fleet(&names, &events, Some(100.0))).expect("merge");
    let delivery = result.delivery.expect("delivery");
    assert_eq!((delivery.intended, delivery.answered), (20_000, 19_910));
    assert_eq!(delivery.asked, Some(20_000));
    assert!(delivery.met(), "the total alone would pass");
    assert_eq!(result.status, LayoutStatus::Incomplete);
    let short = &result.agents[199];
    assert_eq!(short.status, LayoutStatus::Incomplete);
    assert_eq!(short.delivery.map(|d| d.shortfall()), Some(90));
    assert!(result.agents[..199]
        .iter()
        .all(|a| a.status == LayoutStatus::Ok));
    assert!(
        result
            .suspect
            .iter()
            .any(|s| s.contains("1 of 200 agents fell short: a199 short 90 of 100")),
        "{:?}",
        result.suspect
    );
}

#[test]
fn an_agent_that_counted_fewer_requests_than_it_was_asked_is_short_by_the_difference() {
    // Asked 100 req/s for 1 s; its generator counted 30, all answered, no error: the 70 it
    // never scheduled are undelivered, not absent.
    let names = ["a".to_owned()];
    let events = [events(summary(&vec![1_000; 30]))];
    let result = layout_result("l", &load(), &fleet(&names, &events, Some(100.0))).expect("merge");
    let delivery = result.agents[0].delivery.expect("delivery");
    assert_eq!((delivery.intended, delivery.answered), (100, 30));
    assert_eq!(result.status, LayoutStatus::Incomplete);
    assert_eq!(result.errors, 0, "nothing was counted as an error");
    // Within one of the asked count is the schedule's rounding, not a shortfall.
    let names = ["a".to_owned()];
    let events = [self::events(summary(&vec![1_000; 99]))];
    let result = layout_result("l", &load(), &fleet(&names, &events, Some(100.0))).expect("merge");
    assert_eq!(result.agents[0].delivery.map(|d| d.intended), Some(99));
    assert_ne!(result.status, LayoutStatus::Incomplete);
}

#[test]
fn an_agent_that_drove_no_load_delivers_nothing_and_the_rate_asked_is_the_load_agents() {
    // An agent under test (its replicas driven from elsewhere, no workers of its own) and two
    // load agents each asked half of the plan's 100 req/s.
    let sut = LayoutEvents {
        summary: Some(LayoutSummary {
            workers: Vec::new(),
            ..summary(&[])
        }),
        ..Default::default()
    };
    let (l1, l2) = (
        events(summary(&vec![1_000; 50])),
        events(summary(&vec![1_000; 50])),
    );
    let agent = |agent, events, asked_rate_rps, role| AgentLayout {
        agent,
        events,
        missing: "",
        clock_offset_ns: 0,
        asked_rate_rps,
        simulated: false,
        role,
    };
    let agents = [
        agent("sut", &sut, None, Role::UnderTest),
        agent("l1", &l1, Some(50.0), Role::Load),
        agent("l2", &l2, Some(50.0), Role::Load),
    ];
    let result = layout_result("l", &load(), &agents).expect("merge");
    assert_eq!(result.agents[0].delivery, None);
    // Each agent's row says what it did: the 0 requests of the host under test are its part.
    let roles: Vec<Option<Role>> = result.agents.iter().map(|a| a.role).collect();
    assert_eq!(
        roles,
        [Some(Role::UnderTest), Some(Role::Load), Some(Role::Load)]
    );
    assert_eq!(result.agents[0].requests, 0);
    assert_eq!(
        result.delivery.map(|d| (d.intended, d.asked)),
        Some((100, Some(100)))
    );
    assert!(
        !result.suspect.iter().any(|s| s.contains("achieved")),
        "100 req/s of the 100 asked over both load agents: {:?}",
        result.suspect
    );
}

#[test]
fn an_agent_that_did_not_run_or_was_not_heard_while_measuring_is_named_and_suspect() {
    let sample = |t_ms| numaload_proto::v1::ThreadSample {
        replica: 0,
        t_ms,
        ..Default::default()
    };
    let steady = LayoutEvents {
        longest_live_interval_ms: 1_020,
        longest_silence_ns: 1_100_000_000,
        samples: (1..=30).map(|i| sample(i * 100)).collect(),
        ..events(summary(&vec![1_000; 300]))
    };
    let names = ["a".to_owned(), "b".to_owned()];
    let two = |b: LayoutEvents| {
        let events = [steady.clone(), b];
        layout_result("l", &load(), &fleet(&names, &events, None)).expect("merge")
    };
    let calm = two(steady.clone());
    assert!(
        !calm.suspect.iter().any(|s| s.contains("did not run")),
        "{:?}",
        calm.suspect
    );
    let cases = [
        (
            LayoutEvents {
                longest_live_interval_ms: 3_400,
                ..steady.clone()
            },
            "its live reports came 3.4 s apart",
        ),
        (
            LayoutEvents {
                samples: [100, 200, 2_300, 2_400].map(sample).to_vec(),
                ..steady.clone()
            },
            "its samples of a replica paused 2.1 s",
        ),
        (
            LayoutEvents {
                longest_silence_ns: 4_000_000_000,
                ..steady.clone()
            },
            "the controller heard nothing from it for 4.0 s",
        ),
    ];
    for (b, sign) in cases {
        let result = two(b);
        let reason = result
            .suspect
            .iter()
            .find(|s| s.contains("did not run or was not heard"))
            .unwrap_or_else(|| panic!("{sign}: {:?}", result.suspect));
        assert!(reason.contains(&format!("b ({sign}")), "{reason}");
        assert_ne!(result.status, LayoutStatus::Ok);
    }
}

#[test]
fn each_agent_has_its_own_connection_setup_and_grpc_status_codes_and_the_layout_their_merge() {
    use numaload_proto::v1::StatusCount;
    // Agent a opened 4 connections (1 ms connects) and got 3 OK calls; agent b 2 (9 ms) and one
    // NOT_FOUND.
    let agent = |connects: &[u64], codes: &[(u32, u64)]| {
        let mut s = summary(&[1_000; 4]);
        let w = &mut s.workers[0];
        w.connect_time = encoded(connects);
        w.first_byte = encoded(connects);
        w.grpc_status_codes = codes
            .iter()
            .map(|&(code, count)| StatusCount { code, count })
            .collect();
        events(s)
    };
    let events = [
        agent(&[1_000_000; 4], &[(0, 3)]),
        agent(&[9_000_000; 2], &[(5, 1)]),
    ];
    let names = ["a".to_owned(), "b".to_owned()];
    let result = layout_result("l", &load(), &fleet(&names, &events, None)).expect("merge");
    let setups: Vec<(u64, u64)> = result
        .agents
        .iter()
        .map(|a| {
            let s = a.connection_setup.as_ref().expect("its own setup");
            (s.connections, s.connect_ns.max / 1_000_000)
        })
        .collect();
    assert_eq!(setups, [(4, 1), (2, 9)]);
    let merged = result.connection_setup.as_ref().expect("merged setup");
    assert_eq!(
        (merged.connections, merged.connect_ns.max / 1_000_000),
        (6, 9)
    );
    assert_eq!(result.agents[0].grpc_status_codes, [("0".into(), 3)].into());
    assert_eq!(result.agents[1].grpc_status_codes, [("5".into(), 1)].into());
    assert_eq!(
        result.grpc_status_codes,
        [("0".into(), 3), ("5".into(), 1)].into()
    );
}

#[test]
fn each_agent_has_its_own_errors_by_kind_adding_up_to_its_errors_and_to_the_layouts() {
    // Agent a: 2 connects refused and 3 unexpected statuses; agent b: 4 timeouts and 1 unsent.
    let agent = |errors: ErrorCounts| {
        let mut s = summary(&[1_000; 10]);
        s.workers[0].errors = Some(errors);
        events(s)
    };
    let events = [
        agent(ErrorCounts {
            connect: 2,
            http_status: 3,
            ..ErrorCounts::default()
        }),
        agent(ErrorCounts {
            timeout: 4,
            unsent: 1,
            ..ErrorCounts::default()
        }),
    ];
    let names = ["a".to_owned(), "b".to_owned()];
    let result = layout_result("l", &load(), &fleet(&names, &events, None)).expect("merge");
    let kinds: Vec<ErrorKinds> = result
        .agents
        .iter()
        .map(|a| a.errors_by_kind.clone().expect("its own errors by kind"))
        .collect();
    let expected = [
        ErrorKinds {
            connect: 2,
            http_status: 3,
            ..ErrorKinds::default()
        },
        ErrorKinds {
            timeout: 4,
            unsent: 1,
            ..ErrorKinds::default()
        },
    ];
    assert_eq!(kinds, expected);
    for (agent, kinds) in result.agents.iter().zip(&kinds) {
        assert_eq!(agent.errors, kinds.total(), "{}", agent.agent);
    }
    let mut sum = ErrorKinds::default();
    kinds.iter().for_each(|k| sum.add(k));
    assert_eq!(sum, result.errors_by_kind);

    // An agent that did not measure the layout has none (not zeros read as measured).
    let lost = LayoutEvents {
        failure: Some("lost".into()),
        ..LayoutEvents::default()
    };
    let events = [events[0].clone(), lost];
    let result = layout_result("l", &load(), &fleet(&names, &events, None)).expect("merge");
    assert_eq!(result.agents[1].errors_by_kind, None);
}
