//! What the adapter tells the core: [`Input`], and the types inputs carry.

use std::fmt;

use crate::report::ShutdownReport;

/// A run: one container lifetime for a group.
///
/// Run ids increase monotonically from 1 and are never reused, so a run id
/// is a fencing token: an input naming a run that is no longer live is
/// rejected instead of being applied to its successor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RunId(u64);

impl RunId {
    /// A run id from its number, as found in a trace or a log. Ids the core
    /// never issued are rejected as [`Error::UnknownRun`](crate::Error::UnknownRun).
    pub const fn new(raw: u64) -> RunId {
        RunId(raw)
    }
    /// The number of this run id.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "run#{}", self.0)
    }
}

/// How a container ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Exit {
    /// Exit status zero.
    Clean,
    /// Non-zero status, killed, or could not be started.
    Failed,
}

/// Whether an agent turn succeeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TurnStatus {
    /// The turn finished; the run now waits for input (acts as idle, B4).
    Success,
    /// The turn failed; the run counts as failed when it exits (B6).
    Error,
}

/// Context-window statistics reported with a turn. Every number is optional:
/// agents report what they know, and missing numbers never produce a notice.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ContextStats {
    /// Tokens in the context, if known.
    pub tokens: Option<u64>,
    /// The context window size, if known.
    pub limit: Option<u64>,
    /// Percent of the window in use, if the agent computed it.
    pub percent: Option<u32>,
    /// The agent itself recommends compaction, whatever the percentage.
    pub compact_recommended: bool,
}

impl ContextStats {
    /// `percent` if given, else `tokens · 100 / limit` when both are known
    /// and the limit is not zero.
    pub fn effective_percent(&self) -> Option<u32> {
        if let Some(p) = self.percent {
            return Some(p);
        }
        match (self.tokens, self.limit) {
            (Some(tokens), Some(limit)) if limit > 0 => {
                let p = u128::from(tokens) * 100 / u128::from(limit);
                Some(u32::try_from(p).unwrap_or(u32::MAX))
            }
            _ => None,
        }
    }
}

/// What started a compaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CompactionTrigger {
    /// The agent compacted on its own.
    Auto,
    /// A compact turn (or a user's `/compact`) asked for it.
    Manual,
}

/// A compaction that happened during a turn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Compaction {
    /// What started it.
    pub trigger: CompactionTrigger,
    /// Tokens in the context before it, if known.
    pub tokens_before: Option<u64>,
}

/// What a turn of a live run reported (B5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TurnOutput {
    /// Whether the turn succeeded.
    pub status: TurnStatus,
    /// The turn produced a reply.
    pub replied: bool,
    /// The reply reached the user; after that a failure is not rolled back.
    pub delivered: bool,
    /// Context statistics, if the agent reported them.
    pub context: Option<ContextStats>,
    /// A compaction that happened in this turn, if any.
    pub compaction: Option<Compaction>,
}

impl TurnOutput {
    /// A successful turn whose reply was delivered, without statistics.
    pub fn delivered_reply() -> TurnOutput {
        TurnOutput {
            status: TurnStatus::Success,
            replied: true,
            delivered: true,
            context: None,
            compaction: None,
        }
    }
    /// A failed turn that produced nothing.
    pub fn error() -> TurnOutput {
        TurnOutput {
            status: TurnStatus::Error,
            replied: false,
            delivered: false,
            context: None,
            compaction: None,
        }
    }
    /// The same output with these context statistics.
    pub fn with_context(mut self, context: ContextStats) -> TurnOutput {
        self.context = Some(context);
        self
    }
    /// The same output with this compaction event.
    pub fn with_compaction(mut self, compaction: Compaction) -> TurnOutput {
        self.compaction = Some(compaction);
        self
    }
}

/// One event from the adapter. Hand it to [`Machine::handle`](crate::Machine::handle)
/// with the current time. `K` is the group key, `T` the task id, `P` the
/// task payload.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Input<K, T, P> {
    /// B1: the group has new unread messages.
    Message {
        /// The group.
        group: K,
    },
    /// B2: queue a task, deduplicated by `id` within the group.
    Task {
        /// The group.
        group: K,
        /// Dedup key within the group.
        id: T,
        /// Handed back in [`Work::Task`](crate::Work::Task).
        payload: P,
    },
    /// B3: may a follow-up message be written into the group's live run?
    Pipe {
        /// The group.
        group: K,
    },
    /// B4: the run finished its turn and waits for input.
    Idle {
        /// The run.
        run: RunId,
    },
    /// B5: a turn of the run reported its result.
    TurnOutput {
        /// The run.
        run: RunId,
        /// What the turn reported.
        output: TurnOutput,
    },
    /// B6: the run's container ended.
    Exited {
        /// The run.
        run: RunId,
        /// How it ended.
        exit: Exit,
    },
    /// B10: deadlines at or before `now` fire.
    Timeout,
    /// B9: stop starting work and report what is left.
    Shutdown,
}

impl<K, T, P> Input<K, T, P> {
    /// The same input with its group key, task id and payload converted:
    /// for adapters whose wire types differ from the machine's, and for
    /// writing any input down as a [trace](crate::trace).
    ///
    /// ```
    /// use groupq::Input;
    /// let input: Input<u32, u8, ()> = Input::Task { group: 7, id: 1, payload: () };
    /// let named = input.map(|g| format!("chat-{g}"), |id| *id, |_| "report");
    /// assert_eq!(named, Input::Task { group: "chat-7".to_string(), id: 1, payload: "report" });
    /// ```
    pub fn map<K2, T2, P2>(
        &self,
        group: impl FnOnce(&K) -> K2,
        id: impl FnOnce(&T) -> T2,
        payload: impl FnOnce(&P) -> P2,
    ) -> Input<K2, T2, P2> {
        match self {
            Input::Message { group: g } => Input::Message { group: group(g) },
            Input::Task {
                group: g,
                id: i,
                payload: p,
            } => Input::Task {
                group: group(g),
                id: id(i),
                payload: payload(p),
            },
            Input::Pipe { group: g } => Input::Pipe { group: group(g) },
            Input::Idle { run } => Input::Idle { run: *run },
            Input::TurnOutput { run, output } => Input::TurnOutput {
                run: *run,
                output: *output,
            },
            Input::Exited { run, exit } => Input::Exited {
                run: *run,
                exit: *exit,
            },
            Input::Timeout => Input::Timeout,
            Input::Shutdown => Input::Shutdown,
        }
    }
}

/// The synchronous answer to an accepted input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Response<K, T, P> {
    /// The input was applied; see [`Machine::poll`](crate::Machine::poll)
    /// for the commands it produced.
    Accepted,
    /// B2: the task id was already pending or live in the group; nothing
    /// was queued.
    Deduplicated,
    /// B3: write the follow-up into this run's input.
    Piped(RunId),
    /// B9: everything that will not be done, handed back to the host.
    ShutDown(ShutdownReport<K, T, P>),
}
