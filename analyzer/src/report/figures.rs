//! The figures of a report, composed from the summary (intervals included: they are computed
//! once, in the summary) and drawn with [`crate::plot`]. Figures of images (drives, unit map)
//! show the first model, as the published figures show one network.

use crate::analysis::MEASURES;
use crate::pipeline::{DriveGrid, ModelResult};
use crate::plot::{self, Bar, ImageRows, Line, Panel, ERROR_BLUE, PALETTE, PREDICTION_RED};
use crate::sequences::STEPS;
use crate::summary::{CiCurve, Group, Summary};
use crate::Result;
use epc_core::data::ImageShape;
use epc_core::NUM_CLASSES;
use plotters::style::RGBColor;
use std::path::Path;

/// One figure in the report: file stem, title, one-line meaning.
pub(crate) struct Figure {
    pub stem: &'static str,
    pub title: &'static str,
    pub caption: String,
}

/// The published lesion figure's colours: intact, prediction lesion, control, and ours for the
/// connection lesion.
const CONDITION_COLORS: [(&str, &str, RGBColor); 4] = [
    ("intact", "intact", RGBColor(0xee, 0x66, 0x66)),
    (
        "prediction",
        "prediction units lesioned",
        RGBColor(0xee, 0xcc, 0x55),
    ),
    (
        "random",
        "as many random units lesioned",
        RGBColor(0x5e, 0xfc, 0x03),
    ),
    (
        "connection",
        "error-to-prediction weights cut",
        RGBColor(0x94, 0x67, 0xbd),
    ),
];

/// A group's curve: the mean with its band where the group has several models.
fn group_line(label: String, color: RGBColor, c: &CiCurve, models: usize) -> Line {
    Line {
        label: if models > 1 {
            format!("{label} (mean of {models}, 95% CI)")
        } else {
            label
        },
        color,
        values: c.mean.clone(),
        band: (models > 1)
            .then(|| c.lo.clone().zip(c.hi.clone()))
            .flatten(),
        dashed: false,
    }
}

/// The dashed reference curves of the `pre` panels (the input itself only when `with_input`).
fn reference_lines(s: &Summary, with_input: bool) -> Vec<Line> {
    let r = &s.reference;
    let mut all = vec![
        ("input", &r.input, PALETTE[7]),
        ("dataset median", &r.dataset_median, PALETTE[4]),
        ("category median", &r.category_median, PALETTE[2]),
    ];
    // The stream's bound, where it is not the category median (a stream with uncertain
    // successors): what the best predictor of the next class's image reaches.
    if let Some(bound) = r.bound.as_ref().filter(|b| {
        b.iter()
            .zip(&r.category_median)
            .skip(1)
            .any(|(x, y)| (x - y).abs() > 1e-9)
    }) {
        all.push(("stream bound", bound, PALETTE[5]));
    }
    all.into_iter()
        .skip(usize::from(!with_input))
        .map(|(label, curve, color)| Line {
            label: label.into(),
            color,
            values: curve.clone(),
            band: None,
            dashed: true,
        })
        .collect()
}

fn step_panel(title: String, measure: &str, lines: Vec<Line>) -> Panel {
    Panel {
        title,
        x_label: "step".into(),
        y_label: format!("mean {measure}"),
        x_start: 1,
        xs: None,
        lines,
    }
}

/// Draws every figure the summary has data for into `dir` (PNG and SVG) and lists them.
pub(super) fn draw_all(
    dir: &Path,
    s: &Summary,
    results: &[ModelResult],
    shape: ImageShape,
) -> Result<Vec<Figure>> {
    let mut figs = Vec::new();
    energy(dir, s, &mut figs)?;
    let first = &results[0];
    drives(dir, s, first, shape, &mut figs)?;
    if let Some(types) = first
        .pixel_types
        .as_ref()
        .filter(|t| t.len() == shape.len())
    {
        plot::type_map(dir, "fig3a_unit_types", types, shape)?;
        figs.push(Figure {
            stem: "fig3a_unit_types",
            title: "Fig 3A: unit types",
            caption: format!("Model {}: each unit at its pixel's position, coloured by type (blue: error, red: prediction, yellow/orange: hybrid, grey: unspecified; light: one class, dark: several).", first.info.name),
        });
    }
    input_variance(dir, s, &mut figs)?;
    lesions(dir, s, &mut figs)?;
    postsynaptic(dir, s, &mut figs)?;
    if let Some(f) = super::predictability::figure(dir, s)? {
        figs.push(f);
    }
    learning(dir, s, &mut figs)?;
    Ok(figs)
}

