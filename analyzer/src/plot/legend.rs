//! The legend strip of line panels with many lines: one legend below the panels instead of
//! one inside each panel, where it would cover the lines.

use super::{s, Panel, FONT};
use plotters::coord::Shift;
use plotters::prelude::*;

/// Panels with more lines than this share one legend strip below them instead of a legend
/// inside each panel (which would cover the lines).
const INSIDE_LEGEND_MAX: usize = 4;
/// Columns and row height of the shared legend strip.
const LEGEND_COLUMNS: usize = 3;
const LEGEND_ROW: u32 = 18;

/// Every line label of `panels` once, in first-seen order, with its colour and dash.
pub(super) fn legend_entries(panels: &[Panel]) -> Vec<(String, RGBColor, bool)> {
    let mut out: Vec<(String, RGBColor, bool)> = Vec::new();
    for l in panels.iter().flat_map(|p| &p.lines) {
        if !out.iter().any(|(label, _, _)| label == &l.label) {
            out.push((l.label.clone(), l.color, l.dashed));
        }
    }
    out
}

/// The height of the shared legend strip of `panels` (0 without one).
pub(super) fn legend_height(panels: &[Panel]) -> u32 {
    if shared_legend(panels) {
        legend_entries(panels).len().div_ceil(LEGEND_COLUMNS) as u32 * LEGEND_ROW + 12
    } else {
        0
    }
}

/// Whether `panels` get the shared legend strip.
pub(super) fn shared_legend(panels: &[Panel]) -> bool {
    panels.iter().any(|p| p.lines.len() > INSIDE_LEGEND_MAX)
}

/// Draws `entries` in [`LEGEND_COLUMNS`] columns into `area`.
pub(super) fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[(String, RGBColor, bool)],
) -> std::result::Result<(), String> {
    let (w, _) = area.dim_in_pixel();
    let col = (w as i32 - 24) / LEGEND_COLUMNS as i32;
    for (i, (label, color, dashed)) in entries.iter().enumerate() {
        let x = 12 + (i % LEGEND_COLUMNS) as i32 * col;
        let y = 6 + (i / LEGEND_COLUMNS) as i32 * LEGEND_ROW as i32 + LEGEND_ROW as i32 / 2;
        let style = color.stroke_width(2);
        if *dashed {
            for k in 0..3 {
                area.draw(&PathElement::new(
                    vec![(x + 8 * k, y), (x + 8 * k + 5, y)],
                    style,
                ))
                .map_err(s)?;
            }
        } else {
            area.draw(&PathElement::new(vec![(x, y), (x + 22, y)], style))
                .map_err(s)?;
        }
        area.draw(&Text::new(
            label.clone(),
            (x + 28, y - 7),
            (FONT, 12).into_font().color(&BLACK),
        ))
        .map_err(s)?;
    }
    Ok(())
}
