//! The CSV tables of a report, in long format (one value per row), written with the `csv`
//! crate so that model names with commas or quotes stay one field.

use crate::pipeline::ModelResult;
use crate::summary::{MeasureCurves, Summary};
use crate::{Error, Result};
use std::fmt::Display;
use std::path::{Path, PathBuf};

/// One CSV file being written.
struct Table {
    path: PathBuf,
    writer: csv::Writer<std::fs::File>,
}

impl Table {
    fn create(dir: &Path, name: &str, header: &[&str]) -> Result<Self> {
        let path = dir.join(name);
        let writer = csv::Writer::from_path(&path).map_err(|e| csv_error(&path, e))?;
        let mut t = Self { path, writer };
        t.writer
            .write_record(header)
            .map_err(|e| csv_error(&t.path, e))?;
        Ok(t)
    }

    fn row(&mut self, fields: &[&dyn Display]) -> Result<()> {
        self.writer
            .write_record(fields.iter().map(|f| f.to_string()))
            .map_err(|e| csv_error(&self.path, e))
    }

    fn finish(mut self) -> Result<()> {
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
    let conditions: [(&str, &MeasureCurves); 3] = [
        ("intact", &s.energy),
        ("prediction", &s.lesion.prediction),
        ("random", &s.lesion.random),
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
                    ci.row(&[&(t + 1), cond, m, &c.mean[t], &c.lo[t], &c.hi[t]])?;
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
        &["model", "type", "median_input_variance"],
    )?;
    for (model, per) in &s.input_variance {
        for (t, x) in per {
            v.row(&[model, t, &x.map(|x| x.to_string()).unwrap_or_default()])?;
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
        for (group, c) in [
            ("prediction", &ps.prediction),
            ("error_class0", &ps.error_class0),
        ] {
            let Some(c) = c else { continue };
            for (k, x) in c.iter().enumerate() {
                p.row(&[&k, &group, model, x])?;
            }
        }
    }
    p.finish()
}
