//! The analyses of SPEC.md sections 5 and 6 as functions of arrays (no I/O, no ONNX).
//!
//! Arrays are time-major like the engine's: `[steps, seqs, units]`; labels are `[seqs, steps]`.

use crate::stats::{self, Z_99};
use epc_core::data::Images;
use epc_core::NUM_CLASSES;
use ndarray::{Array2, Array3, ArrayView2, ArrayView3, Axis};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

/// The four energy measures, in report order.
pub const MEASURES: [&str; 4] = ["pre", "ap", "st", "ec"];

/// Energy per step of one run (each a mean over sequences and units).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EnergyCurves {
    /// `pre`: mean |a|.
    pub pre: Vec<f64>,
    /// `ap`: mean relu(a).
    pub ap: Vec<f64>,
    /// `st`: mean over units j of sum_i relu(a_i)|W_ij| (only with W).
    pub st: Option<Vec<f64>>,
    /// `ec` = ap/3 + 2 st/3 (only with W).
    pub ec: Option<Vec<f64>>,
}

impl EnergyCurves {
    /// The curve of a measure by name (`pre`, `ap`, `st`, `ec`), where present.
    pub fn get(&self, measure: &str) -> Option<&Vec<f64>> {
        match measure {
            "pre" => Some(&self.pre),
            "ap" => Some(&self.ap),
            "st" => self.st.as_ref(),
            "ec" => self.ec.as_ref(),
            _ => None,
        }
    }
}

/// Energy curves of a run.
///
/// `st` uses the identity mean_j sum_i r_i |W_ij| = (1/n_units) sum_i r_i (sum_j |W_ij|), so it
/// costs O(units) per sequence instead of a matrix product (never a batch x n x n tensor).
/// As in docs/SPEC.md, `st` counts relu(a) of every unit, lesioned or not: a lesion acts on the
/// state passed to the next step, so all curves agree at step 1. `w` must be `[units, units]`
/// for `st`; otherwise `st` and `ec` are `None`.
pub fn energy_curves(preact: ArrayView3<f32>, w: Option<ArrayView2<f32>>) -> EnergyCurves {
    let (steps, _, n) = preact.dim();
    let mut sums = EnergySums::new(steps, n, w);
    sums.add(preact);
    sums.finish()
}

/// [`energy_curves`] summed chunk by chunk (the sequences of a set in several runs).
#[derive(Debug, Clone)]
pub struct EnergySums {
    units: usize,
    /// weight[i] = sum_j |W_ij|: everything unit i transmits per unit of activity.
    weight: Option<Vec<f64>>,
    abs: Vec<f64>,
    relu: Vec<f64>,
    st: Vec<f64>,
    seqs: usize,
}

impl EnergySums {
    /// Empty sums for `steps` steps of `units` units; `w` as in [`energy_curves`].
    pub fn new(steps: usize, units: usize, w: Option<ArrayView2<f32>>) -> Self {
        let weight = w.filter(|w| w.dim() == (units, units)).map(|w| {
            w.rows()
                .into_iter()
                .map(|r| r.iter().map(|&v| f64::from(v.abs())).sum())
                .collect()
        });
        Self {
            units,
            weight,
            abs: vec![0.0; steps],
            relu: vec![0.0; steps],
            st: vec![0.0; steps],
            seqs: 0,
        }
    }

    /// Adds the preactivations `[steps, seqs, units]` of a chunk of sequences.
    pub fn add(&mut self, preact: ArrayView3<f32>) {
        for t in 0..self.abs.len() {
            let a = preact.index_axis(Axis(0), t);
            let (mut sa, mut sr, mut ss) = (0.0f64, 0.0f64, 0.0f64);
            for row in a.rows() {
                let (mut ra, mut rr, mut rs) = (0.0f32, 0.0f32, 0.0f64);
                match &self.weight {
                    Some(c) => {
                        for (&v, &ci) in row.iter().zip(c) {
                            ra += v.abs();
                            let r = v.max(0.0);
                            rr += r;
                            rs += f64::from(r) * ci;
                        }
                    }
                    None => {
                        for &v in row.iter() {
                            ra += v.abs();
                            rr += v.max(0.0);
                        }
                    }
                }
                sa += f64::from(ra);
                sr += f64::from(rr);
                ss += rs;
            }
            self.abs[t] += sa;
            self.relu[t] += sr;
            self.st[t] += ss;
        }
        self.seqs += preact.dim().1;
    }

