//! Groups of models (by their grouping keys) summarised across their members: every
//! statistic as a mean across the models with its interval over them ([`Ci`]), beside its
//! baselines and bounds.

use crate::analysis::{self, EnergyCurves, MEASURES};
use crate::controls::UnitCounts;
use crate::intervals::{CiMethod, Estimate};
use crate::options::{group_value, GroupBy, AUTO_GROUP_KEYS};
use crate::pipeline::{LesionResult, ModelResult};
use crate::sequences::{Stream, STEPS};
use crate::summary::{BaselineEstimates, CiCurve, Group, GroupDose};
use std::collections::BTreeMap;

/// How intervals across models are computed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ci {
    pub method: CiMethod,
    /// The published bootstrap's resamples.
    pub resamples: usize,
    pub seed: u64,
}

impl Ci {
    /// The mean of `values` with its interval (the published bootstrap resamples with
    /// `seed + salt`).
    pub fn estimate(&self, values: &[f64], salt: u64) -> Estimate {
        Estimate::of(
            values,
            self.method,
            self.resamples,
            self.seed.wrapping_add(salt),
        )
    }

    /// [`Ci::estimate`] of a fraction: the interval clipped to [0, 1], where the values
    /// live (a t interval of shares near 0 or 1 otherwise reaches past them).
    pub fn fraction(&self, values: &[f64], salt: u64) -> Estimate {
        let mut e = self.estimate(values, salt);
        e.lo = e.lo.map(|v| v.clamp(0.0, 1.0));
        e.hi = e.hi.map(|v| v.clamp(0.0, 1.0));
        e
    }

    /// Per-step means and intervals of curves (step t with salt t).
    pub fn curve(&self, curves: &[&Vec<f64>]) -> CiCurve {
        let steps = curves.first().map_or(0, |c| c.len());
        let per: Vec<Estimate> = (0..steps)
            .map(|t| {
                let v: Vec<f64> = curves.iter().map(|c| c[t]).collect();
                self.estimate(&v, t as u64)
            })
            .collect();
        let bounds = |f: fn(&Estimate) -> Option<f64>| per.iter().map(f).collect();
        CiCurve {
            mean: per.iter().map(|e| e.mean).collect(),
            lo: bounds(|e| e.lo),
            hi: bounds(|e| e.hi),
            n: curves.len(),
        }
    }
}

/// The grouping keys `by` resolves to for `results`.
fn group_keys(by: &GroupBy, results: &[ModelResult]) -> Vec<String> {
    match by {
        GroupBy::Keys(k) => k.clone(),
        GroupBy::Auto => AUTO_GROUP_KEYS
            .iter()
            .filter(|k| {
                let mut v: Vec<String> = results
                    .iter()
                    .map(|r| group_value(&r.info.metadata, k))
                    .collect();
                v.sort();
                v.dedup();
                v.len() > 1
            })
            .map(|k| k.to_string())
            .collect(),
    }
}

/// The share of the attainable saving of `pre` against the static prior and the bound at
/// each step: `(static - pre) / (static - bound)`, `None` where the bound is not at least 1%
/// of the static prior below it (nothing to attain: step 1, the random stream).
pub(crate) fn share_of_attainable(r: &ModelResult) -> Vec<Option<f64>> {
    let refs = &r.reference;
    let Some(bound) = &refs.bound else {
        return vec![None; r.energy.pre.len()];
    };
    (0..r.energy.pre.len())
        .map(|t| {
            let room = refs.dataset_median[t] - bound[t];
            (room > 0.01 * refs.dataset_median[t])
                .then(|| (refs.dataset_median[t] - r.energy.pre[t]) / room)
        })
        .collect()
}

/// Resamples of the hierarchical bootstrap (each draws every instance's sequences anew).
const HIERARCHICAL_RESAMPLES: usize = 2000;

/// A statistic of the last step, `f(pre, input, static prior, bound)` of each model's
/// means over its test sequences, across `members`; with `--ci hierarchical` its interval
/// resamples the models and then each drawn model's test sequences.
fn last_step(
    members: &[&ModelResult],
    ci: Ci,
    salt: u64,
    f: fn(f64, f64, f64, f64) -> f64,
) -> Estimate {
    let mean = |v: &[f64], picks: Option<&[usize]>| match picks {
        None => v.iter().sum::<f64>() / v.len().max(1) as f64,
        Some(p) => p.iter().map(|&s| v[s]).sum::<f64>() / p.len().max(1) as f64,
    };
    let value = |r: &ModelResult, picks: Option<&[usize]>| {
        let l = &r.last_refs;
        f(
            mean(&r.last_pre, picks),
            mean(&l.input, picks),
            mean(&l.static_prior, picks),
            mean(&l.bound, picks),
        )
    };
    let values: Vec<f64> = members.iter().map(|r| value(r, None)).collect();
    let mut e = ci.estimate(&values, salt);
    if ci.method == CiMethod::Hierarchical {
        let n_seqs: Vec<usize> = members.iter().map(|r| r.last_pre.len()).collect();
        let bounds = crate::intervals::hierarchical_bootstrap(
            &n_seqs,
            |i, picks| value(members[i], Some(picks)),
            HIERARCHICAL_RESAMPLES,
            ci.seed.wrapping_add(salt),
        );
        e.lo = bounds.map(|b| b.0);
        e.hi = bounds.map(|b| b.1);
    }
    e
}

