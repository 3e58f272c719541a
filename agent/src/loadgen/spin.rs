//! Closed loop: how long a worker with nothing to read busy-polls before it blocks, when the
//! server has no backlog (the regime of few connections, where [`super::coalesce`] never naps).
//!
//! A worker that blocks in `epoll_wait` costs twice per response: its CPU goes idle and must be
//! woken (microseconds, more in a virtual machine, added to every round trip), and the server's
//! loopback softirq pays for that wake-up out of the server's CPU. With few connections each
//! round trip bounds the throughput directly (connections / round trip), so a generator that
//! sleeps between responses measures itself (`BENCHMARKS.md` compares it with wrk). Polling
//! without blocking for a few microseconds catches a response that is about to come without
//! either cost, as the kernel's own halt-polling does for an idle virtual CPU.
//!
//! The spin must only be spent where it pays, so the window adapts as halt-polling's does: a
//! wait the spin caught leaves it as it is; a wait longer than the window but no longer than
//! [`MAX_SPIN`] (a longer spin would have caught it) doubles it; a wait longer than [`MAX_SPIN`]
//! (the server is slow, or one connection waits a whole service time) halves it, down to no spin
//! at all. So a single connection to a server with a 50 µs round trip spins for nothing after a
//! few waits, while four connections to a fast server, whose next response is always a few
//! microseconds away, keep a window that catches it.
//!
//! What it changes in the figures: the worker's CPU time includes the spin (it is busy, and
//! counted as such in CPU per request); the result shows the spun share beside it, and a worker
//! busy only because it spun is not flagged as a saturated generator. Latencies are read sooner,
//! never later.

use std::time::Duration;

/// The longest spin: a response further away than this is not worth a busy core.
pub(super) const MAX_SPIN: Duration = Duration::from_micros(25);
/// The window a spin starts from once a short wait has shown it could pay.
const FIRST_SPIN: Duration = Duration::from_micros(2);

#[derive(Debug, Default)]
pub(super) struct Spinner {
    window: Duration,
}

impl Spinner {
    /// How long to busy-poll before blocking: zero for no spin.
    pub(super) fn window(&self) -> Duration {
        self.window
    }

    /// A wait for responses (from finding nothing to read to the next events, spinning then
    /// blocking) took `waited`; a wait that ended with no event at all counts as long.
    pub(super) fn observe(&mut self, waited: Duration) {
        if waited <= self.window {
            return;
        }
        self.window = if waited <= MAX_SPIN {
            (self.window * 2).clamp(FIRST_SPIN, MAX_SPIN)
        } else if self.window / 2 < FIRST_SPIN {
            Duration::ZERO
        } else {
            self.window / 2
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fed(waits_us: &[u64]) -> Spinner {
        let mut s = Spinner::default();
        for &us in waits_us {
            s.observe(Duration::from_micros(us));
        }
        s
    }

    #[test]
    fn no_wait_seen_means_no_spin() {
        assert_eq!(Spinner::default().window(), Duration::ZERO);
    }

    #[test]
    fn short_waits_grow_the_window_until_it_catches_them() {
        // A response 7 µs away: 2, 4, 8 µs, and then every wait is caught and nothing changes.
        let s = fed(&[7, 7, 7]);
        assert_eq!(s.window(), Duration::from_micros(8));
        assert_eq!(fed(&[7; 50]).window(), Duration::from_micros(8));
        // Never beyond the cap.
        assert_eq!(fed(&[25; 50]).window(), MAX_SPIN);
    }

    #[test]
    fn long_waits_shrink_it_to_nothing() {
        // One connection to a 50 µs round trip: never worth spinning.
        assert_eq!(fed(&[50; 5]).window(), Duration::ZERO);
        // Having grown, a run of long waits halves it away in a few waits.
        let mut s = fed(&[20; 5]);
        assert_eq!(s.window(), MAX_SPIN);
        for _ in 0..4 {
            s.observe(Duration::from_millis(1));
        }
        assert_eq!(s.window(), Duration::ZERO);
    }

    #[test]
    fn one_long_wait_among_short_ones_costs_half_the_window_once() {
        let mut s = fed(&[7, 7, 7]);
        s.observe(Duration::from_millis(2));
        assert_eq!(s.window(), Duration::from_micros(4));
        s.observe(Duration::from_micros(7));
        assert_eq!(s.window(), Duration::from_micros(8));
    }
}