    /// The curves of everything added.
    pub fn finish(&self) -> EnergyCurves {
        let count = (self.seqs * self.units).max(1) as f64;
        let mean = |v: &[f64]| v.iter().map(|x| x / count).collect::<Vec<f64>>();
        let (pre, ap, st) = (mean(&self.abs), mean(&self.relu), mean(&self.st));
        let (st, ec) = if self.weight.is_some() {
            let ec = ap
                .iter()
                .zip(&st)
                .map(|(a, s)| a / 3.0 + 2.0 * s / 3.0)
                .collect();
            (Some(st), Some(ec))
        } else {
            (None, None)
        };
        EnergyCurves { pre, ap, st, ec }
    }
}

/// The model-free reference curves (SPEC.md section 5).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReferenceCurves {
    /// mean|x_t|.
    pub input: Vec<f64>,
    /// mean|x_t - median image of the training split|.
    pub dataset_median: Vec<f64>,
    /// mean|x_t - median image of x_t's class in the training split|.
    pub category_median: Vec<f64>,
}

/// Per-pixel median images of `images`: the whole set and each class (classes without images
/// get the whole-set median). Medians of an even count take the lower middle value, as
/// `torch.median` does in the published code.
pub fn median_images(images: &Images) -> (Vec<f32>, Vec<Vec<f32>>) {
    let d = images.dim();
    let by_class = images.indices_by_class();
    // Pixel-major copy with the images of each class contiguous.
    let total = images.len();
    let mut cols = vec![0.0f32; d * total];
    let mut pos = 0;
    for idx in &by_class {
        for &i in idx {
            for (p, &v) in images.image(i).iter().enumerate() {
                cols[p * total + pos] = v;
            }
            pos += 1;
        }
    }
    let mut class_med = vec![vec![0.0f32; d]; NUM_CLASSES];
    let mut overall = vec![0.0f32; d];
    for p in 0..d {
        let col = &mut cols[p * total..(p + 1) * total];
        let mut off = 0;
        for (c, idx) in by_class.iter().enumerate() {
            class_med[c][p] = stats::lower_median_in_place(&mut col[off..off + idx.len()]);
            off += idx.len();
        }
        overall[p] = stats::lower_median_in_place(col);
    }
    for (c, idx) in by_class.iter().enumerate() {
        if idx.is_empty() {
            class_med[c] = overall.clone();
        }
    }
    (overall, class_med)
}

/// Reference curves of the frames `x` (`[steps, seqs, dim]`) with labels `[seqs, steps]`.
pub fn reference_curves(
    x: ArrayView3<f32>,
    labels: ArrayView2<u8>,
    dataset_median: &[f32],
    class_medians: &[Vec<f32>],
) -> ReferenceCurves {
    let (steps, seqs, d) = x.dim();
    let count = (seqs * d).max(1) as f64;
    let mut out = ReferenceCurves {
        input: Vec::new(),
        dataset_median: Vec::new(),
        category_median: Vec::new(),
    };
    for t in 0..steps {
        let (mut a, mut b, mut c) = (0.0f64, 0.0f64, 0.0f64);
        for (s, row) in x.index_axis(Axis(0), t).rows().into_iter().enumerate() {
            let cm = &class_medians[labels[[s, t]] as usize];
            let (mut ra, mut rb, mut rc) = (0.0f32, 0.0f32, 0.0f32);
            for ((&v, &m), &k) in row.iter().zip(dataset_median).zip(cm) {
                ra += v.abs();
                rb += (v - m).abs();
                rc += (v - k).abs();
            }
            a += f64::from(ra);
            b += f64::from(rb);
            c += f64::from(rc);
        }
        out.input.push(a / count);
        out.dataset_median.push(b / count);
        out.category_median.push(c / count);
    }
    out
}

/// The prediction rule on one class's set: `last` is the preactivation at the last step of
/// every sequence ending on the class, `[seqs, units]`. Unit i predicts the class when
/// |median| - 2.576 |MAD| > 0, with the published code's median and MAD
/// ([`stats::prediction_stats`]). An empty set predicts nothing.
pub fn prediction_rule(last: ArrayView2<f32>) -> Vec<bool> {
    let n = last.ncols();
    if last.nrows() == 0 {
        return vec![false; n];
    }
    let mut col = vec![0.0f64; last.nrows()];
    (0..n)
        .map(|i| {
            for (k, v) in last.column(i).iter().enumerate() {
                col[k] = f64::from(*v);
            }
            let (m, s) = stats::prediction_stats(&col);
            m.abs() - (Z_99 * s).abs() > 0.0
        })
        .collect()
}

/// Units that predict each class: `result[c][i]` is true when unit i predicts class c.
///
/// `last` is the preactivation at the last step `[seqs, units]`, `last_labels` the class of
/// each sequence's last frame; [`prediction_rule`] runs on the sequences of each class.
pub fn prediction_units(last: ArrayView2<f32>, last_labels: &[u8]) -> Vec<Vec<bool>> {
    (0..NUM_CLASSES)
        .map(|c| {
            let rows: Vec<usize> = (0..last_labels.len())
                .filter(|&s| last_labels[s] as usize == c)
                .collect();
            prediction_rule(last.select(Axis(0), &rows).view())
        })
        .collect()
}

