//! The CPU work a request costs: a spin the optimiser cannot remove.

use std::hint::black_box;
use std::time::{Duration, Instant};

/// Burns CPU on the calling thread for at least `duration` and returns a value derived from the
/// work (pass it to `black_box` or ignore it; the loop is kept either way).
///
/// It checks the clock every few dozen multiplications, so it overshoots by well under a
/// microsecond. It never sleeps or yields: the async variant measures a handler that holds its
/// worker for exactly this long.
pub fn spin_for(duration: Duration) -> u64 {
    if duration.is_zero() {
        return 0;
    }
    let start = Instant::now();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_is_free() {
        assert_eq!(spin_for(Duration::ZERO), 0);
    }

    #[test]
    fn lasts_at_least_the_duration() {
        let start = Instant::now();
        spin_for(Duration::from_millis(3));
        assert!(start.elapsed() >= Duration::from_millis(3));
    }
}
