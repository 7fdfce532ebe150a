//! The one error type of cairn-sim.

use std::path::PathBuf;

/// Everything that can go wrong in cairn-sim.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An error from cairn-core (calibration, images, trajectories).
    #[error(transparent)]
    Core(#[from] cairn_core::Error),
    /// A file or folder could not be created, read or written.
    #[error("{path}: {cause}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// What the OS said.
        cause: std::io::Error,
    },
    /// A TUM dataset folder is malformed (bad list line, missing files).
    #[error("dataset {path}: {message}")]
    Dataset {
        /// The folder or list file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A trajectory cannot be placed in the scene or has too few poses.
    #[error("trajectory: {0}")]
    Trajectory(String),
    /// An argument is out of its valid range (unknown scene name, zero frames).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

/// Result with cairn-sim's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, cause: std::io::Error) -> Self {
        Error::Io { path: path.into(), cause }
    }
}
