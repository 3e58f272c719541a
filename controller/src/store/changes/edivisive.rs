//! E-Divisive means over one series of values, windowed as Hunter and Apache Otava do it, with a
//! seeded permutation test for significance. Pure: values in, change points out; the same
//! values and settings always give the same answer.
//!
//! # The statistic
//!
//! For a segment starting at `s`, a split at `τ` and an end `κ`, the left side is
//! `x[s..τ]` (m values) and the right side `x[τ..κ]` (n values). With `A` the mean absolute
//! difference between a left and a right value, `B` and `C` the mean absolute difference
//! within each side, the divergence is `Q̂ = m·n/(m+n) · (2A − B − C)` (Matteson and James's
//! energy statistic with exponent 1). It grows with any difference of distribution between the
//! sides: a step of the mean, a change of spread. A candidate change point is the `τ` of the
//! largest `Q̂` over the segment, `κ` its end, each side holding at least
//! [`Settings::min_size`] values. (Matteson and James also let `κ` stop short of the end; the
//! largest `Q̂` over every `τ` and `κ` is then often a pair of outliers side by side, which hides
//! a change of spread. Here the windows and, when merging, the neighbouring change points bound
//! the segment instead.)
//!
//! # Significance
//!
//! A permutation test of that largest `Q̂`: the segment's values are shuffled (a seeded
//! generator), the largest `Q̂` found again, and the p-value is `(1 + b) / (1 + R)`, `b` the
//! shuffles that reach the observed one out of `R`. It asks no distribution of the values
//! (latency percentiles are skewed), and it accounts for the split having been chosen as the
//! best of many: a t-test of the chosen split, as Hunter uses, treats it as fixed and finds
//! changes in pure noise more often than its level says. `R` is `max(199, 20/level − 1)`; a
//! test stops early once more shuffles reached the observed value than a significant p-value
//! allows (the decision is the same, and noise costs a few dozen shuffles, not `R`).
//!
//! # Windows, weak change points, merge
//!
//! As in Hunter: the series is cut into windows of [`Settings::window`] values, each starting
//! half a window after the last (or at the last change point found). In each window the
//! E-Divisive recursion runs: the best candidate over the window's segments is tested,
//! shuffling within each segment, and splits the window when significant. A window's first
//! split must be significant at the level divided by the number of windows (so that pure
//! noise shows a change no more often than the level says, however long the history); the
//! splits after it, at a weak level (10 × the level, at most 0.5). The union of these weak
//! change points is then merged: each is tested on the values between its neighbours (at most a
//! window on either side), its `Q̂` with the split fixed at the point against the largest `Q̂`
//! over that stretch shuffled; the weakest with a p-value above the level is dropped and its
//! neighbours tested again, until every one left is significant at the level.

/// How the detector runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// The significance level a change point must reach (`--significance`).
    pub level: f64,
    /// Values per window (`--window`).
    pub window: usize,
    /// The fewest values on either side of a change point.
    pub min_size: usize,
    /// The permutations' seed.
    pub seed: u64,
}

/// `--significance` when not given.
pub const DEFAULT_LEVEL: f64 = 0.01;
/// `--window` when not given.
pub const DEFAULT_WINDOW: usize = 50;

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            level: DEFAULT_LEVEL,
            window: DEFAULT_WINDOW,
            min_size: 4,
            seed: 0x6e75_6d61_6c6f_6164,
        }
    }
}

impl Settings {
    /// The permutations a test draws at `level`.
    pub fn permutations(level: f64) -> usize {
        let wanted = (20.0 / level.max(1e-6)).ceil() as usize;
        wanted.saturating_sub(1).clamp(199, 99_999)
    }
}

/// One change point of a series.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// The first value after the change.
    pub index: usize,
    /// The permutation test's p-value, on the values between its neighbours.
    pub p_value: f64,
    /// The values the step is measured on: from the previous change point (or the start) to
    /// this one, and from this one to the next (or the end).
    pub before: std::ops::Range<usize>,
    pub after: std::ops::Range<usize>,
    pub mean_before: f64,
    pub mean_after: f64,
}

impl Split {
    /// `mean_after − mean_before`.
    pub fn step(&self) -> f64 {
        self.mean_after - self.mean_before
    }

    /// The step relative to the mean before, when that is not zero.
    pub fn relative_step(&self) -> Option<f64> {
        (self.mean_before != 0.0).then(|| self.step() / self.mean_before.abs())
    }
}