/// The unit statistics of `members` beside their baselines, for one rule (`pick` the count).
fn baseline_estimates(
    members: &[&ModelResult],
    ci: Ci,
    salt: u64,
    pick: fn(&UnitCounts) -> usize,
) -> BaselineEstimates {
    let frac = |c: &UnitCounts| c.fraction(pick(c));
    // Every member's value, where every member has one.
    let values = |f: &dyn Fn(&ModelResult) -> Option<f64>| -> Option<Vec<f64>> {
        let v: Vec<f64> = members.iter().filter_map(|r| f(r)).collect();
        (v.len() == members.len() && !v.is_empty()).then_some(v)
    };
    // Fractions are clipped to [0, 1]; differences of fractions (the excesses) are not.
    let all = |f: &dyn Fn(&ModelResult) -> Option<f64>, k: u64| {
        values(f).map(|v| ci.fraction(&v, salt + k))
    };
    let diff = |f: &dyn Fn(&ModelResult) -> Option<f64>, k: u64| {
        values(f).map(|v| ci.estimate(&v, salt + k))
    };
    let b = |r: &ModelResult| r.baselines.clone();
    BaselineEstimates {
        network: ci.fraction(
            &members
                .iter()
                .map(|r| frac(&b(r).network))
                .collect::<Vec<_>>(),
            salt,
        ),
        network_pixels: all(&|r| b(r).network_pixels.map(|c| frac(&c)), 1),
        input: all(&|r| b(r).input.map(|c| frac(&c)), 2),
        shuffled: all(&|r| b(r).shuffled.map(|c| frac(&c)), 3),
        untrained: all(&|r| b(r).untrained.map(|c| frac(&c)), 4),
        excess_input: diff(
            &|r| Some(frac(&b(r).network_pixels?) - frac(&b(r).input?)),
            5,
        ),
        excess_shuffled: diff(&|r| Some(frac(&b(r).network) - frac(&b(r).shuffled?)), 6),
        excess_untrained: diff(&|r| Some(frac(&b(r).network) - frac(&b(r).untrained?)), 7),
    }
}

