//! The CSV tables of a report, in long format (one value per row), written with the `csv`
//! crate so that model names with commas or quotes stay one field.

use crate::intervals::Estimate;
use crate::pipeline::ModelResult;
use crate::summary::{MeasureCurves, Summary};
use crate::{Error, Result};
use std::fmt::Display;
use std::path::{Path, PathBuf};

/// One CSV file being written.
pub(super) struct Table {
    path: PathBuf,
    writer: csv::Writer<std::fs::File>,
}

impl Table {
    pub(super) fn create(dir: &Path, name: &str, header: &[&str]) -> Result<Self> {
        let path = dir.join(name);
        let writer = csv::Writer::from_path(&path).map_err(|e| csv_error(&path, e))?;
        let mut t = Self { path, writer };
        t.writer
            .write_record(header)
            .map_err(|e| csv_error(&t.path, e))?;
        Ok(t)
    }

    pub(super) fn row(&mut self, fields: &[&dyn Display]) -> Result<()> {
        self.writer
            .write_record(fields.iter().map(|f| f.to_string()))
            .map_err(|e| csv_error(&self.path, e))
    }

    pub(super) fn finish(mut self) -> Result<()> {
        self.writer.flush().map_err(|e| Error::io(&self.path, e))
    }
}

fn csv_error(path: &Path, e: csv::Error) -> Error {
    match e.into_kind() {
        csv::ErrorKind::Io(io) => Error::io(path, io),
        other => Error::Input(format!("{}: cannot write CSV: {other:?}", path.display())),
    }
}

/// The classes flagged for `unit`, joined by `;`.
fn classes(flags: &[Vec<bool>], unit: usize) -> String {
    (0..flags.len())
        .filter(|&c| flags[c][unit])
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(";")
}

/// Writes every table of the report into `dir`.
pub(super) fn write_all(dir: &Path, s: &Summary, results: &[ModelResult]) -> Result<()> {
    let mut e = Table::create(dir, "energy.csv", &["step", "measure", "model", "value"])?;
    for (m, per) in &s.energy {
        for (model, curve) in per {
            for (t, v) in curve.iter().enumerate() {
                e.row(&[&(t + 1), m, model, v])?;
            }
        }
    }
    for (m, curve) in [
        ("input", &s.reference.input),
        ("dataset_median", &s.reference.dataset_median),
        ("category_median", &s.reference.category_median),
    ] {
        for (t, v) in curve.iter().enumerate() {
            e.row(&[&(t + 1), &m, &"reference", v])?;
        }
    }
    e.finish()?;

    let mut l = Table::create(
        dir,
        "lesion.csv",
        &["step", "lesion", "measure", "model", "value"],
    )?;
    let conditions: [(&str, &MeasureCurves); 4] = [
        ("intact", &s.energy),
        ("prediction", &s.lesion.prediction),
        ("random", &s.lesion.random),
        ("connection", &s.lesion.connection),
    ];
    for (cond, map) in conditions {
        for (m, per) in map {
            for (model, curve) in per {
                for (t, v) in curve.iter().enumerate() {
                    l.row(&[&(t + 1), &cond, m, model, v])?;
                }
            }
        }
    }
    l.finish()?;

    let mut ci = Table::create(
        dir,
        "ci.csv",
        &["step", "condition", "measure", "mean", "lo", "hi"],
    )?;
    if let Some(map) = &s.lesion.ci {
        for (cond, per) in map {
            for (m, c) in per {
                for t in 0..c.mean.len() {
                    let lo = c.lo.as_ref().map(|v| v[t]);
                    let hi = c.hi.as_ref().map(|v| v[t]);
                    ci.row(&[&(t + 1), cond, m, &c.mean[t], &opt(lo), &opt(hi)])?;
                }
            }
        }
    }
    ci.finish()?;

    let mut u = Table::create(
        dir,
        "units.csv",
        &["model", "unit", "type", "predicts", "errors"],
    )?;
    for r in results {
        for (i, t) in r.types.iter().enumerate() {
            u.row(&[
                &r.info.name,
                &i,
                &t.name(),
                &classes(&r.pred, i),
                &classes(&r.err, i),
            ])?;
        }
    }
    u.finish()?;

    let mut v = Table::create(
        dir,
        "input_variance.csv",
        &["model", "group", "median_input_variance"],
    )?;
    for (model, iv) in &s.input_variance {
        for (group, x) in [
            ("prediction", iv.prediction),
            ("error", iv.error),
            ("hybrid_prediction", iv.hybrid_prediction),
            ("hybrid_error", iv.hybrid_error),
            ("unspecified", iv.unspecified),
        ] {
            v.row(&[model, &group, &x.map(|x| x.to_string()).unwrap_or_default()])?;
        }
    }
    v.finish()?;

    let mut d = Table::create(
        dir,
        "drive.csv",
        &["step", "condition", "kind", "model", "value"],
    )?;
    for (model, ds) in &s.drive {
        for (cond, c) in [
            ("intact", Some(&ds.intact)),
            ("prediction", ds.prediction_lesion.as_ref()),
            ("random", ds.random_lesion.as_ref()),
        ] {
            let Some(c) = c else { continue };
            for (kind, curve) in [
                ("input", &c.input),
                ("internal", &c.internal),
                ("total", &c.total),
            ] {
                for (t, x) in curve.iter().enumerate() {
                    d.row(&[&(t + 1), &cond, &kind, model, x])?;
                }
            }
        }
    }
    d.finish()?;

    let mut p = Table::create(
        dir,
        "postsynaptic.csv",
        &["frames", "group", "model", "value"],
    )?;
    for (model, ps) in &s.postsynaptic {
        for (group, c) in [("prediction", &ps.prediction), ("error", &ps.error)] {
            let Some(c) = c else { continue };
            for (k, x) in c.iter().enumerate() {
                p.row(&[&k, &group, model, x])?;
            }
        }
    }
    p.finish()?;
    write_groups(dir, s)?;
    if let Some(first) = results.first() {
        write_internal_drive(dir, first)?;
    }
    Ok(())
}

