//! What the host decides and a driver carries out: [`Effect`]s, and the
//! vocabulary of runs they speak ([`RunSpec`], [`RunWork`], [`RunExit`]).

use std::fmt;

use groupq::RunId;

use crate::event::HostEvent;

/// One thing to do outside, decided by [`Host::apply`](crate::Host::apply).
/// A durable driver carries it out only once the entry that decided it is
/// on disk; replay carries out none.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Effect {
    /// Start a run.
    Spawn(RunSpec),
    /// Write a follow-up into a live run's input.
    Deliver {
        /// The run.
        run: RunId,
        /// The message.
        text: String,
    },
    /// Close a run's input.
    CloseInput {
        /// The run.
        run: RunId,
    },
    /// Kill a run.
    Kill {
        /// The run.
        run: RunId,
    },
    /// The run's end is handled: the runner may forget it.
    Release {
        /// The run.
        run: RunId,
    },
    /// Tell the application.
    Tell(HostEvent),
}

/// One run to start, as the core's `Spawn` names it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunSpec {
    /// The run's id, unique within one state.
    pub run: RunId,
    /// A name for the run, unique across restarts of the driver and resets
    /// of its state: name its directory and container by it.
    pub name: String,
    /// The group the run serves.
    pub group: String,
    /// What the run does.
    pub work: RunWork,
    /// For a messages run: the group's unread messages, oldest first, to be
    /// in the run's input when it starts.
    pub messages: Vec<String>,
}

impl RunSpec {
    /// A spec (for runners' tests and hand-driven drivers).
    pub fn new(
        run: RunId,
        name: impl Into<String>,
        group: impl Into<String>,
        work: RunWork,
    ) -> RunSpec {
        RunSpec {
            run,
            name: name.into(),
            group: group.into(),
            work,
            messages: Vec::new(),
        }
    }

    /// With these messages in its input at start.
    pub fn with_messages(mut self, messages: Vec<String>) -> RunSpec {
        self.messages = messages;
        self
    }
}

/// The work of a run: the core's [`Work`](groupq::Work) with text ids and
/// payloads (the agent reads them as `run.json`'s `task_id` and `prompt`).
pub type RunWork = groupq::Work<String, String>;

/// How a run ended, as its runner saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RunExit {
    /// The agent exited with this status (0 is a clean exit).
    Code(i32),
    /// The agent was ended by this signal (a kill is SIGKILL, 9).
    Signal(i32),
    /// The run never started: its process or container could not be
    /// created. Reported like a failed exit.
    NotStarted(String),
    /// Found after a restart of the driver and killed: nothing of the
    /// driver that started it reads its output any more. Reported like a
    /// failed exit.
    Lost,
    /// The run is gone and its exit status cannot be known (a container
    /// removed by someone else; an adopted process that ended while no
    /// driver was its parent). Reported like a failed exit.
    Gone(String),
}

impl RunExit {
    /// Whether the run ended cleanly (status 0).
    pub fn is_clean(&self) -> bool {
        *self == RunExit::Code(0)
    }
}

impl fmt::Display for RunExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunExit::Code(code) => write!(f, "status {code}"),
            RunExit::Signal(signal) => write!(f, "signal {signal}"),
            RunExit::NotStarted(why) => write!(f, "never started: {why}"),
            RunExit::Lost => write!(f, "lost in a restart of the driver"),
            RunExit::Gone(why) => write!(f, "gone, status unknown: {why}"),
        }
    }
}
