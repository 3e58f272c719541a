//! One worker's event loop over HTTP/2 connections: the same phases, window, scan and stats as
//! HTTP/1.1 (`engine.rs`), with streams in place of one exchange per connection.
//!
//! Closed loop: each connection keeps `streams` requests in flight, a new one on a stream as
//! soon as the previous one on it ends. Open loop: the send slots of a worker's connections to
//! one replica are pooled (`SlotPool`), and each, when due, goes out on the connection to that
//! replica with the fewest streams in flight that has a free one; when every stream is busy the
//! slot waits, late, and goes out as soon as one frees, keeping its intended time (so the wait
//! is in its corrected latency). The window's accounting is that of HTTP/1.1: a warm-up
//! backlog is dropped at the open, slots the close leaves unsent are `unsent`.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Instant;

use mio::{Events, Poll, Token};

use super::conn::{H2Connection, State};
use super::ctx::Ctx;
use super::request;
use super::sends::Sends;
use crate::loadgen::config::{Cancel, LoadConfig, Mode, Protocol};
use crate::loadgen::connection::Connection;
use crate::loadgen::pacer::{Pacer, Wait};
use crate::loadgen::phase::{thread_cpu_time, Phase, Phases, SCAN};
use crate::loadgen::plan::WorkerPlan;
use crate::loadgen::report::{ThreadCounts, WorkerReport};
use crate::loadgen::request::{only, Mix};
use crate::loadgen::setup::Connector;
use crate::loadgen::shape::{SendPlan, SendTimes, SlotPool};
use crate::loadgen::stats::WorkerStats;
use crate::loadgen::tls::TlsClient;
use crate::loadgen::wait::TIMER;
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
            mut pacer,
            tls,
        } = self;
        let mut connections = connections(plan, config);
        let sends = schedules(plan, config, window);
        let mut events = Events::with_capacity(connections.len().max(16) + 1);
        let alpn: &'static [u8] = b"h2";
        let mut ctx = Ctx {
            poll: &mut poll,
            timeout: config.timeout,
            window,
            stats: &mut stats,
            connector: Connector {
                timeout: config.timeout,
                alpn: tls.is_some().then_some(alpn),
                tls,
            },
            streams: config.streams.max(1) as usize,
            closed_loop: sends.is_empty(),
            sends,
        };
        let mut phases = Phases::new(window, config.timeout);
        let mut next_scan = Instant::now();
        loop {
            let began = Instant::now();
            if let Some(Phase::Draining) = phases.advance(began, thread_cpu_time) {
                next_scan = began;
            }
            if cancel.is_cancelled() {
                break;
            }
            let busy = || {
                connections.iter().any(|c| c.outstanding() > 0)
                    || ctx
                        .sends
                        .iter()
                        .any(|s| s.schedule.peek().is_some_and(|at| at < window.measure_end))
            };
            if phases.drained(began, busy) {
                for connection in &mut connections {
                    connection.close_out(&mut ctx, began);
                }
                for (target, sent) in ctx.sends.iter_mut().enumerate() {
                    sent.give_up(ctx.stats, target, window.measure_end);
                }
                ctx.stats.settle(began);
                break;
            }
            if began >= next_scan {
                for (index, connection) in connections.iter_mut().enumerate() {
                    connection.check_deadlines(&mut ctx, Token(index), began);
                }
                ctx.stats.flush_live(began, false);
                next_scan = began + SCAN;
            }
            let next_due = send_due(&mut ctx, &mut connections);
            let wake = next_scan.min(phases.ends_at());
            let now = Instant::now();
            let timeout = match (&mut pacer, next_due) {
                (Some(pacer), next) => match pacer.wait(now, next, wake) {
                    Ok(Wait::Spin) => Some(std::time::Duration::ZERO),
                    Ok(Wait::Block) => None,
                    Err(_) => Some(
                        next.unwrap_or(wake)
                            .min(wake)
                            .saturating_duration_since(now),
                    ),
                },
                (None, _) => Some(wake.saturating_duration_since(now)),
            };
            match poll_once(ctx.poll, &mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
            for event in &events {
                if event.token() == TIMER {
                    if let Some(pacer) = &mut pacer {
                        pacer.fired(Instant::now());
                    }
                } else if let Some(connection) = connections.get_mut(event.token().0) {
                    connection.on_event(&mut ctx, event.token());
                }
            }
        }
        phases.finish();
        ctx.stats.flush_live(Instant::now(), true);
        drop(ctx);
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

fn poll_once(
    poll: &mut Poll,
    events: &mut Events,
    timeout: Option<std::time::Duration>,
) -> std::io::Result<()> {
    poll.poll(events, timeout)
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
                .collect();
            let pool = Rc::new(RefCell::new(SlotPool::new(members)));
            let first = plan.connections.iter().find(|c| c.target == target);
            let mix = (only.is_none() && !replay)
                .then(|| Mix::new(&config.requests, first.map_or(0, |c| c.global)));
            Sends {
                schedule: Schedule::pooled(window.start, pool),
                mix,
                only: only.unwrap_or(0),
            }
        })
        .collect()
}

/// Open loop: sends every due slot a stream can take, each on the least busy connection to its
/// target; drops a warm-up backlog at the open and gives up the window's slots after the
/// close. Returns when the next slot a free stream could take falls due.
fn send_due(ctx: &mut Ctx<'_>, connections: &mut [H2Connection]) -> Option<Instant> {
    let mut next_due: Option<Instant> = None;
    let window = ctx.window;
    for target in 0..ctx.sends.len() {
        let mut now = Instant::now();
        let dropped = ctx.sends[target].drop_warmup_backlog(now, &window);
        if dropped > 0 {
            ctx.stats.warmup_dropped(target, dropped);
        }
        let mut flushed = Vec::new();
        while let Some(at) = ctx.sends[target].schedule.peek() {
            if at > now {
                next_due = Some(next_due.map_or(at, |d| d.min(at)));
                break;
            }
            if !Connection::<()>::may_send(Some(at), now, &window) {
                ctx.sends[target].give_up(ctx.stats, target, window.measure_end);
                break;
            }
            let free = connections
                .iter()
                .enumerate()
                .filter(|(_, c)| c.target_index == target)
                .filter_map(|(i, c)| c.free_slot().map(|slot| (c.outstanding(), i, slot)))
                .min();
            let Some((_, index, slot)) = free else {
                break;
            };
            let Some((at, request)) = ctx.sends[target].take() else {
                break;
            };
            connections[index].send(ctx, slot, request, Some(at), now);
            if !flushed.contains(&index) {
                flushed.push(index);
            }
            now = Instant::now();
        }
        for index in flushed {
            connections[index].flush(ctx, Token(index), now);
        }
    }
    next_due
}
