//! Setting a connection up, the same for both protocols: a non-blocking connect (registered
//! with the worker's poller, tuned with `TCP_NODELAY` once connected), then, when the plan asks,
//! the TLS handshake (`tls.rs`) with the ALPN protocol the connection needs checked. Each step
//! is timed into the target's connect and TLS histograms from the start of the connect (the
//! time to first byte too, by the protocol's first response: [`first_byte`]).
//!
//! A connect or handshake that fails, or outlasts `timeout` ([`Setup::expired`]), is one error
//! of its kind (`connect`, `tls`) counted against the request it was for ([`count_failure`]):
//! in open loop the send slot it spent, in closed loop the next request, followed by a pause
//! before the next try. What the connection does once its link is up is the protocol's:
//! [`Step::Up`] hands it the stream (HTTP/1.1 sends a request or waits for its next slot,
//! HTTP/2 opens a session).

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use super::arrival::{self, Arrivals};
use super::report::ErrorKind;
use super::socket;
use super::stats::{Outcome, WorkerStats};
use super::stream::Stream;
use super::tls::{Handshake, TlsClient};

/// Closed loop: the pause after a failed connect, so an unreachable target is not hammered in a
/// tight loop (open loop waits for the failed send slot's time instead).
pub(super) const CONNECT_RETRY_DELAY: Duration = Duration::from_millis(10);

/// A link on its way up. The stream type is a parameter so the decisions about it are tested
/// without sockets.
#[derive(Debug)]
pub(super) enum Setup<S = Stream> {
    /// A non-blocking connect in progress.
    Connecting { stream: S, deadline: Instant },
    /// Connected at `connected`, the TLS handshake in progress.
    Handshaking {
        stream: S,
        connected: Instant,
        deadline: Instant,
    },
}

impl<S> Setup<S> {
    /// The error a setup past its deadline at `now` is (`connect` or `tls`), if it is.
    pub(super) fn expired(&self, now: Instant) -> Option<ErrorKind> {
        match self {
            Setup::Connecting { deadline, .. } if now >= *deadline => Some(ErrorKind::Connect),
            Setup::Handshaking { deadline, .. } if now >= *deadline => Some(ErrorKind::Tls),
            _ => None,
        }
    }
}

/// Where a setup stands after a step.
#[derive(Debug)]
pub(super) enum Step {
    /// Waiting on the socket.
    Pending(Setup),
    /// The link is up at the instant given: the protocol takes the stream.
    Up(Stream, Instant),
    /// Failed at the instant given, with an error of this kind.
    Failed(ErrorKind, Instant),
}

/// One connection's side of its setup: where to, its target's index in the worker's stats,
/// and when its connect began (`None`: its setup is not timed).
#[derive(Debug, Clone, Copy)]
pub(super) struct Dial {
    pub(super) target: SocketAddr,
    pub(super) index: usize,
    pub(super) opened: Option<Instant>,
}

/// A worker's means to set its connections up.
#[derive(Debug)]
pub(super) struct Connector {
    /// How long a connect, and then a handshake, may take.
    pub(super) timeout: Duration,
    /// TLS: the worker's own client (its own session cache).
    pub(super) tls: Option<TlsClient>,
    /// The ALPN protocol a TLS server must choose for the connection to be usable (HTTP/2:
    /// `h2`); `None`: whatever it chose.
    pub(super) alpn: Option<&'static [u8]>,
}

impl Connector {
    /// Starts a non-blocking connect to `target` at `now`, its socket registered under
    /// `token`.
    pub(super) fn connect(
        &self,
        registry: &Registry,
        token: Token,
        target: SocketAddr,
        now: Instant,
    ) -> Step {
        let registered = TcpStream::connect(target).and_then(|mut tcp| {
            registry
                .register(&mut tcp, token, Interest::READABLE | Interest::WRITABLE)
                .map(|()| tcp)
        });
        match registered {
            Ok(tcp) => Step::Pending(Setup::Connecting {
                stream: Stream::plain(tcp),
                deadline: now + self.timeout,
            }),
            Err(_) => Step::Failed(ErrorKind::Connect, now),
        }
    }

    /// The poller says the setup's socket is ready: moves it on as far as the socket allows.
    /// `arrivals` (open loop, HTTP/1.1) gets the kernel's receive timestamps turned on.
    pub(super) fn advance(
        &self,
        setup: Setup,
        dial: Dial,
        stats: &mut WorkerStats,
        arrivals: Option<&mut Arrivals>,
    ) -> Step {
        match setup {
            Setup::Connecting { stream, deadline } => {
                self.on_connecting(stream, deadline, dial, stats, arrivals)
            }
            Setup::Handshaking {
                stream,
                connected,
                deadline,
            } => self.on_handshaking(stream, connected, deadline, dial, stats),
        }
    }

