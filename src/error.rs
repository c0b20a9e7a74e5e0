//! The one error type. Every rejected input leaves the machine unchanged.

use thiserror::Error;

use crate::config::ConfigError;
use crate::input::RunId;
use crate::time::Time;

/// Why a pipe was refused (B3). The adapter then falls back to
/// [`Input::Message`](crate::Input::Message).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Error)]
#[non_exhaustive]
pub enum PipeRefusal {
    /// The group has no live run.
    #[error("the group has no live run")]
    NoRun,
    /// The live run is a task run, which never receives piped messages.
    #[error("the live run is a task run")]
    TaskRun,
    /// The live run is a compact run.
    #[error("the live run is a compact run")]
    CompactRun,
    /// The run's input is closed or about to be; a piped message would be lost.
    #[error("the live run's input is closing")]
    Closing,
    /// The machine is shut down.
    #[error("the machine is shut down")]
    ShutDown,
}

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
    /// Work was submitted after shutdown, or shutdown was asked twice.
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
    /// The pipe was refused; fall back to a message.
    #[error("pipe refused: {0}")]
    PipeRefused(#[from] PipeRefusal),
    /// The configuration is invalid.
    #[error("invalid configuration: {0}")]
    InvalidConfig(#[from] ConfigError),
}
