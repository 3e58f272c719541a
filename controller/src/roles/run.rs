//! `numaload run`: a plan on its agents (a local one when none is given).

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use numaload::run::Progress;

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    pub plan: PathBuf,
    /// Agent address HOST:PORT, once per agent (default: start a local agent on 127.0.0.1).
    #[arg(long = "agent", value_name = "ADDR")]
    pub agents: Vec<String>,
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
    /// The configuration file of the local agent (the targets and limits `numaload agent
    /// --config FILE` reads; its listen and tls_dir do not apply). Only without --agent.
    #[arg(long, value_name = "FILE")]
    pub agent_config: Option<PathBuf>,
    /// Also append the result to this history store: a SQLite file (created on first use) or
    /// postgres://USER@HOST/DB (default: $NUMALOAD_STORE). A store failure exits 1 after the
    /// result is written and printed.
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
    /// A label stored with the result (commit=abc123), once per label; needs a store.
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
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
    let plan = numaload::plan::load(&args.plan)?;
    let addresses = if args.agents.is_empty() {
        vec![start_local_agent(args.agent_config.as_deref()).await?]
    } else {
        args.agents.clone()
    };
    let tls = match &args.tls_dir {
        Some(dir) => Some(numaload::tls::client_config(dir)?),
        None => None,
    };
    let mut view = ProgressView::new(args.quiet);
    let result = match &plan.search {
        Some(search) => {
            numaload::search::run(&plan, search, &addresses, tls.as_ref(), |p| view.show(p)).await?
        }
        None => numaload::run::run(&plan, &addresses, tls.as_ref(), |p| view.show(p)).await?,
    };
    view.finish();
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
    print!("{}", numaload::report::text::render(&result));
    if let Some(url) = &store {
        // The store's clients block (PostgreSQL's runs its own runtime): off the async workers.
        tokio::task::block_in_place(|| {
            super::history::store_result(url, &labels, &result, args.out.as_deref())
        })?;
    }
    let all_ok = result
        .layouts
        .iter()
        .all(|l| l.status == numaload::result::LayoutStatus::Ok);
    Ok(if all_ok && !result.cancelled && !result.degraded {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Live progress on stderr: on a terminal one line per agent, redrawn in place; otherwise one
/// line per change; nothing with `--quiet`.
struct ProgressView {
    quiet: bool,
    tty: bool,
    lines: BTreeMap<String, (String, String, Instant)>,
    /// Per agent, while measuring: what its replicas and its generator said last.
    live: BTreeMap<String, LiveFigures>,
    drawn: usize,
}

/// The parts of a measuring agent's progress line.
#[derive(Debug, Default)]
struct LiveFigures {
    served: Option<u64>,
    worst_server_p99_ns: Option<u64>,
    rate_rps: Option<f64>,
    p99_ns: Option<u64>,
}

impl LiveFigures {
    /// `measuring: 1,204,331 served, 61,250 req/s, p99 1.21 ms (generator, last 1 s), worst
    /// replica p99 ≤ 840.0 µs`.
    fn line(&self) -> String {
        let mut parts = Vec::new();
        if let Some(served) = self.served {
            parts.push(format!(
                "{} served",
                numaload::report::thousands(served as f64)
            ));
        }
        if let Some(rate) = self.rate_rps {
            let p99 = self.p99_ns.map_or_else(
                || "no response".to_owned(),
                |ns| format!("p99 {}", numaload::report::duration_ns(ns)),
            );
            parts.push(format!(
                "{} req/s, {p99} (generator, last 1 s)",
                numaload::report::thousands(rate)
            ));
        }
        if let Some(ns) = self.worst_server_p99_ns {
            parts.push(format!(
                "worst replica p99 ≤ {}",
                numaload::report::duration_ns(ns)
            ));
        }
        format!("measuring: {}", parts.join(", "))
    }
}

impl ProgressView {
    fn new(quiet: bool) -> Self {
        Self {
            quiet,
            tty: std::io::stderr().is_terminal(),
            lines: BTreeMap::new(),
            live: BTreeMap::new(),
            drawn: 0,
        }
    }

    fn show(&mut self, progress: Progress) {
        if self.quiet {
            return;
        }
        match progress {
            Progress::Notice(text) => {
                self.clear();
                eprintln!("{text}");
                self.draw();
            }
            Progress::Live {
                agent,
                layout,
                requests,
                worst_server_p99_ns,
            } => {
                let figures = self.live.entry(agent.clone()).or_default();
                figures.served = Some(requests);
                figures.worst_server_p99_ns = worst_server_p99_ns;
                self.redraw_live(agent, layout);
            }
            Progress::Load {
                agent,
                layout,
                rate_rps,
                p99_ns,
            } => {
                let figures = self.live.entry(agent.clone()).or_default();
                figures.rate_rps = Some(rate_rps);
                figures.p99_ns = p99_ns;
                self.redraw_live(agent, layout);
            }
            Progress::Phase {
                agent,
                layout,
                phase,
            } => {
                self.live.remove(&agent);
                if self.tty {
                    self.lines.insert(agent, (layout, phase, Instant::now()));
                    self.clear();
                    self.draw();
                } else {
                    eprintln!("[{layout}] {agent}: {phase}");
                }
            }
        }
    }

    /// Redraws `agent`'s line from its live figures (on a terminal; elsewhere they would flood
    /// the output).
    fn redraw_live(&mut self, agent: String, layout: String) {
        if !self.tty {
            return;
        }
        let text = self
            .live
            .get(&agent)
            .map(LiveFigures::line)
            .unwrap_or_default();
        let since = self.lines.get(&agent).map_or_else(Instant::now, |l| l.2);
        self.lines.insert(agent, (layout, text, since));
        self.clear();
        self.draw();
    }

    fn clear(&mut self) {
        if self.tty && self.drawn > 0 {
            // Move up over the lines drawn last time and clear to the end of the screen.
            eprint!("\x1b[{}A\x1b[J", self.drawn);
            self.drawn = 0;
        }
    }

    fn draw(&mut self) {
        if !self.tty {
            return;
        }
        for (agent, (layout, phase, since)) in &self.lines {
            eprintln!(
                "  {agent:<22} {layout:<20} {phase} (since {:.0?})",
                since.elapsed()
            );
        }
        self.drawn = self.lines.len();
    }

    fn finish(&mut self) {
        self.clear();
    }
}

/// An agent for this run only, in this process, on a loopback port of its own, configured by
/// `config_file` (targets, limits) like `numaload agent --config`. It lives as long as the
/// process; replicas die with it (parent-death signal).
async fn start_local_agent(config_file: Option<&Path>) -> anyhow::Result<String> {
    let config = match config_file {
        Some(path) => numaload_agent::config::ConfigFile::load(path)
            .map_err(|e| super::BadInput(format!("--agent-config {e}")))?
            .apply(super::agent_config()?),
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

#[cfg(test)]
mod tests {
    use super::LiveFigures;

    #[test]
    fn a_live_line_shows_what_arrived_and_names_whose_p99_it_is() {
        let mut figures = LiveFigures::default();
        assert_eq!(figures.line(), "measuring: ");
        figures.served = Some(1_204_331);
        figures.worst_server_p99_ns = Some(840_000);
        assert_eq!(
            figures.line(),
            "measuring: 1,204,331 served, worst replica p99 ≤ 840.0 µs"
        );
        figures.rate_rps = Some(61_250.4);
        figures.p99_ns = Some(1_210_000);
        assert_eq!(
            figures.line(),
            "measuring: 1,204,331 served, 61,250 req/s, p99 1.21 ms (generator, last 1 s), \
             worst replica p99 ≤ 840.0 µs"
        );
        figures.p99_ns = None;
        assert!(figures
            .line()
            .contains("61,250 req/s, no response (generator"));
    }
}
