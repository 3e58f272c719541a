//! When things happen: the measurement [`Window`] every worker of a run shares, and the
//! open-loop [`Schedule`] of one connection.

use std::time::{Duration, Instant};

use super::config::LoadConfig;

/// When the load starts and when the measured interval begins and ends; the same for every
/// worker of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Window {
    pub(super) start: Instant,
    pub(super) measure_start: Instant,
    pub(super) measure_end: Instant,
}

impl Window {
    /// `run` validated that these additions cannot overflow.
    pub(super) fn new(start: Instant, config: &LoadConfig) -> Self {
        let measure_start = start + config.warmup;
        Self {
            start,
            measure_start,
            measure_end: measure_start + config.duration,
        }
    }

    pub(super) fn measures(&self, at: Instant) -> bool {
        self.measure_start <= at && at < self.measure_end
    }
}

/// The open-loop send times of one connection: `start + (global + k·connections) / rate`.
#[derive(Debug)]
pub(super) struct Schedule {
    origin: Instant,
    next_index: u64,
    step: u64,
    rate_per_sec: f64,
}

impl Schedule {
    pub(super) fn new(origin: Instant, global: u32, connections: u32, rate_per_sec: f64) -> Self {
        Self {
            origin,
            next_index: u64::from(global),
            step: u64::from(connections),
            rate_per_sec,
        }
    }

    /// The next intended send time; `None` once it no longer fits in an `Instant`.
    pub(super) fn next(&mut self) -> Option<Instant> {
        let next = self.peek();
        self.next_index += self.step;
        next
    }

    /// The send time [`Schedule::next`] will give, without moving on.
    pub(super) fn peek(&self) -> Option<Instant> {
        let offset = Duration::try_from_secs_f64(self.next_index as f64 / self.rate_per_sec);
        self.origin.checked_add(offset.ok()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_interleave_into_one_even_stream() {
        let origin = Instant::now();
        let mut sends: Vec<Duration> = (0..4)
            .flat_map(|g| {
                let mut s = Schedule::new(origin, g, 4, 1_000.0);
                (0..5).map(move |_| s.next().expect("fits").duration_since(origin))
            })
            .collect();
        sends.sort();
        for (i, at) in sends.iter().enumerate() {
            let want = Duration::from_millis(i as u64);
            let diff = at.abs_diff(want);
            assert!(diff < Duration::from_micros(1), "send {i} at {at:?}");
        }
    }

    #[test]
    fn peek_tells_the_next_send_without_moving_on() {
        let mut s = Schedule::new(Instant::now(), 1, 4, 1_000.0);
        for _ in 0..3 {
            let peeked = s.peek();
            assert_eq!(s.peek(), peeked);
            assert_eq!(s.next(), peeked);
        }
    }
}