/// The learning curves of the models trained by epc: validation (solid) and training
/// (dashed) loss per epoch, one colour per model.
fn learning(dir: &Path, s: &Summary, figs: &mut Vec<Figure>) -> Result<()> {
    if s.learning_curves.is_empty() {
        return Ok(());
    }
    let epochs = s
        .learning_curves
        .values()
        .flat_map(|c| c.epoch.iter().copied())
        .max()
        .unwrap_or(0);
    let padded = |c: &crate::summary::LearningCurve, loss: &[f64]| -> Vec<f64> {
        let mut v = vec![f64::NAN; epochs];
        for (&e, &l) in c.epoch.iter().zip(loss) {
            v[e - 1] = l;
        }
        v
    };
    let mut lines = Vec::new();
    for (i, (name, c)) in s.learning_curves.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        for (what, loss, dashed) in [
            ("validation", &c.val_loss, false),
            ("training", &c.train_loss, true),
        ] {
            lines.push(Line {
                label: format!("{name} {what}"),
                color,
                values: padded(c, loss),
                band: None,
                dashed,
            });
        }
    }
    let panel = Panel {
        title: "loss per epoch".into(),
        x_label: "epoch".into(),
        y_label: "loss (sum over the steps)".into(),
        x_start: 1,
        xs: None,
        lines,
    };
    plot::line_panels(dir, "learning_curves", &[panel])?;
    figs.push(Figure {
        stem: "learning_curves",
        title: "Learning curves",
        caption: "The loss of every model trained by epc, from its run folder's history.jsonl: validation loss after each epoch (solid) and mean training loss over the epoch (dashed). A curve still falling at its last epoch says the network had not converged.".into(),
    });
    Ok(())
}

/// Fig 2A: energy per step, one curve per group.
fn energy(dir: &Path, s: &Summary, figs: &mut Vec<Figure>) -> Result<()> {
    let mut panels = Vec::new();
    for m in MEASURES.iter().filter(|m| s.energy.contains_key(**m)) {
        let mut lines: Vec<Line> = s
            .groups
            .iter()
            .enumerate()
            .filter_map(|(i, g)| {
                let c = g.energy.get(*m)?;
                let label = if s.groups.len() > 1 {
                    g.name.clone()
                } else {
                    "network".into()
                };
                Some(group_line(
                    label,
                    PALETTE[i % PALETTE.len()],
                    c,
                    g.models.len(),
                ))
            })
            .collect();
        if *m == "pre" {
            lines.extend(reference_lines(s, true));
        }
        panels.push(step_panel(format!("energy: {m}"), m, lines));
    }
    plot::line_panels(dir, "fig2a_energy", &panels)?;
    figs.push(Figure {
        stem: "fig2a_energy",
        title: "Fig 2A: energy per step",
        caption: "Energy per time step on the test sequences, one curve per group of models; a network that predicts its input falls below the dataset-median curve towards the category-median curve (dashed), or, on a stream with uncertain successors, towards the stream bound (the best prediction of the next frame given the previous class).".into(),
    });
    Ok(())
}

