//! The statistics the analyses use, on plain slices.
//!
//! Conventions, chosen to match the published code's libraries (docs/SPEC.md, section 6):
//! [`median`] averages the two middle values of an even count (numpy); [`lower_median`] takes
//! the lower one (`torch.median`); the MAD is scipy's `median_abs_deviation(scale='normal')`
//! (about numpy's median, divided by the normal quartile 0.67449); variances are sample
//! variances (ddof = 1, `torch.var`/`torch.std`); bootstrap intervals are the `bootstrapped`
//! package's (basic, from 10,000 resamples) or percentile intervals; all accumulation is in f64.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Scale that makes the MAD estimate the standard deviation of normal data: 1 / the normal
/// distribution's 0.75 quantile (scipy's `scale='normal'`, 1.482602...).
pub const MAD_SCALE: f64 = 1.0 / 0.674_489_750_196_081_7;

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

/// The lower of the two middle values for an even count, the middle one for an odd count
/// (`torch.median`'s convention); `NaN` for an empty slice. Reorders `values`.
pub fn lower_median_in_place<T: Float>(values: &mut [T]) -> T {
    if values.is_empty() {
        return T::NAN;
    }
    let mid = (values.len() - 1) / 2;
    *values.select_nth_unstable_by(mid, T::total_cmp).1
}

/// The prediction rule's statistics of `values` as the published code computes them: the
/// lower median (`torch.median`) and the scaled MAD about the averaged median
/// (`scipy.stats.median_abs_deviation(scale='normal')`).
pub fn prediction_stats(values: &[f64]) -> (f64, f64) {
    let mut v = values.to_vec();
    let lower = lower_median_in_place(&mut v);
    (lower, median_mad(values).1)
}

/// Median and scaled MAD (`MAD_SCALE * median|v - median|`) of `values`.
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

/// Per-unit counts, sums and sums of squares of activities, added row by row, for means and
/// sample variances of sets too large to keep.
#[derive(Debug, Clone, PartialEq)]
pub struct Moments {
    /// Rows added.
    pub n: usize,
    sum: Vec<f64>,
    sq: Vec<f64>,
}

impl Moments {
    /// Empty moments of `units` units.
    pub fn new(units: usize) -> Self {
        Self {
            n: 0,
            sum: vec![0.0; units],
            sq: vec![0.0; units],
        }
    }

    /// Adds the rows of `values` (`[rows, units]`).
    pub fn add(&mut self, values: ndarray::ArrayView2<f32>) {
        for row in values.rows() {
            for ((s, q), &v) in self.sum.iter_mut().zip(&mut self.sq).zip(row) {
                let v = f64::from(v);
                *s += v;
                *q += v * v;
            }
        }
        self.n += values.nrows();
    }

    /// Units.
    pub fn units(&self) -> usize {
        self.sum.len()
    }

    /// Mean of unit `i` (`NaN` without rows).
    pub fn mean(&self, i: usize) -> f64 {
        self.sum[i] / self.n as f64
    }

    /// Mean and sample variance (ddof = 1; 0 for fewer than two rows) of unit `i`.
    pub fn mean_var(&self, i: usize) -> (f64, f64) {
        let m = self.mean(i);
        if self.n < 2 {
            return (m, 0.0);
        }
        let v = (self.sq[i] - self.n as f64 * m * m) / (self.n - 1) as f64;
        (m, v.max(0.0))
    }
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
#[derive(
    Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct Interval {
    /// The sample mean.
    pub mean: f64,
    /// Lower bound.
    pub lo: f64,
    /// Upper bound.
    pub hi: f64,
}

/// How a bootstrap interval is read off the resampled means.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum BootstrapMethod {
    /// The basic (pivotal) interval `[2m - q97.5, 2m - q2.5]`: the published code's
    /// (`bootstrapped.bootstrap` with `is_pivotal=True`, its default).
    #[default]
    Basic,
    /// The percentile interval `[q2.5, q97.5]`.
    Percentile,
}

impl std::str::FromStr for BootstrapMethod {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "basic" => Ok(Self::Basic),
            "percentile" => Ok(Self::Percentile),
            other => Err(format!(
                "unknown bootstrap method {other:?} (choose basic or percentile)"
            )),
        }
    }
}