    /// A connect in progress reported ready: connected (tuned, timed, then TLS or up), failed,
    /// or not yet (a spurious wake-up).
    fn on_connecting(
        &self,
        mut stream: Stream,
        deadline: Instant,
        dial: Dial,
        stats: &mut WorkerStats,
        arrivals: Option<&mut Arrivals>,
    ) -> Step {
        let connected = match stream.tcp.take_error() {
            Ok(None) => match stream.tcp.peer_addr() {
                Ok(_) => Some(true),
                // Not there yet: a spurious wake-up.
                Err(e) if e.kind() == io::ErrorKind::NotConnected => None,
                Err(_) => Some(false),
            },
            Ok(Some(_)) | Err(_) => Some(false),
        };
        match connected {
            None => Step::Pending(Setup::Connecting { stream, deadline }),
            // Without TCP_NODELAY a small request may wait for an ACK: a failed connect
            // rather than a measurement of Nagle's delay.
            Some(true) if socket::tune(&stream.tcp).is_ok() => {
                if let Some(arrivals) = arrivals {
                    if arrival::enable(&stream.tcp).is_err() {
                        // Counted as untimed: reading stays eager meanwhile.
                        arrivals.timed(false);
                    }
                }
                let now = Instant::now();
                if let Some(opened) = dial.opened {
                    stats.connected(dial.index, opened, now);
                }
                let Some(tls) = &self.tls else {
                    return Step::Up(stream, now);
                };
                match tls.link(dial.target) {
                    Ok(link) => {
                        stream.tls = Some(link);
                        self.on_handshaking(stream, now, now + self.timeout, dial, stats)
                    }
                    Err(_) => Step::Failed(ErrorKind::Tls, now),
                }
            }
            Some(_) => Step::Failed(ErrorKind::Connect, Instant::now()),
        }
    }

    /// A TLS handshake in progress, moved on as far as the socket allows: done (the server's
    /// ALPN choice checked, the handshake timed), failed (a `tls` error), or waiting.
    fn on_handshaking(
        &self,
        mut stream: Stream,
        connected: Instant,
        deadline: Instant,
        dial: Dial,
        stats: &mut WorkerStats,
    ) -> Step {
        match stream.handshake() {
            Ok(Handshake::Pending) => Step::Pending(Setup::Handshaking {
                stream,
                connected,
                deadline,
            }),
            Ok(Handshake::Done { resumed }) => {
                let now = Instant::now();
                if let Some(wanted) = self.alpn {
                    // Checked once before the load too (`tls::preflight`).
                    let chosen = stream.tls.as_ref().and_then(|link| link.alpn());
                    if chosen != Some(wanted) {
                        return Step::Failed(ErrorKind::Tls, now);
                    }
                }
                if let Some(opened) = dial.opened {
                    stats.handshaken(dial.index, opened, connected, now, resumed);
                }
                Step::Up(stream, now)
            }
            Err(_) => Step::Failed(ErrorKind::Tls, Instant::now()),
        }
    }
}

/// Counts a connect or handshake that failed at `now` (an error of `kind`) against `request`,
/// the request it was for, and returns when it may be tried again: in open loop it spent its
/// send slot (`slot`), by which it is placed, and the next try may be from that slot's time
/// (at once if it has passed); in closed loop (no slot) it is placed at `now` and the next try
/// is after [`CONNECT_RETRY_DELAY`]. The try itself comes at the worker's next scan of its
/// connections from then (every `SCAN`): slots a connection has due more often than that are
/// left unsent while its target refuses it, not each a `connect` error.
pub(super) fn count_failure(
    stats: &mut WorkerStats,
    index: usize,
    request: usize,
    slot: Option<Instant>,
    kind: ErrorKind,
    now: Instant,
) -> Instant {
    let (at, retry_at) = placed(slot, now);
    stats.record(index, request, now, Outcome::Failed { kind, at });
    retry_at
}

/// Where a failed connect at `now` is placed and when the next try is (see [`count_failure`]).
fn placed(slot: Option<Instant>, now: Instant) -> (Instant, Instant) {
    match slot {
        Some(slot) => (slot, slot.max(now)),
        None => (now, now + CONNECT_RETRY_DELAY),
    }
}

/// The first bytes of a connection's first response came at `at`: its time to first byte, from
/// the start of its connect (`opened`, taken: once per connection).
pub(super) fn first_byte(
    stats: &mut WorkerStats,
    index: usize,
    opened: &mut Option<Instant>,
    at: Instant,
) {
    if let Some(opened) = opened.take() {
        stats.first_byte(index, opened, at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_failed_connect_is_placed_by_its_slot_in_open_loop_and_pauses_in_closed_loop() {
        let t0 = Instant::now();
        assert_eq!(
            placed(Some(t0), t0 + 5 * MS),
            (t0, t0 + 5 * MS),
            "placed by its slot, retried now"
        );
        assert_eq!(
            placed(Some(t0 + 20 * MS), t0),
            (t0 + 20 * MS, t0 + 20 * MS),
            "a slot ahead: retried at its time"
        );
        assert_eq!(placed(None, t0), (t0, t0 + CONNECT_RETRY_DELAY));
    }

    #[test]
    fn a_setup_past_its_deadline_is_a_connect_or_a_tls_error() {
        let t0 = Instant::now();
        let connecting = Setup::Connecting {
            stream: (),
            deadline: t0 + MS,
        };
        assert_eq!(connecting.expired(t0), None);
        assert_eq!(connecting.expired(t0 + MS), Some(ErrorKind::Connect));
        let handshaking = Setup::Handshaking {
            stream: (),
            connected: t0,
            deadline: t0 + MS,
        };
        assert_eq!(handshaking.expired(t0 + 2 * MS), Some(ErrorKind::Tls));
    }
}
