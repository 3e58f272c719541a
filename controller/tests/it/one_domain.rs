//! On hosts with one NUMA domain, layouts that differ only in NUMA placement place alike: `run`
//! says so before it starts, and the result notes it on each of them. On a host with several
//! domains neither is said.

use crate::common::{self, read_json, OpenPlan, BIN, LAYOUT_PER_NODE, LAYOUT_SINGLE};

/// Two worker threads: not a NUMA placement, so never alike with the other two.
const LAYOUT_TWO: &str = "[[layouts]]\nname = \"two\"\nreplicas = 1\nthreads = 2\n";

#[test]
fn run_says_at_the_start_and_notes_on_each_layout_when_numa_cannot_differ() {
    let _turn = crate::turns::beside_others();
    let dir = common::scratch("one-domain", "run");
    let plan = OpenPlan {
        name: "one-domain",
        duration: "1s",
        warmup: "200ms",
        rate: 200,
        layouts: &[LAYOUT_SINGLE, LAYOUT_PER_NODE, LAYOUT_TWO],
        ..OpenPlan::default()
    }
    .write(&dir);
    let out = dir.join("result.json");
    let run = std::process::Command::new(BIN)
        .arg("run")
        .arg(&plan)
        .arg("--quiet")
        .arg("--out")
        .arg(&out)
        .output()
        .expect("run numaload");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(matches!(run.status.code(), Some(0 | 4)), "{stderr}");
    let result = read_json(&out);
    let one_domain = result["host"]["numa_domains"] == 1;
    let notice = stderr
        .lines()
        .position(|l| l.contains("have one NUMA domain: single and per-node differ only in NUMA"));
    let note = |layout: &str| -> Vec<String> {
        common::layout(&result, layout)["notes"]
            .as_array()
            .expect("notes")
            .iter()
            .filter_map(|n| n.as_str())
            .filter(|n| n.contains("on hosts with one NUMA domain"))
            .map(str::to_owned)
            .collect()
    };
    if one_domain {
        assert_eq!(notice, Some(0), "the first line of the run: {stderr}");
        assert_eq!(
            note("single"),
            [
                "on hosts with one NUMA domain this layout places as per-node does: they differ \
              only in NUMA placement, so a difference between them here is not a NUMA effect"
            ]
        );
        assert!(note("per-node")[0].contains("places as single does"));
        let report = String::from_utf8_lossy(&run.stdout);
        assert!(
            report.contains("note         on hosts with one NUMA domain"),
            "{report}"
        );
    } else {
        assert_eq!(notice, None, "{stderr}");
        assert!(note("single").is_empty() && note("per-node").is_empty());
    }
    assert!(
        note("two").is_empty(),
        "two threads are not a NUMA placement"
    );
}
