//! A host's whole state, as a snapshot holds it: the core, the message
//! store, the live runs and the queued tasks' submission times. Written in
//! an order that never depends on hashing; checked on the way back in.

use std::collections::HashMap;

use groupq::{RunId, Time};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::entry::LimitsRecord;
use crate::host::{Host, Queue};
use crate::left::LeftTask;
use crate::mailbox::Mailboxes;
use crate::runs::{LiveRun, Runs};
use crate::status::Note;
use crate::tasks::{TaskKey, TaskLog, TaskOutcome};

/// The state a snapshot holds, borrowed from a host: serialize it.
#[derive(Serialize)]
pub struct StateRef<'a> {
    machine: &'a Queue,
    mailboxes: &'a Mailboxes,
    live: Vec<(u64, &'a LiveRun)>,
    queued: Vec<(&'a str, &'a str, Time)>,
    notes: Vec<(&'a str, &'a Note)>,
    left: &'a [LeftTask],
    task_window_ms: Option<u64>,
    tasks: Vec<(&'a TaskKey, TaskOutcome)>,
    instance: u64,
    configured: LimitsRecord,
}

/// The state a snapshot holds, read back: [`Host::restore`] checks it.
#[derive(Deserialize)]
pub struct State {
    machine: Queue,
    mailboxes: Mailboxes,
    live: Vec<(u64, LiveRun)>,
    queued: Vec<(String, String, Time)>,
    notes: Vec<(String, Note)>,
    left: Vec<LeftTask>,
    task_window_ms: Option<u64>,
    tasks: Vec<(TaskKey, TaskOutcome)>,
    instance: u64,
    /// Absent in snapshots written before limits could change: the core's.
    #[serde(default)]
    configured: Option<LimitsRecord>,
}

/// Why a decoded state was refused: its parts contradict each other.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum StateError {
    /// The host's live runs are not the core's.
    #[error("the host's live runs do not match the core's ({host} against {core})")]
    LiveRuns {
        /// Live runs the host lists.
        host: usize,
        /// Live runs the core holds.
        core: usize,
    },
    /// A live run of the host is not its group's live run in the core.
    #[error("{0} is not live in the core for its group")]
    Run(RunId),
}

impl<D> Host<D> {
    /// The state to snapshot.
    pub fn state(&self) -> StateRef<'_>
    where
        D: groupq::Steppable<String, String, String>,
    {
        let mut queued: Vec<(&str, &str, Time)> = self
            .queued
            .iter()
            .map(|((g, id), at)| (g.as_str(), id.as_str(), *at))
            .collect();
        queued.sort();
        let mut notes: Vec<(&str, &Note)> =
            self.notes.iter().map(|(g, n)| (g.as_str(), n)).collect();
        notes.sort_by_key(|(g, _)| *g);
        StateRef {
            machine: self.core.machine(),
            mailboxes: &self.mailboxes,
            live: self
                .runs
                .sorted()
                .into_iter()
                .map(|(run, l)| (run.get(), l))
                .collect(),
            queued,
            notes,
            left: &self.left,
            task_window_ms: self.tasks.window().map(|w| w.as_millis() as u64),
            tasks: self.tasks.entries(),
            instance: self.instance,
            configured: self.configured.into(),
        }
    }
}

impl Host<Queue> {
    /// A host from a snapshot's state, refused if the host's live runs are
    /// not exactly the core's.
    pub fn restore(state: State) -> Result<Host<Queue>, StateError> {
        let machine = state.machine;
        if machine.stats().live_runs != state.live.len() {
            return Err(StateError::LiveRuns {
                host: state.live.len(),
                core: machine.stats().live_runs,
            });
        }
        for (run, live) in &state.live {
            let run = RunId::new(*run);
            let in_core = machine
                .explain(&live.group)
                .and_then(|e| e.run)
                .map(|r| r.run);
            if in_core != Some(run) {
                return Err(StateError::Run(run));
            }
        }
        let mut host = Host::with_core(machine, state.instance);
        if let Some(configured) = state.configured {
            host.configured = configured.into();
        }
        host.mailboxes = state.mailboxes;
        host.runs = Runs::from_sorted(
            state
                .live
                .into_iter()
                .map(|(run, live)| (RunId::new(run), live))
                .collect(),
        );
        host.queued = state
            .queued
            .into_iter()
            .map(|(g, id, at)| ((g, id), at))
            .collect::<HashMap<_, _>>();
        host.notes = state.notes.into_iter().collect();
        host.left = state.left;
        host.tasks = TaskLog::from_entries(
            state.task_window_ms.map(std::time::Duration::from_millis),
            state.tasks,
        );
        Ok(host)
    }
}
