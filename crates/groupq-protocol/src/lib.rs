//! # The groupq agent wire protocol
//!
//! An agent is the program inside a run's container (or process). It can be
//! written in any language; this page is the whole contract between it and
//! the driver (`groupq-tokio`). An agent written in Rust depends on this
//! crate alone (serde and serde_json); the reference agent, with the
//! scripting words of the demo and the log the tests judge on, is the
//! separate `groupq-agent` crate.
//!
//! ## Files: the run's IPC directory
//!
//! Every run gets a fresh directory of its own. A process finds it in the
//! environment variable `GROUPQ_IPC`; a container finds it mounted at
//! `/ipc` (and `GROUPQ_IPC` unset). The group's persistent directory (the
//! conversation's session files, kept across runs of the group) is
//! `GROUPQ_GROUP_DIR`, mounted at `/group` in a container. Only one run of a
//! group is ever alive, so the group directory needs no locking.
//!
//! - `run.json`: what this run is for, written before the agent starts
//!   ([`Assignment`]): `{"run":7,"group":"alpha","work":"messages"}`, or
//!   `"work":"task"` with `"task_id"` and `"prompt"`, or `"work":"compact"`.
//! - `in/`: the run's input. Each message is one file `in/<seq>.json`
//!   holding a [`MessageFile`] (`{"text":"hello"}`); read them in name
//!   order. The driver writes each under a name starting with a dot and
//!   renames it into place, so a file the agent sees is whole; skip names
//!   starting with a dot. Delete a message file once it is read. The
//!   messages present at start are the unread ones; more may arrive while
//!   the run is alive (follow-ups).
//! - `in/_close` ([`CLOSE_SENTINEL`]): the run's input is closed. Answer the
//!   messages already written (every follow-up is written before the
//!   sentinel), then exit. An agent that ignores it is killed after the
//!   driver's kill grace.
//! - The agent may write anything else into the directory (the reference
//!   agent writes its own start and end times to `agent.log`); the driver
//!   removes the directory after the run exits unless told to keep it.
//!
//! ## Lines: the agent's stdout
//!
//! One JSON object per line ([`AgentLine`]), flushed at once:
//!
//! - `{"type":"turn","status":"success","reply":"re: hello","messages":1,"tokens":3100,"context_limit":10000}`:
//!   a turn finished ([`TurnLine`]). `messages` is how many input messages,
//!   in order, the turn answered (left out: all it was given so far); the
//!   driver delivers `reply` to the user, and a later failure of the run
//!   retries only the messages no delivered reply answered.
//!   `"status":"error"` with `"error"` reports a failed turn. An error
//!   turn may say how its failure is retried: `"fatal":true` for one that
//!   will happen again however often it is retried (a stale session, a
//!   bad configuration: the host hears of a terminal failure at once, no
//!   retry), or `"retry_after_ms":60000` for a provider's rate limit (the
//!   messages are retried then, not on the host's backoff; it still
//!   counts as an attempt). Neither: the host's backoff. The last error
//!   turn before the run's exit decides; a successful turn after it clears
//!   it; a task's failure is never retried whatever it says.
//! - `{"type":"idle"}`: the agent answered everything and waits for input.
//! - `{"type":"heartbeat"}`: the agent is alive, mid-turn (a tool call in
//!   progress), so a stall deadline does not fire.
//!
//! Lines that are not one of these are logged by the driver and ignored.
//! Stderr is free-form diagnostics. Stdout may be a file or the
//! container's log rather than a pipe: write whole lines and flush each
//! one; the driver reads them from there, even after a restart of its own.
//!
//! ### Heartbeats: on a timer, not on model events
//!
//! A host that sets a stall timeout closes a busy run that sent no line
//! for that long. Send heartbeats from a timer of their own (a thread or a
//! task beside the model loop, every third of the host's stall timeout or
//! so) for as long as a turn is in progress, and stop when the turn ends.
//! Do not send them only when the model streams an event: a turn waiting
//! out a provider's rate limit, a long tool call or a slow first token
//! sends no events and is still alive, and would be closed as stalled.
//! Before its first line a run gets the host's start grace on top of the
//! stall timeout (image pull, model load); after it, the stall timeout
//! alone. A heartbeat never extends the turn deadline: a turn that takes
//! longer than the host allows is closed whatever it sends.
//!
//! ## Exit
//!
//! Exit status 0 means the run ended cleanly; anything else, or a signal, is
//! a failed run (its messages are retried; a task is reported failed). A
//! process run has ended when nothing of its process group is left: a
//! helper still alive when the agent exits is killed after a short grace
//! (500 ms by default) before the exit is reported, so wait for your
//! helpers, or they die unfinished. A container's run ends with the
//! container. Exit
//! 0 only once every message given has been answered: a messages run that
//! exits 0 with messages no turn line answered is treated as failed, so
//! those messages are handed to the next run rather than lost. On
//! SIGTERM the agent should exit promptly; the Docker runtime starts
//! containers with `--init`, so an agent that is PID 1 need not handle
//! signals itself.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod wire;

pub use wire::{
    message_body, message_name, read_messages, write_atomic, write_message, AgentLine,
    AssignedWork, Assignment, MessageFile, Status, TurnLine, CLOSE_SENTINEL, INPUT_DIR, RUN_FILE,
};
