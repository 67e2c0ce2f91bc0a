//! `epc check-model`: does a file follow the step contract (v1 or v2)?

use anyhow::{bail, Result};
use clap::Args;
use epc_analyzer::{EngineOptions, ExecutionProvider, StepModel};
use std::path::PathBuf;

/// Options of `epc check-model`.
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// ONNX model files to check against docs/CONTRACT.md (step-v1 or step-v2)
    #[arg(required = true)]
    models: Vec<PathBuf>,
}

/// Runs `epc check-model`: for each file, either one line describing the valid model, or one
/// line per violation (`FILE: problem`); fails when any file is invalid.
pub fn run(args: CheckArgs) -> Result<()> {
    let opts = EngineOptions {
        ep: ExecutionProvider::Cpu,
        batch_size: 1,
        ..EngineOptions::default()
    };
    let mut invalid = 0;
    for path in &args.models {
        match StepModel::open(path, &opts) {
            Ok(Ok(model)) => println!("{}: ok: {}", path.display(), describe(&model)),
            Ok(Err(violations)) => {
                invalid += 1;
                for v in violations {
                    println!("{}: {v}", path.display());
                }
            }
            Err(e) => {
                invalid += 1;
                println!("{e}");
            }
        }
    }
    if invalid > 0 {
        bail!(
            "{invalid} of {} model(s) break the step contract (see docs/CONTRACT.md)",
            args.models.len()
        );
    }
    Ok(())
}

/// One line: contract, sizes, states, populations and optional outputs.
fn describe(m: &StepModel) -> String {
    let l = m.layout();
    let states: Vec<String> = l
        .states
        .iter()
        .map(|s| format!("{} [{}]", s.name, s.size))
        .collect();
    let pops: Vec<String> = l
        .populations
        .iter()
        .map(|p| {
            let mut tags = vec![format!("layer {}", p.layer)];
            if p.pixels.is_some() {
                tags.push("pixels".into());
            }
            if !p.lesionable() {
                tags.push("not lesionable".into());
            }
            format!(
                "{} [{}, {}) ({})",
                p.name,
                p.units[0],
                p.units[1],
                tags.join(", ")
            )
        })
        .collect();
    let optional = if m.optional_outputs().is_empty() {
        "none".to_string()
    } else {
        m.optional_outputs().join(", ")
    };
    format!(
        "{}, n_in {}, {} units; states {}; populations {}; energy over {}; optional outputs: {}; W: {}",
        m.version().name(),
        m.n_in(),
        m.n_units(),
        states.join(", "),
        pops.join(", "),
        l.energy.join(", "),
        optional,
        if m.recurrent_weights().is_some() { "yes" } else { "no" }
    )
}
