//! What the driver needs from whatever starts runs: the [`Runner`] trait,
//! and two implementations, [`ProcessRunner`] (the embedded default: each
//! run is a local process) and [`DockerRunner`] (each run is a container).

#[cfg(feature = "docker")]
mod docker;
mod ipc;
mod lines;
mod live;
mod output;
mod process;
mod procs;

use std::future::Future;
use std::io;
use std::pin::Pin;

use groupq::RunId;
use groupq_host::{RunExit, RunSpec};
use groupq_protocol::AgentLine;
use tokio::sync::mpsc::UnboundedSender;

#[cfg(feature = "docker")]
pub use docker::{
    Container, DockerRunner, GROUP_LABEL, NAME_LABEL, OWNER_LABEL, ROOT_LABEL, RUN_LABEL,
};
pub use process::{CommandLine, ProcessRunner};

/// Something a run did.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum RunEvent {
    /// The agent wrote a protocol line on its stdout.
    Line {
        /// The line.
        line: AgentLine,
        /// The position in the run's output just after the line (a byte
        /// offset, or a line count: the runner's own measure, which it is
        /// given back to read on from after a restart).
        read_to: u64,
    },
    /// The runner cannot tell what the run is doing (its daemon does not
    /// answer): the run stays live, and holds its slot, until it can. Not
    /// an input of the host: the driver logs it and tells the application
    /// ([`HostEvent::RunnerTrouble`](groupq_host::HostEvent::RunnerTrouble)).
    Trouble(String),
    /// The run ended. Always the run's last event, sent exactly once.
    Exited(RunExit),
}

/// Where a runner reports one run's events: a cheap, cloneable sender.
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
    /// (then nobody listens, and the runner may stop watching).
    pub fn send(&self, event: RunEvent) -> bool {
        self.sender.send((self.run, event)).is_ok()
    }
}

/// Starts, feeds, closes and kills runs, and reports what they do.
///
/// The driver calls these methods from its run loop, inside a tokio
/// runtime, one at a time and in the order the core emitted the commands;
/// they must not block (start background tasks for anything slow). A
/// runner's obligations:
///
/// 1. [`spawn`](Runner::spawn) starts the run with `spec.messages` in its
///    input, and reports through `events` every line the agent writes, then
///    exactly one [`RunEvent::Exited`], also when the run could not be
///    started ([`RunExit::NotStarted`]).
/// 2. [`deliver`](Runner::deliver) puts a follow-up into a live run's
///    input, after everything delivered before it and before any close.
/// 3. [`close_input`](Runner::close_input) closes the run's input; the agent should
///    answer what it has and exit.
/// 4. [`kill`](Runner::kill) ends the run by force; its `Exited` follows
///    when it is really gone (the core keeps its slot until then).
/// 5. [`release`](Runner::release) is called once the driver has handled
///    the run's exit; the runner frees what it kept for the run. No other
///    method is called for that run afterwards.
/// 6. [`recover`](Runner::recover), after a restart of a durable driver and
///    before any spawn, settles the runs the driver before it left: each
///    is adopted (watched on, its lines from where the journal stopped) or
///    killed, by the [`RestartPolicy`].
/// 7. [`detach`](Runner::detach): the driver stops and leaves its runs
///    live for the next start to adopt; dropping the runner afterwards
///    must not kill them.
///
/// A minimal runner whose runs answer nothing and end only when killed:
///
/// ```
/// use std::collections::HashMap;
/// use std::io;
/// use groupq::RunId;
/// use groupq_tokio::{RunEvent, RunEvents, RunExit, RunSpec, Runner};
///
/// #[derive(Default)]
/// struct Silent {
///     runs: HashMap<RunId, RunEvents>,
/// }
///
/// impl Runner for Silent {
///     fn spawn(&mut self, spec: RunSpec, events: RunEvents) {
///         self.runs.insert(spec.run, events);
///     }
///     fn deliver(&mut self, _run: RunId, _message: &str) -> io::Result<()> {
///         Ok(())
///     }
///     fn close_input(&mut self, run: RunId) -> io::Result<()> {
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
pub trait Runner: Send + 'static {
    /// Starts a run. Failures are reported as its exit, not returned.
    fn spawn(&mut self, spec: RunSpec, events: RunEvents);

    /// Puts a follow-up message into a live messages run's input.
    fn deliver(&mut self, run: RunId, message: &str) -> io::Result<()>;

    /// Closes a run's input.
    fn close_input(&mut self, run: RunId) -> io::Result<()>;

    /// Kills a run.
    fn kill(&mut self, run: RunId);

    /// Forgets a run whose exit the driver has handled: also a run returned
    /// by [`Runner::recover`], once its fate is durable.
    fn release(&mut self, run: RunId);

    /// After a restart of a durable driver, before any spawn: settles what
    /// a driver on the same state launched, by `recovery.policy`, and says
    /// what became of every run it finds launched.
    ///
    /// - [`RestartPolicy::Kill`]: kill every run of the work directory
    ///   still there (orphans included), wait until they are gone, and
    ///   return each run whose launch may have begun as
    ///   [`Found::Launched`].
    /// - [`RestartPolicy::Adopt`]: take over each run in
    ///   `recovery.believed` whose launch may have begun, alive or not:
    ///   report its lines from `read_to` on and its exit through its
    ///   `events`, as for a run it spawned (an ended one: its remaining
    ///   lines, then its exit, or [`RunExit::Gone`] if its status cannot be
    ///   known), and accept `deliver`, `close_input`, `kill` and `release`
    ///   for it; return it as [`Found::Adopted`]. Runs of the work
    ///   directory not believed live are killed and returned as
    ///   [`Found::Launched`].
    ///
    /// A believed run it does not return is taken as never launched and its
    /// work is run again, so a runner must return every run whose launch
    /// may have begun. It must keep its record of a launch (markers, labels)
    /// until the driver calls [`Runner::release`] for the run: the driver
    /// releases a run only after its fate is in the journal, so a crash
    /// during recovery finds the same runs again. The driver awaits it
    /// before anything else, so it may take its time, but it must not block
    /// the executor's thread (wait in a blocking task). The default keeps
    /// nothing across restarts and returns no run: right only for runners
    /// whose runs cannot outlive the driver's process.
    fn recover(&mut self, recovery: Recovery) -> Recovering<'_> {
        let _ = recovery;
        Box::pin(async { Ok(Vec::new()) })
    }

    /// The driver stops and leaves the live runs for the next start to
    /// adopt ([`Handle::detach`](crate::Handle::detach)): from now on,
    /// dropping the runner leaves them running. The default does nothing.
    fn detach(&mut self) {}
}

