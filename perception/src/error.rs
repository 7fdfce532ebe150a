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
    /// The descriptor network failed (a layer, its weights, a tensor).
    #[error("network: {0}")]
    Train(#[from] cairn_train::Error),
    /// A tensor operation of the descriptor network failed.
    #[error("tensor: {0}")]
    Tensor(#[from] candle_core::Error),
}

/// Result with cairn-perception's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