/// Per-class z statistics of the error-unit test, `[class][unit]` (NaN where a group is empty).
///
/// `normal` and `distractor` are the activities `[seqs, units]` at the tested frame; `normal_class`
/// is the class shown there in the normal run and `expected_class` the class the distractor
/// replaced. z = |m_n - m_d| / sqrt(v_n/n + v_d/n) with sample variances (ddof = 1) and n the
/// number of normal sequences for both groups, as the published code computes it.
pub fn error_z(
    normal: ArrayView2<f32>,
    normal_class: &[u8],
    distractor: ArrayView2<f32>,
    expected_class: &[u8],
) -> Vec<Vec<f64>> {
    let n = normal.ncols();
    let mut out = vec![vec![f64::NAN; n]; NUM_CLASSES];
    for (c, zs) in out.iter_mut().enumerate() {
        let rn: Vec<usize> = (0..normal_class.len())
            .filter(|&s| normal_class[s] as usize == c)
            .collect();
        let rd: Vec<usize> = (0..expected_class.len())
            .filter(|&s| expected_class[s] as usize == c)
            .collect();
        if rn.is_empty() || rd.is_empty() {
            continue;
        }
        let mut a = vec![0.0f64; rn.len()];
        let mut b = vec![0.0f64; rd.len()];
        for (i, z) in zs.iter_mut().enumerate() {
            for (k, &s) in rn.iter().enumerate() {
                a[k] = f64::from(normal[[s, i]]);
            }
            for (k, &s) in rd.iter().enumerate() {
                b[k] = f64::from(distractor[[s, i]]);
            }
            let (ma, va) = stats::mean_var(&a);
            let (mb, vb) = stats::mean_var(&b);
            *z = stats::welch_z(ma, va, a.len(), mb, vb, a.len());
        }
    }
    out
}

/// Error units: `result[c][i]` is true when z >= 2.576 (see [`error_z`]).
pub fn error_units(z: &[Vec<f64>]) -> Vec<Vec<bool>> {
    z.iter()
        .map(|row| row.iter().map(|&v| v >= Z_99).collect())
        .collect()
}

/// The seven unit types of SPEC.md section 6.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum UnitType {
    /// Error unit for exactly one class (and no prediction).
    E1,
    /// Error unit for several classes (and no prediction).
    E2,
    /// Prediction unit for exactly one class (and no error).
    P1,
    /// Prediction unit for several classes (and no error).
    P2,
    /// Prediction and error unit for the same class, and no across pair.
    H1,
    /// Prediction for a class it does not err and error for a class it does not predict.
    H2,
    /// Neither.
    Unspecified,
}

impl UnitType {
    /// All types in report order.
    pub const ALL: [UnitType; 7] = [
        UnitType::E1,
        UnitType::E2,
        UnitType::P1,
        UnitType::P2,
        UnitType::H1,
        UnitType::H2,
        UnitType::Unspecified,
    ];

    /// The short name (`e1`, ..., `unspecified`).
    pub fn name(self) -> &'static str {
        match self {
            UnitType::E1 => "e1",
            UnitType::E2 => "e2",
            UnitType::P1 => "p1",
            UnitType::P2 => "p2",
            UnitType::H1 => "h1",
            UnitType::H2 => "h2",
            UnitType::Unspecified => "unspecified",
        }
    }
}

/// The type of every unit from the per-class prediction and error flags (`[class][unit]`),
/// by the published decision tree: a unit is a hybrid when some class is both predicted and
/// erred ("within") or when it predicts a class it does not err and errs a class it does not
/// predict ("across"); a hybrid is `h2` when it has such an across pair, else `h1`. Other units
/// are `p1`/`p2` (prediction for one / several classes), `e1`/`e2`, or unspecified.
pub fn classify(pred: &[Vec<bool>], err: &[Vec<bool>]) -> Vec<UnitType> {
    let n = pred.first().or(err.first()).map_or(0, Vec::len);
    (0..n)
        .map(|i| {
            let p: Vec<usize> = (0..pred.len()).filter(|&c| pred[c][i]).collect();
            let e: Vec<usize> = (0..err.len()).filter(|&c| err[c][i]).collect();
            let within = p.iter().any(|c| e.contains(c));
            let only_pred = p.iter().any(|c| !e.contains(c));
            let only_err = e.iter().any(|c| !p.contains(c));
            let across = only_pred && only_err;
            match (p.len(), e.len()) {
                (0, 0) => UnitType::Unspecified,
                _ if across => UnitType::H2,
                _ if within => UnitType::H1,
                (0, 1) => UnitType::E1,
                (0, _) => UnitType::E2,
                (1, _) => UnitType::P1,
                _ => UnitType::P2,
            }
        })
        .collect()
}

