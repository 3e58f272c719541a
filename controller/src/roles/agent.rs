//! `numaload agent`: serve the agent API on this host.
//!
//! With `--hollow N` it serves N simulated agents instead (`numaload_agent::hollow`), for
//! scale tests of the controller; they start nothing, and say so.
//!
//! The agent launches processes, so it is not an open door: it serves mutual TLS with
//! `--tls-dir` (files from `numaload certs`) and refuses every controller without a certificate
//! from the fleet CA. `--insecure` (plain gRPC, no authentication) is accepted only on a
//! loopback address, for a controller on the same host.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

use super::BadInput;

#[derive(clap::Args, Debug)]
pub struct AgentArgs {
    /// Address to serve on (default: the config file's `listen`, else 127.0.0.1:7070).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// The agent's configuration file: targets plans may start, limits, listen, tls_dir.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory with ca.pem, agent.pem and agent.key (made by `numaload certs`): mutual TLS.
    #[arg(long, value_name = "DIR", conflicts_with = "insecure")]
    pub tls_dir: Option<PathBuf>,
    /// Plain gRPC without authentication; only on a loopback --listen address.
    #[arg(long)]
    pub insecure: bool,
    /// Also serve the agent's own Prometheus /metrics here (plain HTTP, read-only).
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,
    /// Serve N hollow agents instead, for scale tests of the controller: each on its own port
    /// from --listen's (port 0: ports the system picks), their addresses one a line on stdout;
    /// they speak the real protocol, start nothing and send nothing, and every figure they
    /// report is simulated (the controller refuses them without `run --simulated`). Needs
    /// --insecure on loopback.
    #[arg(long, value_name = "N", conflicts_with_all = ["config", "tls_dir", "metrics_listen"])]
    pub hollow: Option<u32>,
}

pub async fn main(args: AgentArgs) -> anyhow::Result<ExitCode> {
    if let Some(count) = args.hollow {
        return hollow(&args, count).await;
    }
    let file = match &args.config {
        Some(path) => {
            numaload_agent::config::ConfigFile::load(path).map_err(|e| BadInput(e.to_string()))?
        }
        None => numaload_agent::config::ConfigFile::default(),
    };
    let listen = args
        .listen
        .or(file.listen)
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 7070)));
    let tls_dir = args.tls_dir.clone().or(file.tls_dir.clone());
    let config = file.apply(super::agent_config()?);
    let tls = match (&tls_dir, args.insecure) {
        (Some(dir), _) => Some(numaload_agent::tls::server_config(dir)?),
        (None, true) if listen.ip().is_loopback() => None,
        (None, true) => {
            return Err(BadInput(format!(
                "--insecure with --listen {listen}: an unauthenticated agent may only listen on \
                 loopback; give --tls-dir DIR (see `numaload certs`)"
            ))
            .into())
        }
        (None, false) => {
            return Err(BadInput(
                "give --tls-dir DIR (certificates from `numaload certs`) so that only your \
                 controllers can start processes here, or --insecure on a loopback --listen"
                    .into(),
            )
            .into())
        }
    };
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("--listen {listen}: cannot bind"))?;
    let mode = if tls.is_some() {
        "mutual TLS"
    } else {
        "insecure, loopback only"
    };
    eprintln!(
        "numaload agent listening on {} ({mode})",
        listener.local_addr()?
    );
    if let Some(address) = args.metrics_listen {
        let metrics = tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| format!("--metrics-listen {address}: cannot bind"))?;
        eprintln!("agent metrics on http://{}/metrics", metrics.local_addr()?);
        tokio::spawn(numaload_agent::metrics::serve(
            metrics,
            config.metrics.clone(),
        ));
    }
    let targets: Vec<&str> = config.targets.keys().map(String::as_str).collect();
    eprintln!("targets: {}", targets.join(", "));
    numaload_agent::service::serve(listener, config, tls, shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

/// `--hollow N`: N simulated agents on loopback, their addresses on stdout.
async fn hollow(args: &AgentArgs, count: u32) -> anyhow::Result<ExitCode> {
    let first = args
        .listen
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 7070)));
    if !(args.insecure && first.ip().is_loopback()) {
        return Err(BadInput(format!(
            "--hollow {count} with --listen {first}: hollow agents serve plain gRPC on loopback \
             only; give --insecure and a loopback --listen"
        ))
        .into());
    }
    if count == 0 {
        return Err(
            BadInput("--hollow 0: give the number of hollow agents, 1 or more".into()).into(),
        );
    }
    // A listener and a controller's connection per agent.
    numaload_agent::host::raise_open_files_limit().context("raising the open-file limit")?;
    let sockets = numaload_agent::hollow::bind(first, count)
        .with_context(|| format!("--hollow {count} --listen {first}: cannot bind"))?;
    // Every address written before any of them answers: whoever waits for one to answer can
    // read them all.
    let mut out = String::new();
    for socket in &sockets {
        out.push_str(&format!("{}\n", socket.local_addr()?));
    }
    {
        use std::io::Write as _;
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(out.as_bytes())?;
        stdout.flush()?;
    }
    eprintln!(
        "numaload agent --hollow: {count} SIMULATED agents on loopback (insecure); they start no \
         replica and send no request, and every figure they report is made up"
    );
    numaload_agent::hollow::serve(
        sockets,
        numaload::version::LONG.to_owned(),
        shutdown_signal(),
    )
    .await?;
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