/// What to do with the runs a driver left when a durable driver restarts
/// on its state ([`Durability::on_restart`](crate::Durability::on_restart)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum RestartPolicy {
    /// Take them over: they keep their ids, slots, deadlines and message
    /// accounting, and are read on from where the journal stopped (the
    /// default).
    #[default]
    Adopt,
    /// Kill them: each is failed as [`RunExit::Lost`] (a messages run is
    /// retried, a task reported failed).
    Kill,
}

/// What the driver asks of [`Runner::recover`].
#[derive(Debug)]
#[non_exhaustive]
pub struct Recovery {
    /// Adopt or kill.
    pub policy: RestartPolicy,
    /// The runs the restored state believes live.
    pub believed: Vec<Believed>,
}

/// A run the restored state believes live.
#[derive(Debug)]
#[non_exhaustive]
pub struct Believed {
    /// The run.
    pub run: RunId,
    /// Its name (directory, container).
    pub name: String,
    /// Its group.
    pub group: String,
    /// How far its output was read.
    pub read_to: u64,
    /// How many messages were written into its input.
    pub delivered: u64,
    /// Where an adopted run's lines and exit go.
    pub events: RunEvents,
}

/// What became of a run [`Runner::recover`] found launched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Found {
    /// Taken over: its lines and exit follow through its events.
    Adopted,
    /// Launched, and gone now (or killed by the recovery).
    Launched,
}

/// What [`Runner::recover`] returns: every run found launched, and what
/// became of it.
pub type Recovering<'a> =
    Pin<Box<dyn Future<Output = io::Result<Vec<(RunId, Found)>>> + Send + 'a>>;

/// A boxed runner is a runner, so the choice can be made at run time
/// (`--docker` or not) with one driver type.
impl<R: Runner + ?Sized> Runner for Box<R> {
    fn spawn(&mut self, spec: RunSpec, events: RunEvents) {
        (**self).spawn(spec, events);
    }

    fn deliver(&mut self, run: RunId, message: &str) -> io::Result<()> {
        (**self).deliver(run, message)
    }

    fn close_input(&mut self, run: RunId) -> io::Result<()> {
        (**self).close_input(run)
    }

    fn kill(&mut self, run: RunId) {
        (**self).kill(run);
    }

    fn release(&mut self, run: RunId) {
        (**self).release(run);
    }

    fn recover(&mut self, recovery: Recovery) -> Recovering<'_> {
        (**self).recover(recovery)
    }

    fn detach(&mut self) {
        (**self).detach();
    }
}
