//! The one error type of `epc-exporter`.

use std::path::{Path, PathBuf};

/// Everything that can go wrong while exporting a model or writing/reading a dump.
///
/// Each variant that concerns a file names it, so the CLI can print one line that
/// says which file is wrong and how.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An error from `epc-core` (config, atomic writes); it already names its file.
    #[error(transparent)]
    Core(#[from] epc_core::Error),
    /// Reading or writing a file failed at the OS level.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file exists but its content is not what its format promises.
    #[error("{}: {reason}", path.display())]
    Format {
        /// The offending file.
        path: PathBuf,
        /// What is wrong with it, in words.
        reason: String,
    },
    /// The HDF5 library refused an operation on a file.
    #[error("{}: HDF5: {doing}: {}", path.display(), one_line(&source.to_string()))]
    Hdf5 {
        /// The file involved.
        path: PathBuf,
        /// What was being done.
        doing: String,
        /// The library's error.
        #[source]
        source: hdf5::Error,
    },
    /// A safetensors file cannot be built or parsed.
    #[error("{}: {doing} ({source})", path.display())]
    Safetensors {
        /// The file involved.
        path: PathBuf,
        /// What was being done.
        doing: String,
        /// The library's error.
        #[source]
        source: safetensors::SafeTensorError,
    },
    /// The values handed to a builder or writer are inconsistent (no file involved yet).
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// What was being built (`model`, `activation dump`, ...).
        what: &'static str,
        /// What is wrong, in words.
        reason: String,
    },
}

impl Error {
    /// An [`Error::Io`] for `path`.
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    /// An [`Error::Format`] for `path`.
    pub fn format(path: impl AsRef<Path>, reason: impl Into<String>) -> Self {
        Error::Format {
            path: path.as_ref().to_path_buf(),
            reason: reason.into(),
        }
    }

    /// An [`Error::Hdf5`] for `path`; `doing` says what was being done.
    pub fn hdf5(path: impl AsRef<Path>, doing: &str, source: hdf5::Error) -> Self {
        Error::Hdf5 {
            path: path.as_ref().to_path_buf(),
            doing: doing.to_string(),
            source,
        }
    }

    /// An [`Error::Safetensors`] for `path`; `doing` says what was being done.
    pub fn safetensors(
        path: impl AsRef<Path>,
        doing: &str,
        source: safetensors::SafeTensorError,
    ) -> Self {
        Error::Safetensors {
            path: path.as_ref().to_path_buf(),
            doing: doing.to_string(),
            source,
        }
    }

    /// An [`Error::Invalid`].
    pub fn invalid(what: &'static str, reason: impl Into<String>) -> Self {
        Error::Invalid {
            what,
            reason: reason.into(),
        }
    }

    /// Attaches `path` to an [`Error::Invalid`], turning it into an [`Error::Format`];
    /// other variants already name their file and are returned unchanged.
    pub fn at(self, path: &Path) -> Self {
        match self {
            Error::Invalid { what, reason } => {
                Error::format(path, format!("invalid {what}: {reason}"))
            }
            other => other,
        }
    }
}

/// The words of a (possibly multi-line) library message on one line.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Makes a core error of an atomic write name the final `path`: an I/O error on the
/// temporary sibling or on the parent folder becomes an I/O error of `path` that also
/// names the file or folder that failed.
fn name_final_path(path: &Path, e: epc_core::Error) -> Error {
    match e {
        epc_core::Error::Io { path: p, source } if p != path => {
            let verb = if path.parent() == Some(p.as_path()) {
                "cannot create folder"
            } else {
                "cannot write"
            };
            Error::io(
                path,
                std::io::Error::new(source.kind(), format!("{verb} {}: {source}", p.display())),
            )
        }
        other => other.into(),
    }
}

/// [`epc_core::fsutil::write_atomic`], with errors that name `path`.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    epc_core::fsutil::write_atomic(path, bytes).map_err(|e| name_final_path(path, e))
}
