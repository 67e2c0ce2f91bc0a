//! `epc analyze`.

use crate::engine_args::{ep_given, EngineArgs};
use anyhow::{bail, Result};
use clap::Args;
use epc_analyzer::report::{analyze, AnalysisOptions};
use epc_core::data::DatasetKind;
use std::path::{Path, PathBuf};

/// Options of `epc analyze`.
#[derive(Args, Debug)]
#[command(
    after_help = "Writes DIR/summary.json, CSV tables, figures (PNG and SVG) and DIR/report.md.\nThe output folder is written whole or not at all.\n\nExamples:\n  epc analyze --model runs/demo/seed-0/model.onnx --out reports/one\n  epc analyze --model runs/mnist --dataset mnist --data-dir DIR --out reports/mnist   # every seed-*"
)]
pub struct AnalyzeArgs {
    /// An ONNX model (step-v1), or a run folder whose seed-*/model.onnx are all taken; repeat for several
    #[arg(long, required = true)]
    model: Vec<PathBuf>,
    /// Data set [default: the first model's epc.dataset, else digits]
    #[arg(long, value_enum)]
    dataset: Option<DatasetKind>,
    /// Folder with the data set's files (see `epc train --help`)
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Seed of the test sequences, the random lesion and the bootstrap
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Bootstrap resamples for the 95% confidence intervals across models
    #[arg(long, default_value_t = 10_000)]
    bootstrap: usize,
    /// Skip the figures (summary, CSV and report only)
    #[arg(long)]
    no_figures: bool,
    /// Output folder: new, empty, or an earlier report (which is replaced whole)
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    engine: EngineArgs,
}

/// Expands run folders into their instances' `model.onnx`.
fn expand_models(given: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in given {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path().join("model.onnx")))
                .filter(|m| m.is_file())
                .collect();
            if found.is_empty() && p.join("model.onnx").is_file() {
                found.push(p.join("model.onnx"));
            }
            if found.is_empty() {
                bail!(
                    "{}: a folder without model.onnx or seed-*/model.onnx",
                    p.display()
                );
            }
            found.sort();
            out.extend(found);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn dataset_of(first: &Path) -> Option<DatasetKind> {
    use clap::ValueEnum;
    let meta = epc_exporter::onnx::read_metadata(first).ok()?;
    let name = meta
        .iter()
        .find(|(k, _)| k == epc_core::contract::META_DATASET)?
        .1
        .clone();
    DatasetKind::from_str(&name, true).ok()
}

/// Runs `epc analyze`.
pub fn run(args: AnalyzeArgs) -> Result<()> {
    let models = expand_models(&args.model)?;
    let dataset = args
        .dataset
        .or_else(|| dataset_of(&models[0]))
        .unwrap_or(DatasetKind::Digits);
    let mut opts = AnalysisOptions::new(models, dataset, args.out.clone());
    opts.data_dir = args.data_dir.clone();
    opts.engine = args.engine.options(ep_given());
    opts.seed = args.seed;
    opts.bootstrap = args.bootstrap;
    opts.figures = !args.no_figures;
    let t0 = std::time::Instant::now();
    let summary = analyze(&opts)?;
    for m in &summary.models {
        let pre = &summary
            .energy
            .get("pre")
            .and_then(|per| per.get(&m.name))
            .cloned()
            .unwrap_or_default();
        let pu = summary.prediction_units.get(&m.name).map_or(0, |u| u.count);
        let eu = summary.error_units.get(&m.name).map_or(0, |u| u.count);
        let first = pre.first().copied().unwrap_or(f64::NAN);
        let last = pre.last().copied().unwrap_or(f64::NAN);
        println!("{}: mean |a| {first:.4} at t=1 -> {last:.4} at t={}; {pu} prediction units, {eu} error units", m.name, pre.len());
    }
    println!(
        "report: {} ({:.1} s)",
        args.out.join("report.md").display(),
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}
