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
    /// The invariant checker (`Builder::checked`, with the `checked`
    /// feature) found a broken promise; the driver stopped.
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
    /// The runner could not recover the runs of the driver before this one
    /// ([`Runner::recover`](crate::Runner::recover)): the driver did not
    /// start anything. Retrying the start is safe.
    #[error("runner: recovery failed: {0}")]
    Recovery(std::io::Error),
    /// Detaching needs a durable driver: without a state directory no
    /// later start could adopt the runs.
    #[error("only a durable driver can detach")]
    NotDurable,
    /// A bug of the driver: the host answered a call with the answer of
    /// another kind of call.
    #[error("internal: {0}")]
    Internal(String),
}

impl From<groupq_host::HostError> for DriverError {
    fn from(e: groupq_host::HostError) -> DriverError {
        match e {
            groupq_host::HostError::Rejected(e) => DriverError::Rejected(e),
            groupq_host::HostError::Violation(v) => DriverError::Violation(v),
            other => DriverError::Internal(other.to_string()),
        }
    }
}
