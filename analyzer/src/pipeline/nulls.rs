//! Lesions that can be compared: the prediction lesion against a null distribution of
//! activity-matched random lesions, and a dose-response curve on a fixed grid of doses.
//!
//! Every lesion of one model runs on the same first sequences of the test set, all in one
//! batched pass (a lesion mask per sequence: [`StepModel::run_rows_into`]), so that the
//! draws differ only in the units they silence.

use super::Context;
use crate::controls::{DosePoint, LesionNull, DOSE_FRACTIONS};
use crate::engine::{Activations, StepModel};
use crate::sequences::{frames, STEPS};
use crate::Result;
use epc_core::layout::Layout;
use epc_core::sequence::Sequence;
use ndarray::Axis;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// How the null distributions are drawn (`--null-draws`, `--null-sequences`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NullOptions {
    /// Random lesions of the prediction lesion's null (100).
    pub draws: usize,
    /// Random lesions at each dose of the dose-response curve (10).
    pub dose_draws: usize,
    /// Test sequences every lesion runs on (the first of the test set; 100).
    pub sequences: usize,
}

impl Default for NullOptions {
    fn default() -> Self {
        Self {
            draws: 100,
            dose_draws: 10,
            sequences: 100,
        }
    }
}

/// Units drawn at random from `pool`, one for each of `targets`, matched in mean activity:
/// the pool is cut into activity quantile bins (as many as targets, at most 10) and each
/// target's partner is drawn from the bin its own activity falls in (the nearest bin with
/// units left when that one is used up). `activity` is indexed by unit. Ascending.
pub(crate) fn matched_draw(
    pool: &[usize],
    targets: &[usize],
    activity: &[f64],
    rng: &mut ChaCha8Rng,
) -> Vec<usize> {
    let mut sorted = pool.to_vec();
    sorted.sort_by(|&a, &b| activity[a].total_cmp(&activity[b]).then(a.cmp(&b)));
    let bins = targets.len().clamp(1, 10);
    let len = sorted.len();
    let mut left: Vec<Vec<usize>> = (0..bins)
        .map(|b| sorted[b * len / bins..(b + 1) * len / bins].to_vec())
        .collect();
    let bin_of = |a: f64| {
        let rank = sorted.partition_point(|&u| activity[u] < a);
        (rank * bins / len.max(1)).min(bins - 1)
    };
    let mut order = targets.to_vec();
    order.shuffle(rng);
    let mut out = Vec::with_capacity(targets.len());
    for t in order {
        let home = bin_of(activity[t]);
        let Some(b) = (0..bins)
            .flat_map(|d| [home.checked_sub(d), Some(home + d)])
            .flatten()
            .find(|&b| b < bins && !left[b].is_empty())
        else {
            break;
        };
        let i = rng.gen_range(0..left[b].len());
        out.push(left[b].swap_remove(i));
    }
    out.sort_unstable();
    out
}

/// The lesions one model is compared under, and what they give.
pub(crate) struct Nulls {
    pub null: Option<LesionNull>,
    pub dose: Vec<DosePoint>,
    pub notes: Vec<String>,
}

/// The per-step headline `pre` of every lesion in `masks` (each over all state entries) on
/// `seqs`, batched: rows of one lesion are consecutive.
fn lesion_curves(
    model: &mut StepModel,
    ctx: &Context,
    seqs: &[Sequence],
    masks: &[Vec<f32>],
    headline: &[usize],
) -> Result<Vec<Vec<f64>>> {
    let s = seqs.len();
    // About 1,024 rows a run: enough to keep the matrix products busy, little memory.
    let per_run = (1024 / s.max(1)).max(1);
    let mut acts = Activations::empty();
    let mut out = Vec::with_capacity(masks.len());
    for group in masks.chunks(per_run) {
        epc_core::interrupt::check()?;
        let rows: Vec<Sequence> = group.iter().flat_map(|_| seqs.iter().cloned()).collect();
        let row_masks: Vec<f32> = group
            .iter()
            .flat_map(|m| std::iter::repeat_n(m.as_slice(), s).flatten().copied())
            .collect();
        let x = frames(ctx.images, &rows, STEPS);
        model.run_rows_into(x.view(), &row_masks, &mut acts)?;
        for (g, _) in group.iter().enumerate() {
            let curve = (0..STEPS)
                .map(|t| {
                    let a = acts.preact.index_axis(Axis(0), t);
                    let mut sum = 0.0f64;
                    for r in g * s..(g + 1) * s {
                        let row = a.row(r);
                        sum += headline
                            .iter()
                            .map(|&u| f64::from(row[u].abs()))
                            .sum::<f64>();
                    }
                    sum / (s * headline.len()).max(1) as f64
                })
                .collect();
            out.push(curve);
        }
    }
    Ok(out)
}

/// The mean over steps 2..10 of `lesioned - intact`.
fn effect(lesioned: &[f64], intact: &[f64]) -> f64 {
    (1..STEPS).map(|t| lesioned[t] - intact[t]).sum::<f64>() / (STEPS - 1) as f64
}

