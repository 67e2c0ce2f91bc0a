//! Times a complete analysis (benchmark, not a test).
//!
//! `cargo run --release -p epc-analyzer --example analyze_timing -- DATASET DATA_DIR|- OUT MODEL...`
//! (e.g. `mnist /work/shared/data/mnist /tmp/report m.onnx`).

use epc_analyzer::{analyze, AnalysisOptions};
use epc_core::data::DatasetKind;
use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 4 {
        eprintln!("usage: analyze_timing DATASET DATA_DIR|- OUT MODEL...");
        std::process::exit(2);
    }
    let dataset = match args[0].as_str() {
        "digits" => DatasetKind::Digits,
        "mnist" => DatasetKind::Mnist,
        "fashion-mnist" => DatasetKind::FashionMnist,
        "cifar10" => DatasetKind::Cifar10,
        other => {
            eprintln!("unknown data set {other}");
            std::process::exit(2);
        }
    };
    let mut opts = AnalysisOptions::new(
        args[3..].iter().map(PathBuf::from).collect(),
        Some(dataset),
        PathBuf::from(&args[2]),
    );
    opts.data_dir = (args[1] != "-").then(|| PathBuf::from(&args[1]));
    let start = Instant::now();
    match analyze(&opts) {
        Ok(s) => {
            println!(
                "analysed {} model(s) in {:.2} s (summary elapsed_s {:.2})",
                s.models.len(),
                start.elapsed().as_secs_f64(),
                s.elapsed_s
            );
            for m in &s.models {
                println!(
                    "{}: pre {:?}, prediction units {}, error units {}",
                    m.name,
                    s.energy["pre"][&m.name]
                        .iter()
                        .map(|v| format!("{v:.4}"))
                        .collect::<Vec<_>>(),
                    s.prediction_units[&m.name].count,
                    s.error_units[&m.name].count
                );
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
