//! One keep-alive connection: its [`State`], its open-loop schedule and the decisions about it
//! that need no I/O — when it may send, what it owes the worker a look at, which of its send
//! slots are dropped (a warm-up backlog at the window's open) or given up (`unsent` after the
//! close), and what an expired deadline means ([`Expiry`]). `driver.rs` performs the I/O these
//! decisions lead to. The stream type is a parameter so the decisions are tested without
//! sockets.

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Instant;

use super::http::ResponseReader;
use super::report::ErrorKind;
use super::request::{Mix, Prebuilt};
use super::setup::Setup;
use super::stream::Stream;
use super::window::{Schedule, Window};

/// One keep-alive connection to one target.
#[derive(Debug)]
pub(super) struct Connection<S = Stream> {
    pub(super) target: SocketAddr,
    /// The bytes of each template for this target, and the index of the one to send next (or
    /// in flight).
    pub(super) requests: Rc<[Prebuilt]>,
    pub(super) current: usize,
    /// Draws `current` after each outcome when there are several to draw from.
    pub(super) mix: Option<Mix>,
    /// Index into the worker's per-target stats.
    pub(super) target_index: usize,
    pub(super) reader: ResponseReader,
    /// Open loop: this connection's send times, and the next one (`None` once past the end).
    pub(super) schedule: Option<Schedule>,
    pub(super) next_send: Option<Instant>,
    /// When the current connection's connect started, until the first bytes of its first
    /// response are read (its time to first byte); `None` after.
    pub(super) opened: Option<Instant>,
    pub(super) state: State<S>,
}

#[derive(Debug)]
pub(super) enum State<S = Stream> {
    /// Not connected: connect at the next scan, once `retry_at` (if any) has passed.
    Idle { retry_at: Option<Instant> },
    /// A connect, then a TLS handshake, in progress (`setup.rs`).
    Setup(Setup<S>),
    /// Open loop: connected and idle, in the due heap for `next_send`.
    Ready { stream: S },
    /// A request sent (`written` bytes of it so far), its response not yet complete.
    /// `intended` is its scheduled send time (open loop).
    Exchange {
        stream: S,
        intended: Option<Instant>,
        sent: Instant,
        written: usize,
        deadline: Instant,
    },
    /// Its part of the run is over: nothing more to send or read.
    Done,
}

/// What a deadline that has passed asks of a connection ([`Connection::expiry`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Expiry {
    /// Idle and its pause over (or the window closed): connect, or give up if it may not.
    Reconnect,
    /// The connect or the TLS handshake took longer than `timeout`: an error of this kind.
    SetupTimedOut(ErrorKind),
    /// No complete response within `timeout`: a `timeout` of the request intended (closed
    /// loop: sent) `at`.
    ExchangeTimedOut { at: Instant },
}

impl<S> Connection<S> {
    pub(super) fn is_open_loop(&self) -> bool {
        self.schedule.is_some()
    }

    /// Whether its part of the run is still going.
    pub(super) fn is_open(&self) -> bool {
        !matches!(self.state, State::Done)
    }

    /// Whether a request is out and its response not yet complete.
    pub(super) fn in_exchange(&self) -> bool {
        matches!(self.state, State::Exchange { .. })
    }

    /// The request to send next (or in flight).
    pub(super) fn request(&self) -> &Prebuilt {
        &self.requests[self.current]
    }

    /// Draws the next request after an outcome, when there is a mix to draw from.
    pub(super) fn draw_next(&mut self) {
        if let Some(mix) = &mut self.mix {
            self.current = mix.next();
        }
    }

    /// Moves the schedule on by one send slot (replaying a trace, to that slot's request).
    pub(super) fn advance_schedule(&mut self) {
        if let Some(schedule) = &mut self.schedule {
            self.next_send = schedule.next();
            if let Some(request) = schedule.request() {
                self.current = request;
            }
        }
    }

    /// Open loop: by when the worker must look at this connection even if the poller says
    /// nothing, because it cannot be left to the next wake-up the sends make: a connect in
    /// progress (by its send slot), a request or response half through (at once: the socket
    /// is waiting on the worker), an exchange still open at the next send slot (by that slot).
    /// `None`: nothing is owed before the next send or scan.
    pub(super) fn attention_at(&self) -> Option<Instant> {
        match &self.state {
            State::Setup(_) => self.next_send,
            State::Exchange { sent, written, .. }
                if *written < self.request().bytes.len() || self.reader.is_partial() =>
            {
                Some(*sent)
            }
            State::Exchange { .. } => self.schedule.as_ref().and_then(Schedule::peek),
            _ => None,
        }
    }

    /// Whether the connection may still connect or send at `now`.
    pub(super) fn may_start(&self, now: Instant, window: &Window) -> bool {
        if self.is_open_loop() {
            window.may_send(self.next_send, now)
        } else {
            now < window.measure_end
        }
    }

