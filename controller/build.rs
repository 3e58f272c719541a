//! Names the build for `numaload --version` and the agents' `Describe`: the git commit and
//! whether tracked files differed from it, as `NUMALOAD_GIT_COMMIT` and the whole
//! `NUMALOAD_VERSION_LONG` (`0.1.0 (commit 473e2bd1a2b3, clean)`; read by `src/version.rs`).
//!
//! Outside a git checkout (a source tarball, a container build context without `.git`) both come
//! from the environment variables of the same names when set (a packager who knows the commit),
//! else the commit is `unknown` and the dirty flag empty: the build never fails for want of git.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    println!("cargo:rerun-if-env-changed=NUMALOAD_GIT_COMMIT");
    println!("cargo:rerun-if-env-changed=NUMALOAD_GIT_DIRTY");
    let (commit, dirty) = match from_git(&manifest) {
        Some(found) => found,
        None => (
            env_or("NUMALOAD_GIT_COMMIT", "unknown"),
            env_or("NUMALOAD_GIT_DIRTY", ""),
        ),
    };
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    let long = match dirty.as_str() {
        "true" => format!("{version} (commit {commit}, dirty)"),
        "false" => format!("{version} (commit {commit}, clean)"),
        _ => format!("{version} (commit {commit})"),
    };
    println!("cargo:rustc-env=NUMALOAD_GIT_COMMIT={commit}");
    println!("cargo:rustc-env=NUMALOAD_VERSION_LONG={long}");
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// The commit and "true"/"false", or `None` when `dir` is not in a git work tree (or no git).
fn from_git(dir: &Path) -> Option<(String, String)> {
    let commit = git(dir, &["rev-parse", "--short=12", "HEAD"])?;
    watch_git(dir);
    // Tracked files only: stray untracked files (a saved output) do not change what is built.
    let status = git(dir, &["status", "--porcelain", "--untracked-files=no"])?;
    Some((commit, (!status.is_empty()).to_string()))
}

/// Reruns this script when HEAD moves, the index changes, or a workspace source file changes
/// (an edit makes the tree dirty without touching `.git`). Not the whole workspace: `target/`
/// changes on every build.
fn watch_git(dir: &Path) {
    for args in [
        &["rev-parse", "--git-path", "HEAD"][..],
        &["rev-parse", "--git-path", "index"],
        &["rev-parse", "--git-path", "packed-refs"],
        &["rev-parse", "--symbolic-full-name", "HEAD"],
    ] {
        let Some(out) = git(dir, args) else { continue };
        let path = if out.starts_with("refs/") {
            match git(dir, &["rev-parse", "--git-path", &out]) {
                Some(p) => p,
                None => continue,
            }
        } else {
            out
        };
        // A path that does not exist would rerun the script on every build.
        let path = dir.join(path);
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    let root = dir.join("..");
    for source in [
        "Cargo.toml",
        "Cargo.lock",
        "controller",
        "agent/src",
        "agent/Cargo.toml",
        "proto/src",
        "proto/Cargo.toml",
        "cgroup/src",
        "cgroup/Cargo.toml",
        "target-server/src",
        "target-server/Cargo.toml",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(source).display());
    }
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    Some(String::from_utf8(out.stdout).ok()?.trim().to_owned())
}
