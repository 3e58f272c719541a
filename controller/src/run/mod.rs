//! `numaload run`: one plan on one or more agents, from connection to [`RunResult`].
//!
//! Connect to every agent → `Describe` (hosts) → estimate each agent's clock offset → `Execute`
//! on all at once → gather their events. With several agents every layout is synchronized: each
//! agent places and launches its replicas, then waits; once every agent still running has placed
//! the layout (or failed it), the controller picks an instant shortly ahead and sends each agent
//! that instant on its own clock (`Start`), so the load begins everywhere together.
//!
//! With load agents (`--load-agent`), the agents under test only launch their replicas (and
//! reserve no CPU for load), and the load agents, started with the same instant, drive every
//! replica of every agent under test, the plan's rate and connections split among them; each
//! worker's result names the agent and replica it drove, so the figures merge as across agents.
//!
//! An agent that fails mid-run (killed, partitioned, crashed) is marked lost with its error; the
//! others carry on and the result is `degraded`, unless the plan's `[fleet]` policy aborts the
//! run (`on_agent_loss = "abort"`, or more than `max_lost_agents` lost): then, as on Ctrl-C, the
//! run is cancelled on every agent and what was measured is still written.
//!
//! The decisions (when to start a layout where, who is lost, when the run is over) are the pure
//! `session`'s; this module does only the I/O around it: connecting, the event streams, the
//! Ctrl-C and grace timers, the `Start` and `Cancel` calls.

use std::time::{Duration, Instant, SystemTime};

use anyhow::Context as _;
use numaload_proto::v1::{AgentRole, HostInfo, RunEvent, RunPlan};
use tokio::sync::mpsc;

use crate::aggregate::{AgentRecord, OneDomain};
use crate::client::ClientError;
use crate::plan::Plan;
use crate::result::{AgentOutcome, AgentStatus, HostSummary, RunResult, SCHEMA_VERSION};

mod clock;
mod fanout;
mod progress;
mod session;
mod share;

use clock::unix_now_ns;
pub use clock::{clock_estimate, ClockEstimate};
pub use progress::Progress;
use session::{Action, Input, Outcome, Session};
use share::role_plans;

/// Time allowed beyond the plan's own for launching and stopping replicas in each layout.
const PER_LAYOUT_MARGIN: Duration = Duration::from_secs(60);
/// How long to keep reading after a Ctrl-C for the agents to stop and report.
const CANCEL_GRACE: Duration = Duration::from_secs(15);

/// The agents of a run: those that run the replicas (at least one) and those that only drive
/// load at them from other hosts (none: each agent drives its own replicas).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fleet {
    pub agents: Vec<String>,
    pub load_agents: Vec<String>,
    /// Hollow agents (`numaload agent --hollow`, simulated) are accepted: a scale test of the
    /// controller, never a measurement. Without it a hollow agent is refused.
    pub simulated: bool,
}

impl Fleet {
    /// Agents that each drive their own replicas.
    pub fn agents(agents: Vec<String>) -> Fleet {
        Fleet {
            agents,
            ..Fleet::default()
        }
    }
}

/// A fleet that cannot run the plan; nothing was started.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    #[error(
        "--agent {agent}: its replicas listen on {address} (replica_address in its \
         configuration), which the load agents cannot reach; set replica_address to an address \
         of that host the load agents can reach, or run without --load-agent"
    )]
    LoopbackReplicas { agent: String, address: String },
    #[error(
        "load.connections = {connections}: {load_agents} load agents need at least one \
         connection each; raise connections or give fewer --load-agent"
    )]
    TooFewConnections {
        connections: u32,
        load_agents: usize,
    },
    #[error(
        "agent {agent} is a hollow agent (numaload agent --hollow): it runs nothing and makes up \
         every figure; give --simulated to run a scale test on hollow agents, or point --agent at \
         a real agent"
    )]
    Simulated { agent: String },
}

/// Runs `plan` on `fleet`, over mutual TLS when `tls` is given.
pub async fn run(
    plan: &Plan,
    fleet: &Fleet,
    tls: Option<&tonic::transport::ClientTlsConfig>,
    progress: impl FnMut(Progress),
) -> anyhow::Result<RunResult> {
    run_with(plan, fleet, tls, Calibrate::Yes, progress).await
}

/// Whether the agents calibrate their host before the first layout (about a second each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Calibrate {
    Yes,
    /// The caller already has every host's calibration (an earlier run of the same session):
    /// the result's `hosts[].calibration` is then empty.
    No,
}

