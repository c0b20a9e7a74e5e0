//! What the adapter tells the core: one struct per kind of input, each with
//! its own typed answer, and [`Input`], the same inputs as one enum for
//! code that records, replays or generates them.
//!
//! Every input goes in through [`Machine::handle`](crate::Machine::handle).

use std::fmt;

use thiserror::Error;

use crate::config::Limits;
use crate::turn_report::TurnReport;
use crate::view::ShutdownReport;
use crate::work::{Exit, RunId, Work};

/// The group has new unread messages. Answer: `()`.
///
/// No live run and a free slot: `Spawn` a Messages run. A live run: the
/// group is marked as having unread messages, picked up when the run exits.
/// No free slot: the group is marked and joins the back of the waiting line
/// (once).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Message<K> {
    /// The group.
    pub group: K,
}

/// Queue a task, deduplicated by `id` within the group. Answer:
/// [`TaskAnswer`].
///
/// An `id` equal to the live run's task id or to a task still queued in the
/// group is a duplicate: nothing is queued. Otherwise the task is appended
/// to the group's jobs; a live run that is idle is asked to close so the
/// task can start (preemption); no run and a free slot: `Spawn` it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Task<K, T, P> {
    /// The group.
    pub group: K,
    /// Dedup key within the group.
    pub id: T,
    /// Handed back in [`Work::Task`](crate::Work::Task) or in the shutdown
    /// report.
    pub payload: P,
}

/// Queue a background task (B16): work that gives way to the group's
/// conversation. Answer: [`TaskAnswer`].
///
/// Deduplicated like a [`Task`], against the group's tasks of both
/// classes, and counted by the same caps. It never closes a run, it starts
/// only when its group has no run, no unread messages and no normal jobs,
/// after them; a group waiting with background work only waits behind
/// the groups waiting with a conversation, with aging
/// ([`Background::aging`](crate::Background::aging)). With
/// `skip_if_active`, a group whose conversation is live, pending or ended
/// within [`Background::skip_window`](crate::Background::skip_window)
/// answers [`TaskAnswer::Skipped`] and nothing changes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BackgroundTask<K, T, P> {
    /// The group.
    pub group: K,
    /// Dedup key within the group.
    pub id: T,
    /// Handed back in [`Work::Task`](crate::Work::Task) or in the shutdown
    /// report.
    pub payload: P,
    /// Skip the task, rather than queue it, while the group's conversation
    /// is active or was within the skip window.
    pub skip_if_active: bool,
}

/// May a follow-up message be written into the group's live run? Answer:
/// [`PipeAnswer`].
///
/// Accepted only for a live Messages run that is busy or idle (it becomes
/// busy). Refused, with the reason, otherwise; the adapter then sends a
/// [`Message`] instead.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Pipe<K> {
    /// The group.
    pub group: K,
}

/// The run finished its turn and waits for input. Answer: `()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Idle {
    /// The run.
    pub run: RunId,
}

/// Operator: remove a queued task of the group before it starts. Answer:
/// [`CancelAnswer`]. A task already running is not cancelled (the answer
/// says so: close the group's run with [`CloseRun`] to stop it).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Cancel<K, T> {
    /// The group.
    pub group: K,
    /// The task's id.
    pub id: T,
}

/// Operator: start nothing for the group until [`Resume`]. Answer: `()`.
/// Its pending work is kept; it gives up its place in the waiting line; a
/// live run keeps running.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Pause<K> {
    /// The group.
    pub group: K,
}

/// Operator: undo [`Pause`]. Answer: `()`. A group with pending work starts
/// in a free slot or joins the back of the waiting line.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Resume<K> {
    /// The group.
    pub group: K,
}

/// Operator: change the limits while the machine runs (an operator
/// raising or lowering the container budget without a restart). Answer:
/// `()`; an invalid [`Limits`] (`max_active` 0) is rejected. Raising
/// `max_active` starts waiting groups at once; lowering it closes idle runs
/// above the new limit, longest idle first (`CloseInput(LimitLowered)`),
/// lets busy runs finish their turn (each is closed when it goes idle while
/// the machine is still over the limit), and starts nothing while the live
/// runs are at or above it. New caps on queued tasks apply to the tasks
/// that come after; tasks already queued stay queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SetLimits {
    /// The new limits.
    pub limits: Limits,
}

