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
//!   what is due, then asks the [`Pacer`] how to wait for the next one (sleep on its timerfd, or
//!   busy-poll the last few microseconds, still reading responses). While it sleeps only the
//!   timer wakes it: the responses that came meanwhile are read at that wake-up, each timed
//!   by the kernel's receive timestamp (`arrival`), so the worker wakes once per batch of sends
//!   rather than also once per response. It waits on the sockets as well while a connection
//!   is owed a look (`Connection::attention_at`: a response still open at the connection's
//!   next send slot, a half-read response or half-written request, a connect), while
//!   responses come unstamped, after a response larger than 64 KiB, and after the window
//!   closes. A connection whose response
//!   comes after its next intended time sends at once, back to back, keeping the intended times
//!   (nothing of the window is skipped). A warm-up backlog is: send slots from before the window
//!   still unsent, more than [`LATE_SEND`] behind, when the window opens are dropped and counted
//!   (`warmup_dropped`), so the window's own schedule goes out rather than the warm-up's. A
//!   failed connect spends that send slot: the connection tries again at the slot's time, with
//!   the next one.
//!
//! **The close of the window** (see the module doc of `loadgen`): outcomes are placed by the
//! intended send time (closed loop: the send), not by their completion. When the window
//! closes, nothing new is sent — except a request intended inside the window that is not yet
//! [`LATE_SEND`] behind, i.e. the ordinary schedule caught at the close — and the loop keeps
//! reading until every request intended inside the window has an outcome: its response, a
//! `timeout` after the plan's `timeout`, or `unsent` for each send slot a connection still had
//! inside the window (it was waiting on an earlier response, or not connected). The drain is
//! bounded by `timeout` (plus two scans); whatever is still open then is closed out the same way.
//! A request never answered waited at least until it was given up (`timeout`) or until the end
//! of the drain (`unsent`): those waits are recorded as lower bounds (`waited`), so overload
//! shows in the corrected latency rather than as a blank.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::rc::Rc;
use std::time::{Duration, Instant};

use mio::{Events, Poll, Token};

use super::arrival::Arrivals;
use super::coalesce::Coalescer;
use super::driver::{Connection, Driver, State};
use super::http::ResponseReader;
use super::pacer::{Pacer, Wait};
use super::request::{self, Mix, Prebuilt};
use super::spin::Spinner;
use super::stats::WorkerStats;
use super::worker::{thread_cpu_time, Schedule, Window, WorkerPlan};
use super::{Cancel, LoadConfig, Mode, LATE_SEND};

