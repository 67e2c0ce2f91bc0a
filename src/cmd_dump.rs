//! `epc dump`.

use crate::engine_args::{ep_given, EngineArgs};
use anyhow::{bail, Result};
use clap::Args;
use epc_analyzer::{DumpOptions, DumpSequences, Lesion};
use epc_core::data::DatasetKind;
use epc_exporter::h5::{Arrays, Compression};
use std::path::PathBuf;

/// Options of `epc dump`.
#[derive(Args, Debug)]
#[command(
    after_help = "The file follows the epc-dump-v2 schema (docs/reference/dump-schema.md): datasets input, preact, act\n(and a step-v2 model's drive_in, drive_rec, transmission) [steps, sequences, units] float32\n(those chosen with --arrays), labels and frames\n[sequences, steps] int32, sequence_set [sequences], optional lesion_mask, and attributes\nnaming the model (SHA-256), data set, the sequence sets drawn, seed and the unit layout\n(layout_json; unit_pixel, unit_layer, unit_population per unit). Activations are\nwritten as they are computed: memory does not grow with the number of sequences.\n\nExamples:\n  epc dump --model runs/demo/seed-0/model.onnx --out acts.h5\n  epc dump --model M.onnx --sequences published --arrays act --out sets.h5\n  epc dump --model M.onnx --sequences-file designed.csv --compression none --out d.h5"
)]
pub struct DumpArgs {
    /// The ONNX model (step-v1 contract)
    #[arg(long)]
    model: PathBuf,
    /// Data set whose test split is run [default: the model's epc.dataset, else digits]
    #[arg(long, value_parser = crate::train_args::choice_of::<DatasetKind>("dataset"))]
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
    /// Which sequences: test (the analysis test set), published (the analysis's per-class
    /// ordered, shuffled and distractor sets), deterministic (every 0..9 sequence in data-set
    /// order)
    #[arg(
        long,
        value_enum,
        default_value = "test",
        conflicts_with = "sequences_file"
    )]
    sequences: SequenceSet,
    /// Exactly this many epochs of the test sampler (with --sequences test) [default: epochs
    /// until 400 sequences, as the analysis]
    #[arg(long)]
    epochs: Option<u64>,
    /// Your own sequences: image indices [n, steps] into the test split, as CSV (one sequence
    /// per line), .npy or HDF5 (dataset `sequences`)
    #[arg(long)]
    sequences_file: Option<PathBuf>,
    /// The activation datasets to write, comma-separated: input, preact, act, and for step-v2
    /// models with those outputs drive_in, drive_rec, transmission
    #[arg(long, default_value = "input,preact,act")]
    arrays: String,
    /// none, gzip (level 1) or gzip-N (N = 1..9)
    #[arg(long, default_value = "gzip")]
    compression: String,
    /// Output HDF5 file (written atomically)
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    engine: EngineArgs,
}

/// The named sequence sets of `--sequences`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum SequenceSet {
    /// The analysis test set.
    Test,
    /// The analysis's per-class sets.
    Published,
    /// Every 0..9 sequence, in data-set order.
    Deterministic,
}

/// Runs `epc dump`.
pub fn run(args: DumpArgs) -> Result<()> {
    let sequences = match (&args.sequences_file, args.sequences) {
        (Some(p), _) => DumpSequences::File(p.clone()),
        (None, SequenceSet::Test) => DumpSequences::Test {
            epochs: args.epochs,
        },
        (None, other) => {
            if args.epochs.is_some() {
                bail!("--epochs applies to --sequences test");
            }
            match other {
                SequenceSet::Published => DumpSequences::Published,
                _ => DumpSequences::Deterministic,
            }
        }
    };
    let outcome = epc_analyzer::dump(&DumpOptions {
        model: args.model,
        dataset: args.dataset,
        data_dir: args.data_dir,
        lesion: args.lesion,
        seed: args.seed,
        sequences,
        arrays: Arrays::parse(&args.arrays)?,
        compression: Compression::parse(&args.compression)?,
        out: args.out,
        engine: args.engine.options(ep_given()),
    })?;
    crate::print_notes(&outcome.notes);
    println!(
        "{}: {} sequences x {} steps x {} units ({} set(s), {}, lesion {})",
        outcome.path.display(),
        outcome.sequences,
        outcome.steps,
        outcome.units,
        outcome.sets.len(),
        outcome.dataset,
        args.lesion
    );
    Ok(())
}
