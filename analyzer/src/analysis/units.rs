//! Prediction and error units, the unit taxonomy and the input variance of unit groups.

use crate::stats::{self, Z_99};
use epc_core::data::Images;
use epc_core::NUM_CLASSES;
use ndarray::{s, ArrayView2, ArrayView3, Axis};
use std::collections::BTreeMap;

/// The prediction rule on one class's set: `last` is the preactivation at the last step of
/// every sequence ending on the class, `[seqs, units]`. Unit i predicts the class when
/// |median| - 2.576 |MAD| > 0, with the published code's median and MAD
/// ([`stats::prediction_stats`]). An empty set predicts nothing.
pub fn prediction_rule(last: ArrayView2<f32>) -> Vec<bool> {
    prediction_margin(last)
        .into_iter()
        .map(|m| m > 0.0)
        .collect()
}

/// The statistic of the prediction rule, per unit: |median| - 2.576 |MAD| of its last-step
/// preactivation over the class's set (positive: the unit predicts the class); negative
/// infinity for an empty set. The dose-response lesion ranks units by its maximum over classes.
pub fn prediction_margin(last: ArrayView2<f32>) -> Vec<f64> {
    let n = last.ncols();
    if last.nrows() == 0 {
        return vec![f64::NEG_INFINITY; n];
    }
    let mut col = vec![0.0f64; last.nrows()];
    (0..n)
        .map(|i| {
            for (k, v) in last.column(i).iter().enumerate() {
                col[k] = f64::from(*v);
            }
            let (m, s) = stats::prediction_stats(&col);
            m.abs() - (Z_99 * s).abs()
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
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
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
    let mut m = ClassMoments::new(images.dim());
    for (i, &l) in images.labels.iter().enumerate() {
        m.add(l as usize, images.image(i));
    }
    m.variance()
}

/// Per-class running sums of values and squares, per pixel: the per-class pixel variance.
/// For a moving stream it runs over the test set's frames ([`ClassMoments::add_frames`]),
/// since there a unit's input depends on where the digit is as well as on which it is.
pub struct ClassMoments {
    n: Vec<usize>,
    sum: Vec<Vec<f64>>,
    sq: Vec<Vec<f64>>,
}

impl ClassMoments {
    /// Empty sums for frames of `dim` values.
    pub fn new(dim: usize) -> Self {
        Self {
            n: vec![0; NUM_CLASSES],
            sum: vec![vec![0.0; dim]; NUM_CLASSES],
            sq: vec![vec![0.0; dim]; NUM_CLASSES],
        }
    }

    /// Adds every frame of `x` (`[steps, seqs, dim]`) under its label (`[seqs, steps]`).
    pub fn add_frames(&mut self, x: ArrayView3<f32>, labels: ArrayView2<u8>) {
        let (steps, seqs, _) = x.dim();
        for t in 0..steps {
            for b in 0..seqs {
                let row = x.slice(s![t, b, ..]);
                self.add(
                    labels[[b, t]] as usize,
                    row.to_slice().expect("standard layout"),
                );
            }
        }
    }

    /// Adds one frame of class `class`.
    pub fn add(&mut self, class: usize, row: &[f32]) {
        self.n[class] += 1;
        for ((s, q), &v) in self.sum[class].iter_mut().zip(&mut self.sq[class]).zip(row) {
            *s += f64::from(v);
            *q += f64::from(v) * f64::from(v);
        }
    }

    /// `[class][pixel]` sample variance (ddof = 1; 0 for a class seen fewer than twice).
    pub fn variance(self) -> Vec<Vec<f64>> {
        (0..NUM_CLASSES)
            .map(|c| {
                let n = self.n[c];
                self.sum[c]
                    .iter()
                    .zip(&self.sq[c])
                    .map(|(&s, &q)| {
                        if n < 2 {
                            return 0.0;
                        }
                        let m = s / n as f64;
                        ((q - n as f64 * m * m) / (n - 1) as f64).max(0.0)
                    })
                    .collect()
            })
            .collect()
    }
}

/// Fig 3B as published: the median, over the units of each group, of each unit's input
/// variance (the variance of its pixel over the test images of the classes it is about).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct InputVariance {
    /// Pure prediction units (p1, p2): mean over the classes c a unit predicts of the variance
    /// of the class before c on the stream's path (the input shown when the prediction of c is
    /// made).
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
/// pixel per unit); `previous(c)` is the class before c on the stream's predictable path (the
/// input shown when the prediction of c is made: c - 1 on the published ascending stream).
pub fn input_variance(
    types: &[UnitType],
    pred: &[Vec<bool>],
    err: &[Vec<bool>],
    class_var: &[Vec<f64>],
    previous: impl Fn(usize) -> usize + Copy,
) -> InputVariance {
    let k = class_var.len();
    let mean_over = |unit: usize, classes: &mut dyn Iterator<Item = usize>| {
        let v: Vec<f64> = classes.map(|c| class_var[c][unit]).collect();
        v.iter().sum::<f64>() / v.len().max(1) as f64
    };
    let predicted = |u: usize| (0..k).filter(move |&c| pred[c][u]).map(previous);
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
