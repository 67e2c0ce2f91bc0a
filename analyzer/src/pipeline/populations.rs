//! The analyses of a multi-population (step-v2) model broken down by population and by layer:
//! energy curves, prediction and error units, and lesions within each layer.

use super::passes;
use super::Context;
use crate::analysis::{self, EnergyCurves, EnergySums, UnitType, MEASURES};
use crate::engine::StepModel;
use crate::summary::{Curves, LayerLesion, LayerSummary, PopulationReport, PopulationSummary};
use crate::Result;
use epc_core::layout::Layout;

/// A measure-by-name map of curves (the summary's shape).
pub(crate) fn measure_map(c: &EnergyCurves) -> Curves {
    MEASURES
        .iter()
        .filter_map(|m| c.get(m).map(|v| (m.to_string(), v.clone())))
        .collect()
}

/// Per population: its energy (from the intact sums), its prediction and error units and its
/// unit types; per layer the same over its populations; and over all units.
pub(super) fn breakdown(
    layout: &Layout,
    intact: &EnergySums,
    pred_units: &[usize],
    err_units: &[usize],
    types: &[UnitType],
) -> PopulationReport {
    let populations = layout
        .populations
        .iter()
        .map(|p| {
            let r = p.range();
            PopulationSummary {
                name: p.name.clone(),
                layer: p.layer,
                units: p.units,
                pixels: p.pixels.is_some(),
                lesionable: p.lesionable(),
                energy: measure_map(&intact.finish_over(&r.clone().collect::<Vec<_>>())),
                prediction_units: pred_units.iter().filter(|u| r.contains(u)).count(),
                error_units: err_units.iter().filter(|u| r.contains(u)).count(),
                unit_types: analysis::type_counts(&types[r.clone()]),
            }
        })
        .collect();
    let layers = layout
        .layers()
        .into_iter()
        .map(|layer| {
            let units = layout.layer_units(layer);
            let count = |set: &[usize]| units.iter().filter(|u| set.contains(u)).count();
            LayerSummary {
                layer,
                units: units.len(),
                energy: measure_map(&intact.finish_over(&units)),
                prediction_units: count(pred_units),
                error_units: count(err_units),
            }
        })
        .collect();
    PopulationReport {
        energy_populations: layout.energy.clone(),
        all_units: measure_map(&intact.finish()),
        populations,
        layers,
        layer_lesions: Vec::new(),
    }
}

/// Within each layer that has lesionable units: the layer's lesionable prediction units
/// silenced, and as many random lesionable non-prediction units of the same layer (fewer where
/// the layer has fewer); energy over the headline units.
pub(super) fn layer_lesions(
    model: &mut StepModel,
    ctx: &Context,
    pred_units: &[usize],
    seed: u64,
) -> Result<Vec<LayerLesion>> {
    let layout = model.layout().clone();
    let headline = layout.energy_units();
    let lesionable = layout.lesionable_units();
    let mut out = Vec::new();
    for layer in layout.layers() {
        let pool: Vec<usize> = layout
            .layer_units(layer)
            .into_iter()
            .filter(|u| lesionable.contains(u))
            .collect();
        if pool.is_empty() {
            continue; // a layer whose units own no state cannot be lesioned
        }
        let pred: Vec<usize> = pool
            .iter()
            .copied()
            .filter(|u| pred_units.contains(u))
            .collect();
        let random =
            analysis::random_units_from(&pool, &pred, pred.len(), seed ^ (layer as u64 + 1));
        let mut curves = |units: &[usize]| -> Result<Option<Curves>> {
            if units.is_empty() {
                return Ok(None);
            }
            let sums = passes::lesioned_energy(model, ctx, &layout.lesion_mask(units), None)?;
            Ok(Some(measure_map(&sums.finish_over(&headline))))
        };
        let prediction = curves(&pred)?;
        let random_curves = curves(&random)?;
        out.push(LayerLesion {
            layer,
            lesionable_units: pool.len(),
            prediction_units: pred,
            random_units: random,
            prediction: prediction.unwrap_or_default(),
            random: random_curves.unwrap_or_default(),
        });
    }
    Ok(out)
}
