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
    install_signal_handlers();
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
        // A failure after a stop signal is the interruption (the libraries stop at a safe point
        // with an error that cleans up like any other).
        Err(_) if epc_core::interrupt::requested().is_some() => {
            let signal = epc_core::interrupt::requested().unwrap_or(2);
            let hint = INTERRUPT_HINT
                .get()
                .map(|h| format!("; {h}"))
                .unwrap_or_default();
            eprintln!(
                "epc: interrupted by {}{hint}",
                epc_core::interrupt::signal_name(signal)
            );
            ExitCode::from((128 + signal).clamp(0, 255) as u8)
        }
        Err(e) => {
            eprintln!("epc: error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// What to tell the user after an interruption (set by the command that knows, e.g. how to
/// resume a run).
pub(crate) static INTERRUPT_HINT: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// SIGINT and SIGTERM (what Slurm sends before it kills a job) set the libraries' stop flag
/// ([`epc_core::interrupt`]): the work stops at its next safe point, outputs are cleaned up or
/// kept whole, and epc exits with 128 + the signal. A second signal ends the process at once.
/// SIGXFSZ is caught so that a write over the file-size limit fails with an error that names
/// the file instead of killing the process.
fn install_signal_handlers() {
    use signal_hook::consts::{SIGINT, SIGTERM, SIGXFSZ};
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;
    let flag = epc_core::interrupt::flag();
    let armed = Arc::new(AtomicBool::new(false));
    for sig in [SIGINT, SIGTERM] {
        // Handlers run in registration order: the shutdown sees `armed` before it is set.
        let _ = signal_hook::flag::register_conditional_shutdown(sig, 128 + sig, armed.clone());
        let _ = signal_hook::flag::register_usize(sig, flag.clone(), sig as usize);
        let _ = signal_hook::flag::register(sig, armed.clone());
    }
    let _ = signal_hook::flag::register(SIGXFSZ, Arc::new(AtomicBool::new(false)));
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
