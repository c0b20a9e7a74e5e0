//! [`Driver`]: the run loop, written once. It owns the host, the runner and
//! the journal; everything reaches it as a request from a [`Handle`], an
//! event of a run, or the core's next deadline, and becomes one host
//! [`Entry`].
//!
//! [`Handle`]: crate::Handle

use std::sync::Arc;

use groupq::{Config, RunId, Time};
use groupq_host::{Answer, Counters, Effect, Entry, Host, HostEvent};
use groupq_protocol::AgentLine;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::clock::Clock;
use crate::core::Core;
use crate::durable::{Durability, Journal, Restored};
use crate::error::DriverError;
use crate::events::{EventSender, Reserved};
use crate::handle::{Detached, Reply, Request};
use crate::metrics::Shared;
use crate::runner::{RunEvent, RunEvents, Runner};

/// Something decided by a step and carried out once its entry is durable.
pub(crate) enum Held {
    Effect(Effect),
    /// A reply, with the room reserved for it in the event stream when its
    /// line was read.
    Reply(HostEvent, Reserved),
    Answer(Reply, Result<Answer, DriverError>),
}

/// Owns a host and a [`Runner`] and runs the loop; see the crate docs.
pub struct Driver<R> {
    /// The configuration it was built with: a new epoch's.
    pub(crate) config: Config,
    pub(crate) durability: Option<Durability>,
    /// Detached: the loop ends, the live runs go on for the next start.
    pub(crate) detached: bool,
    pub(crate) host: Host<Core>,
    pub(crate) runner: R,
    pub(crate) clock: Clock,
    pub(crate) requests: mpsc::Receiver<Request>,
    pub(crate) requests_open: bool,
    pub(crate) run_events_tx: mpsc::UnboundedSender<(RunId, RunEvent)>,
    pub(crate) run_events: mpsc::UnboundedReceiver<(RunId, RunEvent)>,
    pub(crate) events: EventSender,
    pub(crate) shared: Arc<Shared>,
    /// The host's counters as last published.
    pub(crate) published: Counters,
    /// Decided, not yet carried out: waiting for their entries' sync.
    pub(crate) held: Vec<Held>,
    pub(crate) journal: Option<Journal>,
    pub(crate) restored: Option<Restored>,
}

/// Sleeps until `deadline`, or forever when there is none.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

impl<R: Runner> Driver<R> {
    /// What was found in the state directory, for a durable driver.
    pub fn restored(&self) -> Option<&Restored> {
        self.restored.as_ref()
    }

    /// The driver's clock now: the core's time, which a restored driver
    /// continues from where its state stopped.
    pub fn now(&self) -> Time {
        self.clock.now()
    }

    /// Runs the loop until the core is shut down and every run has exited.
    /// Shutdown comes from [`Handle::shutdown`](crate::Handle::shutdown),
    /// or from dropping every handle. Fails on a broken invariant (checked
    /// drivers), a state directory that can no longer be written, or a
    /// runner that cannot recover the runs of the driver before (durable
    /// drivers).
    pub async fn run(mut self) -> Result<(), DriverError> {
        let result = self.run_loop().await;
        // Whatever is durable is carried out, even on the way out; nothing
        // that is not (a state directory that failed stops everything).
        let flushed = self.flush();
        if flushed.is_ok() {
            self.carry_out();
        }
        result.and(flushed)
    }

    async fn run_loop(&mut self) -> Result<(), DriverError> {
        if self.journal.is_some() {
            self.reconcile().await?;
            self.begin()?;
        }
        loop {
            if self.detached || (self.host.machine().is_shut_down() && !self.host.has_live_runs()) {
                return Ok(());
            }
            let deadline = self
                .host
                .machine()
                .next_deadline()
                .map(|at| self.clock.instant(at));
            let sync_due = self.journal.as_ref().and_then(Journal::due);
            tokio::select! {
                biased;
                () = sleep_until(sync_due) => {}
                Some((run, event)) = self.run_events.recv() => self.on_run_event(run, event)?,
                request = self.requests.recv(), if self.requests_open => match request {
                    Some(request) => self.on_request(request)?,
                    None => {
                        self.requests_open = false;
                        if !self.host.machine().is_shut_down() {
                            info!("every handle dropped: shutting down");
                            let _span = tracing::info_span!("shutdown").entered();
                            let _ = self.input(Entry::Shutdown, None)?;
                        }
                    }
                },
                () = sleep_until(deadline) => {
                    let _span = tracing::debug_span!("timeout").entered();
                    if let Err(e) = self.input(Entry::Timeout, None)? {
                        warn!("the host refused a timeout: {e}");
                    }
                }
            }
            self.take_waiting_requests()?;
            self.commit()?;
        }
    }

