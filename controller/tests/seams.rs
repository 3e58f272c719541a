//! The crate graph the design asks for: the controller library depends on proto only. The
//! `numaload` package also carries the binary, which needs the agent and target crates, so
//! Cargo cannot enforce this: this test does. Only `main.rs` and `roles/` may name them.

use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "roles") {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("main.rs") {
            out.push(path);
        }
    }
}

#[test]
fn the_controller_library_never_names_the_agent_or_the_target() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 5, "found only {files:?}");
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read");
        for forbidden in ["numaload_agent", "numaload_target"] {
            assert!(
                !text.contains(forbidden),
                "{} names {forbidden}",
                file.display()
            );
        }
    }
}
