//! `epc dump`.

use crate::engine_args::{ep_given, EngineArgs};
use anyhow::{Context, Result};
use clap::Args;
use epc_analyzer::report::{run_test_sequences, Lesion};
use epc_analyzer::StepModel;
use epc_core::data::{self, DataSource, DatasetKind};
use epc_exporter::h5::{ActivationDump, DumpAttributes};
use std::path::PathBuf;

/// Options of `epc dump`.
#[derive(Args, Debug)]
#[command(
    after_help = "The file follows the epc-dump-v1 schema (see the README): datasets input, preact, act\n[steps, sequences, units] float32, labels [sequences, steps] int32, optional lesion_mask,\nand attributes naming the model (SHA-256), data set, sequences and seed."
)]
pub struct DumpArgs {
    /// The ONNX model (step-v1 contract)
    #[arg(long)]
    model: PathBuf,
    /// Data set whose test split is run [default: the model's epc.dataset, else digits]
    #[arg(long, value_enum)]
    dataset: Option<DatasetKind>,
    /// Folder with the data set's files (see `epc train --help`)
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// none (intact), prediction (zero the prediction units) or random (as many random other units)
    #[arg(long, default_value = "none")]
    lesion: Lesion,
    /// Seed of the test sequences (the same seed as `epc analyze` gives the same sequences)
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output HDF5 file (written atomically)
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    engine: EngineArgs,
}

/// The data set named on the command line, else in the model's metadata, else digits.
pub fn dataset_for(given: Option<DatasetKind>, model: &StepModel) -> DatasetKind {
    use clap::ValueEnum;
    given
        .or_else(|| {
            model
                .metadata()
                .get(epc_core::contract::META_DATASET)
                .and_then(|d| DatasetKind::from_str(d, true).ok())
        })
        .unwrap_or(DatasetKind::Digits)
}

/// Runs `epc dump`.
pub fn run(args: DumpArgs) -> Result<()> {
    let mut model = StepModel::load(&args.model, &args.engine.options(ep_given()))?;
    let kind = dataset_for(args.dataset, &model);
    let ds = data::load(&DataSource::new(kind, args.data_dir.clone()))?;
    let run = run_test_sequences(&mut model, &ds.test, args.seed, args.lesion)?;
    let bytes = std::fs::read(&args.model).with_context(|| args.model.display().to_string())?;
    let meta: Vec<(String, String)> = model
        .metadata()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let (steps, sequences, n_in) = run.x.dim();
    let units = run.activations.preact.dim().2;
    let mask = (args.lesion != Lesion::None).then(|| {
        let mut m = vec![1.0f32; units];
        for &u in &run.lesioned {
            m[u] = 0.0;
        }
        m
    });
    let dump = ActivationDump {
        steps,
        sequences,
        n_in,
        units,
        input: run.x.iter().copied().collect(),
        preact: run.activations.preact.iter().copied().collect(),
        act: run.activations.act.iter().copied().collect(),
        labels: run.labels.iter().map(|&l| l as i32).collect(),
        lesion_mask: mask,
        attrs: DumpAttributes {
            model_path: args.model.display().to_string(),
            model_sha256: data::fetch::sha256_hex(&bytes),
            contract: model
                .metadata()
                .get(epc_core::contract::META_CONTRACT)
                .cloned()
                .unwrap_or_default(),
            model_metadata_json: epc_exporter::onnx::metadata_json(&meta),
            dataset: kind.name().into(),
            split: "test".into(),
            sequence_json: serde_json::to_string(&epc_core::sequence::SequenceConfig::default())?,
            seed: args.seed,
            toolkit_version: epc_core::TOOLKIT_VERSION.into(),
            created_utc: epc_exporter::utc_now(),
            lesion: format!("{} ({} units)", args.lesion, run.lesioned.len()),
        },
    };
    epc_exporter::h5::write_dump(&args.out, &dump)?;
    println!(
        "{}: {sequences} sequences x {steps} steps x {units} units ({}, lesion {})",
        args.out.display(),
        kind,
        args.lesion
    );
    Ok(())
}
