//! One worker's event loop over HTTP/1.1 connections: driven by a plain edge-triggered `epoll`
//! loop (mio), no async runtime, in both modes (how each mode behaves is the module doc of
//! `loadgen`).
//!
//! The generator's own cost per request is what limits it, so a request costs only what it
//! needs: one `write` of a pre-built request, the response `read` when the socket reports it
//! readable (registered once per connection, so no `epoll_ctl` per request as wrk does), clock
//! reads, and a histogram record. No task wake-ups, no timer entry per request: connect and
//! exchange deadlines are checked by a scan of the connections every `SCAN`, which also
//! looks at the cancel flag.
//!
//! [`Engine::run`] runs the phase loop both protocols share (`turns.rs`) with HTTP/1.1's steps:
//! close out what is left (`timeout` for an exchange, `unsent` for each send slot of the
//! window), scan the connections' deadlines, send what the due heap says is due (open loop),
//! wait as the mode's [`Waiter`] does, and dispatch what became ready to the connections'
//! transitions (`driver.rs`, deciding through `connection.rs`).

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::rc::Rc;
use std::time::Instant;

use mio::{Events, Poll, Token};

use super::arrival::Arrivals;
use super::coalesce::Coalescer;
use super::config::{Cancel, LoadConfig, Mode};
use super::connection::{Connection, State};
use super::driver::Driver;
use super::http::ResponseReader;
use super::phase::{thread_cpu_time, Phase, Phases};
use super::plan::WorkerPlan;
use super::report::{ThreadCounts, WorkerReport};
use super::request::{self, Mix};
use super::setup::Connector;
use super::shape::{SendPlan, SendTimes, SlotPool};
use super::stats::WorkerStats;
use super::tls::TlsClient;
use super::turns::{self, Turns};
use super::wait::{Turn, Waiter, TIMER};
use super::window::{Schedule, Window};

/// A worker's poller and waiting strategy (with the pacer's timer, in open loop), made before
/// the worker reports ready, so a failure is a start error.
#[derive(Debug)]
pub(super) struct Engine {
    poll: Poll,
    waiter: Waiter,
    /// TLS: this worker's own client (its own session cache).
    tls: Option<TlsClient>,
}

impl Engine {
    pub(super) fn new(config: &LoadConfig) -> io::Result<Self> {
        let poll = Poll::new()?;
        let waiter = Waiter::new(config, &poll)?;
        // `run` made the same client before the workers: a failure here is a start error.
        let tls = config
            .tls
            .as_ref()
            .map(TlsClient::new)
            .transpose()
            .map_err(io::Error::other)?;
        Ok(Self { poll, waiter, tls })
    }

    /// Drives the worker's connections through warm-up, the measured window and the drain
    /// after it (or until cancelled); returns what the worker measured.
    pub(super) fn run(
        self,
        plan: &WorkerPlan,
        config: &LoadConfig,
        window: Window,
        cancel: &Cancel,
        mut stats: WorkerStats,
    ) -> WorkerReport {
        let Engine {
            mut poll,
            waiter,
            tls,
        } = self;
        let open_loop = matches!(waiter, Waiter::Open(_));
        let connections = connections(plan, config, window);
        let mut events = Events::with_capacity(connections.len().max(16) + 1);
        let driver = Driver {
            poll: &mut poll,
            timeout: config.timeout,
            window,
            due: BinaryHeap::with_capacity(connections.len()),
            coalescer: (!open_loop && config.coalesce).then(Coalescer::default),
            stats: &mut stats,
            arrivals: open_loop.then(Arrivals::new),
            attention: BinaryHeap::with_capacity(connections.len()),
            connector: Connector {
                timeout: config.timeout,
                tls,
                alpn: None,
            },
        };
        if driver.coalescer.is_some() {
            // Naps are tens of microseconds: the default 50 µs of timer slack would double them.
            let _ = nix::sys::prctl::set_timerslack(1);
        }
        let mut turns = H1Turns {
            driver,
            connections,
            waiter,
            stamped_at_open: 0,
        };
        let mut phases = Phases::new(window, config.timeout);
        turns::run(&mut turns, &mut phases, cancel, &mut events);
        let counts = ThreadCounts {
            cpu_time: phases.cpu_time(thread_cpu_time),
            stamped: turns.stamped().saturating_sub(turns.stamped_at_open),
            ..turns.waiter.counts()
        };
        drop(turns);
        WorkerReport {
            worker: plan.worker,
            cpu: plan.cpu,
            counts,
            per_target: stats.into_per_target(),
        }
    }
}

/// HTTP/1.1's steps of the worker's turns (`turns.rs`).
struct H1Turns<'a> {
    driver: Driver<'a>,
    connections: Vec<Connection>,
    waiter: Waiter,
    /// Responses stamped by the kernel before the window opened.
    stamped_at_open: u64,
}

