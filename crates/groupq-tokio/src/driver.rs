//! [`Driver`]: the run loop, written once. It owns the core, the runtime and
//! the host's message store; everything reaches it as a request from a
//! [`Handle`], an event of a run, or the core's next deadline.

use std::collections::HashMap;
use std::sync::Arc;

use groupq::{
    Cancel, Close, CloseReason, Command, Compaction, CompactionTrigger, Config, ContextStats,
    Epoch, Event, Exit, Exited, Heartbeat, Idle, Message, Output, Pause, Pipe, PipeAnswer, Record,
    Resume, RunId, Shutdown, Task, Time, Timeout, Turn, TurnReport, Work, WorkKind,
};
use groupq_agent::{AgentLine, Status, TurnLine};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::core::{Core, QueueOutput};
use crate::error::DriverError;
use crate::handle::{Delivery, Handle, Request};
use crate::host::HostEvent;
use crate::mailbox::Mailboxes;
use crate::metrics::Counters;
use crate::runtime::{RunEvent, RunEvents, RunSpec, RunWork, Runtime};

/// The host's end of the driver's [`HostEvent`] stream.
pub type HostEvents = mpsc::UnboundedReceiver<HostEvent>;

/// Builds a [`Driver`].
#[derive(Clone, Debug)]
pub struct Builder {
    config: Config,
    checked: bool,
    queue_depth: usize,
}

impl Builder {
    /// Runs the invariant checker over every input and output (default
    /// off). A violation stops the driver with [`DriverError::Violation`].
    /// It costs about a microsecond per input.
    pub fn checked(mut self, on: bool) -> Builder {
        self.checked = on;
        self
    }

    /// How many handle requests may wait for the run loop before callers
    /// wait too (default 1,024): the back-pressure bound.
    pub fn request_queue(mut self, depth: usize) -> Builder {
        self.queue_depth = depth.max(1);
        self
    }

    /// The driver, a handle to it, and the host's event stream. The core's
    /// records are switched on: the driver turns them into events and
    /// counters. Fails on an invalid [`Config`].
    pub fn build<R: Runtime>(
        self,
        runtime: R,
    ) -> Result<(Driver<R>, Handle, HostEvents), DriverError> {
        let core = Core::new(self.config.with_records(true), self.checked)?;
        let (requests_tx, requests) = mpsc::channel(self.queue_depth);
        let (run_events_tx, run_events) = mpsc::unbounded_channel();
        let (host, host_events) = mpsc::unbounded_channel();
        let counters = Arc::new(Counters::default());
        let handle = Handle::new(requests_tx, Arc::clone(&counters));
        let driver = Driver {
            core,
            runtime,
            epoch: Epoch::new(Instant::now().into_std()),
            requests,
            requests_open: true,
            run_events_tx,
            run_events,
            host,
            mailboxes: Mailboxes::default(),
            live: HashMap::new(),
            counters,
            outputs: Vec::new(),
        };
        Ok((driver, handle, host_events))
    }
}

/// A live run, as the driver knows it.
struct LiveRun {
    group: String,
    kind: WorkKind,
    task: Option<String>,
}

/// Owns a core and a [`Runtime`] and runs the loop; see the crate docs.
pub struct Driver<R> {
    core: Core,
    runtime: R,
    epoch: Epoch,
    requests: mpsc::Receiver<Request>,
    requests_open: bool,
    run_events_tx: mpsc::UnboundedSender<(RunId, RunEvent)>,
    run_events: mpsc::UnboundedReceiver<(RunId, RunEvent)>,
    host: mpsc::UnboundedSender<HostEvent>,
    mailboxes: Mailboxes,
    live: HashMap<RunId, LiveRun>,
    counters: Arc<Counters>,
    /// Reused for every step's outputs.
    outputs: Vec<QueueOutput>,
}

impl Driver<()> {
    /// A builder with the core's `config`.
    pub fn builder(config: Config) -> Builder {
        Builder {
            config,
            checked: false,
            queue_depth: 1024,
        }
    }
}

/// Sleeps until `deadline`, or forever when there is none.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Answers a request; a requester that stopped waiting is no error.
fn answer<A>(to: oneshot::Sender<A>, value: A) {
    let _ = to.send(value);
}

