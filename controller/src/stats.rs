//! The confidence interval of a difference of means (Welch's t-interval), of one mean (Student's
//! t-interval), and the Student t quantile they need, with no dependency: the t distribution's CDF is a regularized incomplete
//! beta function (continued fraction, as in Numerical Recipes §6.4), inverted by bisection.

/// A two-sided confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

impl Interval {
    /// Whether the interval lies wholly on one side of zero.
    pub fn excludes_zero(&self) -> bool {
        self.low > 0.0 || self.high < 0.0
    }
}

/// Welch's result: the difference `mean(new) - mean(base)`, its interval and the degrees of
/// freedom (Welch–Satterthwaite).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Welch {
    pub difference: f64,
    pub interval: Interval,
    pub df: f64,
}

pub fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

/// Sample variance (n - 1 in the denominator).
pub fn variance(xs: &[f64]) -> f64 {
    let m = mean(xs);
    xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (xs.len() as f64 - 1.0)
}

/// Welch's t-interval at `confidence` (e.g. 0.95) for `mean(new) - mean(base)`. `None` with
/// fewer than two values on a side, or when neither side varies (no spread to estimate from).
pub fn welch_interval(base: &[f64], new: &[f64], confidence: f64) -> Option<Welch> {
    if base.len() < 2 || new.len() < 2 || !(0.0..1.0).contains(&confidence) {
        return None;
    }
    let (nb, nn) = (base.len() as f64, new.len() as f64);
    let (vb, vn) = (variance(base) / nb, variance(new) / nn);
    let se2 = vb + vn;
    if se2.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) || !se2.is_finite() {
        return None;
    }
    let df = se2 * se2 / (vb * vb / (nb - 1.0) + vn * vn / (nn - 1.0));
    let t = student_t_quantile(1.0 - (1.0 - confidence) / 2.0, df)?;
    let difference = mean(new) - mean(base);
    let half = t * se2.sqrt();
    Some(Welch {
        difference,
        interval: Interval {
            low: difference - half,
            high: difference + half,
        },
        df,
    })
}

/// Student's t-interval at `confidence` (e.g. 0.95) for the mean of `xs`: `mean ± t·s/√n`.
/// `None` with fewer than two values or a value that is not finite; a point (low = high) when
/// they do not vary.
pub fn mean_interval(xs: &[f64], confidence: f64) -> Option<Interval> {
    if xs.len() < 2 || !(0.0..1.0).contains(&confidence) || !xs.iter().all(|x| x.is_finite()) {
        return None;
    }
    let n = xs.len() as f64;
    let t = student_t_quantile(1.0 - (1.0 - confidence) / 2.0, n - 1.0)?;
    let half = t * (variance(xs) / n).sqrt();
    let m = mean(xs);
    Some(Interval {
        low: m - half,
        high: m + half,
    })
}

/// The `p` quantile (0.5 ≤ p < 1) of Student's t with `df` > 0 degrees of freedom.
pub fn student_t_quantile(p: f64, df: f64) -> Option<f64> {
    if !(0.5..1.0).contains(&p) || df.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        return None;
    }
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    while student_t_cdf(hi, df) < p {
        hi *= 2.0;
        if hi > 1e12 {
            return None;
        }
    }
    for _ in 0..200 {
        let mid = (lo + hi) / 2.0;
        if student_t_cdf(mid, df) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some((lo + hi) / 2.0)
}

/// P(T ≤ t) for Student's t with `df` degrees of freedom.
pub fn student_t_cdf(t: f64, df: f64) -> f64 {
    let tail = 0.5 * regularized_incomplete_beta(df / (df + t * t), df / 2.0, 0.5);
    if t >= 0.0 {
        1.0 - tail
    } else {
        tail
    }
}

/// I_x(a, b).
fn regularized_incomplete_beta(x: f64, a: f64, b: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front =
        (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp();
    // The continued fraction converges quickly for x below (a + 1) / (a + b + 2).
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_continued_fraction(x, a, b) / a
    } else {
        1.0 - front * beta_continued_fraction(1.0 - x, b, a) / b
    }
}

