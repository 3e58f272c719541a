//! `numaload run`: a plan on its agents (a local one when none is given). Exit code 0 when every
//! layout is `ok` and meets the plan's `[thresholds]`, 4 when one is not `ok` (or the run was
//! cancelled) unless `--allow-suspect` / `--allow-degraded` accept it, 1 when a threshold is
//! crossed, 3 when one is inconclusive, 2 on bad input: `numaload::compare::exit::TABLE`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use numaload::compare::exit;

use super::progress::ProgressView;

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    pub plan: PathBuf,
    /// Agent address HOST:PORT, once per agent (default: start a local agent on 127.0.0.1).
    #[arg(long = "agent", value_name = "ADDR")]
    pub agents: Vec<String>,
    /// Load agent address HOST:PORT, once per load agent: these drive the load at every replica
    /// of every --agent from their own hosts (the plan's rate and connections split among
    /// them), and the --agent hosts only run the replicas. Needs --agent, whose configuration
    /// sets a replica_address the load agents can reach.
    #[arg(long = "load-agent", value_name = "ADDR", requires = "agents")]
    pub load_agents: Vec<String>,
    /// Write the result JSON here (every report can be re-rendered from it).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Write the merged histograms as an HdrHistogram interval log here.
    #[arg(long, value_name = "FILE")]
    pub hlog: Option<PathBuf>,
    /// Directory with ca.pem, controller.pem and controller.key (made by `numaload certs`):
    /// talk to the agents over mutual TLS.
    #[arg(long, value_name = "DIR")]
    pub tls_dir: Option<PathBuf>,
    /// No progress lines on stderr.
    #[arg(long)]
    pub quiet: bool,
    /// Set a plan value, once per value: its key dotted as the file nests it, a layout by its
    /// name (load.rate=20000, layouts.per-node.threads=4); checked as the file's own.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Print the result in brief as JSON on stdout (the verdict, and per layout its status,
    /// figures, thresholds and reasons for caution); the text report goes to stderr.
    #[arg(long)]
    pub json: bool,
    /// The configuration file of the local agent (the targets and limits `numaload agent
    /// --config FILE` reads; its listen and tls_dir do not apply). Only without --agent.
    #[arg(long, value_name = "FILE")]
    pub agent_config: Option<PathBuf>,
    /// Also append the result to this history store: a SQLite file (created on first use) or
    /// postgres://USER@HOST/DB (default: $NUMALOAD_STORE). A store failure exits 4 after the
    /// result is written and printed.
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
    /// Also write JUnit XML here: one testcase per layout and `[thresholds]` condition.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// A label stored with the result (commit=abc123), once per label; needs a store.
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// Accept hollow agents (`numaload agent --hollow`): a scale test of the controller whose
    /// figures are made up. Every layout is then SIMULATED (suspect, exit 4).
    #[arg(long)]
    pub simulated: bool,
    #[command(flatten)]
    pub allow: super::AllowArgs,
}

