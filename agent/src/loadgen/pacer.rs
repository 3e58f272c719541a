//! Sub-millisecond waits for the open-loop schedule, without spinning.
//!
//! tokio's timer ticks in whole milliseconds, which adds ~0.5–1 ms of send lag to every
//! open-loop request (FACTS.md). Busy-polling the clock for the last millisecond fixes the lag
//! but keeps the load core 100% busy at any rate, which would make every layout look
//! "load core saturated". Instead each worker owns one `timerfd` (nanosecond resolution,
//! registered with the worker's tokio reactor) armed for the earliest pending deadline, and a
//! small heap of waiting connections. When the timer fires, the worker's driver task wakes every
//! connection whose time has come; the thread sleeps in `epoll_wait` in between.
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
    /// The deadline the timerfd is armed for, if any.
    armed: Cell<Option<Instant>>,
    /// The timerfd failed: fall back to polling the clock (correct, but burns the core).
    broken: Cell<bool>,
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

    /// Fires the timer and wakes due waiters, forever. If the timerfd fails, logs it, switches
    /// every wait to clock polling and returns.
    pub(crate) async fn drive(self) {
        let shared = &self.shared;
        loop {
            let mut guard = match shared.timer.readable().await {
                Ok(guard) => guard,
                Err(e) => return shared.break_down(&e),
            };
            match guard.try_io(|timer| timer.get_ref().0.wait().map_err(io::Error::from)) {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return shared.break_down(&e),
                Err(_would_block) => continue,
            }
            shared.armed.set(None);
            let now = Instant::now();
            let mut waiters = shared.waiters.borrow_mut();
            while waiters.peek().is_some_and(|w| w.deadline <= now) {
                if let Some(w) = waiters.pop() {
                    w.waker.wake();
                }
            }
            let next = waiters.peek().map(|w| w.deadline);
            drop(waiters);
            if let Some(next) = next {
                if let Err(e) = shared.arm(next) {
                    return shared.break_down(&e);
                }
            }
        }
    }
}

impl Shared {
    /// Makes sure the timer fires no later than `deadline`.
    fn arm(&self, deadline: Instant) -> io::Result<()> {
        if self.armed.get().is_some_and(|armed| armed <= deadline) {
            return Ok(());
        }
        // Relative arming: the timer starts counting after `now` was read, so it can only fire
        // late (by the time between the two calls), never early. A zero value would disarm it.
        let delay = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_nanos(1));
        self.timer.get_ref().0.set(
            Expiration::OneShot(TimeSpec::from_duration(delay)),
            TimerSetTimeFlags::empty(),
        )?;
        self.armed.set(Some(deadline));
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
        if let Err(e) = self.shared.arm(self.deadline) {
            self.shared.break_down(&e);
        }
        Poll::Pending
    }
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
                    Instant::now().duration_since(deadline)
                }));
            }
            for task in tasks {
                let lag = task.await.expect("task");
                // Generous: CI machines are noisy. tokio's ms timer alone would often exceed it.
                assert!(lag < Duration::from_millis(5), "woke {lag:?} late");
            }
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
