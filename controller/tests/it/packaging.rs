//! What `make deb` and `deploy/Containerfile` take from the binary and the repository, checked
//! without building either (tests/package/run.sh builds and installs the package, and runs the
//! image's file system in a chroot):
//!
//! - `numaload --version` names the version, the commit and the dirty flag;
//! - `numaload completions SHELL` and `numaload manpages DIR` write what the package ships, a
//!   man page for every visible subcommand;
//! - the packaged agent configuration is one the agent accepts;
//! - the Containerfile builds the image the DaemonSet and the Job run, labelled with version and
//!   commit, running as the DaemonSet's user, from an empty base.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize as _;

const BIN: &str = env!("CARGO_BIN_EXE_numaload");
const VERSION: &str = env!("CARGO_PKG_VERSION");

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(relative: &str) -> String {
    let path = repo().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn numaload(args: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(args)
        .output()
        .expect("running numaload");
    assert!(
        out.status.success(),
        "numaload {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn version_names_the_commit_and_the_dirty_flag() {
    let out = numaload(&["--version"]);
    let line = out.trim_end();
    let rest = line
        .strip_prefix(&format!("numaload {VERSION} (commit "))
        .unwrap_or_else(|| panic!("--version: {line}"));
    let inner = rest
        .strip_suffix(')')
        .unwrap_or_else(|| panic!("--version: {line}"));
    match inner.split_once(", ") {
        Some((commit, flag)) => {
            assert!(
                commit.len() == 12 && commit.chars().all(|c| c.is_ascii_hexdigit()),
                "--version: commit {commit:?} in {line}"
            );
            assert!(flag == "clean" || flag == "dirty", "--version: {line}");
        }
        None => assert_eq!(inner, "unknown", "--version: {line}"),
    }
}

#[test]
fn completions_for_each_packaged_shell() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef numaload"),
        ("fish", "complete -c numaload"),
    ] {
        let script = numaload(&["completions", shell]);
        assert!(script.contains(marker), "{shell}: no {marker:?}");
        assert!(script.contains("topology"), "{shell}: subcommands missing");
    }
}

