//! `numaload history`: the stored runs, in time order, as text, JSON, CSV or HTML, or their
//! change points (`--changes`); and the store hooks of `numaload run --store` and
//! `numaload compare --baseline`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use numaload::compare;
use numaload::compare::Figure;
use numaload::plan::Thresholds;
use numaload::result::RunResult;
use numaload::store::{self, changes, gate, history, Access, Store};

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
    /// Only runs carrying this label (branch=main), once per label.
    #[arg(long = "where", visible_alias = "label", value_name = "KEY=VALUE")]
    pub wheres: Vec<String>,
    /// Series of runs from any host (by default one series per set of hosts and topology).
    #[arg(long)]
    pub any_host: bool,
    /// The figure shown: throughput, p50, p99, p99.9, error-rate (default: p99 in the text
    /// trend; every figure with --changes and in HTML).
    #[arg(long)]
    pub figure: Option<String>,
    /// Print the change points of every figure of every series instead of the runs.
    #[arg(long)]
    pub changes: bool,
    /// The significance level a change point must reach (0 < LEVEL ≤ 0.5).
    #[arg(long, value_name = "LEVEL", default_value_t = changes::edivisive::DEFAULT_LEVEL)]
    pub significance: f64,
    /// Runs per window of the change-point detector.
    #[arg(long, value_name = "N", default_value_t = changes::edivisive::DEFAULT_WINDOW)]
    pub window: usize,
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
    let figure = match &args.figure {
        Some(name) => Some(history::figure_from_name(name).map_err(bad)?),
        None => None,
    };
    let figures: Vec<Figure> = figure.map_or(Figure::ALL.to_vec(), |f| vec![f]);
    let format = history::Format::from_name(&args.format).map_err(bad)?;
    let labels = args
        .wheres
        .iter()
        .map(|w| {
            store::record::parse_label(w).map_err(|e| bad(e.replacen("--label", "--where", 1)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let settings = detector_settings(args.significance, args.window).map_err(bad)?;
    if args.changes && format == history::Format::Csv {
        return Err(bad(
            "--changes prints text or json (--format csv lists the runs themselves)".into(),
        ));
    }
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
        labels,
        last: args.last,
        ..store::Query::default()
    })?;
    let text = match format {
        history::Format::Text if args.changes => {
            changes::text(&runs, &figures, args.any_host, &settings)
        }
        history::Format::Json if args.changes => {
            changes::json(&runs, &figures, args.any_host, &settings)
        }
        history::Format::Text => history::text(&runs, figure.unwrap_or(Figure::P99)),
        history::Format::Json => history::json(&runs),
        history::Format::Csv => history::csv(&runs),
        history::Format::Html => {
            let out = args.out.as_deref().unwrap_or(Path::new("history.html"));
            let thresholds = write_reports(&mut store, &runs, out)?;
            let dir = reports_dir_name(out);
            let page = history::html::Page {
                figures: &figures,
                any_host: args.any_host,
                settings,
                link: &|id| format!("{dir}/{}.html", file_safe(id)),
                thresholds: &|run_id| thresholds.get(run_id),
            };
            history::html::render(&runs, &page)
        }
    };
    match &args.out {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("writing --out {}", path.display()))?,
        None => super::stdout::print(&text)?,
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

/// `--significance` and `--window`, checked.
fn detector_settings(level: f64, window: usize) -> Result<changes::Settings, String> {
    let settings = changes::Settings {
        level,
        window,
        ..changes::Settings::default()
    };
    if !(level > 0.0 && level <= 0.5) {
        return Err(format!(
            "--significance {level}: must be above 0 and at most 0.5 (e.g. 0.01)"
        ));
    }
    let fewest = 2 * settings.min_size + 1;
    if window < fewest {
        return Err(format!(
            "--window {window}: must be at least {fewest} runs (a change point needs {} on \
             either side)",
            settings.min_size
        ));
    }
    Ok(settings)
}

/// Each run's full HTML report, rendered from its stored result, beside the history page; the
/// plan's thresholds of each run, by run id.
fn write_reports(
    store: &mut Store,
    runs: &[store::StoredRun],
    out: &Path,
) -> anyhow::Result<std::collections::HashMap<String, Thresholds>> {
    let dir = out
        .parent()
        .unwrap_or(Path::new("."))
        .join(reports_dir_name(out));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut thresholds = std::collections::HashMap::new();
    for run in runs {
        let result = store.result(&run.run_id)?;
        let path = dir.join(format!("{}.html", file_safe(&run.run_id)));
        std::fs::write(&path, numaload::report::html::render(&result))
            .with_context(|| format!("writing {}", path.display()))?;
        thresholds.insert(run.run_id.clone(), result.plan.thresholds);
    }
    Ok(thresholds)
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
    super::stdout::print(&text)?;
    super::tell_untrusted(&comparison.untrusted);
    if let Some(path) = junit {
        std::fs::write(path, compare::junit::render_with_text(&comparison, &text))
            .with_context(|| format!("writing JUnit XML to {}", path.display()))?;
    }
    Ok(super::exit(comparison.exit()))
}
