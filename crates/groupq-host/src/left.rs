//! What a shutdown leaves: [`Left`], the answer of
//! [`Entry::Shutdown`](crate::Entry::Shutdown), with every text and
//! payload; and the tasks a host keeps to put back on its next start.

use groupq::{RunId, RunState, WorkKind};
use serde::{Deserialize, Serialize};

/// A task that was queued when the host shut down.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LeftTask {
    /// Its group.
    pub group: String,
    /// Its id.
    pub id: String,
    /// Its payload.
    pub payload: String,
    /// A background task (B16): put back as one.
    #[serde(default)]
    pub background: bool,
}

/// A group's messages that no run had been handed when the host shut down
/// (a terminal failure's leftovers among them).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LeftMessages {
    /// The group.
    pub group: String,
    /// The messages, oldest first.
    pub texts: Vec<String>,
}

/// A run still live when the host shut down: it finishes its turn (or is
/// closed, then killed); the messages it holds unanswered are read again
/// by the group's next run if it fails.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LeftRun {
    /// The run.
    pub run: RunId,
    /// Its group.
    pub group: String,
    /// Its kind of work.
    pub kind: WorkKind,
    /// Where it was in its lifecycle.
    pub state: RunState,
    /// The messages it was handed that no delivered reply answered.
    pub unanswered: Vec<String>,
}

/// Everything a shutdown leaves, with every text and payload: the answer
/// of a shutdown. A durable driver keeps it and puts it back on its next
/// start; without a state directory, persist it and resubmit it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Left {
    /// Tasks that were queued, in the order they would have run per group.
    pub tasks: Vec<LeftTask>,
    /// Unread messages, by group (sorted).
    pub messages: Vec<LeftMessages>,
    /// Runs still live, by run id.
    pub live_runs: Vec<LeftRun>,
    /// Compact turns that were owed and will not run (the next run that
    /// crosses the threshold asks again).
    pub dropped_compacts: usize,
}

impl Left {
    /// Nothing left: no task, no message, no live run.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty() && self.messages.is_empty() && self.live_runs.is_empty()
    }
}
