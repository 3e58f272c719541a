//! One worker's event loop: its connections driven by a plain edge-triggered `epoll` loop
//! (mio), no async runtime, in both modes.
//!
//! The generator's own cost per request is what limits it (closed loop: the ceiling of req/s;
//! open loop: how busy the load core reads at a given rate, which is how a saturated generator
//! is detected). So a request costs only what it needs: one `write` of a pre-built request,
//! the response `read` when the socket reports it readable (registered once per connection, so
//! no `epoll_ctl` per request as wrk does), clock reads, and a histogram record. No task
//! wake-ups, no timer entry per request: connect and exchange deadlines (`timeout`) are checked
//! by a scan of the connections every [`SCAN`], which also looks at the cancel flag.
//!
//! - **Closed loop**: a connection sends its next request as soon as a response completes. With
//!   nothing to read and a backlog at the server, the worker naps before it blocks (the
//!   [`Coalescer`] says how long), so the server is not made to wake it for every response.
//!   With nothing to read and no backlog (few connections), it busy-polls for a window the
//!   [`Spinner`] adapts before it blocks, so a response a few microseconds away is read without
//!   an idle CPU's wake-up in the round trip.
//! - **Open loop**: each connection has its [`Schedule`]; a connection that is connected and
//!   idle waits in a heap ordered by its next intended send time. Every turn of the loop sends
//!   what is due, then asks the [`Pacer`] how to wait for the next one (block on its timerfd, or
//!   busy-poll the last few microseconds, still reading responses). A connection whose response
//!   comes after its next intended time sends at once, back to back, keeping the intended times
//!   (nothing is skipped). A failed connect spends that send slot: the connection tries again
//!   at the slot's time, with the next one.
//!
//! **The close of the window** (see the module doc of `loadgen`): outcomes are placed by the
//! intended send time (closed loop: the send), not by their completion. When the window
//! closes, nothing new is sent — except a request intended inside the window that is not yet
//! [`LATE_SEND`] behind, i.e. the ordinary schedule caught at the close — and the loop keeps
//! reading until every request intended inside the window has an outcome: its response, a
//! `timeout` after the plan's `timeout`, or `unsent` for each send slot a connection still had
//! inside the window (it was waiting on an earlier response, or not connected). The drain is
//! bounded by `timeout` (plus two scans); whatever is still open then is closed out the same way.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use super::coalesce::Coalescer;
use super::http::ResponseReader;
use super::pacer::{Pacer, Wait};
use super::request::{self, Mix, Prebuilt};
use super::socket;
use super::spin::Spinner;
use super::stats::{ErrorKind, Outcome, WorkerStats};
use super::worker::{thread_cpu_time, Schedule, Window, WorkerPlan};
use super::{Cancel, LoadConfig, Mode, LATE_SEND};

/// How often deadlines and the cancel flag are looked at: a timeout fires up to this late.
const SCAN: Duration = Duration::from_millis(10);
/// Closed loop: pause after a failed connect, so an unreachable target is not hammered in a
/// tight loop (open loop waits for the failed send slot's time instead).
const CONNECT_RETRY_DELAY: Duration = Duration::from_millis(10);
/// The pacer's timerfd; connections are `Token(index)`.
const TIMER: Token = Token(usize::MAX);

/// A worker's poller (and pacer, in open loop), made before the worker reports ready, so a
/// failure is a start error.
#[derive(Debug)]
pub(super) struct Engine {
    poll: Poll,
    pacer: Option<Pacer>,
}

impl Engine {
    pub(super) fn new(mode: Mode) -> io::Result<Self> {
        let poll = Poll::new()?;
        let pacer = match mode {
            Mode::Closed => None,
            Mode::Open { .. } => Some(Pacer::new(poll.registry(), TIMER)?),
        };
        Ok(Self { poll, pacer })
    }

