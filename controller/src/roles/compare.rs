//! `numaload compare`: judge a new result against a baseline, a file or the stored history
//! (`--baseline last:N`, `label:KEY=VALUE` or `since-change`, narrowed by `--where`, widened by
//! `--any-host`,
//! too little of it as `--bootstrap` says: see `numaload::store::gate`). The exit code is
//! `Comparison::exit`, by the one table (`numaload::compare::exit::TABLE`): 2 bad input (or
//! results of different layouts), 4 a side not to be trusted, 1 a regression, 3 inconclusive,
//! 0 otherwise.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use numaload::compare;
use numaload::store::gate;

#[derive(clap::Args, Debug)]
pub struct CompareArgs {
    /// BASE.json NEW.json: the baseline result file and the result to judge; with --baseline,
    /// only NEW.json.
    #[arg(value_name = "FILE", num_args = 1..=2, required = true)]
    pub files: Vec<PathBuf>,
    /// Worse by more than this fails (percent of the base, e.g. 5%).
    #[arg(long, default_value = "5%")]
    pub max_regression: String,
    /// Also write JUnit XML here (one testcase per layout and figure).
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// The history store the baseline comes from (default: $NUMALOAD_STORE).
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
    /// Judge against stored runs of the same plan and hosts: last:N, label:KEY=VALUE or
    /// since-change (each figure's runs after its last change point).
    #[arg(long, value_name = "SELECTION")]
    pub baseline: Option<String>,
    /// With --baseline: a regression must also lie this many standard deviations beyond the
    /// history's mean.
    #[arg(long, default_value_t = gate::DEFAULT_SIGMAS)]
    pub sigmas: f64,
    /// With --baseline: fewer stored runs than this (in which the layout was ok) leave a figure
    /// not judged, passing or inconclusive as --bootstrap says.
    #[arg(long, default_value_t = gate::DEFAULT_MIN_RUNS)]
    pub min_runs: usize,
    /// With --baseline: what too little history gives: pass (the run passes and, stored,
    /// builds the history) or inconclusive (exit 3 until there are --min-runs).
    #[arg(long, value_name = "pass|inconclusive", default_value = "pass")]
    pub bootstrap: String,
    /// With --baseline: only stored runs carrying this label (branch=main), once per label.
    #[arg(long = "where", value_name = "KEY=VALUE")]
    pub wheres: Vec<String>,
    /// With --baseline: stored runs from any host (by default only runs on the same hosts with
    /// the same topology).
    #[arg(long)]
    pub any_host: bool,
    #[command(flatten)]
    pub allow: super::AllowArgs,
}

pub fn main(args: CompareArgs) -> anyhow::Result<ExitCode> {
    let threshold = compare::parse_threshold(&args.max_regression).map_err(super::BadInput)?;
    if let Some(baseline) = &args.baseline {
        let [new] = args.files.as_slice() else {
            return Err(super::BadInput(
                "compare --baseline takes one file, the new result (the baseline is in the store)"
                    .into(),
            )
            .into());
        };
        let url = super::history::store_url(args.store.as_deref()).ok_or_else(|| {
            super::BadInput(format!(
                "--baseline {baseline}: needs a store (--store URL or {})",
                numaload::store::STORE_ENV
            ))
        })?;
        if !(args.sigmas.is_finite() && args.sigmas >= 0.0) {
            return Err(super::BadInput(format!("--sigmas {}: must be ≥ 0", args.sigmas)).into());
        }
        let rule = gate::Rule {
            threshold_pct: threshold,
            sigmas: args.sigmas,
            min_runs: args.min_runs,
            bootstrap: gate::Bootstrap::parse(&args.bootstrap).map_err(super::BadInput)?,
        };
        let scope = gate::Scope {
            labels: args
                .wheres
                .iter()
                .map(|w| {
                    numaload::store::record::parse_label(w)
                        .map_err(|e| super::BadInput(e.replacen("--label", "--where", 1)))
                })
                .collect::<Result<_, _>>()?,
            any_host: args.any_host,
        };
        let new = super::report::read_result(new)?;
        return super::history::gate(
            &url,
            baseline,
            &new,
            &scope,
            rule,
            args.allow.allow(),
            args.junit.as_deref(),
        );
    }
    if !args.wheres.is_empty() || args.any_host || args.bootstrap != "pass" {
        return Err(super::BadInput(
            "--where, --any-host and --bootstrap choose stored runs: they need --store and \
             --baseline last:N, label:KEY=VALUE or since-change"
                .into(),
        )
        .into());
    }
    if args.store.is_some() {
        return Err(super::BadInput(
            "--store needs --baseline last:N, label:KEY=VALUE or since-change (which stored runs to \
             judge against)"
                .into(),
        )
        .into());
    }
    let [base, new] = args.files.as_slice() else {
        return Err(super::BadInput(
            "compare takes two files, BASE.json NEW.json (or one with --baseline)".into(),
        )
        .into());
    };
    let base = super::report::read_result(base)?;
    let new = super::report::read_result(new)?;
    let comparison = compare::compare(&base, &new, threshold, args.allow.allow());
    super::stdout::print(&compare::text::render(&comparison))?;
    super::tell_untrusted(&comparison.untrusted);
    if let Some(path) = &args.junit {
        std::fs::write(path, compare::junit::render(&comparison))
            .with_context(|| format!("writing JUnit XML to {}", path.display()))?;
    }
    Ok(super::exit(comparison.exit()))
}
