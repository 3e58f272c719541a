//! Where a worker is in the run: [`Phase`], moved on by the clock alone ([`Phases::advance`]),
//! and the worker thread's CPU time over the measured window, read at the two edges.

use std::time::{Duration, Instant};

use nix::time::{clock_gettime, ClockId};

use super::config::LATE_SEND;
use super::window::Window;

/// How often a worker scans its connections for deadlines and the cancel flag: a timeout fires
/// up to this late.
pub(super) const SCAN: Duration = Duration::from_millis(10);

/// The phases of a worker's run, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// Load before the window: nothing is measured.
    Warmup,
    /// The measured window: requests intended (closed loop: sent) now are measured.
    Measuring,
    /// After the window: nothing new is sent; the window's last outcomes are read, up to the
    /// drain's deadline.
    Draining,
    /// Every connection settled (or the drain's deadline passed, or the run was cancelled).
    Done,
}

/// A worker's phase and what it reads at the window's edges.
#[derive(Debug)]
pub(super) struct Phases {
    window: Window,
    drain_until: Instant,
    phase: Phase,
    /// The thread's CPU time when the window opened and when it closed.
    cpu_at_open: Option<Duration>,
    cpu_at_close: Option<Duration>,
}

impl Phases {
    pub(super) fn new(window: Window, timeout: Duration) -> Self {
        Self {
            window,
            drain_until: drain_deadline(window.measure_end, timeout),
            phase: Phase::Warmup,
            cpu_at_open: None,
            cpu_at_close: None,
        }
    }

    pub(super) fn phase(&self) -> Phase {
        self.phase
    }

    /// Moves on to the phase `now` falls in (never back, never to [`Phase::Done`]), reading the
    /// thread's CPU time (`cpu`) at each edge of the window crossed. Returns the phase entered,
    /// if it changed (a turn late enough to cross both edges enters `Draining` directly).
    pub(super) fn advance(
        &mut self,
        now: Instant,
        mut cpu: impl FnMut() -> Duration,
    ) -> Option<Phase> {
        let before = self.phase;
        if self.phase == Phase::Warmup && now >= self.window.measure_start {
            self.cpu_at_open = Some(cpu());
            self.phase = Phase::Measuring;
        }
        if self.phase == Phase::Measuring && now >= self.window.measure_end {
            self.cpu_at_close = Some(cpu());
            self.phase = Phase::Draining;
        }
        (self.phase != before).then_some(self.phase)
    }

    /// Whether the drain is over at `now`: its deadline has passed, or nothing is left open
    /// (asked only while draining, so the turns before it do not pay for the look).
    pub(super) fn drained(&self, now: Instant, anything_open: impl FnOnce() -> bool) -> bool {
        self.phase == Phase::Draining && (now >= self.drain_until || !anything_open())
    }

    pub(super) fn finish(&mut self) {
        self.phase = Phase::Done;
    }

    /// When the current phase ends by the clock: the worker wakes by then whatever else it
    /// waits for.
    pub(super) fn ends_at(&self) -> Instant {
        match self.phase {
            Phase::Warmup => self.window.measure_start,
            Phase::Measuring => self.window.measure_end,
            Phase::Draining | Phase::Done => self.drain_until,
        }
    }

    pub(super) fn measuring(&self) -> bool {
        self.phase == Phase::Measuring
    }

    /// The thread's CPU time over the measured window (up to `cpu()` now if it was cut short;
    /// zero if it never opened).
    pub(super) fn cpu_time(&self, cpu: impl FnOnce() -> Duration) -> Duration {
        self.cpu_at_open.map_or(Duration::ZERO, |open| {
            self.cpu_at_close.unwrap_or_else(cpu).saturating_sub(open)
        })
    }
}

/// When the drain after the window gives up: every request sent by then has had its `timeout`
/// (a send at the close may be up to [`LATE_SEND`] late; deadlines are checked every [`SCAN`]).
fn drain_deadline(measure_end: Instant, timeout: Duration) -> Instant {
    let wait = timeout + LATE_SEND + 2 * SCAN;
    // `run` validated that the window plus `timeout` fits; the rest is milliseconds.
    measure_end.checked_add(wait).unwrap_or(measure_end)
}

/// The calling thread's CPU time (user + system).
pub(super) fn thread_cpu_time() -> Duration {
    // CLOCK_THREAD_CPUTIME_ID cannot fail for the calling thread on Linux; zero is a safe
    // answer if it somehow does (it only lowers the reported load-core busy time).
    clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID).map_or(Duration::ZERO, Duration::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(t0: Instant) -> Window {
        Window {
            start: t0,
            measure_start: t0 + Duration::from_secs(1),
            measure_end: t0 + Duration::from_secs(3),
        }
    }

    #[test]
    fn phases_follow_the_clock_and_read_the_cpu_at_each_edge_of_the_window() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut phases = Phases::new(window(t0), s(2));
        let mut cpu_reads = vec![s(5), s(7)].into_iter();
        let mut cpu = || cpu_reads.next().expect("read twice, at the edges");
        assert_eq!(phases.advance(t0, &mut cpu), None);
        assert_eq!(phases.ends_at(), t0 + s(1));
        assert!(!phases.measuring());
        assert_eq!(phases.advance(t0 + s(1), &mut cpu), Some(Phase::Measuring));
        assert!(phases.measuring());
        assert_eq!(phases.ends_at(), t0 + s(3));
        assert_eq!(phases.advance(t0 + s(2), &mut cpu), None);
        assert_eq!(phases.advance(t0 + s(3), &mut cpu), Some(Phase::Draining));
        assert!(
            !phases.drained(t0 + s(3), || true),
            "open requests are read"
        );
        assert!(phases.drained(t0 + s(3), || false), "nothing left to read");
        let deadline = t0 + s(5) + LATE_SEND + 2 * SCAN;
        assert_eq!(phases.ends_at(), deadline);
        assert!(phases.drained(deadline, || true), "the drain is bounded");
        assert_eq!(phases.cpu_time(|| unreachable!("closed")), s(2));
        phases.finish();
        assert_eq!(phases.phase(), Phase::Done);
    }

    #[test]
    fn a_late_turn_crosses_both_edges_and_a_run_cut_short_counts_to_now() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut late = Phases::new(window(t0), s(1));
        let mut reads = 0;
        let entered = late.advance(t0 + s(4), || {
            reads += 1;
            s(reads)
        });
        assert_eq!(entered, Some(Phase::Draining));
        assert_eq!(late.cpu_time(|| s(100)), s(1), "both edges read");

        let mut cut = Phases::new(window(t0), s(1));
        assert_eq!(cut.cpu_time(|| s(100)), Duration::ZERO, "never opened");
        cut.advance(t0 + s(1), || s(10));
        assert_eq!(cut.cpu_time(|| s(12)), s(2), "open, not closed: to now");
        assert!(!cut.drained(t0 + s(100), || false), "not draining yet");
    }
}
