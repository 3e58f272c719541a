//! One HTTP/2 connection of a worker: set up as an HTTP/1.1 one is (`setup.rs`: connect, TLS
//! with ALPN `h2`, a failed connect counted against the send slot or request it was for), then
//! a [`Session`] carrying up to `streams` requests at once; the socket I/O around the session,
//! and each stream's outcome counted into the worker's stats. A GOAWAY lets the streams it took finish,
//! sends the others again first on a new connection (their intended and send times kept, so
//! the detour is in their latency), and reconnects; a broken connection fails its streams by
//! kind and reconnects.

use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Instant;

use mio::Token;

use super::ctx::{Ctx, InFlight};
use super::event::Event;
use super::request::H2Request;
use super::session::Session;
use crate::loadgen::report::ErrorKind;
use crate::loadgen::request::Mix;
use crate::loadgen::setup::{self, Dial, Setup, Step};
use crate::loadgen::stats::Outcome;
use crate::loadgen::stream::Stream;
use crate::loadgen::tls;

#[derive(Debug)]
pub(super) enum State {
    Idle {
        retry_at: Option<Instant>,
    },
    /// A connect, then a TLS handshake, in progress (`setup.rs`).
    Setup(Setup),
    Open {
        stream: Stream,
        session: Box<Session<InFlight>>,
    },
    Done,
}

#[derive(Debug)]
pub(super) struct H2Connection {
    pub(super) target: SocketAddr,
    pub(super) target_index: usize,
    pub(super) requests: Rc<[H2Request]>,
    pub(super) mix: Option<Mix>,
    /// The template of the next request this connection sends (drawn after each send).
    pub(super) current: usize,
    /// When the connect started, until the first response's first bytes.
    pub(super) opened: Option<Instant>,
    pub(super) state: State,
    /// Requests the server did not take (GOAWAY, REFUSED_STREAM), sent again first.
    pub(super) retry: Vec<InFlight>,
    pub(super) events: Vec<Event<InFlight>>,
    /// Counts the sessions opened: an open-loop free stream is queued with it (see `Sends`),
    /// so an entry of a session since closed is known stale.
    pub(super) session: u32,
    /// Open loop: a stream opened since the last flush (its frames wait to be written).
    pub(super) unflushed: bool,
}

impl H2Connection {
    /// Requests out (or waiting to go out again) on this connection.
    pub(super) fn outstanding(&self) -> usize {
        let streams = match &self.state {
            State::Open { session, .. } => session.in_flight(),
            _ => 0,
        };
        streams + self.retry.len()
    }

    /// A stream free for a new request now.
    pub(super) fn free_slot(&self) -> Option<usize> {
        match &self.state {
            State::Open { session, .. } if self.retry.is_empty() => session.free_slot(),
            _ => None,
        }
    }

    /// A free stream of session `session` (as queued in `Sends`), if it is still open and has
    /// one.
    pub(super) fn free_stream(&self, session: u32) -> Option<usize> {
        self.free_slot().filter(|_| self.session == session)
    }

    /// Open loop: `streams` more streams of this session are free for the target's sends.
    fn freed(&self, ctx: &mut Ctx<'_>, token: Token, streams: usize) {
        if let Some(sends) = ctx.sends.get_mut(self.target_index) {
            for _ in 0..streams {
                sends.freed(token.0, self.session);
            }
        }
    }

    /// The template to send next, drawn on from the mix.
    pub(super) fn take_request(&mut self) -> usize {
        let request = self.current;
        if let Some(mix) = &mut self.mix {
            self.current = mix.next();
        }
        request
    }

    /// Starts a connect at `now` (or ends the connection's part when the window is over and
    /// nothing is left to send again).
    pub(super) fn connect(&mut self, ctx: &mut Ctx<'_>, token: Token, now: Instant) {
        if now >= ctx.window.measure_end && self.retry.is_empty() {
            self.state = State::Done;
            return;
        }
        self.opened = Some(now);
        let step = ctx
            .connector
            .connect(ctx.poll.registry(), token, self.target, now);
        self.on_setup(ctx, token, step);
    }

    /// Where the connection's setup stands: waiting, up (a session opens), or failed.
    fn on_setup(&mut self, ctx: &mut Ctx<'_>, token: Token, step: Step) {
        match step {
            Step::Pending(setup) => self.state = State::Setup(setup),
            Step::Up(stream, now) => self.open(ctx, token, stream, now),
            Step::Failed(kind, now) => self.connect_failed(ctx, now, kind),
        }
    }

