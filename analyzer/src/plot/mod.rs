//! Figures with plotters, each written as PNG and SVG. Text uses the embedded DejaVu Sans
//! (no system fonts are needed).

use crate::analysis::UnitType;
use crate::{Error, Result};
use epc_core::data::ImageShape;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;
use std::sync::Once;

const FONT: &str = "sans-serif";
static FONT_BYTES: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");
static REGISTER: Once = Once::new();

fn register_font() {
    REGISTER.call_once(|| {
        // The embedded font is known to parse; failure would only mean unreadable text.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, FONT_BYTES);
        let _ = plotters::style::register_font(FONT, FontStyle::Bold, FONT_BYTES);
    });
}

/// Colours of the lines (Category10).
pub(crate) const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// One curve of a line panel.
#[derive(Debug, Clone)]
pub(crate) struct Line {
    pub label: String,
    pub color: RGBColor,
    pub values: Vec<f64>,
    /// Lower and upper band (a CI), drawn shaded.
    pub band: Option<(Vec<f64>, Vec<f64>)>,
    pub dashed: bool,
}

/// One panel of line curves over steps.
#[derive(Debug, Clone)]
pub(crate) struct Panel {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    /// x of the first value (1 for steps, 0 for preceding frames).
    pub x_start: usize,
    /// Explicit x of every value (ascending), instead of `x_start`, `x_start + 1`, ...
    pub xs: Option<Vec<f64>>,
    pub lines: Vec<Line>,
}

