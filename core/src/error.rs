//! The one error type of `epc-core`.

use std::path::{Path, PathBuf};

/// Everything that can go wrong while loading data, configs or manifests.
///
/// Each variant names the file involved, so the CLI can print a single line
/// that tells the user which file is wrong and how.
#[derive(Debug, thiserror::Error)]
pub enum Error {
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
    /// A file's digest differs from the published one.
    #[error("{}: checksum mismatch ({algorithm} expected {expected}, got {actual})", path.display())]
    Checksum {
        /// The offending file.
        path: PathBuf,
        /// `md5` or `sha256`.
        algorithm: &'static str,
        /// The expected hex digest.
        expected: String,
        /// The digest of the file on disk.
        actual: String,
    },
    /// A download failed from every mirror.
    #[error("could not download {file}: {reason}")]
    Fetch {
        /// The file name that was wanted.
        file: String,
        /// Why each mirror failed.
        reason: String,
    },
    /// A stop signal arrived (see [`crate::interrupt`]).
    #[error("interrupted by {}", crate::interrupt::signal_name(*signal))]
    Interrupted {
        /// The signal number (2: SIGINT, 15: SIGTERM).
        signal: i32,
    },
    /// A configuration value is invalid or inconsistent.
    #[error("invalid configuration: {0}")]
    Config(String),
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
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
