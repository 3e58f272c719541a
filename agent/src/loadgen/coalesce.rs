//! Closed loop: how long a worker with nothing to read waits before it blocks, so that a
//! saturated server's responses are read in bursts instead of each one waking the worker.
//!
//! A worker that blocks in `epoll_wait` is woken by the server's own send (the loopback softirq
//! runs on the server's CPU and pays for the wake-up); when the server is the bottleneck, that
//! cost comes out of its throughput, once per wake-up. A short sleep that no event can end
//! (`clock_nanosleep`) lets the responses queue in the socket buffers, costs the server nothing,
//! and the next `epoll_wait` returns them together.
//!
//! The sleep must never let the server run dry, or the generator would measure itself. Round
//! trips tell how much work is queued at the server: the smallest seen is the unloaded round
//! trip; the smoothed one (gain 1/8, as TCP's) minus the smallest is the queueing delay — the
//! server's backlog, in time. The nap is a quarter of that backlog, at most [`MAX_NAP`]: when it
//! ends the server still has three quarters of its queue to work on, so its throughput is not
//! reduced. With no backlog (a server that keeps up: the round trip is the network and the
//! service time) there is no nap, and the generator reads each response as soon as it comes.
//! Nor with fewer than two requests in flight: one request cannot queue behind another, so a
//! spread of round trips there is the service time varying, not a backlog.
//!
//! What it changes in the figures: a response that arrives during a nap is read up to the nap's
//! length later, so individual latencies move by up to [`MAX_NAP`]; in closed loop the mean
//! latency is set by Little's law (connections / throughput), so with throughput unchanged the
//! mean is too: the time moves from the server's queue to the client's socket buffer.

use std::time::Duration;

/// The longest nap, whatever the backlog.
pub(super) const MAX_NAP: Duration = Duration::from_micros(100);
/// Below this, programming the timer costs about what the wake-up it saves does: no nap.
const MIN_NAP: Duration = Duration::from_micros(10);

#[derive(Debug, Default)]
pub(super) struct Coalescer {
    /// The smallest round trip seen (nanoseconds).
    min_rtt: Option<u64>,
    /// The smoothed round trip (nanoseconds).
    srtt: Option<u64>,
}

impl Coalescer {
    /// One completed exchange's round trip.
    pub(super) fn observe(&mut self, rtt: Duration) {
        let rtt = u64::try_from(rtt.as_nanos()).unwrap_or(u64::MAX);
        self.min_rtt = Some(self.min_rtt.map_or(rtt, |min| min.min(rtt)));
        self.srtt = Some(match self.srtt {
            None => rtt,
            // srtt += (rtt − srtt) / 8, in unsigned arithmetic.
            Some(srtt) => srtt - srtt / 8 + rtt / 8,
        });
    }

    /// How long to sleep before blocking: zero for no nap. `in_flight` counts the requests
    /// awaiting a response (asked only when a nap is otherwise due): with fewer than two there
    /// is no queue at the server, whatever the round trips say — their spread is then the
    /// service time's own variance, and a nap would only leave the server idle.
    pub(super) fn nap(&self, in_flight: impl FnOnce() -> usize) -> Duration {
        let (Some(min), Some(srtt)) = (self.min_rtt, self.srtt) else {
            return Duration::ZERO;
        };
        let nap = Duration::from_nanos(srtt.saturating_sub(min) / 4).min(MAX_NAP);
        if nap < MIN_NAP || in_flight() < 2 {
            Duration::ZERO
        } else {
            nap
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fed(rtts_us: &[u64]) -> Coalescer {
        let mut c = Coalescer::default();
        for &us in rtts_us {
            c.observe(Duration::from_micros(us));
        }
        c
    }

    #[test]
    fn no_round_trip_yet_means_no_nap() {
        assert_eq!(Coalescer::default().nap(|| 8), Duration::ZERO);
    }

    #[test]
    fn a_server_that_keeps_up_gets_no_nap() {
        // Round trips around 30 µs with a few µs of jitter: no backlog worth a timer.
        let c = fed(&[30, 32, 29, 35, 31, 30, 33, 36, 30, 31]);
        assert_eq!(c.nap(|| 8), Duration::ZERO);
    }

    #[test]
    fn a_backlog_gets_a_quarter_of_it() {
        // Unloaded 20 µs, then 200 µs round trips: 180 µs of backlog, nap 45 µs.
        let mut rtts = vec![20];
        rtts.extend([200; 200]);
        let nap = fed(&rtts).nap(|| 8);
        assert!(
            nap >= Duration::from_micros(44) && nap <= Duration::from_micros(46),
            "{nap:?}"
        );
    }

    #[test]
    fn the_nap_is_capped() {
        let mut rtts = vec![20];
        rtts.extend([5_000; 200]);
        assert_eq!(fed(&rtts).nap(|| 8), MAX_NAP);
    }

    #[test]
    fn one_request_in_flight_is_never_queued() {
        let mut rtts = vec![20];
        rtts.extend([400; 100]);
        let c = fed(&rtts);
        assert!(c.nap(|| 2) > Duration::ZERO);
        assert_eq!(c.nap(|| 1), Duration::ZERO);
        assert_eq!(c.nap(|| 0), Duration::ZERO);
    }

    #[test]
    fn a_backlog_that_drains_ends_the_naps() {
        let mut rtts = vec![20];
        rtts.extend([400; 100]);
        rtts.extend([22; 200]);
        assert!(fed(&rtts[..101]).nap(|| 8) > Duration::ZERO);
        assert_eq!(fed(&rtts).nap(|| 8), Duration::ZERO);
    }
}