    /// After the reconciliation of a restart: the state takes the builder's
    /// settings (journaled, so that replay sees them), and a state that was
    /// shut down, or that holds nothing under an old configuration, starts
    /// a new epoch, which puts back the work left.
    fn begin(&mut self) -> Result<(), DriverError> {
        let window = self.durability.as_ref().and_then(Durability::task_window);
        if self.host.task_window() != window {
            let window_ms = window.map(|w| u64::try_from(w.as_millis()).unwrap_or(u64::MAX));
            self.input(Entry::TaskWindow { window_ms }, None)??;
        }
        // Limits set while running (`Handle::set_limits`) survive a restart
        // under the same configuration; a builder whose limits changed since
        // the state began sets its own.
        let machine = self.host.machine();
        let live = machine.config().limits();
        let built = self.config.limits();
        let keep = self.host.configured_limits() == built;
        let limits = if keep { live } else { built };
        let differs = !machine.config().same_but_limits(&self.config);
        if (machine.is_shut_down() || differs) && self.host.renewable() {
            let left = self.host.left_tasks().len();
            let unread = self.host.stats().unread_messages;
            info!(left, unread, "a new epoch: the work left is put back");
            let config = self.config.clone().with_limits(limits);
            self.input(
                Entry::Renew {
                    config: Box::new(config),
                    configured: (limits != built).then(|| built.into()),
                },
                None,
            )??;
        } else if !keep {
            info!(?built, "the builder's limits changed: they apply now");
            self.input(
                Entry::SetLimits {
                    limits: built.into(),
                    configured: true,
                },
                None,
            )??;
        }
        self.flush()?;
        self.carry_out();
        Ok(())
    }

    /// With a sync after every input, requests already waiting share the
    /// sync of the input just taken (each is still durable before any of
    /// their effects): concurrent callers then pay one sync per batch, not
    /// one each.
    fn take_waiting_requests(&mut self) -> Result<(), DriverError> {
        const BATCH: usize = 256;
        if !self
            .journal
            .as_ref()
            .is_some_and(Journal::syncs_every_input)
        {
            return Ok(());
        }
        for _ in 0..BATCH {
            match self.requests.try_recv() {
                Ok(request) => self.on_request(request)?,
                Err(_) => break,
            }
        }
        Ok(())
    }

    /// Applies a live entry at the clock's time, journals it if the host
    /// accepted it, and holds its effects for the sync. A violation (checked
    /// drivers) stops the loop; a rejection is only an answer.
    pub(crate) fn input(
        &mut self,
        entry: Entry,
        mut reserved: Option<Reserved>,
    ) -> Result<Result<Answer, DriverError>, DriverError> {
        let now = self.clock.now();
        let mark = self.journal.as_mut().map(|j| j.stage(now, &entry));
        let result = self.host.apply(now, entry).map_err(DriverError::from);
        if let (Err(_), Some(journal), Some(mark)) = (&result, &mut self.journal, mark) {
            journal.unstage(mark);
        }
        while let Some(effect) = self.host.poll() {
            trace(&effect);
            match (effect, reserved.take()) {
                (Effect::Tell(event @ HostEvent::Reply { .. }), Some(room)) => {
                    self.held.push(Held::Reply(event, room));
                }
                (effect, room) => {
                    reserved = room;
                    self.held.push(Held::Effect(effect));
                }
            }
        }
        let counters = *self.host.counters();
        self.shared
            .update(&self.published, &counters, &self.host.stats());
        self.published = counters;
        match result {
            Err(DriverError::Violation(v)) => Err(DriverError::Violation(v)),
            other => Ok(other),
        }
    }

