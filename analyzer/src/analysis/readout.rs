//! The spatial unit rule's readout: a ridge regression of the digit's position on the
//! units' activity (Nortmann, Sulewski & Kietzmann, Patterns 2025, read the position of a
//! moving digit linearly from the units and lesioned the units with the largest readout
//! weights).
//!
//! Features are standardised on the fit rows (a feature without spread there gets no
//! weight; a scale is floored at [`SD_FLOOR`] of the mean scale), so that weights are
//! comparable between units whatever their scale, and the
//! targets centred; the weights solve `(Z'Z / n + lambda I) w = Z'y / n`. The readout is
//! scored on held-out rows by R^2 (mean over the coordinates).

use ndarray::{Array2, ArrayView2, Axis};

/// The ridge penalty on standardised features ([`position_readout`]): a tenth of each
/// feature's own variance, enough to keep nearly collinear pixels from trading huge weights.
pub const RIDGE_LAMBDA: f64 = 0.1;

/// The floor of a feature's scale, as a fraction of the mean scale of the features.
pub const SD_FLOOR: f64 = 0.1;

/// A fitted readout.
#[derive(Debug, Clone, PartialEq)]
pub struct Readout {
    /// R^2 on the held-out rows, mean over the target's coordinates (1: perfect; 0: no
    /// better than the fit rows' mean; negative: worse).
    pub r2: f64,
    /// Per feature, the norm of its weights over the coordinates (on the standardised
    /// feature): how much the readout relies on it.
    pub scores: Vec<f64>,
}

/// Fits a ridge readout of `targets` (`[rows, coordinates]`) from `features` (`[rows,
/// features]`) on the first `fit` rows and scores it on the rest, with penalty `lambda`.
/// Panics unless `0 < fit < rows` and the shapes agree.
pub fn position_readout(
    features: ArrayView2<f32>,
    targets: ArrayView2<f64>,
    fit: usize,
    lambda: f64,
) -> Readout {
    let (rows, f) = features.dim();
    assert!(fit > 0 && fit < rows, "need fit and held-out rows");
    assert_eq!(targets.nrows(), rows, "one target per row");
    let x = features.mapv(f64::from);
    let fit_x = x.slice(ndarray::s![..fit, ..]);
    let mean = fit_x.mean_axis(Axis(0)).expect("fit rows");
    let sd: Vec<f64> = (0..f)
        .map(|j| {
            let m = mean[j];
            let v = fit_x
                .column(j)
                .iter()
                .map(|&a| (a - m).powi(2))
                .sum::<f64>()
                / fit as f64;
            v.sqrt()
        })
        .collect();
    // A feature's scale is floored at a tenth of the average feature's, so that a unit
    // almost silent on the fit rows cannot blow up on the held-out ones.
    let floor = SD_FLOOR * sd.iter().sum::<f64>() / f.max(1) as f64;
    let mut z = x;
    for (j, mut col) in z.axis_iter_mut(Axis(1)).enumerate() {
        let (m, s) = (mean[j], sd[j].max(floor));
        col.mapv_inplace(|a| if sd[j] > 1e-12 { (a - m) / s } else { 0.0 });
    }
    let y_mean = targets
        .slice(ndarray::s![..fit, ..])
        .mean_axis(Axis(0))
        .expect("fit rows");
    let zf = z.slice(ndarray::s![..fit, ..]);
    let yc = &targets.slice(ndarray::s![..fit, ..]) - &y_mean;
    let mut a = zf.t().dot(&zf) / fit as f64;
    for j in 0..f {
        a[[j, j]] += lambda;
    }
    let b = zf.t().dot(&yc) / fit as f64;
    let w = cholesky_solve(a, b);
    let held = z.slice(ndarray::s![fit.., ..]);
    let pred = held.dot(&w) + &y_mean;
    let truth = targets.slice(ndarray::s![fit.., ..]);
    let coords = targets.ncols();
    let r2 = (0..coords)
        .map(|c| {
            let t = truth.column(c);
            let m = t.mean().unwrap_or(0.0);
            let tot: f64 = t.iter().map(|&v| (v - m).powi(2)).sum();
            let res: f64 = t
                .iter()
                .zip(pred.column(c))
                .map(|(&v, &p)| (v - p).powi(2))
                .sum();
            if tot > 0.0 {
                1.0 - res / tot
            } else {
                0.0
            }
        })
        .sum::<f64>()
        / coords.max(1) as f64;
    let scores = w
        .axis_iter(Axis(0))
        .map(|row| row.iter().map(|v| v * v).sum::<f64>().sqrt())
        .collect();
    Readout { r2, scores }
}

/// Solves `a x = b` for a symmetric positive definite `a` (Cholesky, in place).
fn cholesky_solve(mut a: Array2<f64>, mut b: Array2<f64>) -> Array2<f64> {
    let n = a.nrows();
    for j in 0..n {
        let mut d = a[[j, j]];
        for k in 0..j {
            d -= a[[j, k]] * a[[j, k]];
        }
        let d = d.max(f64::MIN_POSITIVE).sqrt();
        a[[j, j]] = d;
        for i in j + 1..n {
            let mut s = a[[i, j]];
            for k in 0..j {
                s -= a[[i, k]] * a[[j, k]];
            }
            a[[i, j]] = s / d;
        }
    }
    // L y = b, then L' x = y.
    for c in 0..b.ncols() {
        for i in 0..n {
            let mut s = b[[i, c]];
            for k in 0..i {
                s -= a[[i, k]] * b[[k, c]];
            }
            b[[i, c]] = s / a[[i, i]];
        }
        for i in (0..n).rev() {
            let mut s = b[[i, c]];
            for k in i + 1..n {
                s -= a[[k, i]] * b[[k, c]];
            }
            b[[i, c]] = s / a[[i, i]];
        }
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn a_feature_that_is_the_position_is_read_out_and_ranked_first() {
        // Row r: position (r mod 7, r mod 5); feature 2 is the first coordinate, feature 0
        // the second, feature 1 constant, feature 3 noise-like.
        let rows = 70;
        let pos = Array2::from_shape_fn((rows, 2), |(r, c)| [r % 7, r % 5][c] as f64);
        let feats = Array2::from_shape_fn((rows, 4), |(r, j)| match j {
            0 => (r % 5) as f32,
            1 => 3.0,
            2 => (r % 7) as f32,
            _ => ((r * 37) % 11) as f32,
        });
        let r = position_readout(feats.view(), pos.view(), 50, 1e-6);
        assert!(r.r2 > 0.999, "{r:?}");
        assert_eq!(r.scores[1], 0.0, "a constant feature gets no weight");
        assert!(
            r.scores[0] > 10.0 * r.scores[3] && r.scores[2] > 10.0 * r.scores[3],
            "{r:?}"
        );
    }

    #[test]
    fn cholesky_solves_a_small_system() {
        let a = ndarray::arr2(&[[4.0, 2.0], [2.0, 3.0]]);
        let b = ndarray::arr2(&[[2.0], [1.0]]);
        let x = cholesky_solve(a.clone(), b.clone());
        let back = a.dot(&x);
        assert!((back[[0, 0]] - 2.0).abs() < 1e-12 && (back[[1, 0]] - 1.0).abs() < 1e-12);
    }
}
