//! The schedule generator checked directly, statistically where it is random: every test is
//! deterministic (fixed seeds) and reads no clock.

use super::*;

const SEC: Duration = Duration::from_secs(1);

fn step(rate: f64, seconds: u64) -> Stage {
    Stage {
        from: rate,
        to: rate,
        duration: SEC * seconds as u32,
    }
}

fn ramp(from: f64, to: f64, seconds: u64) -> Stage {
    Stage {
        from,
        to,
        duration: SEC * seconds as u32,
    }
}

fn poisson(seed: u64, stream: u64) -> Arrivals {
    Arrivals::Poisson { seed, stream }
}

/// The plan of `stages` (or `rate` throughout) spread as `arrivals`, after `warmup`.
fn plan(rate: f64, warmup: Duration, stages: Vec<Stage>, arrivals: Arrivals) -> SendPlan {
    let shape = LoadShape {
        arrivals,
        stages,
        trace: None,
    };
    SendPlan::new(rate, warmup, &shape)
}

/// Every send of connection `global` of `connections` before `until` seconds, in seconds.
fn connection_times(plan: &SendPlan, global: u32, connections: u32, until: f64) -> Vec<f64> {
    let mut times = SendTimes::new(plan, global, connections);
    std::iter::from_fn(|| times.next())
        .map(|slot| slot.at.as_secs_f64())
        .take_while(|&t| t < until)
        .collect()
}

/// Every send of all `connections` before `until` seconds, merged and sorted.
fn merged_times(plan: &SendPlan, connections: u32, until: f64) -> Vec<f64> {
    let mut all: Vec<f64> = (0..connections)
        .flat_map(|g| connection_times(plan, g, connections, until))
        .collect();
    all.sort_by(f64::total_cmp);
    all
}

fn gaps(times: &[f64]) -> Vec<f64> {
    times.windows(2).map(|w| w[1] - w[0]).collect()
}

/// Sends per whole second, for `seconds` seconds.
fn per_second(times: &[f64], seconds: usize) -> Vec<u64> {
    let mut counts = vec![0; seconds];
    for &t in times {
        if let Some(count) = counts.get_mut(t as usize) {
            *count += 1;
        }
    }
    counts
}

/// The Kolmogorov-Smirnov statistic of `sample` against the exponential distribution of
/// `rate`, scaled as Stephens' approximation of its null distribution has it:
/// (√n + 0.12 + 0.11/√n)·D, which exceeds 1.358 with probability 0.05.
fn ks_exponential(sample: &[f64], rate: f64) -> f64 {
    let mut sorted = sample.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len() as f64;
    let d = sorted
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            let f = 1.0 - (-rate * x).exp();
            (f - i as f64 / n).max((i + 1) as f64 / n - f)
        })
        .fold(0.0, f64::max);
    (n.sqrt() + 0.12 + 0.11 / n.sqrt()) * d
}

/// The critical value of [`ks_exponential`] at α = 0.05.
const KS_CRITICAL_5: f64 = 1.358;

fn dispersion_index(counts: &[u64]) -> f64 {
    let n = counts.len() as f64;
    let mean = counts.iter().sum::<u64>() as f64 / n;
    let variance = counts
        .iter()
        .map(|&c| (c as f64 - mean).powi(2))
        .sum::<f64>()
        / (n - 1.0);
    variance / mean
}

#[test]
fn uniform_at_a_constant_rate_is_the_metronome() {
    let plan = plan(1_000.0, SEC, Vec::new(), Arrivals::Uniform);
    let sends = merged_times(&plan, 4, 0.02);
    assert_eq!(sends.len(), 20);
    for (i, at) in sends.iter().enumerate() {
        assert!((at - i as f64 / 1_000.0).abs() < 1e-9, "send {i} at {at}");
    }
    // Connection 1 of 4: indices 1, 5, 9, ...
    let one = connection_times(&plan, 1, 4, 0.01);
    assert_eq!(one, [0.001, 0.005, 0.009]);
}

