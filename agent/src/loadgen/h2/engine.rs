//! One worker's event loop over HTTP/2 connections: the phase loop HTTP/1.1 runs too
//! (`turns.rs`), window, scan and stats, with streams in place of one exchange per connection.
//!
//! Closed loop: each connection keeps `streams` requests in flight, a new one on a stream as
//! soon as the previous one on it ends. Open loop: the send slots of a worker's connections to
//! one replica are pooled (`SlotPool`), and each, when due, goes out on the stream to that
//! replica that freed first (`sends.rs`: a queue of free streams, so a send costs O(1) however
//! many connections the worker has); when every stream is busy the slot waits, late, and goes
//! out as soon as one frees, keeping its intended time (so the wait is in its corrected
//! latency). The window's accounting is that of HTTP/1.1: a warm-up
//! backlog is dropped at the open, slots the close leaves unsent are `unsent`.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::{Duration, Instant};

use mio::{Events, Poll, Token};

use super::conn::{H2Connection, State};
use super::ctx::Ctx;
use super::request;
use super::sends::Sends;
use crate::loadgen::config::{Cancel, LoadConfig, Mode, Protocol};
use crate::loadgen::pacer::{Pacer, Wait};
use crate::loadgen::phase::{thread_cpu_time, Phases};
use crate::loadgen::plan::WorkerPlan;
use crate::loadgen::report::{ThreadCounts, WorkerReport};
use crate::loadgen::request::{only, Mix};
use crate::loadgen::setup::Connector;
use crate::loadgen::shape::{SendPlan, SendTimes, SlotPool};
use crate::loadgen::stats::WorkerStats;
use crate::loadgen::tls::TlsClient;
use crate::loadgen::turns::{self, Turns};
use crate::loadgen::wait::{Turn, TIMER};
use crate::loadgen::window::{Schedule, Window};

/// A worker's poller, pacer (open loop) and TLS client, made before it reports ready.
#[derive(Debug)]
pub(in crate::loadgen) struct H2Engine {
    poll: Poll,
    pacer: Option<Pacer>,
    tls: Option<TlsClient>,
}

impl H2Engine {
    pub(in crate::loadgen) fn new(config: &LoadConfig) -> std::io::Result<Self> {
        let poll = Poll::new()?;
        let pacer = match config.mode {
            Mode::Open { .. } => {
                Some(Pacer::new(poll.registry(), TIMER)?.precise_to(config.send_precision))
            }
            Mode::Closed => None,
        };
        let tls = config
            .tls
            .as_ref()
            .map(TlsClient::new)
            .transpose()
            .map_err(std::io::Error::other)?;
        Ok(Self { poll, pacer, tls })
    }

    /// Drives the worker's connections through warm-up, window and drain (or until cancelled).
    pub(in crate::loadgen) fn run(
        self,
        plan: &WorkerPlan,
        config: &LoadConfig,
        window: Window,
        cancel: &Cancel,
        mut stats: WorkerStats,
    ) -> WorkerReport {
        let H2Engine {
            mut poll,
            pacer,
            tls,
        } = self;
        let connections = connections(plan, config);
        let sends = schedules(plan, config, window);
        let mut events = Events::with_capacity(connections.len().max(16) + 1);
        let ctx = Ctx {
            poll: &mut poll,
            timeout: config.timeout,
            window,
            stats: &mut stats,
            connector: connector(config, tls),
            streams: config.streams.max(1) as usize,
            closed_loop: sends.is_empty(),
            sends,
        };
        let mut turns = H2Turns {
            ctx,
            flushed: Vec::with_capacity(connections.len()),
            connections,
            pacer,
            next_due: None,
        };
        let mut phases = Phases::new(window, config.timeout);
        turns::run(&mut turns, &mut phases, cancel, &mut events);
        drop(turns);
        let counts = ThreadCounts {
            cpu_time: phases.cpu_time(thread_cpu_time),
            ..ThreadCounts::default()
        };
        WorkerReport {
            worker: plan.worker,
            cpu: plan.cpu,
            counts,
            per_target: stats.into_per_target(),
        }
    }
}

