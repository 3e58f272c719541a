//! `numaload`: every role in one binary. This file only parses the command line and hands each
//! subcommand to its module in `roles/`, the one place that wires the controller library, the
//! agent and the target server together (the controller library never names the other two).

use std::process::ExitCode;

use clap::{CommandFactory as _, Parser, Subcommand};

mod roles;

#[cfg(test)]
mod cli_reference_tests;

#[derive(Parser, Debug)]
#[command(
    name = "numaload",
    version = numaload::version::LONG,
    about = "Compare replica layouts of a server on NUMA hosts, measured",
    after_help = numaload::compare::exit::TABLE
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a plan: on the given agents, or on this host through an agent started for the run.
    #[command(after_help = numaload::compare::exit::TABLE)]
    Run(roles::run::RunArgs),
    /// Write a starter agent.toml and plan.toml for your own server into a directory.
    New(roles::new::NewArgs),
    /// Show each layout's concrete placement on a topology without launching anything.
    Plan(roles::plan::PlanArgs),
    /// Show a topology: this host's, or an hwloc XML file's (`lstopo host.xml` makes one).
    Topology(roles::topology::TopologyArgs),
    /// Render a result file as text, Markdown, HTML, JSON or CSV.
    Report(roles::report::ReportArgs),
    /// Compare two result files, or a result and the stored history, and judge regressions.
    #[command(after_help = numaload::compare::exit::TABLE)]
    Compare(roles::compare::CompareArgs),
    /// Show the stored runs of a history store: figures, labels and trends per layout.
    History(roles::history::HistoryArgs),
    /// Serve the agent API so a controller elsewhere can run plans on this host.
    Agent(roles::agent::AgentArgs),
    /// Create a private CA and agent/controller certificates for mutual TLS.
    Certs(roles::certs::CertsArgs),
    /// Watch any running process and its tree: threads, CPUs, scheduling, memory per node.
    Watch(roles::watch::WatchArgs),
    /// The HTTP server under test (the agent starts it; it also runs alone).
    Target(numaload_target::TargetArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) to stdout.
    Completions(roles::docs::CompletionsArgs),
    /// Write numaload.1 and one man page per subcommand into a directory (used by `make deb`).
    #[command(hide = true)]
    Manpages(roles::docs::ManpagesArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("NUMALOAD_LOG"))
        .with_writer(std::io::stderr)
        .init();
    let outcome = match cli.command {
        // The target builds its own runtime, sized by its --threads.
        Command::Target(args) => numaload_target::run(args).map(|()| ExitCode::SUCCESS),
        Command::Topology(args) => roles::topology::main(args),
        Command::New(args) => roles::new::main(args),
        Command::Plan(args) => roles::plan::main(args),
        Command::Report(args) => roles::report::main(args),
        Command::Compare(args) => roles::compare::main(args),
        Command::History(args) => roles::history::main(args),
        Command::Certs(args) => roles::certs::main(args),
        Command::Watch(args) => roles::watch::main(args),
        Command::Completions(args) => roles::docs::completions(args, Cli::command()),
        Command::Manpages(args) => roles::docs::manpages(args, Cli::command()),
        Command::Run(args) => roles::tokio_main(roles::run::main(args)),
        Command::Agent(args) => roles::tokio_main(roles::agent::main(args)),
    };
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("numaload: error: {error:#}");
            ExitCode::from(roles::exit_code(&error))
        }
    }
}