/// Answers a request with a step's result. A rejection is only the answer;
/// a violation is the answer and also stops the loop.
fn reply<A>(
    to: oneshot::Sender<Result<A, DriverError>>,
    result: Result<A, DriverError>,
) -> Result<(), DriverError> {
    let stop = match &result {
        Err(DriverError::Violation(v)) => Err(DriverError::Violation(v.clone())),
        _ => Ok(()),
    };
    answer(to, result);
    stop
}

impl<R: Runtime> Driver<R> {
    /// Runs the loop until the core is shut down and every run has exited.
    /// Shutdown comes from [`Handle::shutdown`], or from dropping every
    /// handle. Fails only on a broken invariant (checked drivers).
    pub async fn run(mut self) -> Result<(), DriverError> {
        loop {
            if self.core.machine().is_shut_down() && self.live.is_empty() {
                return Ok(());
            }
            let deadline = self
                .core
                .machine()
                .next_deadline()
                .map(|at| Instant::from_std(self.epoch.instant(at)));
            tokio::select! {
                biased;
                Some((run, event)) = self.run_events.recv() => self.on_run_event(run, event)?,
                request = self.requests.recv(), if self.requests_open => match request {
                    Some(request) => self.on_request(request)?,
                    None => {
                        self.requests_open = false;
                        if !self.core.machine().is_shut_down() {
                            info!("every handle dropped: shutting down");
                            self.step(Shutdown)?;
                        }
                    }
                },
                () = sleep_until(deadline) => {
                    let _span = tracing::debug_span!("timeout").entered();
                    self.step(Timeout)?;
                }
            }
        }
    }

    /// One input through the core, then its outputs carried out in order.
    fn step<E>(&mut self, event: E) -> Result<E::Answer, DriverError>
    where
        E: Event<String, String, String> + Clone,
    {
        let now = self.now();
        let mut outputs = std::mem::take(&mut self.outputs);
        let answer = self.core.step(now, event, &mut outputs);
        if answer.is_ok() {
            Counters::bump(&self.counters.inputs);
        }
        for output in outputs.drain(..) {
            self.carry_out(output);
        }
        self.outputs = outputs;
        self.counters.gauges(&self.core.machine().stats());
        answer
    }

    /// Handles a request inside its span and answers it.
    fn on_request(&mut self, request: Request) -> Result<(), DriverError> {
        use tracing::debug_span as span;
        match request {
            Request::Message {
                group,
                text,
                answer: to,
            } => {
                let _span = span!("message", group = %group).entered();
                let result = self.message(group, text);
                reply(to, result)
            }
            Request::Task {
                group,
                id,
                payload,
                answer: to,
            } => {
                let _span = span!("task", group = %group, task = %id).entered();
                reply(to, self.step(Task { group, id, payload }))
            }
            Request::Cancel {
                group,
                id,
                answer: to,
            } => {
                let _span = span!("cancel", group = %group, task = %id).entered();
                reply(to, self.step(Cancel { group, id }))
            }
            Request::Pause { group, answer: to } => {
                let _span = span!("pause", group = %group).entered();
                reply(to, self.step(Pause { group }))
            }
            Request::Resume { group, answer: to } => {
                let _span = span!("resume", group = %group).entered();
                reply(to, self.step(Resume { group }))
            }
            Request::Close { group, answer: to } => {
                let _span = span!("close", group = %group).entered();
                reply(to, self.step(Close { group }))
            }
            Request::Explain { group, answer: to } => {
                answer(to, self.core.machine().explain(&group));
                Ok(())
            }
            Request::Stats { answer: to } => {
                answer(to, self.core.machine().stats());
                Ok(())
            }
            Request::Shutdown { answer: to } => {
                let _span = span!("shutdown").entered();
                info!("shutdown");
                reply(to, self.step(Shutdown))
            }
        }
    }

