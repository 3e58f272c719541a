//! The CPU work a request costs: a spin the optimiser cannot remove.

use std::hint::black_box;
use std::time::{Duration, Instant};

use nix::time::{clock_gettime, ClockId};

/// Burns `duration` of CPU on the calling thread and returns a value derived from the work
/// (pass it to `black_box` or ignore it; the loop is kept either way).
///
/// The work is counted in the thread's own CPU time, as a real computation's would be: a thread
/// the kernel takes off its CPU part-way (other threads on that CPU, a busy host) spins on when
/// it is back until it has had the whole `duration`, so it holds its worker longer than
/// `duration` in wall time but never costs less CPU. It spins on the monotonic clock (cheap to
/// read) for what it still owes, then reads its CPU time once to learn what it really got, so
/// it overshoots by well under a microsecond. It never sleeps or yields.
pub fn spin_for(duration: Duration) -> u64 {
    if duration.is_zero() {
        return 0;
    }
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let Some(cpu_start) = thread_cpu_time() else {
        // No per-thread CPU clock: the monotonic clock alone.
        return spin_wall(duration, state);
    };
    let mut owed = duration;
    loop {
        state = spin_wall(owed, state);
        let Some(used) = thread_cpu_time().map(|now| now.saturating_sub(cpu_start)) else {
            return state;
        };
        match duration.checked_sub(used) {
            Some(rest) if !rest.is_zero() => owed = rest,
            _ => return state,
        }
    }
}

/// Spins for `duration` by the monotonic clock, carrying `state` on.
fn spin_wall(duration: Duration, mut state: u64) -> u64 {
    let start = Instant::now();
    loop {
        for _ in 0..32 {
            // A 64-bit LCG step; black_box keeps the chain from being folded away.
            state = black_box(
                state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407),
            );
        }
        if start.elapsed() >= duration {
            return state;
        }
    }
}

/// The CPU time the calling thread has used, if the kernel gives one.
fn thread_cpu_time() -> Option<Duration> {
    clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID)
        .ok()
        .map(Duration::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sched::{sched_getaffinity, sched_setaffinity, CpuSet};
    use nix::unistd::Pid;

    #[test]
    fn zero_is_free() {
        assert_eq!(spin_for(Duration::ZERO), 0);
    }

    #[test]
    fn lasts_at_least_the_duration_in_wall_time_and_in_cpu_time() {
        let (start, cpu) = (Instant::now(), thread_cpu_time().expect("thread CPU clock"));
        spin_for(Duration::from_millis(3));
        assert!(start.elapsed() >= Duration::from_millis(3));
        let used = thread_cpu_time().expect("thread CPU clock") - cpu;
        assert!(used >= Duration::from_millis(3), "used {used:?} of CPU");
    }

    /// Two threads pinned to one CPU, each spinning 20 ms: the kernel shares the CPU between
    /// them, yet each still gets its whole 20 ms of CPU (so the pair takes at least 40 ms).
    #[test]
    fn a_thread_sharing_its_cpu_still_gets_its_whole_duration_of_cpu() {
        let allowed = sched_getaffinity(Pid::from_raw(0)).expect("sched_getaffinity");
        let cpu = (0..CpuSet::count())
            .find(|&c| allowed.is_set(c).unwrap_or(false))
            .expect("an allowed CPU");
        let start = Instant::now();
        let threads: Vec<_> = (0..2)
            .map(|_| {
                std::thread::spawn(move || {
                    let mut set = CpuSet::new();
                    set.set(cpu).expect("cpu in range");
                    sched_setaffinity(Pid::from_raw(0), &set).expect("pin");
                    let before = thread_cpu_time().expect("thread CPU clock");
                    spin_for(Duration::from_millis(20));
                    thread_cpu_time().expect("thread CPU clock") - before
                })
            })
            .collect();
        for thread in threads {
            let used = thread.join().expect("thread");
            assert!(used >= Duration::from_millis(20), "used {used:?} of CPU");
        }
        assert!(start.elapsed() >= Duration::from_millis(40));
    }
}
