//! `epc export`.

use anyhow::{bail, Result};
use clap::Args;
use epc_core::run::RunDir;
use epc_exporter::ExportFormat;
use std::path::PathBuf;

/// Options of `epc export`.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// An instance folder (RUN_DIR/seed-<n>) or a run folder (exports every seed-* inside)
    run: PathBuf,
    /// Output file (one instance only) [default: <instance>/model.onnx, or
    /// model.sequence.onnx with --sequence, model.v2.onnx with --contract step-v2; architectures
    /// other than rnn: always step-v2 in model.onnx]. Without it, the untrained network (the
    /// initial weights, where the run kept them) is exported too, to model.untrained.onnx
    /// (model.untrained.v2.onnx with --contract step-v2)
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write the whole-sequence model (ONNX Scan; input x [steps, batch, n]) instead of the step
    /// model (the paper's rnn only)
    #[arg(long, conflicts_with = "contract")]
    sequence: bool,
    /// Step contract of the model: step-v1 (model.onnx) or step-v2 (model.v2.onnx: the same
    /// network with its states and populations in the metadata; docs/CONTRACT.md). Other
    /// architectures than rnn are always exported as step-v2, to model.onnx
    #[arg(long, value_parser = ["step-v1", "step-v2"])]
    contract: Option<String>,
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
        let format = match (args.sequence, args.contract.as_deref()) {
            (true, _) => ExportFormat::SequenceV1,
            (false, Some("step-v2")) => ExportFormat::StepV2,
            _ => ExportFormat::StepV1,
        };
        let path = epc_exporter::export_run_as(&d, args.out.as_deref(), format)?;
        println!("{}", path.display());
        // The untrained network beside it (its default file), where the initial weights were
        // kept; `--out` names the one file to write.
        if args.out.is_none() && format != ExportFormat::SequenceV1 {
            if let Some(path) = epc_exporter::export_untrained(&d, None, format)? {
                println!("{}", path.display());
            }
        }
    }
    Ok(())
}
