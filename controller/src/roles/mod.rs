//! One module per subcommand of the `numaload` binary: each takes its clap arguments and
//! returns an exit code. Only these modules (and `main.rs`) may use the agent and target crates.

use std::future::Future;
use std::process::ExitCode;

pub mod agent;
pub mod certs;
pub mod compare;
pub mod docs;
pub mod history;
pub mod plan;
mod progress;
pub mod report;
pub mod run;
pub mod topology;
pub mod watch;

/// Runs an async role on a multi-thread runtime.
pub fn tokio_main(
    role: impl Future<Output = anyhow::Result<ExitCode>>,
) -> anyhow::Result<ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(role)
}

/// 2 for bad input (a plan the file or the agent's host rejects, a bad file), 1 for the rest.
pub fn exit_code(error: &anyhow::Error) -> u8 {
    let bad_input = error.downcast_ref::<numaload::plan::PlanError>().is_some()
        || matches!(
            error.downcast_ref(),
            Some(numaload::client::ClientError::InvalidPlan { .. })
        )
        || error.downcast_ref::<BadInput>().is_some();
    if bad_input {
        2
    } else {
        1
    }
}

/// An error in what the user gave (a file, a flag): exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

/// The agent configuration for targets started from this very executable.
pub fn agent_config() -> anyhow::Result<numaload_agent::config::AgentConfig> {
    use anyhow::Context as _;
    let exe =
        std::env::current_exe().context("finding the numaload executable to start targets with")?;
    let mut config = numaload_agent::config::AgentConfig::builtin(&exe);
    config.version = numaload::version::LONG.to_owned();
    Ok(config)
}
