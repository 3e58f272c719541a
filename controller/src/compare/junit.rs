//! JUnit XML for CI systems, written by `quick-junit` (as cargo-nextest writes its own): one
//! `<testcase>` per layout × figure (class `numaload.<layout>`), a `<failure>` for each
//! regression, `<skipped>` for a figure not judged (too few samples, a layout failed on a side).
//! A side not to be trusted (a layout not `ok`, a cancelled run) is a failed `trusted` testcase
//! of type `untrusted` (its figures are skipped); one accepted by `--allow-suspect` or
//! `--allow-degraded` a passing one saying so. A layout of the base missing from the new result
//! is a failed `present` testcase of type `not-comparable` (or `untrusted` when the new run was
//! cancelled); one only in the new result a skipped `present` testcase. Mismatched plans or hosts and
//! reasons for caution go in `<properties>` and `<system-out>`, with the full text report.
//! Characters XML 1.0 cannot carry (control characters, ANSI escapes) are dropped by
//! `quick-junit`; everything else is escaped by it.
//!
//! `run --junit` ([`render_run`]) writes the same shape for a run's own `[thresholds]`: one
//! `<testcase>` per layout × threshold (`p99 < 2ms`, class `numaload.<layout>`), a `<failure>`
//! of type `threshold` for each crossed one and of type `inconclusive` for each undecided one,
//! and the `trusted` testcases of the layouts not `ok`.

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use super::exit::Untrusted;
use super::{text, Comparison, Verdict};
use crate::result::{RunResult, ThresholdOutcome};

/// The name of the report and of its one suite.
const SUITE: &str = "numaload compare";

/// Renders the comparison as a JUnit XML document.
pub fn render(c: &Comparison) -> String {
    render_with_text(c, &text::render(c))
}

/// [`render`] with another full text report in `<system-out>` (the rolling-baseline gate's).
pub fn render_with_text(c: &Comparison, report: &str) -> String {
    let mut suite = TestSuite::new(SUITE);
    suite.add_properties(properties(c));
    suite.add_test_cases(cases(c));
    suite.set_system_out(report);
    let mut junit = Report::new(SUITE);
    junit.add_test_suite(suite);
    // Serializing into memory fails only on an I/O error of the writer, and a Vec has none.
    junit
        .to_string()
        .expect("serializing JUnit XML into memory cannot fail")
}

fn properties(c: &Comparison) -> Vec<Property> {
    let mut properties = vec![
        Property::new("max_regression_pct", c.threshold_pct.to_string()),
        Property::new("unreplicated", c.unreplicated().to_string()),
        Property::new("base", c.base_run.as_str()),
        Property::new("new", c.new_run.as_str()),
    ];
    properties.extend(
        c.mismatches
            .iter()
            .map(|m| Property::new("not_like_for_like", m.as_str())),
    );
    properties
}

/// A failure of `kind` (`regression`, `inconclusive`, `untrusted`, `not-comparable`) with its
/// message, and the
/// message again as the failure's text when `text`.
fn failure(kind: &str, message: &str, text: bool) -> TestCaseStatus {
    let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
    status.set_type(kind).set_message(message);
    if text {
        status.set_description(message);
    }
    status
}

fn skipped(message: &str) -> TestCaseStatus {
    let mut status = TestCaseStatus::skipped();
    status.set_message(message);
    status
}

fn case(class: &str, name: &str, status: TestCaseStatus) -> TestCase {
    let mut case = TestCase::new(name, status);
    case.set_classname(class);
    case
}

/// The name of a run's report and of its one suite.
const RUN_SUITE: &str = "numaload run";

/// A run's thresholds (and what of it is not to be trusted) as a JUnit XML document, the text
/// `report` in `<system-out>`.
pub fn render_run(result: &RunResult, untrusted: &[Untrusted], report: &str) -> String {
    let mut suite = TestSuite::new(RUN_SUITE);
    suite.add_properties([
        Property::new("plan", result.plan.name.as_str()),
        Property::new("run", result.run_id.as_str()),
    ]);
    suite.add_test_cases(trust_cases(untrusted));
    for l in &result.layouts {
        let class = format!("numaload.{}", l.name);
        for t in &l.thresholds {
            let value = t.value_text();
            let status = match t.outcome {
                ThresholdOutcome::Pass => TestCaseStatus::success(),
                ThresholdOutcome::Fail => {
                    failure("threshold", &format!("{} crossed: {value}", t.name()), true)
                }
                ThresholdOutcome::Inconclusive => failure(
                    "inconclusive",
                    &format!("{} inconclusive: {value}; {}", t.name(), t.why),
                    true,
                ),
            };
            let mut case = case(&class, &format!("threshold {}", t.name()), status);
            if t.outcome == ThresholdOutcome::Pass {
                case.set_system_out(format!("met: {value}"));
            }
            suite.add_test_case(case);
        }
    }
    suite.set_system_out(report);
    let mut junit = Report::new(RUN_SUITE);
    junit.add_test_suite(suite);
    // Serializing into memory fails only on an I/O error of the writer, and a Vec has none.
    junit
        .to_string()
        .expect("serializing JUnit XML into memory cannot fail")
}