fn beta_continued_fraction(x: f64, a: f64, b: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..300 {
        let m = f64::from(m);
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        d = if d.abs() < TINY { TINY } else { d };
        c = 1.0 + aa / c;
        c = if c.abs() < TINY { TINY } else { c };
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        d = if d.abs() < TINY { TINY } else { d };
        c = 1.0 + aa / c;
        c = if c.abs() < TINY { TINY } else { c };
        d = 1.0 / d;
        let delta = d * c;
        h *= delta;
        if (delta - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9: about 15 significant digits).
fn ln_gamma(x: f64) -> f64 {
    const COEFFICIENTS: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x) Γ(1 - x) = π / sin(πx).
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut sum = COEFFICIENTS[0];
    for (i, c) in COEFFICIENTS.iter().enumerate().skip(1) {
        sum += c / (x + i as f64);
    }
    let t = x + 7.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tolerance: f64) -> bool {
        (a - b).abs() <= tolerance
    }

    #[test]
    fn t_quantiles_match_the_tables() {
        // (p, df, t) from standard Student t tables.
        let cases = [
            (0.975, 1.0, 12.706),
            (0.975, 2.0, 4.303),
            (0.975, 5.0, 2.571),
            (0.975, 10.0, 2.228),
            (0.975, 30.0, 2.042),
            (0.975, 1000.0, 1.962),
            (0.95, 10.0, 1.812),
            (0.995, 4.0, 4.604),
            (0.5, 3.0, 0.0),
        ];
        for (p, df, expected) in cases {
            let t = student_t_quantile(p, df).expect("quantile");
            assert!(
                close(t, expected, 1e-3),
                "t({p}, {df}) = {t}, expected {expected}"
            );
        }
        assert_eq!(student_t_quantile(0.3, 3.0), None);
        assert_eq!(student_t_quantile(0.975, 0.0), None);
    }

    #[test]
    fn ln_gamma_matches_factorials() {
        for (x, factorial) in [(1.0, 1.0), (2.0, 1.0), (5.0, 24.0), (11.0, 3_628_800.0f64)] {
            assert!(close(ln_gamma(x), factorial.ln(), 1e-10), "ln Γ({x})");
        }
        assert!(close(
            ln_gamma(0.5),
            std::f64::consts::PI.sqrt().ln(),
            1e-10
        ));
    }

    #[test]
    fn welch_interval_of_a_textbook_example() {
        // mean 3, variance 2.5 against mean 6, variance 10: difference 3, standard error
        // sqrt(0.5 + 2) and Welch–Satterthwaite df 6.25 / (0.0625 + 1) = 5.882.
        let base = [1.0, 2.0, 3.0, 4.0, 5.0];
        let new = [2.0, 4.0, 6.0, 8.0, 10.0];
        let w = welch_interval(&base, &new, 0.95).expect("interval");
        assert!(close(w.difference, 3.0, 1e-12));
        assert!(close(w.df, 5.882_352_9, 1e-6), "df {}", w.df);
        // t(0.975, 5.882) = 2.4588 (between df 5: 2.571 and df 6: 2.447): the interval is
        // [-0.888, 6.888], as R's t.test(new, base) prints it.
        let half = 2.5f64.sqrt() * student_t_quantile(0.975, w.df).expect("t");
        assert!(close(half, 3.888, 1e-3), "half width {half}");
        assert!(close(w.interval.low, -0.888, 1e-3), "{w:?}");
        assert!(close(w.interval.low, 3.0 - half, 1e-12));
        assert!(close(w.interval.high, 3.0 + half, 1e-12));
        assert!(!w.interval.excludes_zero());
    }

    #[test]
    fn mean_interval_of_a_textbook_example() {
        // mean 3, s = √2.5, n = 5: 3 ± t(0.975, 4) · √0.5 = 3 ± 2.776 · 0.7071 = [1.037, 4.963].
        let i = mean_interval(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.95).expect("interval");
        assert!(
            close(i.low, 1.037, 1e-3) && close(i.high, 4.963, 1e-3),
            "{i:?}"
        );
        assert_eq!(
            mean_interval(&[2.0, 2.0], 0.95),
            Some(Interval {
                low: 2.0,
                high: 2.0
            })
        );
        assert_eq!(mean_interval(&[2.0], 0.95), None);
        assert_eq!(mean_interval(&[2.0, f64::NAN], 0.95), None);
    }

    #[test]
    fn welch_needs_two_trials_and_some_spread() {
        let cases: [(&[f64], &[f64], bool); 5] = [
            (&[1.0], &[2.0], false),
            (&[1.0, 1.0], &[2.0], false),
            (&[1.0, 1.0], &[2.0, 2.0], false),
            (&[1.0, 1.1], &[2.0, 2.0], true),
            (&[10.0, 10.2, 9.9], &[12.0, 12.1, 11.8], true),
        ];
        for (base, new, some) in cases {
            assert_eq!(
                welch_interval(base, new, 0.95).is_some(),
                some,
                "{base:?} {new:?}"
            );
        }
        let w = welch_interval(&[10.0, 10.2, 9.9], &[12.0, 12.1, 11.8], 0.95).expect("interval");
        assert!(w.interval.excludes_zero() && w.interval.low > 0.0, "{w:?}");
    }
}