impl H1Turns<'_> {
    /// Responses stamped by the kernel so far. Counted from the window's open to the end of
    /// the drain (which reads the last of the window's responses): the window's responses,
    /// plus the few of the warm-up still in flight at its open.
    fn stamped(&self) -> u64 {
        self.driver.arrivals.as_ref().map_or(0, |a| a.stamped)
    }
}

impl Turns for H1Turns<'_> {
    fn stats(&mut self) -> &mut WorkerStats {
        self.driver.stats
    }

    fn entered(&mut self, phase: Phase, _now: Instant) {
        if phase == Phase::Measuring {
            self.stamped_at_open = self.stamped();
        }
    }

    fn busy(&self) -> bool {
        self.connections.iter().any(Connection::is_open)
    }

    fn close_out(&mut self, now: Instant) {
        for (index, connection) in self.connections.iter_mut().enumerate() {
            self.driver.close_out(Token(index), connection, now);
        }
    }

    /// Passed deadlines acted on, the arrival clock renewed.
    fn scan(&mut self, now: Instant) {
        for (index, connection) in self.connections.iter_mut().enumerate() {
            self.driver.check_deadline(Token(index), connection, now);
        }
        if let Some(arrivals) = &mut self.driver.arrivals {
            arrivals.renew();
        }
    }

    /// Open loop: sends what the due heap says is due, each with its own clock read (sends
    /// take a few microseconds each and the send time is measured).
    fn send_due(&mut self) -> bool {
        let mut sent = false;
        let mut now = Instant::now();
        while let Some(&Reverse((due, index))) = self.driver.due.peek() {
            if due > now {
                break;
            }
            sent = true;
            self.driver.due.pop();
            if let Some(connection) = self.connections.get_mut(index) {
                self.driver.send_due(Token(index), connection);
            }
            now = Instant::now();
        }
        sent
    }

    fn wait(&mut self, turn: Turn, events: &mut Events) -> io::Result<()> {
        self.waiter
            .wait(turn, &mut self.driver, &self.connections, events)
    }

    fn dispatch(&mut self, token: Token) {
        if token == TIMER {
            self.waiter.timer_fired(Instant::now());
        } else if let Some(connection) = self.connections.get_mut(token.0) {
            self.driver.on_event(token, connection);
        }
    }
}

/// The worker's connections as its plan gives them, idle; open loop with their schedules.
fn connections(plan: &WorkerPlan, config: &LoadConfig, window: Window) -> Vec<Connection> {
    // Each template's bytes, once per target index; connections share them.
    let prebuilt: Vec<Rc<[request::Prebuilt]>> = plan
        .replicas
        .iter()
        .map(|&r| request::prebuild(&config.requests, config.targets[r as usize]))
        .collect();
    let only = request::only(&config.requests);
    let sends = match config.mode {
        Mode::Open { rate_per_sec } => {
            Some(SendPlan::new(rate_per_sec, config.warmup, &config.shape))
        }
        Mode::Closed => None,
    };
    // A trace names each request; nothing is drawn.
    let replay = config.shape.trace.is_some();
    let pools = sends
        .as_ref()
        .filter(|sends| sends.pooled())
        .map(|sends| pools(plan, sends, config.connections));
    plan.connections
        .iter()
        .map(|c| {
            let mut schedule = match (&sends, &pools) {
                (Some(_), Some(pools)) => {
                    Some(Schedule::pooled(window.start, Rc::clone(&pools[c.target])))
                }
                (Some(sends), None) => Some(Schedule::of(
                    window.start,
                    sends,
                    c.global,
                    config.connections,
                )),
                (None, _) => None,
            };
            let next_send = schedule.as_mut().and_then(Schedule::next);
            let traced = schedule.as_ref().and_then(Schedule::request);
            let mut mix = (only.is_none() && !replay).then(|| Mix::new(&config.requests, c.global));
            Connection {
                target: config.targets[c.replica as usize],
                requests: Rc::clone(&prebuilt[c.target]),
                current: traced
                    .unwrap_or_else(|| mix.as_mut().map_or(only.unwrap_or(0), Mix::next)),
                mix,
                target_index: c.target,
                reader: ResponseReader::default(),
                schedule,
                next_send,
                opened: None,
                state: State::Idle { retry_at: None },
            }
        })
        .collect()
}

/// One pool of send slots per target of the worker, of its connections to that target.
fn pools(plan: &WorkerPlan, sends: &SendPlan, connections: u32) -> Vec<Rc<RefCell<SlotPool>>> {
    (0..plan.replicas.len())
        .map(|target| {
            let members = plan
                .connections
                .iter()
                .filter(|c| c.target == target)
                .map(|c| SendTimes::new(sends, c.global, connections))
                .collect();
            Rc::new(RefCell::new(SlotPool::new(members)))
        })
        .collect()
}
