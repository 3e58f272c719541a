//! `load.arrivals`, `seed`, `[[load.stages]]`, `trace` and `speed` checked: what they mean
//! alone, and which of them (and of `rate`, `duration`, `[[load.requests]] weight`) contradict
//! each other. Each contradiction is refused naming the key to remove, never settled silently.

use std::time::Duration;

use super::super::problem::{quoted, KeyPath, Problem};
use super::super::raw::{RawLoad, RawLoadMode, RawStage};
use super::super::shape::{Arrivals, Stage, Trace};
use super::values::{duration, number, MAX_DURATION};

pub(in crate::plan) const ARRIVALS: &str =
    "must be \"uniform\" (evenly spaced) or \"poisson\" (exponential gaps)";
pub(in crate::plan) const SEED: &str =
    "must be a whole number from 0 to 9223372036854775807 (arrivals = \"poisson\" only)";
pub(in crate::plan) const STAGES: &str =
    "must be one or more [[load.stages]] tables (double brackets), each rate or from and to, \
     and duration";
pub(in crate::plan) const STAGE_RATE: &str = "must be a number of requests per second, 0 or more";
pub(in crate::plan) const TRACE: &str =
    "must be the path of a trace file (offset in seconds and request name per line), \
     relative to the plan file";
pub(in crate::plan) const SPEED: &str =
    "must be a positive number: offsets are divided by it (2 replays twice as fast)";

/// The shape keys of `[load]`, checked.
#[derive(Debug, Default)]
pub(super) struct Shape {
    pub(super) arrivals: Arrivals,
    pub(super) seed: Option<u64>,
    pub(super) stages: Vec<Stage>,
    pub(super) trace: Option<Trace>,
}

impl Shape {
    /// Whether the rate comes from the stages or the trace rather than `rate`.
    pub(super) fn sets_the_rate(&self) -> bool {
        !self.stages.is_empty() || self.trace.is_some()
    }
}

/// Takes the shape keys out of `raw` and checks them (the mode's own keys are checked by the
/// caller, which asks [`Shape::sets_the_rate`]).
pub(super) fn shape(raw: &mut RawLoad, at: &KeyPath) -> Result<Shape, Problem> {
    let arrivals = raw.arrivals.take();
    let seed = raw.seed.take();
    let stages = raw.stages.take();
    let trace = raw.trace.take();
    let speed = raw.speed.take();
    if raw.mode == Some(RawLoadMode::Closed) {
        let given = [
            ("arrivals", arrivals.is_some()),
            ("seed", seed.is_some()),
            ("stages", stages.is_some()),
            ("trace", trace.is_some()),
            ("speed", speed.is_some()),
        ];
        if let Some((key, _)) = given.iter().find(|(_, given)| *given) {
            let fix = format!(
                "used with mode = \"open\" only (closed loop sends each request when the previous \
                 response arrives); remove {key} or use mode = \"open\""
            );
            return Err(Problem::about(at.key(key), &fix));
        }
    }
    let arrivals = arrivals.unwrap_or_default();
    let seed = match seed {
        None => None,
        Some(_) if arrivals != Arrivals::Poisson => {
            let fix = "only with arrivals = \"poisson\" (evenly spaced sends draw nothing); \
                       remove seed or add arrivals = \"poisson\"";
            return Err(Problem::about(at.key("seed"), fix));
        }
        Some(seed) => {
            Some(u64::try_from(seed).map_err(|_| Problem::value(at.key("seed"), seed, SEED))?)
        }
    };
    let stages = match stages {
        None => Vec::new(),
        Some(raw) => self::stages(raw, &at.key("stages"))?,
    };
    let trace = match trace {
        None => {
            if let Some(speed) = speed {
                let fix = "only with trace (it scales a trace's offsets); remove speed";
                return Err(Problem::value(at.key("speed"), number(speed), fix));
            }
            None
        }
        Some(file) => Some(self::trace(file, speed, &stages, arrivals, raw, at)?),
    };
    Ok(Shape {
        arrivals,
        seed,
        stages,
        trace,
    })
}

