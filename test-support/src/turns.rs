//! Taking turns inside a crate's one test binary (the lock is a static of this crate, so each
//! test binary has its own). Tests that measure (rates, ratios, scheduler figures) or touch the
//! whole process (a signal to it, process-wide counters) take [`alone`]; tests that load the
//! machine take [`beside_others`], so none of them runs while an `alone` test does. Light tests
//! (parsing, fixtures) take neither. The controller's `tests/it/turn_taking.rs` checks that in
//! every module whose tests take turns, each test takes one or is named as light.

use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

static TURNS: RwLock<()> = RwLock::new(());

/// Held for the whole test: no other test that loads the machine runs meanwhile.
pub fn alone() -> RwLockWriteGuard<'static, ()> {
    TURNS.write().unwrap_or_else(PoisonError::into_inner)
}

/// Held for the whole test: runs beside other such tests, never beside an [`alone`] one.
pub fn beside_others() -> RwLockReadGuard<'static, ()> {
    TURNS.read().unwrap_or_else(PoisonError::into_inner)
}