fn plot_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Plot {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

mod legend;
use legend::{draw_legend, legend_entries, legend_height, shared_legend};

macro_rules! draw_both {
    ($dir:expr, $stem:expr, $size:expr, |$root:ident| $body:expr) => {{
        register_font();
        let png = $dir.join(format!("{}.png", $stem));
        {
            let $root = BitMapBackend::new(&png, $size).into_drawing_area();
            let r: std::result::Result<(), String> = $body;
            r.map_err(|e| plot_err(&png, e))?;
            $root.present().map_err(|e| plot_err(&png, e))?;
        }
        let svg = $dir.join(format!("{}.svg", $stem));
        {
            let $root = SVGBackend::new(&svg, $size).into_drawing_area();
            let r: std::result::Result<(), String> = $body;
            r.map_err(|e| plot_err(&svg, e))?;
            $root.present().map_err(|e| plot_err(&svg, e))?;
        }
        Ok::<(), Error>(())
    }};
}

fn s<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

fn draw_panels<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    panels: &[Panel],
) -> std::result::Result<(), String> {
    root.fill(&WHITE).map_err(s)?;
    let shared = shared_legend(panels);
    let root = if shared {
        let (_, h) = root.dim_in_pixel();
        let (top, bottom) = root.split_vertically(h - legend_height(panels));
        draw_legend(&bottom, &legend_entries(panels))?;
        top
    } else {
        root.clone()
    };
    let areas = root.split_evenly((1, panels.len().max(1)));
    for (area, p) in areas.iter().zip(panels) {
        let n = p
            .lines
            .iter()
            .map(|l| l.values.len())
            .max()
            .unwrap_or(1)
            .max(1);
        let mut lo = f64::INFINITY;
        let mut hi = f64::NEG_INFINITY;
        for l in &p.lines {
            let band = l.band.iter().flat_map(|(a, b)| a.iter().chain(b.iter()));
            for &v in l.values.iter().chain(band).filter(|v| v.is_finite()) {
                lo = lo.min(v);
                hi = hi.max(v);
            }
        }
        if !lo.is_finite() {
            (lo, hi) = (0.0, 1.0);
        }
        let pad = ((hi - lo) * 0.08).max(1e-6);
        let x_of = |i: usize| match &p.xs {
            Some(xs) => xs.get(i).copied().unwrap_or(f64::NAN),
            None => (p.x_start + i) as f64,
        };
        let (x0, x1) = (x_of(0), x_of(n - 1));
        let margin = if p.xs.is_some() {
            ((x1 - x0) * 0.05).max(0.05)
        } else {
            0.3
        };
        let mut chart = ChartBuilder::on(area)
            .caption(&p.title, (FONT, 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d((x0 - margin)..(x1 + margin), (lo - pad)..(hi + pad))
            .map_err(s)?;
        chart
            .configure_mesh()
            .x_desc(p.x_label.as_str())
            .y_desc(p.y_label.as_str())
            .x_labels(n.min(12))
            .x_label_formatter(&|v| {
                if p.xs.is_some() {
                    format!("{v:.1}")
                } else {
                    format!("{}", v.round() as i64)
                }
            })
            .label_style((FONT, 12))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(s)?;
        for l in &p.lines {
            if let Some((blo, bhi)) = &l.band {
                // Points without an interval (NaN: undefined there) are left out of the band.
                let finite = |i: usize| blo[i].is_finite() && bhi[i].is_finite();
                let mut pts: Vec<(f64, f64)> = (0..bhi.len())
                    .filter(|&i| finite(i))
                    .map(|i| (x_of(i), bhi[i]))
                    .collect();
                pts.extend(
                    (0..blo.len())
                        .rev()
                        .filter(|&i| finite(i))
                        .map(|i| (x_of(i), blo[i])),
                );
                chart
                    .draw_series(std::iter::once(Polygon::new(
                        pts,
                        l.color.mix(0.2).filled(),
                    )))
                    .map_err(s)?;
            }
        }
        for l in &p.lines {
            let pts: Vec<(f64, f64)> = l
                .values
                .iter()
                .enumerate()
                .filter(|(_, v)| v.is_finite())
                .map(|(i, &v)| (x_of(i), v))
                .collect();
            let color = l.color;
            let style = ShapeStyle {
                color: color.to_rgba(),
                filled: false,
                stroke_width: 2,
            };
            let anno = if l.dashed {
                chart
                    .draw_series(DashedLineSeries::new(pts, 6, 4, style))
                    .map_err(s)?
            } else {
                chart.draw_series(LineSeries::new(pts, style)).map_err(s)?
            };
            anno.label(l.label.as_str()).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
        }
        if shared {
            continue;
        }
        chart
            .configure_series_labels()
            .label_font((FONT, 12))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .position(SeriesLabelPosition::UpperRight)
            .draw()
            .map_err(s)?;
    }
    Ok(())
}

/// Line panels side by side.
pub(crate) fn line_panels(dir: &Path, stem: &str, panels: &[Panel]) -> Result<()> {
    let size = (
        440 * panels.len().max(1) as u32,
        380 + legend_height(panels),
    );
    draw_both!(dir, stem, size, |root| draw_panels(&root, panels))
}

/// Grid position (row, col) of a unit: colour planes stacked vertically.
fn unit_cell(shape: ImageShape, unit: usize) -> (usize, usize) {
    let plane = shape.height * shape.width;
    let c = unit / plane;
    let r = (unit % plane) / shape.width;
    (c * shape.height + r, unit % shape.width)
}

fn diverging(v: f32, max: f32) -> RGBColor {
    let t = if max > 0.0 {
        (v / max).clamp(-1.0, 1.0)
    } else {
        0.0
    };
    let f = |a: f32| (255.0 * (1.0 - a)) as u8;
    if t >= 0.0 {
        RGBColor(255, f(t), f(t))
    } else {
        RGBColor(f(-t), f(-t), 255)
    }
}

/// Rows of images (one image per column), each row scaled symmetrically to its own max |value|.
pub(crate) struct ImageRows<'a> {
    pub shape: ImageShape,
    pub col_labels: Vec<String>,
    pub rows: Vec<(String, &'a [Vec<f32>])>,
}

fn draw_image_rows<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    g: &ImageRows<'_>,
    px: u32,
) -> std::result::Result<(), String> {
    root.fill(&WHITE).map_err(s)?;
    let gh = (g.shape.channels * g.shape.height) as u32;
    let gw = g.shape.width as u32;
    let (left, top, gap) = (150i32, 30i32, 6i32);
    for (c, label) in g.col_labels.iter().enumerate() {
        let x = left + c as i32 * (gw * px) as i32 + c as i32 * gap;
        root.draw(&Text::new(label.clone(), (x, 8), (FONT, 13)))
            .map_err(s)?;
    }
    for (r, (label, images)) in g.rows.iter().enumerate() {
        let y0 = top + r as i32 * ((gh * px) as i32 + gap);
        root.draw(&Text::new(
            label.clone(),
            (5, y0 + (gh * px / 2) as i32 - 7),
            (FONT, 13),
        ))
        .map_err(s)?;
        let max = images.iter().flatten().fold(0.0f32, |m, v| m.max(v.abs()));
        for (c, img) in images.iter().enumerate() {
            let x0 = left + c as i32 * ((gw * px) as i32 + gap);
            for (u, &v) in img.iter().enumerate() {
                let (rr, cc) = unit_cell(g.shape, u);
                let (x, y) = (x0 + (cc as u32 * px) as i32, y0 + (rr as u32 * px) as i32);
                root.draw(&Rectangle::new(
                    [(x, y), (x + px as i32, y + px as i32)],
                    diverging(v, max).filled(),
                ))
                .map_err(s)?;
            }
        }
    }
    Ok(())
}

/// A grid of images: rows of a condition, columns of steps (blue < 0 < red).
pub(crate) fn image_rows(dir: &Path, stem: &str, g: &ImageRows<'_>) -> Result<()> {
    let gh = (g.shape.channels * g.shape.height) as u32;
    let gw = g.shape.width as u32;
    let px = (84 / gw).max(1);
    let cols = g.col_labels.len() as u32;
    let size = (
        150 + cols * (gw * px + 6) + 10,
        30 + g.rows.len() as u32 * (gh * px + 6) + 10,
    );
    draw_both!(dir, stem, size, |root| draw_image_rows(&root, g, px))
}

/// Error units' blue and prediction units' red, as the published figures draw them.
pub(crate) const ERROR_BLUE: RGBColor = RGBColor(0, 0, 255);
/// See [`ERROR_BLUE`].
pub(crate) const PREDICTION_RED: RGBColor = RGBColor(255, 0, 0);

/// Colour of each unit type in the map: the published colours (error units blue, prediction
/// units red, hybrids yellow and orange, unspecified grey; light for one class).
pub(crate) fn type_color(t: UnitType) -> RGBColor {
    match t {
        UnitType::E1 => RGBColor(0x33, 0x99, 0xff),
        UnitType::E2 => ERROR_BLUE,
        UnitType::P1 => RGBColor(0xff, 0x99, 0x99),
        UnitType::P2 => PREDICTION_RED,
        UnitType::H1 => RGBColor(0xff, 0xff, 0x00),
        UnitType::H2 => RGBColor(0xff, 0xaa, 0x00),
        UnitType::Unspecified => RGBColor(0xcc, 0xcc, 0xcc),
    }
}

fn draw_type_map<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    types: &[UnitType],
    shape: ImageShape,
    px: u32,
) -> std::result::Result<(), String> {
    root.fill(&WHITE).map_err(s)?;
    let (x0, y0) = (10i32, 10i32);
    for (u, &t) in types.iter().enumerate() {
        let (r, c) = unit_cell(shape, u);
        let (x, y) = (x0 + (c as u32 * px) as i32, y0 + (r as u32 * px) as i32);
        root.draw(&Rectangle::new(
            [(x, y), (x + px as i32, y + px as i32)],
            type_color(t).filled(),
        ))
        .map_err(s)?;
    }
    let lx = x0 + (shape.width as u32 * px) as i32 + 20;
    for (k, t) in UnitType::ALL.iter().enumerate() {
        let y = y0 + k as i32 * 24;
        let count = types.iter().filter(|&&u| u == *t).count();
        root.draw(&Rectangle::new(
            [(lx, y), (lx + 16, y + 16)],
            type_color(*t).filled(),
        ))
        .map_err(s)?;
        root.draw(&Rectangle::new(
            [(lx, y), (lx + 16, y + 16)],
            BLACK.mix(0.5),
        ))
        .map_err(s)?;
        root.draw(&Text::new(
            format!("{} ({count})", t.name()),
            (lx + 22, y + 1),
            (FONT, 14),
        ))
        .map_err(s)?;
    }
    Ok(())
}

