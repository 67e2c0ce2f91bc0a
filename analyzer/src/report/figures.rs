//! The figures of a report, composed from the summary (intervals included: they are computed
//! once, in the summary) and drawn with [`crate::plot`].

use crate::analysis::{UnitType, MEASURES};
use crate::pipeline::ModelResult;
use crate::plot::{self, ImageRows, Line, Panel, PALETTE};
use crate::sequences::STEPS;
use crate::stats;
use crate::summary::{CiCurve, MeasureCurves, Summary};
use crate::Result;
use epc_core::data::ImageShape;
use plotters::style::RGBColor;
use std::path::Path;

/// One figure in the report: file stem, title, one-line meaning.
pub(super) struct Figure {
    pub stem: &'static str,
    pub title: &'static str,
    pub caption: String,
}

/// A line for one condition: the single model's curve, or the mean with its CI band (`ci`,
/// the summary's interval of these curves; none is drawn without it).
fn summary_line(
    label: &str,
    color: RGBColor,
    curves: &[&Vec<f64>],
    ci: Option<&CiCurve>,
) -> Option<Line> {
    match (curves.len(), ci) {
        (0, _) => None,
        (1, _) => Some(Line {
            label: label.into(),
            color,
            values: curves[0].clone(),
            band: None,
            dashed: false,
        }),
        (n, Some(c)) => Some(Line {
            label: format!("{label} (mean of {n}, 95% CI)"),
            color,
            values: c.mean.clone(),
            band: Some((c.lo.clone(), c.hi.clone())),
            dashed: false,
        }),
        (_, None) => None,
    }
}

/// The dashed reference curves of the `pre` panels (the input itself only when `with_input`).
fn reference_lines(s: &Summary, with_input: bool) -> Vec<Line> {
    let all = [
        ("input", &s.reference.input, PALETTE[7]),
        ("dataset median", &s.reference.dataset_median, PALETTE[4]),
        ("category median", &s.reference.category_median, PALETTE[2]),
    ];
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

fn curves_of<'a>(map: &'a MeasureCurves, measure: &str) -> Vec<&'a Vec<f64>> {
    map.get(measure)
        .map(|per| per.values().collect())
        .unwrap_or_default()
}

