//! Energy curves (the four measures) and the input and median-image reference curves.

use crate::stats;
use epc_core::data::Images;
use epc_core::NUM_CLASSES;
use ndarray::{ArrayView2, ArrayView3, Axis};

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
