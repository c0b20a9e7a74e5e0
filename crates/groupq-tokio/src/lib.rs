//! # groupq-tokio: the tokio driver for groupq
//!
//! The `groupq` core decides and never does; the sans-IO `groupq-host`
//! layer around it keeps the host's rules (message store, live runs, what
//! each input's effects are). This crate does the I/O: a [`Driver`] owns a
//! host, carries its effects out through a [`Runner`] (local processes, or
//! Docker containers through the Engine API), turns what the runs do into
//! the host's entries, journals them when durable, and sleeps until the
//! core's next deadline. Applications talk to it through a cloneable
//! [`Handle`] and hear back through [`HostEvents`].
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
//! let left = handle.shutdown().await?; // without a state directory: persist `left`
//! running.await??;
//! # let _ = left; Ok(()) }
//! ```
//!
//! ## The run loop
//!
//! [`Driver::run`] is the loop, written once:
//!
//! 1. A durable driver first settles the runs the driver before it left
//!    ([`Runner::recover`], by the [`RestartPolicy`]) and begins: a state
//!    that was shut down cleanly starts a new epoch with its work put back
//!    (see [Durability](#durability)).
//! 2. Wait for the first of: a due journal sync, an event of a run (a
//!    protocol line, trouble, its exit), a request from a [`Handle`], or
//!    the core's next deadline, in that order of priority: an exit frees its
//!    slot before new work asks for one.
//! 3. Turn it into one host entry ([`groupq_host::Entry`]) stamped with the
//!    driver's clock (the core's time, continued across restarts): a call
//!    becomes `Message`, `Task`, `Cancel`, `Pause`, `Resume`, `CloseRun` or
//!    `Shutdown`; a `turn` line `Turn`, `idle` `Idle`, `heartbeat`
//!    `Heartbeat`, an exit `Exited`; the deadline `Timeout`. Apply it; a
//!    refused entry changes nothing and is not journaled.
//! 4. Journal it (durable drivers) and hold its effects until the journal
//!    is synced by the [`SyncPolicy`].
//! 5. Carry the effects out in order: `Spawn` → [`Runner::spawn`],
//!    `Deliver` → [`Runner::deliver`], `CloseInput` →
//!    [`Runner::close_input`], `Kill` → [`Runner::kill`], `Release` →
//!    [`Runner::release`], `Tell` → the event stream; then answer the call.
//! 6. Stop once the core is shut down and every run has exited, or at once
//!    after [`Handle::detach`].
//!
//! ## What the driver does for the application
//!
//! - **Messages.** [`Handle::message`] stores the text; the host asks the
//!   core to pipe it into the group's live run and writes it there
//!   ([`Delivery::Piped`]), or tells the core the group has mail
//!   ([`Delivery::Queued`]). A messages run is handed every unread message
//!   when it starts.
//! - **Replies.** A `turn` line's reply is sent as [`HostEvent::Reply`];
//!   sending it is delivering it. The stream is bounded
//!   ([`Builder::event_buffer`]): a reply that finds no room is not
//!   delivered, and the messages it answered are read again by a later run.
//! - **Rollback.** When a run fails, the messages a delivered reply
//!   answered (the turn line's `messages` count, or all given so far) stay
//!   answered; the rest are handed to the next run. A reply that answered
//!   only some of what the run was given is reported to the core as
//!   replied, not delivered, so a failure after it loses nothing.
//! - **Exit 0 with unanswered messages** is a failure: those messages are
//!   retried, not lost.
//! - **Runs that never started** ([`RunExit::NotStarted`]: no such program
//!   or image) are failed runs: messages are retried, a task is reported
//!   failed ([`HostEvent::TaskFailed`]), never silently run again.
//! - **Tasks** are deduplicated by group and id while queued or running,
//!   and (durable drivers) for a window after they ran
//!   ([`Durability::remember_tasks`], default 24 h): a resubmission is
//!   [`Submitted::Duplicate`] saying where the task stands or how it ended.
//! - **Background tasks** ([`Handle::background_task`]): a heartbeat or a
//!   sweep that gives way to the conversation (the core's B16): it starts
//!   only when its group has no run, no unread messages and no normal
//!   task, never closes a run, and with `skip_if_active` is answered
//!   [`Submitted::Skipped`] while the group's conversation is active. It is
//!   journaled like a task, and a shutdown leaves it as background work
//!   ([`LeftTask::background`]), put back behind the conversation.
//! - **Terminal failure.** The unread messages stay unread and visible
//!   ([`Handle::status`], [`HostStats::unread_messages`], the shutdown's
//!   [`Left`]); the group's next message hands them to a run again.
//! - **Runner trouble.** A runner that cannot tell what a run is doing (the
//!   Docker daemon does not answer) says so: the run stays live and holds
//!   its slot, and the application hears [`HostEvent::RunnerTrouble`].
//! - **Shutdown.** [`Handle::shutdown`] closes idle runs at once and busy
//!   ones after their turn (killed after the shutdown grace), and answers
//!   the work left ([`Left`]: tasks with payloads, unread messages with
//!   their texts, live runs with their unanswered messages).
//!   [`Driver::run`] returns once every run exited. Dropping every handle
//!   shuts down the same way.
//!
//! ## The application's obligations
//!
//! - Run [`Driver::run`] to completion inside a tokio runtime with the time
//!   and I/O drivers enabled; the handle's calls wait for it.
//! - Read [`HostEvents`] promptly. A reader that falls behind loses
//!   events other than replies ([`HostEvents::lagged`] counts them) and
//!   makes replies undelivered (their messages are retried): the driver's
//!   memory stays bounded either way.
//! - Without a state directory, persist the shutdown's [`Left`] and
//!   resubmit it on the next start. A durable driver does this itself.
//! - Treat an error of a call made while the driver crashed as unknown:
//!   resubmit it (a task is then a duplicate if it was kept).
//!
//! ## Runners
//!
//! A [`Runner`] starts, feeds, closes and kills runs and reports their
//! lines and exit; its report must be the run's real life, because every
//! promise of the core holds only as far as it is.
//!
//! - [`ProcessRunner`]: each run is a local process in a session and
//!   process group of its own. Its stdout goes to a file in the run
//!   directory, read by position (woken by inotify), so the agent outlives
//!   its reader and a restarted driver reads on where the journal stopped.
//!   The run has ended when nothing of its process group is left: helpers
//!   still alive at the agent's exit are killed after a grace
//!   ([`ProcessRunner::helper_grace`], 500 ms) before the exit is reported.
//!   A kill is `SIGKILL` of the whole group.
//! - [`DockerRunner`] (feature `docker`, on by default; a host that runs
//!   only processes turns it off and compiles no HTTP client): each run is
//!   a container created and started by name through the Engine API
//!   (`DOCKER_HOST` honoured), its lines the
//!   container's own log, its exit the engine's wait result. A broken
//!   connection or a daemon restart is never an exit: the runner
//!   reconnects, inspects, re-attaches or reports what the engine reports.
//!
//! Both speak the agent wire protocol of the `groupq-protocol` crate (the
//! run directory, message files, the close sentinel, one JSON line per
//! event) and lock their work directory while they use it.
//!
//! ## Durability
//!
//! [`Builder::durable`] keeps the driver's state in a directory, so that a
//! crash of the application's process (SIGKILL, a panic, the OOM killer)
//! loses no queued work and runs nothing twice that must not run twice,
//! and a clean restart continues where the last one stopped:
//!
//! ```no_run
//! use std::time::Duration;
//! use groupq::Config;
//! use groupq_tokio::{CommandLine, Driver, Durability, ProcessRunner, RestartPolicy, SyncPolicy};
//!
//! # fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let runner = ProcessRunner::new("/var/lib/my-host/work".as_ref(), CommandLine::new("my-agent"))?;
//! let durability = Durability::new("/var/lib/my-host/state")
//!     .sync(SyncPolicy::Group { max_delay: Duration::from_millis(2), max_inputs: 64 })
//!     .on_restart(RestartPolicy::Adopt)
//!     .remember_tasks(Some(Duration::from_secs(24 * 3600)));
//! let (driver, handle, events) = Driver::builder(Config::default())
//!     .durable(durability)
//!     .build(runner)?;
//! if let Some(restored) = driver.restored() {
//!     println!("replayed {} inputs, {} runs to settle", restored.replayed, restored.live_runs);
//! }
//! # let _ = (handle, events); Ok(()) }
//! ```
//!
//! **How.** Every accepted entry is appended to a write-ahead journal with
//! its time, and every outside effect of it (spawn, follow-up, close, kill,
//! release, host event, the call's answer) is carried out only once the
//! journal is synced: after each entry ([`SyncPolicy::EveryInput`]; calls
//! already waiting share the sync), or for a group of entries at most
//! `max_delay` after the first or once `max_inputs` wait
//! ([`SyncPolicy::Group`]). Every `snapshot_every` entries the host's
//! whole state is written as a snapshot and the journal restarts after it.
//!
//! **The promise**, for a crash of the driver's process:
//!
//! - **An answered call is durable.** When a handle call returns `Ok`, its
//!   entry is on disk. A call that returned nothing may or may not have
//!   been kept: resubmit it. A task id that ran within the task window is
//!   answered [`Submitted::Duplicate`] with its [`TaskOutcome`], so a
//!   resubmission never runs it twice.
//! - **Messages are at least once.** A message is handed to runs until a
//!   delivered reply answers it, then never again. A run cut off by a
//!   crash (and not adopted) is failed and its unanswered messages are
//!   retried, so an agent may see a message again after working on it.
//! - **Tasks are at most once once launched.** A task whose run may have
//!   started is never started again: if its run is not adopted it is
//!   reported failed ([`HostEvent::TaskFailed`], exit [`RunExit::Lost`]).
//!   A task whose run certainly never started runs as if nothing happened
//!   ([`HostEvent::NotLaunched`]).
//! - **No group has two live runs, across restarts too.** Before the
//!   restarted driver starts anything, the runner adopts or kills every run
//!   the old one left (orphans included) and waits until the killed ones
//!   are gone.
//! - **Host events are at most once.** They are sent after their entry is
//!   durable and not sent again on restart; the state of record is the
//!   driver's ([`Handle::status`], [`Handle::stats`], task outcomes).
//! - **Counters start at zero on every start**; gauges show the restored
//!   state at once.
//! - **Time stops while the driver is down.** Deadlines continue from the
//!   restored core time.
//! - After a power loss of the machine the journal holds, but launch
//!   markers are not synced: a task whose marker had not reached the disk
//!   runs again (every run died with the machine).
//!
//! **Restarts**, in this order:
//!
//! 1. [`Builder::build`] locks the state directory (a `flock` on the
//!    directory's own descriptor: deleting files does not let a second
//!    driver in; a second one is [`StateError::Locked`], after a wait of up
//!    to a second for a driver that is going away), loads the
//!    snapshot and replays the journal after it without effects.
//!    [`Driver::restored`] says what was found.
//! 2. [`Driver::run`] asks [`Runner::recover`] to settle the runs the state
//!    believes live. Under [`RestartPolicy::Adopt`] (the default) each run
//!    still there is taken over: it keeps its id, slot, deadlines and
//!    message accounting, and its output is read on from where the journal
//!    stopped, so no line is lost or read twice. Under
//!    [`RestartPolicy::Kill`], or for a run that is gone, the run is failed
//!    as [`RunExit::Lost`]; a run never launched has its work put back.
//!    Each run is released only once its fate is durable.
//! 3. A state that was shut down cleanly (or that holds nothing, under
//!    another configuration) begins a new epoch: a new core under the
//!    builder's configuration, with the tasks and unread messages the
//!    shutdown left put back. The application need persist nothing.
//! 4. Then the loop as usual.
//!
//! [`Handle::detach`] stops the driver without a shutdown and leaves its
//! live runs running for the next start to adopt: an upgrade of the
//! application without cutting its conversations off.
//!
//! **State files.** `journal` and `snapshot` in the directory: a magic, a
//! format version, then records of a length, its complement, a CRC-32 and a
//! JSON payload (readable with `jq` in an incident). Only a record cut
//! short at the journal's end is a torn write: it is dropped, counted in
//! [`Restored::dropped_bytes`], and cut off. Anything else is refused and
//! the driver does not start, changing nothing: a full-length last record
//! whose checksum fails, damage anywhere before the end
//! ([`FrameError::Corrupt`], with its offset), another format version
//! ([`FrameError::Version`]), not a state file ([`FrameError::NotOurs`]),
//! a record that does not decode ([`StateError::Malformed`]), an entry the
//! host refuses on replay ([`StateError::Replay`]), a snapshot of another
//! state ([`StateError::Mismatch`]), a directory that cannot be written
//! ([`StateError::Io`]). A different configuration while the state holds
//! work is [`StateError::ConfigChanged`]: finish the work under the old
//! one, or shut down cleanly first.
//!
//! **What an operator does on damage.** Stop; copy the state directory
//! aside; read the error's file and offset. A journal damaged in its last
//! records can be cut at the offset [`FrameError::Corrupt`] names (losing
//! the entries after it: calls answered then are lost, runs started then
//! are orphans the runner's recovery kills); anything else, start with an
//! empty state directory and resubmit the work from the application's own
//! records.
//!
//! **The runner's obligations** are [`Runner::recover`]'s: return every
//! run whose launch may have begun, keep its record until released, and
//! never block the executor's thread.
//!
//! ## Operator surface
//!
//! - [`Handle::prometheus`]: every counter, gauge and histogram in the
//!   Prometheus text format (`prometheus-client`), read without asking the
//!   loop: the inputs, spawns, closes, evictions, kills, retries, terminal
//!   failures, replies and piped follow-ups; live runs, free slots, queued
//!   jobs, waiting groups and unread messages; events lost to a slow
//!   reader; the wait from a message or task to its run's spawn
//!   (`groupq_wait_seconds`) and run lifetimes (`groupq_run_seconds`), by
//!   work kind. [`Handle::metrics`] reads the same numbers as a struct.
//! - [`Handle::status`]: why a group waits: the core's account (its place
//!   in the line, pending work, its run and deadlines, retries), its unread
//!   and unanswered messages, its last error and when it last wrote a line.
//!   [`Handle::groups`] lists the groups held.
//! - Every entry is handled inside a `tracing` span (`message`, `task`,
//!   `background_task`, `cancel`, `pause`, `resume`, `close`, `shutdown`, `run`, `timeout`,
//!   `reconcile`) with its group, run and task; every effect is an event.
//!   Agents' stderr and unreadable stdout lines are `warn` events. Message
//!   texts and replies are never logged.
//!
//! ## Cost
//!
//! Each handle call is a round trip through a channel to the loop's task.
//! The loop and the runners add no measurable time between a message and
//! its agent's first line (`examples/latency/`); the figures are in the
//! README.

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
    Believed, CommandLine, Found, ProcessRunner, Recovering, Recovery, RestartPolicy, RunEvent,
    RunEvents, Runner,
};
#[cfg(feature = "docker")]
pub use runner::{
    Container, DockerRunner, GROUP_LABEL, NAME_LABEL, OWNER_LABEL, ROOT_LABEL, RUN_LABEL,
};
