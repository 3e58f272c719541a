//! The open loop's shape: what rate a run asks for when ([`Stage`]s after the warm-up, or one
//! constant rate), how the sends are spread over it ([`Arrivals`]: evenly or as a Poisson
//! process), or, instead of both, a recorded trace to replay ([`TraceEntry`]).
//!
//! A rate over time is a cumulative count Λ(t) = ∫₀ᵗ rate: linear in t over a step, quadratic
//! over a linear ramp ([`Profile`]). Every send time is Λ⁻¹ of a point on the count axis, so
//! the number of sends in any stretch of time is the count the plan asks for there:
//!
//! - **uniform**: connection *g* of *C* sends its *k*-th request at Λ⁻¹(g + k·C); together the
//!   connections send the run's *n*-th request at Λ⁻¹(n) (at a constant rate, n / rate: the
//!   metronome wrk2 keeps).
//! - **Poisson**: each connection's points on the count axis are cumulative sums of independent
//!   exponential gaps of mean *C*, so each connection is a Poisson process of rate 1/C on that
//!   axis and their superposition one of rate 1; through Λ⁻¹ it becomes a Poisson process of
//!   intensity rate(t) (the time-change theorem). Agents that share a rate each run their own
//!   share this way with their own random stream, so the sum over agents is a Poisson process
//!   at the plan's total rate. Each connection's gaps come from its own [`Rng`] stream, seeded
//!   by (seed, agent, connection): the same seed gives the same send times.
//! - **trace**: the run's *n*-th entry (in time order) goes to connection n mod C, at its offset.
//!
//! Uniform sends keep one schedule per connection (wrk2's): its gaps are C / rate, far above a
//! response's time. Random (Poisson) and recorded gaps are often shorter than that: a worker's
//! connections to one replica then put their slots in a pool ([`SlotPool`]) and each, when
//! free, takes the earliest slot not yet taken, so a send waits for a connection only when all
//! of them are busy (the server's queue, not the generator's). The slots are the same either
//! way; only which connection sends each changes.
//!
//! Per send this costs what the uniform schedule did — a division at a constant rate, a square
//! root on a ramp — plus, for Poisson, one random draw and a logarithm; a connection keeps its
//! place in the profile, so finding the segment is constant time.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use super::rng::Rng;

/// How the open loop spreads its sends over the rate the plan asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Arrivals {
    /// Evenly spaced: the run's *n*-th send at Λ⁻¹(n).
    #[default]
    Uniform,
    /// A Poisson process at the plan's rate, drawn from `seed`; `stream` tells the agents that
    /// share a run's rate apart (each draws its own numbers from the one seed).
    Poisson { seed: u64, stream: u64 },
}

/// One stage of an open-loop run: a linear ramp from `from` to `to` requests per second over
/// `duration` (a step when they are equal).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stage {
    pub from: f64,
    pub to: f64,
    pub duration: Duration,
}

/// One request of a recorded trace: when it is sent, from the load's start, and which request
/// of the run's templates (`LoadConfig::requests`, in order) it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceEntry {
    pub at: Duration,
    pub request: u32,
}

/// Open loop: what besides the mode's rate decides the send times. The default is a constant
/// rate, evenly spaced.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LoadShape {
    pub arrivals: Arrivals,
    /// After the warm-up, one after the other; their durations add up to the window's. Empty:
    /// the mode's rate throughout. The warm-up runs at the first stage's starting rate.
    pub stages: Vec<Stage>,
    /// Sorted by time: exactly these requests at these offsets from the load's start, instead
    /// of a rate, stages and arrivals.
    pub trace: Option<Arc<[TraceEntry]>>,
}

impl LoadShape {
    /// Where each stage ends, from the load's start (after a warm-up of `warmup`); empty
    /// without stages.
    pub fn stage_ends(&self, warmup: Duration) -> Vec<Duration> {
        self.stages
            .iter()
            .scan(warmup, |end, stage| {
                *end = end.saturating_add(stage.duration);
                Some(*end)
            })
            .collect()
    }