/// The `trusted` testcase of each side not `ok`: failed when refused, passing when allowed.
fn trust_cases(untrusted: &[Untrusted]) -> Vec<TestCase> {
    untrusted
        .iter()
        .map(|u| {
            let class = match &u.layout {
                Some(name) => format!("numaload.{name}"),
                None => "numaload".to_owned(),
            };
            let message = format!("{} ({})", u.message(), u.remedy());
            let name = format!("trusted ({})", u.side);
            if u.allowed {
                let mut case = case(&class, &name, TestCaseStatus::success());
                case.set_system_out(message);
                case
            } else {
                case(&class, &name, failure("untrusted", &message, true))
            }
        })
        .collect()
}

fn cases(c: &Comparison) -> Vec<TestCase> {
    let mut cases = trust_cases(&c.untrusted);
    for l in &c.layouts {
        let class = format!("numaload.{}", l.name);
        for f in &l.figures {
            let values = match (&f.base, &f.new) {
                (Some(b), Some(n)) => format!(
                    "{} → {} ({}{})",
                    f.figure.show(f.shown(b)),
                    f.figure.show(f.shown(n)),
                    f.change_text(),
                    f.interval_text()
                        .map(|i| format!(", 95% interval {i}"))
                        .unwrap_or_default()
                ),
                _ => String::new(),
            };
            let mut out = None;
            let status = match &f.verdict {
                Verdict::NotJudged(why) => skipped(why),
                Verdict::Inconclusive { .. } => failure(
                    "inconclusive",
                    &format!(
                        "{} inconclusive: {values}; {}",
                        f.figure.name(),
                        f.trials_to_decide().unwrap_or_default()
                    ),
                    true,
                ),
                _ if f.regression => failure(
                    "regression",
                    &format!(
                        "{} regressed beyond {}%: {values}{}",
                        f.figure.name(),
                        c.threshold_pct,
                        if f.unreplicated {
                            " (unreplicated: one trial per side)"
                        } else {
                            ""
                        }
                    ),
                    true,
                ),
                v => {
                    out = Some(format!("{}: {values}", v.label()));
                    TestCaseStatus::success()
                }
            };
            let mut case = case(&class, f.figure.name(), status);
            if let Some(out) = out {
                case.set_system_out(out);
            }
            cases.push(case);
        }
    }
    // A layout measured in the base and missing from the new result cannot be judged.
    let (kind, why) = if c.missing().is_empty() {
        ("untrusted", "the new run was cancelled before it ran")
    } else {
        (
            "not-comparable",
            "the two results measure different layouts",
        )
    };
    for name in &c.only_in_base {
        cases.push(case(
            &format!("numaload.{name}"),
            "present",
            failure(
                kind,
                &format!("measured in the base, missing from the new result: {why}"),
                true,
            ),
        ));
    }
    for name in &c.only_in_new {
        cases.push(case(
            &format!("numaload.{name}"),
            "present",
            skipped("only in the new result: not compared"),
        ));
    }
    cases
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comparison(layout: &str) -> Comparison {
        Comparison {
            threshold_pct: 5.0,
            base_run: "base".to_owned(),
            new_run: "new".to_owned(),
            mismatches: vec!["target a<b> vs \"c\"".to_owned()],
            flags: Vec::new(),
            layouts: Vec::new(),
            only_in_base: vec![layout.to_owned()],
            only_in_new: vec!["fresh".to_owned()],
            untrusted: Vec::new(),
        }
    }

    /// Markup characters escaped (the text reads back as it was), characters XML 1.0 cannot
    /// carry dropped, line breaks kept (an XML reader turns one in an attribute into a space).
    #[test]
    fn escapes_for_xml() {
        let cases = [
            ("a<b>&\"c'", "numaload.a<b>&\"c'"),
            ("bell\u{7}", "numaload.bell"),
            ("line\nbreak", "numaload.line break"),
        ];
        for (input, expected) in cases {
            let xml = render(&comparison(input));
            let doc = roxmltree::Document::parse(&xml).expect("well-formed");
            let classes: Vec<_> = doc
                .descendants()
                .filter(|n| n.has_tag_name("testcase"))
                .filter_map(|n| n.attribute("classname"))
                .collect();
            assert_eq!(classes, [expected, "numaload.fresh"], "{xml}");
            if input.contains('\n') {
                assert!(xml.contains("classname=\"numaload.line\nbreak\""), "{xml}");
            }
            let suite = doc
                .descendants()
                .find(|n| n.has_tag_name("testsuite"))
                .expect("suite");
            assert_eq!(suite.attribute("tests"), Some("2"));
            assert_eq!(suite.attribute("failures"), Some("1"));
            assert_eq!(suite.attribute("skipped"), Some("1"));
            assert!(doc
                .descendants()
                .any(|n| n.attribute("value") == Some("target a<b> vs \"c\"")));
        }
    }
}
