//! From per-model results to the [`Summary`]: unique model names, per-measure maps, groups and
//! the bootstrap intervals across models (computed here once; the figures read them back).

use crate::analysis::{self, EnergyCurves, MEASURES};
use crate::groups::{self, Ci};
use crate::options::GroupBy;
use crate::pipeline::{Context, ModelResult};
use crate::sequences::STEPS;
use crate::stats::BootstrapMethod;
use crate::summary::{CiCurve, LesionSummary, MeasureCurves, SequenceCounts, Summary, UnitSet};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Short unique names: the fewest trailing path components (extension dropped) that tell the
/// models apart, e.g. `seed-0` for `run/seed-0/model.onnx`, `fast/seed-0` when two runs are
/// compared; a file stem that every model shares (`model`) is left out. Numbered when even the
/// full paths coincide.
pub(crate) fn model_names(paths: &[PathBuf]) -> Vec<String> {
    let parts: Vec<Vec<String>> = paths
        .iter()
        .map(|p| {
            let mut v: Vec<String> = p
                .with_extension("")
                .components()
                .filter_map(|c| match c {
                    std::path::Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
                    _ => None,
                })
                .collect();
            if v.is_empty() {
                v.push("model".into());
            }
            v
        })
        .collect();
    let shared_stem = paths.len() > 1 && parts.iter().all(|v| v.last() == parts[0].last());
    let unique = |v: &[String]| {
        let mut s = v.to_vec();
        s.sort();
        s.dedup();
        s.len() == v.len()
    };
    let deepest = parts.iter().map(Vec::len).max().unwrap_or(1);
    for k in 1..=deepest {
        let names: Vec<String> = parts
            .iter()
            .map(|v| {
                let end = if shared_stem && v.len() > 1 {
                    v.len() - 1
                } else {
                    v.len()
                };
                let start = end.saturating_sub(k);
                v[start..end].join("/")
            })
            .collect();
        if unique(&names) {
            return names;
        }
    }
    parts
        .iter()
        .enumerate()
        .map(|(i, v)| format!("{i}-{}", v.last().map(String::as_str).unwrap_or("model")))
        .collect()
}

/// Curves per measure, per model name, of the models `curves` gives one for.
fn measure_map<'a>(
    results: &'a [ModelResult],
    curves: impl Fn(&'a ModelResult) -> Option<&'a EnergyCurves>,
) -> MeasureCurves {
    let mut out = MeasureCurves::new();
    for m in MEASURES {
        let per: BTreeMap<String, Vec<f64>> = results
            .iter()
            .filter_map(|r| Some((r.info.name.clone(), curves(r)?.get(m)?.clone())))
            .collect();
        if !per.is_empty() {
            out.insert(m.to_string(), per);
        }
    }
    out
}

/// CI per measure over the models that have the measure, where at least two do.
fn measure_ci(map: &MeasureCurves, ci: Ci) -> BTreeMap<String, CiCurve> {
    map.iter()
        .filter(|(_, per)| per.len() > 1)
        .map(|(m, per)| (m.clone(), ci.curve(&per.values().collect::<Vec<_>>())))
        .collect()
}

/// The CI of each group of curves that at least two models have; `None` with one model.
fn group_ci<'a>(
    groups: impl IntoIterator<Item = (&'static str, Vec<&'a Vec<f64>>)>,
    n_models: usize,
    ci: Ci,
) -> Option<BTreeMap<String, CiCurve>> {
    (n_models > 1).then(|| {
        groups
            .into_iter()
            .filter(|(_, curves)| curves.len() > 1)
            .map(|(k, curves)| (k.to_string(), ci.curve(&curves)))
            .collect()
    })
}

/// `f` of every model that has it, keyed by model name.
fn per_model<T>(
    results: &[ModelResult],
    f: impl Fn(&ModelResult) -> Option<T>,
) -> BTreeMap<String, T> {
    results
        .iter()
        .filter_map(|r| Some((r.info.name.clone(), f(r)?)))
        .collect()
}

