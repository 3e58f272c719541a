//! What `numaload compare --baseline` prints: the two-file compare's headline (the same
//! answer first), the rule, then per layout the history's mean, spread and range next to the
//! new value.

use std::fmt::Write as _;

use crate::compare::{stats, text, Comparison, Verdict};

use super::{Bootstrap, Rule, BOOTSTRAP};

/// The whole report.
pub fn render(c: &Comparison, rule: &Rule) -> String {
    let mut out = String::new();
    let headline = if c.inconclusive() {
        let mut parts = text::refusals(c);
        parts.push(format!(
            "INCONCLUSIVE: too few stored runs in which the layout was ok to judge against; the \
             gate needs {} (the table says how many more each layout needs).",
            rule.min_runs.max(1)
        ));
        parts.join(" ")
    } else {
        text::headline(c).replace(
            "No regression beyond",
            "No regression (against the stored history) beyond",
        )
    };
    let _ = writeln!(out, "numaload compare: {headline}\n");
    bootstrap_line(&mut out, c, rule);
    text::flags_block(&mut out, c);
    let _ = writeln!(out, "base: {}", c.base_run);
    let _ = writeln!(out, "new:  {}", c.new_run);
    rule_line(&mut out, c, rule);
    for l in &c.layouts {
        text::layout_heading(&mut out, &l.name);
        text::untrusted_lines(&mut out, c, &l.name);
        let _ = writeln!(
            out,
            "  {:<16} {:>4} {:>12} {:>12} {:>25} {:>12} {:>9}  verdict",
            "figure", "runs", "mean", "std dev", "range", "new", "vs mean"
        );
        for f in &l.figures {
            let show = |v: f64| f.figure.show(v);
            let (runs, mean, sd, range) = match &f.base {
                Some(b) => {
                    let lo = b.trials.iter().copied().fold(f64::INFINITY, f64::min);
                    let hi = b.trials.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let sd = if b.trials.len() > 1 {
                        show(stats::variance(&b.trials).sqrt())
                    } else {
                        "-".to_owned()
                    };
                    (
                        b.trials.len().to_string(),
                        show(b.pooled),
                        sd,
                        format!("{} – {}", show(lo), show(hi)),
                    )
                }
                None => ("0".into(), "-".into(), "-".into(), "-".into()),
            };
            let verdict = match &f.verdict {
                Verdict::NotJudged(why) => format!("not judged: {why}"),
                Verdict::Inconclusive { trials_needed } => {
                    let have = f.base.as_ref().map_or(0, |b| b.trials.len());
                    format!(
                        "inconclusive: {have} stored run(s), the gate needs {trials_needed} \
                         ({} more)",
                        (*trials_needed as usize).saturating_sub(have)
                    )
                }
                v if f.regression => format!("{} — REGRESSION", v.label().to_uppercase()),
                v => v.label().to_owned(),
            };
            let _ = writeln!(
                out,
                "  {:<16} {runs:>4} {mean:>12} {sd:>12} {range:>25} {:>12} {:>9}  {verdict}",
                f.figure.name(),
                f.new.as_ref().map_or("-".to_owned(), |s| show(s.pooled)),
                f.change_text(),
            );
        }
        out.push('\n');
    }
    for name in &c.only_in_base {
        let why = if c.missing().is_empty() {
            "the new run was cancelled before it ran"
        } else {
            "not comparable"
        };
        let _ = writeln!(
            out,
            "layout \"{name}\" is only in the history, MISSING from the new result: {why}"
        );
    }
    out
}

/// When figures were not judged for too little history (`--bootstrap pass`), a line saying so.
fn bootstrap_line(out: &mut String, c: &Comparison, rule: &Rule) {
    let bootstrapping = c
        .layouts
        .iter()
        .flat_map(|l| &l.figures)
        .filter(|f| matches!(&f.verdict, Verdict::NotJudged(why) if why.starts_with(BOOTSTRAP)))
        .count();
    if bootstrapping > 0 {
        let _ = writeln!(
            out,
            "BOOTSTRAP: {bootstrapping} figure(s) have fewer than {} stored runs in which the \
             layout was ok: not judged, passing (--bootstrap pass); each run stored builds the \
             history\n",
            rule.min_runs.max(1)
        );
    }
}

/// The rule the gate applied, in one sentence.
fn rule_line(out: &mut String, c: &Comparison, rule: &Rule) {
    let _ = writeln!(
        out,
        "a figure regresses when it is worse than the history's worst run by more than {}% \
         (error rate: {} percentage points) and worse than the history's mean by more than {} \
         standard deviations; fewer than {} stored runs: {}\n",
        c.threshold_pct,
        100.0 * crate::compare::ERROR_RATE_TOLERANCE,
        rule.sigmas,
        rule.min_runs,
        match rule.bootstrap {
            Bootstrap::Pass => "not judged, passing (--bootstrap pass)",
            Bootstrap::Inconclusive => "inconclusive (--bootstrap inconclusive)",
        }
    );
}