#[test]
fn the_count_and_its_inverse_agree_on_steps_ramps_and_pauses() {
    let stages = vec![
        ramp(0.0, 2_000.0, 2),
        step(0.0, 1),
        ramp(3_000.0, 1_000.0, 2),
        ramp(1_000.0, 0.0, 1),
    ];
    let profile = Profile::new(0.0, SEC, &stages);
    // The warm-up at the first stage's start (0 req/s), then 2,000, 0, 4,000, 500 requests.
    let ends = [(1.0, 0.0), (3.0, 2_000.0), (4.0, 2_000.0), (6.0, 6_000.0)];
    for (t, want) in ends {
        assert!((profile.cumulative(t) - want).abs() < 1e-6, "Λ({t})");
    }
    assert!(
        (profile.cumulative(100.0) - 6_500.0).abs() < 1e-6,
        "nothing after"
    );
    let mut cursor = 0;
    for u in [0.5, 1.0, 500.0, 1_999.0, 2_000.5, 4_321.0, 6_000.0, 6_499.9] {
        let t = profile.time_of(u, &mut cursor).expect("asked for");
        assert!((profile.cumulative(t) - u).abs() < 1e-6, "Λ(Λ⁻¹({u}))");
    }
    assert_eq!(
        profile.time_of(6_500.5, &mut cursor),
        None,
        "the rate fell to 0"
    );
    // No send falls where the rate is 0: the first waits for the warm-up at 0 req/s to end,
    // and the pause from 3 s to 4 s holds nothing (a point reached at its start is sent at its
    // end).
    let mut fresh = 0;
    assert_eq!(profile.time_of(0.0, &mut fresh), Some(1.0));
    assert!(profile.time_of(1_999.999, &mut fresh).expect("asked for") < 3.0);
    assert_eq!(profile.time_of(2_000.0, &mut fresh), Some(4.0));
}

#[test]
fn a_uniform_ramp_sends_what_the_plan_asks_each_second_within_2_percent() {
    // 1,000 → 11,000 req/s over 10 s after a 1 s warm-up at 1,000, over 16 connections.
    let plan = plan(
        0.0,
        SEC,
        vec![ramp(1_000.0, 11_000.0, 10)],
        Arrivals::Uniform,
    );
    let SendPlan::Rate { profile, .. } = &plan else {
        unreachable!("a rate")
    };
    let counts = per_second(&merged_times(&plan, 16, 11.0), 11);
    for (second, &count) in counts.iter().enumerate() {
        let asked = profile.cumulative(second as f64 + 1.0) - profile.cumulative(second as f64);
        assert!(asked >= 1_000.0);
        let off = (count as f64 - asked).abs() / asked;
        assert!(off < 0.02, "second {second}: {count} sent, {asked} asked");
        // Evenly spread, the count is the integral rounded: off by at most one.
        assert!((count as f64 - asked).abs() <= 1.0, "second {second}");
    }
}

#[test]
fn a_poisson_ramp_follows_the_plan_each_second_as_a_poisson_count_does() {
    let plan = plan(0.0, SEC, vec![ramp(2_000.0, 20_000.0, 10)], poisson(11, 0));
    let SendPlan::Rate { profile, .. } = &plan else {
        unreachable!("a rate")
    };
    let counts = per_second(&merged_times(&plan, 16, 11.0), 11);
    let mut chi2 = 0.0;
    for (second, &count) in counts.iter().enumerate() {
        let asked = profile.cumulative(second as f64 + 1.0) - profile.cumulative(second as f64);
        // A Poisson count has standard deviation √asked: 4.5 of them is a 1-in-100,000 miss.
        let z = (count as f64 - asked) / asked.sqrt();
        assert!(
            z.abs() < 4.5,
            "second {second}: {count} sent, {asked} asked (z {z:.2})"
        );
        chi2 += z * z;
    }
    // 11 seconds: χ²(11) is below 31.3 with probability 0.999.
    assert!(chi2 < 31.3, "χ² {chi2}");
}

#[test]
fn poisson_gaps_pass_kolmogorov_smirnov_against_the_exponential_at_a_fixed_seed() {
    let rate = 5_000.0;
    let random = plan(rate, SEC, Vec::new(), poisson(42, 0));
    // The run's gaps, merged over its connections: exponential at the total rate.
    let merged = merged_times(&random, 8, 4.0);
    assert!(merged.len() > 19_000, "{}", merged.len());
    let statistic = ks_exponential(&gaps(&merged), rate);
    assert!(statistic < KS_CRITICAL_5, "merged: {statistic}");
    // One connection's own gaps: exponential at its share of the rate.
    let one = connection_times(&random, 3, 8, 4.0);
    let statistic = ks_exponential(&gaps(&one), rate / 8.0);
    assert!(statistic < KS_CRITICAL_5, "one connection: {statistic}");
    // The negative control: even spacing is nowhere near exponential.
    let even = merged_times(&plan(rate, SEC, Vec::new(), Arrivals::Uniform), 8, 4.0);
    assert!(ks_exponential(&gaps(&even), rate) > 10.0 * KS_CRITICAL_5);
}

#[test]
fn across_200_seeds_the_test_rejects_about_as_often_as_its_level() {
    let rate = 1_000.0;
    let rejected = (0..200)
        .filter(|&seed| {
            let plan = plan(rate, Duration::ZERO, Vec::new(), poisson(seed, 0));
            let merged = merged_times(&plan, 4, 0.5);
            ks_exponential(&gaps(&merged), rate) > KS_CRITICAL_5
        })
        .count();
    // At α = 0.05, 10 of 200 expected (standard deviation 3.1).
    assert!((2..=20).contains(&rejected), "{rejected} of 200 rejected");
}

