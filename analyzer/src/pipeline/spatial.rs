//! The spatial unit rule of a moving-digit stream ([`SpatialRule`]): which units carry the
//! digit's position, and what silencing them costs against matched random units.

use super::{nulls, Context, NullOptions};
use crate::analysis::{position_readout, RIDGE_LAMBDA};
use crate::controls::SpatialRule;
use crate::engine::StepModel;
use crate::sequences::{frames, STEPS};
use crate::Result;
use epc_core::layout::Layout;
use ndarray::{Array2, Array3};

/// The share of the lesionable units the rule lesions: the published 0.5% (at least one).
pub const SPATIAL_FRACTION: f64 = 0.005;

/// Salt of the spatial lesions' draws (so that they differ from the prediction lesion's).
const SPATIAL_SALT: u64 = 0x7370_6174;

/// What the stage needs of the model besides the model itself.
pub(crate) struct SpatialInputs<'a> {
    /// The lesion masks' layout.
    pub layout: &'a Layout,
    /// The units of the headline energy curve (what a lesion's effect is measured on).
    pub headline: &'a [usize],
    /// The units a lesion can silence (the readout's features).
    pub lesionable: &'a [usize],
    /// Mean |preact| per unit (what the random lesions are matched on).
    pub activity: &'a [f64],
    /// Seed of the lesions' draws.
    pub seed: u64,
    pub nulls: NullOptions,
}

/// The rule on `model`, or `None` when the stream does not move or nothing can be lesioned;
/// notes what it could not do.
pub(crate) fn spatial_rule(
    model: &mut StepModel,
    ctx: &Context,
    inp: &SpatialInputs,
    notes: &mut Vec<String>,
) -> Result<Option<SpatialRule>> {
    let seqs = &ctx.sets.test.seqs;
    let n = seqs.len();
    if ctx.stream.motion.is_none() || inp.lesionable.is_empty() || n < 4 {
        return Ok(None);
    }
    let fit = n / 2;
    let x = frames(ctx.images, seqs, STEPS);
    let acts = model.run(x.view(), None)?;
    // Rows sequence-major, so that the first half of the rows is the fit sequences.
    let rows = n * STEPS;
    let at = |a: &Array3<f32>, r: usize, j: usize| a[[r % STEPS, r / STEPS, j]];
    let features = Array2::from_shape_fn((rows, inp.lesionable.len()), |(r, j)| {
        at(&acts.act, r, inp.lesionable[j])
    });
    let pixels = Array2::from_shape_fn((rows, x.dim().2), |(r, j)| at(&x, r, j));
    let half = [
        ctx.images.shape.height as f64 / 2.0,
        ctx.images.shape.width as f64 / 2.0,
    ];
    let targets = Array2::from_shape_fn((rows, 2), |(r, c)| {
        let track = seqs[r / STEPS]
            .track
            .as_ref()
            .expect("a moving stream's tracks");
        f64::from(track.positions[r % STEPS][c]) + half[c]
    });
    let network = position_readout(features.view(), targets.view(), fit * STEPS, RIDGE_LAMBDA);
    let input = position_readout(pixels.view(), targets.view(), fit * STEPS, RIDGE_LAMBDA);
    // The readout weight of every unit (0 for those that cannot be lesioned), and the top.
    let mut score = vec![0.0; inp.activity.len()];
    for (&u, &w) in inp.lesionable.iter().zip(&network.scores) {
        score[u] = w;
    }
    let k = ((SPATIAL_FRACTION * inp.lesionable.len() as f64).round() as usize).max(1);
    let mut ranked = inp.lesionable.to_vec();
    ranked.sort_by(|&a, &b| score[b].total_cmp(&score[a]).then(a.cmp(&b)));
    let mut top = ranked[..k].to_vec();
    top.sort_unstable();
    let found = nulls::lesion_nulls(
        model,
        ctx,
        inp.layout,
        inp.lesionable,
        &top,
        &score,
        inp.activity,
        inp.headline,
        inp.seed ^ SPATIAL_SALT,
        inp.nulls,
        "position units",
    )?;
    notes.extend(found.notes.iter().map(|n| format!("spatial rule: {n}")));
    Ok(Some(SpatialRule {
        r2: network.r2,
        input_r2: input.r2,
        fit_sequences: fit,
        eval_sequences: n - fit,
        lambda: RIDGE_LAMBDA,
        fraction: SPATIAL_FRACTION,
        null: found.null,
        dose: found.dose,
    }))
}