    /// Drives the worker's connections until the end of the measured interval (or cancel);
    /// returns the thread's CPU time and naps during the measured interval.
    pub(super) fn run(
        self,
        plan: &WorkerPlan,
        config: &LoadConfig,
        window: Window,
        cancel: &Cancel,
        stats: &mut WorkerStats,
    ) -> Totals {
        let Engine {
            mut poll,
            mut pacer,
        } = self;
        // Each template's bytes, once per target slot; connections share them.
        let prebuilt: Vec<Rc<[Prebuilt]>> = plan
            .replicas
            .iter()
            .map(|&r| request::prebuild(&config.requests, config.targets[r as usize]))
            .collect();
        let only = request::only(&config.requests);
        let mut connections: Vec<Connection> = plan
            .connections
            .iter()
            .map(|c| {
                let target = config.targets[c.replica as usize];
                let mut schedule = match config.mode {
                    Mode::Open { rate_per_sec } => Some(Schedule::new(
                        window.start,
                        c.global,
                        config.connections,
                        rate_per_sec,
                    )),
                    Mode::Closed => None,
                };
                let next_send = schedule.as_mut().and_then(Schedule::next);
                let mut mix = only.is_none().then(|| Mix::new(&config.requests, c.global));
                Connection {
                    target,
                    requests: Rc::clone(&prebuilt[c.slot]),
                    current: mix.as_mut().map_or(only.unwrap_or(0), Mix::next),
                    mix,
                    slot: c.slot,
                    reader: ResponseReader::default(),
                    schedule,
                    next_send,
                    state: State::Idle { retry_at: None },
                }
            })
            .collect();
        let mut events = Events::with_capacity(connections.len().max(16) + 1);
        let mut driver = Driver {
            poll: &mut poll,
            timeout: config.timeout,
            end: window.measure_end,
            due: BinaryHeap::with_capacity(connections.len()),
            coalescer: (pacer.is_none() && config.coalesce).then(Coalescer::default),
            spinner: (pacer.is_none() && config.spin).then(Spinner::default),
            stats,
        };
        if driver.coalescer.is_some() {
            // Naps are tens of microseconds: the default 50 µs of timer slack would double them.
            let _ = nix::sys::prctl::set_timerslack(1);
        }
        let mut cpu_at_start = None;
        // Taken when the window closes: the drain after it is not the window's load.
        let mut cpu_at_end = None;
        let drain_until = drain_deadline(window.measure_end, config.timeout);
        let (mut naps, mut napped) = (0, Duration::ZERO);
        let (mut spins, mut spun) = (0, Duration::ZERO);
        let mut next_scan = Instant::now();
        loop {
            let mut now = Instant::now();
            if cpu_at_start.is_none() && now >= window.measure_start {
                cpu_at_start = Some(thread_cpu_time());
            }
            if cancel.is_cancelled() {
                break;
            }
            if now >= window.measure_end {
                if cpu_at_end.is_none() {
                    cpu_at_end = Some(thread_cpu_time());
                    // Settle the connections that wait for nothing (idle, refused) at once.
                    next_scan = now;
                }
                let open = |c: &Connection| !matches!(c.state, State::Done);
                if now >= drain_until || !connections.iter().any(open) {
                    for (index, connection) in connections.iter_mut().enumerate() {
                        driver.close_out(Token(index), connection, now);
                    }
                    break;
                }
            }
            let measuring = cpu_at_start.is_some() && cpu_at_end.is_none();
            if now >= next_scan {
                for (index, connection) in connections.iter_mut().enumerate() {
                    driver.check_deadline(Token(index), connection, now);
                }
                driver.stats.flush_live(now, false);
                next_scan = now + SCAN;
            }
            // Open loop: send what is due, each with its own clock read (sends take a few
            // microseconds each and the send time is measured).
            while let Some(&Reverse((due, index))) = driver.due.peek() {
                if due > now {
                    break;
                }
                driver.due.pop();
                if let Some(connection) = connections.get_mut(index) {
                    driver.send_due(Token(index), connection);
                }
                now = Instant::now();
            }
            let end = if cpu_at_end.is_none() {
                window.measure_end
            } else {
                drain_until
            };
            let mut wake = next_scan.min(end);
            if cpu_at_start.is_none() {
                wake = wake.min(window.measure_start);
            }
            let next_due = driver.due.peek().map(|&Reverse((due, _))| due);
            let timeout = match pacer.as_mut().map(|p| p.wait(now, next_due, wake)) {
                // Closed loop: poll's own (millisecond) timeout is precise enough for scans.
                None => Some(wake.saturating_duration_since(now)),
                Some(Ok(Wait::Spin)) => Some(Duration::ZERO),
                // The timer will wake the poller.
                Some(Ok(Wait::Block)) => None,
                // The timer cannot be armed: wait no longer than the next send (poll's own
                // millisecond timeout, so sends are up to a millisecond late) rather than stop.
                Some(Err(_)) => Some(
                    next_due
                        .unwrap_or(wake)
                        .min(wake)
                        .saturating_duration_since(now),
                ),
            };
            let nap = driver.coalescer.as_ref().map_or(Duration::ZERO, |c| {
                c.nap(|| {
                    connections
                        .iter()
                        .filter(|c| matches!(c.state, State::Exchange { .. }))
                        .count()
                })
            });
            let polled = if let (true, Some(spinner)) = (nap.is_zero(), &mut driver.spinner) {
                let (polled, spin) = wait_spinning(driver.poll, &mut events, timeout, spinner);
                if measuring && !spin.is_zero() {
                    spins += 1;
                    spun += spin;
                }
                polled
            } else if nap.is_zero() {
                driver.poll.poll(&mut events, timeout)
            } else {
                // Closed loop with a backlog at the server: read what is there; if nothing
                // is, nap, then block (see `coalesce`).
                match driver.poll.poll(&mut events, Some(Duration::ZERO)) {
                    Ok(()) if events.is_empty() => {
                        nap_for(nap);
                        if measuring {
                            naps += 1;
                            napped += nap;
                        }
                        driver.poll.poll(&mut events, timeout)
                    }
                    other => other,
                }
            };
            match polled {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // epoll_wait fails only on a bad descriptor or buffer, which mio rules out;
                // end the worker rather than spin on it.
                Err(_) => break,
            }
            for event in &events {
                if event.token() == TIMER {
                    if let Some(pacer) = &mut pacer {
                        pacer.fired(Instant::now());
                    }
                } else if let Some(connection) = connections.get_mut(event.token().0) {
                    driver.on_event(event.token(), connection);
                }
            }
        }
        let cpu_time = cpu_at_start.map_or(Duration::ZERO, |at_start| {
            cpu_at_end
                .unwrap_or_else(thread_cpu_time)
                .saturating_sub(at_start)
        });
        driver.stats.flush_live(Instant::now(), true);
        Totals {
            cpu_time,
            naps,
            napped,
            spins,
            spun,
        }
    }
}

