//! Precise waits for the open-loop schedule: a timerfd for the long stretch, a short busy-poll
//! for the last few tens of microseconds.
//!
//! tokio's timer ticks in whole milliseconds, which adds ~0.5–1 ms of send lag to every
//! open-loop request (FACTS.md). Busy-polling the clock for the whole wait fixes the lag but
//! keeps the load core 100% busy at any rate, which would make every layout look "load core
//! saturated". Instead each worker owns one `timerfd` (nanosecond resolution, registered with
//! the worker's tokio reactor) and a small heap of waiting connections. The timer is armed a
//! little *before* the earliest deadline — by `slack`, the thread's recent wake-up latency —
//! so that the thread, asleep in `epoll_wait` in between, is running again when the deadline
//! comes. The driver task then busy-polls the rest of the way, yielding to the runtime between
//! looks at the clock (so responses on other connections are still read), and wakes every
//! connection whose time has come.
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
//! worker sharing a CPU with a replica does not take more than that from it. At high rates the
//! thread is awake anyway and the slack learned shrinks with its wake-up latency.
//!
//! Everything is single-threaded (`Rc`, `RefCell`): one pacer per worker thread. No allocation
//! per wait once the heap has grown to the number of connections.

use std::cell::{Cell, RefCell};
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::future::Future;
use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use tokio::io::unix::AsyncFd;

/// Upper bound of the early-wake margin (and so of the busy-poll per timer wake).
pub(crate) const MAX_SLACK: Duration = Duration::from_micros(200);
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

/// A precise per-worker timer. Clone it into each connection task; run [`Pacer::drive`] as one
/// task of the same `LocalSet`.
#[derive(Debug, Clone)]
pub(crate) struct Pacer {
    shared: Rc<Shared>,
}

#[derive(Debug)]
struct Shared {
    timer: AsyncFd<Timer>,
    waiters: RefCell<BinaryHeap<Waiter>>,
    /// When the timerfd is armed to fire (a deadline minus `slack`), if it is armed.
    armed: Cell<Option<Armed>>,
    /// How early to arm the timer before a deadline: the recent wake-up latency (ns).
    slack_ns: Cell<u64>,
    /// Busy-poll budget left (ns), and when it was last topped up.
    spin_credit_ns: Cell<u64>,
    refilled_at: Cell<Instant>,
    /// The driver is waiting for the timerfd (a new earlier waiter must re-arm it); otherwise
    /// the driver is running or busy-polling and looks at the heap on its next poll anyway.
    sleeping: Cell<bool>,
    /// The timerfd failed: fall back to polling the clock (correct, but burns the core).
    broken: Cell<bool>,
}

#[derive(Debug, Clone, Copy)]
struct Armed {
    fires_at: Instant,
    /// False when the fire time had already passed when armed (it then fires at once, and its
    /// lateness says nothing about the wake-up latency).
    in_future: bool,
}

#[derive(Debug)]
struct Timer(TimerFd);

impl AsRawFd for Timer {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

#[derive(Debug)]
struct Waiter {
    deadline: Instant,
    waker: Waker,
}

// Reversed on the deadline: `BinaryHeap` is a max-heap and we want the earliest on top.
impl Ord for Waiter {
    fn cmp(&self, other: &Self) -> Ordering {
        other.deadline.cmp(&self.deadline)
    }
}
impl PartialOrd for Waiter {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for Waiter {
    fn eq(&self, other: &Self) -> bool {
        self.deadline == other.deadline
    }
}
impl Eq for Waiter {}

impl Pacer {
    /// Creates the timerfd. Must be called inside a tokio runtime with I/O enabled.
    pub(crate) fn new(expected_waiters: usize) -> io::Result<Self> {
        let fd = TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )?;
        // `AsyncFd::new` is deprecated because a type could hand the reactor an fd it does not
        // own or later swap it; `register` is its `unsafe` replacement, and this workspace
        // denies `unsafe_code`. `Timer` owns its `TimerFd` for the whole life of the `AsyncFd`
        // and always returns that same open fd, which is exactly `register`'s safety contract.
        #[allow(deprecated)]
        let timer = AsyncFd::new(Timer(fd))?;
        Ok(Self {
            shared: Rc::new(Shared {
                timer,
                waiters: RefCell::new(BinaryHeap::with_capacity(expected_waiters * 2)),
                armed: Cell::new(None),
                slack_ns: Cell::new(nanos(INITIAL_SLACK)),
                spin_credit_ns: Cell::new(nanos(SPIN_CREDIT_MAX)),
                refilled_at: Cell::new(Instant::now()),
                sleeping: Cell::new(false),
                broken: Cell::new(false),
            }),
        })
    }

    /// Completes at `deadline` (or right away if it has passed), to within the wake-up latency
    /// of the thread.
    pub(crate) fn sleep_until(&self, deadline: Instant) -> PreciseSleep<'_> {
        PreciseSleep {
            shared: &self.shared,
            deadline,
        }
    }