    /// Pipe, or on refusal Message: the fallback done for the user. A
    /// message the core rejected is not kept.
    fn message(&mut self, group: String, text: String) -> Result<Delivery, DriverError> {
        match self.step(Pipe {
            group: group.clone(),
        })? {
            PipeAnswer::Piped(run) => {
                self.mailboxes.push(&group, text);
                for message in self.mailboxes.take_unread(&group) {
                    if let Err(e) = self.runtime.deliver(run, &message) {
                        // The run is ending; its rollback hands the
                        // message to the next run.
                        warn!(run = run.get(), group = %group, "cannot write the follow-up: {e}");
                    }
                }
                Counters::bump(&self.counters.piped);
                debug!(run = run.get(), group = %group, "piped");
                self.tell(HostEvent::Piped { group, run });
                Ok(Delivery::Piped(run))
            }
            PipeAnswer::Refused(why) => {
                debug!(group = %group, "not piped: {why}");
                // Stored first: the run this message may start is handed it.
                self.mailboxes.push(&group, text);
                if let Err(e) = self.step(Message {
                    group: group.clone(),
                }) {
                    self.mailboxes.unpush(&group);
                    return Err(e);
                }
                Ok(Delivery::Queued)
            }
        }
    }

    fn on_run_event(&mut self, run: RunId, event: RunEvent) -> Result<(), DriverError> {
        let Some(live) = self.live.get(&run) else {
            // After its exit was handled: nothing left to tell.
            return Ok(());
        };
        let group = live.group.clone();
        let _span = tracing::debug_span!("run", run = run.get(), group = %group).entered();
        let result = match event {
            RunEvent::Line(AgentLine::Turn(turn)) => {
                let report = self.turn_report(run, &group, turn);
                self.step(Turn { run, report })
            }
            RunEvent::Line(AgentLine::Idle) => self.step(Idle { run }),
            RunEvent::Line(AgentLine::Heartbeat) => self.step(Heartbeat { run }),
            RunEvent::Exited(exit) => {
                info!(run = run.get(), group = %group, %exit, "exited");
                let kind = self.live.remove(&run).map(|l| l.kind);
                let mut clean = exit.is_clean();
                let unanswered = self.mailboxes.unanswered(&group);
                if clean && kind == Some(WorkKind::Messages) && unanswered > 0 {
                    // Counted as done, they would be lost: a failure hands
                    // them to the next run.
                    warn!(run = run.get(), group = %group, unanswered,
                        "exited 0 with messages no reply answered: treated as failed");
                    clean = false;
                }
                self.tell(HostEvent::Exited { group, run, exit });
                let result = self.step(Exited {
                    run,
                    exit: if clean { Exit::Clean } else { Exit::Failed },
                });
                self.runtime.release(run);
                result
            }
        };
        match result {
            Err(DriverError::Rejected(e)) => {
                warn!(run = run.get(), "the core rejected the run's event: {e}");
                Ok(())
            }
            other => other,
        }
    }

    /// Delivers a turn's reply to the host and builds the core's report.
    fn turn_report(&mut self, run: RunId, group: &str, turn: TurnLine) -> TurnReport {
        let (kind, task) = self
            .live
            .get(&run)
            .map_or((WorkKind::Messages, None), |l| (l.kind, l.task.clone()));
        let mut delivered = false;
        match (&turn.reply, &turn.error) {
            (Some(text), _) => {
                delivered = self
                    .host
                    .send(HostEvent::Reply {
                        group: group.to_string(),
                        run,
                        task,
                        text: text.clone(),
                    })
                    .is_ok();
                if delivered {
                    Counters::bump(&self.counters.replies);
                    if kind == WorkKind::Messages {
                        self.mailboxes.answered(group, turn.messages);
                    }
                }
                debug!(run = run.get(), delivered, "reply");
            }
            (None, Some(error)) if turn.status == Status::Error => {
                self.tell(HostEvent::TurnFailed {
                    group: group.to_string(),
                    run,
                    error: error.clone(),
                });
            }
            _ => {}
        }
        let mut report = match turn.status {
            Status::Success => TurnReport::success(),
            Status::Error => TurnReport::error(),
        };
        if turn.reply.is_some() {
            report = report.replied();
            if delivered {
                report = report.delivered();
            }
        }
        if let (Some(tokens), Some(limit)) = (turn.tokens, turn.context_limit) {
            report = report.with_context(ContextStats::from_tokens(tokens, limit));
        }
        if let Some(before) = turn.compacted_from {
            report = report.with_compaction(Compaction {
                trigger: CompactionTrigger::Manual,
                tokens_before: Some(before),
            });
        }
        report
    }

