//! The I/O of a connection's transitions, driven by a worker's event loop (`engine.rs`):
//! connect (set up as for HTTP/2, by `setup.rs`), send, read, fail, and — once the measured
//! window has closed — settle: every request it was meant to send inside the window gets its
//! outcome (see the module doc of `loadgen`). What each transition decides is in
//! `connection.rs`; this file does the socket calls and records the outcomes.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use mio::{Poll, Token};

use super::arrival::Arrivals;
use super::coalesce::Coalescer;
use super::connection::{Connection, Expiry, State};
use super::report::ErrorKind;
use super::setup::{self, Connector, Dial, Step};
use super::stats::{Outcome, WorkerStats};
use super::stream::Stream;
use super::window::Window;

/// What every connection's transitions need: the poller, the exchange timeout, the window, the
/// open-loop due heap (earliest first), the stats, and what observes the responses.
pub(super) struct Driver<'a> {
    pub(super) poll: &'a mut Poll,
    pub(super) timeout: Duration,
    pub(super) window: Window,
    pub(super) due: BinaryHeap<Reverse<(Instant, usize)>>,
    /// Closed loop: the server's queueing delay, learnt from the round trips (how long to nap).
    pub(super) coalescer: Option<Coalescer>,
    pub(super) stats: &'a mut WorkerStats,
    /// Open loop: the kernel's receive timestamps, so responses may be read late.
    pub(super) arrivals: Option<Arrivals>,
    /// Open loop: connections that need a look by a time (see [`Connection::attention_at`]),
    /// earliest first; an entry that no longer matches its connection is stale.
    pub(super) attention: BinaryHeap<Reverse<(Instant, usize)>>,
    /// Sets connections up (connect, TLS), as for HTTP/2 (`setup.rs`).
    pub(super) connector: Connector,
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
            .record(connection.target_index, connection.current, at, outcome);
        connection.draw_next();
    }

    /// Acts on a passed deadline ([`Connection::expiry`]): reconnects an idle connection whose
    /// pause is over (after the close: at once, to settle it); fails a connect or exchange past
    /// its `timeout`.
    pub(super) fn check_deadline(
        &mut self,
        token: Token,
        connection: &mut Connection,
        now: Instant,
    ) {
        match connection.expiry(now, &self.window) {
            Some(Expiry::Reconnect) => self.connect(token, connection, now),
            Some(Expiry::SetupTimedOut(kind)) => self.connect_failed(connection, now, kind),
            Some(Expiry::ExchangeTimedOut { at }) => {
                self.exchange_failed(token, connection, now, ErrorKind::Timeout, at);
            }
            None => {}
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

    /// Ends the connection's part of the run (dropping its stream); in open loop, each send
    /// slot it still had inside the window is counted as `unsent`.
    fn give_up(&mut self, connection: &mut Connection) {
        connection.state = State::Done;
        while let Some((request, at)) = connection.next_unsent(self.window.measure_end) {
            let unsent = Outcome::Failed {
                kind: ErrorKind::Unsent,
                at,
            };
            self.stats
                .record(connection.target_index, request, at, unsent);
        }
    }

    /// Starts a non-blocking connect, unless the connection may no longer send
    /// ([`Connection::may_start`]): then it gives up.
    fn connect(&mut self, token: Token, connection: &mut Connection, now: Instant) {
        if !connection.may_start(now, &self.window) {
            return self.give_up(connection);
        }
        connection.opened = Some(now);
        let step = self
            .connector
            .connect(self.poll.registry(), token, connection.target, now);
        self.on_setup(token, connection, step);
    }

    /// Where the connection's setup stands: waiting (watched), up (ready to send), or failed.
    fn on_setup(&mut self, token: Token, connection: &mut Connection, step: Step) {
        match step {
            Step::Pending(setup) => {
                connection.state = State::Setup(setup);
                self.watch(token, connection);
            }
            Step::Up(stream, now) => self.ready(token, connection, stream, now),
            Step::Failed(kind, now) => self.connect_failed(connection, now, kind),
        }
    }

    /// A connect or TLS handshake that failed at `now`: counted against the request it was for
    /// (open loop: its send slot, which it spent), then a pause before the next try
    /// ([`setup::count_failure`]).
    fn connect_failed(&mut self, connection: &mut Connection, now: Instant, kind: ErrorKind) {
        let request = connection.current;
        let slot = connection.spend_slot();
        let index = connection.target_index;
        let retry_at = setup::count_failure(self.stats, index, request, slot, kind, now);
        connection.draw_next();
        connection.opened = None;
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

    /// The poller says `token`'s socket is ready.
    pub(super) fn on_event(&mut self, token: Token, connection: &mut Connection) {
        match std::mem::replace(&mut connection.state, State::Done) {
            // Idle keep-alive connections are not watched: a server that closed one is found
            // out by the next exchange on it (an I/O error, then a reconnect).
            state @ (State::Idle { .. } | State::Ready { .. } | State::Done) => {
                connection.state = state;
            }
            State::Setup(setup) => {
                let dial = Dial {
                    target: connection.target,
                    index: connection.target_index,
                    opened: connection.opened,
                };
                let step = self
                    .connector
                    .advance(setup, dial, self.stats, self.arrivals.as_mut());
                self.on_setup(token, connection, step);
            }
            State::Exchange {
                stream,
                intended,
                sent,
                written,
                deadline,
            } => {
                let exchange = Exchange {
                    intended,
                    sent,
                    written,
                    deadline,
                };
                self.on_exchange(token, connection, stream, exchange);
            }
        }
    }

    /// An exchange reported ready: write the rest of the request, read what came; a complete
    /// response is recorded and the connection sends its next request (or reconnects, when
    /// the server closes it).
    fn on_exchange(
        &mut self,
        token: Token,
        connection: &mut Connection,
        mut stream: Stream,
        exchange: Exchange,
    ) {
        let Exchange {
            intended,
            sent,
            mut written,
            deadline,
        } = exchange;
        let bytes = &connection.request().bytes;
        if written < bytes.len() {
            match stream.write_some(&bytes[written..]) {
                Ok(n) => written += n,
                Err(e) => {
                    drop(stream);
                    let (now, at) = (Instant::now(), intended.unwrap_or(sent));
                    return self.exchange_failed(
                        token,
                        connection,
                        now,
                        super::tls::error_kind(&e),
                        at,
                    );
                }
            }
        }
        let bodiless = connection.request().bodiless;
        let read = stream.read_response(&mut connection.reader, bodiless, self.arrivals.as_mut());
        let stamp = read.stamp;
        if read.response.is_none() && connection.opened.is_some() && connection.reader.is_partial()
        {
            // Part of the first response: its first bytes came by now.
            self.first_bytes(connection, Instant::now());
        }
        match read.response {
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
                if connection.opened.is_some() {
                    self.first_bytes(connection, done);
                }
                if let Some(coalescer) = &mut self.coalescer {
                    coalescer.observe(done.saturating_duration_since(sent));
                }
                let outcome = Outcome::Response {
                    status: response.status,
                    grpc: None,
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
                    self.stats.reconnected(connection.target_index, at);
                    self.connect(token, connection, read_at);
                }
            }
        }
    }

    /// A connected, idle stream at `now`: closed loop sends at once; open loop sends at once if
    /// the next send is due (or overdue: back to back), else waits in the due heap for it. Past
    /// the close only what [`Window::may_send`] allows goes out; else the connection gives up.
    fn ready(&mut self, token: Token, connection: &mut Connection, stream: Stream, now: Instant) {
        if !connection.is_open_loop() {
            if now < self.window.measure_end {
                return self.send(token, connection, stream, now, None);
            }
            return self.give_up(connection);
        }
        let dropped = connection.drop_warmup_backlog(now, &self.window);
        if dropped > 0 {
            self.stats.warmup_dropped(connection.target_index, dropped);
        }
        match connection.next_send {
            Some(next) if now < next && next < self.window.measure_end => {
                connection.state = State::Ready { stream };
                self.due.push(Reverse((next, token.0)));
            }
            next if self.window.may_send(next, now) => {
                self.send(token, connection, stream, now, next);
            }
            _ => self.give_up(connection),
        }
    }

    /// The due heap says this connection's next send has come.
    pub(super) fn send_due(&mut self, token: Token, connection: &mut Connection) {
        match std::mem::replace(&mut connection.state, State::Done) {
            State::Ready { stream } => {
                let (intended, now) = (connection.next_send, Instant::now());
                if self.window.may_send(intended, now) {
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
        mut stream: Stream,
        sent: Instant,
        intended: Option<Instant>,
    ) {
        match stream.write_some(&connection.request().bytes) {
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
            Err(e) => {
                drop(stream);
                let at = intended.unwrap_or(sent);
                self.exchange_failed(token, connection, sent, super::tls::error_kind(&e), at);
            }
        }
    }

    /// The first bytes of the connection's first response came at `at`.
    fn first_bytes(&mut self, connection: &mut Connection, at: Instant) {
        let index = connection.target_index;
        setup::first_byte(self.stats, index, &mut connection.opened, at);
    }
}

/// The fields of [`State::Exchange`] besides its stream.
struct Exchange {
    intended: Option<Instant>,
    sent: Instant,
    written: usize,
    deadline: Instant,
}
