//! Launching replicas of a target pinned as placed, and making sure nothing of them outlives its
//! layout.
//!
//! A replica is a real process tree: the target's program started with its arguments,
//! environment and files filled for this replica ([`crate::target`]: a free port chosen here, a
//! fresh working directory, the layout's threads and CPUs), pinned in the child before exec (the
//! private `Pinning`), leading its own process group, with SIGKILL as its parent-death signal. It
//! is ready when its target's probe says so (`ready`: the port accepts, an HTTP GET answers 2xx,
//! or a line matched); a replica that exits first, or is not ready in time, is an error naming
//! the probe, its exit status and the last lines it printed.
//!
//! Stopping signals the whole tree (the process group, and every descendant found in `/proc`)
//! with the target's stop signal, then SIGKILL after the grace; dropping a [`Replica`] does the
//! same at once. If the agent itself dies, the orphan watchdog (`affinity::Watchdog`) kills every
//! group still registered.

mod error;
mod output;
mod port;
mod ready;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::Signal;
use tokio::process::{Child, Command};

pub use error::{ReplicaError, ADDRESS_IN_USE_HINT};
pub use output::{Output, Stream};

use crate::affinity::{Pinning, Watchdog};
use crate::placement::NodePolicy;
use crate::procfs::tree;
use crate::target::{Ready, Target, Vars};

/// How often readiness is probed.
const PROBE_EVERY: Duration = Duration::from_millis(20);

/// One replica to start.
#[derive(Debug, Clone)]
pub struct ReplicaSpec {
    pub index: u32,
    /// Affinity to set before exec; empty leaves it alone.
    pub cpus: Vec<u32>,
    /// Nodes of the memory policy set before exec; empty sets no policy.
    pub memory_nodes: Vec<u32>,
    /// How `memory_nodes` are used (bind or interleave).
    pub memory_policy: NodePolicy,
    pub worker_threads: u32,
}

/// What a launch needs besides the replica's own spec: the target, the plan's knob values for
/// this layout, and the agent's defaults for what the target leaves unsaid.
#[derive(Debug, Clone)]
pub struct Launch<'a> {
    pub target: &'a Target,
    pub knobs: &'a BTreeMap<String, String>,
    pub ready_within: Duration,
    pub stop_grace: Duration,
    /// The IP replicas listen on (`{listen}` is `address:port`), and the ports they may use.
    pub address: IpAddr,
    pub ports: Option<&'a RangeInclusive<u16>>,
}

/// A running replica.
#[derive(Debug)]
pub struct Replica {
    pub index: u32,
    pub pid: u32,
    pub address: SocketAddr,
    pub workdir: PathBuf,
    child: Child,
    output: Output,
    stop_signal: Signal,
    stop_grace: Duration,
    /// Every pid seen in the tree (by the sampler too), so that a process that left the group
    /// and lost its parent is still stopped.
    seen: std::sync::Mutex<std::collections::BTreeSet<(u32, u64)>>,
    /// `stop` ran to the end: the tree is gone, and dropping need not scan `/proc` again.
    stopped: bool,
}

