//! Lesions (random units, masks, the connection lesion) and the drive curves.

use ndarray::{Array2, Array3, ArrayView2, ArrayView3, Axis};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// `count` random units out of `0..n` that are not in `exclude`, seeded, ascending.
/// Takes all of them where fewer are left.
pub fn random_units(exclude: &[usize], n: usize, count: usize, seed: u64) -> Vec<usize> {
    random_units_from(&(0..n).collect::<Vec<_>>(), exclude, count, seed)
}

/// [`random_units`] drawn from `candidates` (ascending) instead of all units: the lesionable
/// units of a step-v2 model, or those of one layer. With `candidates = 0..n` it draws exactly
/// what [`random_units`] draws.
pub fn random_units_from(
    candidates: &[usize],
    exclude: &[usize],
    count: usize,
    seed: u64,
) -> Vec<usize> {
    let mut pool: Vec<usize> = candidates
        .iter()
        .copied()
        .filter(|i| !exclude.contains(i))
        .collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    pool.shuffle(&mut rng);
    pool.truncate(count);
    pool.sort_unstable();
    pool
}

/// A lesion mask of `n` entries: 0 at `units`, 1 elsewhere.
pub fn lesion_mask(units: &[usize], n: usize) -> Vec<f32> {
    let mut m = vec![1.0f32; n];
    for &i in units {
        m[i] = 0.0;
    }
    m
}

/// The weights the published connection lesion removes (its `_error_mask`): the weights from
/// error units to prediction units, and every outgoing weight of a unit that is both; `[n, n]`,
/// equal to `w` there and zero elsewhere.
pub fn connection_lesion_removed(
    w: ArrayView2<f32>,
    prediction: &[usize],
    error: &[usize],
) -> Array2<f32> {
    let mut removed = Array2::<f32>::zeros(w.dim());
    for &i in error {
        if prediction.contains(&i) {
            removed.row_mut(i).assign(&w.row(i));
        } else {
            for &j in prediction {
                removed[[i, j]] = w[[i, j]];
            }
        }
    }
    removed
}

/// The preactivations under the published connection lesion, computed as the published
/// `model_activity_lesioned(lesion_type='error')` does: at every step the lesioned network is
/// given the intact network's state *after* that step, `a'_t = x_t + h_t (W - R)`, with `x` the
/// frames, `act` the intact activity `h_t` and `cut` = `W - R` the weights left after
/// [`connection_lesion_removed`]. (So even step 1 differs from the input: the published code
/// passes the state its intact run has just updated.)
pub fn connection_lesioned(
    x: ArrayView3<f32>,
    act: ArrayView3<f32>,
    cut: ArrayView2<f32>,
) -> Array3<f32> {
    let mut out = x.to_owned();
    for t in 0..x.dim().0 {
        let drive = act.index_axis(Axis(0), t).dot(&cut);
        let mut a = out.index_axis_mut(Axis(0), t);
        a += &drive;
    }
    out
}

/// Mean over sequences and units of the input, internal and total drive at every step.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct DriveCurves {
    /// mean x_t.
    pub input: Vec<f64>,
    /// mean of the internal drive a_t - x_t (= h_{t-1} W for the paper's model).
    pub internal: Vec<f64>,
    /// mean a_t.
    pub total: Vec<f64>,
}

/// Drive curves of frames `x` and preactivations `preact` (both `[steps, seqs, n]`).
pub fn drive_curves(x: ArrayView3<f32>, preact: ArrayView3<f32>) -> DriveCurves {
    let steps = x.dim().0;
    let mean =
        |a: ArrayView2<f32>| a.iter().map(|&v| f64::from(v)).sum::<f64>() / a.len().max(1) as f64;
    let mut out = DriveCurves {
        input: Vec::new(),
        internal: Vec::new(),
        total: Vec::new(),
    };
    for t in 0..steps {
        let xi = mean(x.index_axis(Axis(0), t));
        let ai = mean(preact.index_axis(Axis(0), t));
        out.input.push(xi);
        out.total.push(ai);
        out.internal.push(ai - xi);
    }
    out
}

/// Postsynaptic drive h_i * sum_j W_ij after k = 0..steps-1 preceding frames, averaged over
/// sequences and over `units`; h is the state entering step k+1 (the activity after k frames,
/// times the lesion mask where given; zero for k = 0). Empty `units` give NaN.
pub fn postsynaptic_drive(
    act: ArrayView3<f32>,
    w: ArrayView2<f32>,
    units: &[usize],
    mask: Option<&[f32]>,
) -> Vec<f64> {
    let (steps, seqs, _) = act.dim();
    let rowsum: Vec<f64> = w
        .rows()
        .into_iter()
        .map(|r| r.iter().map(|&v| f64::from(v)).sum())
        .collect();
    let denom = (seqs * units.len()) as f64;
    (0..steps)
        .map(|k| {
            if units.is_empty() {
                return f64::NAN;
            }
            if k == 0 {
                return 0.0;
            }
            let h = act.index_axis(Axis(0), k - 1);
            let mut s = 0.0f64;
            for row in h.rows() {
                for &i in units {
                    let m = mask.map_or(1.0, |m| f64::from(m[i]));
                    s += f64::from(row[i]) * m * rowsum[i];
                }
            }
            s / denom
        })
        .collect()
}
