//! Intervals across instances: what every group statistic of a report is given with.
//!
//! - `t` (the default): the Student t interval of the mean over instances,
//!   `mean +- t(0.975, n-1) * sd / sqrt(n)`. Its coverage is exact for normal values and close
//!   to nominal for the mildly skewed statistics of a study (`tests/interval_coverage.rs`
//!   simulates it at n = 5). A bootstrap over 3 to 5 instances undercovers badly (77% and
//!   83% in the same simulation), so it is not the default.
//! - `hierarchical`: a percentile bootstrap that resamples instances, then the test sequences
//!   within each resampled instance, so that the interval also holds over the draw of test
//!   sequences. It needs per-sequence values and so covers the statistics of the test set
//!   (savings, the share of attainable saving); the others fall back to `t`.
//! - `published`: the basic (pivotal) bootstrap of the published code's figures
//!   ([`crate::stats::bootstrap_mean_ci`]).
//!
//! With fewer than two instances there is no interval: `lo` and `hi` are `None`, and the
//! report says so instead of printing a zero-width interval.

use crate::stats::{self, BootstrapMethod};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The confidence level of every interval.
pub const LEVEL: f64 = 0.95;

/// How the intervals across instances are computed (`--ci`).
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
pub enum CiMethod {
    /// Student t interval over instances.
    #[default]
    T,
    /// Instances, then test sequences, resampled (percentile interval).
    Hierarchical,
    /// The published code's basic bootstrap over instances.
    Published,
}

impl CiMethod {
    /// The name used on the command line and in the summary.
    pub fn name(self) -> &'static str {
        match self {
            CiMethod::T => "t",
            CiMethod::Hierarchical => "hierarchical",
            CiMethod::Published => "published",
        }
    }
}

impl std::str::FromStr for CiMethod {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "t" => Ok(Self::T),
            "hierarchical" => Ok(Self::Hierarchical),
            "published" => Ok(Self::Published),
            other => Err(format!(
                "unknown interval method {other:?} (choose t, hierarchical or published)"
            )),
        }
    }
}

/// A mean across instances with its interval (`lo`, `hi` absent for fewer than two: no
/// interval is reported rather than a degenerate one).
#[derive(
    Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct Estimate {
    /// The mean over the instances.
    pub mean: f64,
    /// Lower bound of the interval.
    pub lo: Option<f64>,
    /// Upper bound of the interval.
    pub hi: Option<f64>,
    /// The instances it is over.
    pub n: usize,
}

impl Estimate {
    /// The mean of `values` with its interval by `method` (see [`over_instances`]).
    pub fn of(values: &[f64], method: CiMethod, resamples: usize, seed: u64) -> Self {
        let mean = values.iter().sum::<f64>() / values.len().max(1) as f64;
        let bounds = over_instances(values, method, resamples, seed);
        Self {
            mean: if values.is_empty() { f64::NAN } else { mean },
            lo: bounds.map(|b| b.0),
            hi: bounds.map(|b| b.1),
            n: values.len(),
        }
    }

    /// `mean [lo, hi]` with `digits` decimals (times 100 with a `%` when `percent`), or
    /// `mean (n = 1, no interval)`.
    pub fn format(&self, digits: usize, percent: bool) -> String {
        let k = if percent { 100.0 } else { 1.0 };
        let unit = if percent { "%" } else { "" };
        match (self.lo, self.hi) {
            (Some(lo), Some(hi)) => format!(
                "{:.digits$}{unit} [{:.digits$}, {:.digits$}]",
                k * self.mean,
                k * lo,
                k * hi
            ),
            _ => format!(
                "{:.digits$}{unit} (n = {}, no interval)",
                k * self.mean,
                self.n
            ),
        }
    }
}

