//! Small, fast, deterministic random numbers for the generator: [`splitmix64`] to spread a
//! small number (a connection's, a seed's) over 64 bits, and [`Rng`], xoshiro256++ seeded from
//! it, for the exponential gaps of Poisson arrivals ([`Rng::exp1`]). No allocation, no system
//! call, a few nanoseconds a draw; the same seed always gives the same numbers.

/// 2^64 / φ: the step whose multiples spread most evenly around the circle (SplitMix64's, and
/// the request mix's Weyl sequence's).
pub(super) const GOLDEN_STEP: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's output function: a well-mixed 64-bit value from any one (a bijection).
pub(super) fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(GOLDEN_STEP);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// xoshiro256++ (Blackman and Vigna): 256 bits of state, period 2^256 − 1, passes BigCrush.
#[derive(Debug, Clone)]
pub(super) struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// The stream of `(seed, stream, member)`: every agent of a run (`stream`) and every
    /// connection of it (`member`) draws its own numbers from the one seed.
    pub(super) fn new(seed: u64, stream: u64, member: u64) -> Self {
        let mut x = splitmix64(splitmix64(splitmix64(seed) ^ stream) ^ member);
        let mut s = [0; 4];
        for word in &mut s {
            x = x.wrapping_add(GOLDEN_STEP);
            *word = splitmix64(x);
        }
        // The all-zero state is the one xoshiro cannot leave; splitmix64 of four successive
        // values is never all zero, but say so rather than rely on it silently.
        if s == [0; 4] {
            s[0] = GOLDEN_STEP;
        }
        Self { s }
    }

    pub(super) fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let out = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        out
    }

    /// Uniform on (0, 1]: 53 random bits, never 0 (so its logarithm is finite).
    pub(super) fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// An exponential draw of mean 1 (inversion: −ln U).
    pub(super) fn exp1(&mut self) -> f64 {
        -self.unit().ln()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_numbers_and_streams_differ() {
        let draw = |seed, stream, member| {
            let mut rng = Rng::new(seed, stream, member);
            (0..8).map(|_| rng.next_u64()).collect::<Vec<_>>()
        };
        assert_eq!(draw(7, 0, 3), draw(7, 0, 3));
        assert_ne!(draw(7, 0, 3), draw(8, 0, 3), "another seed");
        assert_ne!(draw(7, 0, 3), draw(7, 1, 3), "another agent");
        assert_ne!(draw(7, 0, 3), draw(7, 0, 4), "another connection");
    }

    #[test]
    fn unit_draws_stay_in_the_half_open_interval_and_exponentials_have_mean_one() {
        let mut rng = Rng::new(1, 2, 3);
        let n = 200_000;
        let mut sum = 0.0;
        for _ in 0..n {
            let u = rng.unit();
            assert!(u > 0.0 && u <= 1.0, "{u}");
            sum += rng.exp1();
        }
        // The mean of n Exp(1) draws has standard deviation 1/√n ≈ 0.0022.
        let mean = sum / f64::from(n);
        assert!((mean - 1.0).abs() < 0.01, "mean {mean}");
    }
}