/// The change points of `values`, in order (see the module doc). Values that are not finite
/// are the caller's to leave out.
pub fn change_points(values: &[f64], settings: &Settings) -> Vec<Split> {
    let min = settings.min_size.max(1);
    let window = settings.window.max(2 * min + 1);
    if values.len() < 2 * min {
        return Vec::new();
    }
    // At most this many windows share the level of their first split.
    let windows = 1 + values.len().saturating_sub(window).div_ceil(window / 2);
    let levels = Levels {
        first: settings.level / windows as f64,
        weak: (settings.level * 10.0).min(0.5).max(settings.level),
    };
    let mut weak: Vec<usize> = Vec::new();
    let mut start = 0;
    loop {
        let end = (start + window).min(values.len());
        let found = divide(values, start..end, levels, min, settings.seed);
        let step_to = found.last().copied().unwrap_or(0).max(start + window / 2);
        weak.extend(found);
        if end == values.len() {
            break;
        }
        start = step_to;
    }
    weak.sort_unstable();
    weak.dedup();
    merge(values, weak, settings, min, window)
}

/// The levels of the split step: the first split of a window, and the splits after it.
#[derive(Debug, Clone, Copy)]
struct Levels {
    first: f64,
    weak: f64,
}

/// The E-Divisive recursion inside one window: its weak change points.
fn divide(
    values: &[f64],
    window: std::ops::Range<usize>,
    levels: Levels,
    min: usize,
    seed: u64,
) -> Vec<usize> {
    let mut points: Vec<usize> = Vec::new();
    loop {
        let level = if points.is_empty() {
            levels.first
        } else {
            levels.weak
        };
        let mut bounds = vec![window.start];
        bounds.extend(points.iter().copied());
        bounds.push(window.end);
        let segments: Vec<&[f64]> = bounds.windows(2).map(|b| &values[b[0]..b[1]]).collect();
        let Some((segment, tau, observed)) = segments
            .iter()
            .enumerate()
            .filter_map(|(i, s)| best_split(s, min).map(|(tau, q)| (i, tau, q)))
            .max_by(|a, b| a.2.total_cmp(&b.2))
        else {
            return points;
        };
        let mut rng = Rng::new(seed ^ mix(window.start as u64, bounds.len() as u64));
        let mut scratch: Vec<Vec<f64>> = segments.iter().map(|s| s.to_vec()).collect();
        let p = permutation_p(observed, level, &mut rng, |rng| {
            let mut best = f64::NEG_INFINITY;
            for s in &mut scratch {
                rng.shuffle(s);
                if let Some((_, q)) = best_split(s, min) {
                    best = best.max(q);
                }
            }
            best
        });
        if p > level {
            return points;
        }
        points.push(bounds[segment] + tau);
        points.sort_unstable();
    }
}

/// The merge step: drops the weakest change point while one is not significant at the level.
fn merge(
    values: &[f64],
    mut points: Vec<usize>,
    settings: &Settings,
    min: usize,
    window: usize,
) -> Vec<Split> {
    let test = |points: &[usize], i: usize| -> f64 {
        let prev = if i == 0 { 0 } else { points[i - 1] };
        let next = points.get(i + 1).copied().unwrap_or(values.len());
        let at = points[i];
        let (lo, hi) = (prev.max(at.saturating_sub(window)), next.min(at + window));
        let stretch = &values[lo..hi];
        let Some(observed) = split_at(stretch, at - lo, min) else {
            return 1.0;
        };
        let mut rng = Rng::new(settings.seed ^ mix(lo as u64, hi as u64));
        let mut scratch = stretch.to_vec();
        permutation_p(observed, settings.level, &mut rng, |rng| {
            rng.shuffle(&mut scratch);
            best_split(&scratch, min).map_or(f64::NEG_INFINITY, |(_, q)| q)
        })
    };
    let mut p: Vec<f64> = (0..points.len()).map(|i| test(&points, i)).collect();
    while let Some((weakest, &worst)) = p.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)) {
        if worst <= settings.level {
            break;
        }
        points.remove(weakest);
        p.remove(weakest);
        for i in [weakest.wrapping_sub(1), weakest] {
            if i < points.len() {
                p[i] = test(&points, i);
            }
        }
    }
    let mean = |r: &std::ops::Range<usize>| crate::stats::mean(&values[r.clone()]);
    (0..points.len())
        .map(|i| {
            let before = if i == 0 { 0 } else { points[i - 1] }..points[i];
            let after = points[i]..points.get(i + 1).copied().unwrap_or(values.len());
            Split {
                index: points[i],
                p_value: p[i],
                mean_before: mean(&before),
                mean_after: mean(&after),
                before,
                after,
            }
        })
        .collect()
}