/// Fig 2C (the sequence 0..9), Fig 4B (the target digit) and the supplementary grids.
fn drives(
    dir: &Path,
    s: &Summary,
    first: &ModelResult,
    shape: ImageShape,
    figs: &mut Vec<Figure>,
) -> Result<()> {
    if let Some(im) = &first.images {
        let g = ImageRows {
            shape,
            col_labels: (1..=STEPS).map(|t| format!("t={t}")).collect(),
            rows: vec![
                ("input x_t".into(), &im.input[..]),
                ("internal hW".into(), &im.internal[..]),
                ("total a_t".into(), &im.total[..]),
            ],
        };
        plot::image_rows(dir, "fig2c_drive", &g)?;
        figs.push(Figure {
            stem: "fig2c_drive",
            title: "Fig 2C: input, internal and total drive (sequence 0..9)",
            caption: format!("Model {}: the input, the recurrent (internal) drive h_(t-1)W and their sum a_t at each step of the first sequence 0..9 (red > 0 > blue); inhibition that mirrors the next digit is prediction.", first.info.name),
        });
    }
    let Some(internal) = &first.internal else {
        return Ok(());
    };
    let k_labels: Vec<String> = (0..STEPS).map(|k| format!("k={k}")).collect();
    let t = s.target;
    let mut rows = vec![("intact".to_string(), &internal.intact[t][..])];
    if let Some(p) = &internal.prediction {
        rows.push(("pred. lesion".into(), &p[t][..]));
    }
    if let Some(c) = &internal.class {
        rows.push((format!("class {} lesion", s.target_previous), &c[t][..]));
    }
    plot::image_rows(
        dir,
        "fig4b_internal_drive",
        &ImageRows {
            shape,
            col_labels: k_labels.clone(),
            rows,
        },
    )?;
    figs.push(Figure {
        stem: "fig4b_internal_drive",
        title: "Fig 4B: internal drive after k frames leading up to the target",
        caption: format!("Model {}: the mean over all test sequences of the internal drive h_k W after the k = 0..9 frames that lead up to digit {t}, intact, with all prediction units lesioned, and with only the prediction units of class {} lesioned (as the published pred_class_mask selects them).", first.info.name, s.target_previous),
    });
    let grids: [(&'static str, &'static str, Option<&DriveGrid>); 2] = [
        (
            "figS_internal_drive_intact",
            "Supplement: internal drive of every digit, intact",
            Some(&internal.intact),
        ),
        (
            "figS_internal_drive_lesioned",
            "Supplement: internal drive of every digit, prediction units lesioned",
            internal.prediction.as_ref(),
        ),
    ];
    for (stem, title, grid) in grids {
        let Some(grid) = grid else { continue };
        let rows = (0..NUM_CLASSES)
            .map(|d| (format!("digit {d}"), &grid[d][..]))
            .collect();
        plot::image_rows(
            dir,
            stem,
            &ImageRows {
                shape,
                col_labels: k_labels.clone(),
                rows,
            },
        )?;
        figs.push(Figure {
            stem,
            title,
            caption: format!("Model {}: row d shows the mean internal drive after k frames leading up to digit d (k = 0..9).", first.info.name),
        });
    }
    Ok(())
}

/// Fig 3B: median input variance of prediction and error units, bars across networks.
fn input_variance(dir: &Path, s: &Summary, figs: &mut Vec<Figure>) -> Result<()> {
    if s.input_variance.is_empty() {
        return Ok(());
    }
    let mean = |f: fn(&crate::analysis::InputVariance) -> Option<f64>| {
        let v: Vec<f64> = s.input_variance.values().filter_map(f).collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    };
    let ci = |k: &str| {
        s.input_variance_ci
            .as_ref()
            .and_then(|c| c.get(k))
            .and_then(|i| i.lo.zip(i.hi))
    };
    let bars = [
        Bar {
            label: "prediction".into(),
            value: mean(|v| v.prediction),
            interval: ci("prediction"),
            color: PREDICTION_RED,
        },
        Bar {
            label: "error".into(),
            value: mean(|v| v.error),
            interval: ci("error"),
            color: ERROR_BLUE,
        },
    ];
    plot::bars(
        dir,
        "fig3b_input_variance",
        "median input variance of prediction and error units",
        "variance",
        &bars,
    )?;
    figs.push(Figure {
        stem: "fig3b_input_variance",
        title: "Fig 3B: input variance of prediction and error units",
        caption: format!("Per network, the median over its prediction (error) units of the variance of the unit's pixel over the test images of the classes it predicts (signals); bars: mean over {} network(s), whiskers: 95% bootstrap interval. Prediction units sit where the input hardly varies.", s.input_variance.len()),
    });
    Ok(())
}

