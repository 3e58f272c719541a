//! `numaload agent`: serve the agent API on this host.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context as _;

#[derive(clap::Args, Debug)]
pub struct AgentArgs {
    #[arg(long, default_value = "127.0.0.1:7070")]
    pub listen: SocketAddr,
}

pub async fn main(args: AgentArgs) -> anyhow::Result<ExitCode> {
    let listen = args.listen;
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
    numaload_agent::service::serve(listener, super::agent_config()?, shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut term) = signal(SignalKind::terminate()) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
