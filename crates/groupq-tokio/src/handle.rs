//! [`Handle`]: the cloneable way into a running driver. Each call is one
//! host [`Entry`] sent to the run loop with a channel for its answer.

use std::sync::Arc;

use groupq::{CancelAnswer, CloseAnswer, RunId};
use groupq_host::{Answer, Delivery, Entry, GroupStatus, HostStats, Left, Submitted};
use tokio::sync::{mpsc, oneshot};

use crate::error::DriverError;
use crate::metrics::{Metrics, Shared};

type Answered<A> = oneshot::Sender<Result<A, DriverError>>;

/// What a handle asks of the run loop.
pub(crate) enum Request {
    /// An entry for the host, and where its answer goes.
    Call {
        entry: Entry,
        reply: Reply,
    },
    /// Read-only views, answered at once (not journaled).
    Status {
        group: String,
        answer: oneshot::Sender<Option<GroupStatus>>,
    },
    Groups {
        answer: oneshot::Sender<Vec<String>>,
    },
    Stats {
        answer: oneshot::Sender<HostStats>,
    },
    Detach {
        answer: Answered<Detached>,
    },
}

/// The answer of [`Handle::detach`]: the runs left live for the next
/// start to adopt.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Detached {
    /// The runs left live, by id.
    pub live_runs: Vec<RunId>,
}

/// Where an entry's answer goes, typed by the call.
pub(crate) enum Reply {
    Delivery(Answered<Delivery>),
    Task(Answered<Submitted>),
    Cancel(Answered<CancelAnswer<String>>),
    Close(Answered<CloseAnswer>),
    Unit(Answered<()>),
    Shutdown(Answered<Left>),
}

fn typed<A: TryFrom<Answer, Error = groupq_host::OtherAnswer>>(
    result: Result<Answer, DriverError>,
) -> Result<A, DriverError> {
    result.and_then(|a| A::try_from(a).map_err(|e| DriverError::Internal(e.to_string())))
}

impl Reply {
    /// Sends the answer (a caller that stopped waiting is no error).
    pub(crate) fn send(self, result: Result<Answer, DriverError>) {
        match self {
            Reply::Delivery(to) => drop(to.send(typed(result))),
            Reply::Task(to) => drop(to.send(typed(result))),
            Reply::Cancel(to) => drop(to.send(typed(result))),
            Reply::Close(to) => drop(to.send(typed(result))),
            Reply::Unit(to) => drop(to.send(typed(result))),
            Reply::Shutdown(to) => drop(to.send(typed(result))),
        }
    }
}

/// A cloneable handle to a running [`Driver`](crate::Driver).
///
/// Every method but [`metrics`](Handle::metrics) is a request the run loop
/// answers in the order requests arrive; it fails with
/// [`DriverError::Stopped`] once the loop has ended. When every handle is
/// dropped the driver shuts down on its own (as [`shutdown`](Handle::shutdown)).
#[derive(Clone, Debug)]
pub struct Handle {
    requests: mpsc::Sender<Request>,
    shared: Arc<Shared>,
}

impl Handle {
    pub(crate) fn new(requests: mpsc::Sender<Request>, shared: Arc<Shared>) -> Handle {
        Handle { requests, shared }
    }

    async fn ask<A>(
        &self,
        request: impl FnOnce(oneshot::Sender<A>) -> Request,
    ) -> Result<A, DriverError> {
        let (answer, answered) = oneshot::channel();
        self.requests
            .send(request(answer))
            .await
            .map_err(|_| DriverError::Stopped)?;
        answered.await.map_err(|_| DriverError::Stopped)
    }

    async fn call<A>(
        &self,
        entry: Entry,
        reply: impl FnOnce(Answered<A>) -> Reply,
    ) -> Result<A, DriverError> {
        self.ask(|answer| Request::Call {
            entry,
            reply: reply(answer),
        })
        .await?
    }

    /// A user wrote in `group`: the message is stored, then written into
    /// the group's live run if the core allows it, else kept unread for the
    /// group's next run: the fallback done for you.
    pub async fn message(
        &self,
        group: impl Into<String>,
        text: impl Into<String>,
    ) -> Result<Delivery, DriverError> {
        let (group, text) = (group.into(), text.into());
        self.call(Entry::Message { group, text }, Reply::Delivery)
            .await
    }

    /// Queues a task; a task id already queued or running in the group, or
    /// (durable drivers) that ran within the task window, is a
    /// [`Submitted::Duplicate`] saying which.
    pub async fn task(
        &self,
        group: impl Into<String>,
        id: impl Into<String>,
        payload: impl Into<String>,
    ) -> Result<Submitted, DriverError> {
        let (group, id, payload) = (group.into(), id.into(), payload.into());
        self.call(Entry::Task { group, id, payload }, Reply::Task)
            .await
    }