/// When the drain after the window gives up: every request sent by then has had its `timeout`
/// (a send at the close may be up to [`LATE_SEND`] late; deadlines are checked every [`SCAN`]).
fn drain_deadline(measure_end: Instant, timeout: Duration) -> Instant {
    let wait = timeout + LATE_SEND + 2 * SCAN;
    // `run` validated that the window plus `timeout` fits; the rest is milliseconds.
    measure_end.checked_add(wait).unwrap_or(measure_end)
}

/// A worker's own figures over the measured interval.
#[derive(Debug)]
pub(super) struct Totals {
    pub cpu_time: Duration,
    /// Closed-loop coalescing naps, and their asked-for length (the timer wakes the worker
    /// some microseconds later; that time shows as neither busy nor napped).
    pub naps: u64,
    pub napped: Duration,
    /// Closed-loop waits that busy-polled before reading or blocking, and the time spent so (in
    /// `cpu_time` too).
    pub spins: u64,
    pub spun: Duration,
}

/// One keep-alive connection to one target.
#[derive(Debug)]
struct Connection {
    target: SocketAddr,
    /// The bytes of each template for this target, and the index of the one to send next (or
    /// in flight).
    requests: Rc<[Prebuilt]>,
    current: usize,
    /// Draws `current` after each outcome when there are several to draw from.
    mix: Option<Mix>,
    /// Index into the worker's per-target stats.
    slot: usize,
    reader: ResponseReader,
    /// Open loop: this connection's send times, and the next one (`None` once past the end).
    schedule: Option<Schedule>,
    next_send: Option<Instant>,
    state: State,
}

impl Connection {
    fn is_open_loop(&self) -> bool {
        self.schedule.is_some()
    }