/// Count of each unit type (all seven keys present).
pub fn type_counts(types: &[UnitType]) -> BTreeMap<String, usize> {
    let mut m: BTreeMap<String, usize> = UnitType::ALL
        .iter()
        .map(|t| (t.name().to_string(), 0))
        .collect();
    for t in types {
        *m.get_mut(t.name()).expect("all types present") += 1;
    }
    m
}

/// Units flagged for at least one class, ascending.
pub fn any_class(flags: &[Vec<bool>]) -> Vec<usize> {
    let n = flags.first().map_or(0, Vec::len);
    (0..n).filter(|&i| flags.iter().any(|f| f[i])).collect()
}

/// Per-class, per-pixel sample variance (ddof = 1, `torch.var`) over `images`: `[class][pixel]`
/// (a class with fewer than two images has variance 0).
pub fn class_pixel_variance(images: &Images) -> Vec<Vec<f64>> {
    let d = images.dim();
    images
        .indices_by_class()
        .iter()
        .map(|idx| {
            let n = idx.len();
            let mut sum = vec![0.0f64; d];
            let mut sq = vec![0.0f64; d];
            for &i in idx {
                for (p, &v) in images.image(i).iter().enumerate() {
                    sum[p] += f64::from(v);
                    sq[p] += f64::from(v) * f64::from(v);
                }
            }
            (0..d)
                .map(|p| {
                    if n < 2 {
                        return 0.0;
                    }
                    let m = sum[p] / n as f64;
                    ((sq[p] - n as f64 * m * m) / (n - 1) as f64).max(0.0)
                })
                .collect()
        })
        .collect()
}

/// Fig 3B as published: the median, over the units of each group, of each unit's input
/// variance (the variance of its pixel over the test images of the classes it is about).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InputVariance {
    /// Pure prediction units (p1, p2): mean over the classes c a unit predicts of the variance
    /// of class c - 1 (the input shown when the prediction of c is made).
    pub prediction: Option<f64>,
    /// Pure error units (e1, e2): mean over the classes it signals of their variance.
    pub error: Option<f64>,
    /// Hybrid units, their prediction classes (as for prediction units).
    pub hybrid_prediction: Option<f64>,
    /// Hybrid units, their error classes (as for error units).
    pub hybrid_error: Option<f64>,
    /// Unspecified units: mean over all classes.
    pub unspecified: Option<f64>,
}

/// [`InputVariance`] of units with `types` and per-class flags `pred` and `err`
/// (`[class][unit]`), from the per-class pixel variance `class_var` (`[class][pixel]`, one
/// pixel per unit).
pub fn input_variance(
    types: &[UnitType],
    pred: &[Vec<bool>],
    err: &[Vec<bool>],
    class_var: &[Vec<f64>],
) -> InputVariance {
    let k = class_var.len();
    let mean_over = |unit: usize, classes: &mut dyn Iterator<Item = usize>| {
        let v: Vec<f64> = classes.map(|c| class_var[c][unit]).collect();
        v.iter().sum::<f64>() / v.len().max(1) as f64
    };
    let predicted = |u: usize| {
        (0..k)
            .filter(move |&c| pred[c][u])
            .map(move |c| (c + k - 1) % k)
    };
    let erred = |u: usize| (0..k).filter(move |&c| err[c][u]);
    let mut groups: [Vec<f64>; 5] = Default::default();
    for (u, t) in types.iter().enumerate() {
        match t {
            UnitType::P1 | UnitType::P2 => groups[0].push(mean_over(u, &mut predicted(u))),
            UnitType::E1 | UnitType::E2 => groups[1].push(mean_over(u, &mut erred(u))),
            UnitType::H1 | UnitType::H2 => {
                groups[2].push(mean_over(u, &mut predicted(u)));
                groups[3].push(mean_over(u, &mut erred(u)));
            }
            UnitType::Unspecified => groups[4].push(mean_over(u, &mut (0..k))),
        }
    }
    let med = |v: &Vec<f64>| (!v.is_empty()).then(|| stats::median(v));
    InputVariance {
        prediction: med(&groups[0]),
        error: med(&groups[1]),
        hybrid_prediction: med(&groups[2]),
        hybrid_error: med(&groups[3]),
        unspecified: med(&groups[4]),
    }
}

/// `count` random units out of `0..n` that are not in `exclude`, seeded, ascending.
/// Takes all of them where fewer are left.
pub fn random_units(exclude: &[usize], n: usize, count: usize, seed: u64) -> Vec<usize> {
    let mut pool: Vec<usize> = (0..n).filter(|i| !exclude.contains(i)).collect();
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
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
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
