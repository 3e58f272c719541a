//! The closed-loop engine: one worker's connections driven by a plain `epoll` loop (mio), no
//! async runtime.
//!
//! Closed loop is where the generator's own cost sets the ceiling: every microsecond it spends
//! per request is a microsecond the load core cannot spend sending. So this path does only what
//! a request needs: one `write` of the pre-built request, the response `read` when the socket
//! reports it readable (edge-triggered, registered once per connection, so no `epoll_ctl` per
//! request as wrk does), two clock reads, and a histogram record. No task wake-ups, no timer
//! entry per request: deadlines (connect and exchange `timeout`) are checked by a scan of the
//! connections every [`SCAN`], which also looks at the cancel flag.
//!
//! Semantics are the open-loop path's (`worker.rs`): same error kinds, same reconnect rules,
//! same measured window, in-flight requests at the end dropped.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use super::http::{build_request, ResponseReader};
use super::socket;
use super::worker::{thread_cpu_time, ErrorKind, Outcome, Window, WorkerPlan, WorkerStats};
use super::{Cancel, LoadConfig};

/// How often deadlines and the cancel flag are looked at: a timeout fires up to this late.
const SCAN: Duration = Duration::from_millis(10);
/// Pause after a failed connect, so an unreachable target is not hammered in a tight loop.
const CONNECT_RETRY_DELAY: Duration = Duration::from_millis(10);

/// A worker's poller, made before the worker reports ready (so a failure is a start error).
#[derive(Debug)]
pub(super) struct Engine {
    poll: Poll,
}

impl Engine {
    pub(super) fn new() -> io::Result<Self> {
        Ok(Self { poll: Poll::new()? })
    }

    /// Drives the worker's connections until the end of the measured interval (or cancel);
    /// returns the thread's CPU time during the measured interval.
    pub(super) fn run(
        mut self,
        plan: &WorkerPlan,
        config: &LoadConfig,
        window: Window,
        cancel: &Cancel,
        stats: &mut WorkerStats,
    ) -> Duration {
        let mut connections: Vec<Connection> = plan
            .connections
            .iter()
            .map(|c| {
                let target = config.targets[c.replica as usize];
                Connection {
                    target,
                    request: build_request(&config.path, target),
                    slot: c.slot,
                    reader: ResponseReader::default(),
                    state: State::Idle { retry_at: None },
                }
            })
            .collect();
        let mut events = Events::with_capacity(connections.len().max(16));
        let mut driver = Driver {
            poll: &mut self.poll,
            timeout: config.timeout,
            stats,
        };
        let mut cpu_at_start = None;
        let mut next_scan = Instant::now();
        loop {
            let now = Instant::now();
            if cpu_at_start.is_none() && now >= window.measure_start {
                cpu_at_start = Some(thread_cpu_time());
            }
            if now >= window.measure_end || cancel.is_cancelled() {
                break;
            }
            if now >= next_scan {
                for (index, connection) in connections.iter_mut().enumerate() {
                    driver.check_deadline(Token(index), connection, now);
                }
                next_scan = now + SCAN;
            }
            let mut wake = next_scan.min(window.measure_end);
            if cpu_at_start.is_none() {
                wake = wake.min(window.measure_start);
            }
            match driver
                .poll
                .poll(&mut events, Some(wake.saturating_duration_since(now)))
            {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // epoll_wait fails only on a bad descriptor or buffer, which mio rules out;
                // end the worker rather than spin on it.
                Err(_) => break,
            }
            for event in &events {
                if let Some(connection) = connections.get_mut(event.token().0) {
                    driver.on_event(event.token(), connection);
                }
            }
        }
        cpu_at_start.map_or(Duration::ZERO, |at_start| {
            thread_cpu_time().saturating_sub(at_start)
        })
    }
}

/// One keep-alive connection to one target.
#[derive(Debug)]
struct Connection {
    target: SocketAddr,
    request: Vec<u8>,
    /// Index into the worker's per-target stats.
    slot: usize,
    reader: ResponseReader,
    state: State,
}

#[derive(Debug)]
enum State {
    /// Not connected: connect at the next scan, once `retry_at` (if any) has passed.
    Idle { retry_at: Option<Instant> },
    /// A non-blocking connect in progress.
    Connecting {
        stream: TcpStream,
        deadline: Instant,
    },
    /// A request sent (`written` bytes of it so far), its response not yet complete.
    Exchange {
        stream: TcpStream,
        sent: Instant,
        written: usize,
        deadline: Instant,
    },
}

/// What every connection's transitions need: the poller, the exchange timeout, the stats.
struct Driver<'a> {
    poll: &'a mut Poll,
    timeout: Duration,
    stats: &'a mut WorkerStats,
}

