//! Waits for the open-loop schedule, as precise as the plan's `send_precision` asks and no more:
//! a timerfd for the long stretch, a busy-poll for the last few microseconds only when the
//! precision asked is finer than the thread's wake-up latency.
//!
//! A millisecond timer (tokio's, or `epoll_wait`'s own timeout) adds up to a millisecond of send
//! lag to every open-loop request. Busy-polling for the whole wait fixes the lag but keeps
//! the load core 100% busy at any rate. Instead each worker's event loop (`engine.rs`) owns one
//! `timerfd` (nanosecond resolution, registered with the loop's poller) and asks this pacer,
//! before every poll, how to wait for the next send: [`Wait::Block`] (the timer is armed; the
//! thread sleeps on it alone, [`Pacer::sleep`], and reads the responses that came meanwhile
//! when it wakes, timed by the kernel, see `arrival`; or, when a connection is owed a look, in
//! `epoll_wait`, woken by responses too) or [`Wait::Spin`] (poll without
//! blocking and look at the clock again). [`plan`] decides, from three figures:
//!
//! - the time to the next send;
//! - `slack`, the thread's recent wake-up latency: a timer firing at *t* has the thread running
//!   about `slack` later. It follows about the 90th percentile of the observed lateness (a
//!   stochastic quantile estimate: up 9 steps on a late wake, down 1 on an early one), bounded
//!   by [`MAX_SLACK`];
//! - `precision`, how late a send may be ([`super::LoadConfig::send_precision`]).
//!
//! The timer fires at `deadline + precision − slack`. When the precision is at least the wake-up
//! latency that is *after* the deadline: the thread never spins, and every send that falls due
//! before it wakes goes out in that one wake-up, back to back (fewer wake-ups, timer arms and
//! server wake-ups per request: the cost of the open loop is mostly per wake-up). Nine
//! sends in ten are then at most `precision` late. When the precision is finer, the timer fires
//! before the deadline and the loop busy-polls the rest (precision 0: early by the whole
//! wake-up latency, the tightest pacing). Busy-polling is capped at [`SPIN_BUDGET_PERCENT`] of
//! the worker's wall time (a token bucket): past it the timer is armed for the deadline itself
//! and sends are as late as the wake-up. The time spent busy-polling with nothing else to do is
//! reported as *pacing* ([`super::WorkerReport::paced`]), apart from work, so a worker that spun
//! to hit its send times is not mistaken for a saturated generator.
//!
//! The timerfd is registered edge-triggered and never read: every expiry wakes the poller, and
//! re-arming resets its count. It is re-armed only when the wake-up it must give moves earlier
//! (or has been used).

use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};

/// Upper bound of the early-wake margin (and so of the busy-poll per timer wake).
const MAX_SLACK: Duration = Duration::from_micros(200);
/// Where the margin starts before any wake-up has been observed.
const INITIAL_SLACK: Duration = Duration::from_micros(50);
/// Step of the quantile estimate: down one step on an early-enough wake, up
/// [`SLACK_UP_STEPS`] on a late one, which settles where 1 wake in 10 is late (p90).
const SLACK_STEP_NS: u64 = 500;
const SLACK_UP_STEPS: u64 = 9;
/// Busy-polling may take at most this share of the worker's wall time: the load core must stay
/// mostly idle at moderate rates (its busy share is how a saturated generator is detected), and
/// a worker that shares a CPU with a replica must not take it from the server under test.
const SPIN_BUDGET_PERCENT: u64 = 10;
/// Budget that can be banked while idle, for a burst of close deadlines.
const SPIN_CREDIT_MAX: Duration = Duration::from_millis(2);

/// How the event loop should wait for the next send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wait {
    /// Poll without blocking, then look at the clock again.
    Spin,
    /// Block in the poller, with no timeout of its own: the timer is armed to wake it in time
    /// for the next send, or at the latest moment the loop asked for.
    Block,
}

