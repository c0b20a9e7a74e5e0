//! What the driver needs from whatever starts runs: the [`Runtime`] trait,
//! and two implementations, [`ProcessRuntime`] (the embedded default: each
//! run is a local process) and [`DockerRuntime`] (each run is a container).

mod child;
mod docker;
mod ipc;
mod local;
mod process;

use std::fmt;
use std::io;

use groupq::{RunId, WorkKind};
use groupq_agent::AgentLine;
use tokio::sync::mpsc::UnboundedSender;

pub use docker::{DockerRuntime, INSTANCE_LABEL, OWNER_LABEL, RUN_LABEL};
pub use process::{CommandLine, ProcessRuntime};

/// One run to start, as the core's `Spawn` command names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunSpec {
    /// The run's id, unique within one driver.
    pub run: RunId,
    /// The group the run serves.
    pub group: String,
    /// What the run does.
    pub work: RunWork,
    /// For a messages run: the group's unread messages, oldest first, to be
    /// in the run's input when it starts.
    pub messages: Vec<String>,
}

/// The work of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunWork {
    /// Answer the group's messages, and follow-ups until closed.
    Messages,
    /// Do one task.
    Task {
        /// The task's id.
        id: String,
        /// The task's payload (its prompt).
        payload: String,
    },
    /// Compact the group's context.
    Compact,
}

impl RunWork {
    /// The kind of work.
    pub fn kind(&self) -> WorkKind {
        match self {
            RunWork::Messages => WorkKind::Messages,
            RunWork::Task { .. } => WorkKind::Task,
            RunWork::Compact => WorkKind::Compact,
        }
    }
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum RunExit {
    /// The agent exited with this status (0 is a clean exit).
    Code(i32),
    /// The agent was ended by this signal (a kill is SIGKILL, 9).
    Signal(i32),
    /// The run never started: its process or container could not be
    /// created. Reported like a failed exit.
    NotStarted(String),
    /// Found after a restart of the driver: the run had been launched by
    /// the driver that stopped, and was killed (if it still ran) because
    /// nothing reads its output any more. Reported like a failed exit.
    Lost,
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
        }
    }
}

/// Something a run did.
#[derive(Clone, Debug, PartialEq)]
pub enum RunEvent {
    /// The agent wrote a protocol line on its stdout.
    Line(AgentLine),
    /// The run ended. Always the run's last event, sent exactly once.
    Exited(RunExit),
}

/// Where a runtime reports one run's events: a cheap, cloneable sender.
#[derive(Clone, Debug)]
pub struct RunEvents {
    run: RunId,
    sender: UnboundedSender<(RunId, RunEvent)>,
}

impl RunEvents {
    pub(crate) fn new(run: RunId, sender: UnboundedSender<(RunId, RunEvent)>) -> RunEvents {
        RunEvents { run, sender }
    }

    /// The run these events belong to.
    pub fn run(&self) -> RunId {
        self.run
    }

    /// Reports an event of the run. Returns `false` once the driver is gone
    /// (then nobody listens, and the runtime may stop watching).
    pub fn send(&self, event: RunEvent) -> bool {
        self.sender.send((self.run, event)).is_ok()
    }
}