/// The p-value of `observed` against `draw` (the statistic of one shuffle), stopping once
/// more shuffles reached it than a p-value at `level` allows.
fn permutation_p(
    observed: f64,
    level: f64,
    rng: &mut Rng,
    mut draw: impl FnMut(&mut Rng) -> f64,
) -> f64 {
    let r = Settings::permutations(level);
    // Significant when (1 + reached) / (1 + r) ≤ level.
    let allowed = (level * (r + 1) as f64 - 1.0).floor().max(0.0) as usize;
    let mut reached = 0;
    // A shuffle reaches the observed value when within rounding of it (ties count).
    let tolerance = observed.abs() * 1e-12;
    for drawn in 1..=r {
        if draw(rng) >= observed - tolerance {
            reached += 1;
            if reached > allowed {
                return ((1 + reached) as f64 / (1 + drawn) as f64).max(level.next_up());
            }
        }
    }
    (1 + reached) as f64 / (1 + r) as f64
}

/// Sums of absolute differences over blocks of a segment, from one prefix table.
struct Distances {
    n: usize,
    /// `sums[i * (n + 1) + j]`: Σ |x_p − x_q| over p < i, q < j.
    sums: Vec<f64>,
}

impl Distances {
    fn new(x: &[f64]) -> Distances {
        let n = x.len();
        let w = n + 1;
        let mut sums = vec![0.0; w * w];
        for i in 0..n {
            let mut row = 0.0;
            for j in 0..n {
                row += (x[i] - x[j]).abs();
                sums[(i + 1) * w + j + 1] = sums[i * w + j + 1] + row;
            }
        }
        Distances { n, sums }
    }

    /// Σ |x_p − x_q| over p in `rows`, q in `cols`.
    fn block(&self, r0: usize, r1: usize, c0: usize, c1: usize) -> f64 {
        let w = self.n + 1;
        self.sums[r1 * w + c1] - self.sums[r0 * w + c1] - self.sums[r1 * w + c0]
            + self.sums[r0 * w + c0]
    }

    /// Q̂ of the segment's left side `[0, tau)` against `[tau, kappa)`.
    fn q(&self, tau: usize, kappa: usize) -> f64 {
        let (m, n) = (tau as f64, (kappa - tau) as f64);
        let between = self.block(0, tau, tau, kappa) / (m * n);
        let within = |a: usize, b: usize, k: f64| {
            if k < 2.0 {
                0.0
            } else {
                // Each unordered pair is counted twice in the block.
                self.block(a, b, a, b) / (k * (k - 1.0))
            }
        };
        m * n / (m + n) * (2.0 * between - within(0, tau, m) - within(tau, kappa, n))
    }
}

/// The best split of a segment: its `τ` (from the segment's start) and its `Q̂` against the
/// rest of the segment, each side holding at least `min` values.
pub(super) fn best_split(x: &[f64], min: usize) -> Option<(usize, f64)> {
    if x.len() < 2 * min {
        return None;
    }
    let d = Distances::new(x);
    let mut best: Option<(usize, f64)> = None;
    for tau in min..=x.len() - min {
        let q = d.q(tau, x.len());
        if best.is_none_or(|(_, b)| q > b) {
            best = Some((tau, q));
        }
    }
    best
}

/// The `Q̂` of a segment split at `tau`.
fn split_at(x: &[f64], tau: usize, min: usize) -> Option<f64> {
    if tau < min || x.len() < tau + min {
        return None;
    }
    Some(Distances::new(x).q(tau, x.len()))
}

fn mix(a: u64, b: u64) -> u64 {
    let mut rng = Rng::new(a.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ b);
    rng.next()
}

/// SplitMix64: a small, seeded generator, enough for shuffles.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, n)`.
    fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next()) * n as u128) >> 64) as usize
    }

    /// Fisher–Yates.
    fn shuffle(&mut self, x: &mut [f64]) {
        for i in (1..x.len()).rev() {
            x.swap(i, self.below(i + 1));
        }
    }
}