    /// A run's event from the runner: one entry of its own.
    fn on_run_event(&mut self, run: RunId, event: RunEvent) -> Result<(), DriverError> {
        let Some(live) = self.host.live_run(run) else {
            // After its exit was handled: nothing left to tell.
            return Ok(());
        };
        let _span = tracing::debug_span!("run", run = run.get(), group = %live.group).entered();
        let number = run.get();
        let (entry, reserved) = match event {
            RunEvent::Line { line, read_to } => match line {
                AgentLine::Turn(turn) => {
                    let reserved = turn.reply.as_ref().and_then(|_| self.events.reserve());
                    let entry = Entry::Turn {
                        run: number,
                        turn: Box::new((&turn).into()),
                        listening: reserved.is_some(),
                        read_to,
                    };
                    (entry, reserved)
                }
                AgentLine::Idle => (
                    Entry::Idle {
                        run: number,
                        read_to,
                    },
                    None,
                ),
                AgentLine::Heartbeat => (
                    Entry::Heartbeat {
                        run: number,
                        read_to,
                    },
                    None,
                ),
            },
            RunEvent::Trouble(error) => {
                let group = live.group.clone();
                self.events
                    .send(HostEvent::RunnerTrouble { group, run, error });
                return Ok(());
            }
            RunEvent::Exited(exit) => {
                info!(run = number, %exit, "exited");
                (
                    Entry::Exited {
                        run: number,
                        exit: (&exit).into(),
                    },
                    None,
                )
            }
        };
        if let Err(e) = self.input(entry, reserved)? {
            warn!(run = number, "the host refused the run's event: {e}");
        }
        Ok(())
    }

    /// Handles a request inside its span; its answer waits with its effects.
    fn on_request(&mut self, request: Request) -> Result<(), DriverError> {
        match request {
            Request::Call { entry, reply } => {
                let span = span_of(&entry);
                let _span = span.entered();
                let result = self.input(entry, None)?;
                self.held.push(Held::Answer(reply, result));
            }
            Request::Status { group, answer } => {
                let _ = answer.send(self.host.status(&group));
            }
            Request::Groups { answer } => {
                let _ = answer.send(self.host.groups());
            }
            Request::Stats { answer } => {
                let _ = answer.send(self.host.stats());
            }
            Request::Detach { answer } => {
                if self.journal.is_none() {
                    let _ = answer.send(Err(DriverError::NotDurable));
                    return Ok(());
                }
                // What is decided is carried out first; then the loop ends
                // and the runs go on.
                self.flush()?;
                self.carry_out();
                self.runner.detach();
                self.detached = true;
                let live_runs = self
                    .host
                    .live_runs()
                    .into_iter()
                    .map(|(run, _)| run)
                    .collect();
                info!("detached: the live runs are left for the next start");
                let _ = answer.send(Ok(Detached { live_runs }));
            }
        }
        Ok(())
    }

    /// Carries out the held effects once their entries are durable: at
    /// once without a journal or when the sync policy says so.
    fn commit(&mut self) -> Result<(), DriverError> {
        let due = match &self.journal {
            None => true,
            Some(journal) => match journal.due() {
                Some(at) => at <= Instant::now(),
                // Nothing waits for a sync: what is held (the answer of a
                // refused input) owes nothing to the journal and goes now.
                None => !self.held.is_empty(),
            },
        };
        if due {
            self.flush()?;
            self.carry_out();
        }
        Ok(())
    }

    /// Syncs the journal, and snapshots it when one is due.
    pub(crate) fn flush(&mut self) -> Result<(), DriverError> {
        let Some(journal) = &mut self.journal else {
            return Ok(());
        };
        journal.flush()?;
        if journal.snapshot_due() {
            journal.snapshot(&self.host.state(), self.host.machine().config())?;
            debug!(inputs = journal.seq(), "snapshot taken");
        }
        Ok(())
    }

