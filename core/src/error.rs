//! The one error type of cairn-core.

use std::path::PathBuf;

/// Everything that can go wrong in cairn-core.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be opened, read or written.
    #[error("{path}: {cause}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// What the OS said (shown in the message, so not chained as a source).
        cause: std::io::Error,
    },
    /// A line of a text file (trajectory, calibration) is malformed.
    #[error("{path}:{line}: {message}")]
    Parse {
        /// The file (or `<memory>` for in-memory text).
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong with the line.
        message: String,
    },
    /// A calibration file is readable but its content is inconsistent.
    #[error("calibration {path}: {message}")]
    Calibration {
        /// The calibration file (or `<memory>`).
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// An image could not be decoded or has the wrong format.
    #[error("image {path}: {message}")]
    Image {
        /// The image file (or `<memory>`).
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A dataset folder (TUM RGB-D, sample set) is malformed: a bad list
    /// line, a missing file, a folder that already holds data.
    #[error("dataset {path}: {message}")]
    Dataset {
        /// The folder or list file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Two trajectories could not be associated (no common timestamps,
    /// different lengths where equal lengths are required).
    #[error("association: {0}")]
    Association(String),
    /// A geometric estimation is impossible for this input (e.g. Umeyama
    /// alignment with collinear points).
    #[error("geometry: {0}")]
    Geometry(String),
    /// A metric cannot be computed for this input (e.g. RPE delta larger
    /// than the trajectory).
    #[error("metric: {0}")]
    Metric(String),
    /// An argument is out of its valid range.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A point cloud is inconsistent: its channels differ in length or a
    /// coordinate is not finite.
    #[error("point cloud: {0}")]
    PointCloud(String),
}

/// Result with cairn-core's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), cause: source }
    }
}