impl Replica {
    /// Starts one replica and waits until its probe says it is ready.
    #[allow(
        clippy::too_many_lines,
        reason = "one replica's start, step by step in the order they must happen: files, spawn, pin, probe"
    )]
    pub async fn spawn(launch: &Launch<'_>, spec: &ReplicaSpec) -> Result<Replica, ReplicaError> {
        let index = spec.index;
        let target = launch.target;
        let pinning = Pinning::new(&spec.cpus, &spec.memory_nodes, spec.memory_policy)
            .map_err(|source| ReplicaError::Pinning { index, source })?;
        let port = port::pick(launch.address, launch.ports)
            .map_err(|source| ReplicaError::NoPort { index, source })?;
        let address = SocketAddr::from((launch.address, port));
        let workdir = make_workdir(index, port).map_err(|source| {
            port::release(port);
            ReplicaError::Workdir { index, source }
        })?;
        // From here on, a failure must remove the directory and free the port.
        let mut cleanup = Cleanup {
            workdir: Some(workdir.clone()),
            port: Some(port),
        };
        let vars = vars(spec, address, &workdir, launch.knobs);
        let mut command = Command::new(&target.program);
        for arg in &target.args {
            // An argument naming an unset optional knob is left out.
            if let Ok(arg) = arg.fill(&vars) {
                command.arg(arg);
            }
        }
        let mut godebug = None;
        for (name, value) in &target.env {
            if let Ok(value) = value.fill(&vars) {
                if name == "GODEBUG" {
                    godebug = Some(value.clone());
                }
                command.env(name, value);
            }
        }
        if let Some(trace) = target.schedtrace {
            command.env("GODEBUG", trace.godebug(godebug.as_deref()));
        }
        for (name, content) in &target.files {
            let content = content
                .fill(&vars)
                .map_err(|unset| ReplicaError::UnsetInFile {
                    index,
                    file: name.clone(),
                    placeholder: unset.0,
                })?;
            std::fs::write(workdir.join(name), content).map_err(|source| {
                ReplicaError::WriteFile {
                    index,
                    file: name.clone(),
                    workdir: workdir.clone(),
                    source,
                }
            })?;
        }
        command
            .current_dir(&workdir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        pinning.apply_to(&mut command);
        let mut child = command.spawn().map_err(|source| ReplicaError::Spawn {
            index,
            program: target.program.display().to_string(),
            source,
        })?;
        let pid = child.id().unwrap_or(0);
        if let Some(watchdog) = Watchdog::get() {
            watchdog.watch(pid);
        }
        let output = match target.schedtrace {
            Some(crate::schedtrace::Schedtrace::Go) => Output::with_go_schedtrace(),
            None => Output::default(),
        };
        let ready_line = match &target.ready {
            Ready::Line(regex) => Some(regex.clone()),
            _ => None,
        };
        if let Some(out) = child.stdout.take() {
            output.follow(out, Stream::Stdout, ready_line.clone());
        }
        if let Some(err) = child.stderr.take() {
            output.follow(err, Stream::Stderr, ready_line);
        }
        let mut replica = Replica {
            index,
            pid,
            address,
            workdir,
            child,
            output,
            stop_signal: target.stop_signal,
            stop_grace: target.stop_grace.unwrap_or(launch.stop_grace),
            seen: std::sync::Mutex::new(std::collections::BTreeSet::new()),
            stopped: false,
        };
        // The replica owns the directory and the port now.
        cleanup.workdir = None;
        cleanup.port = None;
        let ready_within = target.ready_within.unwrap_or(launch.ready_within);
        let deadline = tokio::time::Instant::now() + ready_within;
        loop {
            if let Some(status) = replica.exit_status() {
                // Give the readers a moment to collect what it printed on the way out.
                tokio::time::sleep(Duration::from_millis(50)).await;
                let output = replica.output.tail();
                return Err(ReplicaError::Exited {
                    index,
                    pid,
                    probe: target.ready.to_string(),
                    status: describe_exit(status),
                    hint: error::hint(&output),
                    output,
                });
            }
            if ready::probe(&target.ready, address, &replica.output).await {
                return Ok(replica);
            }
            if tokio::time::Instant::now() >= deadline {
                let output = replica.output.tail();
                return Err(ReplicaError::NotReady {
                    index,
                    pid,
                    probe: target.ready.to_string(),
                    address,
                    waited: ready_within,
                    hint: error::hint(&output),
                    output,
                });
            }
            tokio::time::sleep(PROBE_EVERY).await;
        }
    }

    /// What it printed.
    pub fn output(&self) -> &Output {
        &self.output
    }

    /// The replica's stderr so far (its start-up knobs and any warnings).
    pub fn stderr_lines(&self) -> Vec<String> {
        self.output.lines(Stream::Stderr)
    }

    /// How the replica's own process ended, if it has.
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.exit_status().is_none()
    }

    /// Why the replica is no longer running, as a sentence with its last output; `None` while
    /// it runs.
    pub fn death(&mut self) -> Option<String> {
        let status = self.exit_status()?;
        Some(format!(
            "replica {} (pid {}) {}{}",
            self.index,
            self.pid,
            describe_exit(status),
            self.output.tail()
        ))
    }

    /// The tree's pids in a process table; remembered, so a process that leaves the group and
    /// loses its parent is still stopped later.
    pub fn tree(&self, table: &[tree::ProcEntry]) -> Vec<tree::ProcEntry> {
        let tree = tree::tree_of(self.pid, table);
        if let Ok(mut seen) = self.seen.lock() {
            for process in &tree {
                // Newly seen and outside the group: the watchdog must know it by pid.
                if seen.insert((process.pid, process.start_ticks)) && process.pgrp != self.pid {
                    if let Some(watchdog) = Watchdog::get() {
                        watchdog.watch_process(process.pid);
                    }
                }
            }
        }
        tree
    }

    /// The stop signal to the whole tree, SIGKILL to whatever is left after the grace.
    pub async fn stop(mut self) {
        self.signal_tree(self.stop_signal);
        let deadline = tokio::time::Instant::now() + self.stop_grace;
        let _ = tokio::time::timeout_at(deadline, self.child.wait()).await;
        // The root may be gone while its children still run (a master that exits first).
        while !self.remaining().is_empty() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.kill_tree();
        let _ = self.child.wait().await;
        self.stopped = true;
    }

    /// Processes of the tree still alive (by group, descent, or seen before and still there).
    fn remaining(&self) -> Vec<u32> {
        let table = tree::scan();
        let mut pids: std::collections::BTreeSet<u32> =
            self.tree(&table).iter().map(|p| p.pid).collect();
        if let Ok(seen) = self.seen.lock() {
            // A remembered process counts by pid and start time: a number reused by an unrelated
            // process is left alone.
            pids.extend(
                table
                    .iter()
                    .filter(|p| seen.contains(&(p.pid, p.start_ticks)))
                    .map(|p| p.pid),
            );
        }
        pids.into_iter().filter(|&p| p != 0).collect()
    }

    fn signal_tree(&self, signal: Signal) {
        // Found before the group is signalled: once a parent dies, its children are no longer
        // its descendants.
        let remaining = self.remaining();
        signal_group(self.pid, signal);
        for pid in remaining {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), signal);
        }
    }

    fn kill_tree(&mut self) {
        // Twice: a process that forked between the scan and the kill has a child the first
        // pass did not see.
        for _ in 0..2 {
            if self.remaining().is_empty() {
                break;
            }
            self.signal_tree(Signal::SIGKILL);
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        // After a clean `stop` the tree is gone and this only tidies up; on any other path (an
        // error, a cancelled run) it makes sure nothing of the replica survives.
        if !self.stopped {
            self.kill_tree();
        }
        if let Some(watchdog) = Watchdog::get() {
            watchdog.release(self.pid);
            if let Ok(seen) = self.seen.lock() {
                for &(pid, _) in seen.iter().filter(|(p, _)| *p != self.pid) {
                    watchdog.release_process(pid);
                }
            }
        }
        drop(Cleanup {
            workdir: Some(std::mem::take(&mut self.workdir)),
            port: Some(self.address.port()),
        });
    }
}