/// The matched null of the prediction lesion (`lesioned`, the lesionable prediction units)
/// and the dose-response curve of the units ranked by `margin` (the prediction rule's
/// statistic, max over classes), with random lesions matched on `activity`, all drawn from
/// `lesionable` with `seed`. `label` names the lesioned units in the notes ("prediction
/// units").
#[allow(clippy::too_many_arguments)]
pub(crate) fn lesion_nulls(
    model: &mut StepModel,
    ctx: &Context,
    layout: &Layout,
    lesionable: &[usize],
    lesioned: &[usize],
    margin: &[f64],
    activity: &[f64],
    headline: &[usize],
    seed: u64,
    opts: NullOptions,
    label: &str,
) -> Result<Nulls> {
    let mut notes = Vec::new();
    let seqs = &ctx.sets.test.seqs[..opts.sequences.min(ctx.sets.test.len())];
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6e75_6c6c);
    let mut masks = vec![vec![1.0f32; layout.state_len()]];
    // The null: the prediction lesion, then its draws.
    let pool: Vec<usize> = lesionable
        .iter()
        .copied()
        .filter(|u| lesioned.binary_search(u).is_err())
        .collect();
    let null_ok = !lesioned.is_empty() && pool.len() >= lesioned.len() && opts.draws > 0;
    if lesioned.is_empty() {
        notes.push(format!("no lesionable {label}, so there is no lesion null"));
    } else if pool.len() < lesioned.len() {
        notes.push(format!(
            "{} {label} but only {} other lesionable units: too few for an activity-matched null (none drawn)",
            lesioned.len(),
            pool.len()
        ));
    } else if pool.len() < 2 * lesioned.len() {
        notes.push(format!(
            "{} {label} against {} other lesionable units: the null's draws share most of their units, so no z is given (compare the dose-response curve instead)",
            lesioned.len(),
            pool.len()
        ));
    }
    if null_ok {
        masks.push(layout.lesion_mask(lesioned));
        for _ in 0..opts.draws {
            masks.push(layout.lesion_mask(&matched_draw(&pool, lesioned, activity, &mut rng)));
        }
    }
    // The dose grid: top-k by the rule's statistic, and matched random draws beside them.
    let mut ranked = lesionable.to_vec();
    ranked.sort_by(|&a, &b| margin[b].total_cmp(&margin[a]).then(a.cmp(&b)));
    let mut doses = Vec::new();
    for f in DOSE_FRACTIONS {
        let k = ((f * lesionable.len() as f64).round() as usize).clamp(1, lesionable.len());
        let mut top = ranked[..k].to_vec();
        top.sort_unstable();
        let rest: Vec<usize> = lesionable
            .iter()
            .copied()
            .filter(|u| top.binary_search(u).is_err())
            .collect();
        let draws = if rest.len() >= k { opts.dose_draws } else { 0 };
        masks.push(layout.lesion_mask(&top));
        for _ in 0..draws {
            masks.push(layout.lesion_mask(&matched_draw(&rest, &top, activity, &mut rng)));
        }
        doses.push((f, k, draws));
    }
    if lesionable.is_empty() {
        return Ok(Nulls {
            null: None,
            dose: Vec::new(),
            notes,
        });
    }
    let curves = lesion_curves(model, ctx, seqs, &masks, headline)?;
    let intact = &curves[0];
    let mut at = 1;
    let null = null_ok.then(|| {
        let prediction_effect = effect(&curves[1], intact);
        let null_effects: Vec<f64> = curves[2..2 + opts.draws]
            .iter()
            .map(|c| effect(c, intact))
            .collect();
        at = 2 + opts.draws;
        let (null_mean, var) = crate::stats::mean_var(&null_effects);
        let null_sd = var.sqrt();
        let below = null_effects
            .iter()
            .filter(|&&e| e < prediction_effect)
            .count();
        LesionNull {
            units: lesioned.len(),
            eligible: pool.len(),
            draws: opts.draws,
            sequences: seqs.len(),
            prediction_effect,
            null_mean,
            null_sd,
            matched_effect: prediction_effect - null_mean,
            // A pool under twice the lesion's size makes the draws share most units (a
            // note says so): their spread then says nothing about chance, so no z.
            z: (pool.len() >= 2 * lesioned.len()
                && null_sd > 1e-9 * (null_mean.abs() + prediction_effect.abs()))
            .then(|| (prediction_effect - null_mean) / null_sd),
            percentile: 100.0 * below as f64 / opts.draws as f64,
            null_effects,
        }
    });
    let dose = doses
        .into_iter()
        .map(|(fraction, units, draws)| {
            let top_effect = effect(&curves[at], intact);
            let random: Vec<f64> = curves[at + 1..at + 1 + draws]
                .iter()
                .map(|c| effect(c, intact))
                .collect();
            at += 1 + draws;
            DosePoint {
                fraction,
                units,
                top_effect,
                random_effect: (!random.is_empty())
                    .then(|| random.iter().sum::<f64>() / random.len() as f64),
                random_draws: draws,
            }
        })
        .collect();
    Ok(Nulls { null, dose, notes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matched_draws_follow_the_targets_activity() {
        // Units 0..100 with activity = unit / 100; targets are the 5 most active of 0..10
        // and 90..100 mixed; the partners must come from the same end of the range.
        let activity: Vec<f64> = (0..100).map(|u| u as f64 / 100.0).collect();
        let targets = [1, 2, 95, 96, 97];
        let pool: Vec<usize> = (0..100).filter(|u| !targets.contains(u)).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..50 {
            let d = matched_draw(&pool, &targets, &activity, &mut rng);
            assert_eq!(d.len(), 5);
            assert!(d.iter().all(|u| pool.contains(u)));
            let low = d.iter().filter(|&&u| u < 25).count();
            let high = d.iter().filter(|&&u| u >= 75).count();
            assert_eq!((low, high), (2, 3), "{d:?}");
        }
        // A pool as large as the targets: every pool unit is drawn.
        let d = matched_draw(&[7, 8], &[1, 2], &activity, &mut rng);
        assert_eq!(d, vec![7, 8]);
    }
}