/// HTTP/2's steps of the worker's turns (`turns.rs`).
struct H2Turns<'a> {
    ctx: Ctx<'a>,
    connections: Vec<H2Connection>,
    pacer: Option<Pacer>,
    /// Open loop: when the next slot a free stream could take falls due.
    next_due: Option<Instant>,
    /// The connections a turn's sends opened streams on, to write out (kept empty between
    /// turns, so no allocation per turn).
    flushed: Vec<usize>,
}

impl Turns for H2Turns<'_> {
    fn stats(&mut self) -> &mut WorkerStats {
        self.ctx.stats
    }

    fn busy(&self) -> bool {
        let end = self.ctx.window.measure_end;
        self.connections.iter().any(|c| c.outstanding() > 0)
            || self
                .ctx
                .sends
                .iter()
                .any(|s| s.schedule.peek().is_some_and(|at| at < end))
    }

    fn close_out(&mut self, now: Instant) {
        let ctx = &mut self.ctx;
        for connection in &mut self.connections {
            connection.close_out(ctx, now);
        }
        let end = ctx.window.measure_end;
        for (target, sent) in ctx.sends.iter_mut().enumerate() {
            sent.give_up(ctx.stats, target, end);
        }
    }

    fn scan(&mut self, now: Instant) {
        for (index, connection) in self.connections.iter_mut().enumerate() {
            connection.check_deadlines(&mut self.ctx, Token(index), now);
        }
    }

    fn send_due(&mut self) -> bool {
        let (next_due, sent) = send_due(&mut self.ctx, &mut self.connections, &mut self.flushed);
        self.next_due = next_due;
        sent
    }

    /// Open loop: for the next due slot, as the pacer says; closed loop: for the sockets.
    fn wait(&mut self, turn: Turn, events: &mut Events) -> std::io::Result<()> {
        let (wake, now) = (turn.wake, Instant::now());
        let timeout = match &mut self.pacer {
            Some(pacer) => match pacer.wait(now, self.next_due, wake) {
                Ok(Wait::Spin) => Some(Duration::ZERO),
                Ok(Wait::Block) => None,
                // The timer cannot be armed: wait no longer than the next send.
                Err(_) => Some(
                    self.next_due
                        .unwrap_or(wake)
                        .min(wake)
                        .saturating_duration_since(now),
                ),
            },
            None => Some(wake.saturating_duration_since(now)),
        };
        self.ctx.poll.poll(events, timeout)
    }

    fn dispatch(&mut self, token: Token) {
        if token == TIMER {
            if let Some(pacer) = &mut self.pacer {
                pacer.fired(Instant::now());
            }
        } else if let Some(connection) = self.connections.get_mut(token.0) {
            connection.on_event(&mut self.ctx, token);
        }
    }
}

/// Sets the connections up; over TLS, the server must choose `h2` by ALPN.
fn connector(config: &LoadConfig, tls: Option<TlsClient>) -> Connector {
    let h2: &'static [u8] = b"h2";
    Connector {
        timeout: config.timeout,
        alpn: tls.is_some().then_some(h2),
        tls,
    }
}

/// The worker's connections, idle.
fn connections(plan: &WorkerPlan, config: &LoadConfig) -> Vec<H2Connection> {
    let tls = config.protocol == Protocol::H2;
    let prebuilt: Vec<Rc<[request::H2Request]>> = plan
        .replicas
        .iter()
        .map(|&r| request::prebuild(&config.requests, config.targets[r as usize], tls))
        .collect();
    let only = only(&config.requests);
    plan.connections
        .iter()
        .map(|c| {
            let mut mix = only.is_none().then(|| Mix::new(&config.requests, c.global));
            H2Connection {
                target: config.targets[c.replica as usize],
                target_index: c.target,
                requests: Rc::clone(&prebuilt[c.target]),
                current: mix.as_mut().map_or(only.unwrap_or(0), Mix::next),
                mix,
                opened: None,
                state: State::Idle { retry_at: None },
                retry: Vec::new(),
                events: Vec::new(),
                session: 0,
                unflushed: false,
            }
        })
        .collect()
}

