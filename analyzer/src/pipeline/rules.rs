//! The unit rules as one pass over the class sets: the published prediction rule, the
//! published error test (normal against distractor sequences) and the stimulus-matched error
//! test (the same images expected against unexpected), for a model or for a baseline.

use super::passes::{self, Runner};
use super::Context;
use crate::analysis;
use crate::sequences::DISTRACTOR_AT;
use crate::stats::{welch_z, Moments, Z_99};
use crate::Result;
use epc_core::NUM_CLASSES;
use ndarray::Array2;

/// What the unit rules flag, `[class][unit]`, and the prediction rule's statistic.
#[derive(Debug, Clone, Default)]
pub(crate) struct UnitRules {
    /// Prediction units by class.
    pub pred: Vec<Vec<bool>>,
    /// Per unit, the largest prediction statistic over classes (|median| - 2.576 |MAD|).
    pub margin: Vec<f64>,
    /// Error units by the published test, by class.
    pub err: Vec<Vec<bool>>,
    /// Error units by the stimulus-matched test, by class.
    pub err_matched: Vec<Vec<bool>>,
}

impl UnitRules {
    /// The counts over `units`.
    pub fn counts(&self, units: &[usize]) -> crate::controls::UnitCounts {
        crate::controls::UnitCounts::of(&self.pred, &self.err, &self.err_matched, units)
    }
}

/// The prediction flags of the last-step rows of each class, and each unit's largest
/// statistic over the classes.
fn prediction_flags(rows: &[Array2<f32>]) -> (Vec<Vec<bool>>, Vec<f64>) {
    let margins: Vec<Vec<f64>> = rows
        .iter()
        .map(|r| analysis::prediction_margin(r.view()))
        .collect();
    let n = margins.first().map_or(0, Vec::len);
    let best = (0..n)
        .map(|i| {
            margins
                .iter()
                .map(|m| m[i])
                .fold(f64::NEG_INFINITY, f64::max)
        })
        .collect();
    let flags = margins
        .iter()
        .map(|m| m.iter().map(|&v| v > 0.0).collect())
        .collect();
    (flags, best)
}

/// Per class, the units whose activity differs between the `normal` and `other` groups by
/// z >= 2.576 (`z = |m_n - m_o| / sqrt(v_n/n + v_o/n)`, `n` the normal group's count for
/// both, as published).
pub(crate) fn error_flags(normal: &[Moments], other: &[Moments]) -> Vec<Vec<bool>> {
    normal
        .iter()
        .zip(other)
        .map(|(a, b)| {
            (0..a.units())
                .map(|i| {
                    let (ma, va) = a.mean_var(i);
                    let (mb, vb) = b.mean_var(i);
                    a.n > 0 && b.n > 0 && welch_z(ma, va, a.n, mb, vb, a.n) >= Z_99
                })
                .collect()
        })
        .collect()
}

/// The prediction rule on `runner` over the ordered sets `class` (one per start class): the
/// per-class flags and each unit's largest statistic ([`prediction_flags`] of the last steps).
pub(crate) fn prediction_rule<R: Runner + ?Sized>(
    runner: &mut R,
    images: &epc_core::data::Images,
    class: &[crate::sequences::SeqSpec],
    cycle: &epc_core::sequence::ClassCycle,
) -> Result<(Flags, Vec<f64>)> {
    let rows = passes::last_step_rows(runner, images, class, cycle)?;
    Ok(prediction_flags(&rows))
}

/// Every unit rule on `runner` over the class sets of `ctx` (a baseline: the input frames, a
/// shuffled or untrained network). The analysed model itself gets the same rules from the
/// passes that also collect its drives ([`super::analyze_model`]).
pub(crate) fn unit_rules<R: Runner + ?Sized>(runner: &mut R, ctx: &Context) -> Result<UnitRules> {
    let (pred, margin) = prediction_rule(runner, ctx.images, &ctx.sets.class, &ctx.cycle)?;
    let normal = passes::index8_moments(runner, ctx.images, &ctx.sets.shuffled, |start| {
        ctx.cycle.class_at(start, DISTRACTOR_AT)
    })?;
    let (err, err_matched) = error_tests(runner, ctx, &normal)?;
    Ok(UnitRules {
        pred,
        margin,
        err,
        err_matched,
    })
}

/// Per-class unit flags, `[class][unit]`.
type Flags = Vec<Vec<bool>>;

/// The published and the stimulus-matched error flags against the `normal` group's moments.
pub(crate) fn error_tests<R: Runner + ?Sized>(
    runner: &mut R,
    ctx: &Context,
    normal: &[Moments],
) -> Result<(Flags, Flags)> {
    let distractor = passes::index8_moments(runner, ctx.images, &ctx.sets.distractor, |c| c)?;
    let unexpected = passes::index8_moments(runner, ctx.images, &ctx.sets.unexpected, |c| c)?;
    debug_assert_eq!(normal.len(), NUM_CLASSES);
    Ok((
        error_flags(normal, &distractor),
        error_flags(normal, &unexpected),
    ))
}
