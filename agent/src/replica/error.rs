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
        "replica {index} (pid {pid}): {probe} on {address} not answering within \
         {waited:?}{output}{hint}"
    )]
    NotReady {
        index: u32,
        pid: u32,
        probe: String,
        address: SocketAddr,
        waited: Duration,
        output: String,
        /// What to do about what it printed, when that tells ([`hint`]); else empty.
        hint: &'static str,
    },
    #[error(
        "replica {index} (pid {pid}) exited before it was ready ({probe}), {status}{output}{hint}"
    )]
    Exited {
        index: u32,
        pid: u32,
        probe: String,
        status: String,
        output: String,
        /// What to do about what it printed, when that tells ([`hint`]); else empty.
        hint: &'static str,
    },
}

/// Said after the output of a replica that could not listen because the address was taken.
pub const ADDRESS_IN_USE_HINT: &str = "; the address it listens on is taken: every replica \
    needs its own, so give the server {listen} (or {port}) where it reads its address (a flag, \
    its environment or a file of the target entry) and listen on that alone, not on a fixed \
    port (docs/agent-config.md#placeholders)";

/// What to do about a replica's `output` (its last lines), as a clause to end its error with:
/// [`ADDRESS_IN_USE_HINT`] when it says its address was taken (`EADDRINUSE` as Go, nginx,
/// Python, Node and the C library word it), else nothing.
pub fn hint(output: &str) -> &'static str {
    let output = output.to_ascii_lowercase();
    let taken = ["address already in use", "address in use", "eaddrinuse"]
        .iter()
        .any(|words| output.contains(words));
    if taken {
        ADDRESS_IN_USE_HINT
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_address_gets_the_listen_hint() {
        for said in [
            "; its stderr ended with: listen tcp :8080: bind: address already in use",
            "; its stderr ended with: nginx: [emerg] bind() to 0.0.0.0:80 failed (98: Address already in use)",
            "; its stderr ended with: Error: listen EADDRINUSE: address already in use :::3000",
            "; its stderr ended with: OSError: [Errno 98] Address in use",
        ] {
            assert_eq!(hint(said), ADDRESS_IN_USE_HINT, "{said}");
        }
        assert_eq!(hint("; it printed nothing"), "");
        assert_eq!(hint("; its stderr ended with: permission denied"), "");
    }
}