/// [`run`], with the calibration left out when the caller already has it.
#[allow(
    clippy::too_many_lines,
    reason = "a run's I/O in the order it happens: connect, describe, clocks, execute, the event loop, the result"
)]
pub async fn run_with(
    plan: &Plan,
    fleet: &Fleet,
    tls: Option<&tonic::transport::ClientTlsConfig>,
    calibrate: Calibrate,
    mut progress: impl FnMut(Progress),
) -> anyhow::Result<RunResult> {
    anyhow::ensure!(!fleet.agents.is_empty(), "no agent to run on");
    // The seed the run draws from is the one its result records.
    let plan = &plan.with_seed();
    if let Some(trace) = plan.load.trace.as_ref().filter(|t| t.sends.is_none()) {
        anyhow::bail!(
            "load.trace = {:?}: not read (a plan runs its trace only when loaded from its \
             file)",
            trace.file
        );
    }
    let loads = fleet.load_agents.len();
    if loads > 0 && (plan.load.connections as usize) < loads {
        return Err(FleetError::TooFewConnections {
            connections: plan.load.connections,
            load_agents: loads,
        }
        .into());
    }
    let run_id = new_run_id();
    let started_at = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let addresses: Vec<String> = fleet
        .agents
        .iter()
        .chain(&fleet.load_agents)
        .cloned()
        .collect();
    let under_test = fleet.agents.len();
    let agents = fanout::connect(&addresses, tls).await?;
    let mut hosts = Vec::with_capacity(agents.len());
    let mut clocks = Vec::with_capacity(agents.len());
    for (index, (agent, (info, clock))) in agents
        .iter()
        .zip(fanout::describe(&agents).await?)
        .enumerate()
    {
        if loads > 0 && index < under_test {
            reachable_replicas(&agent.address, &info)?;
        }
        if info.simulated && !fleet.simulated {
            return Err(FleetError::Simulated {
                agent: agent.address.clone(),
            }
            .into());
        }
        hosts.push(host_summary(&agent.address, &info));
        clocks.push(clock);
    }
    // A fleet half-upgraded measures two programs: one line at once (once per session: a later
    // run of the same session calibrates no more) and a note on every layout.
    let versions = crate::version::mismatch(
        crate::version::LONG,
        hosts
            .iter()
            .map(|h| (h.agent.as_str(), h.agent_version.as_str())),
    );
    if let (Some(warning), Calibrate::Yes) = (&versions, calibrate) {
        eprintln!("numaload: {warning}");
    }
    // Said before the run (once per session too), so that nobody waits for figures these hosts
    // cannot tell apart.
    let domains = hosts[..under_test].iter().map(|h| h.numa_domains);
    if let (Some(alike), Calibrate::Yes) = (OneDomain::find(&plan.layouts, domains), calibrate) {
        eprintln!("numaload: {}", alike.notice());
    }
    let synchronized = agents.len() > 1;
    let mut wire = plan.to_run_plan(&run_id);
    wire.wait_for_start = synchronized;
    wire.skip_calibration = calibrate == Calibrate::No;
    // Every trial of every layout, in the order the agents run them.
    let wire_layouts: Vec<String> = wire.layouts.iter().map(|l| l.name.clone()).collect();
    let per_layout = plan.load.warmup + plan.load.duration + PER_LAYOUT_MARGIN;
    let deadline = per_layout * wire_layouts.len() as u32;
    let silence = plan.load.warmup + plan.load.timeout + PER_LAYOUT_MARGIN;

    let plans = role_plans(&wire, under_test, loads);
    let asked_rates: Vec<Option<f64>> = plans.iter().map(asked_rate).collect();
    let roles: Vec<crate::result::Role> = plans.iter().map(role).collect();
    // Each load agent's connections go to the replicas from where the previous one's ended, so
    // that together they spread over every replica.
    let rotations: Vec<usize> = plans
        .iter()
        .scan(0, |before, p| {
            let at = *before;
            *before += p.load.as_ref().map_or(0, |l| l.connections as usize);
            Some(at)
        })
        .collect();
    // Start everywhere first; if one agent refuses, cancel the ones already started.
    let streams = match fanout::execute(&agents, plans, deadline)
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(streams) => streams,
        Err(error) => {
            fanout::cancel(&agents, &run_id).await;
            return Err(error.into());
        }
    };
    let (tx, mut rx) = mpsc::channel::<(usize, Result<Option<RunEvent>, ClientError>)>(256);
    for (index, mut stream) in streams.into_iter().enumerate() {
        let tx = tx.clone();
        tokio::spawn(async move {
            loop {
                let next = stream.next(silence).await;
                let end = !matches!(next, Ok(Some(_)));
                if tx.send((index, next)).await.is_err() || end {
                    break;
                }
            }
        });
    }
    drop(tx);

    let mut session = Session::new(
        agents
            .iter()
            .zip(&clocks)
            .map(|(a, c)| (a.address.clone(), *c))
            .collect(),
        wire_layouts,
    )
    .with_load_agents_from(under_test)
    .with_policy(plan.fleet);
    let mut cancel_deadline: Option<Instant> = None;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    while !session.finished() {
        let grace = cancel_deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let input = tokio::select! {
            received = rx.recv() => match received {
                Some((agent, Ok(Some(event)))) => Input::Event { agent, event },
                Some((agent, Ok(None))) => Input::Ended { agent },
                Some((agent, Err(error))) => Input::Failed { agent, error: error.to_string() },
                None => break,
            },
            _ = &mut ctrl_c, if !session.cancel_requested() => Input::Cancel,
            _ = tokio::time::sleep(grace.unwrap_or(Duration::MAX)), if grace.is_some() => {
                Input::GraceExpired
            }
        };
        for action in session.handle(input, unix_now_ns()) {
            match action {
                Action::Progress(p) => progress(p),
                Action::CancelAll => {
                    // The agents have the grace to stop and report (after a Ctrl-C, or when
                    // the plan's [fleet] policy aborts the run).
                    cancel_deadline.get_or_insert_with(|| Instant::now() + CANCEL_GRACE);
                    fanout::cancel(&agents, &run_id).await;
                }
                Action::Start {
                    agent,
                    layout,
                    at_agent_unix_ns,
                    mut targets,
                } => {
                    if !targets.is_empty() {
                        let by = rotations[agent] % targets.len();
                        targets.rotate_left(by);
                    }
                    fanout::start(&agents[agent], &run_id, &layout, at_agent_unix_ns, targets);
                }
            }
        }
    }
    let Outcome {
        collectors,
        lost,
        cancel_requested,
        aborted,
    } = session.into_outcome();

    let missing: Vec<String> = lost
        .iter()
        .map(|l| match (l, &aborted, cancel_requested) {
            (Some(why), _, _) => format!("not measured: agent lost: {why}"),
            (None, Some(why), _) => format!("not measured: the run was aborted: {why}"),
            (None, None, true) => "not measured: the run was cancelled".to_owned(),
            (None, None, false) => "not measured: the agent did not report this layout".to_owned(),
        })
        .collect();
    let inputs: Vec<AgentRecord<'_>> = agents
        .iter()
        .enumerate()
        .map(|(i, a)| AgentRecord {
            agent: a.address.as_str(),
            collector: &collectors[i],
            clock_offset_ns: clocks[i].offset_ns,
            missing: missing[i].as_str(),
            asked_rate_rps: asked_rates[i],
            simulated: hosts[i].simulated,
            role: roles[i],
        })
        .collect();
    let mut layouts =
        crate::aggregate::results(plan, &inputs).context("merging the agents' histograms")?;
    if let Some(warning) = versions {
        for layout in &mut layouts {
            layout.notes.push(warning.clone());
        }
    }
    for (host, collector) in hosts.iter_mut().zip(&collectors) {
        host.calibration = collector.calibration.map(|c| crate::result::Calibration {
            task_spawn_ns: c.task_spawn_ns,
            thread_spawn_ns: c.thread_spawn_ns,
            channel_round_trip_ns: c.channel_round_trip_ns,
        });
    }
    let outcomes: Vec<AgentOutcome> = agents
        .iter()
        .enumerate()
        .map(|(i, a)| AgentOutcome {
            agent: a.address.clone(),
            status: if lost[i].is_some() {
                AgentStatus::Lost
            } else {
                AgentStatus::Ok
            },
            error: lost[i].clone(),
            clock_offset_ns: clocks[i].offset_ns,
            clock_round_trip_ns: clocks[i].round_trip_ns,
        })
        .collect();
    Ok(RunResult {
        schema_version: SCHEMA_VERSION,
        numaload_version: env!("CARGO_PKG_VERSION").to_owned(),
        run_id,
        started_at,
        plan: plan.clone(),
        host: hosts[0].clone(),
        hosts,
        degraded: lost.iter().any(Option::is_some),
        agents: outcomes,
        layouts,
        cancelled: cancel_requested || collectors.iter().any(|c| c.cancelled),
        aborted,
        search: None,
    })
}

