//! The run loop's decisions, pure: events in, actions out.
//!
//! [`Session`] keeps what the controller knows of each agent (its events gathered per layout in
//! a [`Collector`], whether it is lost, its clock) and decides, for each [`Input`] (an agent's
//! event, its stream ending or failing, a Ctrl-C, the cancel grace running out), what to do:
//! [`Action::Start`] a layout on an agent at an instant on *that agent's* clock once every live
//! agent has placed or failed it, show [`Action::Progress`], or [`Action::CancelAll`] (on Ctrl-C,
//! or when a lost agent ends the run by the plan's `[fleet]` policy). It is
//! [`Session::finished`] when every agent is done or lost. `run/mod.rs` does only the I/O around
//! it (streams, signals, RPCs), so the behaviours — start when all are placed, a lost agent does
//! not block the others, late and duplicate events, clock conversion — are tested here in
//! milliseconds, without agents.

use std::time::Duration;

use numaload_proto::v1::{run_event::Event, LoadTarget, Phase, RunEvent};

use super::clock::ClockEstimate;
use super::progress::Progress;
use crate::aggregate::Collector;
use crate::plan::FleetPolicy;

/// How far ahead of "now" a synchronized start is scheduled, beyond twice the slowest round trip
/// and [`START_LEAD_PER_AGENT`] for each agent.
pub const START_LEAD: Duration = Duration::from_millis(250);
/// More lead per agent: the `Start` calls of a fleet of thousands take a while to send.
pub const START_LEAD_PER_AGENT: Duration = Duration::from_micros(50);

/// What happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// Agent `agent` sent `event`.
    Event { agent: usize, event: RunEvent },
    /// Agent `agent`'s stream ended cleanly.
    Ended { agent: usize },
    /// Agent `agent`'s stream failed (killed, cut off, silent past its deadline).
    Failed { agent: usize, error: String },
    /// The user asked to cancel (Ctrl-C).
    Cancel,
    /// The grace after a cancel ran out.
    GraceExpired,
}

/// What to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Send `Start(layout)` to agent `agent` for this instant on its own clock (Unix ns); to a
    /// load agent with the replicas to drive (every replica the agents under test placed).
    Start {
        agent: usize,
        layout: String,
        at_agent_unix_ns: u64,
        targets: Vec<LoadTarget>,
    },
    Progress(Progress),
    /// Call `Cancel` on every agent.
    CancelAll,
}

/// One agent as the session sees it.
#[derive(Debug)]
struct AgentState {
    address: String,
    collector: Collector,
    lost: Option<String>,
    clock: ClockEstimate,
    /// A load agent: drives the others' replicas, runs none.
    load: bool,
    /// Per layout: whether this agent counts as ready for its start (placed it, failed it, or
    /// is lost).
    ready: Vec<bool>,
    /// The layout it measures (from its measuring phase to its stopping phase, summary or
    /// failure), and when the controller last heard from it.
    measuring: Option<String>,
    last_heard_ns: u64,
}

impl AgentState {
    /// `event` arrived at `now_unix_ns`: while the agent measures, how long it was silent
    /// before it is kept (it reports at least every second: a long silence is a cut link, a
    /// slowed one, or a stopped agent).
    fn heard(&mut self, event: &RunEvent, now_unix_ns: u64) {
        if let Some(layout) = &self.measuring {
            let silent = now_unix_ns.saturating_sub(self.last_heard_ns);
            self.collector.heard_after(layout, silent);
        }
        self.last_heard_ns = now_unix_ns;
        match &event.event {
            Some(Event::Phase(p)) if p.phase == Phase::Measuring as i32 => {
                self.measuring = Some(p.layout.clone());
            }
            Some(Event::Phase(p)) if p.phase == Phase::Stopping as i32 => self.measuring = None,
            Some(Event::Summary(_) | Event::Failed(_) | Event::Done(_)) => self.measuring = None,
            _ => {}
        }
    }
}

/// The run loop's state.
#[derive(Debug)]
pub struct Session {
    agents: Vec<AgentState>,
    /// Every trial of every layout, in the order the agents run them.
    layouts: Vec<String>,
    started: Vec<bool>,
    /// Per layout: how many agents are ready for its start (see `AgentState::ready`), so that
    /// a fleet's events do not each look at every agent.
    ready: Vec<usize>,
    /// Several agents: each layout waits for a `Start`.
    synchronized: bool,
    cancel_requested: bool,
    /// The plan's `[fleet]`: what a lost agent does to the run.
    policy: FleetPolicy,
    /// Why the policy stopped the run, once it did.
    aborted: Option<String>,
}

/// What a finished session leaves for the result: per agent, its events and why it was lost.
#[derive(Debug)]
pub struct Outcome {
    pub collectors: Vec<Collector>,
    pub lost: Vec<Option<String>>,
    pub cancel_requested: bool,
    /// Why the plan's `[fleet]` policy stopped the run (it was then cancelled everywhere).
    pub aborted: Option<String>,
}

