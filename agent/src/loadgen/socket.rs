//! Options on the generator's own connections, set once per connection.
//!
//! - `TCP_NODELAY`: a request is one small segment and must leave at once, not wait for the
//!   ACK of the previous one (Nagle), or the generator would measure its own delay.
//! - `TCP_CONGESTION = reno`: the generator's side of a connection only ever sends one small
//!   request per round trip, so congestion control has nothing to decide on it; the host's
//!   default may be BBR, whose per-packet model cost ~2% of a closed-loop worker's CPU here.
//!   Responses travel under the server's own choice, untouched. Best effort: a kernel without
//!   reno (or that refuses the change) keeps its default.
//! - `SO_RCVBUF = 256 KiB`: a fixed receive buffer turns off the kernel's receive-buffer
//!   autotuning, which otherwise runs on every read (~1% of a closed-loop worker's CPU here).
//!   256 KiB (the kernel doubles it for its bookkeeping) holds any response a load test sends
//!   between two reads; larger bodies still stream through, a window at a time. Best effort.

use std::ffi::OsString;
use std::io;
use std::os::fd::AsFd;

use nix::sys::socket::{setsockopt, sockopt};

/// Congestion control for the generator's connections (see the module documentation).
const CONGESTION_CONTROL: &str = "reno";
/// Receive buffer asked for (see the module documentation).
const RECEIVE_BUFFER_BYTES: usize = 256 * 1024;

/// Sets the options on a connected (or connecting) TCP socket. Only `TCP_NODELAY` is required:
/// its failure is the error.
pub(super) fn tune(socket: &impl AsFd) -> io::Result<()> {
    setsockopt(socket, sockopt::TcpNoDelay, &true)?;
    let _best_effort = setsockopt(
        socket,
        sockopt::TcpCongestion,
        &OsString::from(CONGESTION_CONTROL),
    );
    let _best_effort = setsockopt(socket, sockopt::RcvBuf, &RECEIVE_BUFFER_BYTES);
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::net::{TcpListener, TcpStream};

    use nix::sys::socket::getsockopt;

    use super::*;

    #[test]
    fn tuned_sockets_skip_nagle_and_use_reno_where_the_kernel_has_it() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let stream = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        tune(&stream).expect("tune");
        assert!(getsockopt(&stream, sockopt::TcpNoDelay).expect("nodelay"));
        // The kernel reports twice what was asked (its bookkeeping share), capped by rmem_max;
        // autotuning would have left the default (tcp_rmem's middle value) instead.
        let rmem_max: usize = std::fs::read_to_string("/proc/sys/net/core/rmem_max")
            .expect("rmem_max")
            .trim()
            .parse()
            .expect("number");
        let rcvbuf = getsockopt(&stream, sockopt::RcvBuf).expect("rcvbuf");
        assert_eq!(rcvbuf, 2 * RECEIVE_BUFFER_BYTES.min(rmem_max));
        let available =
            std::fs::read_to_string("/proc/sys/net/ipv4/tcp_available_congestion_control")
                .unwrap_or_default();
        if available
            .split_whitespace()
            .any(|cc| cc == CONGESTION_CONTROL)
        {
            let cc = getsockopt(&stream, sockopt::TcpCongestion).expect("congestion");
            assert_eq!(
                cc.to_string_lossy().trim_end_matches('\0'),
                CONGESTION_CONTROL
            );
        }
    }
}
