//! What a subcommand prints for its reader. A reader that leaves early (`numaload plan --json |
//! head`) closes the pipe: the rest is not wanted, so the command carries on to its exit code
//! instead of failing on a write nobody reads.

use std::io::{ErrorKind, Write as _};

/// Writes `text` to standard output as it is; a closed pipe is not an error.
pub fn print(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}
