//! `epc._epc`: the native half of the Python package `epc` (python/epc/). Like the command
//! line, it only translates: Python arguments into the library's options, the library's values
//! into Python objects, and its errors into the exceptions of `epc._errors`. The pure-Python
//! half turns what it returns into pandas and xarray objects.
//!
//! Long calls run on a worker thread with the GIL released while the calling thread checks
//! Python's signal handlers every 50 ms; on Ctrl-C it raises epc-core's interrupt flag, which
//! the library's loops check between batches, waits for the worker to stop cleanly (nothing
//! half-written is left), clears the flag and raises `KeyboardInterrupt`.

mod convert;
mod dump;

use epc_analyzer::{
    AnalysisOptions, EngineOptions, Error, ExecutionProvider, GroupBy, NullOptions, StepModel,
};
use epc_core::data::DatasetKind;
use pyo3::prelude::*;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

/// The signal number recorded when Python reports Ctrl-C (SIGINT).
const SIGINT: i32 = 2;

/// Raises the exception class `kind` of `epc._errors` with `message` (and, for a
/// `ContractError`, its violations).
fn raise(py: Python<'_>, kind: &str, message: String, violations: Vec<String>) -> PyErr {
    let made = (|| -> PyResult<PyErr> {
        let class = py.import("epc._errors")?.getattr(kind)?;
        let exc = class.call1((message.clone(), violations))?;
        Ok(PyErr::from_value(exc))
    })();
    made.unwrap_or_else(|e| e)
}

/// The exception of a library error: every message is the command line's one line.
fn to_py(py: Python<'_>, e: Error) -> PyErr {
    let message = e.to_string();
    match e {
        Error::Data(epc_core::Error::Interrupted { .. }) => {
            pyo3::exceptions::PyKeyboardInterrupt::new_err(message)
        }
        Error::Data(_) => raise(py, "DataError", message, Vec::new()),
        Error::Model { ref path, .. } => {
            // A model that breaks the contract: list the violations as `epc check-model` does.
            let violations = match StepModel::open(path, &check_options()) {
                Ok(Err(v)) => v
                    .into_iter()
                    .map(|v| format!("{}: {v}", path.display()))
                    .collect(),
                _ => Vec::new(),
            };
            let kind = if violations.is_empty() {
                "ModelError"
            } else {
                "ContractError"
            };
            raise(py, kind, message, violations)
        }
        Error::Ort { .. } | Error::Provider { .. } | Error::Runtime(_) => {
            raise(py, "ModelError", message, Vec::new())
        }
        Error::Io { .. } | Error::Export(_) | Error::Plot { .. } => {
            raise(py, "FileError", message, Vec::new())
        }
        Error::Input(_) => raise(py, "InputError", message, Vec::new()),
    }
}

/// Runs `work` on a worker thread with the GIL released, checking Python's signals while it
/// runs (see the crate documentation).
fn interruptible<T: Send + 'static>(
    py: Python<'_>,
    work: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> PyResult<T> {
    let (tx, mut rx) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        let _ = tx.send(work());
    });
    loop {
        // The receiver goes into the GIL-free closure and comes back (it is Send, not Sync).
        let (got, back) = py.detach(move || (rx.recv_timeout(Duration::from_millis(50)), rx));
        rx = back;
        match got {
            Ok(result) => {
                let _ = worker.join();
                return result.map_err(|e| to_py(py, e));
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if let Err(signal) = py.check_signals() {
                    epc_core::interrupt::request(SIGINT);
                    let _ = py.detach(move || rx.recv());
                    let _ = worker.join();
                    epc_core::interrupt::clear();
                    return Err(signal);
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let _ = worker.join();
                return Err(raise(
                    py,
                    "Error",
                    "the worker thread failed".into(),
                    Vec::new(),
                ));
            }
        }
    }
}

/// The engine settings of `epc check-model`: CPU, batch 1.
fn check_options() -> EngineOptions {
    EngineOptions {
        ep: ExecutionProvider::Cpu,
        batch_size: 1,
        ..EngineOptions::default()
    }
}

