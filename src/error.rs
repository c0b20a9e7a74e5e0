//! The one error type. Every rejected input leaves the machine unchanged:
//! not its state, not its buffered outputs, not its clock.

use thiserror::Error;

use crate::config::ConfigError;
use crate::time::Time;
use crate::work::RunId;

/// An input the machine rejected, or a configuration it refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    /// The run id was never issued.
    #[error("{0} was never issued")]
    UnknownRun(RunId),
    /// The run has already exited.
    #[error("{0} is not live")]
    StaleRun(RunId),
    /// After shutdown: a [`Message`](crate::Message), [`Task`](crate::Task),
    /// [`Pause`](crate::Pause) or [`Resume`](crate::Resume), or a second
    /// [`Shutdown`](crate::Shutdown). ([`Cancel`](crate::Cancel) and
    /// [`CloseRun`](crate::CloseRun) are still accepted: they only take
    /// work away.)
    #[error("the machine is shut down")]
    ShutDown,
    /// `now` is earlier than the `now` of an earlier accepted input.
    #[error("time went backwards: {now} is before {last}")]
    TimeWentBackwards {
        /// The time given.
        now: Time,
        /// The latest time accepted so far.
        last: Time,
    },
    /// [`NeverLaunched`](crate::NeverLaunched) named work of another kind,
    /// or another task, than the run's.
    #[error("the work given does not match {0}'s")]
    WorkMismatch(RunId),
    /// The configuration is invalid.
    #[error("invalid configuration: {0}")]
    InvalidConfig(#[from] ConfigError),
}
