//! `epc analyze`.

use crate::engine_args::{ep_given, EngineArgs};
use anyhow::Result;
use clap::Args;
use epc_analyzer::intervals::CiMethod;
use epc_analyzer::stats::BootstrapMethod;
use epc_analyzer::{analyze, AnalysisOptions, Baselines, GroupBy, NullOptions};
use epc_core::data::DatasetKind;
use epc_core::run::RunDir;
use std::path::PathBuf;

/// Options of `epc analyze`.
#[derive(Args, Debug)]
#[command(
    after_help = "Writes DIR/summary.json, CSV tables, figures (PNG and SVG) and DIR/report.md.\nThe output folder is written whole or not at all.\n\nExamples:\n  epc analyze --model runs/demo/seed-0/model.onnx --out reports/one\n  epc analyze --model runs/mnist --dataset mnist --data-dir DIR --out reports/mnist   # every seed-*\n  epc analyze --study studies/losses                   # every finished cell of a study"
)]
pub struct AnalyzeArgs {
    /// An ONNX model (step-v1 or step-v2, docs/CONTRACT.md), or a run folder whose seed-*/model.onnx are all taken; repeat for several
    #[arg(long, required_unless_present = "study")]
    model: Vec<PathBuf>,
    /// A study folder (`epc sweep`): every finished cell, grouped by the plan's axes, into
    /// STUDY/report unless --out says otherwise
    #[arg(long, conflicts_with = "model")]
    study: Option<PathBuf>,
    /// Data set [default: the first model's epc.dataset, else digits]
    #[arg(long, value_parser = crate::train_args::choice_of::<DatasetKind>("dataset"))]
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
    /// How the intervals across models are read off the bootstrap: basic (the published
    /// code's, `bootstrapped` with is_pivotal) or percentile (with --ci published)
    #[arg(long, default_value = "basic")]
    bootstrap_method: BootstrapMethod,
    /// Intervals across instances: t (Student t over the models, the default: it holds at
    /// 5 instances), hierarchical (bootstrap over models, then test sequences, for the
    /// savings; t for the rest) or published (the published code's basic bootstrap, which
    /// undercovers with few models). With one model there is no interval.
    #[arg(long, default_value = "t")]
    ci: CiMethod,
    /// Network baselines of the unit rules besides the input baseline (always run): a
    /// comma list of shuffled (every weight initializer permuted, seeded) and untrained (the
    /// run's initial weights, where its folder has them), or none
    #[arg(long, default_value = "shuffled,untrained")]
    baselines: Baselines,
    /// Random activity-matched lesions in the prediction lesion's null distribution
    #[arg(long, default_value_t = 100)]
    null_draws: usize,
    /// Random matched lesions at each dose of the dose-response curve
    #[arg(long, default_value_t = 10)]
    dose_draws: usize,
    /// Test sequences each lesion of the null and of the dose-response curve runs on (the
    /// first of the test set)
    #[arg(long, default_value_t = 100)]
    null_sequences: usize,
    /// Group the models for Fig 2A, Fig 4A and the group table: auto (by loss, architecture,
    /// dataset and order where the models differ), none, or a comma list of keys (loss,
    /// architecture, dataset, order, seed, an epc.* metadata key, or config.<path> such as
    /// config.optim.lr)
    #[arg(long, default_value = "auto")]
    group_by: GroupBy,
    /// The digit of Fig 4B and Fig 4C (the published figures use 0)
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..10))]
    target: u8,
    /// A folder of image-index files (.npy, .csv or .h5, `[sequences, steps]` into the test
    /// split) named after the sets they replace: test, ordered-start-S, shuffled-start-S,
    /// distractor-C (S, C = 0..9); the sets it lacks are drawn as usual. How the published
    /// code's own draws are analysed (docs/PUBLISHED_COMPARISON.md)
    #[arg(long, value_name = "DIR")]
    sequence_sets: Option<PathBuf>,
    /// Skip the figures (summary, CSV and report only)
    #[arg(long)]
    no_figures: bool,
    /// Output folder: new, empty, or an earlier report (which is replaced whole)
    #[arg(long, required_unless_present = "study")]
    out: Option<PathBuf>,
    #[command(flatten)]
    engine: EngineArgs,
}

/// Expands run folders into their instances' step models.
fn expand_models(given: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in given {
        if p.is_dir() {
            out.extend(RunDir::step_models(p)?);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

/// Runs `epc analyze`.
pub fn run(mut args: AnalyzeArgs) -> Result<()> {
    if let Some(study) = &args.study {
        let found = epc_study::StudyDir::finished(study)?;
        args.model = found.cells;
        if args.out.is_none() {
            args.out = Some(found.report);
        }
        if args.data_dir.is_none() {
            args.data_dir = found.data_dir;
        }
        if args.group_by == GroupBy::Auto {
            if let Some(keys) = found.group_by {
                args.group_by = keys.parse()?;
            }
        }
    }
    let out = args
        .out
        .clone()
        .expect("clap requires --out without --study");
    let models = expand_models(&args.model)?;
    let mut opts = AnalysisOptions::new(models, args.dataset, out.clone());
    opts.data_dir = args.data_dir.clone();
    opts.engine = args.engine.options(ep_given());
    opts.seed = args.seed;
    opts.sequence_sets = args.sequence_sets.clone();
    opts.bootstrap = args.bootstrap;
    opts.bootstrap_method = args.bootstrap_method;
    opts.group_by = args.group_by.clone();
    opts.target = args.target as usize;
    opts.figures = !args.no_figures;
    opts.ci = args.ci;
    opts.baselines = args.baselines;
    opts.nulls = NullOptions {
        draws: args.null_draws,
        dose_draws: args.dose_draws,
        sequences: args.null_sequences,
    };
    let t0 = std::time::Instant::now();
    let summary = analyze(&opts)?;
    crate::print_notes(&summary.notes);
    for m in &summary.models {
        let pre = &summary
            .energy
            .get("pre")
            .and_then(|per| per.get(&m.name))
            .cloned()
            .unwrap_or_default();
        let first = pre.first().copied().unwrap_or(f64::NAN);
        let last = pre.last().copied().unwrap_or(f64::NAN);
        let units = summary
            .unit_baselines
            .get(&m.name)
            .map_or(String::new(), |b| {
                // Each count beside what the same rules give without a trained network.
                let controls: Vec<String> = [
                    ("input alone", b.input),
                    ("shuffled", b.shuffled),
                    ("untrained", b.untrained),
                ]
                .into_iter()
                .filter_map(|(k, c)| {
                    Some(format!("{k} {} and {}", c?.prediction, c?.error_matched))
                })
                .collect();
                format!(
                    "; {} prediction units and {} matched error units ({})",
                    b.network.prediction,
                    b.network.error_matched,
                    controls.join("; ")
                )
            });
        println!(
            "{}: mean |a| {first:.4} at t=1 -> {last:.4} at t={}{units}",
            m.name,
            pre.len()
        );
    }
    println!(
        "report: {} ({:.1} s)",
        out.join("report.md").display(),
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}