    /// Open loop, once the window is open: drops the warm-up send slots not sent that are more
    /// than [`LATE_SEND`](super::config::LATE_SEND) behind (a backlog from before the window, not the ordinary schedule
    /// caught at the open), so that the connection sends the window's own requests. Sent
    /// first, the warm-up's backlog would hold the connection through the window and leave the
    /// window's requests unsent while the server answered requests never measured. Returns how
    /// many it dropped.
    pub(super) fn drop_warmup_backlog(&mut self, now: Instant, window: &Window) -> u64 {
        let mut dropped = 0;
        while self
            .next_send
            .is_some_and(|at| window.is_warmup_backlog(at, now))
        {
            dropped += 1;
            self.advance_schedule();
        }
        dropped
    }

    /// Open loop, giving up: the next send slot still inside the window (before `end`), with
    /// the request it was for, the schedule moved past it and the next request drawn; `None`
    /// when none is left. Each is one `unsent` outcome.
    pub(super) fn next_unsent(&mut self, end: Instant) -> Option<(usize, Instant)> {
        if !self.is_open_loop() {
            return None;
        }
        let at = self.next_send.filter(|&at| at < end)?;
        let request = self.current;
        self.draw_next();
        self.advance_schedule();
        Some((request, at))
    }

    /// What a passed deadline asks at `now`, if any: an idle connection whose pause is over
    /// (or the window has closed: settle it at once) reconnects; a connect or exchange past its
    /// `timeout` has failed.
    pub(super) fn expiry(&self, now: Instant, window: &Window) -> Option<Expiry> {
        match &self.state {
            State::Idle { retry_at }
                if retry_at.is_none_or(|at| now >= at) || now >= window.measure_end =>
            {
                Some(Expiry::Reconnect)
            }
            State::Setup(setup) => setup.expired(now).map(Expiry::SetupTimedOut),
            State::Exchange {
                deadline,
                intended,
                sent,
                ..
            } if now >= *deadline => Some(Expiry::ExchangeTimedOut {
                at: intended.unwrap_or(*sent),
            }),
            _ => None,
        }
    }