/// The host closes the group's live run itself (a `/compact` typed by the
/// user, a change of model backend). Answer: [`CloseAnswer`]. The core
/// emits the one `CloseInput(Host)`, refuses pipes into the run from then
/// on, and arms its kill deadline.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CloseRun<K> {
    /// The group.
    pub group: K,
}

/// The run is alive (a liveness signal from the agent, between turn
/// reports). Answer: `()`. It restarts a busy run's stall watch and nothing
/// else: it never extends the turn deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Heartbeat {
    /// The run.
    pub run: RunId,
}

/// A turn of the run reported its result. Answer: `()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Turn {
    /// The run.
    pub run: RunId,
    /// What the turn reported.
    pub report: TurnReport,
}

/// The run's container ended. Answer: `()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Exited {
    /// The run.
    pub run: RunId,
    /// How it ended.
    pub exit: Exit,
}

/// The adapter never launched the run: it crashed after the core emitted
/// the `Spawn` and before carrying it out, and found after its restart
/// that nothing was ever started for the run. Answer: [`Requeue`].
///
/// Not a failure, and no retry is counted: the run leaves the machine and
/// its work goes back as it was. `work` is the work of the run's `Spawn`
/// (a task's payload is not kept by the machine while it runs), and must
/// match the run's kind and task id ([`Error::WorkMismatch`](crate::Error::WorkMismatch)
/// otherwise). A task goes back to the front of its group's jobs; a
/// Messages run's cursor is rolled back (`RollbackCursor`) and the group
/// has unread messages again; a compact is queued again at the front.
/// After shutdown nothing is queued: the work is handed back in the answer,
/// as the shutdown report hands back queued work.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NeverLaunched<T, P> {
    /// The run.
    pub run: RunId,
    /// The work its `Spawn` carried.
    pub work: Work<T, P>,
}

/// The answer of [`NeverLaunched`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Requeue<T, P> {
    /// The work is pending again in its group.
    Requeued,
    /// The machine is shut down: the work is handed back instead.
    HandedBack(Work<T, P>),
}

/// Deadlines at or before `now` fire. Answer: `()`. An early or extra
/// timeout does nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Timeout;

/// Stop starting work and hand back everything not done. Answer:
/// [`ShutdownReport`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Shutdown;

/// Any input, as one value: for traces, recordings, fuzzing and generated
/// tests. [`Machine::handle`](crate::Machine::handle) takes it too, and then
/// answers with a [`Response`].
///
/// `K` is the group key, `T` the task id, `P` the task payload.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Input<K, T, P> {
    /// See [`Message`].
    Message {
        /// The group.
        group: K,
    },
    /// See [`Task`].
    Task {
        /// The group.
        group: K,
        /// Dedup key within the group.
        id: T,
        /// The task's payload.
        payload: P,
    },
    /// See [`Pipe`].
    Pipe {
        /// The group.
        group: K,
    },
    /// See [`BackgroundTask`].
    BackgroundTask {
        /// The group.
        group: K,
        /// Dedup key within the group.
        id: T,
        /// The task's payload.
        payload: P,
        /// Skip rather than queue while the conversation is active.
        skip_if_active: bool,
    },
    /// See [`Idle`].
    Idle {
        /// The run.
        run: RunId,
    },
    /// See [`Heartbeat`].
    Heartbeat {
        /// The run.
        run: RunId,
    },
    /// See [`Turn`].
    Turn {
        /// The run.
        run: RunId,
        /// What the turn reported.
        report: TurnReport,
    },
    /// See [`Exited`].
    Exited {
        /// The run.
        run: RunId,
        /// How it ended.
        exit: Exit,
    },
    /// See [`Timeout`].
    Timeout,
    /// See [`Shutdown`].
    Shutdown,
    /// See [`Cancel`].
    Cancel {
        /// The group.
        group: K,
        /// The task's id.
        id: T,
    },
    /// See [`Pause`].
    Pause {
        /// The group.
        group: K,
    },
    /// See [`Resume`].
    Resume {
        /// The group.
        group: K,
    },
    /// See [`CloseRun`].
    CloseRun {
        /// The group.
        group: K,
    },
    /// See [`NeverLaunched`].
    NeverLaunched {
        /// The run.
        run: RunId,
        /// The work its `Spawn` carried.
        work: Work<T, P>,
    },
    /// See [`SetLimits`].
    SetLimits {
        /// The new limits.
        limits: Limits,
    },
}

