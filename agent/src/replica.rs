//! Launching target-server replicas pinned as placed, and making sure none outlives its layout.
//!
//! A replica is a real process: the agent's configured executable for the plan's target name,
//! started with `--listen 127.0.0.1:0`, pinned in the child before exec (the private `Pinning`), in its
//! own process group, with SIGKILL as its parent-death signal. It is ready when it prints
//! `numaload-target listening on ADDR` on stdout. [`ReplicaSet`] stops every replica when asked
//! and, as a last resort, when dropped (the run failed or was cancelled).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::affinity::{Pinning, PinningError};
use crate::placement::NodePolicy;

/// The line a target prints on stdout once it accepts connections.
pub const READY_PREFIX: &str = "numaload-target listening on ";
/// Lines of a replica's stderr kept for error messages and the report.
const STDERR_LINES_KEPT: usize = 40;

/// How to start one target, from the agent's own configuration (never from the wire).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetCommand {
    pub program: PathBuf,
    pub args: Vec<String>,
}

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
    pub work_us: u64,
}

/// A running replica.
#[derive(Debug)]
pub struct Replica {
    pub index: u32,
    pub pid: u32,
    pub address: SocketAddr,
    child: Child,
    stderr: Arc<Mutex<Vec<String>>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReplicaError {
    #[error("replica {index}: {source}")]
    Pinning { index: u32, source: PinningError },
    #[error("replica {index}: cannot start {program}: {source}")]
    Spawn {
        index: u32,
        program: String,
        source: std::io::Error,
    },
    #[error("replica {index} (pid {pid}) was not ready within {waited:?}{stderr}")]
    NotReady {
        index: u32,
        pid: u32,
        waited: Duration,
        stderr: String,
    },
    #[error("replica {index} (pid {pid}) exited before it was ready{stderr}")]
    Exited {
        index: u32,
        pid: u32,
        stderr: String,
    },
}

impl Replica {
    /// Starts one replica and waits until it listens.
    pub async fn spawn(
        target: &TargetCommand,
        spec: &ReplicaSpec,
        ready_within: Duration,
    ) -> Result<Replica, ReplicaError> {
        let index = spec.index;
        let pinning = Pinning::new(&spec.cpus, &spec.memory_nodes, spec.memory_policy)
            .map_err(|source| ReplicaError::Pinning { index, source })?;
        let mut command = Command::new(&target.program);
        command
            .args(&target.args)
            .args(["--listen", "127.0.0.1:0"])
            .args(["--threads", &spec.worker_threads.max(1).to_string()])
            .args(["--work-us", &spec.work_us.to_string()])
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
        let stderr = Arc::new(Mutex::new(Vec::new()));
        if let Some(err) = child.stderr.take() {
            tokio::spawn(keep_lines(BufReader::new(err), Arc::clone(&stderr)));
        }
        let Some(stdout) = child.stdout.take() else {
            return Err(ReplicaError::Exited {
                index,
                pid,
                stderr: String::new(),
            });
        };
        let ready = tokio::time::timeout(ready_within, wait_ready(BufReader::new(stdout))).await;
        let tail = || tail_of(&stderr);
        match ready {
            Ok(Some(address)) => Ok(Replica {
                index,
                pid,
                address,
                child,
                stderr,
            }),
            Ok(None) => {
                let _ = child.wait().await;
                Err(ReplicaError::Exited {
                    index,
                    pid,
                    stderr: tail(),
                })
            }
            Err(_) => Err(ReplicaError::NotReady {
                index,
                pid,
                waited: ready_within,
                stderr: tail(),
            }),
        }
    }

    /// The replica's stderr so far (its start-up knobs and any warnings).
    pub fn stderr_lines(&self) -> Vec<String> {
        self.stderr.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGTERM to the replica's process group, SIGKILL if it has not exited within `grace`.
    pub async fn stop(mut self, grace: Duration) {
        signal_group(self.pid, nix::sys::signal::Signal::SIGTERM);
        if tokio::time::timeout(grace, self.child.wait())
            .await
            .is_err()
        {
            signal_group(self.pid, nix::sys::signal::Signal::SIGKILL);
            let _ = self.child.wait().await;
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        // After a clean `stop` the group is gone and this is a no-op; on any other path
        // (an error, a cancelled run) it makes sure nothing of the replica survives.
        if self.is_running() {
            signal_group(self.pid, nix::sys::signal::Signal::SIGKILL);
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
        target: &TargetCommand,
        specs: &[ReplicaSpec],
        ready_within: Duration,
    ) -> Result<ReplicaSet, ReplicaError> {
        let mut set = ReplicaSet::default();
        for spec in specs {
            set.replicas
                .push(Replica::spawn(target, spec, ready_within).await?);
        }
        Ok(set)
    }

    pub async fn stop_all(self, grace: Duration) {
        let stops = self.replicas.into_iter().map(|r| r.stop(grace));
        for stop in stops {
            stop.await;
        }
    }
}

fn signal_group(pid: u32, signal: nix::sys::signal::Signal) {
    if pid == 0 {
        return;
    }
    // The replica leads its own process group (process_group(0)), so -pid reaches any child
    // it may have started too.
    let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid as i32), signal);
}

async fn wait_ready(mut stdout: BufReader<tokio::process::ChildStdout>) -> Option<SocketAddr> {
    let mut line = String::new();
    loop {
        line.clear();
        if stdout.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        if let Some(address) = line.trim().strip_prefix(READY_PREFIX) {
            let address = address.parse().ok()?;
            // Keep draining stdout so the replica never blocks on a full pipe.
            tokio::spawn(async move {
                let mut sink = String::new();
                while stdout.read_line(&mut sink).await.unwrap_or(0) > 0 {
                    sink.clear();
                }
            });
            return Some(address);
        }
    }
}

async fn keep_lines(
    mut reader: BufReader<tokio::process::ChildStderr>,
    lines: Arc<Mutex<Vec<String>>>,
) {
    let mut line = String::new();
    while reader.read_line(&mut line).await.unwrap_or(0) > 0 {
        if let Ok(mut kept) = lines.lock() {
            if kept.len() == STDERR_LINES_KEPT {
                kept.remove(0);
            }
            kept.push(line.trim_end().to_owned());
        }
        line.clear();
    }
}

fn tail_of(lines: &Arc<Mutex<Vec<String>>>) -> String {
    let kept = lines.lock().map(|l| l.clone()).unwrap_or_default();
    if kept.is_empty() {
        String::new()
    } else {
        format!(
            "; its stderr ended with: {}",
            kept[kept.len().saturating_sub(5)..].join(" | ")
        )
    }
}
