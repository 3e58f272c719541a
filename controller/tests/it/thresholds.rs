//! `[thresholds]` through the binary: a real short run of the built-in target with one
//! threshold it meets and one it cannot (no HTTP round trip is under a microsecond) exits 1,
//! lists both in the report and the result (valid against the schema), and `--junit` writes one
//! testcase per threshold, the crossed one failed.

use crate::common::{self, OpenPlan};

#[test]
fn a_crossed_threshold_is_exit_1_with_a_junit_case_per_threshold() {
    let _turn = crate::turns::beside_others();
    let dir = common::scratch("thresholds", "crossed");
    let plan = OpenPlan {
        name: "thresholds",
        duration: "1500ms",
        warmup: "300ms",
        ..OpenPlan::default()
    }
    .toml()
        + "[thresholds]\nerror_rate = \"< 50%\"\n[thresholds.layouts.single]\nmax = \"< 1us\"\n";
    let plan = common::write_plan(&dir, &plan);
    let (out, junit) = (dir.join("result.json"), dir.join("junit.xml"));
    let run = common::numaload(&[
        "run",
        plan.to_str().expect("utf8"),
        "--quiet",
        // A loaded machine may make the generator's layout suspect: the thresholds are the
        // subject here, and a suspect layout still has its figures checked.
        "--allow-suspect",
        "--out",
        out.to_str().expect("utf8"),
        "--junit",
        junit.to_str().expect("utf8"),
    ]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr),
    );
    let result = common::read_json(&out);
    let layout = common::layout(&result, "single");
    assert!(
        matches!(layout["status"].as_str(), Some("ok" | "suspect")),
        "the layout must be measured and delivered for its thresholds to decide: {}",
        layout["status"]
    );
    assert_eq!(run.status.code(), Some(1), "{stdout}{stderr}");
    common::assert_matches_schema(&result);
    assert_eq!(result["plan"]["thresholds"]["error_rate"], "< 50%");
    let checked: Vec<(&str, &str, &str)> = layout["thresholds"]
        .as_array()
        .expect("thresholds")
        .iter()
        .map(|t| {
            (
                t["metric"].as_str().expect("metric"),
                t["scope"].as_str().expect("scope"),
                t["outcome"].as_str().expect("outcome"),
            )
        })
        .collect();
    assert_eq!(
        checked,
        [("max", "layout", "fail"), ("error_rate", "plan", "pass")]
    );
    let max = &layout["thresholds"][0];
    assert_eq!(
        max["value"],
        layout["latency_ns"]["max"].as_f64().expect("max")
    );
    assert!(
        stdout.contains("Thresholds: 1 crossed (exit 1), 1 met.") && stdout.contains("max < 1us"),
        "{stdout}"
    );
    assert!(
        stderr.contains("threshold crossed (exit 1): layout \"single\" max < 1us"),
        "{stderr}"
    );

    common::assert_valid_junit(&junit);
    let xml = std::fs::read_to_string(&junit).expect("junit");
    let doc = roxmltree::Document::parse(&xml).expect("well-formed");
    let cases: Vec<(&str, bool)> = doc
        .descendants()
        .filter(|n| {
            n.has_tag_name("testcase") && n.attribute("classname") == Some("numaload.single")
        })
        .filter(|n| {
            n.attribute("name")
                .is_some_and(|name| name.starts_with("threshold "))
        })
        .map(|n| {
            let failed = n
                .children()
                .any(|c| c.has_tag_name("failure") && c.attribute("type") == Some("threshold"));
            (n.attribute("name").expect("name"), failed)
        })
        .collect();
    assert_eq!(
        cases,
        [
            ("threshold max < 1us", true),
            ("threshold error_rate < 50%", false)
        ],
        "{xml}"
    );
}
