//! `epc-train`: the trainer behind `epc train` (the only binary that links libtorch). `epc
//! train FLAGS` checks the flags and becomes `epc-train FLAGS`; calling it directly works too.

mod progress;

use anyhow::{Context, Result};
use clap::Parser;
use epc::train_args::{TrainArgs, TrainCommand};
use progress::Progress;
use std::process::ExitCode;

fn main() -> ExitCode {
    epc::start_process(epc_trainer::guard::catching);
    let cli = TrainCommand::parse();
    epc::finish(run(cli.args))
}

/// Runs `epc train`.
pub fn run(args: TrainArgs) -> Result<()> {
    let options = epc_trainer::RunOptions {
        export_onnx: !args.no_export,
        threads: args.threads,
        batch_instances: args.batch_instances,
    };
    let mut progress = Progress::new(!args.plain && epc::interactive());
    let run_dir = args
        .resume
        .clone()
        .or_else(|| args.out.clone())
        .expect("clap requires one");
    let _ = epc::INTERRUPT_HINT.set(format!(
        "{} keeps the checkpoint of the last finished epoch: continue with `epc train --resume {}`",
        run_dir.display(),
        run_dir.display()
    ));
    let outcomes = if let Some(dir) = &args.resume {
        epc_trainer::resume(dir, args.settings.epochs(), &options, &mut progress)
            .with_context(|| format!("resuming {}", dir.display()))?
    } else {
        let config = args.resolve()?;
        let seeds = args.seeds(&config)?;
        let out = args.out.clone().expect("clap requires --out");
        let req = epc_trainer::TrainRequest {
            config,
            seeds,
            out,
            options,
        };
        epc_trainer::train(&req, &mut progress)?
    };
    let judged = if progress.has_validation() {
        "validation"
    } else {
        "training"
    };
    for o in &outcomes {
        println!(
            "seed {}: {} epochs on {}, best {judged} loss {:.6} at epoch {}{} -> {}",
            o.seed,
            o.epochs_trained,
            o.device,
            o.best_val_loss,
            o.best_epoch,
            o.stopped
                .as_ref()
                .map(|s| format!(" ({s})"))
                .unwrap_or_default(),
            o.dir.display()
        );
    }
    Ok(())
}