impl Session {
    /// `agents`: each agent's address and clock estimate, in order.
    pub fn new(agents: Vec<(String, ClockEstimate)>, layouts: Vec<String>) -> Session {
        let synchronized = agents.len() > 1;
        Session {
            agents: agents
                .into_iter()
                .map(|(address, clock)| AgentState {
                    address,
                    collector: Collector::default(),
                    lost: None,
                    clock,
                    load: false,
                    ready: vec![false; layouts.len()],
                    measuring: None,
                    last_heard_ns: 0,
                })
                .collect(),
            started: vec![false; layouts.len()],
            ready: vec![0; layouts.len()],
            layouts,
            synchronized,
            cancel_requested: false,
            policy: FleetPolicy::default(),
            aborted: None,
        }
    }

    /// What a lost agent does to the run (the plan's `[fleet]`; degrade, without a limit,
    /// unless given).
    #[must_use]
    pub fn with_policy(mut self, policy: FleetPolicy) -> Session {
        self.policy = policy;
        self
    }

    /// The agents from index `first` on are load agents: each layout's `Start` gives them the
    /// replicas the others placed.
    #[must_use]
    pub fn with_load_agents_from(mut self, first: usize) -> Session {
        for agent in self.agents.iter_mut().skip(first) {
            agent.load = true;
        }
        self
    }

    /// Every agent is done or lost.
    pub fn finished(&self) -> bool {
        self.agents
            .iter()
            .all(|a| a.collector.done || a.lost.is_some())
    }

    pub fn cancel_requested(&self) -> bool {
        self.cancel_requested
    }

    /// Takes one input at `now_unix_ns` (the controller's clock) and says what to do.
    pub fn handle(&mut self, input: Input, now_unix_ns: u64) -> Vec<Action> {
        let mut actions = Vec::new();
        match input {
            Input::Event { agent, event } => {
                let Some(state) = self.agents.get_mut(agent) else {
                    return actions;
                };
                // After an agent is lost, whatever still arrives from it is ignored: its
                // layouts are reported as not measured, whole.
                if state.lost.is_some() {
                    return actions;
                }
                if let Some(p) = progress_of(&state.address, &event) {
                    actions.push(Action::Progress(p));
                }
                let placed_or_failed = match &event.event {
                    Some(Event::Placed(p)) => Some(p.layout.clone()),
                    Some(Event::Failed(f)) => Some(f.layout.clone()),
                    _ => None,
                };
                state.heard(&event, now_unix_ns);
                state.collector.push(event);
                if let Some(layout) = placed_or_failed {
                    self.mark_ready(agent, Some(&layout));
                }
            }
            Input::Ended { agent } => {
                if let Some(state) = self.agents.get_mut(agent) {
                    if !state.collector.done && state.lost.is_none() {
                        state.lost = Some("ended the run without finishing it".into());
                        self.mark_ready(agent, None);
                        actions.extend(self.after_loss(agent));
                    }
                }
            }
            Input::Failed { agent, error } => {
                if let Some(state) = self.agents.get_mut(agent) {
                    if !state.collector.done && state.lost.is_none() {
                        actions.push(Action::Progress(Progress::Notice(format!(
                            "agent lost: {error}"
                        ))));
                        state.lost = Some(error);
                        self.mark_ready(agent, None);
                        actions.extend(self.after_loss(agent));
                    }
                }
            }
            Input::Cancel if !self.cancel_requested => {
                self.cancel_requested = true;
                actions.push(Action::Progress(Progress::Notice(
                    "interrupted: cancelling the run on every agent (Ctrl-C again to quit at once)"
                        .into(),
                )));
                actions.push(Action::CancelAll);
            }
            Input::Cancel => {}
            Input::GraceExpired => {
                for agent in 0..self.agents.len() {
                    let state = &mut self.agents[agent];
                    if !state.collector.done && state.lost.is_none() {
                        state.lost = Some("did not stop within the grace after the cancel".into());
                        self.mark_ready(agent, None);
                    }
                }
            }
        }
        if self.synchronized {
            actions.extend(self.starts(now_unix_ns));
        }
        actions
    }

    /// Agent `agent` is ready for the start of `layout` (placed or failed it), or of every
    /// layout (`None`: it is lost).
    fn mark_ready(&mut self, agent: usize, layout: Option<&str>) {
        let Some(state) = self.agents.get_mut(agent) else {
            return;
        };
        for (index, name) in self.layouts.iter().enumerate() {
            if layout.is_some_and(|l| l != name) || state.ready[index] {
                continue;
            }
            state.ready[index] = true;
            self.ready[index] += 1;
        }
    }

    /// After agent `agent` was lost: the plan's `[fleet]` policy decides whether the run stops;
    /// if it does (once), every agent is cancelled.
    fn after_loss(&mut self, agent: usize) -> Vec<Action> {
        if self.aborted.is_some() || self.cancel_requested {
            return Vec::new();
        }
        let lost = self.agents.iter().filter(|a| a.lost.is_some()).count();
        let state = &self.agents[agent];
        let error = state.lost.as_deref().unwrap_or_default();
        // The client's errors name the agent already.
        let error = error
            .strip_prefix(&format!("agent {}: ", state.address))
            .unwrap_or(error);
        let Some(why) = self.policy.abort(lost, &state.address, error) else {
            return Vec::new();
        };
        self.cancel_requested = true;
        self.aborted = Some(why.clone());
        vec![
            Action::Progress(Progress::Notice(format!(
                "aborting: {why}; cancelling the run on every agent"
            ))),
            Action::CancelAll,
        ]
    }

