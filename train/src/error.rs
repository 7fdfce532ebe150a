//! The one error type of cairn-train.

use thiserror::Error;

/// Everything that can go wrong while planning or running a training step.
#[derive(Debug, Error)]
pub enum Error {
    /// A tensor operation failed (shape mismatch, bad dtype, …).
    #[error("tensor operation failed: {0}")]
    Tensor(#[from] candle_core::Error),
    /// The device ran out of memory: an allocation would pass its capacity
    /// (the CPU device enforces its byte budget like a real GPU OOM).
    #[error(
        "device out of memory: allocating {requested} B ({category}) with {in_use} B in use exceeds the capacity of {capacity} B"
    )]
    OutOfMemory {
        /// Bytes asked for.
        requested: u64,
        /// Bytes already allocated.
        in_use: u64,
        /// The device's capacity.
        capacity: u64,
        /// What the allocation was for.
        category: &'static str,
    },
    /// The device cannot be used: no CUDA driver or GPU, or a CUDA call
    /// failed.
    #[error("device error: {0}")]
    Device(String),
    /// A configuration value is invalid (zero layers, odd head count, …).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// No plan fits the model into the device (e.g. one layer alone is too big).
    #[error("no plan fits: {0}")]
    DoesNotFit(String),
    /// A schedule or model broke an invariant (a missing stash, a missing
    /// named tensor between layers).
    #[error("schedule error: {0}")]
    Schedule(String),
    /// A checkpoint cannot be read or written, is corrupt, or belongs to a
    /// different model, configuration or optimizer.
    #[error("checkpoint {path}: {reason}")]
    Checkpoint {
        /// The checkpoint file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A file of the job (the loss log or its plot) cannot be read or written.
    #[error("{path}: {reason}")]
    Io {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The background optimizer thread failed.
    #[error("optimizer thread failed: {0}")]
    Optimizer(String),
}

/// Result with cairn-train's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