/// The unit-type map (Fig 3A): one cell per unit at its pixel position.
pub(crate) fn type_map(
    dir: &Path,
    stem: &str,
    types: &[UnitType],
    shape: ImageShape,
) -> Result<()> {
    let gh = (shape.channels * shape.height) as u32;
    let px = (400 / gh).clamp(2, 40);
    let size = (
        20 + shape.width as u32 * px + 190,
        (20 + gh * px).max(7 * 24 + 20),
    );
    draw_both!(dir, stem, size, |root| draw_type_map(
        &root, types, shape, px
    ))
}

/// One bar: its label, height (`None`: no bar), interval whiskers and colour.
pub(crate) struct Bar {
    pub label: String,
    pub value: Option<f64>,
    pub interval: Option<(f64, f64)>,
    pub color: RGBColor,
}

fn draw_bars<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    y_label: &str,
    bars: &[Bar],
) -> std::result::Result<(), String> {
    root.fill(&WHITE).map_err(s)?;
    let hi = bars
        .iter()
        .flat_map(|b| b.value.into_iter().chain(b.interval.map(|i| i.1)))
        .fold(0.0f64, f64::max)
        .max(1e-9)
        * 1.1;
    let n = bars.len().max(1);
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FONT, 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..n as f64, 0f64..hi)
        .map_err(s)?;
    let names: Vec<String> = bars.iter().map(|b| b.label.clone()).collect();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(2 * n + 1)
        .x_label_formatter(&|v| {
            let i = v.floor() as usize;
            if (v - i as f64 - 0.5).abs() < 1e-6 && i < names.len() {
                names[i].clone()
            } else {
                String::new()
            }
        })
        .y_desc(y_label)
        .label_style((FONT, 12))
        .draw()
        .map_err(s)?;
    for (i, b) in bars.iter().enumerate() {
        let x = i as f64;
        if let Some(v) = b.value {
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(x + 0.15, 0.0), (x + 0.85, v)],
                    b.color.mix(0.8).filled(),
                )))
                .map_err(s)?;
        }
        if let Some((lo, hi)) = b.interval {
            let whisker = [
                vec![(x + 0.5, lo), (x + 0.5, hi)],
                vec![(x + 0.4, lo), (x + 0.6, lo)],
                vec![(x + 0.4, hi), (x + 0.6, hi)],
            ];
            for w in whisker {
                chart
                    .draw_series(std::iter::once(PathElement::new(w, BLACK.stroke_width(2))))
                    .map_err(s)?;
            }
        }
    }
    Ok(())
}

/// A bar chart with whiskers where an interval is given.
pub(crate) fn bars(dir: &Path, stem: &str, title: &str, y_label: &str, bars: &[Bar]) -> Result<()> {
    draw_both!(dir, stem, (640, 400), |root| draw_bars(
        &root, title, y_label, bars
    ))
}
