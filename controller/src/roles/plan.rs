//! `numaload plan`: each layout's concrete placement, without launching anything.
//!
//! The plan is validated as `run` validates it, turned into the same wire layouts, and each is
//! resolved by the agent's own placement on this host's topology (or an hwloc XML file's), so
//! what this prints is what an agent on that host would launch. With `--agent-config`, the
//! agent's own `run::prepare` also checks the plan against that configuration's targets (the
//! target's name, its knobs and their values) and limits, as an agent started with it would
//! before launching anything. With `--agent ADDR`, a running agent does all of it on its own
//! host with its own configuration (its `Check` call: nothing is launched). Any problem is one
//! line naming the field, exit code 2.

use std::path::PathBuf;
use std::process::ExitCode;

use numaload::client::{Agent, ClientError};
use numaload::plan::Set;
use numaload_agent::placement::{self, Layout};
use numaload_agent::topology::{self, HostTopology};
use numaload_proto::cpulist;
use numaload_proto::v1::Placed;
use serde_json::json;

use super::{blamed, BadInput};

#[derive(clap::Args, Debug)]
pub struct PlanArgs {
    /// The plan file (TOML); every key, its default and an example: docs/plan.md.
    pub plan: PathBuf,
    /// Place on this hwloc XML topology instead of this host's.
    #[arg(long, value_name = "FILE")]
    pub topology: Option<PathBuf>,
    /// Set a plan value, once per value: its key dotted as the file nests it, a layout by its
    /// name (load.rate=20000, layouts.per-node.threads=4); checked as the file's own.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Also check the plan against this agent configuration (the file `numaload agent --config`
    /// and `run --agent-config` read): its target names, knobs and limits, as that agent would.
    #[arg(long, value_name = "FILE", conflicts_with = "agent")]
    pub agent_config: Option<PathBuf>,
    /// Check the plan on the running agent at HOST:PORT instead: its targets, knobs, limits and
    /// host, as its `run` would before launching anything; nothing is launched.
    #[arg(long, value_name = "ADDR", conflicts_with = "topology")]
    pub agent: Option<String>,
    /// With --agent: ca.pem, controller.pem and controller.key (from `numaload certs`), to talk
    /// to the agent over mutual TLS, as `run --tls-dir` does.
    #[arg(long, value_name = "DIR", requires = "agent")]
    pub tls_dir: Option<PathBuf>,
    /// Print the placements as JSON: {topology, warnings, layouts: [{name, replicas: [{index,
    /// cpus, memory_nodes, memory_policy, threads}], load_cpus, load_shares_cpus, notes}]}.
    #[arg(long)]
    pub json: bool,
}

