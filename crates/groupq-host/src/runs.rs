//! The live runs as the host knows them: what each was started for, under
//! which name, since when, and how far its output has been read.

use std::collections::HashMap;

use groupq::{RunId, Time, WorkKind};
use serde::{Deserialize, Serialize};

/// A live run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LiveRun {
    /// Its group.
    pub group: String,
    /// Its kind of work.
    pub kind: WorkKind,
    /// The task's id, for a task run.
    pub task: Option<String>,
    /// The task's payload: handed back to the core if the run never
    /// launched.
    pub payload: Option<String>,
    /// Its name (directory, container), unique across restarts.
    pub name: String,
    /// When it was spawned (core time).
    pub spawned_at: Time,
    /// How far its output was read: the position after the last line
    /// applied. A run adopted after a restart is read on from here.
    pub read_to: u64,
    /// How many messages were written into its input (at its start and
    /// since): an adopted run's next message file is numbered after them.
    pub delivered: u64,
    /// Whether its last turn succeeded (`None`: no turn yet): the exit of
    /// a run whose status cannot be known ([`RunExit::Gone`](crate::RunExit::Gone))
    /// is clean only after a successful turn.
    pub last_turn_ok: Option<bool>,
    /// How its failure is retried, as its last error turn asked
    /// (`"fatal"`, `"retry_after_ms"`); a later successful turn clears it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<FailureClass>,
}

/// What an agent's error turn said of its failure: how the core retries
/// the group's messages (B7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FailureClass {
    /// No retry: the group's terminal failure at once.
    Fatal,
    /// Retry after this many milliseconds, not on the backoff.
    RetryAfterMs(u64),
}

impl FailureClass {
    /// The class an error turn asks for, if any (`fatal` wins).
    pub fn of(fatal: bool, retry_after_ms: Option<u64>) -> Option<FailureClass> {
        match (fatal, retry_after_ms) {
            (true, _) => Some(FailureClass::Fatal),
            (false, Some(ms)) => Some(FailureClass::RetryAfterMs(ms)),
            (false, None) => None,
        }
    }

    /// The core's exit for a failed run of this class.
    pub fn exit(self) -> groupq::Exit {
        match self {
            FailureClass::Fatal => groupq::Exit::Fatal,
            FailureClass::RetryAfterMs(ms) => {
                groupq::Exit::RetryAfter(std::time::Duration::from_millis(ms))
            }
        }
    }
}

/// The live runs, by id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Runs {
    live: HashMap<RunId, LiveRun>,
}

impl Runs {
    pub(crate) fn insert(&mut self, run: RunId, live: LiveRun) {
        self.live.insert(run, live);
    }

    pub(crate) fn get(&self, run: RunId) -> Option<&LiveRun> {
        self.live.get(&run)
    }

    pub(crate) fn get_mut(&mut self, run: RunId) -> Option<&mut LiveRun> {
        self.live.get_mut(&run)
    }

    pub(crate) fn remove(&mut self, run: RunId) -> Option<LiveRun> {
        self.live.remove(&run)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.live.is_empty()
    }

    /// Every live run, by id: an order that does not depend on hashing.
    pub(crate) fn sorted(&self) -> Vec<(RunId, &LiveRun)> {
        let mut runs: Vec<(RunId, &LiveRun)> = self.live.iter().map(|(r, l)| (*r, l)).collect();
        runs.sort_by_key(|(run, _)| *run);
        runs
    }

    pub(crate) fn from_sorted(runs: Vec<(RunId, LiveRun)>) -> Runs {
        Runs {
            live: runs.into_iter().collect(),
        }
    }
}
