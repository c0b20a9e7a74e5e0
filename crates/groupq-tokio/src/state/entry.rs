//! What the journal records: the driver's inputs, each with the core time
//! it was applied at. Replaying them in order through the driver rebuilds
//! the core and the message store exactly (the core is deterministic, and
//! every choice the driver made is in the entry).

use groupq_agent::AgentLine;
use serde::{Deserialize, Serialize};

use crate::runtime::RunExit;

/// One journaled input.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "input", rename_all = "snake_case")]
pub(crate) enum Entry {
    /// A message from the host (piped, or queued).
    Message {
        group: String,
        text: String,
    },
    /// A task from the host.
    Task {
        group: String,
        id: String,
        payload: String,
    },
    /// Operator inputs.
    Cancel {
        group: String,
        id: String,
    },
    Pause {
        group: String,
    },
    Resume {
        group: String,
    },
    Close {
        group: String,
    },
    Shutdown,
    /// A line a run wrote; `host_open`: whether the host was listening, so
    /// that a reply counts as delivered on replay exactly as it did live.
    Line {
        run: u64,
        line: AgentLine,
        host_open: bool,
    },
    /// A run ended.
    Exited {
        run: u64,
        exit: RunExit,
    },
    /// Deadlines fired.
    Timeout,
    /// Reconciliation: the run was never launched.
    NeverLaunched {
        run: u64,
    },
}

/// An entry and the core time it was applied at.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Stamped {
    pub(crate) now: u64,
    #[serde(flatten)]
    pub(crate) entry: Entry,
}
