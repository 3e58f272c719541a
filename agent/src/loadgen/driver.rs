//! One connection's transitions, driven by a worker's event loop (`engine.rs`): connect, send,
//! read, fail, and — once the measured window has closed — settle: every request it was meant
//! to send inside the window gets its outcome (see the module doc of `engine.rs`).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Interest, Poll, Token};

use super::arrival::{self, Arrivals};
use super::coalesce::Coalescer;
use super::http::ResponseReader;
use super::request::{Mix, Prebuilt};
use super::socket;
use super::spin::Spinner;
use super::stats::{ErrorKind, Outcome, WorkerStats};
use super::worker::Schedule;
use super::LATE_SEND;

/// Closed loop: pause after a failed connect, so an unreachable target is not hammered in a
/// tight loop (open loop waits for the failed send slot's time instead).
const CONNECT_RETRY_DELAY: Duration = Duration::from_millis(10);

/// One keep-alive connection to one target.
#[derive(Debug)]
pub(super) struct Connection {
    pub(super) target: SocketAddr,
    /// The bytes of each template for this target, and the index of the one to send next (or
    /// in flight).
    pub(super) requests: Rc<[Prebuilt]>,
    pub(super) current: usize,
    /// Draws `current` after each outcome when there are several to draw from.
    pub(super) mix: Option<Mix>,
    /// Index into the worker's per-target stats.
    pub(super) slot: usize,
    pub(super) reader: ResponseReader,
    /// Open loop: this connection's send times, and the next one (`None` once past the end).
    pub(super) schedule: Option<Schedule>,
    pub(super) next_send: Option<Instant>,
    pub(super) state: State,
}

impl Connection {
    fn is_open_loop(&self) -> bool {
        self.schedule.is_some()
    }

    /// The request to send next (or in flight).
    fn request(&self) -> &Prebuilt {
        &self.requests[self.current]
    }

    /// Open loop: by when the worker must look at this connection even if the poller says
    /// nothing, because it cannot be left to the next wake-up the sends make: a connect in
    /// progress (by its send slot), a request or response half through (at once: the socket
    /// is waiting on the worker), an exchange still open at the next send slot (by that slot).
    /// `None`: nothing is owed before the next send or scan.
    fn attention_at(&self) -> Option<Instant> {
        match &self.state {
            State::Connecting { .. } => self.next_send,
            State::Exchange { sent, written, .. }
                if *written < self.request().bytes.len() || self.reader.is_partial() =>
            {
                Some(*sent)
            }
            State::Exchange { .. } => self.schedule.as_ref().and_then(Schedule::peek),
            _ => None,
        }
    }

    /// Moves the schedule on by one send slot.
    fn advance_schedule(&mut self) {
        if let Some(schedule) = &mut self.schedule {
            self.next_send = schedule.next();
        }
    }
}

#[derive(Debug)]
pub(super) enum State {
    /// Not connected: connect at the next scan, once `retry_at` (if any) has passed.
    Idle { retry_at: Option<Instant> },
    /// A non-blocking connect in progress.
    Connecting {
        stream: TcpStream,
        deadline: Instant,
    },
    /// Open loop: connected and idle, in the due heap for `next_send`.
    Ready { stream: TcpStream },
    /// A request sent (`written` bytes of it so far), its response not yet complete.
    /// `intended` is its scheduled send time (open loop).
    Exchange {
        stream: TcpStream,
        intended: Option<Instant>,
        sent: Instant,
        written: usize,
        deadline: Instant,
    },
    /// Open loop: the schedule has no send left before the end.
    Done,
}