impl Driver<'_> {
    /// Reconnects an idle connection whose pause is over; fails an exchange or connect whose
    /// deadline has passed.
    fn check_deadline(&mut self, token: Token, connection: &mut Connection, now: Instant) {
        match &connection.state {
            State::Idle { retry_at } if retry_at.is_none_or(|at| now >= at) => {
                self.connect(token, connection, now);
            }
            State::Connecting { deadline, .. } if now >= *deadline => {
                self.connect_failed(connection, now);
            }
            State::Exchange { deadline, .. } if now >= *deadline => {
                self.exchange_failed(token, connection, now, ErrorKind::Timeout);
            }
            _ => {}
        }
    }

    /// Starts a non-blocking connect.
    fn connect(&mut self, token: Token, connection: &mut Connection, now: Instant) {
        let registered = TcpStream::connect(connection.target).and_then(|mut stream| {
            self.poll
                .registry()
                .register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)
                .map(|()| stream)
        });
        match registered {
            Ok(stream) => {
                connection.state = State::Connecting {
                    stream,
                    deadline: now + self.timeout,
                }
            }
            Err(_) => self.connect_failed(connection, now),
        }
    }

    fn connect_failed(&mut self, connection: &mut Connection, now: Instant) {
        self.stats
            .record(connection.slot, now, Outcome::Failed(ErrorKind::Connect));
        connection.state = State::Idle {
            retry_at: Some(now + CONNECT_RETRY_DELAY),
        };
    }

    /// Counts a failed exchange and reconnects at once (the server is there; the connection
    /// is not usable).
    fn exchange_failed(
        &mut self,
        token: Token,
        connection: &mut Connection,
        now: Instant,
        kind: ErrorKind,
    ) {
        self.stats
            .record(connection.slot, now, Outcome::Failed(kind));
        self.connect(token, connection, now);
    }

    fn on_event(&mut self, token: Token, connection: &mut Connection) {
        match std::mem::replace(&mut connection.state, State::Idle { retry_at: None }) {
            State::Idle { retry_at } => connection.state = State::Idle { retry_at },
            State::Connecting { stream, deadline } => {
                let connected = match stream.take_error() {
                    Ok(None) => match stream.peer_addr() {
                        Ok(_) => Some(true),
                        // Not there yet: a spurious wake-up.
                        Err(e) if e.kind() == io::ErrorKind::NotConnected => None,
                        Err(_) => Some(false),
                    },
                    Ok(Some(_)) | Err(_) => Some(false),
                };
                match connected {
                    None => connection.state = State::Connecting { stream, deadline },
                    Some(false) => self.connect_failed(connection, Instant::now()),
                    Some(true) => {
                        // Without TCP_NODELAY a small request may wait for an ACK: treat it as
                        // a failed connect rather than measure Nagle's delay.
                        match socket::tune(&stream) {
                            Ok(()) => self.send_at(Instant::now(), token, connection, stream),
                            Err(_) => self.connect_failed(connection, Instant::now()),
                        }
                    }
                }
            }
            State::Exchange {
                mut stream,
                sent,
                mut written,
                deadline,
            } => {
                if written < connection.request.len() {
                    match write_some(&mut stream, &connection.request[written..]) {
                        Ok(n) => written += n,
                        Err(_) => {
                            return self.exchange_failed(
                                token,
                                connection,
                                Instant::now(),
                                ErrorKind::Io,
                            )
                        }
                    }
                }
                match connection.reader.read_available(&mut stream) {
                    None => {
                        connection.state = State::Exchange {
                            stream,
                            sent,
                            written,
                            deadline,
                        }
                    }
                    Some(Err(failure)) => {
                        drop(stream);
                        self.exchange_failed(
                            token,
                            connection,
                            Instant::now(),
                            ErrorKind::from(failure),
                        );
                    }
                    Some(Ok(response)) => {
                        let done = Instant::now();
                        self.stats.record(
                            connection.slot,
                            done,
                            Outcome::from_response(response, None, sent),
                        );
                        if response.keep_alive {
                            self.send_at(done, token, connection, stream);
                        } else {
                            drop(stream);
                            self.connect(token, connection, done);
                        }
                    }
                }
            }
        }
    }

    /// Sends the next request on a connected stream (the rest, if the socket takes only part
    /// of it, when it is writable again). `sent` is the clock read just before: after a
    /// response, its completion time (one clock read per request, not two; the send then
    /// counts ~0.1 µs early, which can only lengthen the latency measured).
    fn send_at(
        &mut self,
        sent: Instant,
        token: Token,
        connection: &mut Connection,
        mut stream: TcpStream,
    ) {
        match write_some(&mut stream, &connection.request) {
            Ok(written) => {
                connection.state = State::Exchange {
                    stream,
                    sent,
                    written,
                    deadline: sent + self.timeout,
                }
            }
            Err(_) => {
                drop(stream);
                self.exchange_failed(token, connection, sent, ErrorKind::Io);
            }
        }
    }
}

/// Writes what the socket takes now: `Ok(0)` if it would block.
fn write_some(stream: &mut TcpStream, bytes: &[u8]) -> io::Result<usize> {
    loop {
        match stream.write(bytes) {
            Ok(0) if !bytes.is_empty() => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(0),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}
