//! The one error type of cairn-bags.

use std::path::PathBuf;

/// Everything that can go wrong reading, writing or decoding bags.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be opened, read or written.
    #[error("{path}: {cause}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// What the OS said.
        cause: std::io::Error,
    },
    /// CDR bytes could not be decoded as the expected message type.
    #[error("CDR decode of {type_name}: {message}")]
    Decode {
        /// ROS type name, e.g. `sensor_msgs/msg/Image`.
        type_name: String,
        /// What is wrong.
        message: String,
    },
    /// A message could not be encoded.
    #[error("CDR encode of {type_name}: {message}")]
    Encode {
        /// ROS type name.
        type_name: String,
        /// What is wrong.
        message: String,
    },
    /// A message's content cannot be converted (e.g. unsupported image
    /// encoding, inconsistent sizes).
    #[error("{0}")]
    Convert(String),
    /// A bag file is truncated, corrupt or not what its name says.
    #[error("{path}: {message}")]
    Corrupt {
        /// The file (data file or metadata.yaml).
        path: PathBuf,
        /// What is broken, and where.
        message: String,
    },
    /// The bag is fine but cairn cannot use it as asked (unknown storage,
    /// missing topic, unsupported type).
    #[error("{0}")]
    Unsupported(String),
    /// An error from cairn-core.
    #[error(transparent)]
    Core(#[from] cairn_core::Error),
}

/// Result with cairn-bags' [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, cause: std::io::Error) -> Self {
        Error::Io { path: path.into(), cause }
    }
}
