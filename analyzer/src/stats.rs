//! The statistics the analyses use, on plain slices.
//!
//! Conventions: medians of an even count average the two middle values; the MAD is scaled by
//! 1.4826 (consistent with the standard deviation for normal data); variances are sample
//! variances (ddof = 1, so a single value has variance 0 by convention here); all accumulation
//! is in f64.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Scale that makes the MAD estimate the standard deviation of normal data.
pub const MAD_SCALE: f64 = 1.4826;

/// The two-sided 99% normal quantile used for prediction and error units.
pub const Z_99: f64 = 2.576;

/// The floating-point types the medians work on (`f32` images, `f64` statistics).
pub trait Float: Copy {
    /// Not a number: the median of nothing.
    const NAN: Self;
    /// IEEE total order, for the selection.
    fn total_cmp(&self, other: &Self) -> std::cmp::Ordering;
    /// The larger of two values, ignoring NaN.
    fn max(self, other: Self) -> Self;
    /// Widening to `f64`.
    fn to_f64(self) -> f64;
    /// Rounding from `f64`.
    fn from_f64(v: f64) -> Self;
}

macro_rules! impl_float {
    ($t:ty) => {
        impl Float for $t {
            const NAN: Self = <$t>::NAN;
            fn total_cmp(&self, other: &Self) -> std::cmp::Ordering {
                <$t>::total_cmp(self, other)
            }
            fn max(self, other: Self) -> Self {
                <$t>::max(self, other)
            }
            fn to_f64(self) -> f64 {
                f64::from(self)
            }
            fn from_f64(v: f64) -> Self {
                v as $t
            }
        }
    };
}
impl_float!(f32);
impl_float!(f64);

/// Median of `values` (reorders them); `NaN` for an empty slice. The mean of the two middle
/// values of an even count is taken in `f64`.
pub fn median_in_place<T: Float>(values: &mut [T]) -> T {
    let n = values.len();
    if n == 0 {
        return T::NAN;
    }
    let mid = n / 2;
    let (lo_part, &mut hi, _) = values.select_nth_unstable_by(mid, T::total_cmp);
    if n % 2 == 1 {
        hi
    } else {
        let lo = lo_part
            .iter()
            .copied()
            .fold(T::from_f64(f64::NEG_INFINITY), T::max);
        T::from_f64((lo.to_f64() + hi.to_f64()) / 2.0)
    }
}

/// Median of `values`; `NaN` for an empty slice.
pub fn median(values: &[f64]) -> f64 {
    median_in_place(&mut values.to_vec())
}

/// Median and scaled MAD (`1.4826 * median|v - median|`) of `values`.
pub fn median_mad(values: &[f64]) -> (f64, f64) {
    let mut v = values.to_vec();
    let m = median_in_place(&mut v);
    for x in &mut v {
        *x = (*x - m).abs();
    }
    (m, MAD_SCALE * median_in_place(&mut v))
}

/// Mean and sample variance (ddof = 1; 0 for fewer than two values) of `values`.
pub fn mean_var(values: &[f64]) -> (f64, f64) {
    let n = values.len();
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    if n < 2 {
        return (mean, 0.0);
    }
    let ss: f64 = values.iter().map(|&x| (x - mean) * (x - mean)).sum();
    (mean, ss / (n - 1) as f64)
}

/// Welch-style z of a difference of means: `|m1 - m2| / sqrt(v1/n1 + v2/n2)`.
///
/// With equal counts this is SPEC.md's `|m_n - m_d| / sqrt(v_n/n + v_d/n)`. When both
/// variances are zero, z is 0 for equal means and infinite otherwise.
pub fn welch_z(m1: f64, v1: f64, n1: usize, m2: f64, v2: f64, n2: usize) -> f64 {
    let diff = (m1 - m2).abs();
    let se2 = v1 / n1.max(1) as f64 + v2 / n2.max(1) as f64;
    if se2 > 0.0 {
        diff / se2.sqrt()
    } else if diff > 0.0 {
        f64::INFINITY
    } else {
        0.0
    }
}

/// A mean with a confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Interval {
    /// The sample mean.
    pub mean: f64,
    /// Lower bound.
    pub lo: f64,
    /// Upper bound.
    pub hi: f64,
}

