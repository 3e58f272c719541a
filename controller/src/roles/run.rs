//! `numaload run`: a plan on an agent (a local one when none is given).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    pub plan: PathBuf,
    /// Agent address HOST:PORT (default: start a local agent on 127.0.0.1).
    #[arg(long = "agent", value_name = "ADDR")]
    pub agents: Vec<String>,
    /// Write the result JSON here (every report can be re-rendered from it).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// No progress lines on stderr.
    #[arg(long)]
    pub quiet: bool,
}

pub async fn main(args: RunArgs) -> anyhow::Result<ExitCode> {
    let plan = numaload::plan::load(&args.plan)?;
    let address = match args.agents.as_slice() {
        [] => start_local_agent().await?,
        [one] => one.clone(),
        _ => anyhow::bail!(
            "--agent was given {} times: runs on several agents are not supported yet; give one",
            args.agents.len()
        ),
    };
    let quiet = args.quiet;
    let progress = |line: &str| {
        if !quiet {
            eprintln!("{line}");
        }
    };
    let result = numaload::run::run(&plan, &address, progress).await?;
    if let Some(out) = &args.out {
        std::fs::write(out, result.to_json())
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

/// An agent for this run only, in this process, on a loopback port of its own. It lives as long
/// as the process; replicas die with it (parent-death signal).
async fn start_local_agent() -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("starting the local agent")?;
    let address = listener.local_addr()?.to_string();
    let config = super::agent_config()?;
    tokio::spawn(async move {
        let serving = numaload_agent::service::serve(listener, config, std::future::pending());
        if let Err(e) = serving.await {
            eprintln!("numaload: local agent stopped: {e}");
        }
    });
    Ok(address)
}