/// The open-loop rate an agent's plan asks of it; `None` in closed loop and for an agent that
/// only runs replicas (load agents drive them).
fn asked_rate(plan: &RunPlan) -> Option<f64> {
    let load = plan.load.as_ref()?;
    let drives = plan.role != AgentRole::Replicas as i32;
    (drives && load.mode == numaload_proto::v1::LoadMode::Open as i32).then_some(load.rate)
}

/// What an agent's plan has it do, as the result records it.
fn role(plan: &RunPlan) -> crate::result::Role {
    match AgentRole::try_from(plan.role) {
        Ok(AgentRole::Replicas) => crate::result::Role::UnderTest,
        Ok(AgentRole::Load) => crate::result::Role::Load,
        Ok(AgentRole::Unspecified) | Err(_) => crate::result::Role::Both,
    }
}

/// Refuses an agent under test whose replicas listen where no other host can reach them.
fn reachable_replicas(agent: &str, info: &HostInfo) -> Result<(), FleetError> {
    let loopback = info
        .replica_address
        .parse::<std::net::IpAddr>()
        .map_or(true, |ip| ip.is_loopback());
    if loopback {
        return Err(FleetError::LoopbackReplicas {
            agent: agent.to_owned(),
            address: if info.replica_address.is_empty() {
                "127.0.0.1".to_owned()
            } else {
                info.replica_address.clone()
            },
        });
    }
    Ok(())
}

