//! Precise waits for the open-loop schedule: a timerfd for the long stretch, a short busy-poll
//! for the last few tens of microseconds.
//!
//! A millisecond timer (tokio's, or `epoll_wait`'s own timeout) adds ~0.5–1 ms of send lag to
//! every open-loop request (FACTS.md). Busy-polling for the whole wait fixes the lag but keeps
//! the load core 100% busy at any rate, which would make every layout look "load core
//! saturated". Instead each worker's event loop (`engine.rs`) owns one `timerfd` (nanosecond
//! resolution, registered with the loop's poller) and asks this pacer, before every poll, how
//! to wait for the next send: [`Wait::Block`] (the timer is armed a little *before* the deadline
//! — by `slack`, the thread's recent wake-up latency — so that the thread, asleep in
//! `epoll_wait` in between, is running again when the deadline comes) or [`Wait::Spin`] (the
//! deadline is within `slack`: poll without blocking, so responses are still read, and look at
//! the clock again).
//!
//! Why the early arming: waking a sleeping vCPU costs tens of microseconds here, so a timer armed
//! for the deadline itself makes every send that late (measured: send lag p50 ≈ 50 µs, hence
//! corrected p50 ≈ 50 µs above uncorrected on a steady server at 2,000 req/s). `slack` follows
//! about the 90th percentile of the observed wake-up lateness (a stochastic quantile estimate:
//! up 9 steps on a late wake, down 1 on an early one), bounded by [`MAX_SLACK`], so the spin per
//! send stays near the wake-up jitter. Busy-polling is capped at [`SPIN_BUDGET_PERCENT`] of
//! the worker's wall time (a token bucket): past it the timer is armed for the deadline itself
//! and sends are again as late as the wake-up, so the worker's CPU time (which includes the
//! busy-poll: it is real) never reads as a saturated load core because of pacing alone, and a
//! worker that shares a CPU with a replica does not take more than that from it. At high rates
//! the thread is awake anyway and the slack learned shrinks with its wake-up latency.
//!
//! The timerfd is registered edge-triggered and never read: every expiry wakes the poller, and
//! re-arming resets its count.

use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
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

/// A precise per-worker timer for one event loop (single-threaded).
#[derive(Debug)]
pub(crate) struct Pacer {
    timer: TimerFd,
    /// When the timerfd is armed to fire (a deadline minus `slack`), if it is armed.
    armed: Option<Armed>,
    /// How early to arm the timer before a deadline: the recent wake-up latency (ns).
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
    /// Creates the timerfd and registers it with `registry` under `token`.
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
            slack_ns: nanos(INITIAL_SLACK),
            spin_credit_ns: nanos(SPIN_CREDIT_MAX),
            refilled_at: Instant::now(),
            spinning_since: None,
        })
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
        let early = match next {
            Some(next)
                if self.may_spin() && next.saturating_duration_since(now) <= self.slack() =>
            {
                self.spinning_since = Some(now);
                return Ok(Wait::Spin);
            }
            Some(next) if self.may_spin() => next.checked_sub(self.slack()).unwrap_or(next),
            Some(next) => next,
            None => latest,
        };
        self.arm(early.min(latest))?;
        Ok(Wait::Block)
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
    fn a_stale_expiry_does_not_count_as_the_current_arming() {
        let (_poll, mut pacer) = pacer();
        let now = Instant::now();
        let later = now + Duration::from_secs(5);
        pacer.wait(now, Some(later), later).expect("wait");
        pacer.fired(now);
        assert!(pacer.armed.is_some(), "not yet due: still armed");
    }
}
