//! The vocabulary of runs: [`RunId`], what a run does ([`Work`]), where it
//! is in its lifecycle ([`RunState`]) and how it ended ([`Exit`]).

use std::fmt;

/// A run: one container lifetime for a group.
///
/// Run ids increase monotonically from 1 and are never reused, so a run id
/// is a fencing token: an input naming a run that is no longer live is
/// rejected instead of being applied to its successor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct RunId(u64);

impl RunId {
    /// A run id from its number, as found in a trace or a log. Ids the core
    /// never issued are rejected as [`Error::UnknownRun`](crate::Error::UnknownRun).
    pub const fn new(raw: u64) -> RunId {
        RunId(raw)
    }
    /// The number of this run id.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "run#{}", self.0)
    }
}

/// What a run does.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Work<T, P> {
    /// Process the group's unread messages; may receive piped follow-ups.
    Messages,
    /// Run one queued task; never receives piped messages.
    Task {
        /// The task's id.
        id: T,
        /// The payload given with the task.
        payload: P,
    },
    /// The context compaction turn.
    Compact,
}

impl<T, P> Work<T, P> {
    /// The kind of this work, without its data.
    pub fn kind(&self) -> WorkKind {
        match self {
            Work::Messages => WorkKind::Messages,
            Work::Task { .. } => WorkKind::Task,
            Work::Compact => WorkKind::Compact,
        }
    }
}

/// The kind of a run's [`Work`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum WorkKind {
    /// [`Work::Messages`].
    Messages,
    /// [`Work::Task`].
    Task,
    /// [`Work::Compact`].
    Compact,
}

/// Where a live run is in its lifecycle.
///
/// `Busy` → `IdleWaiting` (finished its turn) → `Busy` again when a
/// follow-up is piped in, or `Closing` once the core asked for its input to
/// be closed. A run leaves the machine only when its exit is reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum RunState {
    /// Working on a turn.
    Busy,
    /// Finished its turn; waiting for piped input.
    IdleWaiting,
    /// Its input was closed ([`CloseInput`](crate::Command::CloseInput)
    /// emitted); it only has to exit.
    Closing,
}

/// How a container ended. A failure has a class: how a Messages run's
/// unanswered messages are retried (B7). A task's failure of any class is
/// recorded, never retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum Exit {
    /// Exit status zero.
    Clean,
    /// Non-zero status, killed, or could not be started: retried on the
    /// backoff.
    Failed,
    /// A failure that will happen again however often it is retried (a
    /// stale session, a bad configuration): no retry, the group's
    /// terminal failure at once.
    Fatal,
    /// A failure to retry after this long rather than on the backoff (a
    /// provider's rate limit). It counts as an attempt: past `max_retries`
    /// it is a terminal failure too.
    RetryAfter(std::time::Duration),
}

impl Exit {
    /// Any failure: everything but [`Exit::Clean`].
    pub fn is_failure(&self) -> bool {
        *self != Exit::Clean
    }
}