    /// Fires the timer, busy-polls the last stretch and wakes due waiters, forever. If the
    /// timerfd fails, logs it, switches every wait to clock polling and returns.
    pub(crate) async fn drive(self) {
        let shared = &self.shared;
        let mut spinning_since: Option<Instant> = None;
        loop {
            let now = Instant::now();
            if let Some(last) = spinning_since.take() {
                // Charged in full, although other tasks may have run in between: when the
                // thread is that busy it is awake anyway and needs no busy-poll.
                shared.charge(now.saturating_duration_since(last));
            }
            shared.refill(now);
            let Some(next) = shared.wake_due(now) else {
                // Nothing waits: sleep until a new waiter arms the timer.
                if let Err(e) = shared.wait_timer().await {
                    return shared.break_down(&e);
                }
                continue;
            };
            if shared.may_spin() && next.saturating_duration_since(now) <= shared.slack() {
                // The last stretch: look at the clock again after the runtime has run other
                // ready tasks and polled I/O (`yield_now` defers to the driver).
                spinning_since = Some(now);
                tokio::task::yield_now().await;
                continue;
            }
            if let Err(e) = shared.arm(next) {
                return shared.break_down(&e);
            }
            if let Err(e) = shared.wait_timer().await {
                return shared.break_down(&e);
            }
        }
    }

    /// The current early-wake margin (for tests and diagnostics).
    #[cfg(test)]
    fn slack(&self) -> Duration {
        self.shared.slack()
    }
}

impl Shared {
    fn slack(&self) -> Duration {
        Duration::from_nanos(self.slack_ns.get())
    }

    /// Whether busy-polling budget is left.
    fn may_spin(&self) -> bool {
        self.spin_credit_ns.get() > 0
    }

    /// Adds the budget earned since the last refill: [`SPIN_BUDGET_PERCENT`] of the wall time,
    /// banked up to [`SPIN_CREDIT_MAX`].
    fn refill(&self, now: Instant) {
        let earned = nanos(now.saturating_duration_since(self.refilled_at.get()))
            .saturating_mul(SPIN_BUDGET_PERCENT)
            / 100;
        let credit = self.spin_credit_ns.get().saturating_add(earned);
        self.spin_credit_ns.set(credit.min(nanos(SPIN_CREDIT_MAX)));
        self.refilled_at.set(now);
    }

    fn charge(&self, spun: Duration) {
        let credit = self.spin_credit_ns.get().saturating_sub(nanos(spun));
        self.spin_credit_ns.set(credit);
    }

    /// Wakes every waiter due at `now`; returns the earliest deadline still pending.
    fn wake_due(&self, now: Instant) -> Option<Instant> {
        let mut waiters = self.waiters.borrow_mut();
        while waiters.peek().is_some_and(|w| w.deadline <= now) {
            if let Some(w) = waiters.pop() {
                w.waker.wake();
            }
        }
        waiters.peek().map(|w| w.deadline)
    }

    /// Waits until the timerfd fires, then learns from how late it woke the thread.
    async fn wait_timer(&self) -> io::Result<()> {
        self.sleeping.set(true);
        let fired = self.wait_fired().await;
        self.sleeping.set(false);
        fired?;
        if let Some(armed) = self.armed.take() {
            if armed.in_future {
                self.learn(Instant::now().saturating_duration_since(armed.fires_at));
            }
        }
        Ok(())
    }

    async fn wait_fired(&self) -> io::Result<()> {
        loop {
            let mut guard = self.timer.readable().await?;
            match guard.try_io(|timer| timer.get_ref().0.wait().map_err(io::Error::from)) {
                Ok(result) => return result,
                Err(_would_block) => continue,
            }
        }
    }

    /// One step of the p90 estimate of the wake-up lateness, kept within `0..=MAX_SLACK`.
    fn learn(&self, lateness: Duration) {
        let slack = self.slack_ns.get();
        let next = if nanos(lateness) > slack {
            slack + SLACK_UP_STEPS * SLACK_STEP_NS
        } else {
            slack.saturating_sub(SLACK_STEP_NS)
        };
        self.slack_ns.set(next.min(nanos(MAX_SLACK)));
    }

    /// Makes sure the timer fires no later than `slack` before `deadline` (at once if that has
    /// passed: the driver then busy-polls the rest of the way), or at `deadline` itself when the
    /// busy-poll budget is spent.
    fn arm(&self, deadline: Instant) -> io::Result<()> {
        let early = if self.may_spin() {
            self.slack()
        } else {
            Duration::ZERO
        };
        let fires_at = deadline.checked_sub(early).unwrap_or(deadline);
        if self
            .armed
            .get()
            .is_some_and(|armed| armed.fires_at <= fires_at)
        {
            return Ok(());
        }
        // Relative arming: the timer starts counting after `now` was read, so it can only fire
        // late (by the time between the two calls), never early. A zero value would disarm it.
        let now = Instant::now();
        let delay = fires_at
            .saturating_duration_since(now)
            .max(Duration::from_nanos(1));
        self.timer.get_ref().0.set(
            Expiration::OneShot(TimeSpec::from_duration(delay)),
            TimerSetTimeFlags::empty(),
        )?;
        self.armed.set(Some(Armed {
            fires_at,
            in_future: fires_at > now,
        }));
        Ok(())
    }

