//! The Go test server's two builds (pure Go and cgo), made from `tests/servers/go` with Debian's
//! Go by its `build.sh`.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The directory holding `go-server` and `go-server-cgo`, built into `go-servers` under
/// `target_tmpdir` (a test passes its `env!("CARGO_TARGET_TMPDIR")`) by the first call in this
/// test binary; later calls wait for that build and get the same directory. The Go build cache
/// is `go-build-cache` there, shared by every test binary (Go locks it). Fails the test,
/// with the build's words, when Go (or, for the cgo build, a C compiler) is missing.
pub fn go_servers(target_tmpdir: &str) -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(target_tmpdir).join("go-servers");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/servers/go/build.sh");
        let out = std::process::Command::new(script)
            .arg(&dir)
            .env("GOCACHE", Path::new(target_tmpdir).join("go-build-cache"))
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
