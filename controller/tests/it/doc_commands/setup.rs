//! Where each document's commands are typed: a scratch directory that looks like what the
//! document's reader has in front of them, and nothing more.
//!
//! Every scratch directory has `examples/` and `tests/` of this repository (links: the
//! commands read them as a reader in a clone does), `numaload` first on the `PATH` (this build),
//! `GOCACHE` pointing at a cache kept between tests (a Go user has one; the Go build is the
//! same, only faster the second time) and `NUMALOAD_SET` shortening every plan
//! (`docs/cli.md#environment`): every documented plan runs, each layout for one second. On
//! top of that, per document, the files its text says the reader has made (a plan and agent
//! configuration of their own, an earlier result, a saved topology, a server of their own, a
//! git checkout for `$(git rev-parse ...)`), servers the text assumes are running, and what a
//! reader puts in place of an example value (their server's path or pid).

use std::path::{Path, PathBuf};

use numaload_test_support::{doc_commands, go_servers};

use super::session::Ready;
use crate::common::{manifest, scratch, BIN};

/// The plan values every documented run gets from the environment (`NUMALOAD_SET`).
pub const SHORTER: &str = "load.duration=1s load.warmup=200ms repeat=1";

/// Where a document's commands are typed.
pub struct Place {
    pub dir: PathBuf,
    pub env: Vec<(String, String)>,
    /// Typed before the document's commands: each runs to its end (exit 0), or, with a
    /// [`Ready`], is left serving in the background.
    pub before: Vec<Before>,
    /// `(written, typed)`: what a reader types in place of an example value.
    pub substitutions: Vec<(String, String)>,
}

pub struct Before {
    pub command: String,
    pub serves: Option<Ready>,
    /// The example pid of the document this job's pid stands in for.
    pub pid_for: Option<&'static str>,
}

impl Before {
    fn run(command: impl Into<String>) -> Self {
        Before {
            command: command.into(),
            serves: None,
            pid_for: None,
        }
    }
}

/// The place for the document at `path` (from the repository's root).
pub fn place(path: &str) -> Place {
    let dir = scratch("doc-commands", &path.replace('/', "-"));
    for linked in ["examples", "tests"] {
        std::os::unix::fs::symlink(manifest(&format!("../{linked}")), dir.join(linked))
            .expect("link the source tree");
    }
    let bin = dir.join(".bin");
    std::fs::create_dir_all(&bin).expect(".bin");
    std::os::unix::fs::symlink(BIN, bin.join("numaload")).expect("numaload on the PATH");
    let path_var = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let go_cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("go-build-cache");
    let env = vec![
        ("PATH".to_owned(), path_var),
        ("GOCACHE".to_owned(), go_cache.display().to_string()),
        ("NUMALOAD_SET".to_owned(), SHORTER.to_owned()),
    ];
    let mut place = Place {
        dir,
        env,
        before: Vec::new(),
        substitutions: Vec::new(),
    };
    match path {
        "README.md" => readme(&mut place),
        "docs/ci.md" => {
            copy("examples/quickstart.toml", &place.dir.join("plan.toml"));
            git_checkout(&place.dir);
            // The baseline file of "Against a baseline file": an earlier run of the plan.
            place.before.push(Before::run(
                "numaload run plan.toml --out baseline.json --quiet",
            ));
        }
        "docs/cli.md" => cli(&mut place),
        "docs/servers.md" => {
            place
                .substitutions
                .push(("/opt/api/server".to_owned(), go_server()));
        }
        "examples/layouts.toml" => saved_topology(&place.dir),
        // A trace makes the window (a duration beside it is refused): the example's is 1 s.
        "examples/replay.toml" => {
            for (key, value) in &mut place.env {
                if key == "NUMALOAD_SET" {
                    "repeat=1".clone_into(value);
                }
            }
        }
        "examples/your-service.toml" => {
            let example = manifest("../examples/your-service.toml");
            let header = header_toml(&std::fs::read_to_string(example).expect("read"));
            assert!(header.contains("[targets.mine]"), "{header}");
            std::fs::write(place.dir.join("agent.toml"), header).expect("agent.toml");
        }
        // The commands of these need nothing but the source tree.
        "docs/fleet.md"
        | "docs/installing.md"
        | "examples/ffi-storm.toml"
        | "examples/quickstart.toml"
        | "examples/go-server/agent.toml"
        | "examples/go-server/plan.toml"
        | "examples/nginx/agent.toml"
        | "examples/nginx/plan.toml" => {}
        other => panic!(
            "{other} holds commands: say in doc_commands/setup.rs what its reader has in front \
             of them"
        ),
    }
    place
}

/// The Go test server, built from `tests/servers/go` (what a reader's own server stands for).
fn go_server() -> String {
    go_servers(env!("CARGO_TARGET_TMPDIR"))
        .join("go-server")
        .display()
        .to_string()
}

