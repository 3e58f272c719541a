//! What `numaload compare` prints: the answer first (regression or not, and which figures),
//! then why the two results may not be like for like, what to be careful about, and a table
//! per layout.

use std::fmt::Write as _;

use super::{Comparison, FigureComparison, Verdict};

/// The headline: one line a CI log reader sees first. What decides the exit code leads (bad
/// input, then what is not to be trusted); the verdict on the judged figures follows.
pub fn headline(c: &Comparison) -> String {
    let mut parts = refusals(c);
    let judged = c
        .layouts
        .iter()
        .flat_map(|l| &l.figures)
        .any(|f| !matches!(f.verdict, Verdict::NotJudged(_)));
    if judged || parts.is_empty() {
        parts.push(verdict(c));
    }
    let mut line = parts.join(" ");
    if c.unreplicated() {
        line.push_str(
            " Unreplicated: one trial per layout and side, so there is no confidence interval and \
             one noisy run can move a figure; rerun to confirm.",
        );
    }
    if !c.mismatches.is_empty() {
        line.push_str(" NOT LIKE FOR LIKE: see below.");
    }
    line
}

/// `NOT COMPARABLE: ...` and `NOT TO BE TRUSTED: ...`, when they apply (exit codes 2 and 4).
pub fn refusals(c: &Comparison) -> Vec<String> {
    let mut parts = Vec::new();
    if !c.missing().is_empty() {
        let names: Vec<String> = c.missing().iter().map(|n| format!("\"{n}\"")).collect();
        parts.push(format!(
            "NOT COMPARABLE: layout {} measured in the base is missing from the new result (the \
             two results measure different layouts); compare results of the same plan.",
            names.join(", ")
        ));
    }
    let refused: Vec<String> = c.refused().map(|u| u.message()).collect();
    if !refused.is_empty() {
        parts.push(format!(
            "NOT TO BE TRUSTED: {}; not judged.",
            refused.join("; ")
        ));
    }
    parts
}

/// The verdict on the figures judged.
fn verdict(c: &Comparison) -> String {
    let threshold = format!("{}%", c.threshold_pct);
    let figures: Vec<&FigureComparison> = c.layouts.iter().flat_map(|l| &l.figures).collect();
    let judged = figures
        .iter()
        .filter(|f| !matches!(f.verdict, Verdict::NotJudged(_)))
        .count();
    let count = |v: Verdict| figures.iter().filter(|f| f.verdict == v).count();
    if c.inconclusive() {
        let items: Vec<String> = c
            .layouts
            .iter()
            .flat_map(|l| l.figures.iter().map(move |f| (l, f)))
            .filter_map(|(l, f)| {
                Some(format!(
                    "{} {} {}{} ({})",
                    l.name,
                    f.figure.name(),
                    f.change_text(),
                    f.interval_text()
                        .map(|i| format!(", 95% interval {i}"))
                        .unwrap_or_default(),
                    f.trials_to_decide()?
                ))
            })
            .collect();
        format!(
            "INCONCLUSIVE: no regression beyond {threshold} shown, none ruled out: {}.",
            items.join("; ")
        )
    } else if c.regressed() {
        let items: Vec<String> = c
            .layouts
            .iter()
            .flat_map(|l| l.regressions().map(move |f| (l, f)))
            .map(|(l, f)| {
                format!(
                    "{} {} {}{}",
                    l.name,
                    f.figure.name(),
                    f.change_text(),
                    values(f)
                )
            })
            .collect();
        format!("REGRESSION beyond {threshold}: {}.", items.join("; "))
    } else {
        format!(
            "No regression beyond {threshold}: {judged} figure(s) in {} layout(s) compared; {} better, {} worse within the threshold, {} no significant change.",
            c.layouts.iter().filter(|l| !l.refused).count(),
            count(Verdict::Better),
            count(Verdict::Worse),
            count(Verdict::NoSignificantChange)
        )
    }
}

/// ` (11.04 ms → 13.25 ms)`.
fn values(f: &FigureComparison) -> String {
    match (&f.base, &f.new) {
        (Some(b), Some(n)) => format!(
            " ({} → {})",
            f.figure.show(f.shown(b)),
            f.figure.show(f.shown(n))
        ),
        _ => String::new(),
    }
}

