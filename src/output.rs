//! What the core tells the adapter: [`Output`], drained by
//! [`Machine::poll`](crate::Machine::poll).

use std::time::Duration;

use crate::time::Time;
use crate::work::{RunId, Work};

/// One item from [`Machine::poll`](crate::Machine::poll).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Output<K, T, P> {
    /// Carry this out, in order.
    Command(Command<K, T, P>),
    /// Observability only (emitted when [`Config::with_records`](crate::Config::with_records)
    /// is on); no adapter needs these for correctness.
    Record(Record<K, T>),
}

impl<K, T, P> Output<K, T, P> {
    /// The command, if this output is one.
    pub fn command(&self) -> Option<&Command<K, T, P>> {
        match self {
            Output::Command(c) => Some(c),
            Output::Record(_) => None,
        }
    }
}

/// Why the core asks for a run's input to be closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseReason {
    /// A task is waiting for the group and the run is idle (preemption).
    Preempt,
    /// The run stayed idle for the idle timeout.
    IdleTimeout,
    /// The run did not finish its turn within `max_turn_time` (or
    /// `max_compact_time` for a compact run).
    TurnTimeout,
    /// The run reached `max_run_time`.
    RunTimeLimit,
    /// The busy run sent neither a turn report nor a heartbeat for
    /// `stall_timeout`.
    Stalled,
    /// Shutdown: the run was idle, or its shutdown grace ran out.
    Shutdown,
    /// Another group waits for a slot, and this run was the one idle
    /// longest.
    Evicted,
    /// The host asked for it ([`CloseRun`](crate::CloseRun)).
    Host,
    /// [`SetLimits`](crate::SetLimits) lowered `max_active` below the live
    /// runs, and this idle run was the one idle longest.
    LimitLowered,
}

/// An advisory for the user of a group, from a turn's report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Notice {
    /// The context is at `percent` percent, at or above the warn threshold.
    ContextWarning {
        /// Percent of the context window in use (at most 100).
        percent: u32,
        /// Tokens in the context, if the turn reported them.
        tokens: Option<u64>,
        /// The context window size, if the turn reported it.
        limit: Option<u64>,
    },
    /// The agent compacted its context on its own.
    AutoCompacted {
        /// Tokens before compaction, if known.
        tokens_before: Option<u64>,
    },
}

/// A command for the adapter to carry out.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command<K, T, P> {
    /// Start a container for this run. The only way a run ever starts.
    Spawn {
        /// The new run's id; name it in every input about this run.
        run: RunId,
        /// The group it serves.
        group: K,
        /// What it does.
        work: Work<T, P>,
    },
    /// Write the close sentinel / close stdin. Emitted at most once per run.
    CloseInput {
        /// The run.
        run: RunId,
        /// Why.
        reason: CloseReason,
    },
    /// Kill the run's container (`docker kill`, SIGKILL): its input was
    /// closed `kill_grace` ago and it has not exited. Emitted at most once
    /// per run. The run stays live until its exit is reported.
    Kill {
        /// The run.
        run: RunId,
    },
    /// Tell the group's user something.
    Notify {
        /// The group.
        group: K,
        /// What to say.
        notice: Notice,
    },
    /// The run failed before its messages were all answered: rewind the
    /// group's message cursor to just after the messages the run's last
    /// delivered reply answered (to where it stood at the run's spawn if
    /// no reply was delivered), so the rest, the follow-ups piped in after
    /// that reply, and any that arrived since are read again by the next
    /// run. Never rewind past a delivered reply: its messages would be
    /// answered twice.
    RollbackCursor {
        /// The group.
        group: K,
    },
    /// A compaction happened: persist its time.
    RecordCompaction {
        /// The group.
        group: K,
    },
    /// Retries are exhausted for the group: the core gives up on its unread
    /// messages (the cursor was rolled back and no retry follows). What to
    /// do with them is the host's choice: tell the user, or skip them by
    /// advancing the cursor. A new message starts a new run as usual.
    TerminalFailure {
        /// The group.
        group: K,
    },
    /// The crash-loop breaker opened ([`Config::with_breaker`](crate::Config::with_breaker),
    /// B15): runs of several groups failed fast, so no run starts until
    /// `until`; then one starts as a probe. Work keeps queueing. Tell the
    /// operator: something every run needs is broken (an image, a key).
    BreakerOpened {
        /// When the probe may start.
        until: Time,
        /// How long the breaker stays open this time (doubling per failed
        /// probe).
        cooldown: Duration,
    },
    /// The probe lived (or exited without failing fast): the breaker is
    /// closed and waiting groups start again.
    BreakerClosed,
}

/// Work that can wait in a group.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Pending<T> {
    /// Unread messages.
    Messages,
    /// A task with this id.
    Task(T),
    /// A compact turn.
    Compact,
}

/// An observability record: an enqueue or drain decision made visible.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Record<K, T> {
    /// Work was queued in the group (it has a run or waits for a slot).
    Queued {
        /// The group.
        group: K,
        /// What was queued.
        what: Pending<T>,
    },
    /// A task was not queued: its id is already pending or live.
    Deduplicated {
        /// The group.
        group: K,
        /// The task id.
        id: T,
    },
    /// The group joined the back of the waiting line.
    Waiting {
        /// The group.
        group: K,
        /// Groups ahead of it.
        ahead: usize,
    },
    /// A freed slot was given to the group from the waiting line.
    Drained {
        /// The group.
        group: K,
        /// The run started.
        run: RunId,
    },
    /// A failed Messages run will be retried at `at`.
    RetryScheduled {
        /// The group.
        group: K,
        /// Retry attempt, from 1.
        attempt: u32,
        /// When.
        at: Time,
    },
    /// The group failed `max_retries + 1` times in a row.
    RetriesExhausted {
        /// The group.
        group: K,
    },
    /// A task run failed; tasks are not retried.
    TaskFailed {
        /// The group.
        group: K,
        /// The run.
        run: RunId,
        /// The task id.
        id: T,
    },
    /// Work that arose after shutdown and will not be done.
    Dropped {
        /// The group.
        group: K,
        /// What was dropped.
        what: Dropped,
    },
}

/// What was dropped after shutdown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Dropped {
    /// A retry of a failed run (its cursor was still rolled back).
    Retry,
    /// A compact turn triggered by a run that exited after shutdown.
    Compact,
}