    /// `Start` for every layout that every live agent has placed or failed, in run order.
    fn starts(&mut self, now_unix_ns: u64) -> Vec<Action> {
        let mut actions = Vec::new();
        for (index, layout) in self.layouts.iter().enumerate() {
            if self.started[index] {
                continue;
            }
            if self.ready[index] < self.agents.len() {
                break; // layouts run in order: a later one cannot be ready before this one
            }
            let states: Vec<Option<bool>> = self
                .agents
                .iter()
                .map(|a| match &a.lost {
                    Some(_) => Some(false),
                    None => a.collector.placed_or_failed(layout),
                })
                .collect();
            if states.iter().any(Option::is_none) {
                break; // layouts run in order: a later one cannot be ready before this one
            }
            self.started[index] = true;
            let slowest = self
                .agents
                .iter()
                .map(|a| a.clock.round_trip_ns)
                .max()
                .unwrap_or(0);
            let lead = START_LEAD + START_LEAD_PER_AGENT * self.agents.len() as u32;
            let start_at = now_unix_ns + lead.as_nanos() as u64 + 2 * slowest;
            let targets = self.targets(layout, &states);
            for (agent, placed) in states.iter().enumerate() {
                if *placed == Some(true) {
                    let state = &self.agents[agent];
                    actions.push(Action::Start {
                        agent,
                        layout: layout.clone(),
                        at_agent_unix_ns: start_at.saturating_add_signed(state.clock.offset_ns),
                        targets: if state.load {
                            targets.clone()
                        } else {
                            Vec::new()
                        },
                    });
                }
            }
        }
        actions
    }

    /// Every replica of `layout` placed by an agent under test that is still live, in agent and
    /// replica order.
    fn targets(&self, layout: &str, states: &[Option<bool>]) -> Vec<LoadTarget> {
        let mut targets = Vec::new();
        for (state, placed) in self.agents.iter().zip(states) {
            if state.load || *placed != Some(true) {
                continue;
            }
            let Some(placed) = state
                .collector
                .layouts
                .get(layout)
                .and_then(|e| e.placed.as_ref())
            else {
                continue;
            };
            targets.extend(placed.replicas.iter().map(|r| LoadTarget {
                address: r.address.clone(),
                agent: state.address.clone(),
                replica: r.index,
            }));
        }
        targets
    }

    pub fn into_outcome(self) -> Outcome {
        let (collectors, lost) = self
            .agents
            .into_iter()
            .map(|a| (a.collector, a.lost))
            .unzip();
        Outcome {
            collectors,
            lost,
            cancel_requested: self.cancel_requested,
            aborted: self.aborted,
        }
    }
}

/// What the terminal shows of one event.
fn progress_of(agent: &str, event: &RunEvent) -> Option<Progress> {
    match &event.event {
        Some(Event::Phase(p)) => {
            let phase = match Phase::try_from(p.phase).ok()? {
                Phase::Launching => "launching replicas",
                Phase::Warmup => "warming up",
                Phase::Measuring => "measuring",
                Phase::Stopping => "stopping replicas",
                Phase::Unspecified => return None,
            };
            Some(Progress::Phase {
                agent: agent.to_owned(),
                layout: p.layout.clone(),
                phase: phase.to_owned(),
            })
        }
        Some(Event::Samples(batch)) => {
            let mut latest: std::collections::BTreeMap<u32, i64> = Default::default();
            let mut worst: Option<u64> = None;
            for s in &batch.samples {
                if s.requests_total >= 0 {
                    latest.insert(s.replica, s.requests_total);
                }
                if s.server_p99_ns >= 0 {
                    worst = Some(worst.unwrap_or(0).max(s.server_p99_ns as u64));
                }
            }
            (!latest.is_empty()).then(|| Progress::Live {
                agent: agent.to_owned(),
                layout: batch.layout.clone(),
                requests: latest.values().map(|&r| r as u64).sum(),
                worst_server_p99_ns: worst,
            })
        }
        Some(Event::Load(l)) => Some(Progress::Load {
            agent: agent.to_owned(),
            layout: l.layout.clone(),
            rate_rps: if l.interval_ms == 0 {
                0.0
            } else {
                l.requests as f64 * 1_000.0 / l.interval_ms as f64
            },
            p99_ns: u64::try_from(l.p99_ns).ok(),
            stage: (l.stage > 0).then_some((l.stage, l.stage_rate_rps)),
        }),
        Some(Event::Failed(f)) => Some(Progress::Notice(format!(
            "[{}] {agent}: failed: {}",
            f.layout, f.error
        ))),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
