//! The one error type of `epc-analyzer`.

use std::path::{Path, PathBuf};

/// Everything that can go wrong while loading, running or analysing a model.
///
/// Every message is one line that names the file involved and the problem.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A model file is not ONNX, breaks the step-model contract, or cannot run.
    #[error("{}: {reason}", path.display())]
    Model {
        /// The model file.
        path: PathBuf,
        /// What is wrong, in words.
        reason: String,
    },
    /// ONNX Runtime failed while running a model.
    #[error("{}: {doing}: {}", path.display(), one_line(source.to_string()))]
    Ort {
        /// The model file.
        path: PathBuf,
        /// What was being done.
        doing: String,
        /// ONNX Runtime's error.
        #[source]
        source: ort::Error,
    },
    /// The ONNX Runtime library could not be loaded or initialised.
    #[error("ONNX Runtime: {0}")]
    Runtime(String),
    /// An execution provider that was asked for explicitly cannot start.
    #[error("{}: execution provider {provider} cannot start: {reason}", path.display())]
    Provider {
        /// The model file whose session was being created.
        path: PathBuf,
        /// The provider's name.
        provider: String,
        /// Why it failed.
        reason: String,
    },
    /// Reading or writing a file or folder failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Drawing a figure failed.
    #[error("{}: cannot draw figure: {reason}", path.display())]
    Plot {
        /// The figure file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Inputs that do not fit together (options, array shapes, data set vs model).
    #[error("{0}")]
    Input(String),
    /// Loading or sampling the data set failed.
    #[error(transparent)]
    Data(#[from] epc_core::Error),
    /// Reading an ONNX file or writing an HDF5 dump failed.
    #[error(transparent)]
    Export(#[from] epc_exporter::Error),
}

impl Error {
    /// An [`Error::Model`] for `path`.
    pub fn model(path: impl AsRef<Path>, reason: impl Into<String>) -> Self {
        Error::Model {
            path: path.as_ref().to_path_buf(),
            reason: one_line(reason.into()),
        }
    }

    /// An [`Error::Ort`] for the model at `path`.
    pub fn ort(path: impl AsRef<Path>, doing: impl Into<String>, source: ort::Error) -> Self {
        Error::Ort {
            path: path.as_ref().to_path_buf(),
            doing: doing.into(),
            source,
        }
    }

    /// A core error of the output folder as this crate's: I/O failures become [`Error::Io`].
    pub(crate) fn output(e: epc_core::Error) -> Self {
        match e {
            epc_core::Error::Io { path, source } => Error::Io { path, source },
            other => Error::Data(other),
        }
    }

    /// An error of the ONNX reader as this crate's: a malformed file is an [`Error::Model`],
    /// an I/O failure an [`Error::Io`].
    pub(crate) fn model_file(e: epc_exporter::Error) -> Self {
        match e {
            epc_exporter::Error::Format { path, reason } => Error::model(path, reason),
            epc_exporter::Error::Io { path, source } => Error::Io { path, source },
            other => Error::Export(other),
        }
    }

    /// An [`Error::Io`] for `path`.
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }
}

/// Folds a multi-line message (ONNX Runtime's errors often have several lines) into one line.
pub(crate) fn one_line(s: String) -> String {
    if s.contains('\n') {
        s.split('\n')
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" | ")
    } else {
        s
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
