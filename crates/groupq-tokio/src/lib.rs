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
//! use groupq_tokio::{CommandLine, Driver, HostEvent, ProcessRuntime};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let runtime = ProcessRuntime::new("/var/lib/my-host".as_ref(), CommandLine::new("my-agent"))?;
//! let (driver, handle, mut events) = Driver::builder(Config::default()).build(runtime)?;
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
//!   to the next run.
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
//! A [`Runtime`] starts, feeds, closes and kills runs. [`ProcessRuntime`]
//! runs any command line per work kind as a local process;
//! [`DockerRuntime`] runs an image as a container with `--network none`.
//! Both speak the agent wire protocol of the `groupq-agent` crate: a run
//! directory with `run.json`, message files renamed into `in/`, the
//! `in/_close` sentinel, and one JSON object per stdout line.

#![forbid(unsafe_code)]

mod core;
mod driver;
mod error;
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing;
mod handle;
mod host;
mod mailbox;
mod metrics;
mod runtime;
mod state;

pub use driver::{Builder, Driver, HostEvents, Restored};
pub use error::DriverError;
pub use handle::{Delivery, Handle};
pub use host::HostEvent;
pub use metrics::Metrics;
pub use runtime::{
    CommandLine, DockerRuntime, ProcessRuntime, RunEvent, RunEvents, RunExit, RunSpec, RunWork,
    Runtime, INSTANCE_LABEL, OWNER_LABEL, RUN_LABEL,
};
pub use state::frame::FrameError;
pub use state::{Durability, StateError, Sync};
