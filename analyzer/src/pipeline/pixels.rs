//! Per-pixel views of a model's units (the unit map, Fig 3B) and the postsynaptic drive of
//! Fig 4C: what the figures of pixel-mapped models read.

use crate::analysis::UnitType;
use crate::summary::Postsynaptic;
use epc_core::NUM_CLASSES;

/// Unit types and unit sets re-indexed by pixel (`[pixel]`), for the unit map and the input
/// variance: step-v1 models whose units are the pixels, and step-v2 models in which every
/// pixel is the receptive field of exactly one unit.
pub(super) struct PixelView {
    /// The unit of each pixel.
    pub units: Vec<usize>,
    pub types: Vec<UnitType>,
    pub pred: Vec<Vec<bool>>,
    pub err: Vec<Vec<bool>>,
}

impl PixelView {
    pub fn new(
        v1: bool,
        layout: &epc_core::layout::Layout,
        dim: usize,
        n: usize,
        types: &[UnitType],
        pred: &[Vec<bool>],
        err: &[Vec<bool>],
    ) -> Option<Self> {
        let map: Vec<usize> = if v1 {
            (n == dim).then(|| (0..n).collect())?
        } else {
            layout
                .pixel_units(dim)
                .into_iter()
                .collect::<Option<Vec<_>>>()?
        };
        let pick = |flags: &[Vec<bool>]| -> Vec<Vec<bool>> {
            flags
                .iter()
                .map(|f| map.iter().map(|&u| f[u]).collect())
                .collect()
        };
        Some(Self {
            types: map.iter().map(|&u| types[u]).collect(),
            pred: pick(pred),
            err: pick(err),
            units: map,
        })
    }
}

/// Fig 4C as published: the postsynaptic drive h_i * sum_j W_ij of the state after the target
/// preceded by k = 0..8 frames (`state_means[target][k]`, the mean state over the sequences),
/// averaged over the prediction units of the class before the target (`previous`, on the
/// stream's path) and over the target's error units that are not among them.
pub(super) fn postsynaptic(
    w: ndarray::ArrayView2<f32>,
    state_means: &[Vec<Vec<f64>>],
    pred: &[Vec<bool>],
    err: &[Vec<bool>],
    target: usize,
    previous: usize,
) -> Postsynaptic {
    let n = w.nrows();
    let rowsum: Vec<f64> = w
        .rows()
        .into_iter()
        .map(|r| r.iter().map(|&v| f64::from(v)).sum())
        .collect();
    let p: Vec<usize> = (0..n).filter(|&i| pred[previous][i]).collect();
    let e: Vec<usize> = (0..n)
        .filter(|&i| err[target][i] && !p.contains(&i))
        .collect();
    let curve = |units: &[usize]| {
        (!units.is_empty()).then(|| {
            (0..NUM_CLASSES - 1)
                .map(|k| {
                    let h = &state_means[target][k];
                    units.iter().map(|&i| h[i] * rowsum[i]).sum::<f64>() / units.len() as f64
                })
                .collect()
        })
    };
    Postsynaptic {
        prediction: curve(&p),
        error: curve(&e),
        prediction_units: p.len(),
        error_units: e.len(),
    }
}