/// Fig 4A: lesion curves per group.
fn lesions(dir: &Path, s: &Summary, figs: &mut Vec<Figure>) -> Result<()> {
    let several = s.groups.len() > 1;
    let mut panels = Vec::new();
    for g in s.groups.iter().filter(|g| !g.lesion.is_empty()) {
        // With several groups, one `pre` panel per group; with one, every measure.
        let measures: Vec<&str> = if several {
            vec!["pre"]
        } else {
            MEASURES.to_vec()
        };
        for m in measures {
            let mut lines = Vec::new();
            for (cond, label, color) in CONDITION_COLORS {
                let c = if cond == "intact" {
                    g.energy.get(m)
                } else {
                    g.lesion.get(cond).and_then(|l| l.get(m))
                };
                if let Some(c) = c {
                    lines.push(group_line(label.into(), color, c, g.models.len()));
                }
            }
            if lines.len() < 2 {
                continue;
            }
            if m == "pre" {
                lines.extend(reference_lines(s, false));
            }
            panels.push(step_panel(lesion_title(g, m, several), m, lines));
        }
    }
    if panels.is_empty() {
        return Ok(());
    }
    plot::line_panels(dir, "fig4a_lesion", &panels)?;
    figs.push(Figure {
        stem: "fig4a_lesion",
        title: "Fig 4A: lesion study",
        caption: "Energy per step with the prediction units silenced before every step versus as many random non-prediction units, and with the weights from error to prediction units cut; if the prediction units carry the predictions, their lesion keeps energy near the dataset-median curve while a random lesion stays near the intact curve.".into(),
    });
    Ok(())
}

fn lesion_title(g: &Group, m: &str, several: bool) -> String {
    if several {
        format!("lesion: {} ({m})", g.name)
    } else {
        format!("lesion: {m}")
    }
}

/// Fig 4C: postsynaptic drive of the prediction and error units, as published (two panels).
fn postsynaptic(dir: &Path, s: &Summary, figs: &mut Vec<Figure>) -> Result<()> {
    let mut panels = Vec::new();
    for (group, label, color) in [
        ("error", "error units", ERROR_BLUE),
        ("prediction", "prediction units", PREDICTION_RED),
    ] {
        let curves: Vec<&Vec<f64>> = s
            .postsynaptic
            .values()
            .filter_map(|p| {
                if group == "error" {
                    p.error.as_ref()
                } else {
                    p.prediction.as_ref()
                }
            })
            .collect();
        let line = match (
            curves.len(),
            s.postsynaptic_ci.as_ref().and_then(|c| c.get(group)),
        ) {
            (0, _) => continue,
            (1, _) => Line {
                label: label.into(),
                color,
                values: curves[0].clone(),
                band: None,
                dashed: false,
            },
            (n, Some(c)) => group_line(label.into(), color, c, n),
            (_, None) => continue,
        };
        panels.push(Panel {
            title: format!("postsynaptic drive of the {label}"),
            x_label: "preceding frames k".into(),
            y_label: "mean h_i sum_j W_ij".into(),
            x_start: 0,
            xs: None,
            lines: vec![line],
        });
    }
    if panels.is_empty() {
        return Ok(());
    }
    plot::line_panels(dir, "fig4c_postsynaptic", &panels)?;
    figs.push(Figure {
        stem: "fig4c_postsynaptic",
        title: "Fig 4C: postsynaptic drive",
        caption: format!("Mean outgoing drive h_i sum_j W_ij of the state after digit {} preceded by k frames, for the prediction units of class {} and for the error units of class {} that are not among them (negative: they inhibit the units they project to).", s.target, s.target_previous, s.target),
    });
    Ok(())
}
