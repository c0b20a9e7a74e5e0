//! Why an entry was not applied.

use thiserror::Error;

/// Why [`Host::apply`](crate::Host::apply) refused an entry.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum HostError {
    /// The core rejected the input (after shutdown, a stale run, time going
    /// backwards): nothing changed, in the core or in the host.
    #[error("rejected: {0}")]
    Rejected(#[from] groupq::Error),
    /// A checked core found a broken invariant: stop.
    #[error("invariant violated: {0}")]
    Violation(String),
    /// A new epoch was asked of a host with runs live, or whose core still
    /// holds work and was not shut down: nothing changed.
    #[error("a new epoch needs a host with nothing live and a core shut down or empty")]
    NotRenewable,
}
