//! The one error of the crate: a cgroup or proc file unreadable or not as the kernel writes it.

use std::io;
use std::path::PathBuf;

/// A cgroup or proc file that could not be read or does not hold what the kernel writes.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("unexpected content in {file}: {content:?}")]
    Malformed { file: String, content: String },
    #[error("reading {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("no cgroup with a cpu controller found for this process")]
    NoCpuController,
}

impl CgroupError {
    /// `file` holds `content`, which the kernel would never write there.
    pub fn malformed(file: &str, content: &str) -> CgroupError {
        CgroupError::Malformed {
            file: file.to_owned(),
            content: content.to_owned(),
        }
    }
}