/// What [`plan`] decides for one wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Busy-poll: the send is nearer than the thread can be woken for in time.
    Spin,
    /// Sleep, the timer armed to fire this long after now.
    Sleep { fire_in: Duration },
}

/// The pacing decision, a pure function: the next send is `until_next` away, the thread wakes
/// about `slack` after its timer fires, a send may be `precision` late, and `may_spin` says
/// whether busy-polling budget is left. The timer fires at `deadline + precision − slack`: after
/// the deadline when the precision covers the wake-up latency (no spin; sends falling due in
/// between go out in the same wake-up), before it otherwise, and then the last `slack −
/// precision` is busy-polled. Without budget the timer fires at the deadline itself.
pub(crate) fn plan(
    until_next: Duration,
    slack: Duration,
    precision: Duration,
    may_spin: bool,
) -> Step {
    if let Some(late_by) = precision.checked_sub(slack) {
        return Step::Sleep {
            fire_in: until_next.saturating_add(late_by),
        };
    }
    let early = slack - precision;
    match until_next.checked_sub(early) {
        _ if !may_spin => Step::Sleep {
            fire_in: until_next,
        },
        Some(fire_in) if !fire_in.is_zero() => Step::Sleep { fire_in },
        _ => Step::Spin,
    }
}

/// A precise per-worker timer for one event loop (single-threaded).
#[derive(Debug)]
pub(crate) struct Pacer {
    timer: TimerFd,
    /// When the timerfd is armed to fire, if it is armed.
    armed: Option<Armed>,
    /// How late a send may be (the plan's `send_precision`); zero: as early as the thread can.
    precision: Duration,
    /// The recent wake-up latency (ns): how long after its timer fires the thread runs.
    slack_ns: u64,
    /// Busy-poll budget left (ns), and when it was last topped up.
    spin_credit_ns: u64,
    refilled_at: Instant,
    /// When the loop started its current busy-poll, to charge it to the budget.
    spinning_since: Option<Instant>,
}

#[derive(Debug, Clone, Copy)]
struct Armed {
    fires_at: Instant,
    /// False when the fire time had already passed when armed (it then fires at once, and its
    /// lateness says nothing about the wake-up latency).
    in_future: bool,
}