/// A data set named as on the command line, or an `InputError`.
fn dataset_kind(py: Python<'_>, name: Option<&str>) -> PyResult<Option<DatasetKind>> {
    name.map(|n| {
        DatasetKind::from_name(n).ok_or_else(|| {
            raise(
                py,
                "InputError",
                format!("unknown data set {n:?} (digits, mnist, fashion-mnist, cifar10)"),
                Vec::new(),
            )
        })
    })
    .transpose()
}

/// The lines of `epc check-model PATH` when the model breaks the contract (`PATH: problem`),
/// empty when it follows it; raises for a file that cannot be read as ONNX at all.
#[pyfunction]
fn check_model(py: Python<'_>, path: PathBuf) -> PyResult<Vec<String>> {
    let opened = py.detach(|| StepModel::open(&path, &check_options()));
    match opened {
        Ok(Ok(_)) => Ok(Vec::new()),
        Ok(Err(violations)) => Ok(violations
            .into_iter()
            .map(|v| format!("{}: {v}", path.display()))
            .collect()),
        Err(e) => Err(to_py(py, e)),
    }
}

/// Every step model the paths name: files as they are, run folders as their
/// `seed-*/model.onnx` (as `epc analyze --model` takes them).
#[pyfunction]
fn expand_models(py: Python<'_>, paths: Vec<PathBuf>) -> PyResult<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let found = epc_core::run::RunDir::step_models(&p).map_err(|e| to_py(py, e.into()))?;
            out.extend(found);
        } else {
            out.push(p);
        }
    }
    Ok(out)
}

/// Runs `epc analyze` on `models` into the folder `out` (replaced whole) and returns
/// summary.json's text. Every option has the command line's name and default.
#[pyfunction]
#[pyo3(signature = (models, out, *, dataset=None, data_dir=None, group_by=None, seed=0, figures=true, bootstrap=10_000, baselines=None, ci="t", null_draws=100, dose_draws=10, null_sequences=100, target=0, sequence_sets=None))]
#[allow(clippy::too_many_arguments)]
fn analyze(
    py: Python<'_>,
    models: Vec<PathBuf>,
    out: PathBuf,
    dataset: Option<String>,
    data_dir: Option<PathBuf>,
    group_by: Option<String>,
    seed: u64,
    figures: bool,
    bootstrap: usize,
    baselines: Option<String>,
    ci: &str,
    null_draws: usize,
    dose_draws: usize,
    null_sequences: usize,
    target: usize,
    sequence_sets: Option<PathBuf>,
) -> PyResult<String> {
    if target > 9 {
        let message = format!("target must be a digit class 0 to 9, got {target}");
        return Err(raise(py, "InputError", message, Vec::new()));
    }
    let mut opts = AnalysisOptions::new(models, dataset_kind(py, dataset.as_deref())?, out);
    opts.data_dir = data_dir;
    opts.seed = seed;
    opts.figures = figures;
    opts.bootstrap = bootstrap;
    opts.ci = ci
        .parse()
        .map_err(|e: String| raise(py, "InputError", e, Vec::new()))?;
    opts.nulls = NullOptions {
        draws: null_draws,
        dose_draws,
        sequences: null_sequences,
    };
    opts.target = target;
    opts.sequence_sets = sequence_sets;
    if let Some(g) = group_by {
        opts.group_by = g.parse::<GroupBy>().map_err(|e| to_py(py, e))?;
    }
    if let Some(b) = baselines {
        opts.baselines = b.parse().map_err(|e| to_py(py, e))?;
    }
    interruptible(py, move || {
        let summary = epc_analyzer::analyze(&opts)?;
        serde_json::to_string(&summary)
            .map_err(|e| Error::Input(format!("cannot serialise the summary: {e}")))
    })
}

/// The toolkit version the extension was built from.
#[pyfunction]
fn toolkit_version() -> &'static str {
    epc_core::TOOLKIT_VERSION
}

/// The extension module `epc._epc`.
#[pymodule]
fn _epc(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(check_model, m)?)?;
    m.add_function(wrap_pyfunction!(expand_models, m)?)?;
    m.add_function(wrap_pyfunction!(analyze, m)?)?;
    m.add_function(wrap_pyfunction!(dump::dump, m)?)?;
    m.add_function(wrap_pyfunction!(dump::run_model, m)?)?;
    m.add_function(wrap_pyfunction!(toolkit_version, m)?)?;
    Ok(())
}