/// Draws every figure the summary has data for into `dir` (PNG and SVG) and lists them.
pub(super) fn draw_all(
    dir: &Path,
    s: &Summary,
    results: &[ModelResult],
    shape: ImageShape,
    pixel_var: &[f64],
) -> Result<Vec<Figure>> {
    let mut figs = Vec::new();
    let measures: Vec<&str> = MEASURES
        .iter()
        .copied()
        .filter(|m| s.energy.contains_key(*m))
        .collect();

    // Fig 2A: energy curves.
    let mut panels = Vec::new();
    for m in &measures {
        let mut lines = Vec::new();
        let curves = curves_of(&s.energy, m);
        if curves.len() > 1 {
            let ci = s.energy_ci.as_ref().and_then(|c| c.get(*m));
            lines.extend(summary_line("network", PALETTE[0], &curves, ci));
        } else {
            for (i, (name, c)) in s.energy[*m].iter().enumerate() {
                lines.push(Line {
                    label: name.clone(),
                    color: PALETTE[i % 10],
                    values: c.clone(),
                    band: None,
                    dashed: false,
                });
            }
        }
        if *m == "pre" {
            lines.extend(reference_lines(s, true));
        }
        panels.push(Panel {
            title: format!("energy: {m}"),
            x_label: "step".into(),
            y_label: format!("mean {m}"),
            x_start: 1,
            lines,
        });
    }
    plot::line_panels(dir, "fig2a_energy", &panels)?;
    figs.push(Figure {
        stem: "fig2a_energy",
        title: "Fig 2A: energy per step",
        caption: "Energy per time step on the test sequences; a network that predicts its input falls below the dataset-median curve towards the category-median curve (dashed).".into(),
    });

    let first = &results[0];
    let cols: Vec<String> = (1..=STEPS).map(|t| format!("t={t}")).collect();
    if let Some(im) = &first.images {
        let g = ImageRows {
            shape,
            col_labels: cols.clone(),
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
            caption: format!("Model {}: the input, the recurrent (internal) drive h_(t-1)W and their sum a_t at each step of the first deterministic sequence 0..9 (red > 0 > blue); inhibition that mirrors the next digit is prediction.", first.info.name),
        });
        if let (Some(p), Some(r)) = (&im.internal_prediction, &im.internal_random) {
            let g = ImageRows {
                shape,
                col_labels: (0..STEPS).map(|k| format!("k={k}")).collect(),
                rows: vec![
                    ("intact".into(), &im.internal[..]),
                    ("pred. lesion".into(), &p[..]),
                    ("random lesion".into(), &r[..]),
                ],
            };
            plot::image_rows(dir, "fig4b_internal_drive", &g)?;
            figs.push(Figure {
                stem: "fig4b_internal_drive",
                title: "Fig 4B: internal drive after k frames, intact and lesioned",
                caption: "What the network predicts (internal drive h W) after k = 0..9 preceding frames of the sequence 0..9, intact, with the prediction units lesioned and with as many random units lesioned.".into(),
            });
        }
    }
    if first.types.len() == shape.len() {
        plot::type_map(dir, "fig3a_unit_types", &first.types, shape)?;
        figs.push(Figure {
            stem: "fig3a_unit_types",
            title: "Fig 3A: unit types",
            caption: format!("Model {}: each unit at its pixel's position, coloured by type (e: error, p: prediction, h: hybrid; 1: one class, 2: several).", first.info.name),
        });
        let mut bars = Vec::new();
        for t in UnitType::ALL {
            // Pooled over the models: every unit of this type, its pixel's variance.
            let v: Vec<f64> = results
                .iter()
                .filter(|r| r.types.len() == shape.len())
                .flat_map(|r| {
                    r.types
                        .iter()
                        .zip(pixel_var)
                        .filter(|(ty, _)| **ty == t)
                        .map(|(_, &v)| v)
                })
                .collect();
            bars.push((
                t.name().to_string(),
                (!v.is_empty()).then(|| stats::median(&v)),
            ));
        }
        plot::bars(
            dir,
            "fig3b_input_variance",
            "median input-pixel variance per unit type",
            "variance",
            &bars,
        )?;
        figs.push(Figure {
            stem: "fig3b_input_variance",
            title: "Fig 3B: input variance per unit type",
            caption: "Median variance (over the test images) of the pixel that drives each unit, per unit type, pooled over models; prediction units sit where the input hardly varies.".into(),
        });
    }

    // Fig 4A: lesions.
    let mut panels = Vec::new();
    for m in measures
        .iter()
        .filter(|m| s.lesion.prediction.contains_key(**m))
    {
        let mut lines = Vec::new();
        for (cond, label, map, color) in [
            ("intact", "intact", &s.energy, PALETTE[0]),
            (
                "prediction",
                "prediction units lesioned",
                &s.lesion.prediction,
                PALETTE[3],
            ),
            (
                "random",
                "random units lesioned",
                &s.lesion.random,
                PALETTE[1],
            ),
        ] {
            let ci = s
                .lesion
                .ci
                .as_ref()
                .and_then(|c| c.get(cond))
                .and_then(|c| c.get(*m));
            lines.extend(summary_line(label, color, &curves_of(map, m), ci));
        }
        if *m == "pre" {
            lines.extend(reference_lines(s, false));
        }
        panels.push(Panel {
            title: format!("lesion: {m}"),
            x_label: "step".into(),
            y_label: format!("mean {m}"),
            x_start: 1,
            lines,
        });
    }
    if !panels.is_empty() {
        plot::line_panels(dir, "fig4a_lesion", &panels)?;
        figs.push(Figure {
            stem: "fig4a_lesion",
            title: "Fig 4A: lesion study",
            caption: "Energy per step with the prediction units silenced before every step versus as many random non-prediction units; if the prediction units carry the predictions, their lesion keeps energy near the dataset-median curve while a random lesion stays near the intact curve.".into(),
        });
    }

    // Fig 4C: postsynaptic drive.
    let pred: Vec<&Vec<f64>> = s
        .postsynaptic
        .values()
        .filter_map(|p| p.prediction.as_ref())
        .collect();
    let err0: Vec<&Vec<f64>> = s
        .postsynaptic
        .values()
        .filter_map(|p| p.error_class0.as_ref())
        .collect();
    if !pred.is_empty() || !err0.is_empty() {
        let ci = |group: &str| s.postsynaptic_ci.as_ref().and_then(|c| c.get(group));
        let mut lines = Vec::new();
        lines.extend(summary_line(
            "prediction units",
            PALETTE[0],
            &pred,
            ci("prediction"),
        ));
        lines.extend(summary_line(
            "error units, class 0",
            PALETTE[3],
            &err0,
            ci("error_class0"),
        ));
        let panel = Panel {
            title: "postsynaptic drive h_i * sum_j W_ij".into(),
            x_label: "preceding frames".into(),
            y_label: "mean drive".into(),
            x_start: 0,
            lines,
        };
        plot::line_panels(dir, "fig4c_postsynaptic", &[panel])?;
        figs.push(Figure {
            stem: "fig4c_postsynaptic",
            title: "Fig 4C: postsynaptic drive",
            caption: "Mean outgoing drive of the prediction units and of the class-0 error units after k preceding frames of the sequences 0..9 (negative: they inhibit the units they project to).".into(),
        });
    }
    Ok(figs)
}
