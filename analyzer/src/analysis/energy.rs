//! Energy curves (the four measures) and the input and median-image reference curves.

use crate::stats;
use epc_core::data::Images;
use epc_core::NUM_CLASSES;
use ndarray::{ArrayView2, ArrayView3, Axis};

/// The four energy measures, in report order.
pub const MEASURES: [&str; 4] = ["pre", "ap", "st", "ec"];

/// Energy per step of one run (each a mean over sequences and units).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct EnergyCurves {
    /// `pre`: mean |a|.
    pub pre: Vec<f64>,
    /// `ap`: mean relu(a) (step-v2: mean |act|).
    pub ap: Vec<f64>,
    /// `st`: mean over units j of sum_i relu(a_i)|W_ij| (only with W; step-v2: the mean of the
    /// `transmission` output where the model has it).
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

/// [`energy_curves`] summed chunk by chunk (the sequences of a set in several runs), per unit,
/// so that the curves of any group of units (a population, a layer, the headline units of a
/// step-v2 model) come from the same sums.
#[derive(Debug, Clone)]
pub struct EnergySums {
    steps: usize,
    units: usize,
    /// weight[i] = sum_j |W_ij|: everything unit i transmits per unit of activity.
    weight: Option<Vec<f64>>,
    /// Whether `st` comes from a per-unit `transmission` output ([`EnergySums::add_outputs`]).
    transmission: bool,
    /// Per step and unit (`[t * units + u]`): sums of |a|, of the activity and of `st`.
    abs: Vec<f64>,
    ap: Vec<f64>,
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
            steps,
            units,
            weight,
            transmission: false,
            abs: vec![0.0; steps * units],
            ap: vec![0.0; steps * units],
            st: vec![0.0; steps * units],
            seqs: 0,
        }
    }

    /// Empty sums for a model whose `st` is its `transmission` output (step-v2): `ap` is then
    /// mean |act| and `st` mean `transmission`, added with [`EnergySums::add_outputs`].
    pub fn with_transmission(steps: usize, units: usize) -> Self {
        let mut s = Self::new(steps, units, None);
        s.transmission = true;
        s
    }

    /// Adds the preactivations `[steps, seqs, units]` of a chunk of sequences (the paper's
    /// definitions: `ap` = relu(a), `st` from `W`).
    pub fn add(&mut self, preact: ArrayView3<f32>) {
        for t in 0..self.steps {
            let a = preact.index_axis(Axis(0), t);
            let range = t * self.units..(t + 1) * self.units;
            let (abs, ap, st) = (
                &mut self.abs[range.clone()],
                &mut self.ap[range.clone()],
                &mut self.st[range],
            );
            for row in a.rows() {
                for (u, &v) in row.iter().enumerate() {
                    abs[u] += f64::from(v.abs());
                    ap[u] += f64::from(v.max(0.0));
                }
                if let Some(c) = &self.weight {
                    for ((s, &v), &ci) in st.iter_mut().zip(row.iter()).zip(c) {
                        *s += f64::from(v.max(0.0)) * ci;
                    }
                }
            }
        }
        self.seqs += preact.dim().1;
    }

    /// Adds a step-v2 chunk: |preact|, |act| and, where the sums were made
    /// [`EnergySums::with_transmission`], the `transmission` output (else `st` from `W` on the
    /// activity, as [`EnergySums::add`] does on relu(a)).
    pub fn add_outputs(
        &mut self,
        preact: ArrayView3<f32>,
        act: ArrayView3<f32>,
        transmission: Option<ArrayView3<f32>>,
    ) {
        for t in 0..self.steps {
            let range = t * self.units..(t + 1) * self.units;
            let (abs, ap, st) = (
                &mut self.abs[range.clone()],
                &mut self.ap[range.clone()],
                &mut self.st[range],
            );
            let a = preact.index_axis(Axis(0), t);
            let h = act.index_axis(Axis(0), t);
            for (ra, rh) in a.rows().into_iter().zip(h.rows()) {
                for ((x, y), (&va, &vh)) in abs.iter_mut().zip(ap.iter_mut()).zip(ra.iter().zip(rh))
                {
                    *x += f64::from(va.abs());
                    *y += f64::from(vh.abs());
                }
                if let (Some(c), false) = (&self.weight, self.transmission) {
                    for ((s, &v), &ci) in st.iter_mut().zip(rh.iter()).zip(c) {
                        *s += f64::from(v.abs()) * ci;
                    }
                }
            }
            if let (true, Some(tr)) = (self.transmission, transmission.as_ref()) {
                for row in tr.index_axis(Axis(0), t).rows() {
                    for (s, &v) in st.iter_mut().zip(row.iter()) {
                        *s += f64::from(v);
                    }
                }
            }
        }
        self.seqs += preact.dim().1;
    }

    /// True when the sums have an `st` measure.
    fn has_st(&self) -> bool {
        self.transmission || self.weight.is_some()
    }

    /// Each unit's mean activity (`ap`) over the steps and sequences added: what a random
    /// lesion is matched on.
    pub fn unit_activity(&self) -> Vec<f64> {
        let count = (self.seqs * self.steps).max(1) as f64;
        (0..self.units)
            .map(|u| {
                (0..self.steps)
                    .map(|t| self.ap[t * self.units + u])
                    .sum::<f64>()
                    / count
            })
            .collect()
    }

    /// The curves of everything added, over all units.
    pub fn finish(&self) -> EnergyCurves {
        self.finish_over(&(0..self.units).collect::<Vec<_>>())
    }

    /// The curves of everything added, over the given units.
    pub fn finish_over(&self, units: &[usize]) -> EnergyCurves {
        let count = (self.seqs * units.len()).max(1) as f64;
        let mean = |v: &[f64]| -> Vec<f64> {
            (0..self.steps)
                .map(|t| {
                    let row = &v[t * self.units..(t + 1) * self.units];
                    units.iter().map(|&u| row[u]).sum::<f64>() / count
                })
                .collect()
        };
        let (pre, ap) = (mean(&self.abs), mean(&self.ap));
        let (st, ec) = if self.has_st() {
            let st = mean(&self.st);
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
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct ReferenceCurves {
    /// mean|x_t|.
    pub input: Vec<f64>,
    /// mean|x_t - median image of the training split|.
    pub dataset_median: Vec<f64>,
    /// mean|x_t - median image of x_t's class in the training split|: the oracle that knows
    /// each frame's class.
    pub category_median: Vec<f64>,
    /// The stream's bound: mean|x_t - the L1-optimal prediction of x_t given the previous
    /// frame's class| (the dataset median at step 1). Equal to `category_median` from step 2
    /// on for the deterministic streams; near `dataset_median` for the random one. For a
    /// moving stream, that prediction placed where the digit is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound: Option<Vec<f64>>,
    /// A moving stream's persistence reference: the stream's prediction placed where the
    /// previous frame's digit was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persistence: Option<Vec<f64>>,
    /// A moving stream's constant-velocity extrapolation: the stream's prediction placed
    /// where the last two positions extrapolate to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extrapolation: Option<Vec<f64>>,
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

/// Reference curves of the frames `x` (`[steps, seqs, dim]`) with labels `[seqs, steps]`
/// against the median images of a static stream.
pub fn reference_curves(
    x: ArrayView3<f32>,
    labels: ArrayView2<u8>,
    dataset_median: &[f32],
    class_medians: &[Vec<f32>],
) -> ReferenceCurves {
    curves(
        x,
        |_, _| dataset_median,
        |s, t| &class_medians[labels[[s, t]] as usize],
    )
}

/// Reference curves of the frames `x` against reference frames of the same shape: what a
/// frame is predicted to be without its class (`dataset`) and with it (`category`). For a
/// moving stream these are the median images placed where the frame's image is.
pub fn reference_curves_against<'r>(
    x: ArrayView3<f32>,
    dataset: ArrayView3<'r, f32>,
    category: ArrayView3<'r, f32>,
) -> ReferenceCurves {
    fn row<'r>(a: ArrayView3<'r, f32>, s: usize, t: usize) -> &'r [f32] {
        a.index_axis_move(Axis(0), t)
            .index_axis_move(Axis(0), s)
            .to_slice()
            .expect("standard layout")
    }
    curves(x, |s, t| row(dataset, s, t), |s, t| row(category, s, t))
}

/// mean|x|, mean|x - dataset(s, t)| and mean|x - category(s, t)| per step, where the
/// closures give the reference row of sequence `s` at step `t`.
fn curves<'r>(
    x: ArrayView3<f32>,
    dataset: impl Fn(usize, usize) -> &'r [f32],
    category: impl Fn(usize, usize) -> &'r [f32],
) -> ReferenceCurves {
    let (steps, seqs, d) = x.dim();
    let count = (seqs * d).max(1) as f64;
    let mut out = ReferenceCurves {
        input: Vec::new(),
        dataset_median: Vec::new(),
        category_median: Vec::new(),
        bound: None,
        persistence: None,
        extrapolation: None,
    };
    for t in 0..steps {
        let (mut a, mut b, mut c) = (0.0f64, 0.0f64, 0.0f64);
        for (s, row) in x.index_axis(Axis(0), t).rows().into_iter().enumerate() {
            let (dm, cm) = (dataset(s, t), category(s, t));
            let (mut ra, mut rb, mut rc) = (0.0f32, 0.0f32, 0.0f32);
            for ((&v, &m), &k) in row.iter().zip(dm).zip(cm) {
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
