//! What the process and Docker runtimes share: runs that are a local child
//! process (the agent, or the `docker run` client attached to it) with a
//! run directory, fed and closed through files, killed through the watcher.

use std::collections::HashMap;
use std::io;

use groupq::RunId;
use tokio::process::Child;

use super::child::{self, Killer, Watched};
use super::ipc::{Layout, RunDir};
use super::{RunEvent, RunEvents, RunExit, RunSpec};

/// A started child: the process, how to kill its run, and how to read its
/// exit status.
pub(crate) struct Started {
    pub(crate) child: Child,
    pub(crate) killer: Killer,
    pub(crate) exit_of_run: fn(RunExit) -> RunExit,
}

/// The live runs of a local runtime, by id.
pub(crate) struct LocalRuns {
    pub(crate) layout: Layout,
    runs: HashMap<RunId, (RunDir, Watched)>,
}

impl LocalRuns {
    pub(crate) fn new(layout: Layout) -> LocalRuns {
        LocalRuns {
            layout,
            runs: HashMap::new(),
        }
    }

    /// Prepares the run directory, then `start`s the child in it; a failure
    /// of either is the run's exit ([`RunExit::NotStarted`]).
    pub(crate) fn spawn(
        &mut self,
        spec: &RunSpec,
        events: RunEvents,
        start: impl FnOnce(&Layout, &RunDir) -> io::Result<Started>,
    ) {
        let started = self
            .layout
            .prepare(spec)
            .and_then(|dir| start(&self.layout, &dir).map(|started| (dir, started)));
        match started {
            Ok((dir, started)) => {
                let watched =
                    child::watch(started.child, events, started.killer, started.exit_of_run);
                self.runs.insert(spec.run, (dir, watched));
            }
            Err(e) => {
                events.send(RunEvent::Exited(RunExit::NotStarted(e.to_string())));
            }
        }
    }

    pub(crate) fn deliver(&mut self, run: RunId, message: &str) -> io::Result<()> {
        match self.runs.get_mut(&run) {
            Some((dir, _)) => dir.deliver(message),
            None => Ok(()),
        }
    }

    pub(crate) fn close(&mut self, run: RunId) -> io::Result<()> {
        match self.runs.get(&run) {
            Some((dir, _)) => dir.close(),
            None => Ok(()),
        }
    }

    pub(crate) fn kill(&mut self, run: RunId) {
        if let Some((_, watched)) = self.runs.get_mut(&run) {
            watched.kill();
        }
    }

    pub(crate) fn release(&mut self, run: RunId) {
        self.runs.remove(&run);
        self.layout.remove(run);
    }

    /// The runs not yet released.
    pub(crate) fn live(&self) -> impl Iterator<Item = RunId> + '_ {
        self.runs.keys().copied()
    }

    /// Asks every watcher to kill its run.
    pub(crate) fn kill_all(&mut self) {
        for (_, watched) in self.runs.values_mut() {
            watched.kill();
        }
    }
}
