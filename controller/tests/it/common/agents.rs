//! Real `numaload agent` processes on loopback for the tests that need several: started on a
//! port of their own choosing, killed when dropped; and the replicas they run, found in `/proc`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::BIN;

/// A `numaload agent` process on 127.0.0.1, killed when dropped.
pub struct AgentProcess {
    pub child: Child,
    pub address: String,
}

impl AgentProcess {
    pub fn start() -> AgentProcess {
        Self::start_with(&["--insecure"])
    }

    pub fn start_with(extra: &[&str]) -> AgentProcess {
        // Port 0: the agent prints the address it bound, so no port is picked here and then
        // lost to a race before the agent binds it.
        let mut child = Command::new(BIN)
            .args(["agent", "--listen", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start agent");
        let stderr = child.stderr.take().expect("stderr");
        let mut lines = BufReader::new(stderr).lines();
        let first = lines.next().expect("agent says something").expect("utf8");
        let address = bound_address(&first);
        std::thread::spawn(move || for _ in lines {});
        AgentProcess { child, address }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// The address in the agent's first line, "numaload agent listening on ADDRESS (mode)".
fn bound_address(first: &str) -> String {
    first
        .split_once("listening on ")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("agent: {first}"))
        .to_owned()
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Pids of `numaload target` processes whose parent is `parent` (not the agent's orphan
/// watchdog, a fork of the agent named `numaload-reaper`).
pub fn replicas_of(parent: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let ppid = stat
            .rsplit(')')
            .next()
            .and_then(|r| r.split_whitespace().nth(1));
        let watchdog = stat.contains("(numaload-reaper)");
        if ppid == Some(&parent.to_string())
            && !watchdog
            && String::from_utf8_lossy(&cmdline).contains("target")
        {
            out.push(pid);
        }
    }
    out
}

pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map(|s| !s.contains("State:\tZ"))
        .unwrap_or(false)
}

pub fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
