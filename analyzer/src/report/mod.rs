//! Writing a finished analysis: `summary.json`, the CSV tables, the figures and `report.md`,
//! into a staged folder that replaces the output folder in one rename.

mod figures;
mod markdown;
mod populations;
mod predictability;
mod tables;

use crate::pipeline::{Context, ModelResult};
use crate::summary::Summary;
use crate::{Error, Result};
use epc_core::fsutil::StagedDir;
use std::path::Path;

/// The file that marks a folder as an epc report (an earlier report may be replaced).
pub(crate) const MARKER: &str = "summary.json";

/// Writes every output of the analysis into `staged`, then commits it to `out`.
pub(crate) fn write(
    staged: StagedDir,
    out: &Path,
    summary: &Summary,
    results: &[ModelResult],
    ctx: &Context,
    draw: bool,
) -> Result<()> {
    let dir = staged.path();
    tables::write_all(dir, summary, results)?;
    populations::write_tables(dir, summary)?;
    let figs = if draw {
        figures::draw_all(dir, summary, results, ctx.shape)?
    } else {
        Vec::new()
    };
    write_file(dir, "report.md", &markdown::report(summary, &figs))?;
    let mut json = serde_json::to_string_pretty(summary)
        .map_err(|e| Error::Input(format!("cannot serialise the summary: {e}")))?;
    json.push('\n');
    write_file(dir, MARKER, &json)?;
    staged.commit(out).map_err(Error::output)
}

/// Writes one file of the report.
fn write_file(dir: &Path, name: &str, text: &str) -> Result<()> {
    let p = dir.join(name);
    std::fs::write(&p, text).map_err(|e| Error::io(&p, e))
}
