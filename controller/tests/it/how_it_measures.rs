//! `docs/how-it-measures.md` against the code it explains: its status table names every status
//! a layout can have, in the order of the code, and no other; and the thresholds it states (the
//! late send, a saturated load core, a worker waiting on the server, late sends that make a busy
//! core count, the server-count tolerance, the default `min_delivered`) are the ones the agent
//! and the controller use.

use std::path::Path;

use numaload::plan::DEFAULT_MIN_DELIVERED;
use numaload::result::LayoutStatus;
use numaload::trust;

fn page() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/how-it-measures.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The first cell of each row of the table under `## Statuses`: `ok` of `` | `ok` | ... ``.
fn statuses(page: &str) -> Vec<String> {
    let mut lines = page.lines();
    lines
        .by_ref()
        .find(|l| *l == "## Statuses")
        .expect("a ## Statuses section");
    lines
        .take_while(|l| !l.starts_with("## "))
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_owned)
        .collect()
}

/// The row of the status table for `status`.
fn row<'a>(page: &'a str, status: &str) -> &'a str {
    let start = format!("| `{status}` |");
    page.lines()
        .find(|l| l.starts_with(&start))
        .unwrap_or_else(|| panic!("no row for `{status}`"))
}

fn percent(share: f64) -> String {
    format!("{}%", (share * 100.0).round())
}

#[test]
fn the_status_table_names_every_status_of_the_code_in_its_order() {
    let all = [
        LayoutStatus::Ok,
        LayoutStatus::Suspect,
        LayoutStatus::Incomplete,
        LayoutStatus::Degraded,
        LayoutStatus::Failed,
    ];
    let words: Vec<&str> = all.iter().map(|s| s.as_str()).collect();
    // Every word the code reads back is one of these: a status added to the code and not here
    // fails the parse check below.
    for word in &words {
        assert!(LayoutStatus::parse(word).is_some(), "{word}");
    }
    assert_eq!(statuses(&page()), words);
}

#[test]
fn the_thresholds_the_page_states_are_the_code_s() {
    let page = page();
    let late = numaload_agent::loadgen::LATE_SEND;
    assert_eq!(
        late.as_millis(),
        1,
        "the page says 1 ms; change it with the constant"
    );
    assert!(
        page.contains("a send more than 1 ms behind its time counts as a **late send**"),
        "the late-send definition"
    );
    let suspect = row(&page, "suspect");
    for (what, share) in [
        ("a saturated load core", trust::SATURATED_BUSY),
        ("a worker waiting on the server", trust::WAITED_ON_SERVER),
        (
            "late sends that make a busy core count",
            trust::FELL_BEHIND_LATE,
        ),
        ("the server-count tolerance", trust::COUNT_TOLERANCE),
    ] {
        let said = percent(share);
        assert!(
            suspect.contains(&said),
            "{what}: {said} is not in the suspect row: {suspect}"
        );
    }
    assert!(suspect.contains(&format!(
        "more than {} busy",
        percent(trust::SATURATED_BUSY)
    )));
    assert!(suspect.contains(&format!(
        "{} of the time or more",
        percent(trust::WAITED_ON_SERVER)
    )));
    assert!(suspect.contains(&format!(
        "disagrees with the generator's by more than {}",
        percent(trust::COUNT_TOLERANCE)
    )));
    let incomplete = row(&page, "incomplete");
    assert!(
        incomplete.contains(&format!("(default {})", percent(DEFAULT_MIN_DELIVERED))),
        "{incomplete}"
    );
}
