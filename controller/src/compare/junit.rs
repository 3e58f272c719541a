//! JUnit XML for CI systems: one `<testcase>` per layout × figure (class `numaload.<layout>`),
//! a `<failure>` for each regression, `<skipped>` for a figure not judged (too few samples, a
//! layout failed on a side). A layout measured in the base but failed in the new result is a
//! failed `measured` testcase; a layout on one side only is a skipped `present` testcase.
//! Mismatched plans or hosts and reasons for caution go in `<properties>` and `<system-out>`,
//! with the full text report.

use std::fmt::Write as _;

use super::{text, Comparison, Verdict};

/// Renders the comparison as a JUnit XML document.
pub fn render(c: &Comparison) -> String {
    render_with_text(c, &text::render(c))
}

/// [`render`] with another full text report in `<system-out>` (the rolling-baseline gate's).
pub fn render_with_text(c: &Comparison, report: &str) -> String {
    let mut cases = String::new();
    let (mut tests, mut failures, mut skipped) = (0usize, 0usize, 0usize);
    for l in &c.layouts {
        let class = format!("numaload.{}", l.name);
        if let Some(error) = &l.failed_now {
            tests += 1;
            failures += 1;
            let _ = writeln!(
                cases,
                r#"    <testcase classname="{}" name="measured"><failure type="layout-failed" message="{}"/></testcase>"#,
                esc(&class),
                esc(&format!(
                    "measured in the base, FAILED in the new result: {error}"
                ))
            );
        }
        for f in &l.figures {
            tests += 1;
            let _ = write!(
                cases,
                r#"    <testcase classname="{}" name="{}">"#,
                esc(&class),
                esc(f.figure.name())
            );
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
            match &f.verdict {
                Verdict::NotJudged(why) => {
                    skipped += 1;
                    let _ = write!(cases, r#"<skipped message="{}"/>"#, esc(why));
                }
                Verdict::Inconclusive { trials_needed } => {
                    failures += 1;
                    let message = format!(
                        "{} inconclusive: {values}; about {trials_needed} trials a side would decide it",
                        f.figure.name()
                    );
                    let _ = write!(
                        cases,
                        r#"<failure type="inconclusive" message="{}">{}</failure>"#,
                        esc(&message),
                        esc(&message)
                    );
                }
                _ if f.regression => {
                    failures += 1;
                    let message = format!(
                        "{} regressed beyond {}%: {values}{}",
                        f.figure.name(),
                        c.threshold_pct,
                        if f.unreplicated {
                            " (unreplicated: one trial per side)"
                        } else {
                            ""
                        }
                    );
                    let _ = write!(
                        cases,
                        r#"<failure type="regression" message="{}">{}</failure>"#,
                        esc(&message),
                        esc(&message)
                    );
                }
                v => {
                    let _ = write!(
                        cases,
                        "<system-out>{}</system-out>",
                        esc(&format!("{}: {values}", v.label()))
                    );
                }
            }
            cases.push_str("</testcase>\n");
        }
    }
    // A layout measured in the base and missing from the new result is a regression.
    for name in &c.only_in_base {
        tests += 1;
        failures += 1;
        let message = "measured in the base, missing from the new result";
        let _ = writeln!(
            cases,
            r#"    <testcase classname="{}" name="present"><failure type="regression" message="{message}">{message}</failure></testcase>"#,
            esc(&format!("numaload.{name}")),
        );
    }
    for name in &c.only_in_new {
        tests += 1;
        skipped += 1;
        let _ = writeln!(
            cases,
            r#"    <testcase classname="{}" name="present"><skipped message="only in the new result: not compared"/></testcase>"#,
            esc(&format!("numaload.{name}")),
        );
    }
    let mut properties = vec![
        ("max_regression_pct".to_owned(), c.threshold_pct.to_string()),
        ("unreplicated".to_owned(), c.unreplicated().to_string()),
        ("base".to_owned(), c.base_run.clone()),
        ("new".to_owned(), c.new_run.clone()),
    ];
    properties.extend(
        c.mismatches
            .iter()
            .map(|m| ("not_like_for_like".to_owned(), m.clone())),
    );
    let props: String = properties
        .iter()
        .map(|(k, v)| format!(r#"      <property name="{}" value="{}"/>"#, esc(k), esc(v)) + "\n")
        .collect();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <testsuites name=\"numaload compare\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\">\n\
         \x20 <testsuite name=\"numaload compare\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\">\n\
         \x20   <properties>\n{props}    </properties>\n\
         {cases}\
         \x20   <system-out>{}</system-out>\n\
         \x20 </testsuite>\n\
         </testsuites>\n",
        esc(report)
    )
}

/// Escapes text for XML content and attributes, dropping characters XML 1.0 cannot carry.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_for_xml() {
        let cases = [
            ("a<b>&\"c'", "a&lt;b&gt;&amp;&quot;c&apos;"),
            ("bell\u{7}", "bell"),
            ("line\nbreak", "line\nbreak"),
        ];
        for (input, expected) in cases {
            assert_eq!(esc(input), expected);
        }
    }
}
