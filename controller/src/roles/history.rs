//! `numaload history`: the stored runs, in time order, as text, JSON, CSV or HTML; and the
//! store hooks of `numaload run --store` and `numaload compare --baseline`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use numaload::compare;
use numaload::result::RunResult;
use numaload::store::{self, gate, history, Access, Store};

#[derive(clap::Args, Debug)]
pub struct HistoryArgs {
    /// The store: a SQLite file or postgres://USER@HOST/DB (default: $NUMALOAD_STORE).
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
    /// Only runs of this plan (its name).
    #[arg(long, value_name = "NAME")]
    pub plan: Option<String>,
    /// Only this layout.
    #[arg(long, value_name = "NAME")]
    pub layout: Option<String>,
    /// Only runs with this host among theirs.
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
    /// Only runs carrying this label.
    #[arg(long, value_name = "KEY=VALUE")]
    pub label: Option<String>,
    /// The figure the text trend and the HTML chart show: throughput, p50, p99, p99.9, error-rate.
    #[arg(long, default_value = "p99")]
    pub figure: String,
    /// text, json, csv or html.
    #[arg(long, default_value = "text")]
    pub format: String,
    /// Only the last N runs that match.
    #[arg(long, value_name = "N")]
    pub last: Option<usize>,
    /// Write here instead of standard output (html needs it: each run's full report is written
    /// beside it, in FILE's name + `-runs/`).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// `--store`, else `$NUMALOAD_STORE` (empty counts as unset).
pub fn store_url(flag: Option<&str>) -> Option<String> {
    flag.map(str::to_owned)
        .or_else(|| std::env::var(store::STORE_ENV).ok())
        .filter(|s| !s.trim().is_empty())
}

pub fn main(args: HistoryArgs) -> anyhow::Result<ExitCode> {
    let bad = |e: String| anyhow::Error::new(super::BadInput(e));
    let url = store_url(args.store.as_deref()).ok_or_else(|| {
        bad(format!(
            "history needs a store: give --store FILE.db or postgres://..., or set {}",
            store::STORE_ENV
        ))
    })?;
    let figure = history::figure_from_name(&args.figure).map_err(bad)?;
    let format = history::Format::from_name(&args.format).map_err(bad)?;
    let label = match &args.label {
        Some(text) => Some(store::record::parse_label(text).map_err(bad)?),
        None => None,
    };
    if format == history::Format::Html && args.out.is_none() {
        return Err(bad(
            "--format html needs --out FILE.html (each run's report is written beside it)".into(),
        ));
    }
    let mut store = Store::open(&url, Access::Read)?;
    let runs = store.runs(&store::Query {
        plan: args.plan.clone(),
        host: args.host.clone(),
        layout: args.layout.clone(),
        labels: label.into_iter().collect(),
        last: args.last,
        ..store::Query::default()
    })?;
    let text = match format {
        history::Format::Text => history::text(&runs, figure),
        history::Format::Json => history::json(&runs),
        history::Format::Csv => history::csv(&runs),
        history::Format::Html => {
            let out = args.out.as_deref().unwrap_or(Path::new("history.html"));
            write_reports(&mut store, &runs, out)?;
            let dir = reports_dir_name(out);
            history::html::render(&runs, figure, &|id| format!("{dir}/{}.html", file_safe(id)))
        }
    };
    match &args.out {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("writing --out {}", path.display()))?,
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// `history.html` → `history-runs`.
fn reports_dir_name(out: &Path) -> String {
    let stem = out
        .file_stem()
        .map_or("history".into(), |s| s.to_string_lossy());
    format!("{stem}-runs")
}

fn file_safe(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Each run's full HTML report, rendered from its stored result, beside the history page.
fn write_reports(store: &mut Store, runs: &[store::StoredRun], out: &Path) -> anyhow::Result<()> {
    let dir = out
        .parent()
        .unwrap_or(Path::new("."))
        .join(reports_dir_name(out));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    for run in runs {
        let result = store.result(&run.run_id)?;
        let path = dir.join(format!("{}.html", file_safe(&run.run_id)));
        std::fs::write(&path, numaload::report::html::render(&result))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// `run --store`: appends the result (already written to `--out` and printed). A failure is
/// one line naming the store, and says where the measurement is kept.
pub fn store_result(
    url: &str,
    labels: &[(String, String)],
    result: &RunResult,
    out: Option<&Path>,
) -> anyhow::Result<()> {
    let stored = Store::open(url, Access::Write).and_then(|mut s| s.put(result, labels));
    match stored {
        Ok(_) => Ok(()),
        Err(e) => {
            let kept = match out {
                Some(path) => format!("the result is kept in {}", path.display()),
                None => "the result was printed above; give --out FILE to keep it".to_owned(),
            };
            Err(anyhow::anyhow!("{e} ({kept})"))
        }
    }
}

/// `compare --baseline`: `new` judged against the store's history (its runs in which each
/// layout was `ok`). Exit code as the two-file compare's (`Comparison::exit`).
pub fn gate(
    url: &str,
    baseline: &str,
    new: &RunResult,
    scope: &gate::Scope,
    rule: gate::Rule,
    allow: compare::exit::Allow,
    junit: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let baseline = gate::Baseline::parse(baseline).map_err(super::BadInput)?;
    let mut store = Store::open(url, Access::Read)?;
    let history = store.runs(&baseline.query(new, scope))?;
    let comparison = gate::gate(new, &history, &baseline, scope, &rule, allow);
    let text = gate::text::render(&comparison, &rule);
    print!("{text}");
    super::tell_untrusted(&comparison.untrusted);
    if let Some(path) = junit {
        std::fs::write(path, compare::junit::render_with_text(&comparison, &text))
            .with_context(|| format!("writing JUnit XML to {}", path.display()))?;
    }
    Ok(super::exit(comparison.exit()))
}
