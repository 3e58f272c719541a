use numaload_proto::v1::{
    run_event::Event, LayoutFailed, Phase, PhaseChange, Placed, RunDone, RunEvent,
};

use super::*;

const MS: u64 = 1_000_000;

fn clock(offset_ns: i64, round_trip_ns: u64) -> ClockEstimate {
    ClockEstimate {
        offset_ns,
        round_trip_ns,
    }
}

/// Two agents: `a` 5 s ahead of us with a 2 ms round trip, `b` 1 s behind with 4 ms.
fn two_agents(layouts: &[&str]) -> Session {
    Session::new(
        vec![
            ("a:7070".into(), clock(5_000 * MS as i64, 2 * MS)),
            ("b:7070".into(), clock(-1_000 * MS as i64, 4 * MS)),
        ],
        layouts.iter().map(|l| (*l).to_owned()).collect(),
    )
}

fn event(e: Event) -> RunEvent {
    RunEvent { event: Some(e) }
}

fn placed(agent: usize, layout: &str) -> Input {
    Input::Event {
        agent,
        event: event(Event::Placed(Placed {
            layout: layout.into(),
            ..Default::default()
        })),
    }
}

fn failed(agent: usize, layout: &str) -> Input {
    Input::Event {
        agent,
        event: event(Event::Failed(LayoutFailed {
            layout: layout.into(),
            error: "launching replicas: boom".into(),
        })),
    }
}

fn done(agent: usize) -> Input {
    Input::Event {
        agent,
        event: event(Event::Done(RunDone { cancelled: false })),
    }
}

