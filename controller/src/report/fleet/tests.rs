use super::*;
use crate::result::{AgentOutcome, Delivery};

/// The quickstart result run on `n` agents `10.0.0.N:7070`: each layout's agent, replica and
/// load worker copied per agent, agent `i` with a p99 of `i` ms and `100 + i` req/s.
fn fleet_of(n: usize) -> RunResult {
    let mut result: RunResult = serde_json::from_str(include_str!(
        "../../../tests/fixtures/quickstart-result.json"
    ))
    .expect("fixture");
    let name = |i: usize| format!("10.0.0.{i}:7070");
    let one_host = result.hosts[0].clone();
    result.hosts = (0..n)
        .map(|i| HostSummary {
            agent: name(i),
            ..one_host.clone()
        })
        .collect();
    let one_agent = result.agents[0].clone();
    result.agents = (0..n)
        .map(|i| AgentOutcome {
            agent: name(i),
            ..one_agent.clone()
        })
        .collect();
    for l in &mut result.layouts {
        let (agent, replica, worker) = (
            l.agents[0].clone(),
            l.replicas[0].clone(),
            l.load.workers[0].clone(),
        );
        l.agents = (0..n)
            .map(|i| {
                let mut a = agent.clone();
                a.agent = name(i);
                a.latency_ns.p99 = (i as u64 + 1) * 1_000_000;
                a.throughput_rps = 100.0 + i as f64;
                a
            })
            .collect();
        l.replicas = (0..n)
            .map(|i| {
                let mut r = replica.clone();
                r.agent = name(i);
                r
            })
            .collect();
        l.load.workers = (0..n)
            .map(|i| {
                let mut w = worker.clone();
                w.agent = name(i);
                w.busy = i as f64 / n as f64;
                w
            })
            .collect();
    }
    result
}

#[test]
fn a_handful_of_agents_is_not_a_fleet_and_more_is() {
    assert!(!is_fleet(&fleet_of(FLEET_AGENTS)));
    assert!(is_fleet(&fleet_of(FLEET_AGENTS + 1)));
}

#[test]
fn the_spread_is_the_least_the_middle_agent_and_the_greatest() {
    let s =
        Spread::of(vec![(3.0, false), (1.0, false), (2.0, true), (9.0, false)]).expect("values");
    assert_eq!((s.min.0, s.median.0, s.max.0), (1.0, 2.0, 9.0));
    assert!(s.median.1, "the middle value is the agent's lower bound");
    assert_eq!(s.text(|v| format!("{v}")), "min 1, median ≥ 2, max 9");
    assert_eq!(Spread::of(Vec::new()), None);
}

#[test]
fn the_worst_agents_are_the_worst_status_then_the_least_delivered_then_the_slowest() {
    let mut result = fleet_of(20);
    let l = &mut result.layouts[0];
    l.agents[3].status = LayoutStatus::Failed;
    l.agents[3].error = Some("not measured: agent lost: killed".into());
    for (i, answered) in [(7, 500), (8, 100)] {
        l.agents[i].status = LayoutStatus::Incomplete;
        l.agents[i].delivery = Some(Delivery::of_window(600, answered, Some(600), 0.99));
    }
    let f = layout(&result.layouts[0]);
    let worst: Vec<&str> = f.worst.iter().map(|a| a.agent.as_str()).collect();
    assert_eq!(
        worst,
        [
            "10.0.0.3:7070",
            "10.0.0.8:7070",
            "10.0.0.7:7070",
            "10.0.0.19:7070",
            "10.0.0.18:7070"
        ]
    );
    assert_eq!(
        f.statuses_text(),
        "20 agents: 17 ok, 2 incomplete, 1 failed"
    );
    assert_eq!(
        f.worst_text(f.worst[1]),
        "10.0.0.8:7070 [INCOMPLETE] p99 9.00 ms, 108 req/s, short 500 of 600"
    );
    assert_eq!(
        f.worst_text(f.worst[0]),
        "10.0.0.3:7070 [FAILED] not measured: agent lost: killed"
    );
    // The failed agent is left out of the spread: 19 measured, p99 1..20 ms but 4.
    let spread = f.spread_text().expect("measured agents");
    assert!(
        spread.starts_with("p99 min 1.00 ms, median 11.00 ms, max 20.00 ms; throughput min 100"),
        "{spread}"
    );
}

