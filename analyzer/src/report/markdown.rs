//! `report.md`: the summary's headline numbers and every figure with one line on its meaning.

use super::figures::Figure;
use crate::intervals::{CiMethod, Estimate};
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
    let _ = writeln!(r, "Data set `{}`, seed {}, toolkit {}. Sequences of {} steps: {} test sequences (random start classes: energy, lesions); per class, {} sequences of a fixed start class in data-set order (the prediction rule), {} shuffled ones (the normal group of the error tests), {} with a distractor at index {DISTRACTOR_AT} (the published error test) and as many with the frame before replaced (the stimulus-matched error test). {}\n", s.dataset, s.seed, s.toolkit_version, s.steps, s.sequences.test, range(&s.sequences.class), range(&s.sequences.shuffled), range(&s.sequences.distractor), interval_words(s));
    let _ = writeln!(
        r,
        "What each statistic means, its baseline and its bound: docs/STATISTICS.md.\n"
    );
    let _ = writeln!(
        r,
        "## Groups\n\nGrouped by: {}. Values: mean across the group's models [95% interval across them].\n",
        if s.group_by.is_empty() {
            "nothing (one group)".to_string()
        } else {
            s.group_by.join(", ")
        }
    );
    let _ = writeln!(r, "| group | models | share of attainable saving, t=10 | saving vs static prior | saving vs input | prediction units (input / shuffled / untrained) | matched error units (input / shuffled / untrained) | published error units (input) | lesion beyond matched null (z) |\n|---|---|---|---|---|---|---|---|---|");
    let pct = |e: &Estimate| e.format(1, true);
    let opt = |e: Option<Estimate>, f: &dyn Fn(&Estimate) -> String| {
        e.as_ref().map_or("-".to_string(), f)
    };
    for g in &s.groups {
        let base = |rule: &str| {
            let b = &g.unit_baselines[rule];
            let short =
                |e: Option<Estimate>| e.map_or("-".into(), |e| format!("{:.1}%", 100.0 * e.mean));
            format!(
                "{} ({} / {} / {})",
                pct(&b.network),
                short(b.input),
                short(b.shuffled),
                short(b.untrained)
            )
        };
        let published_error = format!(
            "{} ({})",
            pct(&g.error_fraction),
            g.unit_baselines["error"]
                .input
                .map_or("-".into(), |e| format!("{:.1}%", 100.0 * e.mean))
        );
        let _ = writeln!(
            r,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            g.name,
            g.models.len(),
            opt(g.share_of_attainable, &pct),
            pct(&g.saving_vs_static),
            pct(&g.saving_vs_input),
            base("prediction"),
            base("error_matched"),
            published_error,
            match (g.matched_lesion_effect, g.lesion_z) {
                (Some(e), Some(z)) => format!("{} (z {:.1})", e.format(4, false), z.mean),
                (Some(e), None) => e.format(4, false),
                _ => "-".into(),
            },
        );
    }
    r.push('\n');
    let _ = writeln!(r, "Unit fractions are over each model's units; the input baseline is over the pixels and is compared with the model's pixel-mapped units (`summary.json`: `unit_baselines`). The share of attainable saving is `(static prior - pre) / (static prior - bound)` with the dataset median as the static prior and the stream's L1-optimal prediction given the previous class as the bound ('-': nothing to attain beyond the static prior).\n");
    r.push_str(&lesion_section(s));
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

/// The interval method in words.
fn interval_words(s: &Summary) -> String {
    let n = s.models.len();
    let over = if n < 2 {
        "One model: no interval across instances is given.".to_string()
    } else {
        format!("Intervals: 95% over the {n} models, ")
    };
    if n < 2 {
        return over;
    }
    over + match s.ci {
        CiMethod::T => "Student t.",
        CiMethod::Hierarchical => "hierarchical bootstrap (models, then test sequences) for the savings and the share of attainable saving, Student t for the others.",
        CiMethod::Published => "the published basic bootstrap (it undercovers with few models).",
    }
}

/// The lesion controls of each model: the matched null and the dose-response curve.
fn lesion_section(s: &Summary) -> String {
    let mut r = String::new();
    if s.lesion_controls.is_empty() {
        return r;
    }
    let _ = writeln!(r, "## Lesion controls\n\nThe prediction lesion against its null: random lesions of as many lesionable non-prediction units, matched in mean activity (effect: mean over steps 2..10 of `pre`, lesioned minus intact, on the first test sequences).\n");
    let _ = writeln!(r, "| model | units | eligible | draws x sequences | prediction effect | null mean (sd) | z | percentile |\n|---|---|---|---|---|---|---|---|");
    for (m, c) in &s.lesion_controls {
        match &c.null {
            Some(n) => {
                let _ = writeln!(
                    r,
                    "| {m} | {} | {} | {} x {} | {:.4} | {:.4} ({:.4}) | {} | {:.0} |",
                    n.units,
                    n.eligible,
                    n.draws,
                    n.sequences,
                    n.prediction_effect,
                    n.null_mean,
                    n.null_sd,
                    n.z.map_or("-".into(), |z| format!("{z:.1}")),
                    n.percentile
                );
            }
            None => {
                let _ = writeln!(r, "| {m} | - | - | - | - | - | - | - |");
            }
        }
    }
    if let Some(g) = s.groups.iter().find(|g| !g.dose_response.is_empty()) {
        let _ = writeln!(r, "\nDose-response (group `{}`): the top units by the prediction statistic against as many matched random units, at the same fractions of the lesionable units for every model.\n\n| dose | units | top units | random units |\n|---|---|---|---|", g.name);
        for d in &g.dose_response {
            let _ = writeln!(
                r,
                "| {:.1}% | {:.1} | {} | {} |",
                100.0 * d.fraction,
                d.units.mean,
                d.top.format(4, false),
                d.random.map_or("-".into(), |e| e.format(4, false))
            );
        }
    }
    r.push('\n');
    r
}
