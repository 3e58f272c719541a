//! One module per subcommand of the `numaload` binary: each takes its clap arguments and
//! returns an exit code (one table for all: `numaload::compare::exit::TABLE`). Only these
//! modules (and `main.rs`) may use the agent and target crates.

use std::future::Future;
use std::process::ExitCode;

use numaload::compare::exit::{Allow, Exit, Untrusted};

pub mod agent;
pub mod certs;
pub mod compare;
pub mod docs;
pub mod history;
pub mod new;
pub mod plan;
mod progress;
pub mod report;
pub mod run;
mod stdout;
pub mod topology;
pub mod watch;

/// Runs an async role on a multi-thread runtime.
pub fn tokio_main<T>(role: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(role)
}

/// The exit code of an error, by `numaload::compare::exit::TABLE`: 2 for bad input (a plan the
/// file or the agent's host rejects, a bad file or flag), 4 for the rest (no measurement could
/// be made or kept: an agent unreachable or busy, a store that failed, a file not written).
pub fn exit_code(error: &anyhow::Error) -> u8 {
    let bad_input = error.downcast_ref::<numaload::plan::PlanError>().is_some()
        || matches!(
            error.downcast_ref(),
            Some(numaload::client::ClientError::InvalidPlan { .. })
        )
        || error.downcast_ref::<numaload::run::FleetError>().is_some()
        || error.downcast_ref::<BadInput>().is_some();
    if bad_input {
        Exit::BadInput.code()
    } else {
        Exit::Untrusted.code()
    }
}

/// `--allow-suspect` and `--allow-degraded`, shared by `run` and `compare`.
#[derive(clap::Args, Debug, Clone, Copy, Default)]
pub struct AllowArgs {
    /// Judge and pass a layout whose status is `suspect` (with a warning on stderr naming it)
    /// instead of exiting 4.
    #[arg(long)]
    pub allow_suspect: bool,
    /// Judge and pass a layout (or a run) whose status is `degraded`, measured by some agents
    /// only (with a warning on stderr naming it), instead of exiting 4.
    #[arg(long)]
    pub allow_degraded: bool,
}

impl AllowArgs {
    pub fn allow(self) -> Allow {
        Allow {
            suspect: self.allow_suspect,
            degraded: self.allow_degraded,
        }
    }
}

/// One line on stderr for each layout (or run) not `ok`: a warning when allowed, else why the
/// exit code is 4.
pub fn tell_untrusted<'a>(untrusted: impl IntoIterator<Item = &'a Untrusted>) {
    for u in untrusted {
        eprintln!("numaload: {}", u.line());
    }
}

/// `code` as the process's exit code.
pub fn exit(code: Exit) -> ExitCode {
    ExitCode::from(code.code())
}

/// The plan values `run` and `plan` set: `NUMALOAD_SET`'s words, then the `--set` flags.
pub fn plan_sets(flags: &[String]) -> Vec<numaload::plan::Set> {
    let env = std::env::var(numaload::plan::SET_ENV).ok();
    numaload::plan::Set::all(env.as_deref(), flags)
}

/// `message` (an agent's refusal, a placement error) ending with the set that set the key it
/// names, as the plan's own errors end: `... (--set layouts.per-node.pin=core)`.
pub fn blamed(message: &str, sets: &[numaload::plan::Set]) -> String {
    match numaload::plan::blame(sets, message) {
        Some(set) => format!("{message} ({})", set.shown()),
        None => message.to_owned(),
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