/// How often deadlines and the cancel flag are looked at: a timeout fires up to this late.
const SCAN: Duration = Duration::from_millis(10);
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
    pub(super) fn new(config: &LoadConfig) -> io::Result<Self> {
        let poll = Poll::new()?;
        let pacer = match config.mode {
            Mode::Closed => None,
            Mode::Open { .. } => {
                Some(Pacer::new(poll.registry(), TIMER)?.precise_to(config.send_precision))
            }
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
            open: window.measure_start,
            end: window.measure_end,
            due: BinaryHeap::with_capacity(connections.len()),
            coalescer: (pacer.is_none() && config.coalesce).then(Coalescer::default),
            spinner: (pacer.is_none() && config.spin).then(Spinner::default),
            stats,
            arrivals: pacer.is_some().then(Arrivals::new),
            attention: BinaryHeap::with_capacity(connections.len()),
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
        // Open loop: busy-polls for a send time that found nothing to read (pacing, not work).
        let (mut paces, mut paced) = (0, Duration::ZERO);
        let mut wakeups = 0;
        // Responses stamped by the kernel, counted from the window's open to the end of the
        // drain (which reads the last of the window's responses): the window's responses,
        // plus the few of the warm-up still in flight at its open.
        let stamped = |driver: &Driver<'_>| driver.arrivals.as_ref().map_or(0, |a| a.stamped);
        let mut stamped_at_start = 0;
        let mut next_scan = Instant::now();
        loop {
            let mut now = Instant::now();
            let turn_began = now;
            if cpu_at_start.is_none() && now >= window.measure_start {
                cpu_at_start = Some(thread_cpu_time());
                stamped_at_start = stamped(&driver);
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
                    driver.stats.settle(now);
                    break;
                }
            }
            let measuring = cpu_at_start.is_some() && cpu_at_end.is_none();
            if now >= next_scan {
                for (index, connection) in connections.iter_mut().enumerate() {
                    driver.check_deadline(Token(index), connection, now);
                }
                driver.stats.flush_live(now, false);
                if let Some(arrivals) = &mut driver.arrivals {
                    arrivals.renew();
                }
                next_scan = now + SCAN;
            }
            // Open loop: send what is due, each with its own clock read (sends take a few
            // microseconds each and the send time is measured).
            let mut sent = false;
            while let Some(&Reverse((due, index))) = driver.due.peek() {
                if due > now {
                    break;
                }
                sent = true;
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
            let mut next_due = driver.due.peek().map(|&Reverse((due, _))| due);
            // Open loop: read responses late, at the wake-ups the sends make (timed by the
            // kernel, see `arrival`), unless a connection needs a look now (it waits on a
            // response past its next send slot, or a half-done exchange or connect) or the
            // window has closed (the drain reads as responses come).
            let attention = driver.attention_due(&connections);
            let owed_now = attention.is_some_and(|at| at <= now);
            if let Some(at) = attention.filter(|_| !owed_now) {
                next_due = Some(next_due.map_or(at, |due| due.min(at)));
            }
            let lazy = !owed_now
                && cpu_at_end.is_none()
                && driver
                    .arrivals
                    .as_ref()
                    .is_some_and(Arrivals::may_read_late);
            let mut pacing = false;
            let timeout = match pacer.as_mut().map(|p| p.wait(now, next_due, wake)) {
                // Closed loop: poll's own (millisecond) timeout is precise enough for scans.
                None => Some(wake.saturating_duration_since(now)),
                Some(Ok(Wait::Spin)) => {
                    pacing = true;
                    Some(Duration::ZERO)
                }
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
            if measuring && pacer.is_some() && timeout.is_none_or(|t| !t.is_zero()) {
                wakeups += 1;
            }
            let polled = if lazy && timeout.is_none() {
                // The timer alone wakes the thread; then whatever is readable is read.
                match pacer.as_mut().map(Pacer::sleep) {
                    // `poll` on one timerfd fails only on a bad descriptor or buffer (it
                    // retries interruptions): end the worker, as for `epoll_wait` below.
                    Some(Err(_)) => break,
                    _ => driver.poll.poll(&mut events, Some(Duration::ZERO)),
                }
            } else if pacing {
                let polled = driver.poll.poll(&mut events, timeout);
                // A turn that only looked at the clock and found nothing to read or send was
                // spent waiting for a send time.
                if measuring && !sent && events.is_empty() {
                    paces += 1;
                    paced += turn_began.elapsed();
                }
                polled
            } else if let (true, Some(spinner)) = (nap.is_zero(), &mut driver.spinner) {
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
            paces,
            paced,
            wakeups,
            stamped: stamped(&driver).saturating_sub(stamped_at_start),
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
    /// Open loop: busy-polls waiting for a send time that found nothing to read, and the time
    /// spent so (in `cpu_time` too): pacing, not work.
    pub paces: u64,
    pub paced: Duration,
    /// Open loop: waits that could sleep during the measured window (wake-ups, when they
    /// did), and the window's responses timed by their kernel receive timestamp (read from
    /// the window's open to the end of the drain; the few warm-up responses still in flight
    /// at the open count too, so it can exceed the window's requests by up to one per
    /// connection).
    pub wakeups: u64,
    pub stamped: u64,
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
