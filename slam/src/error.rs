//! The one error type of cairn-slam.

use thiserror::Error;

/// Everything that can go wrong in cairn-slam. Tracking failures are not
/// errors: a frame that cannot be tracked is reported as
/// [`crate::TrackingState::Lost`] and still gets a pose.
#[derive(Debug, Error)]
pub enum Error {
    /// An input image does not match the camera (size) or another input.
    #[error("image size {got_width}×{got_height} does not match the camera's {width}×{height} ({what})")]
    ImageSize {
        /// Which image (`"colour"` or `"depth"`).
        what: &'static str,
        /// Width the camera expects.
        width: u32,
        /// Height the camera expects.
        height: u32,
        /// Width of the image given.
        got_width: u32,
        /// Height of the image given.
        got_height: u32,
    },
    /// A configuration value is out of its range.
    #[error("invalid SLAM configuration: {0}")]
    Config(String),
    /// A keyframe id that the pose graph does not have.
    #[error("keyframe {0} is not in the pose graph")]
    UnknownKeyframe(usize),
    /// A pose-graph node or edge that cannot be used (non-finite pose,
    /// information not positive definite, self-loop, duplicate keyframe).
    #[error("invalid pose-graph input: {0}")]
    InvalidEdge(String),
    /// The pose-graph solver failed (or its system is singular).
    #[error("pose graph: {0}")]
    Graph(String),
    /// A loop detector failed.
    #[error("loop detection: {0}")]
    LoopDetector(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A saved map cannot be written or read (missing, corrupt or
    /// mismatched file; the message names it).
    #[error("map: {0}")]
    Map(String),
    /// A tensor operation on a saved map's clouds failed.
    #[error("map tensors: {0}")]
    Tensor(#[from] candle_core::Error),
    /// An error from cairn-core (camera validation, I/O).
    #[error(transparent)]
    Core(#[from] cairn_core::Error),
}

/// `Result` with cairn-slam's [`enum@Error`].
pub type Result<T> = std::result::Result<T, Error>;