/// `groups.csv`: one row per group and statistic (mean, lo, hi; lo and hi empty without an
/// interval), the baselines of the unit statistics as `<rule>_<baseline>` rows.
fn write_groups(dir: &Path, s: &Summary) -> Result<()> {
    let mut g = Table::create(
        dir,
        "groups.csv",
        &["group", "models", "statistic", "mean", "lo", "hi"],
    )?;
    for grp in &s.groups {
        let n = grp.models.len();
        let mut rows: Vec<(String, Option<Estimate>)> = vec![
            ("share_of_attainable".into(), grp.share_of_attainable),
            ("saving_vs_static".into(), Some(grp.saving_vs_static)),
            ("saving_vs_input".into(), Some(grp.saving_vs_input)),
            (
                "saving_vs_category_median".into(),
                Some(grp.saving_vs_category_median),
            ),
            ("prediction_fraction".into(), Some(grp.prediction_fraction)),
            ("error_fraction".into(), Some(grp.error_fraction)),
            (
                "error_matched_fraction".into(),
                Some(grp.error_matched_fraction),
            ),
            ("lesion_effect".into(), grp.lesion_effect),
            ("matched_lesion_effect".into(), grp.matched_lesion_effect),
            ("lesion_z".into(), grp.lesion_z),
            ("lesion_percentile".into(), grp.lesion_percentile),
            ("spatial_r2".into(), grp.spatial_r2),
            ("spatial_input_r2".into(), grp.spatial_input_r2),
            ("spatial_matched_effect".into(), grp.spatial_matched_effect),
        ];
        for (rule, b) in &grp.unit_baselines {
            for (k, e) in [
                ("network_pixels", b.network_pixels),
                ("input", b.input),
                ("shuffled", b.shuffled),
                ("untrained", b.untrained),
                ("excess_input", b.excess_input),
                ("excess_shuffled", b.excess_shuffled),
                ("excess_untrained", b.excess_untrained),
            ] {
                rows.push((format!("{rule}_{k}"), e));
            }
        }
        for d in &grp.dose_response {
            rows.push((format!("dose_{}_top", d.fraction), Some(d.top)));
            rows.push((format!("dose_{}_random", d.fraction), d.random));
        }
        for (stat, e) in rows {
            let Some(e) = e else { continue };
            g.row(&[&grp.name, &n, &stat, &e.mean, &opt(e.lo), &opt(e.hi)])?;
        }
    }
    g.finish()
}

/// An optional value as a CSV field: empty when absent.
fn opt(v: Option<f64>) -> String {
    v.map_or(String::new(), |v| v.to_string())
}

/// `internal_drive.csv`: the first model's internal-drive grids (Fig 4B and the supplement),
/// one value per condition, digit, number of preceding frames and unit.
fn write_internal_drive(dir: &Path, first: &ModelResult) -> Result<()> {
    let Some(g) = &first.internal else {
        return Ok(());
    };
    let mut t = Table::create(
        dir,
        "internal_drive.csv",
        &["model", "condition", "digit", "frames", "unit", "value"],
    )?;
    for (cond, grid) in [
        ("intact", Some(&g.intact)),
        ("prediction", g.prediction.as_ref()),
        ("class", g.class.as_ref()),
    ] {
        let Some(grid) = grid else { continue };
        for (d, row) in grid.iter().enumerate() {
            for (k, img) in row.iter().enumerate() {
                for (u, v) in img.iter().enumerate() {
                    t.row(&[&first.info.name, &cond, &d, &k, &u, v])?;
                }
            }
        }
    }
    t.finish()
}
