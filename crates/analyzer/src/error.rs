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
}

impl Error {
    /// An [`Error::Model`] for `path`.
    pub fn model(path: impl AsRef<Path>, reason: impl Into<String>) -> Self {
        Error::Model {
            path: path.as_ref().to_path_buf(),
            reason: one_line(reason.into()),
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