pub fn host_summary(address: &str, host: &HostInfo) -> HostSummary {
    let topology = host.topology.clone().unwrap_or_default();
    HostSummary {
        agent: address.to_owned(),
        agent_version: host.agent_version.clone(),
        hostname: host.hostname.clone(),
        kernel: host.kernel.clone(),
        cpu_model: host.cpu_model.clone(),
        packages: topology.packages,
        numa_nodes: topology.numa_nodes.len() as u32,
        numa_domains: topology.domains.len() as u32,
        cores: topology.cores,
        pus: topology.pus,
        nodes: topology
            .numa_nodes
            .iter()
            .map(|n| crate::result::HostNode {
                os_index: n.os_index,
                cpus: n.cpus.clone(),
                memory_bytes: n.memory_bytes,
                subtype: n.subtype.clone(),
            })
            .collect(),
        allowed_cpus: topology.allowed_cpus,
        calibration: None,
        cgroup: host.cgroup.as_ref().map(Into::into),
        simulated: host.simulated,
    }
}

fn new_run_id() -> String {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    format!(
        "run-{}-{:x}",
        now.as_secs(),
        std::process::id() ^ now.subsec_nanos()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replicas_on_loopback_are_refused_with_load_agents_naming_the_agent_and_key() {
        for address in ["", "127.0.0.1", "::1"] {
            let info = HostInfo {
                replica_address: address.into(),
                ..Default::default()
            };
            let error = reachable_replicas("sut:7000", &info)
                .expect_err(address)
                .to_string();
            assert!(
                error.starts_with("--agent sut:7000: its replicas listen on "),
                "{error}"
            );
            assert!(error.contains("replica_address"), "{error}");
        }
        let info = HostInfo {
            replica_address: "10.0.0.5".into(),
            ..Default::default()
        };
        assert!(reachable_replicas("sut:7000", &info).is_ok());
    }

    #[test]
    fn each_agent_s_role_is_what_its_plan_has_it_do() {
        let wire = RunPlan::default();
        let roles: Vec<crate::result::Role> = role_plans(&wire, 1, 2).iter().map(role).collect();
        use crate::result::Role;
        assert_eq!(roles, [Role::UnderTest, Role::Load, Role::Load]);
        let alone: Vec<Role> = role_plans(&wire, 2, 0).iter().map(role).collect();
        assert_eq!(alone, [Role::Both, Role::Both]);
    }

    #[test]
    fn clock_offset_is_read_at_the_middle_of_the_round_trip() {
        // Agent clock 5 s ahead, 2 ms round trip.
        let e = clock_estimate(1_000_000_000, 6_001_000_000, 1_002_000_000);
        assert_eq!(
            e,
            ClockEstimate {
                offset_ns: 5_000_000_000,
                round_trip_ns: 2_000_000
            }
        );
        // Agent behind.
        let e = clock_estimate(10_000, 4_000, 12_000);
        assert_eq!(e.offset_ns, -7_000);
    }
}