    /// After a failed connect: the send slot it spent (open loop: the failed connect was for
    /// that request, so the schedule moves on), or none in closed loop. See
    /// [`setup::count_failure`](super::setup::count_failure).
    pub(super) fn spend_slot(&mut self) -> Option<Instant> {
        let slot = self.next_send.filter(|_| self.is_open_loop())?;
        self.advance_schedule();
        Some(slot)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::loadgen::request::prebuild;

    const MS: Duration = Duration::from_millis(1);

    /// A window opening 1 s after `t0` and closing 1 s later.
    fn window(t0: Instant) -> Window {
        Window {
            start: t0,
            measure_start: t0 + 1_000 * MS,
            measure_end: t0 + 2_000 * MS,
        }
    }

    /// An open-loop connection sending every 10 ms from `t0` (no socket: the stream is `()`).
    fn open_loop(t0: Instant, state: State<()>) -> Connection<()> {
        let target = SocketAddr::from(([127, 0, 0, 1], 8000));
        let mut schedule = Schedule::new(t0, 0, 1, 100.0);
        let next_send = schedule.next();
        Connection {
            target,
            requests: prebuild(&[], target),
            current: 0,
            mix: None,
            target_index: 0,
            reader: ResponseReader::default(),
            schedule: Some(schedule),
            next_send,
            opened: None,
            state,
        }
    }

    fn idle() -> State<()> {
        State::Idle { retry_at: None }
    }

    #[test]
    fn sends_inside_the_window_and_after_the_close_only_the_schedule_caught_at_it() {
        let t0 = Instant::now();
        let w = window(t0);
        let may = |at_ms: u32, now_ms: u32| w.may_send(Some(t0 + at_ms * MS), t0 + now_ms * MS);
        assert!(may(500, 900), "warm-up, on time");
        assert!(
            may(1_500, 1_900),
            "a backlog inside the window goes out back to back"
        );
        assert!(
            may(1_999, 2_000),
            "caught at the close by less than LATE_SEND"
        );
        assert!(!may(1_990, 2_000), "a backlog at the close is not sent");
        assert!(!may(2_000, 2_000), "after the window");
        assert!(!w.may_send(None, t0), "no send left");
    }

    #[test]
    fn the_warm_up_backlog_is_dropped_at_the_open_but_not_the_schedule_caught_at_it() {
        let t0 = Instant::now();
        let w = window(t0);
        let mut c = open_loop(t0, idle());
        assert_eq!(c.drop_warmup_backlog(t0 + 900 * MS, &w), 0, "not yet open");
        // At 1,000.5 ms the slot at 1,000 ms is on time; every slot behind it by more than
        // LATE_SEND (0 to 990 ms: 100 slots) is dropped.
        let dropped = c.drop_warmup_backlog(t0 + 1_000 * MS + MS / 2, &w);
        assert_eq!(dropped, 100);
        assert_eq!(c.next_send, Some(t0 + 1_000 * MS));
        assert_eq!(
            c.drop_warmup_backlog(t0 + 1_500 * MS, &w),
            0,
            "window slots stay"
        );
    }

    #[test]
    fn giving_up_counts_each_slot_left_in_the_window_once_and_none_after_it() {
        let t0 = Instant::now();
        let w = window(t0);
        let mut c = open_loop(t0, State::Done);
        while c.next_send.is_some_and(|at| at < t0 + 1_900 * MS) {
            c.advance_schedule();
        }
        let unsent: Vec<Instant> = std::iter::from_fn(|| c.next_unsent(w.measure_end))
            .map(|(_, at)| at)
            .collect();
        assert_eq!(unsent.len(), 10, "1,900 to 1,990 ms");
        assert_eq!(unsent[0], t0 + 1_900 * MS);
        assert_eq!(c.next_unsent(w.measure_end), None);
        assert_eq!(c.next_send, Some(t0 + 2_000 * MS), "stopped at the close");
    }

    #[test]
    fn a_passed_deadline_reconnects_an_idle_connection_or_fails_the_exchange_by_its_intent() {
        let t0 = Instant::now();
        let w = window(t0);
        let pause = State::Idle {
            retry_at: Some(t0 + 1_100 * MS),
        };
        let c = open_loop(t0, pause);
        assert_eq!(c.expiry(t0 + 1_050 * MS, &w), None, "pausing");
        assert_eq!(c.expiry(t0 + 1_100 * MS, &w), Some(Expiry::Reconnect));
        let c = open_loop(
            t0,
            State::Idle {
                retry_at: Some(t0 + 9_000 * MS),
            },
        );
        assert_eq!(
            c.expiry(t0 + 2_000 * MS, &w),
            Some(Expiry::Reconnect),
            "settled at once after the close"
        );
        let connecting = State::Setup(Setup::Connecting {
            stream: (),
            deadline: t0 + 1_200 * MS,
        });
        let c = open_loop(t0, connecting);
        assert_eq!(c.expiry(t0 + 1_199 * MS, &w), None);
        assert_eq!(
            c.expiry(t0 + 1_200 * MS, &w),
            Some(Expiry::SetupTimedOut(ErrorKind::Connect))
        );
        let exchange = State::Exchange {
            stream: (),
            intended: Some(t0 + 1_000 * MS),
            sent: t0 + 1_300 * MS,
            written: 0,
            deadline: t0 + 2_300 * MS,
        };
        let c = open_loop(t0, exchange);
        assert_eq!(
            c.expiry(t0 + 2_300 * MS, &w),
            Some(Expiry::ExchangeTimedOut {
                at: t0 + 1_000 * MS
            }),
            "placed by its intended send time, not its send"
        );
    }

    #[test]
    fn a_tls_handshake_is_owed_a_look_by_its_send_slot_and_fails_at_its_deadline() {
        let t0 = Instant::now();
        let w = window(t0);
        let c = open_loop(
            t0,
            State::Setup(Setup::Handshaking {
                stream: (),
                connected: t0,
                deadline: t0 + 1_500 * MS,
            }),
        );
        assert_eq!(c.attention_at(), Some(t0), "like a connect: by its slot");
        assert_eq!(c.expiry(t0 + 1_499 * MS, &w), None);
        assert_eq!(
            c.expiry(t0 + 1_500 * MS, &w),
            Some(Expiry::SetupTimedOut(ErrorKind::Tls))
        );
        assert!(c.is_open() && !c.in_exchange());
    }

    #[test]
    fn a_connection_is_owed_a_look_at_its_connect_a_half_done_exchange_or_its_next_slot() {
        let t0 = Instant::now();
        let c = open_loop(
            t0,
            State::Setup(Setup::Connecting {
                stream: (),
                deadline: t0 + 5_000 * MS,
            }),
        );
        assert_eq!(c.attention_at(), Some(t0), "by its send slot");
        let exchange = |written| State::Exchange {
            stream: (),
            intended: Some(t0),
            sent: t0 + MS,
            written,
            deadline: t0 + 5_000 * MS,
        };
        let half = open_loop(t0, exchange(1));
        assert_eq!(half.attention_at(), Some(t0 + MS), "half written: at once");
        let mut whole = open_loop(t0, exchange(usize::MAX));
        whole.advance_schedule();
        assert_eq!(
            whole.attention_at(),
            Some(t0 + 20 * MS),
            "a response still out at the slot after next"
        );
        assert_eq!(open_loop(t0, idle()).attention_at(), None);
    }

    #[test]
    fn a_failed_connect_spends_its_send_slot_in_open_loop_and_none_in_closed_loop() {
        let t0 = Instant::now();
        let mut open = open_loop(t0, idle());
        assert_eq!(open.spend_slot(), Some(t0), "the slot it was for");
        assert_eq!(open.next_send, Some(t0 + 10 * MS), "the slot is spent");
        let mut closed = open_loop(t0, idle());
        closed.schedule = None;
        assert_eq!(closed.spend_slot(), None);
        assert_eq!(
            closed.next_unsent(t0 + 9_999 * MS),
            None,
            "no schedule, no unsent"
        );
    }
}
