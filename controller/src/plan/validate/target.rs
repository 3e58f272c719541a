//! `[target]` and a layout's own `target = { ... }` → [`Target`]: the name well formed, the work
//! in range, the async target never blocking, `limit` and `pool_threads` only with the dispatch
//! that uses them. A layout's target overrides only the keys it names; a layout that changes the
//! dispatch starts from that dispatch's own knobs.

use super::super::knobs;
use super::super::problem::{KeyPath, Problem};
use super::super::raw::RawTarget;
use super::super::target::{Dispatch, Target, WorkMode};

const MAX_WORK_US: u64 = 1_000_000;
pub(super) const TARGET_NAME: &str = "must be lowercase letters, digits and '-', e.g. \"async\"";
pub(super) const WORK_US: &str = "must be a whole number of microseconds from 0 to 1000000";
pub(super) const WORK_MODE: &str = "must be \"spin\" (burn CPU) or \"sleep\" (block; ffi only)";
pub(super) const DISPATCH: &str =
    "must be \"spawn-blocking\", \"bounded\", \"inline\" or \"pinned-pool\"";
pub(super) const LIMIT: &str =
    "must be a positive number of concurrent C calls, with dispatch = \"bounded\"";
pub(super) const POOL_THREADS: &str =
    "must be a positive number of pool threads, with dispatch = \"pinned-pool\"";

/// The plan's `[target]`.
pub(super) fn target(raw: Option<RawTarget>, at: &KeyPath) -> Result<Target, Problem> {
    let raw = raw.ok_or_else(|| {
        let fix = "add a [target] table naming what each replica runs, e.g. name = \"async\"";
        Problem::missing(at.clone(), fix)
    })?;
    if raw.name.is_none() {
        let fix = "name a target the agent knows, e.g. name = \"async\"";
        return Err(Problem::missing(at.key("name"), fix));
    }
    resolve(raw, None, at)
}

/// A layout's `target = { ... }`: the plan's target with the keys it names replaced.
pub(super) fn layout_target(
    raw: RawTarget,
    base: &Target,
    at: &KeyPath,
) -> Result<Target, Problem> {
    resolve(raw, Some(base), at)
}

fn resolve(raw: RawTarget, base: Option<&Target>, at: &KeyPath) -> Result<Target, Problem> {
    let name = match (raw.name, base) {
        (Some(name), _) => name,
        (None, Some(base)) => base.name.clone(),
        (None, None) => String::new(),
    };
    let well_formed = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !well_formed {
        return Err(Problem::value(
            at.key("name"),
            format!("{name:?}"),
            TARGET_NAME,
        ));
    }
    let work_us = raw.work_us.or(base.map(|b| b.work_us)).unwrap_or(0);
    if work_us > MAX_WORK_US {
        return Err(Problem::value(at.key("work_us"), work_us, WORK_US));
    }
    let work_mode = raw
        .work_mode
        .or(base.map(|b| b.work_mode))
        .unwrap_or_default();
    // A layout that changes the dispatch starts from that dispatch's own knobs.
    let (dispatch, limit, pool_threads) = match (raw.dispatch, base) {
        (Some(d), _) => (Some(d), raw.limit, raw.pool_threads),
        (None, Some(b)) => (
            b.dispatch,
            raw.limit.or(b.limit),
            raw.pool_threads.or(b.pool_threads),
        ),
        (None, None) => (None, raw.limit, raw.pool_threads),
    };
    if name == "async" && (work_mode == WorkMode::Sleep || dispatch.is_some()) {
        let (key, value) = if work_mode == WorkMode::Sleep {
            ("work_mode", "\"sleep\"")
        } else {
            ("dispatch", "set")
        };
        let fix = "the async target never blocks and has no C call to dispatch; \
                   use name = \"ffi\"";
        return Err(Problem::value(at.key(key), value, fix));
    }
    match (dispatch, limit) {
        (Some(Dispatch::Bounded), None) => {
            return Err(Problem::missing(at.key("limit"), LIMIT));
        }
        (Some(Dispatch::Bounded), Some(0)) => {
            return Err(Problem::value(at.key("limit"), 0, LIMIT))
        }
        (Some(Dispatch::Bounded), Some(_)) | (_, None) => {}
        (_, Some(n)) => return Err(Problem::value(at.key("limit"), n, LIMIT)),
    }
    match (dispatch, pool_threads) {
        (Some(Dispatch::PinnedPool), Some(0)) => {
            return Err(Problem::value(at.key("pool_threads"), 0, POOL_THREADS))
        }
        (Some(Dispatch::PinnedPool), _) | (_, None) => {}
        (_, Some(n)) => return Err(Problem::value(at.key("pool_threads"), n, POOL_THREADS)),
    }
    let mut knobs = base.map(|b| b.knobs.clone()).unwrap_or_default();
    if let Some(table) = &raw.knobs {
        knobs.extend(knobs::knobs(table, &at.key("knobs"))?);
    }
    Ok(Target {
        name,
        work_us,
        work_mode,
        dispatch,
        limit,
        pool_threads,
        knobs,
    })
}