/// Starts, feeds, closes and kills runs, and reports what they do.
///
/// The driver calls these methods from its run loop, inside a tokio
/// runtime, one at a time and in the order the core emitted the commands;
/// they must not block (start background tasks for anything slow). A
/// runtime's obligations:
///
/// 1. [`spawn`](Runtime::spawn) starts the run with `spec.messages` in its
///    input, and reports through `events` every line the agent writes, then
///    exactly one [`RunEvent::Exited`], also when the run could not be
///    started ([`RunExit::NotStarted`]).
/// 2. [`deliver`](Runtime::deliver) puts a follow-up into a live run's
///    input, after everything delivered before it and before any close.
/// 3. [`close`](Runtime::close) closes the run's input; the agent should
///    answer what it has and exit.
/// 4. [`kill`](Runtime::kill) ends the run by force; its `Exited` follows
///    when it is really gone (the core keeps its slot until then).
/// 5. [`release`](Runtime::release) is called once the driver has handled
///    the run's exit; the runtime frees what it kept for the run. No other
///    method is called for that run afterwards.
///
/// A minimal runtime whose runs answer nothing and end only when killed:
///
/// ```
/// use std::collections::HashMap;
/// use std::io;
/// use groupq::RunId;
/// use groupq_tokio::{RunEvent, RunEvents, RunExit, RunSpec, Runtime};
///
/// #[derive(Default)]
/// struct Silent {
///     runs: HashMap<RunId, RunEvents>,
/// }
///
/// impl Runtime for Silent {
///     fn spawn(&mut self, spec: RunSpec, events: RunEvents) {
///         self.runs.insert(spec.run, events);
///     }
///     fn deliver(&mut self, _run: RunId, _message: &str) -> io::Result<()> {
///         Ok(())
///     }
///     fn close(&mut self, run: RunId) -> io::Result<()> {
///         // A well-behaved agent exits once its input is closed.
///         if let Some(events) = self.runs.get(&run) {
///             events.send(RunEvent::Exited(RunExit::Code(0)));
///         }
///         Ok(())
///     }
///     fn kill(&mut self, run: RunId) {
///         if let Some(events) = self.runs.get(&run) {
///             events.send(RunEvent::Exited(RunExit::Signal(9)));
///         }
///     }
///     fn release(&mut self, run: RunId) {
///         self.runs.remove(&run);
///     }
/// }
/// ```
pub trait Runtime: Send + 'static {
    /// Starts a run. Failures are reported as its exit, not returned.
    fn spawn(&mut self, spec: RunSpec, events: RunEvents);

    /// Puts a follow-up message into a live messages run's input.
    fn deliver(&mut self, run: RunId, message: &str) -> io::Result<()>;

    /// Closes a run's input.
    fn close(&mut self, run: RunId) -> io::Result<()>;

    /// Kills a run.
    fn kill(&mut self, run: RunId);

    /// Forgets a run whose exit the driver has handled: also a run returned
    /// by [`Runtime::recover`], once its fate is durable.
    fn release(&mut self, run: RunId);

    /// After a restart of a durable driver, before any spawn: kills every
    /// run a driver on the same state launched and that still exists
    /// (orphans included), waits until they are gone, and returns the ids
    /// of every run that was launched. A run it does not return is taken as
    /// never launched and its work is run again, so a runtime must return
    /// every run whose launch may have begun.
    ///
    /// It must keep its record of those launches (markers, labels) until
    /// the driver calls [`Runtime::release`] for each: the driver releases a
    /// run only after the run's fate is in the journal, so a crash during
    /// recovery finds the same runs again. May block. The default keeps
    /// nothing across restarts and returns no run: right only for runtimes
    /// whose runs cannot outlive the driver's process.
    fn recover(&mut self) -> io::Result<Vec<RunId>> {
        Ok(Vec::new())
    }
}

/// A boxed runtime is a runtime, so the choice can be made at run time
/// (`--docker` or not) with one driver type.
impl<R: Runtime + ?Sized> Runtime for Box<R> {
    fn spawn(&mut self, spec: RunSpec, events: RunEvents) {
        (**self).spawn(spec, events);
    }

    fn deliver(&mut self, run: RunId, message: &str) -> io::Result<()> {
        (**self).deliver(run, message)
    }

    fn close(&mut self, run: RunId) -> io::Result<()> {
        (**self).close(run)
    }

    fn kill(&mut self, run: RunId) {
        (**self).kill(run);
    }

    fn release(&mut self, run: RunId) {
        (**self).release(run);
    }

    fn recover(&mut self) -> io::Result<Vec<RunId>> {
        (**self).recover()
    }
}