/// The whole report.
pub fn render(c: &Comparison) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "numaload compare: {}\n", headline(c));
    if !c.mismatches.is_empty() {
        let _ = writeln!(
            out,
            "!! NOT LIKE FOR LIKE: the two results come from different plans or hosts; matching \
             layouts are compared below, but a change may come from that difference, not from \
             the code:"
        );
        for m in &c.mismatches {
            let _ = writeln!(out, "  ! {m}");
        }
        out.push('\n');
    }
    flags_block(&mut out, c);
    let _ = writeln!(out, "base: {}", c.base_run);
    let _ = writeln!(out, "new:  {}", c.new_run);
    let _ = writeln!(
        out,
        "a figure regresses when it is worse by more than {}% (error rate: more than {} percentage points){}\n",
        c.threshold_pct,
        100.0 * super::ERROR_RATE_TOLERANCE,
        if c.unreplicated() {
            ""
        } else {
            "; with trials, values are means of trials and a change within the threshold whose \
             95% interval reaches past it is inconclusive"
        }
    );
    for l in &c.layouts {
        layout_heading(&mut out, &l.name);
        untrusted_lines(&mut out, c, &l.name);
        let _ = writeln!(
            out,
            "  {:<16} {:>14} {:>14} {:>9}  {:<18} verdict",
            "figure", "base", "new", "change", "95% interval"
        );
        for f in &l.figures {
            let show = |side: &Option<super::Side>| {
                side.as_ref()
                    .map_or("-".to_owned(), |s| f.figure.show(f.shown(s)))
            };
            let verdict = match &f.verdict {
                Verdict::NotJudged(why) => format!("not judged: {why}"),
                Verdict::Inconclusive { .. } => format!(
                    "INCONCLUSIVE ({})",
                    f.trials_to_decide().unwrap_or_default()
                ),
                v if f.regression && f.unreplicated => {
                    format!("{} — REGRESSION (unreplicated)", v.label().to_uppercase())
                }
                v if f.regression => format!("{} — REGRESSION", v.label().to_uppercase()),
                v if f.unreplicated => format!("{} (unreplicated)", v.label()),
                v => v.label().to_owned(),
            };
            let _ = writeln!(
                out,
                "  {:<16} {:>14} {:>14} {:>9}  {:<18} {verdict}",
                f.figure.name(),
                show(&f.base),
                show(&f.new),
                f.change_text(),
                f.interval_text().unwrap_or_else(|| "-".to_owned()),
            );
        }
        out.push('\n');
    }
    for name in &c.only_in_base {
        let why = if c.missing().is_empty() {
            "the new run was cancelled before it ran"
        } else {
            "the two results measure different layouts: not comparable"
        };
        let _ = writeln!(
            out,
            "layout \"{name}\" was measured in the base and is MISSING from the new result: {why}"
        );
    }
    for name in &c.only_in_new {
        let _ = writeln!(
            out,
            "layout \"{name}\" is only in the new result: not compared"
        );
    }
    out
}

/// "Check before trusting these numbers": the comparison's flags, then each layout's, one a
/// line; nothing when there are none. Shared with the store gate's report.
pub fn flags_block(out: &mut String, c: &Comparison) {
    let mut flags: Vec<String> = c.flags.clone();
    for l in &c.layouts {
        flags.extend(l.flags.iter().map(|f| format!("layout \"{}\" {f}", l.name)));
    }
    if !flags.is_empty() {
        let _ = writeln!(out, "Check before trusting these numbers:");
        for f in &flags {
            let _ = writeln!(out, "  ! {f}");
        }
        out.push('\n');
    }
}

/// The layout's sides that are not `ok`: `NOT TO BE TRUSTED` (its figures not judged) or
/// accepted by a flag. Shared with the store gate's report.
pub fn untrusted_lines(out: &mut String, c: &Comparison, layout: &str) {
    for u in c
        .untrusted
        .iter()
        .filter(|u| u.layout.as_deref() == Some(layout))
    {
        if u.allowed {
            let _ = writeln!(out, "  {} ({}): judged", u.message(), u.remedy());
        } else {
            let _ = writeln!(
                out,
                "  NOT TO BE TRUSTED: {} ({}): not judged",
                u.message(),
                u.remedy()
            );
        }
    }
}

/// The rule that opens a layout's table.
pub fn layout_heading(out: &mut String, name: &str) {
    let _ = writeln!(
        out,
        "── layout \"{name}\" {}",
        "─".repeat(50usize.saturating_sub(name.chars().count()))
    );
}
