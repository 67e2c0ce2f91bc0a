//! `epc`: train energy-efficient RNNs, export them as ONNX, dump their activations
//! as HDF5 and analyse prediction and error units (Ali et al., Patterns 2022).

mod cmd_analyze;
mod cmd_dump;
mod cmd_export;
#[cfg(feature = "train")]
mod cmd_train;
mod engine_args;
#[cfg(feature = "train")]
mod progress;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Emergent predictive coding toolkit.
///
/// Pipeline: `epc train` fits networks (one folder per seed), `epc export` writes them as
/// ONNX step models, `epc dump` writes activations as HDF5, and `epc analyze` finds
/// prediction and error units, runs lesion studies and draws the paper's figures for any
/// ONNX model that follows epc's step-v1 contract.
#[derive(Parser, Debug)]
#[command(name = "epc", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Train the energy-efficient RNN (one instance per seed) with libtorch.
    #[cfg(feature = "train")]
    Train(Box<cmd_train::TrainArgs>),
    /// Write a trained instance (or every instance of a run) as an ONNX model.
    Export(cmd_export::ExportArgs),
    /// Run a model over the test sequences and write its activations as HDF5.
    Dump(cmd_dump::DumpArgs),
    /// Analyse one or more models: energy, prediction/error units, lesions, figures, report.
    Analyze(Box<cmd_analyze::AnalyzeArgs>),
}

fn main() -> ExitCode {
    install_panic_hook();
    log::set_logger(&STDERR_LOG).expect("the only logger");
    log::set_max_level(log::LevelFilter::Info);
    let cli = Cli::parse();
    let outcome = match cli.command {
        #[cfg(feature = "train")]
        Command::Train(a) => cmd_train::run(*a),
        Command::Export(a) => cmd_export::run(a),
        Command::Dump(a) => cmd_dump::run(a),
        Command::Analyze(a) => cmd_analyze::run(*a),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("epc: error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// The libraries' notes (`log` facade), one `epc:` line each on stderr.
struct StderrLog;

static STDERR_LOG: StderrLog = StderrLog;

impl log::Log for StderrLog {
    fn enabled(&self, meta: &log::Metadata) -> bool {
        meta.level() <= log::Level::Info
    }

    fn log(&self, record: &log::Record) {
        if self.enabled(record.metadata()) {
            eprintln!("epc: {}", record.args());
        }
    }

    fn flush(&self) {}
}

/// Prints notes the libraries returned (a provider that fell back, an unusable `W`).
pub(crate) fn print_notes(notes: &[String]) {
    for n in notes {
        eprintln!("epc: note: {n}");
    }
}

/// A panic prints one line (never a backtrace); inside the trainer's libtorch guard it prints
/// nothing, because the guard turns it into an ordinary error that `main` reports.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        #[cfg(feature = "train")]
        if epc_trainer::guard::catching() {
            return;
        }
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("unknown");
        let first = msg.lines().next().unwrap_or("unknown");
        let at = info
            .location()
            .map(|l| format!(" ({}:{})", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("epc: internal error: {first}{at}");
    }));
}

/// Whether long work should draw a progress bar (both streams are terminals).
#[cfg(feature = "train")]
pub(crate) fn interactive() -> bool {
    use std::io::IsTerminal;
    std::io::stdout().is_terminal() && std::io::stderr().is_terminal()
}

/// The error and its causes on one line, never a backtrace; a cause that an outer message
/// already quotes is skipped (the library errors print their source in their own message).
fn one_line(e: &anyhow::Error) -> String {
    let mut msg = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !msg.contains(&text) {
            if !msg.is_empty() {
                msg.push_str(": ");
            }
            msg.push_str(&text);
        }
    }
    msg.replace('\n', " ")
}