/// `ln Gamma(x)` for x > 0 (Lanczos, g = 7, 9 terms: about 15 significant digits).
fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
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
        // Reflection.
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let t = x + 7.5;
    let mut a = G[0];
    for (i, g) in G.iter().enumerate().skip(1) {
        a += g / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// The continued fraction of the regularised incomplete beta function (modified Lentz).
fn beta_cf(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..=300 {
        let m = m as f64;
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
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

/// The regularised incomplete beta function I_x(a, b).
fn beta_inc(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    if x < (a + 1.0) / (a + b + 2.0) {
        ln_front.exp() * beta_cf(a, b, x) / a
    } else {
        1.0 - ln_front.exp() * beta_cf(b, a, 1.0 - x) / b
    }
}

/// The CDF of Student's t distribution with `df` degrees of freedom.
pub fn t_cdf(t: f64, df: f64) -> f64 {
    let tail = 0.5 * beta_inc(df / 2.0, 0.5, df / (df + t * t));
    if t >= 0.0 {
        1.0 - tail
    } else {
        tail
    }
}

/// The quantile `p` (0 < p < 1) of Student's t distribution with `df` > 0 degrees of freedom,
/// by bisection on [`t_cdf`] (to about 1e-12).
pub fn t_quantile(p: f64, df: f64) -> f64 {
    if p == 0.5 {
        return 0.0;
    }
    if p < 0.5 {
        return -t_quantile(1.0 - p, df);
    }
    let (mut lo, mut hi) = (0.0, 1.0);
    while t_cdf(hi, df) < p {
        hi *= 2.0;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if t_cdf(mid, df) < p {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo < 1e-13 * hi.max(1.0) {
            break;
        }
    }
    0.5 * (lo + hi)
}

/// The t interval of the mean of `values` at [`LEVEL`]; `None` for fewer than two values.
pub fn t_interval(values: &[f64]) -> Option<(f64, f64)> {
    let n = values.len();
    if n < 2 {
        return None;
    }
    let (mean, var) = stats::mean_var(values);
    let half = t_quantile(0.5 + LEVEL / 2.0, (n - 1) as f64) * (var / n as f64).sqrt();
    Some((mean - half, mean + half))
}

/// The percentile interval at [`LEVEL`] of a statistic under the hierarchical bootstrap:
/// each resample draws `n_instances` instances with replacement and, for each drawn instance,
/// its `n_seqs[i]` sequences with replacement; `stat(instance, sequences)` gives that
/// instance's value on the resampled sequences, and the resample's value is the mean over
/// the drawn instances. `None` for fewer than two instances.
pub fn hierarchical_bootstrap(
    n_seqs: &[usize],
    stat: impl Fn(usize, &[usize]) -> f64,
    resamples: usize,
    seed: u64,
) -> Option<(f64, f64)> {
    let k = n_seqs.len();
    if k < 2 || resamples == 0 {
        return None;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut picks: Vec<usize> = Vec::new();
    let mut values: Vec<f64> = (0..resamples)
        .map(|_| {
            let mut total = 0.0;
            for _ in 0..k {
                let i = rng.gen_range(0..k);
                picks.clear();
                picks.extend((0..n_seqs[i]).map(|_| rng.gen_range(0..n_seqs[i].max(1))));
                total += stat(i, &picks);
            }
            total / k as f64
        })
        .collect();
    values.sort_unstable_by(f64::total_cmp);
    let a = (1.0 - LEVEL) / 2.0;
    Some((
        stats::quantile_sorted(&values, a),
        stats::quantile_sorted(&values, 1.0 - a),
    ))
}

/// The interval of the mean over instances of `values` by `method` (`Hierarchical` falls back
/// to `t` here: it needs per-sequence values, see [`hierarchical_bootstrap`]); `resamples`
/// and `seed` are the published bootstrap's.
pub fn over_instances(
    values: &[f64],
    method: CiMethod,
    resamples: usize,
    seed: u64,
) -> Option<(f64, f64)> {
    if values.len() < 2 {
        return None;
    }
    match method {
        CiMethod::T | CiMethod::Hierarchical => t_interval(values),
        CiMethod::Published => {
            let i = stats::bootstrap_mean_ci(values, resamples, seed, BootstrapMethod::Basic);
            Some((i.lo, i.hi))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_quantiles_match_tables() {
        // scipy.stats.t.ppf(0.975, df) for df = 1, 2, 4, 9, 29, and ppf(0.9, 3).
        for (df, want) in [
            (1.0, 12.706_204_736_174_698),
            (2.0, 4.302_652_729_749_464),
            (4.0, 2.776_445_105_197_793),
            (9.0, 2.262_157_162_798_205),
            (29.0, 2.045_229_642_132_703),
        ] {
            let got = t_quantile(0.975, df);
            assert!((got - want).abs() < 1e-9, "df {df}: {got} vs {want}");
        }
        assert!((t_quantile(0.9, 3.0) - 1.637_744_353_696_21).abs() < 1e-9);
        assert!((t_quantile(0.025, 4.0) + 2.776_445_105_197_793).abs() < 1e-9);
        assert!((t_cdf(0.0, 5.0) - 0.5).abs() < 1e-15);
    }

    #[test]
    fn t_interval_by_hand() {
        // 1, 2, 3, 4, 5: mean 3, sd 1.5811, se 0.7071, t(0.975, 4) 2.7764 -> 3 +- 1.9632.
        let (lo, hi) = t_interval(&[1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
        assert!((lo - (3.0 - 1.963_243_161_7)).abs() < 1e-8, "{lo}");
        assert!((hi - (3.0 + 1.963_243_161_7)).abs() < 1e-8, "{hi}");
        assert_eq!(t_interval(&[1.0]), None);
        assert_eq!(over_instances(&[2.0], CiMethod::Published, 100, 0), None);
    }

    #[test]
    fn hierarchical_bootstrap_is_wider_than_instances_alone_when_sequences_vary() {
        // Five instances with equal means but noisy sequences: resampling the sequences too
        // must widen the interval beyond the (zero) spread of the instance means.
        let data: Vec<Vec<f64>> = (0..5)
            .map(|i| (0..50).map(|s| ((s * 7 + i) % 11) as f64).collect())
            .collect();
        let mean_of = |i: usize, picks: &[usize]| {
            picks.iter().map(|&s| data[i][s]).sum::<f64>() / picks.len() as f64
        };
        let (lo, hi) = hierarchical_bootstrap(&[50; 5], mean_of, 2000, 3).unwrap();
        let grand: f64 = data.iter().flatten().sum::<f64>() / 250.0;
        assert!(lo < grand && grand < hi, "{lo} {grand} {hi}");
        assert!(hi - lo > 0.5, "{lo} {hi}");
        assert_eq!(hierarchical_bootstrap(&[50], mean_of, 100, 3), None);
    }
}
