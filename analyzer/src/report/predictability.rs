//! The predictability figure: the energy saving and the prediction-lesion effect of each group
//! against the conditional entropy of the stream its networks were trained on (issue 15).

use super::figures::Figure;
use crate::intervals::Estimate;
use crate::plot::{self, Line, Panel, PALETTE};
use crate::summary::{Group, Summary};
use crate::Result;
use std::collections::BTreeMap;
use std::path::Path;

/// The family of a group's stream (`markov`, `k successors`; another order by its name),
/// from its `order` key: streams of one family differ only in their entropy.
fn family(g: &Group) -> Option<String> {
    let order = g.keys.get("order")?;
    Some(if order.contains("successors") {
        "k successors".into()
    } else {
        order.split(" (").next().unwrap_or(order).to_string()
    })
}

/// The group's keys other than the stream's and those with one value in every group
/// (`constant`), as a line label (`all` when there are none), a `config.` key by its last
/// part (`config.optim.lr` reads `lr`), led by the stream's family where the groups span
/// several (`families`).
fn series_label(g: &Group, families: bool, constant: &[&str]) -> String {
    let mut rest: Vec<String> = g
        .keys
        .iter()
        .filter(|(k, _)| k.as_str() != "order" && !k.starts_with("config.sequence"))
        .filter(|(k, _)| !constant.contains(&k.as_str()))
        .map(|(k, v)| {
            let short = k
                .strip_prefix("config.")
                .map_or(k.as_str(), |rest| rest.rsplit('.').next().unwrap_or(rest));
            format!("{short}={v}")
        })
        .collect();
    if families {
        rest.insert(0, family(g).unwrap_or_default());
    }
    if rest.is_empty() {
        "all".into()
    } else {
        rest.join(", ")
    }
}

/// Draws `predictability.{png,svg}` when the groups span at least two entropies; one line per
/// series (the other grouping keys), with the 95% intervals across instances as bands.
pub(super) fn figure(dir: &Path, s: &Summary) -> Result<Option<Figure>> {
    let mut series: BTreeMap<String, Vec<(f64, &Group)>> = BTreeMap::new();
    let mut kinds: Vec<String> = s.groups.iter().filter_map(family).collect();
    kinds.sort();
    kinds.dedup();
    // Keys with one value in every group say nothing about a line.
    let constant: Vec<&str> = s
        .groups
        .first()
        .map(|first| {
            first
                .keys
                .iter()
                .filter(|(k, v)| s.groups.iter().all(|g| g.keys.get(*k) == Some(*v)))
                .map(|(k, _)| k.as_str())
                .collect()
        })
        .unwrap_or_default();
    // Untrained networks (0 epochs: a study's baselines) are not series of the figure.
    let untrained = |g: &Group| {
        !g.models.is_empty()
            && g.models.iter().all(|name| {
                s.models
                    .iter()
                    .find(|m| &m.name == name)
                    .and_then(|m| m.metadata.get("epc.epochs_trained"))
                    .is_some_and(|e| e == "0")
            })
    };
    for g in s.groups.iter().filter(|g| !untrained(g)) {
        if let Some(h) = g.entropy {
            let label = series_label(g, kinds.len() > 1, &constant);
            series.entry(label).or_default().push((h, g));
        }
    }
    let mut levels: Vec<f64> = series.values().flatten().map(|(h, _)| *h).collect();
    levels.sort_by(f64::total_cmp);
    levels.dedup_by(|a, b| (*a - *b).abs() < 1e-9);
    if levels.len() < 2 {
        return Ok(None);
    }
    // `floor`: series with a mean below it are left out of the panel (they would flatten it).
    let panel = |title: &str,
                 y: &str,
                 pick: &dyn Fn(&Group) -> Option<Estimate>,
                 scale: f64,
                 floor: f64| {
        let lines = series
            .iter()
            .enumerate()
            .filter(|(_, (_, points))| {
                points
                    .iter()
                    .filter_map(|(_, g)| pick(g))
                    .all(|e| e.mean >= floor)
            })
            .map(|(k, (label, points))| {
                // Every entropy level on the shared axis; NaN where the series has no group.
                let at = |h: f64| {
                    points
                        .iter()
                        .find(|(x, _)| (x - h).abs() < 1e-9)
                        .and_then(|(_, g)| pick(g))
                };
                let get = |f: fn(&Estimate) -> Option<f64>| -> Vec<f64> {
                    levels
                        .iter()
                        .map(|&h| at(h).and_then(|i| f(&i)).map_or(f64::NAN, |v| scale * v))
                        .collect()
                };
                Line {
                    label: label.clone(),
                    color: PALETTE[k % PALETTE.len()],
                    values: get(|i| Some(i.mean)),
                    band: Some((get(|i| i.lo), get(|i| i.hi))),
                    // A second round of the palette is dashed, so no two lines look alike.
                    dashed: k >= PALETTE.len(),
                }
            })
            .collect();
        Panel {
            title: title.into(),
            x_label: "conditional entropy of the stream (bits)".into(),
            y_label: y.into(),
            x_start: 0,
            xs: Some(levels.clone()),
            lines,
        }
    };
    let panels = [
        panel(
            "share of the attainable saving at step 10",
            "% of (static prior - bound)",
            &|g| g.share_of_attainable,
            100.0,
            -1.0,
        ),
        panel(
            "energy saving at step 10",
            "% of the input's mean |x|",
            &|g| Some(g.saving_vs_input),
            100.0,
            f64::NEG_INFINITY,
        ),
        panel(
            "top 10% lesion minus matched random",
            "mean |a|, steps 2..10",
            &|g| {
                g.dose_response
                    .iter()
                    .find(|d| (d.fraction - 0.1).abs() < 1e-9)
                    .and_then(|d| d.difference)
            },
            1.0,
            f64::NEG_INFINITY,
        ),
    ];
    plot::line_panels(dir, "predictability", &panels)?;
    Ok(Some(Figure {
        stem: "predictability",
        title: "Predictability: saving and lesion effect against the stream's entropy",
        caption: format!(
            "Per group, against the conditional entropy of the class stream its networks were trained on (0 bits: deterministic; {:.2}: random): the share of the attainable saving at step 10, (static prior - pre) / (static prior - the stream's L1-optimal bound), undefined where nothing is attainable beyond the static prior (the random stream); the energy saved relative to the input (1 - pre/input); and the lesion of the top 10% of the lesionable units by the prediction statistic beyond as many activity-matched random units (mean over steps 2..10 of pre; the same dose for every network). Series that fall below -100% of the attainable saving (controls that spend more than the static prior) are left out of the first panel, and groups of untrained networks (0 epochs, a study's baselines) are not drawn; their values are in groups.csv. Bands: 95% intervals across instances (see the report's interval method).",
            epc_core::sequence::MAX_ENTROPY_BITS
        ),
    }))
}