impl<K, T, P> Input<K, T, P> {
    /// The same input with its group key, task id and payload converted:
    /// for adapters whose wire types differ from the machine's, and for
    /// writing any input down as a trace.
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
            Input::BackgroundTask {
                group: g,
                id: i,
                payload: p,
                skip_if_active,
            } => Input::BackgroundTask {
                group: group(g),
                id: id(i),
                payload: payload(p),
                skip_if_active: *skip_if_active,
            },
            Input::Idle { run } => Input::Idle { run: *run },
            Input::Heartbeat { run } => Input::Heartbeat { run: *run },
            Input::Turn { run, report } => Input::Turn {
                run: *run,
                report: *report,
            },
            Input::Exited { run, exit } => Input::Exited {
                run: *run,
                exit: *exit,
            },
            Input::Timeout => Input::Timeout,
            Input::Shutdown => Input::Shutdown,
            Input::Cancel { group: g, id: i } => Input::Cancel {
                group: group(g),
                id: id(i),
            },
            Input::Pause { group: g } => Input::Pause { group: group(g) },
            Input::Resume { group: g } => Input::Resume { group: group(g) },
            Input::CloseRun { group: g } => Input::CloseRun { group: group(g) },
            Input::NeverLaunched { run, work } => Input::NeverLaunched {
                run: *run,
                work: match work {
                    Work::Messages => Work::Messages,
                    Work::Task { id: i, payload: p } => Work::Task {
                        id: id(i),
                        payload: payload(p),
                    },
                    Work::Compact => Work::Compact,
                },
            },
            Input::SetLimits { limits } => Input::SetLimits { limits: *limits },
        }
    }

    /// The run this input names, for the inputs that name one.
    pub fn run(&self) -> Option<RunId> {
        match self {
            Input::Idle { run }
            | Input::Heartbeat { run }
            | Input::Turn { run, .. }
            | Input::Exited { run, .. }
            | Input::NeverLaunched { run, .. } => Some(*run),
            _ => None,
        }
    }
}

impl<K, T, P> From<Message<K>> for Input<K, T, P> {
    fn from(m: Message<K>) -> Self {
        Input::Message { group: m.group }
    }
}

impl<K, T, P> From<Task<K, T, P>> for Input<K, T, P> {
    fn from(t: Task<K, T, P>) -> Self {
        Input::Task {
            group: t.group,
            id: t.id,
            payload: t.payload,
        }
    }
}

impl<K, T, P> From<BackgroundTask<K, T, P>> for Input<K, T, P> {
    fn from(t: BackgroundTask<K, T, P>) -> Self {
        Input::BackgroundTask {
            group: t.group,
            id: t.id,
            payload: t.payload,
            skip_if_active: t.skip_if_active,
        }
    }
}

impl<K, T, P> From<NeverLaunched<T, P>> for Input<K, T, P> {
    fn from(n: NeverLaunched<T, P>) -> Self {
        Input::NeverLaunched {
            run: n.run,
            work: n.work,
        }
    }
}

impl<K, T, P> From<Pipe<K>> for Input<K, T, P> {
    fn from(p: Pipe<K>) -> Self {
        Input::Pipe { group: p.group }
    }
}

impl<K, T, P> From<Idle> for Input<K, T, P> {
    fn from(i: Idle) -> Self {
        Input::Idle { run: i.run }
    }
}

impl<K, T, P> From<Cancel<K, T>> for Input<K, T, P> {
    fn from(c: Cancel<K, T>) -> Self {
        Input::Cancel {
            group: c.group,
            id: c.id,
        }
    }
}

impl<K, T, P> From<Pause<K>> for Input<K, T, P> {
    fn from(p: Pause<K>) -> Self {
        Input::Pause { group: p.group }
    }
}

impl<K, T, P> From<Resume<K>> for Input<K, T, P> {
    fn from(r: Resume<K>) -> Self {
        Input::Resume { group: r.group }
    }
}

impl<K, T, P> From<CloseRun<K>> for Input<K, T, P> {
    fn from(c: CloseRun<K>) -> Self {
        Input::CloseRun { group: c.group }
    }
}

impl<K, T, P> From<Heartbeat> for Input<K, T, P> {
    fn from(h: Heartbeat) -> Self {
        Input::Heartbeat { run: h.run }
    }
}

impl<K, T, P> From<Turn> for Input<K, T, P> {
    fn from(t: Turn) -> Self {
        Input::Turn {
            run: t.run,
            report: t.report,
        }
    }
}