fn copy(from_repository: &str, to: &Path) {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).expect("parent dir");
    }
    std::fs::copy(manifest(&format!("../{from_repository}")), to)
        .unwrap_or_else(|e| panic!("copy {from_repository}: {e}"));
}

/// A git repository with one commit, as a CI checkout is.
fn git_checkout(dir: &Path) {
    for args in [
        &["init", "-q"][..],
        &[
            "-c",
            "user.name=reader",
            "-c",
            "user.email=reader@example.invalid",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "a commit",
        ],
    ] {
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("run git");
        assert!(out.status.success(), "git {args:?}: {out:?}");
    }
}

/// `host.xml`, "a host saved with `lstopo host.xml`": a 64-PU host with 8 NUMA nodes.
fn saved_topology(dir: &Path) {
    std::fs::copy(
        manifest("../agent/tests/fixtures/topologies/64amd64-4s2n4ca2co.xml"),
        dir.join("host.xml"),
    )
    .expect("host.xml");
}

/// The TOML lines of an example's header (`#   key = value` and `#   [table]`), as a file.
fn header_toml(text: &str) -> String {
    text.lines()
        .map_while(|l| l.strip_prefix('#'))
        .filter_map(|l| l.strip_prefix("   "))
        .filter(|l| l.starts_with('[') || l.contains(" = "))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// README.md: "Your service in three files" written as the reader writes them, with their
/// server (the Go test server) in place of `/opt/api/server`, in the working directory and
/// in `ci/` (the CI section runs the same pair from there), in a git checkout.
fn readme(place: &mut Place) {
    let readme = std::fs::read_to_string(manifest("../README.md")).expect("README.md");
    let toml = doc_commands::fenced(&readme, "toml");
    let [agent, plan, ..] = toml.as_slice() else {
        panic!("README.md's first two TOML blocks are agent.toml and plan.toml");
    };
    assert!(agent.contains("[targets.api]") && agent.contains("\"/opt/api/server\""));
    let agent = agent.replace("/opt/api/server", &go_server());
    for dir in [place.dir.clone(), place.dir.join("ci")] {
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(dir.join("agent.toml"), &agent).expect("agent.toml");
        std::fs::write(dir.join("plan.toml"), plan).expect("plan.toml");
    }
    git_checkout(&place.dir);
}

/// docs/cli.md: the Go test server built where the go-server example expects it, a plan and
/// agent configuration of the reader's own (the go-server pair), their server as
/// `./my-server`, two results to compare (the newer one kept in the store `history.db`), a
/// saved topology, and an nginx running (what `numaload watch` watches: its pid stands for
/// `4242`).
fn cli(place: &mut Place) {
    let dir = place.dir.clone();
    // The go-server pair's prerequisite, as its header and README.md say.
    place.before.push(Before::run(
        "tests/servers/go/build.sh /usr/local/lib/numaload",
    ));
    copy("examples/go-server/plan.toml", &dir.join("plan.toml"));
    copy("examples/go-server/agent.toml", &dir.join("agent.toml"));
    std::fs::copy(go_server(), dir.join("my-server")).expect("./my-server");
    saved_topology(&dir);
    copy(
        "controller/tests/fixtures/quickstart-result.json",
        &dir.join("baseline.json"),
    );
    place.before.push(Before::run(
        "numaload run examples/quickstart.toml --out new.json --store history.db --quiet",
    ));
    let port = free_port();
    let nginx = dir.join("nginx");
    std::fs::create_dir_all(&nginx).expect("nginx dir");
    std::fs::write(nginx.join("nginx.conf"), nginx_conf(&nginx, port)).expect("nginx.conf");
    place.before.push(Before {
        command: format!(
            "/usr/sbin/nginx -p {0} -c {0}/nginx.conf -e stderr &",
            nginx.display()
        ),
        serves: Some(Ready::Listening(([127, 0, 0, 1], port).into())),
        pid_for: Some("4242"),
    });
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A small nginx on loopback whose files all live in `dir`.
fn nginx_conf(dir: &Path, port: u16) -> String {
    let d = dir.display();
    format!(
        "daemon off;\nmaster_process on;\nworker_processes 2;\npid {d}/nginx.pid;\n\
         lock_file {d}/nginx.lock;\nerror_log stderr warn;\nevents {{}}\nhttp {{\n\
         access_log off;\nclient_body_temp_path {d}/body;\nproxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fastcgi;\nuwsgi_temp_path {d}/uwsgi;\nscgi_temp_path {d}/scgi;\n\
         server {{ listen 127.0.0.1:{port}; location / {{ return 200 \"ok\\n\"; }} }}\n}}\n"
    )
}
