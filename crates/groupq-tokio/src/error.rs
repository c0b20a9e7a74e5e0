//! The driver's errors.

use thiserror::Error;

/// Why a driver call failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DriverError {
    /// The core rejected the input (for example after shutdown); nothing
    /// changed.
    #[error("rejected: {0}")]
    Rejected(#[from] groupq::Error),
    /// The invariant checker (on with [`Builder::checked`](crate::Builder::checked))
    /// found a broken promise; the driver stopped.
    #[error("invariant violated: {0}")]
    Violation(String),
    /// The driver's run loop is not running (it ended, failed, or was never
    /// started), so the call could not be answered.
    #[error("the driver is not running")]
    Stopped,
    /// The state directory of a durable driver could not be used or
    /// written ([`Builder::durable`](crate::Builder::durable)).
    #[error("state: {0}")]
    State(#[from] crate::StateError),
}
