//! `report.md`: the summary's headline numbers and every figure with one line on its meaning.

use super::figures::Figure;
use crate::sequences::DISTRACTOR_AT;
use crate::summary::Summary;
use std::fmt::Write as _;

/// The Markdown report of `s` with the figures drawn.
pub(super) fn report(s: &Summary, figs: &[Figure]) -> String {
    let mut r = String::new();
    let _ = writeln!(r, "# Analysis report\n");
    let _ = writeln!(r, "Data set `{}`, seed {}, {} test sequences of {} steps ({} with a distractor at index {DISTRACTOR_AT}, {} deterministic 0..9). Toolkit {}.\n", s.dataset, s.seed, s.sequences.test, s.steps, s.sequences.distractor, s.sequences.deterministic, s.toolkit_version);
    let _ = writeln!(r, "| model | path | loss | units | prediction units | error units | lesion size |\n|---|---|---|---|---|---|---|");
    for m in &s.models {
        let _ = writeln!(
            r,
            "| {} | `{}` | {} | {} | {} | {} | {} |",
            m.name,
            m.path.display(),
            m.metadata
                .get(epc_core::contract::META_LOSS)
                .map_or("?", String::as_str),
            m.n_units,
            s.prediction_units.get(&m.name).map_or(0, |u| u.count),
            s.error_units.get(&m.name).map_or(0, |u| u.count),
            s.lesion
                .size
                .get(&m.name)
                .map_or("-".to_string(), |n| n.to_string())
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
    let _ = writeln!(r, "\nTables: `energy.csv`, `lesion.csv`, `ci.csv`, `units.csv`, `input_variance.csv`, `drive.csv`, `postsynaptic.csv`; everything in `summary.json`.");
    r
}