/// Removes a replica's working directory and frees its port when dropped.
struct Cleanup {
    workdir: Option<PathBuf>,
    port: Option<u16>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(dir) = self.workdir.take().filter(|d| !d.as_os_str().is_empty()) {
            let _ = std::fs::remove_dir_all(&dir);
            // The agent's directory of replica directories goes with its last one.
            if let Some(base) = dir.parent() {
                let _ = std::fs::remove_dir(base);
            }
        }
        if let Some(port) = self.port {
            port::release(port);
        }
    }
}

/// The replicas of one layout; dropping the set kills whatever still runs.
#[derive(Debug, Default)]
pub struct ReplicaSet {
    pub replicas: Vec<Replica>,
}

impl ReplicaSet {
    /// Starts every replica in order; on the first failure the ones already started are killed.
    pub async fn spawn_all(
        launch: &Launch<'_>,
        specs: &[ReplicaSpec],
    ) -> Result<ReplicaSet, ReplicaError> {
        let mut set = ReplicaSet::default();
        for spec in specs {
            set.replicas.push(Replica::spawn(launch, spec).await?);
        }
        Ok(set)
    }

    /// Stops every replica, all at once (each waits its own grace).
    pub async fn stop_all(self) {
        let stops: Vec<_> = self.replicas.into_iter().map(Replica::stop).collect();
        for stop in stops {
            stop.await;
        }
    }
}