    /// Carries out one output of the core.
    fn carry_out(&mut self, output: QueueOutput) {
        match output {
            Output::Command(command) => self.command(command),
            Output::Record(record) => self.record(record),
            other => debug!("output {other:?}"),
        }
    }

    fn command(&mut self, command: Command<String, String, String>) {
        match command {
            Command::Spawn { run, group, work } => self.spawn(run, group, work),
            Command::CloseInput { run, reason } => {
                let group = self.group_of(run);
                info!(run = run.get(), group = %group, ?reason, "close input");
                if let Err(e) = self.runtime.close(run) {
                    warn!(run = run.get(), "cannot close the run's input: {e}");
                }
                Counters::bump(&self.counters.closes);
                if reason == CloseReason::Evicted {
                    Counters::bump(&self.counters.evictions);
                }
                self.tell(HostEvent::Closed { group, run, reason });
            }
            Command::Kill { run } => {
                let group = self.group_of(run);
                warn!(run = run.get(), group = %group, "kill: no exit within the kill grace");
                self.runtime.kill(run);
                Counters::bump(&self.counters.kills);
                self.tell(HostEvent::Killed { group, run });
            }
            Command::Notify { group, notice } => {
                info!(group = %group, ?notice, "notice");
                self.tell(HostEvent::Notice { group, notice });
            }
            Command::RollbackCursor { group } => {
                let messages = self.mailboxes.roll_back(&group);
                info!(group = %group, messages, "cursor rolled back");
                self.tell(HostEvent::RolledBack { group, messages });
            }
            Command::RecordCompaction { group } => {
                info!(group = %group, "compaction");
                self.tell(HostEvent::Compacted { group });
            }
            Command::TerminalFailure { group } => {
                let unread = self.mailboxes.unread(&group);
                warn!(group = %group, unread, "retries exhausted");
                Counters::bump(&self.counters.terminal_failures);
                self.tell(HostEvent::TerminalFailure { group, unread });
            }
            other => warn!("a command this driver does not know: {other:?}"),
        }
    }

    fn spawn(&mut self, run: RunId, group: String, work: Work<String, String>) {
        let (work, messages) = match work {
            Work::Messages => (RunWork::Messages, self.mailboxes.start_run(&group)),
            Work::Task { id, payload } => (RunWork::Task { id, payload }, Vec::new()),
            Work::Compact => (RunWork::Compact, Vec::new()),
        };
        let kind = work.kind();
        let task = match &work {
            RunWork::Task { id, .. } => Some(id.clone()),
            _ => None,
        };
        info!(run = run.get(), group = %group, ?kind, task = ?task, messages = messages.len(), "spawn");
        Counters::bump(&self.counters.spawns);
        self.live.insert(
            run,
            LiveRun {
                group: group.clone(),
                kind,
                task: task.clone(),
            },
        );
        self.tell(HostEvent::Spawned {
            group: group.clone(),
            run,
            kind,
            task,
            messages: messages.len(),
        });
        let spec = RunSpec {
            run,
            group,
            work,
            messages,
        };
        self.runtime
            .spawn(spec, RunEvents::new(run, self.run_events_tx.clone()));
    }

    fn record(&mut self, record: Record<String, String>) {
        match record {
            Record::RetryScheduled { group, attempt, at } => {
                info!(group = %group, attempt, at = ?at, "retry scheduled");
                Counters::bump(&self.counters.retries);
                self.tell(HostEvent::RetryScheduled { group, attempt, at });
            }
            Record::TaskFailed { group, id, run } => {
                warn!(group = %group, task = %id, run = run.get(), "task failed");
                self.tell(HostEvent::TaskFailed { group, id });
            }
            other => debug!("record {other:?}"),
        }
    }

    fn group_of(&self, run: RunId) -> String {
        self.live
            .get(&run)
            .map_or_else(String::new, |l| l.group.clone())
    }

    /// Sends a host event; a host that dropped its receiver hears nothing.
    fn tell(&self, event: HostEvent) {
        let _ = self.host.send(event);
    }

    /// The driver's clock now.
    pub fn now(&self) -> Time {
        self.epoch.time(Instant::now().into_std())
    }
}
