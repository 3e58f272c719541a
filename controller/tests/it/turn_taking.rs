//! Each crate's integration tests are one test binary, and its tests take turns (`turns.rs`):
//! a test that loads the machine takes `beside_others`, one that measures takes `alone`. A new
//! test in a module of such tests that took neither would run beside a measuring one and skew
//! it, with nothing to show for it but a flaky figure now and then. So: in every module that
//! takes turns, every test takes one, unless it is named in [`LIGHT`] with why it needs none.

use std::path::Path;

/// Tests in turn-taking modules that load nothing: (file, test, why).
const LIGHT: &[(&str, &str, &str)] = &[
    (
        "controller/tests/it/load_shapes.rs",
        "contradictions_and_bad_shapes_are_one_line_naming_the_key",
        "parses plans in-process",
    ),
    (
        "controller/tests/it/load_shapes.rs",
        "a_plan_of_stages_reads_as_their_sum_and_mean_and_a_trace_has_no_warm_up_unless_given",
        "parses plans in-process",
    ),
    (
        "controller/tests/it/key_paths.rs",
        "no_message_of_the_agent_or_the_controller_names_a_key_in_another_style",
        "reads the sources",
    ),
    (
        "controller/tests/it/key_paths.rs",
        "the_scan_finds_each_other_style",
        "looks at strings",
    ),
    (
        "controller/tests/it/doc_commands/mod.rs",
        "every_document_with_commands_has_its_test_and_the_lists_name_written_commands",
        "reads the documents",
    ),
    (
        "controller/tests/it/doc_commands/mod.rs",
        "serving_commands_and_verdicts_are_told_apart",
        "looks at strings",
    ),
    (
        "controller/tests/it/report_formats.rs",
        "csv_reads_back_in_pythons_csv_module",
        "renders a checked-in result and reads it back with Python",
    ),
    (
        "target-server/tests/it/metrics_promtool.rs",
        "promtool_fails_the_page_on_a_naming_breach",
        "runs promtool on a page written by the test",
    ),
];

const CRATES: &[&str] = &["agent", "controller", "target-server"];

/// The tests of a source file and the text each spans: from its `fn` to the next test
/// attribute (so the helpers after a test count as its own text, which can only let a test
/// pass that should not, never fail one that should pass).
fn tests_of(source: &str) -> Vec<(String, &str)> {
    let starts: Vec<usize> = source
        .match_indices("#[test]")
        .chain(source.match_indices("#[tokio::test"))
        .map(|(at, _)| at)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    starts
        .iter()
        .enumerate()
        .filter_map(|(i, &start)| {
            let end = starts.get(i + 1).copied().unwrap_or(source.len());
            let text = &source[start..end];
            let name = text
                .split("fn ")
                .nth(1)?
                .split('(')
                .next()?
                .trim()
                .to_owned();
            Some((name, text))
        })
        .collect()
}

/// The `.rs` files under `dir`, its folders' too, sorted.
fn rust_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

#[test]
fn in_every_module_that_takes_turns_every_test_takes_one() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut missing = Vec::new();
    let mut light_seen = Vec::new();
    for krate in CRATES {
        let dir = root.join(krate).join("tests/it");
        for file in rust_files(&dir) {
            let name = format!(
                "{krate}/tests/it/{}",
                file.strip_prefix(&dir).expect("under tests/it").display()
            );
            // The turns themselves, the module list, and this check (which quotes both).
            if ["/turns.rs", "/main.rs", "/turn_taking.rs"]
                .iter()
                .any(|skip| name.ends_with(skip))
            {
                continue;
            }
            let source = std::fs::read_to_string(&file).expect("read test module");
            if !source.contains("turns::") {
                continue;
            }
            for (test, text) in tests_of(&source) {
                let light = LIGHT.iter().any(|(f, t, _)| *f == name && *t == test);
                if light {
                    light_seen.push((name.clone(), test));
                } else if !text.contains("turns::") {
                    missing.push(format!("{name}: {test}"));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "tests that take no turn in modules whose tests do (add \
         `let _turn = crate::turns::beside_others();`, or `alone()` if it measures, or name it \
         in LIGHT with why it loads nothing): {missing:?}"
    );
    assert_eq!(
        light_seen.len(),
        LIGHT.len(),
        "a LIGHT entry names no test of a turn-taking module: {light_seen:?}"
    );
}

#[test]
fn tests_are_found_with_their_names_and_text() {
    let source = "use x;\n#[test]\nfn a() {\n    let _turn = turns::alone();\n}\n\n\
                  fn helper() {}\n\n#[tokio::test(flavor = \"current_thread\")]\nasync fn b() {}\n";
    let found = tests_of(source);
    let names: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    assert!(found[0].1.contains("turns::") && found[0].1.contains("helper"));
    assert!(!found[1].1.contains("turns::"));
}