impl<K, T, P> From<Exited> for Input<K, T, P> {
    fn from(e: Exited) -> Self {
        Input::Exited {
            run: e.run,
            exit: e.exit,
        }
    }
}

impl<K, T, P> From<Timeout> for Input<K, T, P> {
    fn from(_: Timeout) -> Self {
        Input::Timeout
    }
}

impl<K, T, P> From<SetLimits> for Input<K, T, P> {
    fn from(e: SetLimits) -> Self {
        Input::SetLimits { limits: e.limits }
    }
}

impl<K, T, P> From<Shutdown> for Input<K, T, P> {
    fn from(_: Shutdown) -> Self {
        Input::Shutdown
    }
}

/// The answer to a [`Task`]. Exhaustive on purpose: a host must handle
/// every answer a task can get.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TaskAnswer {
    /// The task was queued (or started at once).
    Queued,
    /// The id is the live run's task or already queued in the group;
    /// nothing was queued.
    Duplicate,
    /// A cap on queued tasks is reached: nothing was queued, nothing
    /// changed. Shed the task or tell its sender; the core never drops
    /// accepted work.
    Refused(TaskRefusal),
    /// Only for a [`BackgroundTask`] with `skip_if_active`: the group's
    /// conversation is active or was within the skip window. Nothing was
    /// queued, nothing changed.
    Skipped,
}

/// Which cap refused a [`Task`] ([`Config::with_max_queued_tasks`],
/// [`Config::with_max_group_tasks`]).
///
/// [`Config::with_max_queued_tasks`]: crate::Config::with_max_queued_tasks
/// [`Config::with_max_group_tasks`]: crate::Config::with_max_group_tasks
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TaskRefusal {
    /// The group has `cap` tasks queued.
    GroupFull {
        /// The cap.
        cap: usize,
    },
    /// `cap` tasks are queued across all groups.
    QueueFull {
        /// The cap.
        cap: usize,
    },
}

impl fmt::Display for TaskRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskRefusal::GroupFull { cap } => {
                write!(f, "the group's cap of {cap} queued tasks is reached")
            }
            TaskRefusal::QueueFull { cap } => write!(f, "the cap of {cap} queued tasks is reached"),
        }
    }
}

/// The answer to a [`Pipe`]: an ordinary outcome either way, not an error.
///
/// The whole fallback is one line, and real errors (time going backwards)
/// still propagate with `?`:
///
/// ```
/// use groupq::{Config, Machine, Message, Pipe, Time};
/// let mut q: Machine<&str, u32, ()> = Machine::new(Config::default())?;
/// let now = Time::ZERO;
/// if q.handle(now, Pipe { group: "chat-a" })?.run().is_none() {
///     q.handle(now, Message { group: "chat-a" })?;
/// }
/// # Ok::<(), groupq::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PipeAnswer {
    /// Write the follow-up into this run's input.
    Piped(RunId),
    /// Not piped; send a [`Message`] instead.
    Refused(PipeRefusal),
}

impl PipeAnswer {
    /// The run to write into, if the pipe was accepted.
    pub fn run(self) -> Option<RunId> {
        match self {
            PipeAnswer::Piped(run) => Some(run),
            PipeAnswer::Refused(_) => None,
        }
    }
}

/// Why a pipe was refused. Each reason means the follow-up would be lost if
/// written into the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Error)]
#[non_exhaustive]
pub enum PipeRefusal {
    /// The group has no live run.
    #[error("the group has no live run")]
    NoRun,
    /// The live run is a task run, which never receives piped messages.
    #[error("the live run is a task run")]
    TaskRun,
    /// The live run is a compact run.
    #[error("the live run is a compact run")]
    CompactRun,
    /// The run's input is closed or about to be.
    #[error("the live run's input is closing")]
    Closing,
    /// The machine is shut down (a fallback [`Message`] is then rejected
    /// with [`Error::ShutDown`](crate::Error::ShutDown)).
    #[error("the machine is shut down")]
    ShutDown,
}

/// The answer to a [`Cancel`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CancelAnswer<P> {
    /// Removed before it started; here is its payload.
    Cancelled(P),
    /// It is the group's live run's task: not cancelled.
    Running(RunId),
    /// No task with that id is queued or running in the group.
    NotQueued,
}

