//! The study library's error type.

/// What can go wrong with a plan, a study folder or its runs.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A config, data or file error from `epc-core` (it names the file).
    #[error(transparent)]
    Core(#[from] epc_core::Error),
    /// A plan's cell does not make a valid config.
    #[error("{plan}, cell {cell}: {reason}")]
    Cell {
        /// The plan file.
        plan: String,
        /// The cell's name.
        cell: String,
        /// Why, in words.
        reason: String,
    },
    /// The study cannot go on as asked (a cell failed, another process trains it, no cell is
    /// finished, ...).
    #[error("{0}")]
    Study(String),
    /// Slurm refused or is missing.
    #[error("{0}")]
    Slurm(String),
}

impl Error {
    /// An [`Error::Study`].
    pub fn study(reason: impl Into<String>) -> Self {
        Error::Study(reason.into())
    }

    /// An I/O error on `path` (through [`epc_core::Error::io`]).
    pub fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        Error::Core(epc_core::Error::io(path, source))
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
