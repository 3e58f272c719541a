//! `numaload run`: one plan on one agent, from connection to [`RunResult`].
//!
//! Connect → `Describe` (the host in the result) → `Execute` → gather events until `RunDone`
//! → merge. Ctrl-C cancels the run on the agent and still writes what was measured. An agent
//! that fails mid-run yields a result whose unfinished layouts say why.

use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use numaload_proto::v1::{run_event::Event, HostInfo, Phase, RunEvent};

use crate::aggregate::Collector;
use crate::client::Agent;
use crate::plan::Plan;
use crate::result::{HostSummary, RunResult, SCHEMA_VERSION};

/// Time allowed beyond the plan's own for launching and stopping replicas in each layout.
const PER_LAYOUT_MARGIN: Duration = Duration::from_secs(60);
/// How long to keep reading after a Ctrl-C for the agent to stop and report.
const CANCEL_GRACE: Duration = Duration::from_secs(15);

/// Runs `plan` on the agent at `address`. `progress` receives one line per phase change.
pub async fn run(
    plan: &Plan,
    address: &str,
    mut progress: impl FnMut(&str),
) -> anyhow::Result<RunResult> {
    let run_id = new_run_id();
    let started_at = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let mut agent = Agent::connect(address).await?;
    let host = agent.describe().await?;
    let per_layout = plan.load.warmup + plan.load.duration + PER_LAYOUT_MARGIN;
    let deadline = per_layout * plan.layouts.len() as u32;
    let silence = plan.load.warmup + plan.load.timeout + PER_LAYOUT_MARGIN;
    let mut events = agent.execute(plan.to_run_plan(&run_id), deadline).await?;

    let mut collector = Collector::default();
    let mut lost: Option<String> = None;
    let mut cancel_requested = false;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        let wait = if cancel_requested {
            CANCEL_GRACE
        } else {
            silence
        };
        let next = tokio::select! {
            next = events.next(wait) => next,
            _ = &mut ctrl_c, if !cancel_requested => {
                progress("interrupted: cancelling the run on the agent (Ctrl-C again to quit at once)");
                cancel_requested = true;
                // A second Ctrl-C falls through to the default handler and ends the process.
                let _ = agent.cancel(&run_id).await;
                continue;
            }
        };
        match next {
            Ok(Some(event)) => {
                if let Some(line) = progress_line(&event) {
                    progress(&line);
                }
                collector.push(event);
                if collector.done {
                    break;
                }
            }
            Ok(None) => {
                lost = Some(format!(
                    "agent {address} ended the run without finishing it"
                ));
                break;
            }
            Err(e) => {
                lost = Some(e.to_string());
                break;
            }
        }
    }
    let missing = match (&lost, cancel_requested) {
        (Some(why), _) => format!("not measured: {why}"),
        (None, true) => "not measured: the run was cancelled".to_owned(),
        (None, false) => "not measured: the agent did not report this layout".to_owned(),
    };
    let layouts = collector
        .results(plan, &missing)
        .context("merging the agent's histograms")?;
    Ok(RunResult {
        schema_version: SCHEMA_VERSION,
        numaload_version: env!("CARGO_PKG_VERSION").to_owned(),
        run_id,
        started_at,
        plan: plan.clone(),
        host: host_summary(address, &host),
        layouts,
        cancelled: cancel_requested || collector.cancelled,
    })
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
        allowed_cpus: topology.allowed_cpus,
    }
}

fn progress_line(event: &RunEvent) -> Option<String> {
    match &event.event {
        Some(Event::Phase(p)) => {
            let what = match Phase::try_from(p.phase).ok()? {
                Phase::Launching => "launching replicas",
                Phase::Warmup => "warming up",
                Phase::Measuring => "measuring",
                Phase::Stopping => "stopping replicas",
                Phase::Unspecified => return None,
            };
            Some(format!("[{}] {what}", p.layout))
        }
        Some(Event::Failed(f)) => Some(format!("[{}] failed: {}", f.layout, f.error)),
        _ => None,
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