impl Pacer {
    /// Creates the timerfd and registers it with `registry` under `token`. Paces as tightly as
    /// it can until [`Pacer::precise_to`] says otherwise.
    pub(crate) fn new(registry: &Registry, token: Token) -> io::Result<Self> {
        let timer = TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )?;
        registry.register(
            &mut SourceFd(&timer.as_fd().as_raw_fd()),
            token,
            Interest::READABLE,
        )?;
        Ok(Self {
            timer,
            armed: None,
            precision: Duration::ZERO,
            slack_ns: nanos(INITIAL_SLACK),
            spin_credit_ns: nanos(SPIN_CREDIT_MAX),
            refilled_at: Instant::now(),
            spinning_since: None,
        })
    }

    /// Lets each send be up to `precision` late (see the module doc).
    pub(crate) fn precise_to(mut self, precision: Duration) -> Self {
        self.precision = precision;
        self
    }

    /// How to wait, at `now`, for the send due at `next` (if any), waking no later than
    /// `latest` in any case: arms the timer when the loop should block (so the poller needs no
    /// timeout, and the kernel no second timer per sleep). Charges a busy-poll that just ended
    /// to the budget.
    pub(crate) fn wait(
        &mut self,
        now: Instant,
        next: Option<Instant>,
        latest: Instant,
    ) -> io::Result<Wait> {
        self.refill(now);
        if let Some(since) = self.spinning_since.take() {
            // Charged in full, although the loop may have done other work in between: when the
            // thread is that busy it is awake anyway and needs no busy-poll.
            self.charge(now.saturating_duration_since(since));
        }
        let fires_at = match next {
            Some(next) => {
                let until_next = next.saturating_duration_since(now);
                match plan(until_next, self.slack(), self.precision, self.may_spin()) {
                    Step::Spin => {
                        self.spinning_since = Some(now);
                        return Ok(Wait::Spin);
                    }
                    Step::Sleep { fire_in } => now.checked_add(fire_in).unwrap_or(latest),
                }
            }
            None => latest,
        };
        self.arm(fires_at.min(latest))?;
        Ok(Wait::Block)
    }

    /// Sleeps until the armed timer fires, woken by nothing else (not by the sockets the
    /// poller watches: the loop reads them after, see `arrival`); then learns from how late it
    /// woke. Call after [`Pacer::wait`] said [`Wait::Block`].
    pub(crate) fn sleep(&mut self) -> io::Result<()> {
        let mut fds = [PollFd::new(self.timer.as_fd(), PollFlags::POLLIN)];
        loop {
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) => break,
                Err(Errno::EINTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.fired(Instant::now());
        Ok(())
    }

    /// The poller reported the timer: learns from how late it woke the thread.
    pub(crate) fn fired(&mut self, now: Instant) {
        match self.armed {
            // An expiry of an earlier arming, replaced since: the current one is still pending.
            Some(armed) if now < armed.fires_at => {}
            Some(armed) => {
                self.armed = None;
                if armed.in_future {
                    self.learn(now.saturating_duration_since(armed.fires_at));
                }
            }
            None => {}
        }
    }

    fn slack(&self) -> Duration {
        Duration::from_nanos(self.slack_ns)
    }

    /// Whether busy-polling budget is left.
    fn may_spin(&self) -> bool {
        self.spin_credit_ns > 0
    }

    /// Adds the budget earned since the last refill: [`SPIN_BUDGET_PERCENT`] of the wall time,
    /// banked up to [`SPIN_CREDIT_MAX`].
    fn refill(&mut self, now: Instant) {
        let earned = nanos(now.saturating_duration_since(self.refilled_at))
            .saturating_mul(SPIN_BUDGET_PERCENT)
            / 100;
        self.spin_credit_ns = self
            .spin_credit_ns
            .saturating_add(earned)
            .min(nanos(SPIN_CREDIT_MAX));
        self.refilled_at = now;
    }

    fn charge(&mut self, spun: Duration) {
        self.spin_credit_ns = self.spin_credit_ns.saturating_sub(nanos(spun));
    }

    /// One step of the p90 estimate of the wake-up lateness, kept within `0..=MAX_SLACK`.
    fn learn(&mut self, lateness: Duration) {
        let slack = self.slack_ns;
        let next = if nanos(lateness) > slack {
            slack + SLACK_UP_STEPS * SLACK_STEP_NS
        } else {
            slack.saturating_sub(SLACK_STEP_NS)
        };
        self.slack_ns = next.min(nanos(MAX_SLACK));
    }

    /// Makes sure the timer fires no later than `fires_at` (at once if that has passed).
    fn arm(&mut self, fires_at: Instant) -> io::Result<()> {
        if self.armed.is_some_and(|armed| armed.fires_at <= fires_at) {
            return Ok(());
        }
        // Relative arming: the timer starts counting after `now` was read, so it can only fire
        // late (by the time between the two calls), never early. A zero value would disarm it.
        let now = Instant::now();
        let delay = fires_at
            .saturating_duration_since(now)
            .max(Duration::from_nanos(1));
        self.timer.set(
            Expiration::OneShot(TimeSpec::from_duration(delay)),
            TimerSetTimeFlags::empty(),
        )?;
        self.armed = Some(Armed {
            fires_at,
            in_future: fires_at > now,
        });
        Ok(())
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use mio::{Events, Poll};

    use super::*;

    const TIMER: Token = Token(7);

    fn pacer() -> (Poll, Pacer) {
        let poll = Poll::new().expect("poll");
        let pacer = Pacer::new(poll.registry(), TIMER).expect("timerfd");
        (poll, pacer)
    }

    /// Waits as an event loop does until `deadline`; returns how late the wait ended.
    fn wait_until(poll: &mut Poll, pacer: &mut Pacer, deadline: Instant) -> Duration {
        let mut events = Events::with_capacity(4);
        loop {
            let now = Instant::now();
            if now >= deadline {
                return now - deadline;
            }
            let latest = now + Duration::from_secs(1);
            let timeout = match pacer.wait(now, Some(deadline), latest).expect("arm") {
                Wait::Spin => Some(Duration::ZERO),
                Wait::Block => None,
            };
            poll.poll(&mut events, timeout).expect("poll");
            for event in &events {
                assert_eq!(event.token(), TIMER);
                pacer.fired(Instant::now());
            }
        }
    }

    #[test]
    fn waits_end_at_each_deadline_not_before() {
        let (mut poll, mut pacer) = pacer();
        let start = Instant::now();
        for offset_us in [300u64, 900, 1_700, 2_500, 20_000] {
            let lag = wait_until(
                &mut poll,
                &mut pacer,
                start + Duration::from_micros(offset_us),
            );
            // How late is a performance figure, measured by `make bench` (send lag), not
            // asserted here: a busy machine delays any thread by milliseconds. Only a gross
            // failure (a lost wake-up: the 1 s fallback arming) fails.
            assert!(lag < Duration::from_millis(500), "ended {lag:?} late");
        }
        assert!(pacer.armed.is_none(), "every arming fired and was seen");
    }

    #[test]
    fn blocking_always_arms_the_timer_by_the_latest_wake() {
        let (_poll, mut pacer) = pacer();
        let now = Instant::now();
        let latest = now + Duration::from_millis(10);
        // Nothing pending: the timer still wakes the loop at `latest`.
        assert_eq!(pacer.wait(now, None, latest).expect("wait"), Wait::Block);
        assert_eq!(pacer.armed.expect("armed").fires_at, latest);
        // A nearer send arms it early by the slack.
        let near = now + Duration::from_millis(5);
        pacer.wait(now, Some(near), latest).expect("wait");
        assert_eq!(pacer.armed.expect("armed").fires_at, near - pacer.slack());
        // A send after `latest` leaves the earlier arming alone.
        let far = now + Duration::from_secs(1);
        pacer.wait(now, Some(far), latest).expect("wait");
        assert_eq!(pacer.armed.expect("armed").fires_at, near - pacer.slack());
    }

    #[test]
    fn slack_follows_the_90th_percentile_of_wake_lateness_within_bounds() {
        let (_poll, mut pacer) = pacer();
        // Lateness spread evenly over 0..100 µs: p90 is 90 µs.
        for i in 0..40_000u64 {
            pacer.learn(Duration::from_micros(i * 37 % 100));
        }
        let slack = pacer.slack();
        assert!(
            (Duration::from_micros(80)..=Duration::from_micros(100)).contains(&slack),
            "slack {slack:?}"
        );
        for _ in 0..1_000 {
            pacer.learn(Duration::from_secs(1));
        }
        assert_eq!(pacer.slack(), MAX_SLACK, "outliers are capped");
        for _ in 0..1_000 {
            pacer.learn(Duration::ZERO);
        }
        assert_eq!(
            pacer.slack(),
            Duration::ZERO,
            "a thread that wakes on time needs none"
        );
    }

    #[test]
    fn busy_polling_is_budgeted_to_a_share_of_wall_time() {
        let (_poll, mut pacer) = pacer();
        assert!(pacer.may_spin(), "starts with banked credit");
        let t0 = pacer.refilled_at;
        let soon = t0 + Duration::from_micros(10);
        let latest = t0 + Duration::from_secs(60);
        assert_eq!(
            pacer.wait(t0, Some(soon), latest).expect("wait"),
            Wait::Spin
        );
        // The spin is charged at the next look: a whole second of it spends the budget, and
        // the loop then blocks on a timer armed for the deadline itself.
        let later = t0 + Duration::from_secs(1);
        let deadline = later + Duration::from_micros(10);
        assert_eq!(
            pacer.wait(later, Some(deadline), latest).expect("wait"),
            Wait::Block
        );
        assert!(!pacer.may_spin(), "spent");
        assert_eq!(pacer.armed.expect("armed").fires_at, deadline);
        pacer.refill(later + Duration::from_millis(1));
        assert_eq!(
            Duration::from_nanos(pacer.spin_credit_ns),
            Duration::from_millis(1) * SPIN_BUDGET_PERCENT as u32 / 100
        );
        pacer.refill(later + Duration::from_secs(10));
        assert_eq!(Duration::from_nanos(pacer.spin_credit_ns), SPIN_CREDIT_MAX);
    }

    #[test]
    fn plan_sleeps_past_the_deadline_when_the_precision_covers_the_wake_up() {
        let us = Duration::from_micros;
        // (until next send, wake-up latency, precision, budget left, decision)
        let cases = [
            // Precision 50 µs, wake-up 20 µs: fire 30 µs after the deadline, never spin.
            (
                us(500),
                us(20),
                us(50),
                true,
                Step::Sleep { fire_in: us(530) },
            ),
            (us(0), us(20), us(50), true, Step::Sleep { fire_in: us(30) }),
            (
                us(5),
                us(20),
                us(50),
                false,
                Step::Sleep { fire_in: us(35) },
            ),
            // Precision equal to the wake-up latency: fire at the deadline.
            (
                us(100),
                us(40),
                us(40),
                true,
                Step::Sleep { fire_in: us(100) },
            ),
            // Finer than the wake-up: fire early by the difference, spin the last stretch.
            (
                us(100),
                us(60),
                us(20),
                true,
                Step::Sleep { fire_in: us(60) },
            ),
            (us(40), us(60), us(20), true, Step::Spin),
            (us(30), us(60), us(20), true, Step::Spin),
            // Precision 0 is the tightest: early by the whole wake-up latency.
            (
                us(100),
                us(60),
                us(0),
                true,
                Step::Sleep { fire_in: us(40) },
            ),
            (us(60), us(60), us(0), true, Step::Spin),
            // No budget left: the timer fires at the deadline itself, no spin.
            (
                us(30),
                us(60),
                us(20),
                false,
                Step::Sleep { fire_in: us(30) },
            ),
            (us(0), us(60), us(0), false, Step::Sleep { fire_in: us(0) }),
        ];
        for (until_next, slack, precision, may_spin, want) in cases {
            assert_eq!(
                plan(until_next, slack, precision, may_spin),
                want,
                "{until_next:?} away, wake-up {slack:?}, precision {precision:?}, budget {may_spin}"
            );
        }
    }

    #[test]
    fn a_loose_precision_arms_the_timer_after_the_deadline_and_never_spins() {
        let (_poll, pacer) = pacer();
        let mut pacer = pacer.precise_to(Duration::from_micros(500));
        let now = Instant::now();
        let latest = now + Duration::from_secs(1);
        let soon = now + Duration::from_micros(1);
        assert_eq!(
            pacer.wait(now, Some(soon), latest).expect("wait"),
            Wait::Block
        );
        let late_by = Duration::from_micros(500) - pacer.slack();
        assert_eq!(pacer.armed.expect("armed").fires_at, soon + late_by);
        assert!(pacer.spinning_since.is_none());
    }

    #[test]
    fn a_stale_expiry_does_not_count_as_the_current_arming() {
        let (_poll, mut pacer) = pacer();
        let now = Instant::now();
        let later = now + Duration::from_secs(5);
        pacer.wait(now, Some(later), later).expect("wait");
        pacer.fired(now);
        assert!(pacer.armed.is_some(), "not yet due: still armed");
    }
}
