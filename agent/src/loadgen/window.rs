//! When things happen: the measurement [`Window`] every worker of a run shares, and the
//! open-loop [`Schedule`] of one connection.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Instant;

use super::config::{LoadConfig, LATE_SEND};
use super::shape::{SendPlan, SendTimes, Slot, SlotPool};

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

    /// Open loop: whether a send slot at `at`, not sent by `now`, is a warm-up backlog to drop
    /// once the window is open: before the window and more than [`LATE_SEND`] behind (not the
    /// ordinary schedule caught at the open).
    pub(super) fn is_warmup_backlog(&self, at: Instant, now: Instant) -> bool {
        let open = self.measure_start;
        now >= open && at < open && now > at + LATE_SEND
    }

    /// Open loop: whether a send slot intended at `at` may go out at `now`: before the close,
    /// any slot inside the window (a backlog is sent back to back); after it, only one not yet
    /// [`LATE_SEND`] behind (the ordinary schedule caught at the close, not a backlog).
    pub(super) fn may_send(&self, at: Option<Instant>, now: Instant) -> bool {
        let end = self.measure_end;
        at.is_some_and(|at| at < end && (now < end || now <= at + LATE_SEND))
    }

    pub(super) fn measures(&self, at: Instant) -> bool {
        self.measure_start <= at && at < self.measure_end
    }
}

/// The open-loop send times of one connection, from the load's start (`origin`): as
/// `shape.rs` lays them out, its own (uniform) or taken from a pool it shares with the worker's
/// other connections to its replica (Poisson, a trace: [`SlotPool`]).
#[derive(Debug)]
pub(super) struct Schedule {
    origin: Instant,
    source: Source,
    /// The trace's request of the send [`Schedule::next`] last gave.
    request: Option<u32>,
}

#[derive(Debug)]
enum Source {
    /// Its own send times, and the one after the one [`Schedule::next`] last gave (so that
    /// [`Schedule::peek`] costs nothing).
    Own {
        times: SendTimes,
        upcoming: Option<Slot>,
    },
    /// The earliest slot of a shared pool not yet taken.
    Pooled(Rc<RefCell<SlotPool>>),
}

impl Schedule {
    /// Evenly spaced at a constant rate: `origin + (global + k·connections) / rate`.
    #[cfg(test)]
    pub(super) fn new(origin: Instant, global: u32, connections: u32, rate_per_sec: f64) -> Self {
        let plan = SendPlan::new(rate_per_sec, std::time::Duration::ZERO, &Default::default());
        Self::of(origin, &plan, global, connections)
    }

    /// Connection `global` of `connections` under `plan`, with a schedule of its own.
    pub(super) fn of(origin: Instant, plan: &SendPlan, global: u32, connections: u32) -> Self {
        let mut times = SendTimes::new(plan, global, connections);
        let upcoming = times.next();
        Self {
            origin,
            source: Source::Own { times, upcoming },
            request: None,
        }
    }

    /// A connection taking its sends from `pool`.
    pub(super) fn pooled(origin: Instant, pool: Rc<RefCell<SlotPool>>) -> Self {
        Self {
            origin,
            source: Source::Pooled(pool),
            request: None,
        }
    }

    /// The next intended send time; `None` once there is none (or it no longer fits in an
    /// `Instant`).
    pub(super) fn next(&mut self) -> Option<Instant> {
        let slot = match &mut self.source {
            Source::Own { times, upcoming } => {
                let slot = (*upcoming)?;
                *upcoming = times.next();
                slot
            }
            Source::Pooled(pool) => pool.borrow_mut().take()?,
        };
        self.request = slot.request;
        self.origin.checked_add(slot.at)
    }

    /// The send time [`Schedule::next`] would give now, without moving on.
    pub(super) fn peek(&self) -> Option<Instant> {
        let at = match &self.source {
            Source::Own { upcoming, .. } => upcoming.map(|s| s.at),
            Source::Pooled(pool) => pool.borrow().peek(),
        }?;
        self.origin.checked_add(at)
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

    #[test]
    fn connections_of_a_pool_take_the_earliest_slot_not_taken_whoever_is_free() {
        use std::cell::RefCell;
        use std::rc::Rc;

        use super::super::shape::{LoadShape, SendPlan, SendTimes, SlotPool};
        use super::super::TraceEntry;
        // A trace of five sends dealt to two connections: 0 gets 0, 2 and 4 ms, 1 gets 1 and 3.
        let trace = (0..5u32)
            .map(|i| TraceEntry {
                at: Duration::from_millis(u64::from(i)),
                request: i,
            })
            .collect();
        let shape = LoadShape {
            trace: Some(trace),
            ..LoadShape::default()
        };
        let plan = SendPlan::new(0.0, Duration::ZERO, &shape);
        let members = (0..2).map(|g| SendTimes::new(&plan, g, 2)).collect();
        let pool = Rc::new(RefCell::new(SlotPool::new(members)));
        let origin = Instant::now();
        let (mut a, mut b) = (
            Schedule::pooled(origin, Rc::clone(&pool)),
            Schedule::pooled(origin, Rc::clone(&pool)),
        );
        let ms = |at: Option<Instant>| at.map(|at| at.duration_since(origin).as_millis());
        // a takes 0 and 1 ms while b is busy; then b, free, takes 2 ms; both see 3 ms next.
        assert_eq!((ms(a.next()), a.request()), (Some(0), Some(0)));
        assert_eq!((ms(a.next()), a.request()), (Some(1), Some(1)));
        assert_eq!((ms(b.next()), b.request()), (Some(2), Some(2)));
        assert_eq!((ms(a.peek()), ms(b.peek())), (Some(3), Some(3)));
        assert_eq!(ms(b.next()), Some(3));
        assert_eq!(ms(a.next()), Some(4));
        assert_eq!(
            (a.next(), b.next(), a.peek()),
            (None, None, None),
            "every slot once"
        );
    }
}