/// Open loop: per target of the worker, its connections' send slots pooled; closed loop: none.
fn schedules(plan: &WorkerPlan, config: &LoadConfig, window: Window) -> Vec<Sends> {
    let Mode::Open { rate_per_sec } = config.mode else {
        return Vec::new();
    };
    let sends = SendPlan::new(rate_per_sec, config.warmup, &config.shape);
    let only = only(&config.requests);
    let replay = config.shape.trace.is_some();
    (0..plan.replicas.len())
        .map(|target| {
            let members = plan
                .connections
                .iter()
                .filter(|c| c.target == target)
                .map(|c| SendTimes::new(&sends, c.global, config.connections))
                .collect::<Vec<_>>();
            let streams = members.len() * config.streams.max(1) as usize;
            let pool = Rc::new(RefCell::new(SlotPool::new(members)));
            let first = plan.connections.iter().find(|c| c.target == target);
            let mix = (only.is_none() && !replay)
                .then(|| Mix::new(&config.requests, first.map_or(0, |c| c.global)));
            Sends {
                schedule: Schedule::pooled(window.start, pool),
                mix,
                only: only.unwrap_or(0),
                free: VecDeque::with_capacity(streams),
            }
        })
        .collect()
}

/// Open loop: sends every due slot a stream can take, each on the stream of its target freed
/// first; drops a warm-up backlog at the open and gives up the window's slots after the close.
/// `flushed` (kept between calls, empty) collects the connections to write out. Returns when
/// the next slot a free stream could take falls due, and whether anything was sent.
fn send_due(
    ctx: &mut Ctx<'_>,
    connections: &mut [H2Connection],
    flushed: &mut Vec<usize>,
) -> (Option<Instant>, bool) {
    let mut next_due: Option<Instant> = None;
    let mut sent = false;
    let window = ctx.window;
    for target in 0..ctx.sends.len() {
        let mut now = Instant::now();
        let dropped = ctx.sends[target].drop_warmup_backlog(now, &window);
        if dropped > 0 {
            ctx.stats.warmup_dropped(target, dropped);
        }
        while let Some(at) = ctx.sends[target].schedule.peek() {
            if at > now {
                next_due = Some(next_due.map_or(at, |d| d.min(at)));
                break;
            }
            if !window.may_send(Some(at), now) {
                ctx.sends[target].give_up(ctx.stats, target, window.measure_end);
                break;
            }
            let Some((index, slot)) = free_stream(&mut ctx.sends[target], connections) else {
                break;
            };
            let Some((at, request)) = ctx.sends[target].take() else {
                break;
            };
            let connection = &mut connections[index];
            connection.send(ctx, slot, request, Some(at), now);
            sent = true;
            if !connection.unflushed {
                connection.unflushed = true;
                flushed.push(index);
            }
            now = Instant::now();
        }
        for index in flushed.drain(..) {
            connections[index].unflushed = false;
            connections[index].flush(ctx, Token(index), now);
        }
    }
    (next_due, sent)
}

/// The stream the target's next send goes out on: the first entry of its queue of free
/// streams still free (taken off the queue), entries that no longer are dropped.
fn free_stream(sends: &mut Sends, connections: &[H2Connection]) -> Option<(usize, usize)> {
    while let Some((index, session)) = sends.free.pop_front() {
        let free = connections.get(index).and_then(|c| c.free_stream(session));
        if let Some(slot) = free {
            return Some((index, slot));
        }
    }
    None
}