/// Seeded percentile bootstrap 95% CI of the mean of `values` (`resamples` draws with replacement).
///
/// The bounds are the 2.5% and 97.5% quantiles (linear interpolation) of the resampled means.
/// One value gives a zero-width interval.
pub fn bootstrap_mean_ci(values: &[f64], resamples: usize, seed: u64) -> Interval {
    let n = values.len();
    let mean = mean_var(values).0;
    if n < 2 || resamples == 0 {
        return Interval {
            mean,
            lo: mean,
            hi: mean,
        };
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut means: Vec<f64> = (0..resamples)
        .map(|_| (0..n).map(|_| values[rng.gen_range(0..n)]).sum::<f64>() / n as f64)
        .collect();
    means.sort_unstable_by(f64::total_cmp);
    Interval {
        mean,
        lo: quantile_sorted(&means, 0.025),
        hi: quantile_sorted(&means, 0.975),
    }
}

/// Quantile `q` in [0, 1] of sorted values with linear interpolation (numpy's default).
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let i = pos.floor() as usize;
    let j = (i + 1).min(sorted.len() - 1);
    sorted[i] + (sorted[j] - sorted[i]) * (pos - i as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_odd_even_and_mad() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&[]).is_nan());
        // values 1,2,3,4,100: median 3, deviations 2,1,0,1,97 -> median 1 -> MAD 1.4826
        let (m, s) = median_mad(&[1.0, 2.0, 3.0, 4.0, 100.0]);
        assert_eq!(m, 3.0);
        assert!((s - 1.4826).abs() < 1e-12);
        // even count: 1,2,4,7 -> median 3; deviations 2,1,1,4 -> median 1.5
        let (m, s) = median_mad(&[7.0, 1.0, 4.0, 2.0]);
        assert_eq!(m, 3.0);
        assert!((s - 1.5 * 1.4826).abs() < 1e-12);
    }

    #[test]
    fn mean_var_uses_ddof_one() {
        let (m, v) = mean_var(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert_eq!(m, 5.0);
        assert!((v - 32.0 / 7.0).abs() < 1e-12);
        assert_eq!(mean_var(&[3.0]), (3.0, 0.0));
    }

    #[test]
    fn welch_z_by_hand() {
        // a = 1,2,3 (mean 2, var 1), b = 4,6,8 (mean 6, var 4): z = 4 / sqrt(1/3 + 4/3) = 3.0984
        let (ma, va) = mean_var(&[1.0, 2.0, 3.0]);
        let (mb, vb) = mean_var(&[4.0, 6.0, 8.0]);
        let z = welch_z(ma, va, 3, mb, vb, 3);
        assert!((z - 4.0 / (5.0f64 / 3.0).sqrt()).abs() < 1e-12, "{z}");
        assert!((z - 3.098386676965933).abs() < 1e-12);
        assert_eq!(welch_z(1.0, 0.0, 4, 1.0, 0.0, 4), 0.0);
        assert!(welch_z(1.0, 0.0, 4, 2.0, 0.0, 4).is_infinite());
    }

    #[test]
    fn bootstrap_ci_covers_the_normal_approximation() {
        // 0..99: mean 49.5, sd 29.01, se 2.901; a 95% CI is about 49.5 +- 5.7.
        let v: Vec<f64> = (0..100).map(f64::from).collect();
        let ci = bootstrap_mean_ci(&v, 10_000, 7);
        assert_eq!(ci.mean, 49.5);
        assert!((ci.lo - (49.5 - 5.69)).abs() < 0.6, "{ci:?}");
        assert!((ci.hi - (49.5 + 5.69)).abs() < 0.6, "{ci:?}");
        // Seeded: the same seed gives the same interval, another seed a slightly different one.
        assert_eq!(ci, bootstrap_mean_ci(&v, 10_000, 7));
        assert_ne!(ci, bootstrap_mean_ci(&v, 10_000, 8));
        // Constant values: zero width.
        let c = bootstrap_mean_ci(&[2.0; 5], 1000, 1);
        assert_eq!((c.lo, c.hi), (2.0, 2.0));
    }

    #[test]
    fn quantiles_interpolate_like_numpy() {
        let s = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile_sorted(&s, 0.5), 2.5);
        assert!((quantile_sorted(&s, 0.025) - 1.075).abs() < 1e-12);
        assert_eq!(quantile_sorted(&s, 1.0), 4.0);
    }
}
