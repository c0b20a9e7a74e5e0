//! # groupq
//!
//! The deterministic, sans-IO core of an agent-container orchestrator. It
//! decides; it never does. A runtime adapter (tokio, plain threads, a
//! simulator, a test) feeds it inputs stamped with the current time and
//! carries out the commands it emits. The core never reads a clock, sleeps,
//! spawns or touches a file.
//!
//! It keeps three promises under any interleaving of inputs:
//! a group never has two live containers, at most `max_active` containers
//! are live, and no queued work is lost or run twice.
//!
//! ## The run loop (the contract)
//!
//! 1. When something happens, call [`Machine::handle`] with the current
//!    [`Time`] and an [`Input`]. `now` must never go backwards.
//! 2. Then call [`Machine::poll`] until it returns [`Output::WakeAt`],
//!    carrying out every [`Command`] in order. [`Record`]s are observability
//!    only (see [`Config::with_records`]).
//! 3. Sleep until the `WakeAt` deadline or the next event, whichever comes
//!    first. At the deadline send [`Input::Timeout`]; an early or extra
//!    timeout is harmless.
//!
//! A rejected input returns a typed [`Error`] and changes nothing.
//!
//! ```
//! use groupq::{Command, Config, Exit, Input, Machine, Output, Time, Work};
//!
//! let mut q: Machine<&str, u32, String> = Machine::new(Config::default().with_max_active(1))?;
//! let mut now = Time::ZERO;
//! q.handle(now, Input::Message { group: "chat-a" })?;
//! q.handle(now, Input::Task { group: "chat-b", id: 7, payload: "report".to_string() })?;
//!
//! let mut live = Vec::new();
//! loop {
//!     // Drain every output, then sleep until `wake_at` or the next input.
//!     let wake_at = loop {
//!         match q.poll() {
//!             Output::Command(Command::Spawn { run, group, work }) => {
//!                 // Start a container here; this sketch "runs" it at once.
//!                 println!("{now}: spawn {run} for {group}: {work:?}");
//!                 live.push(run);
//!             }
//!             Output::Command(other) => println!("{now}: {other:?}"),
//!             Output::Record(_) => {}
//!             Output::WakeAt(at) => break at,
//!         }
//!     };
//!     now = wake_at.unwrap_or(now).max(now.saturating_add(std::time::Duration::from_secs(1)));
//!     match live.pop() {
//!         Some(run) => q.handle(now, Input::Exited { run, exit: Exit::Clean })?,
//!         None => break,
//!     };
//! }
//! assert_eq!(q.stats().tracked_groups, 0); // nothing left, nothing held
//! # Ok::<(), groupq::Error>(())
//! ```
//!
//! ## Where the contract lives
//!
//! | item | what | file |
//! |---|---|---|
//! | B1 | message | `src/enqueue.rs` (`on_message`) |
//! | B2 | task, dedup, preempt | `src/enqueue.rs` (`on_task`) |
//! | B3 | pipe | `src/lifecycle.rs` (`on_pipe`) |
//! | B4 | idle | `src/lifecycle.rs` (`on_idle`) |
//! | B5 | turn output, compaction trigger | `src/turn.rs` |
//! | B6 | exited, rollback, compact job | `src/exit.rs` (`on_exited`) |
//! | B7 | retry and backoff | `src/exit.rs` (`schedule_retry`) |
//! | B8 | drain and fairness | `src/policy.rs` |
//! | B9 | shutdown report | `src/shutdown.rs` |
//! | B10 | timers | `src/timers.rs`, `Machine::on_timeout` |
//! | B11 | explain, stats | `src/report.rs` |
//! | B12 | eviction, data structures | `src/group.rs`, `src/jobs.rs` |
//! | P1–P12 | the invariant checker | `src/check.rs` ([`check`]) |
//! | traces | text format, replay | `src/trace.rs` ([`trace`]) |
//!
//! The integration tests mirror the contract: one file per area under
//! `tests/` (`serialization`, `global_limit`, `dedup`, `drain_order`,
//! `idle_preemption`, `pipe`, `turn_results`, `compaction`, `retry`,
//! `fairness`, `shutdown`, `timers`, `errors`, `explain`, `eviction`), then
//! the proof layers (`properties`, `model`, `exhaustive`, `determinism`).
//!
//! ## Decisions beyond the written contract
//!
//! - B8's bound is `W + 1` releases, not `W`: a group with `W` groups ahead
//!   of it starts at the latest at the `(W + 1)`-th slot release (at the
//!   head of the line it still needs one release). The checker enforces it.
//! - Records are off by default ([`Config::with_records`]): each costs a
//!   key clone, and no adapter needs them.
//! - Pipe refusals are errors ([`Error::PipeRefused`]) so that
//!   `q.pipe(now, &g).or_else(|_| q.message(now, g))` is the whole fallback.
//! - A Messages run that fails after a reply was delivered counts as done
//!   for retries (count reset), as in the TypeScript original.
//! - Starting a Messages run cancels a retry still scheduled for its group:
//!   the run reads the rolled-back messages too, and the retry would only
//!   start a second, empty run after it. The failure count is kept, so the
//!   backoff and `TerminalFailure` (P12) are unchanged.
//! - Turn outputs are accepted from any live run; notices and the
//!   auto-compact trigger come only from Messages runs, so a compact turn
//!   can never queue another compact.
//! - Both notices (context warning, auto-compacted) are given only on a
//!   successful reply.
//! - A run's idle deadline is dropped when its input is closed, and a reply
//!   from a closing run does not re-arm it: it could only wake the adapter
//!   for nothing.
//! - A Messages run that fails after shutdown still rolls back its cursor,
//!   but schedules no retry and gives no `TerminalFailure`: there are no
//!   retries after shutdown.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod config;
mod drive;
mod error;
mod event;
mod input;
mod machine;
mod output;
mod state;
mod time;
mod turn_report;
mod view;
mod work;

pub use config::{Config, ConfigError, Policy};
pub use drive::{Drive, Stepped};
pub use error::Error;
pub use event::Event;
pub use input::{
    Exited, Idle, Input, Message, Pipe, PipeAnswer, PipeRefusal, Response, Shutdown, Task,
    TaskAnswer, Timeout, Turn,
};
pub use machine::Machine;
pub use output::{CloseReason, Command, Dropped, Notice, Output, Pending, Record};
pub use time::{Epoch, Time};
pub use turn_report::{Compaction, CompactionTrigger, ContextStats, TurnReport, TurnStatus};
pub use view::{Explain, JobInfo, LiveRun, PendingGroup, RunInfo, ShutdownReport, Stats};
pub use work::{Exit, RunId, RunState, Work, WorkKind};