    fn break_down(&self, error: &io::Error) {
        tracing::error!(%error, "load pacer timerfd failed; falling back to polling the clock");
        self.broken.set(true);
        for w in self.waiters.borrow_mut().drain() {
            w.waker.wake();
        }
    }
}

/// The future returned by [`Pacer::sleep_until`].
#[derive(Debug)]
pub(crate) struct PreciseSleep<'a> {
    shared: &'a Shared,
    deadline: Instant,
}

impl Future for PreciseSleep<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.deadline {
            return Poll::Ready(());
        }
        if self.shared.broken.get() {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.shared.waiters.borrow_mut().push(Waiter {
            deadline: self.deadline,
            waker: cx.waker().clone(),
        });
        // A running or busy-polling driver sees the new waiter on its next look at the heap; a
        // sleeping one must be woken early enough for it.
        if self.shared.sleeping.get() {
            if let Err(e) = self.shared.arm(self.deadline) {
                self.shared.break_down(&e);
            }
        }
        Poll::Pending
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on_local_runtime<F: Future>(f: F) -> F::Output {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        tokio::task::LocalSet::new().block_on(&rt, f)
    }

    #[test]
    fn wakes_each_waiter_at_its_deadline_not_before() {
        on_local_runtime(async {
            let pacer = Pacer::new(4).expect("timerfd");
            tokio::task::spawn_local(pacer.clone().drive());
            let start = Instant::now();
            let mut tasks = Vec::new();
            // Deliberately out of order, sub-millisecond apart.
            for offset_us in [1_700u64, 300, 900, 2_500] {
                let pacer = pacer.clone();
                tasks.push(tokio::task::spawn_local(async move {
                    let deadline = start + Duration::from_micros(offset_us);
                    pacer.sleep_until(deadline).await;
                    Instant::now().checked_duration_since(deadline)
                }));
            }
            for task in tasks {
                let lag = task.await.expect("task");
                // Never early: the property the schedule relies on. How late is a performance
                // figure, measured by `make bench` (send lag), not asserted here: a busy machine
                // delays any thread by milliseconds. Only a gross failure (a lost wake-up) fails.
                let lag = lag.expect("woke before its deadline");
                assert!(
                    lag < Duration::from_secs(1),
                    "woke {lag:?} late: a wake-up was lost"
                );
            }
        });
    }

    #[test]
    fn slack_follows_the_90th_percentile_of_wake_lateness_within_bounds() {
        on_local_runtime(async {
            let pacer = Pacer::new(1).expect("timerfd");
            let shared = &pacer.shared;
            // Lateness spread evenly over 0..100 µs: p90 is 90 µs.
            for i in 0..40_000u64 {
                shared.learn(Duration::from_micros(i * 37 % 100));
            }
            let slack = pacer.slack();
            assert!(
                (Duration::from_micros(80)..=Duration::from_micros(100)).contains(&slack),
                "slack {slack:?}"
            );
            for _ in 0..1_000 {
                shared.learn(Duration::from_secs(1));
            }
            assert_eq!(pacer.slack(), MAX_SLACK, "outliers are capped");
            for _ in 0..1_000 {
                shared.learn(Duration::ZERO);
            }
            assert_eq!(
                pacer.slack(),
                Duration::ZERO,
                "a thread that wakes on time needs none"
            );
        });
    }

    #[test]
    fn busy_polling_is_budgeted_to_a_share_of_wall_time() {
        on_local_runtime(async {
            let pacer = Pacer::new(1).expect("timerfd");
            let shared = &pacer.shared;
            assert!(shared.may_spin(), "starts with banked credit");
            shared.charge(Duration::from_secs(1));
            assert!(!shared.may_spin(), "spent");
            let t0 = shared.refilled_at.get();
            shared.refill(t0 + Duration::from_millis(1));
            let earned = Duration::from_nanos(shared.spin_credit_ns.get());
            assert_eq!(
                earned,
                Duration::from_millis(1) * SPIN_BUDGET_PERCENT as u32 / 100
            );
            shared.refill(t0 + Duration::from_secs(10));
            assert_eq!(
                Duration::from_nanos(shared.spin_credit_ns.get()),
                SPIN_CREDIT_MAX
            );
        });
    }

    #[test]
    fn past_deadline_is_ready_at_once() {
        on_local_runtime(async {
            let pacer = Pacer::new(1).expect("timerfd");
            // No driver running: a past deadline must not need it.
            pacer.sleep_until(Instant::now()).await;
        });
    }
}
