//! The breakdown of multi-population (step-v2) models: `populations.csv`,
//! `population_energy.csv` and the report's "Populations" section.

use super::tables::Table;
use crate::summary::{Curves, Summary};
use crate::Result;
use std::fmt::Write as _;
use std::path::Path;

/// Writes the two tables when any model has more than one population.
pub(super) fn write_tables(dir: &Path, s: &Summary) -> Result<()> {
    if s.populations.is_empty() {
        return Ok(());
    }
    let mut p = Table::create(
        dir,
        "populations.csv",
        &[
            "model",
            "population",
            "layer",
            "unit_start",
            "unit_end",
            "pixels",
            "lesionable",
            "prediction_units",
            "error_units",
            "e1",
            "e2",
            "p1",
            "p2",
            "h1",
            "h2",
            "unspecified",
        ],
    )?;
    let mut e = Table::create(
        dir,
        "population_energy.csv",
        &["step", "measure", "model", "units", "condition", "value"],
    )?;
    let mut curves = |model: &str, units: &str, condition: &str, c: &Curves| -> Result<()> {
        for (m, curve) in c {
            for (t, v) in curve.iter().enumerate() {
                e.row(&[&(t + 1), m, &model, &units, &condition, v])?;
            }
        }
        Ok(())
    };
    for (model, rep) in &s.populations {
        curves(model, "all", "intact", &rep.all_units)?;
        for q in &rep.populations {
            let t = |k: &str| q.unit_types.get(k).copied().unwrap_or(0);
            p.row(&[
                model,
                &q.name,
                &q.layer,
                &q.units[0],
                &q.units[1],
                &q.pixels,
                &q.lesionable,
                &q.prediction_units,
                &q.error_units,
                &t("e1"),
                &t("e2"),
                &t("p1"),
                &t("p2"),
                &t("h1"),
                &t("h2"),
                &t("unspecified"),
            ])?;
            curves(model, &q.name, "intact", &q.energy)?;
        }
        for l in &rep.layers {
            curves(model, &format!("layer {}", l.layer), "intact", &l.energy)?;
        }
        for l in &rep.layer_lesions {
            let units = format!("headline, layer {} lesioned", l.layer);
            curves(model, &units, "prediction lesion", &l.prediction)?;
            curves(model, &units, "random lesion", &l.random)?;
        }
    }
    p.finish()?;
    e.finish()
}

/// The report's section on populations and layers (empty when no model has several).
pub(super) fn section(s: &Summary) -> String {
    let mut r = String::new();
    if s.populations.is_empty() {
        return r;
    }
    let step = |c: &Curves, t: usize| {
        c.get("pre")
            .and_then(|v| v.get(t))
            .map_or("-".to_string(), |v| format!("{v:.4}"))
    };
    let _ = writeln!(r, "## Populations\n\nModels with several populations (step-v2), analysed per population: mean |a| (`pre`) over the population's units at steps 1 and 10, and its prediction and error units. Tables: `populations.csv`, `population_energy.csv`.\n");
    for (model, rep) in &s.populations {
        let _ = writeln!(
            r,
            "### {model}\n\nHeadline energy over: {}. All units: pre {} at step 1, {} at step 10.\n",
            rep.energy_populations.join(", "),
            step(&rep.all_units, 0),
            step(&rep.all_units, 9)
        );
        let _ = writeln!(r, "| population | layer | units | pixels | lesionable | pre step 1 | pre step 10 | prediction units | error units |\n|---|---|---|---|---|---|---|---|---|");
        for q in &rep.populations {
            let _ = writeln!(
                r,
                "| {} | {} | {}..{} | {} | {} | {} | {} | {} | {} |",
                q.name,
                q.layer,
                q.units[0],
                q.units[1],
                if q.pixels { "yes" } else { "no" },
                if q.lesionable { "yes" } else { "no" },
                step(&q.energy, 0),
                step(&q.energy, 9),
                q.prediction_units,
                q.error_units
            );
        }
        if rep.layers.len() > 1 {
            let _ = writeln!(r, "\nBy layer:\n\n| layer | units | pre step 1 | pre step 10 | prediction units | error units |\n|---|---|---|---|---|---|");
            for l in &rep.layers {
                let _ = writeln!(
                    r,
                    "| {} | {} | {} | {} | {} | {} |",
                    l.layer,
                    l.units,
                    step(&l.energy, 0),
                    step(&l.energy, 9),
                    l.prediction_units,
                    l.error_units
                );
            }
        }
        if !rep.layer_lesions.is_empty() {
            let _ = writeln!(r, "\nLesions within a layer (headline `pre` at step 10):\n\n| layer | lesionable units | prediction units silenced | pre | random units silenced | pre |\n|---|---|---|---|---|---|");
            for l in &rep.layer_lesions {
                let _ = writeln!(
                    r,
                    "| {} | {} | {} | {} | {} | {} |",
                    l.layer,
                    l.lesionable_units,
                    l.prediction_units.len(),
                    step(&l.prediction, 9),
                    l.random_units.len(),
                    step(&l.random, 9)
                );
            }
        }
        let _ = writeln!(r);
    }
    r
}