pub async fn main(args: RunArgs) -> anyhow::Result<ExitCode> {
    if let (Some(path), Some(agent)) = (&args.agent_config, args.agents.first()) {
        return Err(super::BadInput(format!(
            "--agent-config {}: configures the local agent, and this run uses the agent at \
             {agent}; give the file to that agent (numaload agent --config FILE) or drop --agent",
            path.display()
        ))
        .into());
    }
    let store = super::history::store_url(args.store.as_deref());
    let labels = args
        .labels
        .iter()
        .map(|l| numaload::store::record::parse_label(l).map_err(super::BadInput))
        .collect::<Result<Vec<_>, _>>()?;
    if store.is_none() && !labels.is_empty() {
        return Err(super::BadInput(format!(
            "--label {}: labels are kept in a store; give --store URL or set {}",
            args.labels.join(" --label "),
            numaload::store::STORE_ENV
        ))
        .into());
    }
    let sets = super::plan_sets(&args.sets);
    let plan = numaload::plan::load_with(&args.plan, &sets)?;
    let fleet = numaload::run::Fleet {
        agents: if args.agents.is_empty() {
            vec![start_local_agent(args.agent_config.as_deref()).await?]
        } else {
            args.agents.clone()
        },
        load_agents: args.load_agents.clone(),
        simulated: args.simulated,
    };
    // A connection to each agent: a fleet of thousands needs more than the usual 1,024.
    numaload_agent::host::raise_open_files_limit().context("raising the open-file limit")?;
    let tls = match &args.tls_dir {
        Some(dir) => Some(numaload::tls::client_config(dir)?),
        None => None,
    };
    let agents = fleet.agents.len() + fleet.load_agents.len();
    let mut view = ProgressView::new(args.quiet, &plan.load, agents);
    let measured = match &plan.search {
        Some(search) => {
            numaload::search::run(&plan, search, &fleet, tls.as_ref(), |p| view.show(p)).await
        }
        None => numaload::run::run(&plan, &fleet, tls.as_ref(), |p| view.show(p)).await,
    };
    let mut result = measured.map_err(|e| blame_refusal(e, &sets))?;
    view.finish();
    note_one_domain(&plan, &fleet.agents, &mut result);
    numaload::compare::thresholds::check_run(&mut result);
    if let Some(out) = &args.out {
        std::fs::write(out, result.to_json())
            .with_context(|| format!("writing --out {}", out.display()))?;
    }
    if let Some(path) = &args.hlog {
        let mut file = std::fs::File::create(path)
            .with_context(|| format!("creating --hlog {}", path.display()))?;
        numaload::hlog::write(&result, &mut file)?;
        file.flush()?;
    }
    let report = numaload::report::text::render(&result);
    if args.json {
        eprint!("{report}");
        super::stdout::print(&numaload::report::brief::render(&result))?;
    } else {
        super::stdout::print(&report)?;
    }
    let untrusted = exit::untrusted(&result, "", args.allow.allow());
    super::tell_untrusted(&untrusted);
    for line in numaload::compare::thresholds::lines(&result) {
        eprintln!("{line}");
    }
    if let Some(path) = &args.junit {
        let xml = numaload::compare::junit::render_run(&result, &untrusted, &report);
        std::fs::write(path, xml)
            .with_context(|| format!("writing JUnit XML to {}", path.display()))?;
    }
    // Stored whatever its statuses: the store keeps them, and a baseline skips what was not ok.
    if let Some(url) = &store {
        // The store's clients block (PostgreSQL's runs its own runtime): off the async workers.
        tokio::task::block_in_place(|| {
            super::history::store_result(url, &labels, &result, args.out.as_deref())
        })?;
    }
    let thresholds = numaload::compare::thresholds::exit(&result);
    Ok(super::exit(exit::Exit::first([
        exit::of_run(&untrusted),
        thresholds,
    ])))
}

/// The layouts that place alike on hosts of one NUMA domain (`run` says so before it starts),
/// from the hosts the result records: a note on each layout concerned.
fn note_one_domain(
    plan: &numaload::plan::Plan,
    agents: &[String],
    result: &mut numaload::result::RunResult,
) {
    let agents: std::collections::HashSet<&String> = agents.iter().collect();
    let domains = result
        .hosts
        .iter()
        .filter(|h| agents.contains(&h.agent))
        .map(|h| h.numa_domains);
    let Some(alike) = numaload::aggregate::OneDomain::find(&plan.layouts, domains) else {
        return;
    };
    for layout in &mut result.layouts {
        if let Some(note) = alike.note(&layout.name) {
            layout.notes.push(note);
        }
    }
}

/// An agent for this run only, in this process, on a loopback port of its own, configured by
/// `config_file` (targets, limits) like `numaload agent --config`. It lives as long as the
/// process; replicas die with it (parent-death signal).
async fn start_local_agent(config_file: Option<&Path>) -> anyhow::Result<String> {
    let config = match config_file {
        Some(path) => agent_config_file(path)?,
        None => super::agent_config()?,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("starting the local agent")?;
    let address = listener.local_addr()?.to_string();
    tokio::spawn(async move {
        // In this process, on loopback, for this run only: no authentication needed.
        let serving =
            numaload_agent::service::serve(listener, config, None, std::future::pending());
        if let Err(e) = serving.await {
            eprintln!("numaload: local agent stopped: {e}");
        }
    });
    Ok(address)
}

/// The agent configuration `path` describes (`--agent-config`), its targets added to the
/// built-in ones, as `numaload agent --config` makes it.
pub fn agent_config_file(path: &Path) -> anyhow::Result<numaload_agent::config::AgentConfig> {
    let file = numaload_agent::config::ConfigFile::load(path)
        .map_err(|e| super::BadInput(format!("--agent-config {e}")))?;
    Ok(file.apply(super::agent_config()?))
}

/// An agent's refusal of the plan ending with the `--set` that set the key it names, as the
/// plan's own errors end.
fn blame_refusal(mut error: anyhow::Error, sets: &[numaload::plan::Set]) -> anyhow::Error {
    if let Some(numaload::client::ClientError::InvalidPlan { message, .. }) =
        error.downcast_mut::<numaload::client::ClientError>()
    {
        *message = super::blamed(message, sets);
    }
    error
}