/// Seeded bootstrap 95% CI of the mean of `values` (`resamples` draws with replacement).
///
/// `q2.5` and `q97.5` are quantiles (linear interpolation, numpy's) of the resampled means;
/// `method` turns them into the interval. One value gives a zero-width interval.
pub fn bootstrap_mean_ci(
    values: &[f64],
    resamples: usize,
    seed: u64,
    method: BootstrapMethod,
) -> Interval {
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
    let (q_lo, q_hi) = (
        quantile_sorted(&means, 0.025),
        quantile_sorted(&means, 0.975),
    );
    let (lo, hi) = match method {
        BootstrapMethod::Basic => (2.0 * mean - q_hi, 2.0 * mean - q_lo),
        BootstrapMethod::Percentile => (q_lo, q_hi),
    };
    Interval { mean, lo, hi }
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
        // scipy.stats.median_abs_deviation([1,2,3,4,100], scale='normal') = 1.482602218505602
        assert!((s - 1.482602218505602).abs() < 1e-12);
        // even count: 1,2,4,7 -> median 3; deviations 2,1,1,4 -> median 1.5
        let (m, s) = median_mad(&[7.0, 1.0, 4.0, 2.0]);
        assert_eq!(m, 3.0);
        assert!((s - 1.5 * 1.482602218505602).abs() < 1e-12);
        // torch.median([7, 1, 4, 2]) = 2 (the lower middle value); the MAD stays scipy's.
        assert_eq!(prediction_stats(&[7.0, 1.0, 4.0, 2.0]), (2.0, s));
        assert_eq!(lower_median_in_place(&mut [5.0, 1.0, 3.0]), 3.0);
        assert!(lower_median_in_place::<f64>(&mut []).is_nan());
    }

    #[test]
    fn mean_var_uses_ddof_one() {
        let (m, v) = mean_var(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert_eq!(m, 5.0);
        assert!((v - 32.0 / 7.0).abs() < 1e-12);
        assert_eq!(mean_var(&[3.0]), (3.0, 0.0));
    }

    #[test]
    fn moments_match_mean_var() {
        let a = ndarray::array![[1.0f32, 4.0], [2.0, 6.0]];
        let b = ndarray::array![[3.0f32, 8.0]];
        let mut m = Moments::new(2);
        m.add(a.view());
        m.add(b.view());
        assert_eq!(m.n, 3);
        let (mean, var) = m.mean_var(0);
        assert!((mean - 2.0).abs() < 1e-12 && (var - 1.0).abs() < 1e-12);
        let (mean, var) = m.mean_var(1);
        assert!((mean - 6.0).abs() < 1e-12 && (var - 4.0).abs() < 1e-12);
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
        let ci = bootstrap_mean_ci(&v, 10_000, 7, BootstrapMethod::Percentile);
        assert_eq!(ci.mean, 49.5);
        assert!((ci.lo - (49.5 - 5.69)).abs() < 0.6, "{ci:?}");
        assert!((ci.hi - (49.5 + 5.69)).abs() < 0.6, "{ci:?}");
        // Seeded: the same seed gives the same interval, another seed a slightly different one.
        assert_eq!(
            ci,
            bootstrap_mean_ci(&v, 10_000, 7, BootstrapMethod::Percentile)
        );
        assert_ne!(
            ci,
            bootstrap_mean_ci(&v, 10_000, 8, BootstrapMethod::Percentile)
        );
        // The basic interval reflects the percentile one about the mean.
        let b = bootstrap_mean_ci(&v, 10_000, 7, BootstrapMethod::Basic);
        assert!((b.lo - (2.0 * 49.5 - ci.hi)).abs() < 1e-9, "{b:?}");
        assert!((b.hi - (2.0 * 49.5 - ci.lo)).abs() < 1e-9, "{b:?}");
        // A skewed sample: the basic interval leans the other way than the percentile one.
        let skew: Vec<f64> = (0..30).map(|i| f64::from(i).powi(3)).collect();
        let p = bootstrap_mean_ci(&skew, 10_000, 3, BootstrapMethod::Percentile);
        let b = bootstrap_mean_ci(&skew, 10_000, 3, BootstrapMethod::Basic);
        assert!(p.hi - p.mean > p.mean - p.lo, "{p:?}");
        assert!(b.hi - b.mean < b.mean - b.lo, "{b:?}");
        // Constant values: zero width.
        let c = bootstrap_mean_ci(&[2.0; 5], 1000, 1, BootstrapMethod::Basic);
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