#[test]
fn per_second_counts_over_three_agents_have_a_dispersion_index_near_one() {
    // A plan of 3,000 req/s shared by three load agents: each 1,000 req/s over its own 4
    // connections and its own stream of the one seed.
    let seconds = 300;
    let mut counts = vec![0u64; seconds];
    for agent in 0..3 {
        let plan = plan(1_000.0, SEC, Vec::new(), poisson(7, agent));
        let times = merged_times(&plan, 4, seconds as f64);
        for (total, count) in counts.iter_mut().zip(per_second(&times, seconds)) {
            *total += count;
        }
    }
    let index = dispersion_index(&counts);
    // Its standard error over 300 counts is about √(2/299) ≈ 0.08.
    assert!((index - 1.0).abs() < 0.25, "dispersion index {index}");
    let sent: u64 = counts.iter().sum();
    let asked = 3_000.0 * seconds as f64;
    assert!(
        (sent as f64 - asked).abs() < 4.0 * asked.sqrt(),
        "{sent} sent"
    );
    // The negative control: the metronome's counts hardly vary.
    let even = plan(3_000.0, SEC, Vec::new(), Arrivals::Uniform);
    let even = per_second(&merged_times(&even, 12, seconds as f64), seconds);
    assert!(dispersion_index(&even) < 0.01);
}

#[test]
fn the_same_seed_gives_the_same_schedule_and_another_seed_another() {
    let schedule = |seed, stream| {
        let plan = plan(0.0, SEC, vec![ramp(100.0, 900.0, 2)], poisson(seed, stream));
        merged_times(&plan, 5, 3.0)
    };
    assert_eq!(schedule(3, 1), schedule(3, 1));
    assert_ne!(schedule(3, 1), schedule(4, 1));
    assert_ne!(schedule(3, 1), schedule(3, 2));
}

#[test]
fn a_trace_is_dealt_round_robin_and_every_entry_is_sent_once() {
    let entries: Arc<[TraceEntry]> = (0..10u32)
        .map(|i| TraceEntry {
            at: Duration::from_millis(u64::from(i) * 7),
            request: i % 3,
        })
        .collect();
    let shape = LoadShape {
        trace: Some(Arc::clone(&entries)),
        ..LoadShape::default()
    };
    let plan = SendPlan::new(0.0, Duration::ZERO, &shape);
    let mut sent = Vec::new();
    for g in 0..3 {
        let mut times = SendTimes::new(&plan, g, 3);
        let mine: Vec<Slot> = std::iter::from_fn(|| times.next()).collect();
        assert!(mine.windows(2).all(|w| w[0].at <= w[1].at), "in time order");
        sent.extend(mine);
    }
    sent.sort_by_key(|slot| slot.at);
    let want: Vec<Slot> = entries
        .iter()
        .map(|e| Slot {
            at: e.at,
            request: Some(e.request),
        })
        .collect();
    assert_eq!(sent, want);
}

#[test]
fn stages_end_where_their_durations_add_up_and_say_their_rate_on_the_way() {
    let shape = LoadShape {
        stages: vec![step(500.0, 2), ramp(1_000.0, 3_000.0, 4)],
        ..LoadShape::default()
    };
    let warmup = SEC;
    assert_eq!(shape.stage_ends(warmup), [SEC * 3, SEC * 7]);
    assert_eq!(shape.stage_at(warmup, SEC / 2), None, "warm-up");
    assert_eq!(shape.stage_at(warmup, SEC * 2), Some((0, 500.0)));
    assert_eq!(shape.stage_at(warmup, SEC * 4), Some((1, 1_500.0)));
    assert_eq!(shape.stage_at(warmup, SEC * 7), None, "after the last");
    assert!(LoadShape::default().stage_ends(warmup).is_empty());
}

#[test]
fn a_pool_hands_out_its_members_slots_in_time_order_each_once() {
    let plan = plan(2_000.0, Duration::ZERO, Vec::new(), poisson(5, 0));
    // Connections 1, 3 and 5 of 6 (a worker's connections to one of two replicas).
    let members = [1, 3, 5].map(|g| SendTimes::new(&plan, g, 6)).to_vec();
    let mut pool = SlotPool::new(members);
    let mut taken = Vec::new();
    while let Some(at) = pool.peek().filter(|at| *at < SEC) {
        let slot = pool.take().expect("the slot peeked");
        assert_eq!(slot.at, at, "take gives what peek showed");
        taken.push(slot.at.as_secs_f64());
    }
    assert!(taken.windows(2).all(|w| w[0] <= w[1]), "in time order");
    let mut own: Vec<f64> = [1, 3, 5]
        .into_iter()
        .flat_map(|g| connection_times(&plan, g, 6, 1.0))
        .collect();
    own.sort_by(f64::total_cmp);
    assert_eq!(taken, own, "the same slots as the members' own, once each");
    assert!(plan.pooled() && !self::plan(1.0, SEC, Vec::new(), Arrivals::Uniform).pooled());
}
