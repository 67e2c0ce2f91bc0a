//! The command line of `epc` (train energy-efficient RNNs, export them as ONNX, dump their
//! activations as HDF5, analyse prediction and error units; Ali et al., Patterns 2022), shared
//! by the two binaries: `epc`, which links no libtorch, and `epc-train`, which trains and is
//! started by `epc train`.

pub mod cmd_analyze;
pub mod cmd_check;
pub mod cmd_dump;
pub mod cmd_export;
pub mod cmd_sweep;
mod engine_args;
pub mod train_args;

use std::process::ExitCode;

/// Sets up a command-line process: one-line panics (silent while `silent_panic()` is true),
/// the stop-signal handlers and the stderr logger.
pub fn start_process(silent_panic: fn() -> bool) {
    install_panic_hook(silent_panic);
    install_signal_handlers();
    log::set_logger(&STDERR_LOG).expect("the only logger");
    log::set_max_level(log::LevelFilter::Info);
}

/// The exit of a command: success, an interruption (one line, with the hint, exit 128 +
/// signal), or an error on one line (exit 1).
pub fn finish(outcome: anyhow::Result<()>) -> ExitCode {
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

/// The trainer binary: `epc-train` beside this executable (an error that says how to build it
/// when it is missing).
pub fn trainer_path() -> anyhow::Result<std::path::PathBuf> {
    let me = std::env::current_exe()?;
    let path = me.with_file_name(format!("epc-train{}", std::env::consts::EXE_SUFFIX));
    if !path.is_file() {
        anyhow::bail!(
            "epc train needs {} (the trainer, which links libtorch); build it with \
             `cargo build --release` (feature `train`, on by default)",
            path.display()
        );
    }
    Ok(path)
}

/// What to tell the user after an interruption (set by the command that knows, e.g. how to
/// resume a run).
pub static INTERRUPT_HINT: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// SIGINT and SIGTERM (what Slurm sends before it kills a job) set the libraries' stop flag
/// ([`epc_core::interrupt`]): the work stops at its next safe point, outputs are cleaned up or
/// kept whole, and epc exits with 128 + the signal. A second signal ends the process at once.
/// SIGUSR1 is a stop passed on by a parent epc ([`epc_core::interrupt::FORWARDED`]): graceful
/// only, however often it comes.
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
    let _ = signal_hook::flag::register(
        epc_core::interrupt::FORWARDED,
        epc_core::interrupt::forwarded_flag(),
    );
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
pub fn print_notes(notes: &[String]) {
    for n in notes {
        eprintln!("epc: note: {n}");
    }
}

/// A panic prints one line (never a backtrace); while `silent()` is true it prints nothing
/// (the trainer's libtorch guard turns such a panic into an ordinary error that is reported).
fn install_panic_hook(silent: fn() -> bool) {
    std::panic::set_hook(Box::new(move |info| {
        if silent() {
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
pub fn interactive() -> bool {
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