/// Assembles the summary of `results` (in model order).
pub(crate) fn summary(
    dataset: &str,
    ci: Ci,
    bootstrap: BootstrapMethod,
    by: &GroupBy,
    ctx: &Context,
    results: &[ModelResult],
    notes: Vec<String>,
) -> Summary {
    let nm = results.len();
    let energy = measure_map(results, |r| Some(&r.energy));
    let lesion_pred = measure_map(results, |r| r.lesion.as_ref().map(|l| &l.prediction));
    let lesion_rand = measure_map(results, |r| r.lesion.as_ref().map(|l| &l.random));
    let lesion_conn = measure_map(results, |r| r.lesion.as_ref()?.connection.as_ref());
    let energy_ci = (nm > 1).then(|| measure_ci(&energy, ci));
    let lesion_ci = (nm > 1).then(|| {
        [
            ("intact", &energy),
            ("prediction", &lesion_pred),
            ("random", &lesion_rand),
            ("connection", &lesion_conn),
        ]
        .into_iter()
        .map(|(k, m)| (k.to_string(), measure_ci(m, ci)))
        .collect()
    });
    let postsynaptic = per_model(results, |r| r.postsynaptic.clone());
    let postsynaptic_ci = group_ci(
        [
            (
                "prediction",
                postsynaptic
                    .values()
                    .filter_map(|p| p.prediction.as_ref())
                    .collect(),
            ),
            (
                "error",
                postsynaptic
                    .values()
                    .filter_map(|p| p.error.as_ref())
                    .collect(),
            ),
        ],
        nm,
        ci,
    );
    let input_variance = per_model(results, |r| r.input_variance.clone());
    let input_variance_ci = (input_variance.len() > 1).then(|| {
        let pick = |f: fn(&analysis::InputVariance) -> Option<f64>| -> Vec<f64> {
            input_variance.values().filter_map(f).collect()
        };
        [
            ("prediction", pick(|v| v.prediction)),
            ("error", pick(|v| v.error)),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .enumerate()
        .map(|(i, (k, v))| (k.to_string(), ci.estimate(&v, 200 + i as u64)))
        .collect()
    });
    let target = ctx.target;
    let internal_drive = per_model(results, |r| {
        let g = r.internal.as_ref()?;
        let mean_row = |grid: &crate::pipeline::DriveGrid| -> Vec<f64> {
            grid[target]
                .iter()
                .map(|img| img.iter().map(|&v| f64::from(v)).sum::<f64>() / img.len().max(1) as f64)
                .collect()
        };
        let mut m = BTreeMap::new();
        m.insert("intact".to_string(), mean_row(&g.intact));
        for (k, grid) in [("prediction", &g.prediction), ("class", &g.class)] {
            if let Some(grid) = grid {
                m.insert(k.to_string(), mean_row(grid));
            }
        }
        Some(m)
    });
    let (group_by, groups) = groups::groups(by, results, ci);
    Summary {
        toolkit_version: epc_core::TOOLKIT_VERSION.to_string(),
        dataset: dataset.to_string(),
        seed: ci.seed,
        steps: STEPS,
        target,
        ci: ci.method,
        bootstrap,
        resamples: ci.resamples,
        sequences: SequenceCounts {
            test: ctx.sets.test.len(),
            class: ctx.sets.class.iter().map(|s| s.len()).collect(),
            shuffled: ctx.sets.shuffled.iter().map(|s| s.len()).collect(),
            distractor: ctx.sets.distractor.iter().map(|s| s.len()).collect(),
        },
        sequence_sets: ctx.set_infos(),
        models: results.iter().map(|r| r.info.clone()).collect(),
        group_by,
        groups,
        energy,
        energy_ci,
        reference: ctx.reference.clone(),
        prediction_units: per_model(results, |r| Some(UnitSet::from_flags(&r.pred))),
        error_units: per_model(results, |r| Some(UnitSet::from_flags(&r.err))),
        error_units_matched: per_model(results, |r| Some(UnitSet::from_flags(&r.err_matched))),
        unit_baselines: per_model(results, |r| Some(r.baselines.clone())),
        lesion_controls: per_model(results, |r| r.controls.clone()),
        spatial_rules: per_model(results, |r| r.spatial.clone()),
        share_of_attainable: per_model(results, |r| Some(groups::share_of_attainable(r))),
        unit_types: per_model(results, |r| Some(analysis::type_counts(&r.types))),
        input_variance,
        input_variance_ci,
        lesion: LesionSummary {
            size: per_model(results, |r| r.lesion.as_ref().map(|l| l.size)),
            random_units: per_model(results, |r| Some(r.lesion.as_ref()?.random_units.clone())),
            class_units: per_model(results, |r| Some(r.lesion.as_ref()?.class_units.clone())),
            prediction: lesion_pred,
            random: lesion_rand,
            connection: lesion_conn,
            ci: lesion_ci,
        },
        drive: per_model(results, |r| r.drive.clone()),
        internal_drive,
        postsynaptic,
        postsynaptic_ci,
        populations: per_model(results, |r| r.populations.clone()),
        references: BTreeMap::new(),
        learning_curves: BTreeMap::new(),
        target_previous: ctx.cycle.previous(ctx.target),
        notes,
        elapsed_s: 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::model_names;
    use std::path::PathBuf;

    fn names(paths: &[&str]) -> Vec<String> {
        model_names(&paths.iter().map(PathBuf::from).collect::<Vec<_>>())
    }

    #[test]
    fn names_take_the_fewest_components_that_differ() {
        assert_eq!(names(&["a/x.onnx", "b/y.onnx"]), ["x", "y"]);
        assert_eq!(names(&["/r/seed-0/model.onnx"]), ["model"]);
        assert_eq!(
            names(&["/r/seed-0/model.onnx", "/r/seed-1/model.onnx"]),
            ["seed-0", "seed-1"]
        );
        assert_eq!(
            names(&[
                "/t/fast/seed-0/model.onnx",
                "/t/paper/seed-0/model.onnx",
                "/t/paper/seed-1/model.onnx"
            ]),
            ["fast/seed-0", "paper/seed-0", "paper/seed-1"]
        );
        assert_eq!(names(&["m.onnx", "m.onnx"]), ["0-m", "1-m"]);
    }
}