/// What every connection's transitions need: the poller, the exchange timeout, the open-loop
/// due heap (earliest first), the stats.
pub(super) struct Driver<'a> {
    pub(super) poll: &'a mut Poll,
    pub(super) timeout: Duration,
    /// The open of the measured window.
    pub(super) open: Instant,
    /// The close of the measured window.
    pub(super) end: Instant,
    pub(super) due: BinaryHeap<Reverse<(Instant, usize)>>,
    /// Closed loop: how long to nap before blocking.
    pub(super) coalescer: Option<Coalescer>,
    /// Closed loop: how long to busy-poll before blocking when no nap is due.
    pub(super) spinner: Option<Spinner>,
    pub(super) stats: &'a mut WorkerStats,
    /// Open loop: the kernel's receive timestamps, so responses may be read late.
    pub(super) arrivals: Option<Arrivals>,
    /// Open loop: connections that need a look by a time (see [`Connection::attention_at`]),
    /// earliest first; an entry that no longer matches its connection is stale.
    pub(super) attention: BinaryHeap<Reverse<(Instant, usize)>>,
}

impl Driver<'_> {
    /// Open loop: the earliest time a connection needs a look by (stale entries dropped).
    pub(super) fn attention_due(&mut self, connections: &[Connection]) -> Option<Instant> {
        while let Some(&Reverse((at, index))) = self.attention.peek() {
            if connections.get(index).and_then(Connection::attention_at) == Some(at) {
                return Some(at);
            }
            self.attention.pop();
        }
        None
    }

    /// Notes when the connection needs a look by, if it does (open loop).
    fn watch(&mut self, token: Token, connection: &Connection) {
        if let (true, Some(at)) = (connection.is_open_loop(), connection.attention_at()) {
            self.attention.push(Reverse((at, token.0)));
        }
    }

    /// Counts how the connection's current request ended, then draws its next one.
    fn record(&mut self, connection: &mut Connection, at: Instant, outcome: Outcome) {
        self.stats
            .record(connection.slot, connection.current, at, outcome);
        if let Some(mix) = &mut connection.mix {
            connection.current = mix.next();
        }
    }

    /// Reconnects an idle connection whose pause is over (after the close: at once, to settle
    /// it); fails an exchange or connect whose deadline has passed.
    pub(super) fn check_deadline(
        &mut self,
        token: Token,
        connection: &mut Connection,
        now: Instant,
    ) {
        match &connection.state {
            State::Idle { retry_at } if retry_at.is_none_or(|at| now >= at) || now >= self.end => {
                self.connect(token, connection, now);
            }
            State::Connecting { deadline, .. } if now >= *deadline => {
                self.connect_failed(connection, now);
            }
            State::Exchange {
                deadline,
                intended,
                sent,
                ..
            } if now >= *deadline => {
                let at = intended.unwrap_or(*sent);
                self.exchange_failed(token, connection, now, ErrorKind::Timeout, at);
            }
            _ => {}
        }
    }

    /// After the loop: an exchange still open is a `timeout`, and every send slot left inside
    /// the window is `unsent`.
    pub(super) fn close_out(&mut self, token: Token, connection: &mut Connection, now: Instant) {
        match &connection.state {
            State::Done => {}
            State::Exchange { intended, sent, .. } => {
                let at = intended.unwrap_or(*sent);
                self.exchange_failed(token, connection, now, ErrorKind::Timeout, at);
                self.give_up(connection);
            }
            _ => self.give_up(connection),
        }
    }

    /// Whether a request intended at `at` may go out at `now`: before the close, any send
    /// slot inside the window (a backlog is sent back to back); after it, only one not yet
    /// [`LATE_SEND`] behind (the ordinary schedule caught at the close, not a backlog).
    fn may_send(&self, at: Option<Instant>, now: Instant) -> bool {
        at.is_some_and(|at| at < self.end && (now < self.end || now <= at + LATE_SEND))
    }

    /// Whether the connection may still connect or send at `now`.
    fn may_start(&self, connection: &Connection, now: Instant) -> bool {
        if connection.is_open_loop() {
            self.may_send(connection.next_send, now)
        } else {
            now < self.end
        }
    }

    /// Ends the connection's part of the run (dropping its stream); in open loop, each send
    /// slot it still had inside the window is counted as `unsent`.
    fn give_up(&mut self, connection: &mut Connection) {
        connection.state = State::Done;
        if !connection.is_open_loop() {
            return;
        }
        while let Some(at) = connection.next_send.filter(|&at| at < self.end) {
            let unsent = Outcome::Failed {
                kind: ErrorKind::Unsent,
                at,
            };
            self.record(connection, at, unsent);
            connection.advance_schedule();
        }
    }

    /// Starts a non-blocking connect, unless the connection may no longer send
    /// ([`Driver::may_start`]): then it gives up.
    fn connect(&mut self, token: Token, connection: &mut Connection, now: Instant) {
        if !self.may_start(connection, now) {
            return self.give_up(connection);
        }
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
                };
                self.watch(token, connection);
            }
            Err(_) => self.connect_failed(connection, now),
        }
    }

    fn connect_failed(&mut self, connection: &mut Connection, now: Instant) {
        // Placed by the request it was for: its send slot (open loop), else the attempt.
        let at = match connection.next_send {
            Some(slot) if connection.is_open_loop() => slot,
            _ => now,
        };
        let kind = ErrorKind::Connect;
        self.record(connection, now, Outcome::Failed { kind, at });
        let retry_at = match connection.next_send {
            // The failed connect spends this send slot: try again at its time.
            Some(slot) if connection.is_open_loop() => {
                connection.advance_schedule();
                slot.max(now)
            }
            _ => now + CONNECT_RETRY_DELAY,
        };
        connection.state = State::Idle {
            retry_at: Some(retry_at),
        };
    }

    /// Counts a failed exchange of a request intended (or, closed loop, sent) `at` and
    /// reconnects at once (the server is there; the connection is not usable).
    fn exchange_failed(
        &mut self,
        token: Token,
        connection: &mut Connection,
        now: Instant,
        kind: ErrorKind,
        at: Instant,
    ) {
        self.record(connection, now, Outcome::Failed { kind, at });
        connection.advance_schedule();
        self.connect(token, connection, now);
    }

    pub(super) fn on_event(&mut self, token: Token, connection: &mut Connection) {
        match std::mem::replace(&mut connection.state, State::Done) {
            // Idle keep-alive connections are not watched: a server that closed one is found
            // out by the next exchange on it (an I/O error, then a reconnect).
            state @ (State::Idle { .. } | State::Ready { .. } | State::Done) => {
                connection.state = state;
            }
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
                    // Without TCP_NODELAY a small request may wait for an ACK: a failed connect
                    // rather than a measurement of Nagle's delay.
                    Some(true) if socket::tune(&stream).is_ok() => {
                        if let Some(arrivals) = &mut self.arrivals {
                            if arrival::enable(&stream).is_err() {
                                // Counted as untimed: reading stays eager meanwhile.
                                arrivals.timed(false);
                            }
                        }
                        self.ready(token, connection, stream, Instant::now());
                    }
                    Some(_) => self.connect_failed(connection, Instant::now()),
                }
            }
            State::Exchange {
                mut stream,
                intended,
                sent,
                mut written,
                deadline,
            } => {
                let bytes = &connection.request().bytes;
                if written < bytes.len() {
                    match write_some(&mut stream, &bytes[written..]) {
                        Ok(n) => written += n,
                        Err(_) => {
                            drop(stream);
                            let (now, at) = (Instant::now(), intended.unwrap_or(sent));
                            return self.exchange_failed(token, connection, now, ErrorKind::Io, at);
                        }
                    }
                }
                let bodiless = connection.request().bodiless;
                let (read, stamp) = match &mut self.arrivals {
                    Some(arrivals) => {
                        let mut stamped = arrivals.reader(&stream);
                        let read = connection.reader.read_available(&mut stamped, bodiless);
                        (read, stamped.stamp)
                    }
                    None => (
                        connection.reader.read_available(&mut stream, bodiless),
                        None,
                    ),
                };
                match read {
                    None => {
                        if let Some(arrivals) = &mut self.arrivals {
                            arrivals.sized(connection.reader.response_bytes());
                        }
                        connection.state = State::Exchange {
                            stream,
                            intended,
                            sent,
                            written,
                            deadline,
                        };
                        self.watch(token, connection);
                    }
                    Some(Err(failure)) => {
                        drop(stream);
                        let (kind, at) = (ErrorKind::from(failure), intended.unwrap_or(sent));
                        self.exchange_failed(token, connection, Instant::now(), kind, at);
                    }
                    Some(Ok(response)) => {
                        let read_at = Instant::now();
                        // When it arrived: the kernel's timestamp (open loop) or the read.
                        let done = match &mut self.arrivals {
                            Some(arrivals) => {
                                arrivals.sized(connection.reader.response_bytes());
                                arrivals.arrived(stamp, sent, read_at)
                            }
                            None => read_at,
                        };
                        if let Some(coalescer) = &mut self.coalescer {
                            coalescer.observe(done.saturating_duration_since(sent));
                        }
                        let outcome = Outcome::Response {
                            status: response.status,
                            intended,
                            sent,
                        };
                        self.record(connection, done, outcome);
                        connection.advance_schedule();
                        if response.keep_alive {
                            self.ready(token, connection, stream, read_at);
                        } else {
                            // The server closed (or will close) it: a new connection carries on
                            // with the same schedule, its connect inside the next request's
                            // corrected latency.
                            drop(stream);
                            let at = intended.unwrap_or(sent);
                            self.stats.reconnected(connection.slot, at);
                            self.connect(token, connection, read_at);
                        }
                    }
                }
            }
        }
    }

    /// A connected, idle stream at `now`: closed loop sends at once; open loop sends at once if
    /// the next send is due (or overdue: back to back), else waits in the due heap for it. Past
    /// the close only what [`Driver::may_send`] allows goes out; else the connection gives up.
    fn ready(
        &mut self,
        token: Token,
        connection: &mut Connection,
        stream: TcpStream,
        now: Instant,
    ) {
        if !connection.is_open_loop() {
            if now < self.end {
                return self.send(token, connection, stream, now, None);
            }
            return self.give_up(connection);
        }
        self.drop_warmup_backlog(connection, now);
        match connection.next_send {
            Some(next) if now < next && next < self.end => {
                connection.state = State::Ready { stream };
                self.due.push(Reverse((next, token.0)));
            }
            next if self.may_send(next, now) => self.send(token, connection, stream, now, next),
            _ => self.give_up(connection),
        }
    }

    /// Open loop, once the window is open: drops the warm-up send slots the connection has not
    /// sent that are more than [`LATE_SEND`] behind (a backlog from before the window, not the
    /// ordinary schedule caught at the open), counted, so that it sends the window's own
    /// requests. Sent first, the warm-up's backlog would hold the connection through the window
    /// and leave the window's requests unsent while the server answered requests never measured.
    fn drop_warmup_backlog(&mut self, connection: &mut Connection, now: Instant) {
        if now < self.open {
            return;
        }
        while connection
            .next_send
            .is_some_and(|at| at < self.open && now > at + LATE_SEND)
        {
            self.stats.warmup_dropped(connection.slot);
            connection.advance_schedule();
        }
    }

    /// The due heap says this connection's next send has come.
    pub(super) fn send_due(&mut self, token: Token, connection: &mut Connection) {
        match std::mem::replace(&mut connection.state, State::Done) {
            State::Ready { stream } => {
                let (intended, now) = (connection.next_send, Instant::now());
                if self.may_send(intended, now) {
                    self.send(token, connection, stream, now, intended);
                } else {
                    self.give_up(connection);
                }
            }
            other => connection.state = other,
        }
    }

    /// Sends the next request on a connected stream (the rest, if the socket takes only part
    /// of it, when it is writable again). `sent` is the clock read just before: in closed loop,
    /// after a response, its completion time (one clock read per request, not two; the send
    /// then counts ~0.1 µs early, which can only lengthen the latency measured).
    fn send(
        &mut self,
        token: Token,
        connection: &mut Connection,
        mut stream: TcpStream,
        sent: Instant,
        intended: Option<Instant>,
    ) {
        match write_some(&mut stream, &connection.request().bytes) {
            Ok(written) => {
                connection.state = State::Exchange {
                    stream,
                    intended,
                    sent,
                    written,
                    deadline: sent + self.timeout,
                };
                self.watch(token, connection);
            }
            Err(_) => {
                drop(stream);
                let at = intended.unwrap_or(sent);
                self.exchange_failed(token, connection, sent, ErrorKind::Io, at);
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
