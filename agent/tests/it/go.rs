//! The Go test server's two builds (pure Go and cgo), made once per test run from
//! `tests/servers/go` with Debian's Go and shared by every module that runs them.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The Go test server's two builds, made once per test run.
pub fn go_servers() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("go-servers");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/servers/go/build.sh");
        let out = std::process::Command::new(script)
            .arg(&dir)
            .output()
            .expect("run tests/servers/go/build.sh");
        assert!(
            out.status.success(),
            "building the Go test server failed (scripts/setup-system.sh installs golang-go): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    })
}
