//! Why a replica did not start, or was not ready in time.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::affinity::PinningError;

/// Why a replica did not start, or was not ready in time; one line naming the replica.
#[derive(Debug, thiserror::Error)]
pub enum ReplicaError {
    #[error("replica {index}: {source}")]
    Pinning { index: u32, source: PinningError },
    #[error("replica {index}: no free port: {source}")]
    NoPort { index: u32, source: std::io::Error },
    #[error("replica {index}: cannot create its working directory: {source}")]
    Workdir { index: u32, source: std::io::Error },
    /// A file of the target names a knob the plan did not set and that has no default.
    #[error(
        "replica {index}: files.{file:?} names {{{placeholder}}}, which the plan did not set and \
         has no default"
    )]
    UnsetInFile {
        index: u32,
        file: String,
        /// `knob.NAME`.
        placeholder: String,
    },
    #[error("replica {index}: cannot write {file} into {}: {source}", workdir.display())]
    WriteFile {
        index: u32,
        file: String,
        workdir: PathBuf,
        source: std::io::Error,
    },
    #[error("replica {index}: cannot start {program}: {source}")]
    Spawn {
        index: u32,
        program: String,
        source: std::io::Error,
    },
    #[error(
        "replica {index} (pid {pid}): {probe} on {address} not answering within {waited:?}{output}"
    )]
    NotReady {
        index: u32,
        pid: u32,
        probe: String,
        address: SocketAddr,
        waited: Duration,
        output: String,
    },
    #[error("replica {index} (pid {pid}) exited before it was ready ({probe}), {status}{output}")]
    Exited {
        index: u32,
        pid: u32,
        probe: String,
        status: String,
        output: String,
    },
}
