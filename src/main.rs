//! `epc`: train energy-efficient RNNs, export them as ONNX, dump their activations
//! as HDF5 and analyse prediction and error units (Ali et al., Patterns 2022).
//!
//! This binary links no libtorch (loading it costs about 350 MiB and half a second), so that
//! `epc dump` and `epc analyze` stay lean; `epc train` checks its flags here and then becomes
//! `epc-train`, the binary beside it that links libtorch.

use clap::{Parser, Subcommand};
use epc::{cmd_analyze, cmd_check, cmd_dump, cmd_export, cmd_sweep, train_args};
use std::ffi::OsString;
use std::process::ExitCode;

/// Emergent predictive coding toolkit.
///
/// Pipeline: `epc train` fits networks (one folder per seed), `epc export` writes them as
/// ONNX step models, `epc dump` writes activations as HDF5, and `epc analyze` finds
/// prediction and error units, runs lesion studies and draws the paper's figures for any
/// ONNX model that follows epc's step contract (v1, or v2 for gated and multi-layer
/// networks; `epc check-model` tells, docs/CONTRACT.md explains).
#[derive(Parser, Debug)]
#[command(name = "epc", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Train the energy-efficient RNN (one instance per seed) with libtorch.
    Train(Box<train_args::TrainArgs>),
    /// Write a trained instance (or every instance of a run) as an ONNX model.
    Export(cmd_export::ExportArgs),
    /// Run a model over the test sequences and write its activations as HDF5.
    Dump(cmd_dump::DumpArgs),
    /// Analyse one or more models: energy, prediction/error units, lesions, figures, report.
    Analyze(Box<cmd_analyze::AnalyzeArgs>),
    /// Check ONNX models against the step contract (v1 or v2), one line per violation.
    CheckModel(cmd_check::CheckArgs),
    /// Train a grid of runs from a plan file into a study folder (and analyse them).
    Sweep(cmd_sweep::SweepArgs),
}

fn main() -> ExitCode {
    epc::start_process(|| false);
    let cli = Cli::parse();
    epc::finish(match cli.command {
        Command::Train(_) => become_trainer(),
        Command::Export(a) => cmd_export::run(a),
        Command::Dump(a) => cmd_dump::run(a),
        Command::Analyze(a) => cmd_analyze::run(*a),
        Command::Sweep(a) => cmd_sweep::run(a),
        Command::CheckModel(a) => cmd_check::run(a),
    })
}

/// Replaces this process by `epc-train` with the flags that followed `train` (already checked
/// by clap here), so that signals (Ctrl-C, Slurm's SIGTERM) and the exit code are the trainer's.
fn become_trainer() -> anyhow::Result<()> {
    let path = epc::trainer_path()?;
    let rest: Vec<OsString> = std::env::args_os()
        .skip(1)
        .skip_while(|a| a != "train")
        .skip(1)
        .collect();
    let mut cmd = std::process::Command::new(&path);
    cmd.args(rest);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let err = cmd.exec();
        Err(anyhow::Error::new(err).context(format!("starting {}", path.display())))
    }
    #[cfg(not(unix))]
    {
        let status = cmd.status()?;
        std::process::exit(status.code().unwrap_or(1));
    }
}