    /// A connect or handshake that failed: counted against the request it was for (open loop:
    /// its target's next send slot, which it spent; closed loop: its next request), then a
    /// pause before the next try ([`setup::count_failure`]). Requests waiting to go again fail
    /// with it.
    pub(super) fn connect_failed(&mut self, ctx: &mut Ctx<'_>, now: Instant, kind: ErrorKind) {
        let index = self.target_index;
        for retry in std::mem::take(&mut self.retry) {
            let outcome = Outcome::Failed {
                kind,
                at: retry.at(),
            };
            ctx.stats.record(index, retry.request, now, outcome);
        }
        let spent = match ctx.sends.get_mut(index) {
            Some(sends) => sends.take().map(|(slot, request)| (request, Some(slot))),
            None => Some((self.take_request(), None)),
        };
        let retry_at = match spent {
            Some((request, slot)) => {
                setup::count_failure(ctx.stats, index, request, slot, kind, now)
            }
            None => now + setup::CONNECT_RETRY_DELAY,
        };
        self.opened = None;
        self.state = State::Idle {
            retry_at: Some(retry_at),
        };
    }

    /// The poller says the socket is ready.
    pub(super) fn on_event(&mut self, ctx: &mut Ctx<'_>, token: Token) {
        match std::mem::replace(&mut self.state, State::Done) {
            State::Setup(setup) => {
                let dial = Dial {
                    target: self.target,
                    index: self.target_index,
                    opened: self.opened,
                };
                let step = ctx.connector.advance(setup, dial, ctx.stats, None);
                self.on_setup(ctx, token, step);
            }
            State::Open { stream, session } => self.exchange(ctx, token, stream, session),
            other => self.state = other,
        }
    }

    /// Connected (and handshaken): the preface and SETTINGS go out, with the requests to send
    /// again and, in closed loop, as many new ones as there are streams.
    fn open(&mut self, ctx: &mut Ctx<'_>, token: Token, stream: Stream, now: Instant) {
        let session = Box::new(Session::new(ctx.streams, self.blank(now)));
        self.state = State::Open { stream, session };
        self.resend();
        let free = ctx.streams.saturating_sub(self.outstanding());
        self.session = self.session.wrapping_add(1);
        self.freed(ctx, token, free);
        self.fill(ctx, now);
        self.flush(ctx, token, now);
    }

    /// The requests the server did not take go again first, on this session's free streams,
    /// keeping their intended send time and deadline (a server that refuses a request until
    /// its deadline makes it a `timeout`). After a GOAWAY the session has no free stream and
    /// they wait for the next connection; a REFUSED_STREAM alone sends them again here.
    fn resend(&mut self) {
        let State::Open { session, .. } = &mut self.state else {
            return;
        };
        let mut taken = 0;
        while let (Some(slot), Some(&retry)) = (session.free_slot(), self.retry.get(taken)) {
            session.open(slot, &self.requests, retry.request, retry);
            taken += 1;
        }
        self.retry.drain(..taken);
    }

    fn blank(&self, now: Instant) -> InFlight {
        InFlight {
            request: 0,
            intended: None,
            sent: now,
            deadline: now,
        }
    }

    /// Closed loop: a new request on every free stream (until the window closes).
    pub(super) fn fill(&mut self, ctx: &mut Ctx<'_>, now: Instant) {
        if !ctx.closed_loop || now >= ctx.window.measure_end {
            return;
        }
        while let Some(slot) = self.free_slot() {
            let request = self.take_request();
            self.send(ctx, slot, request, None, now);
        }
    }

    /// Opens a stream on free `slot` for template `request`, intended at `intended` (open
    /// loop), sent at `now`; written out by the next [`H2Connection::flush`].
    pub(super) fn send(
        &mut self,
        ctx: &mut Ctx<'_>,
        slot: usize,
        request: usize,
        intended: Option<Instant>,
        now: Instant,
    ) {
        let State::Open { session, .. } = &mut self.state else {
            return;
        };
        let tag = InFlight {
            request,
            intended,
            sent: now,
            deadline: now + ctx.timeout,
        };
        let blocked = session.flow_blocked;
        session.open(slot, &self.requests, request, tag);
        if session.flow_blocked > blocked {
            ctx.stats.flow_blocked(self.target_index, tag.at());
        }
    }

    /// Writes what the session has to say, as far as the socket takes it.
    pub(super) fn flush(&mut self, ctx: &mut Ctx<'_>, token: Token, now: Instant) {
        let State::Open { stream, session } = &mut self.state else {
            return;
        };
        while !session.pending().is_empty() {
            match stream.write_some(session.pending()) {
                Ok(0) => return,
                Ok(n) => session.wrote(n),
                Err(e) => return self.broken(ctx, token, now, tls::error_kind(&e)),
            }
        }
    }