/// The placeholders' values for one replica.
fn vars(
    spec: &ReplicaSpec,
    address: SocketAddr,
    workdir: &std::path::Path,
    knobs: &BTreeMap<String, String>,
) -> Vars {
    let cpulist = numaload_proto::cpulist::format;
    let values = BTreeMap::from([
        ("port", address.port().to_string()),
        ("listen", address.to_string()),
        ("host", address.ip().to_string()),
        ("threads", spec.worker_threads.max(1).to_string()),
        ("replica", spec.index.to_string()),
        ("cpus", cpulist(&spec.cpus)),
        ("nodes", cpulist(&spec.memory_nodes)),
        ("workdir", workdir.display().to_string()),
    ]);
    Vars {
        values,
        knobs: knobs.clone(),
    }
}

/// A fresh directory for one replica, under the system's temporary directory.
fn make_workdir(index: u32, port: u16) -> std::io::Result<PathBuf> {
    let base = std::env::temp_dir().join(format!("numaload-{}", std::process::id()));
    std::fs::create_dir_all(&base)?;
    let dir = base.join(format!("replica-{index}-port-{port}"));
    // Left over from a replica of an earlier run that held the same port: start clean.
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir)?;
    // Servers that drop privileges after start (nginx's workers) must still reach it.
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))?;
    Ok(dir)
}

fn describe_exit(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt as _;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(signal)) => {
            let name =
                Signal::try_from(signal).map_or_else(|_| signal.to_string(), |s| s.to_string());
            format!("was killed by {name}")
        }
        _ => format!("ended ({status})"),
    }
}

fn signal_group(pid: u32, signal: Signal) {
    if pid == 0 {
        return;
    }
    // The replica leads its own process group (process_group(0)), so -pid reaches what it
    // started too, unless that left the group.
    let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid as i32), signal);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_file_naming_an_unset_knob_stops_the_launch_before_anything_runs() {
        let file: crate::target::TargetFile = toml::from_str(
            "program = \"/bin/true\"\nargs = [\"{listen}\"]\nfiles = { \"a.conf\" = \"n = \
             {knob.n}\" }\nknobs.n = { range = [1, 2] }\n",
        )
        .expect("valid TOML");
        let target = file.check("svc").expect("a valid target");
        let launch = Launch {
            target: &target,
            knobs: &BTreeMap::new(),
            ready_within: Duration::from_secs(1),
            stop_grace: Duration::from_secs(1),
            address: IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
            ports: None,
        };
        let spec = ReplicaSpec {
            index: 3,
            cpus: Vec::new(),
            memory_nodes: Vec::new(),
            memory_policy: NodePolicy::Default,
            worker_threads: 1,
        };
        let err = Replica::spawn(&launch, &spec)
            .await
            .expect_err("unset knob");
        assert!(
            matches!(&err, ReplicaError::UnsetInFile { index: 3, file, placeholder }
                if file == "a.conf" && placeholder == "knob.n"),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "replica 3: files.\"a.conf\" names {knob.n}, which the plan did not set and has no \
             default"
        );
    }

    #[test]
    fn what_went_wrong_before_the_start_names_the_replica() {
        let io = || std::io::Error::other("disk full");
        let cases = [
            (
                ReplicaError::NoPort {
                    index: 1,
                    source: io(),
                },
                "replica 1: no free port: disk full",
            ),
            (
                ReplicaError::Workdir {
                    index: 1,
                    source: io(),
                },
                "replica 1: cannot create its working directory: disk full",
            ),
            (
                ReplicaError::WriteFile {
                    index: 1,
                    file: "a.conf".into(),
                    workdir: PathBuf::from("/tmp/w"),
                    source: io(),
                },
                "replica 1: cannot write a.conf into /tmp/w: disk full",
            ),
        ];
        for (error, want) in cases {
            assert_eq!(error.to_string(), want);
        }
    }
}
