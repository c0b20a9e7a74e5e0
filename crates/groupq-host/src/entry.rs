//! [`Entry`]: the host's one input vocabulary, and the durable record of
//! it. A driver turns whatever happened (an application's call, a line a
//! run wrote, a run's end, a deadline) into one entry, journals it, and
//! hands it to [`Host::apply`](crate::Host::apply); a restart replays the
//! journaled entries through the same method.
//!
//! These types are the journal's format: they are written with serde and
//! read back by later builds, so they are their own types (the
//! `*Record`s), not the driver's or the agent protocol's API types. A
//! change to them is a change of the journal format; `FORMAT` names the
//! version a journal header carries.

use groupq::{Config, Limits, Time};
use groupq_protocol::{Status, TurnLine};
use serde::{Deserialize, Serialize};

use crate::effect::RunExit;

/// The version of the entry format that this build writes and reads.
pub const FORMAT: u32 = 2;

/// One input of the host. Every entry names the run it is about by its
/// number (`run`), as the core's `RunId` does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "input", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Entry {
    /// A user's message for `group`: written into the group's live run if
    /// the core allows it, else stored unread for the group's next run.
    Message {
        /// The group.
        group: String,
        /// The message.
        text: String,
    },
    /// A task for `group`.
    Task {
        /// The group.
        group: String,
        /// Its id, deduplicated within the group.
        id: String,
        /// Its payload (the agent's prompt).
        payload: String,
    },
    /// A background task for `group` (B16): it gives way to the group's
    /// conversation.
    BackgroundTask {
        /// The group.
        group: String,
        /// Its id, deduplicated within the group (with the normal tasks).
        id: String,
        /// Its payload (the agent's prompt).
        payload: String,
        /// Skip it, rather than queue it, while the group's conversation is
        /// active.
        #[serde(default)]
        skip_if_active: bool,
    },
    /// Operator: remove a queued task.
    Cancel {
        /// The group.
        group: String,
        /// The task's id.
        id: String,
    },
    /// Operator: start nothing for the group until resumed.
    Pause {
        /// The group.
        group: String,
    },
    /// Operator: undo a pause.
    Resume {
        /// The group.
        group: String,
    },
    /// Operator: close the group's live run's input.
    CloseRun {
        /// The group.
        group: String,
    },
    /// Stop starting runs; the work left is the answer.
    Shutdown,
    /// A run's agent reported a turn.
    Turn {
        /// The run.
        run: u64,
        /// What the turn line said.
        turn: Box<TurnRecord>,
        /// Whether the application's event stream could take the reply
        /// when the line was read: a reply it could not take was not
        /// delivered.
        listening: bool,
        /// The position in the run's output just after this line.
        read_to: u64,
    },
    /// A run's agent is idle, waiting for input.
    Idle {
        /// The run.
        run: u64,
        /// The position in the run's output just after this line.
        read_to: u64,
    },
    /// A run's agent is alive mid-turn.
    Heartbeat {
        /// The run.
        run: u64,
        /// The position in the run's output just after this line.
        read_to: u64,
    },
    /// A run ended.
    Exited {
        /// The run.
        run: u64,
        /// How.
        exit: ExitRecord,
    },
    /// Deadlines at or before the entry's time fire.
    Timeout,
    /// After a restart: the run's spawn was never carried out.
    NeverLaunched {
        /// The run.
        run: u64,
    },
    /// A new epoch: a new core under this configuration, for a host with
    /// nothing live whose core was shut down or holds nothing; the work a
    /// shutdown left, and every unread message, is put back.
    Renew {
        /// The new core's configuration.
        config: Box<Config>,
        /// The limits of the builder's configuration, when the new core
        /// keeps limits set while running instead (absent: the config's).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        configured: Option<LimitsRecord>,
    },
    /// Operator: the limits change while running (the core's `SetLimits`).
    SetLimits {
        /// The new limits.
        limits: LimitsRecord,
        /// They are the builder's configuration's, changed since the state
        /// began: the host remembers them as configured, so that a restart
        /// with the same configuration keeps limits set while running.
        #[serde(default, skip_serializing_if = "is_false")]
        configured: bool,
    },
    /// How long tasks are remembered after they ran (`None`: not at all),
    /// in milliseconds of core time.
    TaskWindow {
        /// The window.
        window_ms: Option<u64>,
    },
}

/// An entry and the core time it was applied at: one journal record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamped {
    /// The core time, in nanoseconds.
    pub now: Time,
    /// The entry.
    #[serde(flatten)]
    pub entry: Entry,
}

/// The core's [`Limits`], as journaled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitsRecord {
    /// Runs live at once.
    pub max_active: usize,
    /// Tasks queued across all groups (`None`: no cap).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_queued_tasks: Option<usize>,
    /// Tasks queued in one group (`None`: no cap).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_group_tasks: Option<usize>,
}

impl From<Limits> for LimitsRecord {
    fn from(l: Limits) -> LimitsRecord {
        LimitsRecord {
            max_active: l.max_active,
            max_queued_tasks: l.max_queued_tasks,
            max_group_tasks: l.max_group_tasks,
        }
    }
}

