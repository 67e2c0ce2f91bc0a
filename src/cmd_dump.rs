//! `epc dump`.

use crate::engine_args::{ep_given, EngineArgs};
use anyhow::Result;
use clap::Args;
use epc_analyzer::{DumpOptions, Lesion};
use epc_core::data::DatasetKind;
use std::path::PathBuf;

/// Options of `epc dump`.
#[derive(Args, Debug)]
#[command(
    after_help = "The file follows the epc-dump-v1 schema (see the README): datasets input, preact, act\n[steps, sequences, units] float32, labels [sequences, steps] int32, optional lesion_mask,\nand attributes naming the model (SHA-256), data set, the sequence set drawn, and seed."
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

/// Runs `epc dump`.
pub fn run(args: DumpArgs) -> Result<()> {
    let outcome = epc_analyzer::dump(&DumpOptions {
        model: args.model,
        dataset: args.dataset,
        data_dir: args.data_dir,
        lesion: args.lesion,
        seed: args.seed,
        out: args.out,
        engine: args.engine.options(ep_given()),
    })?;
    crate::print_notes(&outcome.notes);
    println!(
        "{}: {} sequences x {} steps x {} units ({}, lesion {})",
        outcome.path.display(),
        outcome.set.sequences,
        outcome.set.config.length,
        outcome.units,
        outcome.dataset,
        args.lesion
    );
    Ok(())
}