/// The visible subcommands, from `numaload --help`.
fn subcommands() -> Vec<String> {
    let help = numaload(&["--help"]);
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_man_page_for_numaload_and_every_subcommand() {
    let dir = std::env::temp_dir().join(format!("numaload-man-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    numaload(&["manpages", dir.to_str().expect("utf-8 temp dir")]);
    let commands = subcommands();
    assert!(commands.len() >= 9, "--help lists only {commands:?}");
    assert!(
        !commands.iter().any(|c| c == "manpages"),
        "manpages is hidden"
    );
    let mut expected: Vec<String> = commands.iter().map(|c| format!("numaload-{c}.1")).collect();
    expected.push("numaload.1".to_owned());
    expected.sort();
    let mut written: Vec<String> = std::fs::read_dir(&dir)
        .expect("man dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    let pages: std::collections::BTreeMap<String, String> = written
        .iter()
        .map(|name| {
            let text = std::fs::read_to_string(dir.join(name)).expect("man page");
            (name.clone(), text)
        })
        .collect();
    let run_page = &pages["numaload-run.1"];
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(written, expected);
    assert!(
        run_page.contains("\n.TH numaload-run 1 "),
        "numaload-run.1: no title"
    );
    assert!(
        run_page.contains("tls\\-dir"),
        "numaload-run.1 lacks --tls-dir"
    );
    for page in ["numaload.1", "numaload-run.1", "numaload-plan.1"] {
        let text = &pages[page];
        let see_also = text
            .split_once(".SH \"SEE ALSO\"")
            .unwrap_or_else(|| panic!("{page}: no SEE ALSO section"))
            .1;
        for says in [
            "/usr/share/doc/numaload/docs/cli.md",
            "/usr/share/doc/numaload/docs/plan.md",
            "/usr/share/doc/numaload/docs/agent\\-config.md",
            "/usr/share/doc/numaload/examples/",
        ] {
            assert!(see_also.contains(says), "{page}: SEE ALSO lacks {says}");
        }
    }
}

/// The package ships README.md, BENCHMARKS.md, docs/ and examples/ where the man pages say
/// they are: `[package.metadata.deb]` assets, paths relative to controller/.
#[test]
fn the_package_ships_the_docs_and_examples_the_man_pages_point_to() {
    let manifest: toml::Table = toml::from_str(&read("controller/Cargo.toml")).expect("TOML");
    let assets = manifest["package"]["metadata"]["deb"]["assets"]
        .as_array()
        .expect("assets");
    let pairs: Vec<(&str, &str)> = assets
        .iter()
        .filter_map(|a| Some((a.get(0)?.as_str()?, a.get(1)?.as_str()?)))
        .collect();
    for (source, target) in [
        ("../README.md", "usr/share/doc/numaload/"),
        ("../BENCHMARKS.md", "usr/share/doc/numaload/"),
        ("../docs/*.md", "usr/share/doc/numaload/docs/"),
        ("../examples/**/*", "usr/share/doc/numaload/examples/"),
    ] {
        assert!(
            pairs.contains(&(source, target)),
            "no asset {source} -> {target}: {pairs:?}"
        );
    }
    // Every page docs/ has is Markdown (the glob ships *.md only).
    for entry in std::fs::read_dir(repo().join("docs")).expect("docs/") {
        let path = entry.expect("entry").path();
        assert!(
            path.extension().is_some_and(|e| e == "md"),
            "{}: docs/*.md would not ship it",
            path.display()
        );
    }
}

#[test]
fn the_packaged_agent_configuration_is_accepted() {
    let file = "deploy/debian/agent.toml";
    let parsed = numaload_agent::config::ConfigFile::parse(&read(file))
        .unwrap_or_else(|e| panic!("{file}: {e}"));
    // As shipped it changes nothing: the built-in targets, the default limits.
    assert!(parsed.targets.is_empty(), "{file}: shipped with targets");
    let builtin = numaload_agent::config::AgentConfig::builtin(Path::new("/usr/bin/numaload"));
    let applied = parsed.apply(builtin.clone());
    assert_eq!(
        applied.limits, builtin.limits,
        "{file}: not the default limits"
    );
    assert!(
        parsed.listen.is_none() && parsed.tls_dir.is_none(),
        "{file}: the unit sets them"
    );
}

/// The `# image: NAME` line of the Containerfile.
fn containerfile_image(text: &str) -> &str {
    text.lines()
        .find_map(|l| l.strip_prefix("# image: "))
        .expect("deploy/Containerfile: no '# image: NAME' line")
        .trim()
}

#[test]
fn the_containerfile_builds_the_image_the_manifests_run() {
    let file = "deploy/Containerfile";
    let text = read(file);
    let image = containerfile_image(&text);
    assert!(
        image.ends_with(&format!(":{VERSION}")),
        "{file}: image {image} is not tagged with the crate version {VERSION}"
    );
    assert!(
        text.contains(&format!("-t {image} .")),
        "{file}: the build command does not tag {image}"
    );
    let froms: Vec<&str> = text.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(froms.len(), 2, "{file}: a build stage and a runtime stage");
    assert!(froms[0].ends_with(" AS build"), "{file}: {}", froms[0]);
    assert_eq!(
        froms[1], "FROM scratch AS runtime",
        "{file}: a slim runtime"
    );
    let runtime = &text[text.find(froms[1]).expect("runtime stage")..];
    assert!(runtime.contains("COPY --from=build /rootfs/ /"), "{file}");
    assert!(text.contains("deploy/container/rootfs.sh target/release/numaload /rootfs"));
    for label in [
        "org.opencontainers.image.version=\"${VERSION}\"",
        "org.opencontainers.image.revision=\"${GIT_COMMIT}\"",
    ] {
        assert!(runtime.contains(label), "{file}: no label {label}");
    }
    let user = runtime
        .lines()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("USER");
    let arg_version = runtime
        .lines()
        .find_map(|l| l.strip_prefix("ARG VERSION="))
        .expect("ARG VERSION=");
    assert_eq!(arg_version, VERSION, "{file}: ARG VERSION default");

    for manifest in [
        "deploy/kubernetes/agent-daemonset.yaml",
        "deploy/kubernetes/controller-job.yaml",
    ] {
        let text = read(manifest);
        for doc in serde_norway::Deserializer::from_str(&text) {
            let doc = serde_norway::Value::deserialize(doc).expect("yaml");
            let Some(pod) = doc.get("spec").and_then(|s| s.get("template")) else {
                continue;
            };
            let pod = &pod["spec"];
            let container = &pod["containers"][0];
            assert_eq!(container["image"].as_str(), Some(image), "{manifest}");
            let uid = pod["securityContext"]["runAsUser"]
                .as_u64()
                .expect("runAsUser");
            let gid = pod["securityContext"]["runAsGroup"]
                .as_u64()
                .expect("runAsGroup");
            assert_eq!(user, format!("{uid}:{gid}"), "{file}: USER vs {manifest}");
        }
    }
}
