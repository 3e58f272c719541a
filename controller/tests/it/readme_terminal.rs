//! The README's "Your service in three files" as a newcomer meets it, on a terminal: its
//! `agent.toml` and `plan.toml` blocks written as they stand (the program being the Go test
//! server, built from `tests/servers/go`, in place of `/opt/api/server`), then its commands typed
//! as written into a pseudo-terminal (util-linux's `script`), `numaload` on the PATH. The only
//! addition is `--set` shortening the window and easing the rate for a test machine. The screen
//! shows the placement, the live display, and the report ending in its verdict line.

use numaload_test_support::doc_commands::fenced;
use numaload_test_support::go_servers;

use crate::common::{self, manifest, read_json, BIN};

/// The README section, from its heading to the next one.
fn section() -> String {
    let readme = std::fs::read_to_string(manifest("../README.md")).expect("README.md");
    let start = readme
        .find("## Your service in three files")
        .expect("README.md has its 'Your service in three files' section");
    let rest = &readme[start + 3..];
    let end = rest.find("\n## ").map_or(rest.len(), |i| i + 1);
    rest[..end].to_owned()
}

/// The `numaload ...` lines of the section's first shell block, comments left out.
fn commands(section: &str) -> Vec<String> {
    let shell = fenced(section, "sh");
    shell
        .first()
        .expect("the section has a shell block")
        .lines()
        .map(|line| line.split(" #").next().unwrap_or(line).trim().to_owned())
        .filter(|line| line.starts_with("numaload "))
        .collect()
}

#[test]
fn the_readmes_three_files_run_on_a_terminal_to_a_verdict() {
    let _turn = crate::turns::beside_others();
    let section = section();
    let toml = fenced(&section, "toml");
    let [agent, plan] = toml.as_slice() else {
        panic!("two TOML blocks (agent.toml, plan.toml) in the section: {toml:?}");
    };
    assert!(agent.contains("[targets.api]") && plan.contains("[[layouts]]"));
    let go = go_servers(env!("CARGO_TARGET_TMPDIR")).join("go-server");
    assert!(agent.contains("\"/opt/api/server\""), "{agent}");
    let agent = agent.replace("/opt/api/server", &go.display().to_string());

    let dir = common::scratch("readme-terminal", "three-files");
    std::fs::write(dir.join("agent.toml"), agent).expect("agent.toml");
    std::fs::write(dir.join("plan.toml"), plan).expect("plan.toml");
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).expect("bin/");
    std::os::unix::fs::symlink(BIN, bin.join("numaload")).expect("numaload on the PATH");

    let commands = commands(&section);
    assert_eq!(
        commands,
        [
            "numaload plan plan.toml",
            "numaload run plan.toml --agent-config agent.toml --out result.json"
        ],
        "the README's commands changed: this test types them"
    );
    // On a 2-CPU machine the generator shares a CPU with the replicas, and CI runs other tests
    // beside this one: the rate is eased to what such a machine delivers, every time, in full
    // (the README's rate is a real host's; a share of it missed here would be `incomplete`).
    let shorter = " --set load.duration=2s --set load.warmup=500ms --set load.rate=500 \
                   --set load.connections=8";
    let typed = format!("{} && {}{shorter}", commands[0], commands[1]);
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let session = std::process::Command::new("script")
        .args(["-q", "-e", "-c", &typed, "/dev/null"])
        .current_dir(&dir)
        .env("PATH", path)
        .env("TERM", "xterm")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run script (util-linux)");
    let screen = String::from_utf8_lossy(&session.stdout);
    // 0 when both layouts are ok, 4 when one is suspect (a small machine shares its CPUs).
    assert!(
        matches!(session.status.code(), Some(0 | 4)),
        "{:?}: {screen}",
        session.status
    );
    assert!(screen.contains("placement on this host"), "{screen}");
    assert!(screen.contains("per-node: "), "numaload plan: {screen}");
    let verdict = screen
        .lines()
        .find_map(|line| line.find("Verdict:").map(|at| line[at..].trim_end()))
        .unwrap_or_else(|| panic!("no verdict line: {screen}"));
    let result = read_json(&dir.join("result.json"));
    assert_eq!(
        verdict,
        numaload::report::verdict::run_verdict(
            &serde_json::from_value(result.clone()).expect("a result")
        ),
        "the screen's verdict is the result's"
    );
    for name in ["one-process", "per-node"] {
        let layout = common::layout(&result, name);
        let status = &layout["status"];
        assert!(
            status == "ok" || status == "suspect",
            "{name}: {status}, delivery {}, errors {}, {}",
            layout["delivery"],
            layout["errors"],
            layout["suspect"]
        );
    }
}
