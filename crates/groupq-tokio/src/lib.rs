//! # groupq-tokio: the tokio driver for groupq
//!
//! The `groupq` core decides and never does. This crate does: a [`Driver`]
//! owns a core, carries its commands out through a [`Runtime`] (processes
//! by default, Docker containers for real), turns what the runs do into the
//! core's inputs, keeps the host's message store, and sleeps until the
//! core's next deadline. Hosts talk to it through a cloneable [`Handle`] and
//! hear back through a stream of [`HostEvent`]s.
//!
//! ```no_run
//! use groupq::Config;
//! use groupq_tokio::{CommandLine, Driver, HostEvent, ProcessRunner};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let runner = ProcessRunner::new("/var/lib/my-host".as_ref(), CommandLine::new("my-agent"))?;
//! let (driver, handle, mut events) = Driver::builder(Config::default()).build(runner)?;
//! let running = tokio::spawn(driver.run());
//!
//! handle.message("chat-42", "hello").await?;
//! while let Some(event) = events.recv().await {
//!     if let HostEvent::Reply { group, text, .. } = event {
//!         println!("{group}: {text}");
//!         break;
//!     }
//! }
//! let left = handle.shutdown().await?; // persist `left`, resubmit it next start
//! running.await??;
//! # let _ = left; Ok(()) }
//! ```
//!
//! ## The run loop
//!
//! [`Driver::run`] is the core's run loop, written once:
//!
//! 1. Wait for the first of: a request from a [`Handle`], an event of a run
//!    (a protocol line or its exit, from the runtime), or the core's next
//!    deadline. Run events go first, so an exit frees its slot before new
//!    work asks for one.
//! 2. Turn it into one core input, stamped with the driver's clock (time
//!    since the driver was built): a request becomes `Message`/`Pipe`,
//!    `Task`, `Cancel`, `Pause`, `Resume`, `Close` or `Shutdown`; a `turn`
//!    line becomes `Turn`, `idle` becomes `Idle`, `heartbeat` becomes
//!    `Heartbeat`, an exit becomes `Exited` (clean only for status 0); the
//!    deadline becomes `Timeout`.
//! 3. Carry out the input's commands in order: `Spawn` →
//!    [`Runtime::spawn`] (a messages run is handed the group's unread
//!    messages), `CloseInput` → [`Runtime::close`], `Kill` →
//!    [`Runtime::kill`], `RollbackCursor` → the message store's cursor,
//!    `Notify`/`RecordCompaction`/`TerminalFailure` → host events. Then
//!    answer the request.
//! 4. Stop once the core is shut down and every run has exited.
//!
//! ## What the driver does for the host
//!
//! - **Messages.** [`Handle::message`] stores the text, asks the core to
//!   pipe it into the group's live run and writes it there on `Piped`, or
//!   else tells the core the group has mail ([`Delivery::Queued`]). A
//!   messages run is handed every unread message when it starts.
//! - **Replies.** A `turn` line's reply is sent to the host as
//!   [`HostEvent::Reply`]; sending it is delivering it. If the host's
//!   receiver is gone the reply counts as undelivered, and a failure of that
//!   run makes its messages unread again.
//! - **Rollback.** When the core rolls a group's cursor back, the messages
//!   a delivered reply answered (the `messages` count of its turn line, or
//!   all given so far when it has none) stay answered; the rest are handed
//!   to the next run. A reply that answered only some of the messages the
//!   run was given (an agent answers what it had read when its turn began,
//!   while follow-ups arrived) is reported to the core as replied, not
//!   delivered: otherwise the core would count a failure after it as done
//!   and the other messages would be lost.
//! - **Exit 0 with unanswered messages.** A messages run that exits 0 while
//!   messages it was given (a follow-up written just before it exited, say)
//!   were answered by no delivered reply is reported to the core as failed,
//!   so those messages are rolled back and retried instead of lost.
//! - **Runs that never started.** A run whose process or container could
//!   not be created ([`RunExit::NotStarted`]: no such program, `docker run`
//!   status 125) is reported to the core as a failed exit: its messages are
//!   rolled back and retried, a task is reported failed
//!   ([`HostEvent::TaskFailed`]), never silently re-run.
//! - **Terminal failure.** The unread messages stay unread; the group's next
//!   message hands them to a run again. The host is told
//!   ([`HostEvent::TerminalFailure`]).
//! - **Shutdown.** [`Handle::shutdown`] returns the core's report of work
//!   left; idle runs are closed at once and busy ones killed after the
//!   shutdown grace; [`Driver::run`] returns once every run exited.
//!   Dropping every handle shuts down the same way.
//! - **Records** are switched on in the core: they become host events
//!   (`RetryScheduled`, `TaskFailed`), log events and counters.
//!
//! ## The host's obligations
//!
//! - Run [`Driver::run`] to completion inside a tokio runtime (with the
//!   time and process drivers enabled); the handle's calls wait for it.
//! - Receive [`HostEvents`] promptly: the channel is unbounded. Dropping the
//!   receiver is allowed, but replies then count as undelivered, so the
//!   messages they answered are retried.
//! - Persist the shutdown report's work and resubmit it on the next start.
//!
//! ## Durability
//!
//! [`Builder::durable`] keeps the driver's state in a directory, so that a
//! crash of the host's process (SIGKILL, a panic, the OOM killer) loses no
//! queued work and runs nothing twice that must not run twice:
//!
//! ```no_run
//! use std::time::Duration;
//! use groupq::Config;
//! use groupq_tokio::{CommandLine, Driver, Durability, ProcessRunner, SyncPolicy};
//!
//! # fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let runner = ProcessRunner::new("/var/lib/my-host".as_ref(), CommandLine::new("my-agent"))?;
//! let durability = Durability::new("/var/lib/my-host/state")
//!     .sync(SyncPolicy::Group { max_delay: Duration::from_millis(2), max_inputs: 64 })
//!     .snapshot_every(100_000);
//! let (driver, handle, events) = Driver::builder(Config::default())
//!     .durable(durability)
//!     .build(runner)?;
//! if let Some(restored) = driver.restored() {
//!     println!("replayed {} inputs, {} runs to settle", restored.replayed, restored.live_runs);
//! }
//! # let _ = (handle, events); Ok(()) }
//! ```
//!
//! **How.** Every accepted input (a request, a run's line or exit, a
//! deadline) is appended to a write-ahead journal with its time, and every
//! outside effect of it (spawn, follow-up, close, kill, release, host event,
//! the handle's answer) is carried out only once the journal is synced:
//! after each input ([`Sync::EveryInput`]; calls already waiting share the
//! sync), or for a group of inputs at most
//! `max_delay` after the first or once `max_inputs` wait ([`Sync::Group`]),
//! with their effects held until then. Rejected inputs changed nothing and
//! are not journaled. Every `snapshot_every` inputs the whole state (core,
//! message store, live runs) is written as a snapshot and the journal
//! restarts after it, so a restart replays at most that many inputs.
//!
//! **The promise**, for a crash of the driver's process:
//!
//! - **An answered call is durable.** When a handle call returns `Ok`, its
//!   input is on disk. A call that returned nothing (the crash came first)
//!   may or may not have been kept: resubmit it. Tasks are deduplicated by
//!   id only while queued or running; a task the crash failed
//!   ([`HostEvent::TaskFailed`] after the restart) runs again if you
//!   resubmit it, so check the restart's events first.
//! - **Messages are at least once.** A message is handed to runs until a
//!   delivered reply answers it; once one has, it is never handed to a run
//!   again. A run cut off by the crash is failed and its unanswered
//!   messages are retried, so an agent may see a message again after
//!   working on it (its tool calls may repeat); the user never sees a reply
//!   that the journal does not hold.
//! - **Tasks are at most once once launched.** A task whose run may have
//!   started is never started again: after the crash it is reported failed
//!   ([`HostEvent::TaskFailed`], the run's exit [`RunExit::Lost`]). A task
//!   whose run certainly never started runs again, as if nothing happened
//!   ([`HostEvent::NotLaunched`]). A task not yet started stays queued.
//! - **No group has two live runs, across restarts too.** Before the
//!   restarted driver starts anything, the runtime kills every run the old
//!   one left (orphans included) and waits until they are gone.
//! - **Host events are at most once across a crash.** They are sent after
//!   their input is durable and not sent again on restart; events sent but
//!   not yet handled by the host when the process died are lost. The state
//!   of record is the driver's ([`Handle::explain`], [`Handle::stats`]).
//! - **Counters start at zero on every start.** [`Handle::metrics`]
//!   counts this driver's inputs, not the replayed ones; its gauges show
//!   the restored state from the start.
//! - **Time stops while the driver is down.** Deadlines (idle, turn,
//!   retry) continue from the restored core time: a down period does not
//!   count towards them.
//! - After a power loss of the machine the journal holds, but the runtimes'
//!   launch markers are not synced: a task whose launch marker had not
//!   reached the disk is started again (every run died with the machine).
//!
//! **Restart**, in this order:
//!
//! 1. [`Builder::build`] locks the directory (a second driver on it is
//!    [`StateError::Locked`]), loads the snapshot and replays the journal
//!    after it. Effects of replayed inputs are not carried out again:
//!    they were, or their input was never durable. [`Driver::restored`]
//!    says what was found.
//! 2. [`Driver::run`] first calls [`Runtime::recover`]: the runtime kills
//!    every run of the old driver still there and names every run whose
//!    launch may have begun.
//! 3. Each run the state holds live is settled: one the runtime named is
//!    failed as [`RunExit::Lost`] (a messages run is rolled back and
//!    retried; a task is reported failed); any other never launched, and
//!    its work goes back as it was (a task to the front of its group's
//!    jobs; a messages run's messages unread again). Each run is released
//!    only once this is durable, so a crash during recovery finds the same
//!    runs again.
//! 4. Then the loop as usual.
//!
//! **State files.** `journal` and `snapshot` (and `lock`) in the
//! directory: a magic, a format version, then records of a length, its
//! complement, a CRC-32 and a JSON payload (JSON because it is the wire
//! format already and `jq` reads it in an incident; its bytes are
//! deterministic). On damage the driver does not start and changes
//! nothing, except for a torn tail:
//!
//! - a last record cut short, or whose checksum fails (the write the crash
//!   interrupted), is dropped, counted in [`Restored::dropped_bytes`], and
//!   cut off the file;
//! - damage before the end is [`FrameError::Corrupt`]; another format
//!   version [`FrameError::Version`]; not a state file
//!   [`FrameError::NotOurs`]; a record that does not decode
//!   [`StateError::Malformed`]; a journaled input the core refuses on
//!   replay [`StateError::Replay`]; a snapshot of another state, or
//!   without its journal, [`StateError::Mismatch`]; a directory that
//!   cannot be created or written [`StateError::Io`].
//! - A different core configuration while the state holds work is
//!   [`StateError::ConfigChanged`] (finish it under the old one first);
//!   with nothing left, the driver starts afresh under the new one.
//! - A checked driver cannot be durable ([`StateError::Checked`]): the
//!   checker's account is not part of the state.
//! - If writing or syncing fails while running, [`Driver::run`] returns
//!   [`DriverError::State`] without carrying out the effects of any input
//!   not made durable; the runs it left are the next start's to recover.
//!
//! **The runtime's obligations** ([`Runtime::recover`]): kill every run a
//! driver on the same state launched that still exists, wait until they
//! are gone, and return every run whose launch may have begun (when in
//! doubt, return it: a run not returned has its work run again). Keep the
//! record of those launches until the driver releases each run.
//! [`ProcessRunner`] writes a marker `<work dir>/launches/run-N` just
//! before each launch, and on recovery scans `/proc` for processes whose
//! `GROUPQ_IPC` names one of its run directories (a reused pid is never
//! taken for an agent), killing each with its process group.
//! [`DockerRunner`] kills the old `docker run` clients the same way, then
//! removes the containers labelled `io.groupq.root=<work dir>`.
//!
//! ## Cost
//!
//! Each handle call is a round trip through a channel to the loop's task.
//! A caller that awaits its calls one by one pays a task wake-up each time,
//! least on a current-thread runtime where caller and loop share a thread;
//! concurrent callers keep the loop busy and pay less per call. The loop
//! itself adds no measurable time between a message and its agent's first
//! line (`examples/latency.rs`).
//!
//! ## Observability
//!
//! Every input is handled inside a `tracing` span (`message`, `task`,
//! `cancel`, `pause`, `resume`, `close`, `shutdown`, `run`, `timeout`) with the
//! group, run and task as fields; every command is an event (`spawn` with
//! the work kind, `close input` with the reason, `kill`, `notice`, `cursor
//! rolled back`, `retries exhausted`). Agents' stderr and unreadable stdout
//! lines are `warn` events. [`Handle::metrics`] reads counters (spawns,
//! closes, evictions, kills, retries, terminal failures, replies, piped
//! follow-ups, inputs) and gauges (live runs, queued jobs, waiting groups)
//! without asking the loop.
//!
//! ## Runtimes
//!
//! A [`Runtime`] starts, feeds, closes and kills runs. [`ProcessRunner`]
//! runs any command line per work kind as a local process;
//! [`DockerRunner`] runs an image as a container with `--network none`.
//! Both speak the agent wire protocol of the `groupq-agent` crate: a run
//! directory with `run.json`, message files renamed into `in/`, the
//! `in/_close` sentinel, and one JSON object per stdout line.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod builder;
mod clock;
mod core;
mod driver;
mod durable;
mod error;
mod events;
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing;
mod handle;
mod metrics;
mod reconcile;
mod runner;

pub use builder::Builder;
pub use driver::Driver;
pub use durable::frame::FrameError;
pub use durable::{Durability, Restored, StateError, SyncPolicy};
pub use error::DriverError;
pub use events::HostEvents;
pub use groupq_host::{
    Delivery, Duplicate, GroupStatus, HostEvent, HostStats, Left, LeftMessages, LeftRun, LeftTask,
    LiveRun, RunExit, RunSpec, RunWork, Submitted, TaskOutcome,
};
pub use handle::{Detached, Handle};
pub use metrics::Metrics;
pub use runner::{
    Believed, CommandLine, Container, DockerRunner, Found, ProcessRunner, Recovering, Recovery,
    RestartPolicy, RunEvent, RunEvents, Runner, GROUP_LABEL, NAME_LABEL, OWNER_LABEL, ROOT_LABEL,
    RUN_LABEL,
};