    /// The stage (numbered from 0) and the rate it asks for at `elapsed` from the load's start,
    /// after a warm-up of `warmup`; `None` without stages, during the warm-up and after the
    /// last stage.
    pub fn stage_at(&self, warmup: Duration, elapsed: Duration) -> Option<(usize, f64)> {
        let mut start = warmup;
        for (index, stage) in self.stages.iter().enumerate() {
            let end = start.saturating_add(stage.duration);
            if start <= elapsed && elapsed < end {
                let into = (elapsed - start).as_secs_f64() / stage.duration.as_secs_f64();
                return Some((index, stage.from + (stage.to - stage.from) * into));
            }
            start = end;
        }
        None
    }
}

/// A rate over time as pieces of constant or linearly changing rate, with the cumulative count
/// at the start of each: Λ and its inverse.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Profile {
    segments: Vec<Segment>,
}

/// One piece of a [`Profile`]: from `start` (seconds from the load's start) for `length`
/// seconds (infinite for the open end), the rate going linearly from `from` to `to`; `before`
/// is Λ(start).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Segment {
    start: f64,
    length: f64,
    from: f64,
    to: f64,
    before: f64,
}

impl Segment {
    /// Λ(start + τ) − Λ(start), for τ within the segment.
    #[cfg(test)]
    fn count_to(&self, tau: f64) -> f64 {
        if self.length.is_infinite() {
            return self.from * tau;
        }
        let slope = (self.to - self.from) / self.length;
        self.from * tau + slope * tau * tau / 2.0
    }

    /// The count of the whole segment (infinite for an open end at a rate above 0).
    fn count(&self) -> f64 {
        if self.length.is_infinite() {
            if self.from > 0.0 {
                f64::INFINITY
            } else {
                0.0
            }
        } else {
            (self.from + self.to) / 2.0 * self.length
        }
    }

    /// The τ at which the segment's count reaches `v` (0 ≤ v ≤ its count): the root of
    /// from·τ + slope·τ²/2 = v, written 2v / (from + √(from² + 2·slope·v)) so that it stays
    /// exact as the slope goes to 0 and when `from` is 0.
    fn offset_of(&self, v: f64) -> f64 {
        if v <= 0.0 {
            return 0.0;
        }
        if self.length.is_infinite() {
            return v / self.from;
        }
        let slope = (self.to - self.from) / self.length;
        let root = (self.from * self.from + 2.0 * slope * v).max(0.0).sqrt();
        let tau = 2.0 * v / (self.from + root);
        if tau.is_finite() {
            tau.clamp(0.0, self.length)
        } else {
            self.length
        }
    }
}

impl Profile {
    /// `rate` throughout, or with `stages` the warm-up at the first stage's starting rate, then
    /// each stage, then the last stage's final rate on past the window (the schedule of a
    /// connection reaching past the close, as a constant rate's does; nothing past it is sent).
    pub(super) fn new(rate: f64, warmup: Duration, stages: &[Stage]) -> Self {
        let mut segments = Vec::with_capacity(stages.len() + 2);
        let mut push = |length: f64, from: f64, to: f64| {
            let (start, before) = segments.last().map_or((0.0, 0.0), |s: &Segment| {
                (s.start + s.length, s.before + s.count())
            });
            segments.push(Segment {
                start,
                length,
                from,
                to,
                before,
            });
        };
        let Some(first) = stages.first() else {
            push(f64::INFINITY, rate, rate);
            return Self { segments };
        };
        if !warmup.is_zero() {
            push(warmup.as_secs_f64(), first.from, first.from);
        }
        for stage in stages {
            push(stage.duration.as_secs_f64(), stage.from, stage.to);
        }
        let last = stages.last().map_or(0.0, |s| s.to);
        push(f64::INFINITY, last, last);
        Self { segments }
    }