    /// The request to send next (or in flight).
    fn request(&self) -> &Prebuilt {
        &self.requests[self.current]
    }

    /// Moves the schedule on by one send slot.
    fn advance_schedule(&mut self) {
        if let Some(schedule) = &mut self.schedule {
            self.next_send = schedule.next();
        }
    }
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
struct Driver<'a> {
    poll: &'a mut Poll,
    timeout: Duration,
    /// The close of the measured window.
    end: Instant,
    due: BinaryHeap<Reverse<(Instant, usize)>>,
    /// Closed loop: how long to nap before blocking.
    coalescer: Option<Coalescer>,
    /// Closed loop: how long to busy-poll before blocking when no nap is due.
    spinner: Option<Spinner>,
    stats: &'a mut WorkerStats,
}

impl Driver<'_> {
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
    fn check_deadline(&mut self, token: Token, connection: &mut Connection, now: Instant) {
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
    fn close_out(&mut self, token: Token, connection: &mut Connection, now: Instant) {
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
                }
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

    fn on_event(&mut self, token: Token, connection: &mut Connection) {
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
                match connection.reader.read_available(&mut stream, bodiless) {
                    None => {
                        connection.state = State::Exchange {
                            stream,
                            intended,
                            sent,
                            written,
                            deadline,
                        }
                    }
                    Some(Err(failure)) => {
                        drop(stream);
                        let (kind, at) = (ErrorKind::from(failure), intended.unwrap_or(sent));
                        self.exchange_failed(token, connection, Instant::now(), kind, at);
                    }
                    Some(Ok(response)) => {
                        let done = Instant::now();
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
                            self.ready(token, connection, stream, done);
                        } else {
                            // The server closed (or will close) it: a new connection carries on
                            // with the same schedule, its connect inside the next request's
                            // corrected latency.
                            drop(stream);
                            let at = intended.unwrap_or(sent);
                            self.stats.reconnected(connection.slot, at);
                            self.connect(token, connection, done);
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
        match connection.next_send {
            Some(next) if now < next && next < self.end => {
                connection.state = State::Ready { stream };
                self.due.push(Reverse((next, token.0)));
            }
            next if self.may_send(next, now) => self.send(token, connection, stream, now, next),
            _ => self.give_up(connection),
        }
    }

    /// The due heap says this connection's next send has come.
    fn send_due(&mut self, token: Token, connection: &mut Connection) {
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
                }
            }
            Err(_) => {
                drop(stream);
                let at = intended.unwrap_or(sent);
                self.exchange_failed(token, connection, sent, ErrorKind::Io, at);
            }
        }
    }
}

/// Closed loop, no nap due: busy-polls for the spinner's window, then blocks up to `timeout`,
/// and tells the spinner how long the wait for events was. Returns the poll's outcome and the
/// time spent spinning (zero when there was something to read at once or no window).
fn wait_spinning(
    poll: &mut Poll,
    events: &mut Events,
    timeout: Option<Duration>,
    spinner: &mut Spinner,
) -> (io::Result<()>, Duration) {
    let start = Instant::now();
    let window = spinner.window();
    let mut spun = Duration::ZERO;
    if !window.is_zero() {
        loop {
            if let Err(e) = poll.poll(events, Some(Duration::ZERO)) {
                return (Err(e), spun);
            }
            let waited = start.elapsed();
            if !events.is_empty() {
                spinner.observe(waited);
                // Something to read at the first look is no spin.
                let spin = if spun.is_zero() { spun } else { waited };
                return (Ok(()), spin);
            }
            spun = waited;
            if waited >= window {
                break;
            }
        }
    }
    let polled = poll.poll(events, timeout);
    spinner.observe(if events.is_empty() {
        Duration::MAX
    } else {
        start.elapsed()
    });
    (polled, spun)
}

/// A sleep that no socket event ends (it is not `epoll_wait`).
fn nap_for(d: Duration) {
    let _ = nix::time::clock_nanosleep(
        nix::time::ClockId::CLOCK_MONOTONIC,
        nix::time::ClockNanosleepFlags::empty(),
        &nix::sys::time::TimeSpec::from_duration(d),
    );
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
