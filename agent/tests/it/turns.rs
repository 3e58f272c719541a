//! Taking turns inside the one test binary. Tests that measure (rates, ratios, scheduler
//! figures) or touch the whole process (a signal to it, process-wide counters) ran alone in a
//! test binary of their own before the crate's tests became one; [`alone`] keeps that, and the
//! tests that load the machine take [`beside_others`], so none of them runs while an `alone`
//! test does. Light tests (parsing, fixtures) take neither.

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