    /// Reads what came, counts the streams that ended, sends what follows.
    fn exchange(
        &mut self,
        ctx: &mut Ctx<'_>,
        token: Token,
        mut stream: Stream,
        mut session: Box<Session<InFlight>>,
    ) {
        let mut failed = None;
        loop {
            let read = match &mut stream.tls {
                None => session.read_from(&mut stream.tcp),
                Some(link) => session.read_from(&mut link.reader(&stream.tcp)),
            };
            match read {
                Ok((0, _)) => failed = Some(ErrorKind::Io),
                Ok((_, more)) => {
                    if session.process(&self.requests, &mut self.events).is_err() {
                        failed = Some(ErrorKind::Parse);
                    }
                    if more && failed.is_none() {
                        continue;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => failed = Some(tls::error_kind(&e)),
            }
            break;
        }
        let now = Instant::now();
        if !self.events.is_empty() {
            self.outcomes(ctx, token, now);
        }
        self.state = State::Open { stream, session };
        if let Some(kind) = failed {
            return self.broken(ctx, token, now, kind);
        }
        self.resend();
        self.fill(ctx, now);
        self.flush(ctx, token, now);
        if let State::Open { session, .. } = &self.state {
            if session.closing() && session.in_flight() == 0 {
                // GOAWAY and every stream it took is done: a new connection carries on.
                self.reconnect(ctx, token, now);
            }
        }
    }

    /// Counts the streams that ended (their streams free again).
    fn outcomes(&mut self, ctx: &mut Ctx<'_>, token: Token, now: Instant) {
        let index = self.target_index;
        setup::first_byte(ctx.stats, index, &mut self.opened, now);
        let mut ended = 0;
        for event in self.events.drain(..) {
            // A refused stream is not free for a new request: its request takes it again.
            ended += usize::from(!matches!(event, Event::GoAway | Event::Refused { .. }));
            let (tag, outcome) = match event {
                Event::Response { tag, status, grpc } => (
                    tag,
                    Outcome::Response {
                        status,
                        grpc,
                        intended: tag.intended,
                        sent: tag.sent,
                    },
                ),
                Event::Malformed { tag } => (
                    tag,
                    Outcome::Failed {
                        kind: ErrorKind::Parse,
                        at: tag.at(),
                    },
                ),
                Event::Reset { tag, .. } => (
                    tag,
                    Outcome::Failed {
                        kind: ErrorKind::StreamReset,
                        at: tag.at(),
                    },
                ),
                Event::Refused { tag } => {
                    self.retry.push(tag);
                    continue;
                }
                Event::GoAway => {
                    ctx.stats.goaway(index, now);
                    continue;
                }
            };
            ctx.stats.record(index, tag.request, now, outcome);
        }
        self.freed(ctx, token, ended);
    }

    /// The connection broke at `now`: its streams fail by `kind`, and it reconnects.
    fn broken(&mut self, ctx: &mut Ctx<'_>, token: Token, now: Instant, kind: ErrorKind) {
        if let State::Open { session, .. } = &self.state {
            for (_, tag) in session.open_tags() {
                let outcome = Outcome::Failed { kind, at: tag.at() };
                ctx.stats
                    .record(self.target_index, tag.request, now, outcome);
            }
        }
        self.reconnect(ctx, token, now);
    }

    fn reconnect(&mut self, ctx: &mut Ctx<'_>, token: Token, now: Instant) {
        // Dropping the stream closes the socket (and leaves the poller).
        self.state = State::Idle { retry_at: None };
        self.connect(ctx, token, now);
    }

    /// Every scan: a connect or handshake past its deadline fails, a stream past its deadline
    /// is reset and counted as a `timeout`, an idle connection whose pause is over connects.
    pub(super) fn check_deadlines(&mut self, ctx: &mut Ctx<'_>, token: Token, now: Instant) {
        match &mut self.state {
            State::Idle { retry_at } if retry_at.is_none_or(|at| now >= at) => {
                self.connect(ctx, token, now)
            }
            State::Setup(setup) => {
                if let Some(kind) = setup.expired(now) {
                    self.connect_failed(ctx, now, kind);
                }
            }
            State::Open { session, .. } => {
                let expired: Vec<(usize, InFlight)> = session
                    .open_tags()
                    .filter(|(_, t)| now >= t.deadline)
                    .collect();
                if expired.is_empty() {
                    return;
                }
                let ended = expired.len();
                for (slot, tag) in expired {
                    session.cancel(slot);
                    let outcome = Outcome::Failed {
                        kind: ErrorKind::Timeout,
                        at: tag.at(),
                    };
                    ctx.stats
                        .record(self.target_index, tag.request, now, outcome);
                }
                self.freed(ctx, token, ended);
                self.fill(ctx, now);
                self.flush(ctx, token, now);
            }
            _ => {}
        }
    }

    /// After the loop: a stream still open is a `timeout`; a request still waiting to go
    /// again never went (`unsent`).
    pub(super) fn close_out(&mut self, ctx: &mut Ctx<'_>, now: Instant) {
        if let State::Open { session, .. } = &self.state {
            for (_, tag) in session.open_tags() {
                let outcome = Outcome::Failed {
                    kind: ErrorKind::Timeout,
                    at: tag.at(),
                };
                ctx.stats
                    .record(self.target_index, tag.request, now, outcome);
            }
        }
        for retry in std::mem::take(&mut self.retry) {
            let outcome = Outcome::Failed {
                kind: ErrorKind::Unsent,
                at: retry.at(),
            };
            ctx.stats
                .record(self.target_index, retry.request, now, outcome);
        }
        self.state = State::Done;
    }
}
