//! The runs a runner watches, by id: what both runners keep of each live
//! run (its name, its directory, how to ask its watcher for a kill, and
//! whatever else the runner needs, `X`), the calls that need nothing more
//! (deliver, close, kill), and the runs an earlier driver left that
//! recovery found, until the driver releases them.

use std::collections::HashMap;
use std::io;

use groupq::RunId;
use tokio::sync::mpsc;

use super::ipc::RunDir;

/// What a runner keeps of one live run.
pub(crate) struct Live<X> {
    pub(crate) name: String,
    pub(crate) dir: RunDir,
    /// Asks the run's watcher to kill it.
    pub(crate) kill: mpsc::UnboundedSender<()>,
    /// The runner's own: a process group, or nothing.
    pub(crate) extra: X,
}

/// A runner's runs: live ones, and launched ones found by recovery.
pub(crate) struct Lives<X> {
    live: HashMap<RunId, Live<X>>,
    recovered: HashMap<RunId, String>,
}

impl<X> Default for Lives<X> {
    fn default() -> Self {
        Lives {
            live: HashMap::new(),
            recovered: HashMap::new(),
        }
    }
}

impl<X> Lives<X> {
    pub(crate) fn insert(&mut self, run: RunId, live: Live<X>) {
        self.live.insert(run, live);
    }

    /// A run an earlier driver launched, found gone or killed by recovery.
    pub(crate) fn recovered(&mut self, run: RunId, name: String) {
        self.recovered.insert(run, name);
    }

    /// Writes a follow-up into a live run's input; nothing for another.
    pub(crate) fn deliver(&mut self, run: RunId, message: &str) -> io::Result<()> {
        match self.live.get_mut(&run) {
            Some(live) => live.dir.deliver(message),
            None => Ok(()),
        }
    }

    /// Writes a live run's close sentinel.
    pub(crate) fn close_input(&self, run: RunId) -> io::Result<()> {
        match self.live.get(&run) {
            Some(live) => live.dir.close(),
            None => Ok(()),
        }
    }

    /// Asks a live run's watcher for the kill.
    pub(crate) fn kill(&self, run: RunId) {
        if let Some(live) = self.live.get(&run) {
            let _ = live.kill.send(());
        }
    }

    /// Forgets a released run, live or recovered: its name, to clean up.
    pub(crate) fn release(&mut self, run: RunId) -> Option<String> {
        match self.live.remove(&run) {
            Some(live) => Some(live.name),
            None => self.recovered.remove(&run),
        }
    }

    /// The live runs.
    pub(crate) fn live(&self) -> impl Iterator<Item = &Live<X>> {
        self.live.values()
    }
}
