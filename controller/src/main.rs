//! `numaload`: every role in one binary. This file only parses the command line and wires the
//! roles together: the controller library never depends on the agent or the target server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "numaload",
    version,
    about = "Compare replica layouts of a server on NUMA hosts, measured"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a plan: on the given agent, or on this host through an agent started for the run.
    Run {
        plan: PathBuf,
        /// Agent address HOST:PORT (default: start a local agent on 127.0.0.1).
        #[arg(long = "agent", value_name = "ADDR")]
        agents: Vec<String>,
        /// Write the result JSON here (every report can be re-rendered from it).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// No progress lines on stderr.
        #[arg(long)]
        quiet: bool,
    },
    /// Show a topology: this host's, or an hwloc XML file's (`lstopo host.xml` makes one).
    Topology {
        #[arg(long, value_name = "FILE")]
        xml: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Serve the agent API so a controller elsewhere can run plans on this host.
    Agent {
        #[arg(long, default_value = "127.0.0.1:7070")]
        listen: SocketAddr,
    },
    /// The HTTP server under test (the agent starts it; it also runs alone).
    Target(numaload_target::TargetArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("NUMALOAD_LOG"))
        .with_writer(std::io::stderr)
        .init();
    let outcome = match cli.command {
        Command::Target(args) => numaload_target::run(args).map(|()| ExitCode::SUCCESS),
        command => tokio_main(command),
    };
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("numaload: error: {error:#}");
            ExitCode::from(exit_code(&error))
        }
    }
}

#[tokio::main]
async fn tokio_main(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Run {
            plan,
            agents,
            out,
            quiet,
        } => {
            let plan = numaload::plan::load(&plan)?;
            let (address, _local) = match agents.as_slice() {
                [] => start_local_agent().await?,
                [one] => (one.clone(), None),
                _ => anyhow::bail!("--agent was given {} times: runs on several agents are not supported yet; give one", agents.len()),
            };
            let progress = |line: &str| {
                if !quiet {
                    eprintln!("{line}");
                }
            };
            let result = numaload::run::run(&plan, &address, progress).await?;
            if let Some(out) = out {
                std::fs::write(&out, result.to_json())
                    .with_context(|| format!("writing --out {}", out.display()))?;
            }
            print!("{}", numaload::report::text::render(&result));
            let all_ok = result
                .layouts
                .iter()
                .all(|l| l.status == numaload::result::LayoutStatus::Ok);
            Ok(if all_ok && !result.cancelled {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Topology { xml, json } => {
            let (topology, source) = match &xml {
                Some(path) => (
                    numaload_agent::topology::from_xml_file(path)?,
                    path.display().to_string(),
                ),
                None => (
                    numaload_agent::topology::discover()?,
                    "this host".to_owned(),
                ),
            };
            let wire = numaload_proto::v1::Topology::from(&topology);
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&numaload::topology_view::json(&wire))?
                );
            } else {
                print!("{}", numaload::topology_view::text(&wire, &source));
                for warning in &topology.warnings {
                    eprintln!("warning: {warning}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Agent { listen } => {
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("--listen {listen}: cannot bind"))?;
            eprintln!("numaload agent listening on {}", listener.local_addr()?);
            if !listen.ip().is_loopback() {
                // Controller <-> agent authentication (mTLS or a token) is not built yet.
                eprintln!(
                    "warning: --listen {listen} is reachable from the network and this agent does not \
                     authenticate controllers yet: expose it only on a trusted, isolated network"
                );
            }
            numaload_agent::service::serve(listener, agent_config()?, shutdown_signal()).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Target(_) => unreachable!("handled before the runtime starts"),
    }
}

/// An agent for this run only, in this process, on a loopback port of its own.
async fn start_local_agent() -> anyhow::Result<(String, Option<tokio::task::JoinHandle<()>>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("starting the local agent")?;
    let address = listener.local_addr()?.to_string();
    let config = agent_config()?;
    let handle = tokio::spawn(async move {
        if let Err(e) =
            numaload_agent::service::serve(listener, config, std::future::pending()).await
        {
            eprintln!("numaload: local agent stopped: {e}");
        }
    });
    Ok((address, Some(handle)))
}

fn agent_config() -> anyhow::Result<numaload_agent::config::AgentConfig> {
    let exe =
        std::env::current_exe().context("finding the numaload executable to start targets with")?;
    Ok(numaload_agent::config::AgentConfig::builtin(&exe))
}

async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// 2 for bad input (a plan the file or the agent's host rejects), 1 for everything else.
fn exit_code(error: &anyhow::Error) -> u8 {
    let bad_plan = error.downcast_ref::<numaload::plan::PlanError>().is_some()
        || matches!(
            error.downcast_ref(),
            Some(numaload::client::ClientError::InvalidPlan { .. })
        );
    if bad_plan {
        2
    } else {
        1
    }
}