    /// Λ(t): the requests asked for from the load's start to `t` seconds after it (what the
    /// tests hold the send times to).
    #[cfg(test)]
    pub(super) fn cumulative(&self, t: f64) -> f64 {
        let index = self
            .segments
            .partition_point(|s| s.start <= t)
            .saturating_sub(1);
        let s = &self.segments[index];
        s.before + s.count_to((t - s.start).clamp(0.0, s.length))
    }

    /// Λ⁻¹(u): when, in seconds from the load's start, `u` requests have been asked for; where
    /// the rate stays 0 for a while (a pause, a ramp's start from 0), the end of that while, so
    /// that no send falls where nothing is asked. `None` when it never happens (the rate has
    /// fallen to 0 for good). `cursor` is the caller's place among the segments, for a caller
    /// whose `u` only grows.
    pub(super) fn time_of(&self, u: f64, cursor: &mut usize) -> Option<f64> {
        let mut index = (*cursor).min(self.segments.len() - 1);
        if u < self.segments[index].before {
            index = 0;
        }
        while index + 1 < self.segments.len() && u >= self.segments[index + 1].before {
            index += 1;
        }
        *cursor = index;
        let s = &self.segments[index];
        let v = u - s.before;
        // Only the open end can run out: at a rate of 0 it never reaches `u`.
        if v > s.count() {
            return None;
        }
        Some(s.start + s.offset_of(v))
    }
}

/// What decides a worker's open-loop send times, built once per worker and shared by its
/// connections.
#[derive(Debug, Clone)]
pub(super) enum SendPlan {
    /// A rate over time ([`Profile`]) and how sends are spread over it.
    Rate {
        profile: Rc<Profile>,
        arrivals: Arrivals,
    },
    Trace(Arc<[TraceEntry]>),
}

impl SendPlan {
    /// The plan of a constant `rate`, or of `shape`'s stages or trace.
    pub(super) fn new(rate: f64, warmup: Duration, shape: &LoadShape) -> Self {
        match &shape.trace {
            Some(trace) => Self::Trace(Arc::clone(trace)),
            None => Self::Rate {
                profile: Rc::new(Profile::new(rate, warmup, &shape.stages)),
                arrivals: shape.arrivals,
            },
        }
    }
}

/// One connection's send times (offsets from the load's start) and, replaying a trace, the
/// request of each.
#[derive(Debug, Clone)]
pub(super) struct SendTimes {
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    /// The connection's points on the count axis are `next`, `next + step`, ... (uniform).
    Even {
        profile: Rc<Profile>,
        cursor: usize,
        next: u64,
        step: u64,
    },
    /// Its points are cumulative sums of exponential gaps of mean `step` (Poisson).
    Random {
        profile: Rc<Profile>,
        cursor: usize,
        at: f64,
        step: f64,
        rng: Rng,
    },
    /// Entries `next`, `next + step`, ... of the trace.
    Trace {
        entries: Arc<[TraceEntry]>,
        next: usize,
        step: usize,
    },
}

/// One send: when, from the load's start, and which request (a trace's; `None`: the mix's).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Slot {
    pub(super) at: Duration,
    pub(super) request: Option<u32>,
}

impl SendTimes {
    /// The send times of connection `global` of `connections` under `plan`.
    pub(super) fn new(plan: &SendPlan, global: u32, connections: u32) -> Self {
        let kind = match plan {
            SendPlan::Rate {
                profile,
                arrivals: Arrivals::Uniform,
            } => Kind::Even {
                profile: Rc::clone(profile),
                cursor: 0,
                next: u64::from(global),
                step: u64::from(connections),
            },
            SendPlan::Rate {
                profile,
                arrivals: Arrivals::Poisson { seed, stream },
            } => Kind::Random {
                profile: Rc::clone(profile),
                cursor: 0,
                at: 0.0,
                step: f64::from(connections),
                rng: Rng::new(*seed, *stream, u64::from(global)),
            },
            SendPlan::Trace(entries) => Kind::Trace {
                entries: Arc::clone(entries),
                next: global as usize,
                step: connections as usize,
            },
        };
        Self { kind }
    }