/// A trace replaces the rate, the stages and the arrivals: each request goes when and as the
/// trace says (and `[[load.requests]]` weights, which draw a request, have nothing to do).
fn trace(
    file: String,
    speed: Option<f64>,
    stages: &[Stage],
    arrivals: Arrivals,
    raw: &RawLoad,
    at: &KeyPath,
) -> Result<Trace, Problem> {
    let key = at.key("trace");
    if file.trim().is_empty() {
        return Err(Problem::value(key, quoted(&file), TRACE));
    }
    let replaced = "the trace says when each request goes";
    if !stages.is_empty() {
        let fix = format!("not with trace ({replaced}); remove load.stages or load.trace");
        return Err(Problem::about(at.key("stages"), &fix));
    }
    if arrivals == Arrivals::Poisson {
        let fix = format!("not with trace ({replaced}); remove arrivals or the trace");
        return Err(Problem::about(at.key("arrivals"), &fix));
    }
    let weighted = raw
        .requests
        .iter()
        .flatten()
        .position(|r| r.weight.is_some());
    if let Some(index) = weighted {
        let fix = "not with load.trace (the trace names each request it sends); remove weight";
        let request = at.key("requests").item(index, None);
        return Err(Problem::about(request.key("weight"), fix));
    }
    let speed = speed.unwrap_or(1.0);
    if !(speed.is_finite() && speed > 0.0) {
        return Err(Problem::value(at.key("speed"), number(speed), SPEED));
    }
    Ok(Trace {
        file,
        speed,
        entries: 0,
        digest: String::new(),
        sends: None,
    })
}

/// `[[load.stages]]`: each a step (`rate`) or a ramp (`from`, `to`), with a `duration`; at least
/// one asks for requests; together at most an hour.
fn stages(raw: Vec<RawStage>, at: &KeyPath) -> Result<Vec<Stage>, Problem> {
    if raw.is_empty() {
        return Err(Problem::about(at.clone(), STAGES));
    }
    let mut stages = Vec::with_capacity(raw.len());
    for (index, stage) in raw.into_iter().enumerate() {
        let at = at.item(index, None);
        let rate = |key: &str, value: f64| {
            if value.is_finite() && value >= 0.0 {
                Ok(value)
            } else {
                Err(Problem::value(at.key(key), number(value), STAGE_RATE))
            }
        };
        let (from, to) = match (stage.rate, stage.from, stage.to) {
            (Some(r), None, None) => (rate("rate", r)?, rate("rate", r)?),
            (None, Some(from), Some(to)) => (rate("from", from)?, rate("to", to)?),
            (Some(_), _, _) => {
                let fix = "a stage is a step (rate) or a ramp (from and to), not both; \
                           remove rate or from and to";
                return Err(Problem::about(at.key("rate"), fix));
            }
            (None, None, None) => {
                let fix = "give rate = N (a step) or from = A and to = B (a linear ramp)";
                return Err(Problem::missing(at.key("rate"), fix));
            }
            (None, Some(_), None) => {
                let fix = "a ramp goes from one rate to another: add to = N";
                return Err(Problem::missing(at.key("to"), fix));
            }
            (None, None, Some(_)) => {
                let fix = "a ramp goes from one rate to another: add from = N";
                return Err(Problem::missing(at.key("from"), fix));
            }
        };
        let text = stage.duration.ok_or_else(|| {
            Problem::missing(
                at.key("duration"),
                "add how long it lasts, e.g. duration = \"10s\"",
            )
        })?;
        let length = duration(&text, at.key("duration"), "\"10s\"")?;
        if length.is_zero() {
            let fix = "must be longer than zero, e.g. \"10s\"";
            return Err(Problem::value(at.key("duration"), quoted(&text), fix));
        }
        stages.push(Stage {
            from,
            to,
            duration: length,
        });
    }
    if stages.iter().all(|s| s.requests() <= 0.0) {
        let fix = "every stage asks for 0 requests per second; give one a rate above 0";
        return Err(Problem::about(at.clone(), fix));
    }
    let total = stages
        .iter()
        .fold(Duration::ZERO, |sum, s| sum.saturating_add(s.duration));
    if total > MAX_DURATION {
        let fix = format!(
            "last {} in all: the measured window is at most 1h",
            humantime::format_duration(total)
        );
        return Err(Problem::about(at.clone(), &fix));
    }
    Ok(stages)
}
