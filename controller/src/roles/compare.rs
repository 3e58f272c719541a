//! `numaload compare`: judge a new result against a baseline. Exit code 1 on a regression
//! beyond the threshold (or a layout that failed in the new result only), 0 otherwise, 2 on bad
//! input.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use numaload::compare;

#[derive(clap::Args, Debug)]
pub struct CompareArgs {
    /// The baseline result file.
    pub base: PathBuf,
    /// The result to judge.
    pub new: PathBuf,
    /// Worse by more than this fails (percent of the base, e.g. 5%).
    #[arg(long, default_value = "5%")]
    pub max_regression: String,
    /// Also write JUnit XML here (one testcase per layout and figure).
    #[arg(long)]
    pub junit: Option<PathBuf>,
}

pub fn main(args: CompareArgs) -> anyhow::Result<ExitCode> {
    let threshold = compare::parse_threshold(&args.max_regression).map_err(super::BadInput)?;
    let base = super::report::read_result(&args.base)?;
    let new = super::report::read_result(&args.new)?;
    let comparison = compare::compare(&base, &new, threshold);
    print!("{}", compare::text::render(&comparison));
    if let Some(path) = &args.junit {
        std::fs::write(path, compare::junit::render(&comparison))
            .with_context(|| format!("writing JUnit XML to {}", path.display()))?;
    }
    Ok(if comparison.regressed() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
