//! The one error type of `epc-trainer`.

use std::path::PathBuf;

/// What can stop a training run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Data, config or file-system problem from `epc-core`.
    #[error(transparent)]
    Core(#[from] epc_core::Error),
    /// Writing weights or the ONNX model failed.
    #[error(transparent)]
    Export(#[from] epc_exporter::Error),
    /// libtorch reported an error.
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    /// A libtorch operation failed inside the training loop (tch's infallible operations
    /// panic; [`crate::guard::catch_torch`] turns that into this error).
    #[error("libtorch failed while {what}: {message}")]
    Libtorch {
        /// What was being done.
        what: String,
        /// The first line of libtorch's message, with a hint when memory ran out.
        message: String,
    },
    /// A checkpoint exists but cannot be used.
    #[error("{}: {reason}", path.display())]
    Checkpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The requested device is not available in this build or on this machine.
    #[error("device {0} is not available")]
    Device(String),
    /// One or more instances produced a NaN or infinite loss and were stopped.
    #[error("{0}")]
    NonFinite(String),
    /// Anything else that makes the request impossible.
    #[error("{0}")]
    Invalid(String),
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
