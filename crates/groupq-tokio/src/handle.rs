//! [`Handle`]: the cloneable way into a running driver. Each call is a
//! request to the run loop and awaits its answer.

use std::sync::Arc;

use groupq::{CancelAnswer, CloseAnswer, Explain, RunId, ShutdownReport, Stats, TaskAnswer};
use tokio::sync::{mpsc, oneshot};

use crate::error::DriverError;
use crate::metrics::{Counters, Metrics};

/// What a handle asks of the run loop.
pub(crate) enum Request {
    Message {
        group: String,
        text: String,
        answer: oneshot::Sender<Result<Delivery, DriverError>>,
    },
    Task {
        group: String,
        id: String,
        payload: String,
        answer: oneshot::Sender<Result<TaskAnswer, DriverError>>,
    },
    Cancel {
        group: String,
        id: String,
        answer: oneshot::Sender<Result<CancelAnswer<String>, DriverError>>,
    },
    Pause {
        group: String,
        answer: oneshot::Sender<Result<(), DriverError>>,
    },
    Resume {
        group: String,
        answer: oneshot::Sender<Result<(), DriverError>>,
    },
    Close {
        group: String,
        answer: oneshot::Sender<Result<CloseAnswer, DriverError>>,
    },
    Explain {
        group: String,
        answer: oneshot::Sender<Option<Explain<String>>>,
    },
    Stats {
        answer: oneshot::Sender<Stats>,
    },
    Shutdown {
        answer: oneshot::Sender<Result<ShutdownReport<String, String, String>, DriverError>>,
    },
}

/// Where a user's message went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Written into the group's live run, which answers it.
    Piped(RunId),
    /// Stored as unread; a run of the group will be handed it.
    Queued,
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
    counters: Arc<Counters>,
}

impl Handle {
    pub(crate) fn new(requests: mpsc::Sender<Request>, counters: Arc<Counters>) -> Handle {
        Handle { requests, counters }
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

    /// A user wrote in `group`: the message is stored, then written into
    /// the group's live run if the core allows it (`Pipe`), else the core is
    /// told the group has unread mail (`Message`), the fallback done for you.
    pub async fn message(
        &self,
        group: impl Into<String>,
        text: impl Into<String>,
    ) -> Result<Delivery, DriverError> {
        let (group, text) = (group.into(), text.into());
        self.ask(|answer| Request::Message {
            group,
            text,
            answer,
        })
        .await?
    }

    /// Queues a task; a task id already queued or running in the group is a
    /// [`TaskAnswer::Duplicate`].
    pub async fn task(
        &self,
        group: impl Into<String>,
        id: impl Into<String>,
        payload: impl Into<String>,
    ) -> Result<TaskAnswer, DriverError> {
        let (group, id, payload) = (group.into(), id.into(), payload.into());
        self.ask(|answer| Request::Task {
            group,
            id,
            payload,
            answer,
        })
        .await?
    }

    /// Removes a queued task before it starts.
    pub async fn cancel(
        &self,
        group: impl Into<String>,
        id: impl Into<String>,
    ) -> Result<CancelAnswer<String>, DriverError> {
        let (group, id) = (group.into(), id.into());
        self.ask(|answer| Request::Cancel { group, id, answer })
            .await?
    }

    /// Starts no new run for `group` until [`resume`](Handle::resume).
    pub async fn pause(&self, group: impl Into<String>) -> Result<(), DriverError> {
        let group = group.into();
        self.ask(|answer| Request::Pause { group, answer }).await?
    }

    /// Lets `group` start runs again.
    pub async fn resume(&self, group: impl Into<String>) -> Result<(), DriverError> {
        let group = group.into();
        self.ask(|answer| Request::Resume { group, answer }).await?
    }

    /// Closes the input of `group`'s live run (the operator's close).
    pub async fn close(&self, group: impl Into<String>) -> Result<CloseAnswer, DriverError> {
        let group = group.into();
        self.ask(|answer| Request::Close { group, answer }).await?
    }

    /// Everything the core knows about `group`, or `None` if it tracks
    /// nothing for it.
    pub async fn explain(
        &self,
        group: impl Into<String>,
    ) -> Result<Option<Explain<String>>, DriverError> {
        let group = group.into();
        self.ask(|answer| Request::Explain { group, answer }).await
    }

    /// The core's counts.
    pub async fn stats(&self) -> Result<Stats, DriverError> {
        self.ask(|answer| Request::Stats { answer }).await
    }

    /// Shuts down: idle runs are closed at once, busy ones after they
    /// finish their turn or are killed after the shutdown grace. Returns
    /// the work left (persist it and resubmit it on the next start). The
    /// driver's [`run`](crate::Driver::run) returns once every run exited.
    pub async fn shutdown(&self) -> Result<ShutdownReport<String, String, String>, DriverError> {
        self.ask(|answer| Request::Shutdown { answer }).await?
    }

    /// The driver's counters, read without asking the run loop.
    pub fn metrics(&self) -> Metrics {
        self.counters.snapshot()
    }
}
