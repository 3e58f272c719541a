//! The one door to the C side of the `ffi` variant (`csrc/numaload_ffi.c`).
//!
//! [`call`] runs one C call on the calling thread: it blocks (`sleep`) or burns CPU (`spin`)
//! for the work asked. [`ThreadState`] is the C library's per-thread state: created by
//! `numaload_ffi_thread_init()` on the current thread, and torn down by
//! `numaload_ffi_thread_fini()` when dropped. It is neither `Send` nor `Sync`, so the compiler
//! guarantees the teardown runs on the thread that did the init. Every [`CallReport`] names the
//! thread the call ran on and the thread whose init created the state it used.

// The workspace denies unsafe code. This module is the exception because calling C is
// unsafe by definition; every block states why it is sound, and nothing unsafe leaks out:
// the functions below are safe to call from anywhere.
#![allow(unsafe_code)]

use std::ffi::c_int;
use std::marker::PhantomData;
use std::time::Duration;

use crate::config::WorkMode;

/// `struct numaload_ffi_call` of the C side.
#[repr(C)]
#[derive(Debug, Default)]
struct RawCall {
    tid: i64,
    state_tid: i64,
    state_calls: u64,
}

/// `struct numaload_ffi_stats` of the C side.
#[repr(C)]
#[derive(Debug, Default)]
struct RawStats {
    inits: u64,
    finis: u64,
    misuses: u64,
}

const MODE_SPIN: u32 = 0;
const MODE_SLEEP: u32 = 1;

extern "C" {
    fn numaload_ffi_thread_init() -> i64;
    fn numaload_ffi_thread_fini() -> i64;
    fn numaload_ffi_work(mode: u32, work_us: u64, out: *mut RawCall) -> c_int;
    fn numaload_ffi_stats(out: *mut RawStats);
}

/// What one C call reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallReport {
    /// The kernel thread id (`gettid`) of the thread that ran the call.
    pub tid: i64,
    /// The thread that initialised the C state the call used; `None` on a thread without
    /// state (every dispatch mode but `pinned-pool`).
    pub state_tid: Option<i64>,
    /// Calls made on that state so far, this one included (0 without state).
    pub state_calls: u64,
}

/// Process-wide counts of the C side's per-thread state lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ThreadStateStats {
    /// States initialised.
    pub inits: u64,
    /// States torn down.
    pub finis: u64,
    /// An init on a thread that already had state, or a fini on one that had none.
    pub misuses: u64,
}

/// Runs one C call on this thread: blocks or spins for `work`, per `mode`. Uses this thread's
/// [`ThreadState`] if it has one.
pub fn call(mode: WorkMode, work: Duration) -> CallReport {
    let mode = match mode {
        WorkMode::Spin => MODE_SPIN,
        WorkMode::Sleep => MODE_SLEEP,
    };
    let work_us = u64::try_from(work.as_micros()).unwrap_or(u64::MAX);
    let mut raw = RawCall::default();
    // SAFETY: `raw` is a live, properly aligned `#[repr(C)]` mirror of `struct
    // numaload_ffi_call` that the C function only writes; the C function keeps no pointer to
    // it, touches only its own thread-local state and atomics, and is thread-safe.
    let status = unsafe { numaload_ffi_work(mode, work_us, &mut raw) };
    // The C side rejects only an unknown mode, and the mode comes from the match above.
    debug_assert_eq!(status, 0, "numaload_ffi_work rejected mode {mode}");
    CallReport {
        tid: raw.tid,
        state_tid: (raw.state_tid != 0).then_some(raw.state_tid),
        state_calls: raw.state_calls,
    }
}

/// The C side's counts of thread-state inits and finis in this process.
pub fn thread_state_stats() -> ThreadStateStats {
    let mut raw = RawStats::default();
    // SAFETY: `raw` is a live `#[repr(C)]` mirror of `struct numaload_ffi_stats`, written and
    // not retained by the C function, which only loads atomics.
    unsafe { numaload_ffi_stats(&mut raw) };
    ThreadStateStats {
        inits: raw.inits,
        finis: raw.finis,
        misuses: raw.misuses,
    }
}

/// The C library's state for the current thread: initialised by [`ThreadState::init`], torn
/// down on drop, on the same thread (the type is neither `Send` nor `Sync`).
#[derive(Debug)]
pub struct ThreadState {
    init_tid: i64,
    /// Pins the value to the thread that created it.
    _not_send: PhantomData<*const ()>,
}

/// The current thread already has C state.
#[derive(Debug, thiserror::Error)]
#[error("this thread already has numaload_ffi state")]
pub struct AlreadyInitialised;

impl ThreadState {
    /// Initialises the C state of the current thread.
    pub fn init() -> Result<Self, AlreadyInitialised> {
        // SAFETY: takes no arguments and touches only this thread's `__thread` state and an
        // atomic counter.
        let init_tid = unsafe { numaload_ffi_thread_init() };
        if init_tid < 0 {
            return Err(AlreadyInitialised);
        }
        Ok(ThreadState {
            init_tid,
            _not_send: PhantomData,
        })
    }

    /// The thread id the C side recorded at init.
    pub fn init_tid(&self) -> i64 {
        self.init_tid
    }
}

impl Drop for ThreadState {
    fn drop(&mut self) {
        // SAFETY: as for init; `ThreadState` is !Send, so this runs on the thread whose state
        // `init` created, and only once (drop).
        let calls = unsafe { numaload_ffi_thread_fini() };
        debug_assert!(calls >= 0, "fini without state on the init thread");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn a_call_without_state_reports_its_thread() {
        let start = Instant::now();
        let report = call(WorkMode::Sleep, Duration::from_millis(2));
        assert!(start.elapsed() >= Duration::from_millis(2));
        assert_eq!(report.tid, i64::from(nix::unistd::gettid().as_raw()));
        assert_eq!((report.state_tid, report.state_calls), (None, 0));
    }

    #[test]
    fn state_lives_and_dies_on_its_thread() {
        std::thread::spawn(|| {
            let before = thread_state_stats();
            let state = ThreadState::init().expect("first init");
            let tid = i64::from(nix::unistd::gettid().as_raw());
            assert_eq!(state.init_tid(), tid);
            assert!(ThreadState::init().is_err(), "a second init is refused");
            for n in 1..=3 {
                let report = call(WorkMode::Spin, Duration::from_micros(10));
                assert_eq!(report.state_tid, Some(tid));
                assert_eq!(report.state_calls, n);
            }
            drop(state);
            assert_eq!(call(WorkMode::Spin, Duration::ZERO).state_tid, None);
            let after = thread_state_stats();
            // Other tests run in parallel threads: compare at least.
            assert!(after.inits > before.inits && after.finis > before.finis);
            assert!(after.misuses > before.misuses);
        })
        .join()
        .expect("thread");
    }
}