    /// The next send; `None` once there is none (past a trace's end or a rate fallen to 0, or
    /// beyond what a `Duration` holds).
    pub(super) fn next(&mut self) -> Option<Slot> {
        let seconds = match &mut self.kind {
            Kind::Even {
                profile,
                cursor,
                next,
                step,
            } => {
                let u = *next as f64;
                *next = next.saturating_add(*step);
                profile.time_of(u, cursor)?
            }
            Kind::Random {
                profile,
                cursor,
                at,
                step,
                rng,
            } => {
                *at += *step * rng.exp1();
                profile.time_of(*at, cursor)?
            }
            Kind::Trace {
                entries,
                next,
                step,
            } => {
                let entry = entries.get(*next)?;
                *next = next.saturating_add(*step);
                return Some(Slot {
                    at: entry.at,
                    request: Some(entry.request),
                });
            }
        };
        Some(Slot {
            at: Duration::try_from_secs_f64(seconds).ok()?,
            request: None,
        })
    }
}

impl SendPlan {
    /// Whether a worker's connections to one replica take their sends from a pool they share
    /// ([`SlotPool`]) rather than each keeping its own: with random gaps (Poisson) or a trace's
    /// (uneven) ones, a connection's next send would often fall due while its previous request
    /// is still out; from a pool it goes to whichever connection is free first. Evenly spaced
    /// sends keep one schedule per connection (wrk2's), whose gaps are the connections over the
    /// rate.
    pub(super) fn pooled(&self) -> bool {
        match self {
            SendPlan::Rate { arrivals, .. } => *arrivals != Arrivals::Uniform,
            SendPlan::Trace(_) => true,
        }
    }
}

/// The send slots of a group of connections (a worker's connections to one replica), merged in
/// time order: each connection takes the earliest slot no one has taken yet when it is free to
/// send (after its previous outcome), so a slot waits for a connection only when every one of
/// the group is busy. The slots are the members' own streams (the same instants, from the same
/// seeds, however the connections are grouped); only who sends which changes.
#[derive(Debug)]
pub(super) struct SlotPool {
    members: Vec<SendTimes>,
    /// Each member's next slot not yet taken: (when, member, request), earliest first.
    heads: BinaryHeap<Reverse<(Duration, usize, Option<u32>)>>,
}

impl SlotPool {
    pub(super) fn new(mut members: Vec<SendTimes>) -> Self {
        let heads = members
            .iter_mut()
            .enumerate()
            .filter_map(|(index, times)| times.next().map(|s| Reverse((s.at, index, s.request))))
            .collect();
        Self { members, heads }
    }

    /// The earliest slot not yet taken, now taken; `None` once there is none.
    pub(super) fn take(&mut self) -> Option<Slot> {
        let Reverse((at, member, request)) = self.heads.pop()?;
        if let Some(next) = self.members[member].next() {
            self.heads.push(Reverse((next.at, member, next.request)));
        }
        Some(Slot { at, request })
    }

    /// When the earliest slot not yet taken falls due.
    pub(super) fn peek(&self) -> Option<Duration> {
        self.heads.peek().map(|Reverse((at, ..))| *at)
    }
}

/// How many sends of `connections` connections under `plan` fall in `[from, to)` from the
/// load's start: every slot walked, so for checks and tools, not for a run.
pub(super) fn sends_between(
    plan: &SendPlan,
    connections: u32,
    from: Duration,
    to: Duration,
) -> u64 {
    (0..connections)
        .map(|global| {
            let mut times = SendTimes::new(plan, global, connections);
            std::iter::from_fn(|| times.next())
                .take_while(|slot| slot.at < to)
                .filter(|slot| slot.at >= from)
                .count() as u64
        })
        .sum()
}

#[cfg(test)]
mod tests;