/// The answer to a [`CloseRun`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CloseAnswer {
    /// `CloseInput(Host)` was emitted for this run.
    Closed(RunId),
    /// The run's input was already closed: nothing emitted.
    AlreadyClosing(RunId),
    /// The group has no live run.
    NoRun,
}

/// The answer to an [`Input`] handed over as the enum: the typed answer of
/// the input it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Response<K, T, P> {
    /// Applied; see [`Machine::poll`](crate::Machine::poll) for the commands
    /// it produced. The answer of [`Message`], [`Idle`], [`Heartbeat`],
    /// [`Turn`], [`Exited`], [`Timeout`], [`Pause`], [`Resume`] and
    /// [`SetLimits`].
    Accepted,
    /// [`TaskAnswer::Queued`].
    Queued,
    /// [`TaskAnswer::Duplicate`].
    Duplicate,
    /// [`TaskAnswer::Refused`].
    TaskRefused(TaskRefusal),
    /// [`TaskAnswer::Skipped`].
    Skipped,
    /// [`PipeAnswer::Piped`].
    Piped(RunId),
    /// [`PipeAnswer::Refused`].
    PipeRefused(PipeRefusal),
    /// The answer of [`Shutdown`].
    ShutDown(ShutdownReport<K, T, P>),
    /// The answer of [`Cancel`].
    Cancel(CancelAnswer<P>),
    /// The answer of [`CloseRun`].
    Close(CloseAnswer),
    /// The answer of [`NeverLaunched`].
    Requeue(Requeue<T, P>),
}

impl<K, T, P> From<Requeue<T, P>> for Response<K, T, P> {
    fn from(a: Requeue<T, P>) -> Self {
        Response::Requeue(a)
    }
}

impl<K, T, P> From<()> for Response<K, T, P> {
    fn from((): ()) -> Self {
        Response::Accepted
    }
}

impl<K, T, P> From<TaskAnswer> for Response<K, T, P> {
    fn from(a: TaskAnswer) -> Self {
        match a {
            TaskAnswer::Queued => Response::Queued,
            TaskAnswer::Duplicate => Response::Duplicate,
            TaskAnswer::Refused(why) => Response::TaskRefused(why),
            TaskAnswer::Skipped => Response::Skipped,
        }
    }
}

impl<K, T, P> From<PipeAnswer> for Response<K, T, P> {
    fn from(a: PipeAnswer) -> Self {
        match a {
            PipeAnswer::Piped(run) => Response::Piped(run),
            PipeAnswer::Refused(why) => Response::PipeRefused(why),
        }
    }
}

impl<K, T, P> From<CancelAnswer<P>> for Response<K, T, P> {
    fn from(a: CancelAnswer<P>) -> Self {
        Response::Cancel(a)
    }
}

impl<K, T, P> From<CloseAnswer> for Response<K, T, P> {
    fn from(a: CloseAnswer) -> Self {
        Response::Close(a)
    }
}

impl<K, T, P> From<ShutdownReport<K, T, P>> for Response<K, T, P> {
    fn from(r: ShutdownReport<K, T, P>) -> Self {
        Response::ShutDown(r)
    }
}

impl<K, T, P> fmt::Display for Response<K, T, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Response::Accepted => write!(f, "accepted"),
            Response::Queued => write!(f, "queued"),
            Response::Duplicate => write!(f, "duplicate"),
            Response::TaskRefused(why) => write!(f, "task refused: {why}"),
            Response::Skipped => write!(f, "skipped"),
            Response::Piped(run) => write!(f, "piped into {run}"),
            Response::PipeRefused(why) => write!(f, "pipe refused: {why}"),
            Response::ShutDown(_) => write!(f, "shut down"),
            Response::Cancel(CancelAnswer::Cancelled(_)) => write!(f, "cancelled"),
            Response::Cancel(CancelAnswer::Running(run)) => write!(f, "running in {run}"),
            Response::Cancel(CancelAnswer::NotQueued) => write!(f, "not queued"),
            Response::Close(CloseAnswer::Closed(run)) => write!(f, "closed {run}"),
            Response::Close(CloseAnswer::AlreadyClosing(run)) => write!(f, "{run} already closing"),
            Response::Close(CloseAnswer::NoRun) => write!(f, "no run to close"),
            Response::Requeue(Requeue::Requeued) => write!(f, "requeued"),
            Response::Requeue(Requeue::HandedBack(_)) => write!(f, "handed back"),
        }
    }
}