pub fn main(args: PlanArgs) -> anyhow::Result<ExitCode> {
    let sets = super::plan_sets(&args.sets);
    let plan = numaload::plan::load_with(&args.plan, &sets)?;
    let (placed, source, warnings) = match &args.agent {
        Some(address) => {
            let placed = super::tokio_main(on_agent(&args, &plan, &sets, address))?;
            (placed, format!("agent {address}"), Vec::new())
        }
        None => {
            let (placed, source, topology) = on_this_host(&args, &plan, &sets)?;
            (placed, source, topology.warnings)
        }
    };
    if args.json {
        let shown = to_json(&placed, &source, &warnings);
        super::stdout::print(&(serde_json::to_string_pretty(&shown)? + "\n"))?;
    } else {
        super::stdout::print(&text(&placed, &source))?;
        for warning in &warnings {
            eprintln!("warning: {warning}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Each layout placed here (or on `--topology`'s host), checked against `--agent-config`'s
/// targets when given; where it was placed; the topology.
fn on_this_host(
    args: &PlanArgs,
    plan: &numaload::plan::Plan,
    sets: &[Set],
) -> anyhow::Result<(Vec<Placed>, String, HostTopology)> {
    let agent = match &args.agent_config {
        Some(path) => Some(super::run::agent_config_file(path)?),
        None => None,
    };
    let (topology, source) = match &args.topology {
        Some(path) => (
            topology::from_xml_file(path).map_err(|e| BadInput(e.to_string()))?,
            path.display().to_string(),
        ),
        None => (topology::discover()?, "this host".to_owned()),
    };
    let wire = plan.to_run_plan("plan");
    let reserve = plan.load.reserve_cpus;
    let origin = args.plan.display();
    let mut placed = Vec::with_capacity(wire.layouts.len());
    for spec in &wire.layouts {
        let bad = |e: placement::PlacementError| {
            BadInput(format!("{origin}: {}", blamed(&e.to_string(), sets)))
        };
        let mut layout = Layout::try_from(spec).map_err(bad)?;
        if layout.replicas == placement::Replicas::NicLocal {
            let replica_address = agent.as_ref().map_or(
                std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
                |config| config.replica_address,
            );
            layout.nic_nodes = numaload_agent::run::nic_local_nodes(
                &layout.name,
                &topology,
                &plan.load.interface,
                replica_address,
            )
            .map_err(|e| BadInput(format!("{origin}: {}", blamed(&e.to_string(), sets))))?;
        }
        let placement = placement::place(&topology, &layout, reserve).map_err(bad)?;
        placed.push(numaload_agent::run::intended(&layout.name, &placement));
    }
    if let (Some(config), Some(path)) = (&agent, &args.agent_config) {
        numaload_agent::run::prepare(&wire, config, &topology).map_err(|e| {
            BadInput(format!(
                "{origin}: the agent of --agent-config {} refuses it: {}",
                path.display(),
                blamed(&e.to_string(), sets)
            ))
        })?;
    }
    Ok((placed, source, topology))
}

/// Each layout as the agent at `address` would place it, after its own checks.
async fn on_agent(
    args: &PlanArgs,
    plan: &numaload::plan::Plan,
    sets: &[Set],
    address: &str,
) -> anyhow::Result<Vec<Placed>> {
    let tls = match &args.tls_dir {
        Some(dir) => Some(numaload::tls::client_config(dir)?),
        None => None,
    };
    let mut agent = Agent::connect(address, tls.as_ref()).await?;
    agent
        .check(plan.to_run_plan("plan"))
        .await
        .map_err(|e| match e {
            ClientError::InvalidPlan { address, message } => BadInput(format!(
                "{}: the agent at {address} refuses it: {}",
                args.plan.display(),
                blamed(&message, sets)
            ))
            .into(),
            other => other.into(),
        })
}

/// `{topology, warnings, layouts: [{name, replicas: [{index, cpus, memory_nodes, memory_policy,
/// threads}], load_cpus, load_shares_cpus, notes}]}`.
fn to_json(placed: &[Placed], source: &str, warnings: &[String]) -> serde_json::Value {
    let layouts: Vec<_> = placed
        .iter()
        .map(|layout| {
            let replicas: Vec<_> = layout
                .replicas
                .iter()
                .map(|r| {
                    json!({
                        "index": r.index,
                        "cpus": r.intended_cpus,
                        "memory_nodes": r.intended_memory_nodes,
                        "memory_policy": r.intended_memory_policy,
                        "threads": r.worker_threads,
                    })
                })
                .collect();
            json!({
                "name": layout.layout,
                "replicas": replicas,
                "load_cpus": layout.load_cpus,
                "load_shares_cpus": layout.load_shares_cpus,
                "notes": layout.notes,
            })
        })
        .collect();
    json!({
        "topology": source,
        "warnings": warnings,
        "layouts": layouts,
    })
}

fn text(placed: &[Placed], source: &str) -> String {
    let mut out = format!("placement on {source}\n");
    for layout in placed {
        let count = layout.replicas.len();
        let plural = if count == 1 { "" } else { "s" };
        out.push_str(&format!("\n{}: {count} replica{plural}\n", layout.layout));
        for r in &layout.replicas {
            out.push_str(&format!(
                "  replica {}: CPUs {}, memory {}, {} worker thread{}\n",
                r.index,
                cpulist::format(&r.intended_cpus),
                r.intended_memory_policy,
                r.worker_threads,
                if r.worker_threads == 1 { "" } else { "s" }
            ));
        }
        let shared = if layout.load_shares_cpus {
            " (shared with replicas)"
        } else {
            ""
        };
        out.push_str(&format!(
            "  load generator: CPUs {}{shared}\n",
            cpulist::format(&layout.load_cpus)
        ));
        for note in &layout.notes {
            out.push_str(&format!("  note: {note}\n"));
        }
    }
    out
}
