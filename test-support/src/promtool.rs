//! Prometheus's `promtool` (Debian package `prometheus`, which scripts/setup-system.sh installs):
//! `check metrics` on a page, `test rules`, `check config`. When it is missing the test fails,
//! saying how to get it: a skipped check would look like a passed one.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// `$PROMTOOL` if set, else the first `promtool` on `$PATH`.
pub fn path() -> PathBuf {
    if let Some(path) = std::env::var_os("PROMTOOL") {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "PROMTOOL={} is not a file: point it at promtool (Debian package `prometheus`)",
            path.display()
        );
        return path;
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("promtool"))
        .find(|path| path.is_file())
        .unwrap_or_else(|| {
            panic!(
                "promtool not found on PATH (nor in $PROMTOOL): this test checks its files with \
                 the real Prometheus toolchain; install it with `apt-get install prometheus` \
                 (Debian) or point PROMTOOL at the binary"
            )
        })
}

/// Runs promtool with `args` in `dir`, `input` on its stdin: whether it passed, and its exit
/// status followed by what it wrote on stdout and stderr.
pub fn run(dir: &Path, args: &[&str], input: &str) -> (bool, String) {
    let promtool = path();
    let mut child = Command::new(&promtool)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("running {}: {e}", promtool.display()));
    let mut stdin = child.stdin.take().expect("promtool's stdin is piped");
    stdin
        .write_all(input.as_bytes())
        .expect("write the input to promtool");
    drop(stdin);
    let output = child.wait_with_output().expect("promtool output");
    let said = format!(
        "({}) {}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    (output.status.success(), said)
}

/// `promtool check metrics` on `page`: whether it passed (parsed, and no lint problem), and
/// what it said.
pub fn check_metrics(page: &str) -> (bool, String) {
    run(Path::new("."), &["check", "metrics"], page)
}

/// `promtool check metrics` on `page`; fails the test with promtool's words and the page on any
/// parse error or lint problem.
pub fn assert_metrics_pass(page: &str) {
    let (ok, said) = check_metrics(page);
    assert!(
        ok,
        "promtool check metrics failed:\n{said}\n--- page ---\n{page}"
    );
}
