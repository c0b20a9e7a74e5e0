//! What [`Host::apply`](crate::Host::apply) answers: [`Answer`], the answer
//! of whichever entry it was, and the typed answers a driver hands to the
//! application's calls.

use groupq::{CancelAnswer, CloseAnswer, RunId};

use crate::left::Left;
use crate::tasks::TaskOutcome;

/// Where a user's message went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Delivery {
    /// Written into the group's live run, which answers it.
    Piped(RunId),
    /// Stored as unread; a run of the group will be handed it.
    Queued,
}

/// The answer of a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Submitted {
    /// Queued (or started at once).
    Queued,
    /// Not queued: the group has this task id already.
    Duplicate(Duplicate),
    /// Not queued: a cap on queued tasks is reached
    /// ([`Config::with_max_group_tasks`](groupq::Config::with_max_group_tasks),
    /// [`Config::with_max_queued_tasks`](groupq::Config::with_max_queued_tasks)).
    /// Nothing changed: shed it or tell its sender.
    Refused(groupq::TaskRefusal),
    /// Not queued: a background task that asked to be skipped while its
    /// group's conversation is active ([`groupq::BackgroundTask`]).
    Skipped,
}

impl Submitted {
    /// Whether the task was queued.
    pub fn is_queued(self) -> bool {
        self == Submitted::Queued
    }
}

/// Where the task a duplicate names is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Duplicate {
    /// Queued in the group.
    Queued,
    /// Running in this run.
    Running(RunId),
    /// It ran, within the task window, and ended so.
    Ran(TaskOutcome),
}

/// The answer of one entry.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Answer {
    /// Applied; nothing to say (pause, resume, a run's line or exit, a
    /// deadline, a never-launched run).
    Applied,
    /// The answer of [`Entry::Message`](crate::Entry::Message).
    Delivery(Delivery),
    /// The answer of [`Entry::Task`](crate::Entry::Task).
    Task(Submitted),
    /// The answer of [`Entry::Cancel`](crate::Entry::Cancel).
    Cancel(CancelAnswer<String>),
    /// The answer of [`Entry::CloseRun`](crate::Entry::CloseRun).
    Close(CloseAnswer),
    /// The answer of [`Entry::Shutdown`](crate::Entry::Shutdown): the
    /// work left.
    Shutdown(Box<Left>),
}

/// An answer of another entry than the one asked for: a bug of the driver
/// that asked, never of its input.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the host answered {0:?}, not the answer of the entry asked for")]
pub struct OtherAnswer(pub Answer);

macro_rules! typed_answer {
    ($variant:ident($ty:ty)) => {
        impl TryFrom<Answer> for $ty {
            type Error = OtherAnswer;
            fn try_from(answer: Answer) -> Result<$ty, OtherAnswer> {
                match answer {
                    Answer::$variant(a) => Ok(a),
                    other => Err(OtherAnswer(other)),
                }
            }
        }
    };
}

typed_answer!(Delivery(Delivery));
typed_answer!(Task(Submitted));
typed_answer!(Cancel(CancelAnswer<String>));
typed_answer!(Close(CloseAnswer));

impl TryFrom<Answer> for Left {
    type Error = OtherAnswer;
    fn try_from(answer: Answer) -> Result<Self, OtherAnswer> {
        match answer {
            Answer::Shutdown(report) => Ok(*report),
            other => Err(OtherAnswer(other)),
        }
    }
}

impl TryFrom<Answer> for () {
    type Error = OtherAnswer;
    fn try_from(answer: Answer) -> Result<(), OtherAnswer> {
        match answer {
            Answer::Applied => Ok(()),
            other => Err(OtherAnswer(other)),
        }
    }
}
