//! # groupq-host: the host around the core, sans-IO
//!
//! The `groupq` core decides when runs start and stop; it holds no message
//! text, no run names, no output positions. Every driver of it (the tokio
//! driver of `groupq-tokio`, a binding in another language, a replicated
//! leader) needs the same things around it: a message store the core's
//! `RollbackCursor` rewinds, the live runs' accounting, and the rules that
//! turn what happened into the core's inputs and the core's commands into
//! things to do. This crate is those rules, once, with no clock, no I/O and
//! no threads: a [`Host`] takes one [`Entry`] at a time and decides
//! [`Effect`]s. Its state is what a snapshot holds ([`Host::state`]).
//!
//! ```
//! use groupq::{Config, Time};
//! use groupq_host::{Answer, Delivery, Effect, Entry, Host};
//!
//! let mut host = Host::new(Config::default(), 7)?;
//! let entry = Entry::Message { group: "chat-1".into(), text: "hello".into() };
//! let answer = host.apply(Time::ZERO, entry)?;
//! assert_eq!(answer, Answer::Delivery(Delivery::Queued));
//! while let Some(effect) = host.poll() {
//!     if let Effect::Spawn(spec) = &effect {
//!         assert_eq!(spec.messages, ["hello"]); // start the run with its messages
//!     }
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## The loop
//!
//! 1. Turn what happened into one [`Entry`]: an application's call, a line
//!    a run wrote (with the position in its output after it), a run's
//!    exit, or the core's deadline coming due ([`Entry::Timeout`]). Stamp
//!    it with the core time `now`, which never goes back.
//! 2. [`Host::apply`] it. An error means the entry changed nothing, in the
//!    core or the host, and decided no effect: do not journal it.
//! 3. A durable driver appends the entry with its time ([`Stamped`]) to
//!    its journal and syncs it.
//! 4. Take every effect with [`Host::poll`] and carry them out in order:
//!    spawn, deliver, close, kill and release runs, tell the application.
//!    A durable driver carries them out only once the entry is on disk.
//! 5. Sleep until [`Host::machine`]'s `next_deadline`, or the next event.
//!
//! A restart restores the last snapshot ([`Host::restore`]) and applies
//! the journaled entries after it through the same [`Host::apply`],
//! discarding their effects ([`Host::discard_effects`]): they were carried
//! out before the stop, or their entry was never durable. The core is
//! deterministic and every choice the driver made is in the entry (whether
//! the application was listening, how far a run's output was read), so
//! replay rebuilds the host exactly.
//!
//! ## The rules
//!
//! What the host does for the application, each rule in one place:
//!
//! - **A message** ([`Entry::Message`]) is stored, then written into the
//!   group's live run if the core answers its `Pipe` with `Piped`
//!   ([`Delivery::Piped`], with every message that arrived since the run's
//!   last one), else the core is told the group has mail
//!   ([`Delivery::Queued`]). A messages run is handed every unread message
//!   when it starts. A message the core rejects is not kept (`host.rs`).
//! - **A reply** is delivered when the application's event stream could
//!   take it (`listening` in [`Entry::Turn`]). A delivered reply answers
//!   the `messages` count its turn line gives, or everything handed so far;
//!   those are never handed to a run again. The core hears "delivered"
//!   only when the reply left no handed message unanswered, else
//!   "replied": a failure after a partial answer then rolls back to just
//!   past what was answered (`turn.rs`).
//! - **Exit 0 with unanswered messages** is told to the core as a failure,
//!   so those messages are rolled back and retried instead of lost
//!   (`host.rs`, `exited`).
//! - **A rollback** (`RollbackCursor`) makes the messages handed to the
//!   failed run and not answered unread again; the next run is handed them
//!   (`mailbox.rs`).
//! - **A run that never launched** ([`Entry::NeverLaunched`], after a
//!   restart) leaves without a failure, and its work goes back as the
//!   spawn carried it (`host.rs`, `never_launched`).
//! - **A terminal failure** leaves the group's unread messages unread: the
//!   group's next message hands them to a run again
//!   ([`HostEvent::TerminalFailure`] says how many).
//! - **Run names** ([`RunSpec::name`]) are the host's instance number and
//!   the run id: unique across restarts of one state, and across states
//!   when the instance is.
//! - **Waits and lives**: [`HostEvent::Spawned`] says how long the work
//!   waited (since its oldest message arrived, or its task was submitted),
//!   [`HostEvent::Exited`] how long the run lived, in core time.
//!
//! Contributors: `ARCHITECTURE.md` maps the files.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod answer;
mod counters;
mod effect;
mod entry;
mod error;
mod event;
mod host;
mod inputs;
mod left;
mod mailbox;
mod outputs;
mod runs;
mod snapshot;
mod status;
mod tasks;
mod turn;

pub use answer::{Answer, Delivery, Duplicate, OtherAnswer, Submitted};
pub use counters::Counters;
pub use effect::{Effect, RunExit, RunSpec, RunWork};
pub use entry::{Entry, ExitRecord, LimitsRecord, Stamped, TurnRecord, FORMAT};
pub use error::HostError;
pub use event::HostEvent;
pub use host::{Host, HostCore, Queue, QueueOutput};
pub use left::{Left, LeftMessages, LeftRun, LeftTask};
pub use runs::{FailureClass, LiveRun};
pub use snapshot::{State, StateError, StateRef};
pub use status::{GroupStatus, HostStats};
pub use tasks::TaskOutcome;
