//! What the application hears: [`HostEvent`]s, one per command the core
//! emitted and per thing a run did that a user or operator sees.

use std::time::Duration;

use groupq::{CloseReason, Notice, RunId, Time, WorkKind};

use crate::effect::{RunExit, RunWork};

/// One thing that happened, in the order it happened.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum HostEvent {
    /// A run was started.
    Spawned {
        /// The group.
        group: String,
        /// The run.
        run: RunId,
        /// Its name: its directory's and container's (see
        /// [`RunSpec::name`](crate::RunSpec::name)).
        name: String,
        /// Its kind of work.
        kind: WorkKind,
        /// The task's id, for a task run.
        task: Option<String>,
        /// Messages in its input at start, for a messages run.
        messages: usize,
        /// How long its work waited: since the oldest message it was
        /// handed arrived, or since its task was submitted (`None` when not
        /// known: a compact, a retry of messages already handed).
        waited: Option<Duration>,
    },
    /// A follow-up was written into a live run.
    Piped {
        /// The group.
        group: String,
        /// The run.
        run: RunId,
    },
    /// A turn's reply, for the user. Handing it over is delivering it: a
    /// reply the application's event stream could not take counts as not
    /// delivered, and the messages it answered are read again.
    Reply {
        /// The group.
        group: String,
        /// The run.
        run: RunId,
        /// The task's id, for a task run.
        task: Option<String>,
        /// The reply.
        text: String,
    },
    /// A turn failed.
    TurnFailed {
        /// The group.
        group: String,
        /// The run.
        run: RunId,
        /// What the agent said.
        error: String,
    },
    /// The group's context was compacted: persist that it happened now.
    Compacted {
        /// The group.
        group: String,
    },
    /// A run's input was closed.
    Closed {
        /// The group.
        group: String,
        /// The run.
        run: RunId,
        /// Why.
        reason: CloseReason,
    },
    /// A run was killed: it did not exit within the kill grace of its close.
    Killed {
        /// The group.
        group: String,
        /// The run.
        run: RunId,
    },
    /// A run ended.
    Exited {
        /// The group.
        group: String,
        /// The run.
        run: RunId,
        /// Its kind of work.
        kind: WorkKind,
        /// How.
        exit: RunExit,
        /// How long it lived, from its spawn (core time).
        lived: Duration,
    },
    /// A notice for the group's user.
    Notice {
        /// The group.
        group: String,
        /// The notice.
        notice: Notice,
    },
    /// A failed run's messages are unread again; the next run reads them.
    RolledBack {
        /// The group.
        group: String,
        /// How many messages will be read again.
        messages: usize,
    },
    /// A retry of the group's messages is scheduled.
    RetryScheduled {
        /// The group.
        group: String,
        /// Which attempt.
        attempt: u32,
        /// When, on the driver's clock.
        at: Time,
    },
    /// Retries are exhausted; the group's unread messages stay unread until
    /// its next message. Tell the user.
    TerminalFailure {
        /// The group.
        group: String,
        /// Messages left unread.
        unread: usize,
    },
    /// A task's run failed; tasks are not retried. A task whose run was
    /// cut off by a crash of the driver is reported here too (at most once).
    TaskFailed {
        /// The group.
        group: String,
        /// The task.
        id: String,
    },
    /// The crash-loop breaker opened: runs of several groups failed right
    /// after their start, so none starts until `until` (then one probe).
    /// Work keeps queueing. Alert the operator: something every run needs
    /// (the image, a credential, the network) is broken.
    BreakerOpened {
        /// When the probe may start, on the driver's clock.
        until: Time,
        /// How long it stays open this time.
        cooldown: std::time::Duration,
    },
    /// The breaker's probe lived: runs start again.
    BreakerClosed,
    /// The runner cannot tell what a live run is doing (its container
    /// engine does not answer): the run stays live and holds its slot until
    /// the runner knows. Told by the driver, not decided by the host.
    RunnerTrouble {
        /// The group.
        group: String,
        /// The run.
        run: RunId,
        /// What failed.
        error: String,
    },
    /// After a restart: the run's `Spawn` was never carried out (the driver
    /// stopped first). Its work was put back (`requeued`), or, the driver
    /// being shut down, handed back here.
    NotLaunched {
        /// The group.
        group: String,
        /// The run.
        run: RunId,
        /// The work, when handed back instead of put back.
        handed_back: Option<RunWork>,
    },
}