    /// Queues a background task (B16 in the core's docs): it starts only
    /// when its group has no run, no unread messages and no normal tasks,
    /// after the groups waiting with a conversation, and never closes a
    /// run. With `skip_if_active`, a group whose conversation is live,
    /// pending or ended within the skip window answers
    /// [`Submitted::Skipped`] and nothing is queued (a heartbeat that must
    /// not interrupt the user). Deduplicated like [`task`](Handle::task).
    pub async fn background_task(
        &self,
        group: impl Into<String>,
        id: impl Into<String>,
        payload: impl Into<String>,
        skip_if_active: bool,
    ) -> Result<Submitted, DriverError> {
        let (group, id, payload) = (group.into(), id.into(), payload.into());
        let entry = Entry::BackgroundTask {
            group,
            id,
            payload,
            skip_if_active,
        };
        self.call(entry, Reply::Task).await
    }

    /// Removes a queued task before it starts.
    pub async fn cancel(
        &self,
        group: impl Into<String>,
        id: impl Into<String>,
    ) -> Result<CancelAnswer<String>, DriverError> {
        let (group, id) = (group.into(), id.into());
        self.call(Entry::Cancel { group, id }, Reply::Cancel).await
    }

    /// Starts no new run for `group` until [`resume`](Handle::resume).
    pub async fn pause(&self, group: impl Into<String>) -> Result<(), DriverError> {
        let group = group.into();
        self.call(Entry::Pause { group }, Reply::Unit).await
    }

    /// Lets `group` start runs again.
    pub async fn resume(&self, group: impl Into<String>) -> Result<(), DriverError> {
        let group = group.into();
        self.call(Entry::Resume { group }, Reply::Unit).await
    }

    /// Changes the limits while running (the core's
    /// [`SetLimits`](groupq::SetLimits)): raised, waiting groups start at
    /// once; lowered, idle runs above the new limit close (longest idle
    /// first), busy ones finish their turn, and nothing starts while the
    /// live runs are at or above it. Journaled: a durable restart keeps
    /// them, unless the builder's own limits changed since, which then
    /// apply. `max_active` 0 is refused.
    pub async fn set_limits(&self, limits: groupq::Limits) -> Result<(), DriverError> {
        let limits = limits.into();
        let entry = Entry::SetLimits {
            limits,
            configured: false,
        };
        self.call(entry, Reply::Unit).await
    }

    /// Closes the input of `group`'s live run (the operator's close).
    pub async fn close_run(&self, group: impl Into<String>) -> Result<CloseAnswer, DriverError> {
        let group = group.into();
        self.call(Entry::CloseRun { group }, Reply::Close).await
    }

    /// Everything known about `group` (the core's `explain`, its unread and
    /// unanswered messages, its last error and output), or `None` if
    /// nothing is held for it.
    pub async fn status(
        &self,
        group: impl Into<String>,
    ) -> Result<Option<GroupStatus>, DriverError> {
        let group = group.into();
        self.ask(|answer| Request::Status { group, answer }).await
    }

    /// Every group the core or the message store holds something for,
    /// sorted.
    pub async fn groups(&self) -> Result<Vec<String>, DriverError> {
        self.ask(|answer| Request::Groups { answer }).await
    }

    /// The host's counts.
    pub async fn stats(&self) -> Result<HostStats, DriverError> {
        self.ask(|answer| Request::Stats { answer }).await
    }

    /// Shuts down: idle runs are closed at once, busy ones after they
    /// finish their turn or are killed after the shutdown grace. Returns
    /// the work left, with every text and payload. A durable driver keeps
    /// it and puts it back on its next start; without a state directory,
    /// persist it and resubmit it. The driver's [`run`](crate::Driver::run)
    /// returns once every run exited.
    pub async fn shutdown(&self) -> Result<Left, DriverError> {
        self.call(Entry::Shutdown, Reply::Shutdown).await
    }

    /// Stops the driver and leaves its live runs running, for the next
    /// start on the same state to adopt (durable drivers with
    /// [`RestartPolicy::Adopt`](crate::RestartPolicy::Adopt); otherwise
    /// [`DriverError::NotDurable`]). Nothing is shut down: queued work stays
    /// queued in the state. [`run`](crate::Driver::run) returns once what
    /// was decided is carried out.
    pub async fn detach(&self) -> Result<Detached, DriverError> {
        self.ask(|answer| Request::Detach { answer }).await?
    }

    /// The driver's counters and gauges, read without asking the run loop.
    pub fn metrics(&self) -> Metrics {
        self.shared.snapshot()
    }

    /// The driver's metrics in the Prometheus text format, read without
    /// asking the run loop: serve it on `/metrics`.
    pub fn prometheus(&self) -> String {
        self.shared.prometheus()
    }
}
