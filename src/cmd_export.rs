//! `epc export`.

use anyhow::{bail, Result};
use clap::Args;
use epc_core::run::RunDir;
use std::path::PathBuf;

/// Options of `epc export`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// An instance folder (RUN_DIR/seed-<n>) or a run folder (exports every seed-* inside)
    run: PathBuf,
    /// Output file (one instance only) [default: <instance>/model.onnx, or
    /// model.sequence.onnx with --sequence]
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write the whole-sequence model (ONNX Scan; input x [steps, batch, n]) instead of the step model
    #[arg(long)]
    sequence: bool,
}

/// Runs `epc export`.
pub fn run(args: ExportArgs) -> Result<()> {
    let dirs = RunDir::resolve_instances(&args.run)?;
    if args.out.is_some() && dirs.len() > 1 {
        bail!(
            "--out names one file but {} holds {} instances",
            args.run.display(),
            dirs.len()
        );
    }
    for d in dirs {
        let path = epc_exporter::export_run(&d, args.out.as_deref(), args.sequence)?;
        println!("{}", path.display());
    }
    Ok(())
}