impl From<LimitsRecord> for Limits {
    fn from(r: LimitsRecord) -> Limits {
        Limits::new(r.max_active)
            .with_max_queued_tasks(r.max_queued_tasks)
            .with_max_group_tasks(r.max_group_tasks)
    }
}

/// A turn line, as journaled.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TurnRecord {
    /// The turn failed.
    #[serde(default, skip_serializing_if = "is_false")]
    pub error: bool,
    /// The reply for the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
    /// Why the turn failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_text: Option<String>,
    /// How many messages the reply answered (`None`: all given so far).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<u64>,
    /// Tokens in the context after the turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<u64>,
    /// The context window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_limit: Option<u64>,
    /// The turn compacted the context, which held this many tokens before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compacted_from: Option<u64>,
    /// An error turn's failure is not worth retrying.
    #[serde(default, skip_serializing_if = "is_false")]
    pub fatal: bool,
    /// An error turn asks for a retry after this many milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl From<&TurnLine> for TurnRecord {
    fn from(line: &TurnLine) -> TurnRecord {
        TurnRecord {
            error: line.status == Status::Error,
            reply: line.reply.clone(),
            error_text: line.error.clone(),
            messages: line.messages,
            tokens: line.tokens,
            context_limit: line.context_limit,
            compacted_from: line.compacted_from,
            fatal: line.fatal,
            retry_after_ms: line.retry_after_ms,
        }
    }
}

/// A run's end, as journaled.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "how", rename_all = "snake_case")]
pub enum ExitRecord {
    /// An exit status.
    Code {
        /// The status.
        code: i32,
    },
    /// Ended by a signal.
    Signal {
        /// The signal.
        signal: i32,
    },
    /// Never started.
    NotStarted {
        /// Why.
        why: String,
    },
    /// Cut off by a restart of the driver.
    Lost,
    /// Gone, its status unknown.
    Gone {
        /// Why the status is unknown.
        why: String,
    },
}

impl From<&RunExit> for ExitRecord {
    fn from(exit: &RunExit) -> ExitRecord {
        match exit {
            RunExit::Code(code) => ExitRecord::Code { code: *code },
            RunExit::Signal(signal) => ExitRecord::Signal { signal: *signal },
            RunExit::NotStarted(why) => ExitRecord::NotStarted { why: why.clone() },
            RunExit::Lost => ExitRecord::Lost,
            RunExit::Gone(why) => ExitRecord::Gone { why: why.clone() },
        }
    }
}

impl From<ExitRecord> for RunExit {
    fn from(exit: ExitRecord) -> RunExit {
        match exit {
            ExitRecord::Code { code } => RunExit::Code(code),
            ExitRecord::Signal { signal } => RunExit::Signal(signal),
            ExitRecord::NotStarted { why } => RunExit::NotStarted(why),
            ExitRecord::Lost => RunExit::Lost,
            ExitRecord::Gone { why } => RunExit::Gone(why),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The journal's bytes are a format: these lines are what this version
    /// writes, and must keep reading back.
    #[test]
    fn entries_have_the_documented_shape() {
        let cases = [
            (
                Stamped {
                    now: Time::from_nanos(5),
                    entry: Entry::Message {
                        group: "g".into(),
                        text: "hi".into(),
                    },
                },
                r#"{"now":5,"input":"message","group":"g","text":"hi"}"#,
            ),
            (
                Stamped {
                    now: Time::from_nanos(6),
                    entry: Entry::Turn {
                        run: 3,
                        turn: Box::new(TurnRecord {
                            reply: Some("re".into()),
                            messages: Some(1),
                            ..TurnRecord::default()
                        }),
                        listening: true,
                        read_to: 120,
                    },
                },
                r#"{"now":6,"input":"turn","run":3,"turn":{"reply":"re","messages":1},"listening":true,"read_to":120}"#,
            ),
            (
                Stamped {
                    now: Time::from_nanos(7),
                    entry: Entry::Exited {
                        run: 3,
                        exit: ExitRecord::Signal { signal: 9 },
                    },
                },
                r#"{"now":7,"input":"exited","run":3,"exit":{"how":"signal","signal":9}}"#,
            ),
            (
                Stamped {
                    now: Time::from_nanos(8),
                    entry: Entry::Timeout,
                },
                r#"{"now":8,"input":"timeout"}"#,
            ),
        ];
        for (stamped, json) in cases {
            assert_eq!(serde_json::to_string(&stamped).unwrap(), json);
            assert_eq!(serde_json::from_str::<Stamped>(json).unwrap(), stamped);
        }
    }

    #[test]
    fn every_exit_round_trips_through_its_record() {
        for exit in [
            RunExit::Code(0),
            RunExit::Code(-3),
            RunExit::Signal(9),
            RunExit::NotStarted("no such image".into()),
            RunExit::Lost,
            RunExit::Gone("removed by someone".into()),
        ] {
            assert_eq!(RunExit::from(ExitRecord::from(&exit)), exit);
        }
    }
}