#[test]
fn a_fleet_report_has_a_line_per_layout_summary_not_per_agent_in_every_human_format() {
    let result = fleet_of(512);
    let text = crate::report::text::render(&result);
    assert!(text.lines().count() < 80, "{text}");
    assert!(!text.contains("host vm (agent"), "no line per host: {text}");
    assert!(text.contains("hosts 512 agents on AMD EPYC"), "{text}");
    assert!(
        text.contains("  agents       512 agents: 512 ok\n"),
        "{text}"
    );
    assert!(
        text.contains("  worst agent  10.0.0.511:7070 [ok] p99 512.00 ms"),
        "{text}"
    );
    assert!(text.contains("  replicas     512 on 512 agents, every one where it was placed"));
    assert!(text.contains("  load gen     512 workers on 512 agents, CPU busy min 0%"));
    for format in [crate::report::Format::Markdown, crate::report::Format::Html] {
        let shown = crate::report::render(&result, format);
        // Every agent's name would take more than this many bytes.
        assert!(shown.len() < 120_000, "{format:?}: {} bytes", shown.len());
        assert!(
            shown.contains("10.0.0.511:7070"),
            "{format:?}: the worst named"
        );
        assert!(
            !shown.contains("10.0.0.100:7070"),
            "{format:?}: an agent not among the worst"
        );
    }
    // Every agent's figures are in the per-agent CSV.
    let csv = crate::report::csv::render_agents(&result);
    assert_eq!(csv.lines().count(), 1 + 512 * result.layouts.len());
    assert!(csv.contains("\nper-node,1,10.0.0.100:7070,ok,"), "{csv}");
}

#[test]
fn hosts_under_test_behind_load_agents_are_said_so_not_spread_as_zero_load() {
    let mut result = fleet_of(12);
    let l = &mut result.layouts[0];
    for (i, a) in l.agents.iter_mut().enumerate() {
        if i < 2 {
            // Its replicas were driven from the load agents: it sent nothing.
            a.role = Some(Role::UnderTest);
            a.requests = 0;
            a.throughput_rps = 0.0;
            a.latency_ns = Default::default();
            a.delivery = None;
        } else {
            a.role = Some(Role::Load);
        }
    }
    let f = layout(&result.layouts[0]);
    assert_eq!(
        f.statuses_text(),
        "12 agents (2 under test, 10 load): 12 ok"
    );
    let spread = f.spread_text().expect("load agents measured");
    assert!(
        spread.ends_with("throughput min 102, median 106, max 111 req/s"),
        "the hosts under test's 0 req/s are not in the spread: {spread}"
    );
    assert!(!spread.contains("too few"), "{spread}");
    let under_test = &result.layouts[0].agents[0];
    assert_eq!(
        f.worst_text(under_test),
        "10.0.0.0:7070 [ok] under test: ran the replicas, load agents drove them (it sends no \
         request)"
    );
    // Without load agents nothing changes.
    let plain = fleet_of(12);
    assert_eq!(
        layout(&plain.layouts[0]).statuses_text(),
        "12 agents: 12 ok"
    );
}

#[test]
fn a_skew_of_a_millisecond_names_the_agent_that_woke_late_and_a_small_one_does_not() {
    let mut result = fleet_of(3);
    let l = &mut result.layouts[0];
    l.start_skew_ns = None;
    assert_eq!(start_skew_text(l), "", "no skew with one agent's start");
    for (i, a) in l.agents.iter_mut().enumerate() {
        a.start_late_ns = Some(40_000 * i as u64);
    }
    l.start_skew_ns = Some(310_000);
    assert_eq!(start_skew_text(l), "; the agents began it within 0.31 ms");
    l.agents[1].start_late_ns = Some(2_810_000);
    l.start_skew_ns = Some(2_830_000);
    assert_eq!(
        start_skew_text(l),
        "; the agents began it within 2.83 ms (10.0.0.1:7070 began 2.81 ms after its start \
         instant: a busy host wakes late)"
    );
    // Every agent on time and still apart: the schedule's or the clocks', no host is named.
    l.agents[1].start_late_ns = Some(40_000);
    assert_eq!(start_skew_text(l), "; the agents began it within 2.83 ms");
}
