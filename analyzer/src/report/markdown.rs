//! `report.md`: the summary's headline numbers and every figure with one line on its meaning.

use super::figures::Figure;
use crate::sequences::DISTRACTOR_AT;
use crate::summary::Summary;
use std::fmt::Write as _;

/// The Markdown report of `s` with the figures drawn.
pub(super) fn report(s: &Summary, figs: &[Figure]) -> String {
    let mut r = String::new();
    let _ = writeln!(r, "# Analysis report\n");
    let range = |v: &[usize]| {
        let (lo, hi) = (
            v.iter().min().copied().unwrap_or(0),
            v.iter().max().copied().unwrap_or(0),
        );
        if lo == hi {
            lo.to_string()
        } else {
            format!("{lo} to {hi}")
        }
    };
    let _ = writeln!(r, "Data set `{}`, seed {}, toolkit {}. Sequences of {} steps: {} test sequences (random start classes: energy, lesions); per class, {} sequences of a fixed start class in data-set order (the prediction rule, the error-unit test, the drives) and {} with a distractor at index {DISTRACTOR_AT} (the error-unit test). Intervals: {:?} bootstrap, {} resamples.\n", s.dataset, s.seed, s.toolkit_version, s.steps, s.sequences.test, range(&s.sequences.class), range(&s.sequences.distractor), s.bootstrap, s.resamples);
    if s.groups.len() > 1 || s.models.len() > 1 {
        let _ = writeln!(
            r,
            "## Groups\n\nGrouped by: {}. Values: mean across the group's models [95% interval].\n",
            if s.group_by.is_empty() {
                "nothing (one group)".to_string()
            } else {
                s.group_by.join(", ")
            }
        );
        let _ = writeln!(r, "| group | models | pre at step 10 | saving vs input | saving vs category median | prediction units | error units | lesion effect (pred. - random) |\n|---|---|---|---|---|---|---|---|");
        let iv = |i: &crate::stats::Interval, pct: bool| {
            if pct {
                format!(
                    "{:.1}% [{:.1}, {:.1}]",
                    100.0 * i.mean,
                    100.0 * i.lo,
                    100.0 * i.hi
                )
            } else {
                format!("{:.4} [{:.4}, {:.4}]", i.mean, i.lo, i.hi)
            }
        };
        for g in &s.groups {
            let pre = g.energy.get("pre");
            let last = pre.map_or("-".to_string(), |c| {
                let t = c.mean.len() - 1;
                format!("{:.4} [{:.4}, {:.4}]", c.mean[t], c.lo[t], c.hi[t])
            });
            let _ = writeln!(
                r,
                "| {} | {} | {last} | {} | {} | {} | {} | {} |",
                g.name,
                g.models.len(),
                iv(&g.saving_vs_input, true),
                iv(&g.saving_vs_category_median, true),
                iv(&g.prediction_fraction, true),
                iv(&g.error_fraction, true),
                g.lesion_effect
                    .as_ref()
                    .map_or("-".into(), |i| iv(i, false)),
            );
        }
        r.push('\n');
    }
    let _ = writeln!(r, "## Models\n");
    let _ = writeln!(r, "| model | path | loss | units | prediction units | error units | e1 | e2 | p1 | p2 | h1 | h2 | unspecified |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for m in &s.models {
        let types = s.unit_types.get(&m.name);
        let ty = |k: &str| types.and_then(|t| t.get(k)).copied().unwrap_or(0);
        let _ = writeln!(
            r,
            "| {} | `{}` | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            m.name,
            m.path.display(),
            m.metadata
                .get(epc_core::contract::META_LOSS)
                .map_or("?", String::as_str),
            m.n_units,
            s.prediction_units.get(&m.name).map_or(0, |u| u.count),
            s.error_units.get(&m.name).map_or(0, |u| u.count),
            ty("e1"),
            ty("e2"),
            ty("p1"),
            ty("p2"),
            ty("h1"),
            ty("h2"),
            ty("unspecified"),
        );
    }
    let _ = writeln!(r, "\n## Energy `pre` (mean |a|) per step\n");
    let mut header = String::from("| step |");
    let mut rule = String::from("|---|");
    let pre = s.energy.get("pre");
    let cols: Vec<(String, Vec<f64>)> = pre
        .into_iter()
        .flat_map(|per| per.iter().map(|(k, v)| (k.clone(), v.clone())))
        .chain(s.lesion.prediction.get("pre").into_iter().flat_map(|per| {
            per.iter()
                .map(|(k, v)| (format!("{k} pred. lesion"), v.clone()))
        }))
        .chain(s.lesion.random.get("pre").into_iter().flat_map(|per| {
            per.iter()
                .map(|(k, v)| (format!("{k} random lesion"), v.clone()))
        }))
        .chain([
            (
                "dataset median".to_string(),
                s.reference.dataset_median.clone(),
            ),
            (
                "category median".to_string(),
                s.reference.category_median.clone(),
            ),
        ])
        .collect();
    for (k, _) in &cols {
        let _ = write!(header, " {k} |");
        rule.push_str("---|");
    }
    let _ = writeln!(r, "{header}\n{rule}");
    for t in 0..s.steps {
        let _ = write!(r, "| {} |", t + 1);
        for (_, v) in &cols {
            let _ = write!(r, " {:.4} |", v.get(t).copied().unwrap_or(f64::NAN));
        }
        r.push('\n');
    }
    r.push_str(&super::populations::section(s));
    let _ = writeln!(r, "\n## Figures\n");
    for f in figs {
        let _ = writeln!(
            r,
            "### {}\n\n![{}]({}.png)\n\n{} ([SVG]({}.svg))\n",
            f.title, f.title, f.stem, f.caption, f.stem
        );
    }
    if !s.notes.is_empty() {
        let _ = writeln!(r, "## Notes\n");
        for n in &s.notes {
            let _ = writeln!(r, "- {n}");
        }
    }
    let _ = writeln!(r, "\nTables: `energy.csv`, `lesion.csv`, `ci.csv`, `units.csv`, `input_variance.csv`, `drive.csv`, `postsynaptic.csv`, `groups.csv`, `internal_drive.csv`; everything in `summary.json`.");
    r
}
