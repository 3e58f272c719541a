//! When things happen: the measurement [`Window`] every worker of a run shares, and the
//! open-loop [`Schedule`] of one connection.

use std::time::Instant;

use super::config::LoadConfig;
use super::shape::{SendPlan, SendTimes};

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

/// The open-loop send times of one connection, from the load's start (`origin`): as
/// `shape.rs` lays them out, uniform, Poisson or a trace's. Holds the send after the one
/// [`Schedule::next`] last gave, so that [`Schedule::peek`] costs nothing.
#[derive(Debug)]
pub(super) struct Schedule {
    origin: Instant,
    times: SendTimes,
    upcoming: Option<(Instant, Option<u32>)>,
    /// The trace's request of the send [`Schedule::next`] last gave.
    request: Option<u32>,
}

impl Schedule {
    /// Evenly spaced at a constant rate: `origin + (global + k·connections) / rate`.
    #[cfg(test)]
    pub(super) fn new(origin: Instant, global: u32, connections: u32, rate_per_sec: f64) -> Self {
        let plan = SendPlan::new(rate_per_sec, std::time::Duration::ZERO, &Default::default());
        Self::of(origin, &plan, global, connections)
    }

    /// Connection `global` of `connections` under `plan`.
    pub(super) fn of(origin: Instant, plan: &SendPlan, global: u32, connections: u32) -> Self {
        let mut schedule = Self {
            origin,
            times: SendTimes::new(plan, global, connections),
            upcoming: None,
            request: None,
        };
        schedule.upcoming = schedule.following();
        schedule
    }

    fn following(&mut self) -> Option<(Instant, Option<u32>)> {
        let slot = self.times.next()?;
        Some((self.origin.checked_add(slot.at)?, slot.request))
    }

    /// The next intended send time; `None` once there is none (or it no longer fits in an
    /// `Instant`).
    pub(super) fn next(&mut self) -> Option<Instant> {
        let (at, request) = self.upcoming?;
        self.request = request;
        self.upcoming = self.following();
        Some(at)
    }

    /// The send time [`Schedule::next`] will give, without moving on.
    pub(super) fn peek(&self) -> Option<Instant> {
        self.upcoming.map(|(at, _)| at)
    }

    /// Replaying a trace: the request of the send [`Schedule::next`] last gave (`None`: the
    /// connection draws from the mix).
    pub(super) fn request(&self) -> Option<usize> {
        self.request.map(|r| r as usize)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

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
