//! `numaload plan`: each layout's concrete placement, without launching anything.
//!
//! The plan is validated as `run` validates it, turned into the same wire layouts, and each is
//! resolved by the agent's own placement on this host's topology (or an hwloc XML file's), so
//! what this prints is what an agent on that host would launch. With `--agent-config`, the
//! agent's own `run::prepare` also checks the plan against that configuration's targets (the
//! target's name, its knobs and their values) and limits, as an agent started with it would
//! before launching anything. Any problem is one line naming the field, exit code 2.

use std::path::PathBuf;
use std::process::ExitCode;

use numaload_agent::placement::{self, Layout, Placement};
use numaload_agent::topology::{self, HostTopology};
use numaload_proto::cpulist;
use serde_json::json;

use super::BadInput;

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
    #[arg(long, value_name = "FILE")]
    pub agent_config: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

pub fn main(args: PlanArgs) -> anyhow::Result<ExitCode> {
    let plan = numaload::plan::load_with(&args.plan, &super::plan_sets(&args.sets))?;
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
        let bad = |e: placement::PlacementError| BadInput(format!("{origin}: {e}"));
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
            .map_err(|e| BadInput(format!("{origin}: {e}")))?;
        }
        let placement = placement::place(&topology, &layout, reserve).map_err(bad)?;
        placed.push((layout, placement));
    }
    if let (Some(config), Some(path)) = (&agent, &args.agent_config) {
        numaload_agent::run::prepare(&wire, config, &topology).map_err(|e| {
            BadInput(format!(
                "{origin}: the agent of --agent-config {} refuses it: {e}",
                path.display()
            ))
        })?;
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&to_json(&placed, &topology, &source))?
        );
    } else {
        print!("{}", text(&placed, &source));
        for warning in &topology.warnings {
            eprintln!("warning: {warning}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `{topology, warnings, layouts: [{name, replicas: [{cpus, memory_nodes, threads, ...}],
/// load_cpus, load_shares_cpus, notes}]}`.
fn to_json(
    placed: &[(Layout, Placement)],
    topology: &HostTopology,
    source: &str,
) -> serde_json::Value {
    let layouts: Vec<_> = placed
        .iter()
        .map(|(layout, placement)| {
            let replicas: Vec<_> = placement
                .replicas
                .iter()
                .map(|r| {
                    json!({
                        "index": r.index,
                        "cpus": r.cpus,
                        "memory_nodes": r.memory_nodes,
                        "memory_policy": r.memory_policy.describe(&r.memory_nodes),
                        "threads": r.threads,
                    })
                })
                .collect();
            json!({
                "name": layout.name,
                "replicas": replicas,
                "load_cpus": placement.load_cpus,
                "load_shares_cpus": placement.load_shares_cpus,
                "notes": placement.notes,
            })
        })
        .collect();
    json!({
        "topology": source,
        "warnings": topology.warnings,
        "layouts": layouts,
    })
}

fn text(placed: &[(Layout, Placement)], source: &str) -> String {
    let mut out = format!("placement on {source}\n");
    for (layout, placement) in placed {
        let count = placement.replicas.len();
        let plural = if count == 1 { "" } else { "s" };
        out.push_str(&format!("\n{}: {count} replica{plural}\n", layout.name));
        for r in &placement.replicas {
            out.push_str(&format!(
                "  replica {}: CPUs {}, memory {}, {} worker thread{}\n",
                r.index,
                cpulist::format(&r.cpus),
                r.memory_policy.describe(&r.memory_nodes),
                r.threads,
                if r.threads == 1 { "" } else { "s" }
            ));
        }
        let shared = if placement.load_shares_cpus {
            " (shared with replicas)"
        } else {
            ""
        };
        out.push_str(&format!(
            "  load generator: CPUs {}{shared}\n",
            cpulist::format(&placement.load_cpus)
        ));
        for note in &placement.notes {
            out.push_str(&format!("  note: {note}\n"));
        }
    }
    out
}