/// One group's summary across its models.
fn group(keys: BTreeMap<String, String>, members: &[&ModelResult], ci: Ci) -> Group {
    let name = if keys.is_empty() {
        "all".to_string()
    } else {
        keys.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let curves = |f: &dyn Fn(&ModelResult) -> Option<&EnergyCurves>| -> BTreeMap<String, CiCurve> {
        MEASURES
            .iter()
            .filter_map(|m| {
                let c: Vec<&Vec<f64>> = members.iter().filter_map(|r| f(r)?.get(m)).collect();
                (!c.is_empty()).then(|| (m.to_string(), ci.curve(&c)))
            })
            .collect()
    };
    let mut lesion = BTreeMap::new();
    for (cond, pick) in [
        (
            "prediction",
            (|l| Some(&l.prediction)) as fn(&LesionResult) -> Option<&EnergyCurves>,
        ),
        ("random", |l| Some(&l.random)),
        ("connection", |l| l.connection.as_ref()),
    ] {
        let c = curves(&|r| r.lesion.as_ref().and_then(pick));
        if !c.is_empty() {
            lesion.insert(cond.to_string(), c);
        }
    }
    let last = STEPS - 1;
    // Each model's statistics are measured against the references of its own stream.
    let each =
        |f: &dyn Fn(&ModelResult) -> f64| -> Vec<f64> { members.iter().map(|r| f(r)).collect() };
    let some = |f: &dyn Fn(&ModelResult) -> Option<f64>, salt: u64| {
        let v: Vec<f64> = members.iter().filter_map(|r| f(r)).collect();
        (!v.is_empty()).then(|| ci.estimate(&v, salt))
    };
    let fraction = |f: &dyn Fn(&ModelResult) -> &Vec<Vec<bool>>, salt| {
        ci.fraction(
            &each(&|r| analysis::any_class(f(r)).len() as f64 / r.info.n_units.max(1) as f64),
            salt,
        )
    };
    let pre = |r: &ModelResult| r.energy.pre[last];
    let null = |r: &ModelResult| r.controls.as_ref().and_then(|c| c.null.clone());
    let shares: Vec<Option<f64>> = members
        .iter()
        .map(|r| share_of_attainable(r)[last])
        .collect();
    let streams: Vec<Stream> = members.iter().map(|r| r.stream.clone()).collect();
    let shared_stream = streams.windows(2).all(|w| w[0] == w[1]);
    let mut unit_baselines = BTreeMap::new();
    for (k, (salt, pick)) in [
        (
            "prediction",
            (110, (|c| c.prediction) as fn(&UnitCounts) -> usize),
        ),
        ("error", (120, |c| c.error)),
        ("error_matched", (130, |c| c.error_matched)),
    ] {
        unit_baselines.insert(k.to_string(), baseline_estimates(members, ci, salt, pick));
    }
    Group {
        name,
        keys,
        models: members.iter().map(|r| r.info.name.clone()).collect(),
        energy: curves(&|r| Some(&r.energy)),
        lesion,
        reference: shared_stream.then(|| members[0].reference.clone()),
        share_of_attainable: (shares.iter().all(Option::is_some) && !shares.is_empty())
            .then(|| last_step(members, ci, 106, |pre, _, st, b| (st - pre) / (st - b))),
        saving_vs_static: last_step(members, ci, 107, |pre, _, st, _| 1.0 - pre / st),
        saving_vs_input: last_step(members, ci, 103, |pre, input, _, _| 1.0 - pre / input),
        saving_vs_category_median: ci.estimate(
            &each(&|r| {
                let (input, cat) = (r.reference.input[last], r.reference.category_median[last]);
                (input - pre(r)) / (input - cat)
            }),
            104,
        ),
        prediction_fraction: fraction(&|r| &r.pred, 101),
        error_fraction: fraction(&|r| &r.err, 102),
        error_matched_fraction: fraction(&|r| &r.err_matched, 108),
        unit_baselines,
        lesion_effect: some(
            &|r| {
                let l = r.lesion.as_ref()?;
                Some(
                    (1..STEPS)
                        .map(|t| l.prediction.pre[t] - l.random.pre[t])
                        .sum::<f64>()
                        / (STEPS - 1) as f64,
                )
            },
            105,
        ),
        matched_lesion_effect: some(&|r| Some(null(r)?.matched_effect), 140),
        lesion_z: some(&|r| null(r)?.z, 141),
        lesion_percentile: some(&|r| Some(null(r)?.percentile), 142),
        dose_response: dose_response(members, ci),
        spatial_r2: some(&|r| Some(r.spatial.as_ref()?.r2), 160),
        spatial_input_r2: some(&|r| Some(r.spatial.as_ref()?.input_r2), 161),
        spatial_matched_effect: some(
            &|r| Some(r.spatial.as_ref()?.null.as_ref()?.matched_effect),
            162,
        ),
        entropy: {
            let h: Vec<f64> = streams.iter().map(Stream::entropy_bits).collect();
            h.first()
                .copied()
                .filter(|&a| h.iter().all(|&b| (a - b).abs() < 1e-9))
        },
    }
}

/// The group's dose-response curve: per dose of the grid, across the models that have it.
fn dose_response(members: &[&ModelResult], ci: Ci) -> Vec<GroupDose> {
    let doses: Vec<&Vec<crate::controls::DosePoint>> = members
        .iter()
        .filter_map(|r| Some(&r.controls.as_ref()?.dose))
        .filter(|d| !d.is_empty())
        .collect();
    let Some(first) = doses.first() else {
        return Vec::new();
    };
    (0..first.len())
        .map(|i| {
            let at: Vec<&crate::controls::DosePoint> = doses.iter().map(|d| &d[i]).collect();
            let random: Vec<f64> = at.iter().filter_map(|p| p.random_effect).collect();
            let difference: Vec<f64> = at
                .iter()
                .filter_map(|p| Some(p.top_effect - p.random_effect?))
                .collect();
            GroupDose {
                fraction: at[0].fraction,
                units: ci.estimate(&at.iter().map(|p| p.units as f64).collect::<Vec<_>>(), 150),
                top: ci.estimate(&at.iter().map(|p| p.top_effect).collect::<Vec<_>>(), 151),
                random: (!random.is_empty()).then(|| ci.estimate(&random, 152)),
                difference: (!difference.is_empty()).then(|| ci.estimate(&difference, 153)),
            }
        })
        .collect()
}

/// The groups of `results` under `by`, in order of first appearance.
pub(crate) fn groups(by: &GroupBy, results: &[ModelResult], ci: Ci) -> (Vec<String>, Vec<Group>) {
    let keys = group_keys(by, results);
    let mut order: Vec<BTreeMap<String, String>> = Vec::new();
    let mut members: Vec<Vec<&ModelResult>> = Vec::new();
    for r in results {
        let values: BTreeMap<String, String> = keys
            .iter()
            .map(|k| (k.clone(), group_value(&r.info.metadata, k)))
            .collect();
        match order.iter().position(|v| *v == values) {
            Some(i) => members[i].push(r),
            None => {
                order.push(values);
                members.push(vec![r]);
            }
        }
    }
    let groups = order
        .into_iter()
        .zip(&members)
        .map(|(k, m)| group(k, m, ci))
        .collect();
    (keys, groups)
}
