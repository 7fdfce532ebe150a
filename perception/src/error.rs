//! The one error type of cairn-perception.

/// Everything that can go wrong in cairn-perception.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration value is out of range (names the field).
    #[error("config: {0}")]
    Config(String),
    /// The input cannot be processed (too few points, mismatched sizes).
    #[error("input: {0}")]
    Input(String),
    /// A geometric estimate is impossible for this input.
    #[error(transparent)]
    Core(#[from] cairn_core::Error),
}

/// Result with cairn-perception's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
