//! `numaload run`: one plan on one or more agents, from connection to [`RunResult`].
//!
//! Connect to every agent → `Describe` (hosts) → estimate each agent's clock offset → `Execute`
//! on all at once → gather their events. With several agents every layout is synchronized: each
//! agent places and launches its replicas, then waits; once every agent still running has placed
//! the layout (or failed it), the controller picks an instant shortly ahead and sends each agent
//! that instant on its own clock (`Start`), so the load begins everywhere together.
//!
//! An agent that fails mid-run (killed, partitioned, crashed) is marked lost with its error; the
//! others carry on and the result is `degraded`. Ctrl-C cancels the run on every agent and still
//! writes what was measured.
//!
//! The decisions (when to start a layout where, who is lost, when the run is over) are the pure
//! `session`'s; this module does only the I/O around it: connecting, the event streams, the
//! Ctrl-C and grace timers, the `Start` and `Cancel` calls.

use std::time::{Duration, Instant, SystemTime};

use anyhow::Context as _;
use numaload_proto::v1::{HostInfo, RunEvent};
use tokio::sync::mpsc;

use crate::aggregate::Collector;
use crate::client::{Agent, ClientError};
use crate::plan::Plan;
use crate::result::{AgentOutcome, AgentStatus, HostSummary, RunResult, SCHEMA_VERSION};

mod clock;
mod progress;
mod session;

pub use clock::{clock_estimate, ClockEstimate};
pub use progress::Progress;
use session::{Action, Input, Outcome, Session};

/// Time allowed beyond the plan's own for launching and stopping replicas in each layout.
const PER_LAYOUT_MARGIN: Duration = Duration::from_secs(60);
/// How long to keep reading after a Ctrl-C for the agents to stop and report.
const CANCEL_GRACE: Duration = Duration::from_secs(15);
/// `Clock` calls per agent for the offset estimate.
const CLOCK_SAMPLES: usize = 7;

/// Runs `plan` on the agents at `addresses` (at least one), over mutual TLS when `tls` is given.
pub async fn run(
    plan: &Plan,
    addresses: &[String],
    tls: Option<&tonic::transport::ClientTlsConfig>,
    progress: impl FnMut(Progress),
) -> anyhow::Result<RunResult> {
    run_with(plan, addresses, tls, Calibrate::Yes, progress).await
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
    addresses: &[String],
    tls: Option<&tonic::transport::ClientTlsConfig>,
    calibrate: Calibrate,
    mut progress: impl FnMut(Progress),
) -> anyhow::Result<RunResult> {
    anyhow::ensure!(!addresses.is_empty(), "no agent to run on");
    let run_id = new_run_id();
    let started_at = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let mut agents = connect_all(addresses, tls).await?;
    let mut hosts = Vec::with_capacity(agents.len());
    let mut clocks = Vec::with_capacity(agents.len());
    for agent in &mut agents {
        let info = agent.describe().await?;
        hosts.push(host_summary(&agent.address, &info));
        clocks.push(estimate_clock(agent).await?);
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
    let synchronized = agents.len() > 1;
    let mut wire = plan.to_run_plan(&run_id);
    wire.wait_for_start = synchronized;
    wire.skip_calibration = calibrate == Calibrate::No;
    // Every trial of every layout, in the order the agents run them.
    let wire_layouts: Vec<String> = wire.layouts.iter().map(|l| l.name.clone()).collect();
    let per_layout = plan.load.warmup + plan.load.duration + PER_LAYOUT_MARGIN;
    let deadline = per_layout * wire_layouts.len() as u32;
    let silence = plan.load.warmup + plan.load.timeout + PER_LAYOUT_MARGIN;

    // Start everywhere first; if one agent refuses, cancel the ones already started.
    let mut streams = Vec::with_capacity(agents.len());
    for agent in &mut agents {
        match agent.execute(wire.clone(), deadline).await {
            Ok(stream) => streams.push(stream),
            Err(error) => {
                cancel_all(&mut agents, &run_id).await;
                return Err(error.into());
            }
        }
    }
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
    );
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
            _ = &mut ctrl_c, if !session.cancel_requested() => {
                cancel_deadline = Some(Instant::now() + CANCEL_GRACE);
                Input::Cancel
            }
            _ = tokio::time::sleep(grace.unwrap_or(Duration::MAX)), if grace.is_some() => {
                Input::GraceExpired
            }
        };
        for action in session.handle(input, unix_now_ns()) {
            match action {
                Action::Progress(p) => progress(p),
                Action::CancelAll => cancel_all(&mut agents, &run_id).await,
                Action::Start {
                    agent,
                    layout,
                    at_agent_unix_ns,
                } => {
                    // An agent that misses its Start fails the layout itself after its timeout.
                    let _ = agents[agent]
                        .start(&run_id, &layout, at_agent_unix_ns)
                        .await;
                }
            }
        }
    }
    let Outcome {
        collectors,
        lost,
        cancel_requested,
    } = session.into_outcome();

    let missing: Vec<String> = lost
        .iter()
        .map(|l| match (l, cancel_requested) {
            (Some(why), _) => format!("not measured: agent lost: {why}"),
            (None, true) => "not measured: the run was cancelled".to_owned(),
            (None, false) => "not measured: the agent did not report this layout".to_owned(),
        })
        .collect();
    let inputs: Vec<(&str, &Collector, i64, &str)> = agents
        .iter()
        .enumerate()
        .map(|(i, a)| {
            (
                a.address.as_str(),
                &collectors[i],
                clocks[i].offset_ns,
                missing[i].as_str(),
            )
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
        search: None,
    })
}

async fn connect_all(
    addresses: &[String],
    tls: Option<&tonic::transport::ClientTlsConfig>,
) -> Result<Vec<Agent>, ClientError> {
    let connecting = addresses.iter().cloned().map(|a| {
        let tls = tls.cloned();
        async move { Agent::connect(&a, tls.as_ref()).await }
    });
    let mut agents = Vec::with_capacity(addresses.len());
    for agent in futures_join_all(connecting).await {
        agents.push(agent?);
    }
    Ok(agents)
}

/// Awaits every future concurrently, results in order.
async fn futures_join_all<F>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        match handle.await {
            Ok(value) => out.push(value),
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
    out
}

async fn cancel_all(agents: &mut [Agent], run_id: &str) {
    for agent in agents {
        // Best effort: an agent that cannot be reached is already lost, and a controller that
        // goes away cancels its run on the agent anyway.
        let _ = agent.cancel(run_id).await;
    }
}

/// NTP-style: several `Clock` calls, the one with the shortest round trip wins, the agent's
/// reading is taken to be at the middle of that round trip.
async fn estimate_clock(agent: &mut Agent) -> Result<ClockEstimate, ClientError> {
    let mut best: Option<ClockEstimate> = None;
    for _ in 0..CLOCK_SAMPLES {
        let sent = unix_now_ns();
        let agent_now = agent.clock().await?;
        let received = unix_now_ns();
        let estimate = clock_estimate(sent, agent_now, received);
        if best.is_none_or(|b| estimate.round_trip_ns < b.round_trip_ns) {
            best = Some(estimate);
        }
    }
    Ok(best.unwrap_or(ClockEstimate {
        offset_ns: 0,
        round_trip_ns: 0,
    }))
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
    }
}

fn unix_now_ns() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
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