fn starts(actions: &[Action]) -> Vec<(usize, &str, u64)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Start {
                agent,
                layout,
                at_agent_unix_ns,
                ..
            } => Some((*agent, layout.as_str(), *at_agent_unix_ns)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_layout_starts_once_every_agent_placed_it_at_one_instant_on_each_clock() {
    let mut s = two_agents(&["one", "two"]);
    let now = 1_000_000 * MS;
    assert!(
        starts(&s.handle(placed(0, "one"), now)).is_empty(),
        "b has not placed it"
    );
    let actions = s.handle(placed(1, "two"), now);
    assert!(
        starts(&actions).is_empty(),
        "a later layout cannot start first"
    );
    let actions = s.handle(placed(1, "one"), now);
    // now + lead (and its share per agent) + twice the slowest round trip, converted to each
    // agent's clock.
    let lead = START_LEAD + START_LEAD_PER_AGENT * 2;
    let at = now + lead.as_nanos() as u64 + 2 * 4 * MS;
    assert_eq!(
        starts(&actions),
        [(0, "one", at + 5_000 * MS), (1, "one", at - 1_000 * MS)]
    );
    // "two" waits for a, then starts, once.
    assert!(starts(&s.handle(placed(0, "two"), now)).len() == 2);
    assert!(
        starts(&s.handle(placed(0, "two"), now)).is_empty(),
        "a duplicate starts nothing"
    );
}

#[test]
fn an_agent_that_failed_a_layout_gets_no_start_and_does_not_hold_the_others() {
    let mut s = two_agents(&["one"]);
    s.handle(placed(0, "one"), 0);
    let actions = s.handle(failed(1, "one"), 0);
    assert_eq!(
        starts(&actions).iter().map(|s| s.0).collect::<Vec<_>>(),
        [0]
    );
    assert!(actions.iter().any(
        |a| matches!(a, Action::Progress(Progress::Notice(n)) if n.contains("failed: launching"))
    ));
}

#[test]
fn a_lost_agent_does_not_block_the_others_and_is_reported() {
    let mut s = two_agents(&["one", "two"]);
    s.handle(placed(0, "one"), 0);
    let actions = s.handle(
        Input::Failed {
            agent: 1,
            error: "connection lost mid-run".into(),
        },
        0,
    );
    assert_eq!(
        starts(&actions).iter().map(|s| s.0).collect::<Vec<_>>(),
        [0]
    );
    assert!(actions
        .iter()
        .any(|a| matches!(a, Action::Progress(Progress::Notice(n)) if n == "agent lost: connection lost mid-run")));
    // The next layout needs only the live agent.
    assert_eq!(starts(&s.handle(placed(0, "two"), 0)).len(), 1);
    // A late event from the lost agent changes nothing.
    assert!(s.handle(placed(1, "two"), 0).is_empty());
    assert!(!s.finished());
    s.handle(done(0), 0);
    assert!(s.finished());
    let outcome = s.into_outcome();
    assert_eq!(outcome.lost[1].as_deref(), Some("connection lost mid-run"));
    assert!(outcome.lost[0].is_none());
}

#[test]
fn a_stream_that_ends_before_done_is_lost_and_one_after_done_is_not() {
    let mut s = two_agents(&["one"]);
    s.handle(done(0), 0);
    s.handle(Input::Ended { agent: 0 }, 0);
    s.handle(Input::Ended { agent: 1 }, 0);
    let outcome = s.into_outcome();
    assert!(outcome.lost[0].is_none());
    assert_eq!(
        outcome.lost[1].as_deref(),
        Some("ended the run without finishing it")
    );
}

#[test]
fn a_cancel_is_sent_once_and_the_grace_marks_the_stragglers_lost() {
    let mut s = two_agents(&["one"]);
    let first = s.handle(Input::Cancel, 0);
    assert!(first.contains(&Action::CancelAll));
    assert!(!s.handle(Input::Cancel, 0).contains(&Action::CancelAll));
    s.handle(done(0), 0);
    assert!(!s.finished());
    s.handle(Input::GraceExpired, 0);
    assert!(s.finished());
    let outcome = s.into_outcome();
    assert!(outcome.cancel_requested);
    assert!(outcome.lost[0].is_none(), "a finished agent is not lost");
    assert_eq!(
        outcome.lost[1].as_deref(),
        Some("did not stop within the grace after the cancel")
    );
}

#[test]
fn one_agent_is_never_sent_a_start_and_its_phases_show() {
    let mut s = Session::new(vec![("a:7070".into(), clock(0, 0))], vec!["one".into()]);
    let actions = s.handle(placed(0, "one"), 0);
    assert!(
        starts(&actions).is_empty(),
        "a single agent does not wait for a Start"
    );
    let actions = s.handle(
        Input::Event {
            agent: 0,
            event: event(Event::Phase(PhaseChange {
                layout: "one".into(),
                phase: Phase::Measuring as i32,
                at_unix_ns: 7,
            })),
        },
        0,
    );
    assert_eq!(
        actions,
        [Action::Progress(Progress::Phase {
            agent: "a:7070".into(),
            layout: "one".into(),
            phase: "measuring".into()
        })]
    );
    // An event for an agent index that does not exist is ignored, not a panic.
    assert!(s.handle(placed(9, "one"), 0).is_empty());
}

#[test]
fn load_agents_are_started_with_every_replica_the_agents_under_test_placed() {
    let mut s = Session::new(
        vec![
            ("sut-a:7070".into(), clock(0, MS)),
            ("sut-b:7070".into(), clock(0, MS)),
            ("load:7070".into(), clock(3 * MS as i64, MS)),
        ],
        vec!["one".into()],
    )
    .with_load_agents_from(2);
    let with_replicas = |agent: usize, addresses: &[&str]| Input::Event {
        agent,
        event: event(Event::Placed(Placed {
            layout: "one".into(),
            replicas: addresses
                .iter()
                .enumerate()
                .map(|(i, a)| numaload_proto::v1::ReplicaPlacement {
                    index: i as u32,
                    address: (*a).into(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })),
    };
    let now = 1_000 * MS;
    assert!(starts(&s.handle(with_replicas(0, &["10.0.0.1:20000"]), now)).is_empty());
    assert!(
        starts(&s.handle(placed(2, "one"), now)).is_empty(),
        "sut-b has not placed it"
    );
    let actions = s.handle(with_replicas(1, &["10.0.0.2:20000", "10.0.0.2:20001"]), now);
    let mut given = Vec::new();
    for action in &actions {
        if let Action::Start { agent, targets, .. } = action {
            given.push((*agent, targets.clone()));
        }
    }
    assert_eq!(given.len(), 3, "every agent starts: {actions:?}");
    assert!(
        given[0].1.is_empty() && given[1].1.is_empty(),
        "agents under test drive nothing"
    );
    let to_load: Vec<(String, String, u32)> = given[2]
        .1
        .iter()
        .map(|t| (t.address.clone(), t.agent.clone(), t.replica))
        .collect();
    assert_eq!(
        to_load,
        [
            ("10.0.0.1:20000".to_owned(), "sut-a:7070".to_owned(), 0),
            ("10.0.0.2:20000".to_owned(), "sut-b:7070".to_owned(), 0),
            ("10.0.0.2:20001".to_owned(), "sut-b:7070".to_owned(), 1),
        ]
    );
    let at: Vec<u64> = starts(&actions).iter().map(|s| s.2).collect();
    assert_eq!(
        at[2] - at[0],
        3 * MS,
        "one instant, on the load agent's own clock"
    );
}

fn lost(agent: usize) -> Input {
    Input::Failed {
        agent,
        error: "transport error: connection reset".into(),
    }
}

fn cancels(actions: &[Action]) -> bool {
    actions.contains(&Action::CancelAll)
}

/// Three agents, each with its clock, and the plan's `[fleet]` policy.
fn three_agents(policy: crate::plan::FleetPolicy) -> Session {
    Session::new(
        ["a:7070", "b:7070", "c:7070"]
            .iter()
            .map(|a| ((*a).to_owned(), clock(0, MS)))
            .collect(),
        vec!["one".into()],
    )
    .with_policy(policy)
}

#[test]
fn by_default_a_lost_agent_leaves_the_others_running() {
    let mut s = three_agents(crate::plan::FleetPolicy::default());
    assert!(!cancels(&s.handle(lost(1), 0)));
    assert!(!cancels(&s.handle(lost(2), 0)));
    assert!(!s.cancel_requested());
    assert_eq!(s.into_outcome().aborted, None);
}

#[test]
fn abort_cancels_everywhere_at_the_first_loss_naming_the_agent() {
    let mut s = three_agents(crate::plan::FleetPolicy {
        on_agent_loss: crate::plan::AgentLoss::Abort,
        max_lost_agents: None,
    });
    let actions = s.handle(lost(1), 0);
    assert!(cancels(&actions), "{actions:?}");
    assert!(s.cancel_requested());
    // Once: a second loss after the abort cancels nothing more.
    assert!(!cancels(&s.handle(lost(2), 0)));
    let why = s.into_outcome().aborted.expect("aborted");
    assert!(
        why.starts_with("agent b:7070 was lost (transport error"),
        "{why}"
    );
    assert!(why.contains("on_agent_loss = \"abort\""), "{why}");
}

#[test]
fn degrade_aborts_when_more_than_max_lost_agents_are_lost() {
    let mut s = three_agents(crate::plan::FleetPolicy {
        max_lost_agents: Some(1),
        ..Default::default()
    });
    assert!(!cancels(&s.handle(lost(0), 0)), "one lost is allowed");
    // A stream that ends without a RunDone is a loss too.
    assert!(cancels(&s.handle(Input::Ended { agent: 2 }, 0)));
    let why = s.into_outcome().aborted.expect("aborted");
    assert!(
        why.starts_with("2 agents were lost, the last c:7070"),
        "{why}"
    );
}

#[test]
fn a_cancel_from_the_user_is_not_an_abort() {
    let mut s = three_agents(crate::plan::FleetPolicy {
        on_agent_loss: crate::plan::AgentLoss::Abort,
        max_lost_agents: None,
    });
    assert!(cancels(&s.handle(Input::Cancel, 0)));
    // Agents that do not stop in the grace are lost, but the run was the user's to stop.
    s.handle(Input::GraceExpired, 0);
    assert_eq!(s.into_outcome().aborted, None);
}

#[test]
fn a_live_load_figure_carries_the_stage_running_and_its_rate() {
    use numaload_proto::v1::LoadProgress;
    let load = |stage, stage_rate_rps| {
        event(Event::Load(LoadProgress {
            layout: "l".into(),
            requests: 3_000,
            interval_ms: 1_000,
            p99_ns: 2_000_000,
            stage,
            stage_rate_rps,
        }))
    };
    let Some(Progress::Load {
        rate_rps, stage, ..
    }) = progress_of("a:7070", &load(2, 1_500.0))
    else {
        panic!("a live load figure")
    };
    assert_eq!((rate_rps, stage), (3_000.0, Some((2, 1_500.0))));
    let Some(Progress::Load { stage, .. }) = progress_of("a:7070", &load(0, 0.0)) else {
        panic!("a live load figure")
    };
    assert_eq!(
        stage, None,
        "no stage: the warm-up, or a run without stages"
    );
}

fn phase(agent: usize, layout: &str, phase: Phase) -> Input {
    Input::Event {
        agent,
        event: event(Event::Phase(PhaseChange {
            layout: layout.into(),
            phase: phase as i32,
            at_unix_ns: 0,
        })),
    }
}

#[test]
fn the_longest_silence_of_an_agent_while_it_measures_is_kept_for_its_layout() {
    let mut s = two_agents(&["one"]);
    let at = |seconds: u64| 1_000_000 * MS + seconds * 1_000 * MS;
    s.handle(placed(0, "one"), at(0));
    // Silent for 10 s before it measures: not counted.
    s.handle(phase(0, "one", Phase::Measuring), at(10));
    s.handle(phase(0, "one", Phase::Warmup), at(11));
    s.handle(phase(0, "one", Phase::Warmup), at(15));
    s.handle(phase(0, "one", Phase::Stopping), at(16));
    // After it stopped measuring: not counted either.
    s.handle(done(0), at(40));
    let outcome = s.into_outcome();
    let events = &outcome.collectors[0].layouts["one"];
    assert_eq!(events.longest_silence_ns, 4_000 * MS);
}