    pub(crate) fn carry_out(&mut self) {
        for held in std::mem::take(&mut self.held) {
            match held {
                Held::Effect(effect) => self.carry_out_effect(effect),
                Held::Reply(event, room) => {
                    room.send(event);
                }
                Held::Answer(reply, result) => reply.send(result),
            }
        }
    }

    fn carry_out_effect(&mut self, effect: Effect) {
        match effect {
            Effect::Spawn(spec) => {
                let events = RunEvents::new(spec.run, self.run_events_tx.clone());
                self.runner.spawn(spec, events);
            }
            Effect::Deliver { run, text } => {
                if let Err(e) = self.runner.deliver(run, &text) {
                    // The run is ending; its rollback hands the message to
                    // the next run.
                    warn!(run = run.get(), "cannot write the follow-up: {e}");
                }
            }
            Effect::CloseInput { run } => {
                if let Err(e) = self.runner.close_input(run) {
                    warn!(run = run.get(), "cannot close the run's input: {e}");
                }
            }
            Effect::Kill { run } => self.runner.kill(run),
            Effect::Release { run } => self.runner.release(run),
            Effect::Tell(event) => {
                match &event {
                    HostEvent::Spawned { kind, waited, .. } => self.shared.spawned(*kind, *waited),
                    HostEvent::Exited { kind, lived, .. } => self.shared.exited(*kind, *lived),
                    _ => {}
                }
                self.events.send(event);
            }
            other => debug!("an effect this driver does not know: {other:?}"),
        }
    }
}

/// The span a request's entry is handled in, with its group and task.
fn span_of(entry: &Entry) -> tracing::Span {
    use tracing::debug_span as span;
    match entry {
        Entry::Message { group, .. } => span!("message", group = %group),
        Entry::Task { group, id, .. } => span!("task", group = %group, task = %id),
        Entry::BackgroundTask { group, id, .. } => {
            span!("background_task", group = %group, task = %id)
        }
        Entry::Cancel { group, id } => span!("cancel", group = %group, task = %id),
        Entry::Pause { group } => span!("pause", group = %group),
        Entry::Resume { group } => span!("resume", group = %group),
        Entry::CloseRun { group } => span!("close", group = %group),
        Entry::Shutdown => tracing::info_span!("shutdown"),
        _ => span!("input"),
    }
}

/// Every effect is a log event, with the fields an operator filters on
/// (message texts and replies are not logged).
fn trace(effect: &Effect) {
    match effect {
        Effect::Spawn(spec) => info!(
            run = spec.run.get(),
            group = %spec.group,
            kind = ?spec.work.kind(),
            messages = spec.messages.len(),
            "spawn"
        ),
        Effect::Deliver { run, .. } => debug!(run = run.get(), "piped"),
        Effect::Kill { run } => warn!(run = run.get(), "kill: no exit within the kill grace"),
        Effect::Tell(event) => match event {
            HostEvent::Closed { group, run, reason } => {
                info!(run = run.get(), group = %group, ?reason, "close input")
            }
            HostEvent::Notice { group, notice } => info!(group = %group, ?notice, "notice"),
            HostEvent::RolledBack { group, messages } => {
                info!(group = %group, messages, "cursor rolled back")
            }
            HostEvent::Compacted { group } => info!(group = %group, "compaction"),
            HostEvent::TerminalFailure { group, unread } => {
                warn!(group = %group, unread, "retries exhausted")
            }
            HostEvent::RetryScheduled { group, attempt, at } => {
                info!(group = %group, attempt, at = ?at, "retry scheduled")
            }
            HostEvent::TaskFailed { group, id } => warn!(group = %group, task = %id, "task failed"),
            HostEvent::BreakerOpened { until, cooldown } => {
                warn!(until = ?until, ?cooldown, "crash-loop breaker opened: no run starts until then")
            }
            HostEvent::BreakerClosed => info!("crash-loop breaker closed"),
            HostEvent::Reply { run, .. } => debug!(run = run.get(), "reply"),
            _ => {}
        },
        _ => {}
    }
}
