//! [`Driver`]: the run loop, written once. It owns the core, the runtime and
//! the host's message store; everything reaches it as a request from a
//! [`Handle`], an event of a run, or the core's next deadline.

use std::collections::HashMap;
use std::sync::Arc;

use groupq::{
    Cancel, CancelAnswer, Close, CloseAnswer, CloseReason, Command, Compaction, CompactionTrigger,
    Config, ContextStats, Epoch, Event, Exit, Exited, Heartbeat, Idle, Message, NeverLaunched,
    Output, Pause, Pipe, PipeAnswer, Record, Requeue, Resume, RunId, Shutdown, ShutdownReport,
    Task, TaskAnswer, Time, Timeout, Turn, TurnReport, Work, WorkKind,
};
use groupq_agent::{AgentLine, Status, TurnLine};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::core::{Core, Queue, QueueOutput};
use crate::error::DriverError;
use crate::handle::{Delivery, Handle, Request};
use crate::host::HostEvent;
use crate::mailbox::Mailboxes;
use crate::metrics::Counters;
use crate::runtime::{RunEvent, RunEvents, RunExit, RunSpec, RunWork, Runtime};
use crate::state::entry::{Entry, Stamped};
use crate::state::{self, Durability, Journal, Loaded, StateError};

/// The host's end of the driver's [`HostEvent`] stream.
pub type HostEvents = mpsc::UnboundedReceiver<HostEvent>;

/// Builds a [`Driver`].
#[derive(Clone, Debug)]
pub struct Builder {
    config: Config,
    checked: bool,
    queue_depth: usize,
    durability: Option<Durability>,
}

impl Builder {
    /// Runs the invariant checker over every input and output (default
    /// off). A violation stops the driver with [`DriverError::Violation`].
    /// It costs about a microsecond per input. Not with
    /// [`durable`](Builder::durable).
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

    /// Journals every accepted input in a state directory before its
    /// outputs are carried out, snapshots it, and restores from it on the
    /// next build: see the crate docs' "Durability".
    pub fn durable(mut self, durability: Durability) -> Builder {
        self.durability = Some(durability);
        self
    }

    /// The driver, a handle to it, and the host's event stream. The core's
    /// records are switched on: the driver turns them into events and
    /// counters. Fails on an invalid [`Config`], or on a state directory
    /// that cannot be used ([`DriverError::State`]): then nothing in it was
    /// changed.
    pub fn build<R: Runtime>(
        self,
        runtime: R,
    ) -> Result<(Driver<R>, Handle, HostEvents), DriverError> {
        let config = self.config.with_records(true);
        let core = Core::new(config.clone(), self.checked)?;
        let (requests_tx, requests) = mpsc::channel(self.queue_depth);
        let (run_events_tx, run_events) = mpsc::unbounded_channel();
        let (host, host_events) = mpsc::unbounded_channel();
        let counters = Arc::new(Counters::default());
        let handle = Handle::new(requests_tx, Arc::clone(&counters));
        let mut driver = Driver {
            core,
            runtime,
            epoch: Epoch::new(Instant::now().into_std()),
            offset: 0,
            requests,
            requests_open: true,
            run_events_tx,
            run_events,
            host,
            mailboxes: Mailboxes::default(),
            live: HashMap::new(),
            counters,
            outputs: Vec::new(),
            effects: Vec::new(),
            journal: None,
            restored: None,
        };
        if let Some(durability) = self.durability {
            if self.checked {
                return Err(StateError::Checked.into());
            }
            driver.restore(&durability, config)?;
        }
        Ok((driver, handle, host_events))
    }
}

/// A live run, as the driver knows it.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct LiveRun {
    group: String,
    kind: WorkKind,
    task: Option<String>,
    /// The task's payload: handed back to the core if the run never
    /// launched.
    payload: Option<String>,
}

/// The driver's whole state, as a snapshot holds it.
#[derive(Serialize)]
struct StateRef<'a> {
    machine: &'a Queue,
    mailboxes: &'a Mailboxes,
    live: Vec<(u64, &'a LiveRun)>,
}

#[derive(Deserialize)]
struct StateOwned {
    machine: Queue,
    mailboxes: Mailboxes,
    live: Vec<(u64, LiveRun)>,
}

/// What a durable driver found in its state directory when it was built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Restored {
    /// A snapshot was loaded.
    pub snapshot: bool,
    /// Journaled inputs replayed after it.
    pub replayed: usize,
    /// Bytes of a torn journal tail that were dropped (inputs that were
    /// never durable, so whose outputs were never carried out).
    pub dropped_bytes: u64,
    /// Runs the state believes live: reconciled with the runtime when the
    /// loop starts.
    pub live_runs: usize,
}

/// Something decided by a step and carried out once its input is durable.
enum Effect {
    Spawn(RunSpec),
    Deliver(RunId, String),
    Close(RunId),
    Kill(RunId),
    Release(RunId),
    Tell(HostEvent),
    Answer(Box<dyn FnOnce() + Send>),
}

/// The answer of one journaled input, whichever it was.
enum Answered {
    Unit,
    Delivery(Delivery),
    Task(TaskAnswer),
    Cancel(CancelAnswer<String>),
    Close(CloseAnswer),
    Report(Box<ShutdownReport<String, String, String>>),
}

/// Owns a core and a [`Runtime`] and runs the loop; see the crate docs.
pub struct Driver<R> {
    core: Core,
    runtime: R,
    epoch: Epoch,
    /// Nanoseconds added to the epoch's clock: the core time a restored
    /// state had reached, so time goes on from there.
    offset: u64,
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
    /// Decided, not yet carried out: waiting for their inputs' sync.
    effects: Vec<Effect>,
    journal: Option<Journal>,
    restored: Option<Restored>,
}

impl Driver<()> {
    /// A builder with the core's `config`.
    pub fn builder(config: Config) -> Builder {
        Builder {
            config,
            checked: false,
            queue_depth: 1024,
            durability: None,
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

fn answer_with<A: Send + 'static>(
    to: oneshot::Sender<Result<A, DriverError>>,
    result: Result<Answered, DriverError>,
    pick: impl FnOnce(Answered) -> Option<A>,
) -> (Effect, Result<(), DriverError>) {
    let stop = match &result {
        Err(DriverError::Violation(v)) => Err(DriverError::Violation(v.clone())),
        _ => Ok(()),
    };
    let value = result.and_then(|a| pick(a).ok_or(DriverError::Stopped));
    let effect = Effect::Answer(Box::new(move || {
        // A requester that stopped waiting is no error.
        let _ = to.send(value);
    }));
    (effect, stop)
}

impl<R: Runtime> Driver<R> {
    /// What was found in the state directory, for a durable driver.
    pub fn restored(&self) -> Option<&Restored> {
        self.restored.as_ref()
    }

    /// Loads the snapshot and replays the journal after it, then opens the
    /// journal for new inputs.
    fn restore(&mut self, durability: &Durability, config: Config) -> Result<(), DriverError> {
        let lock = state::prepare(&durability.dir)?;
        let files = state::read(&durability.dir)?;
        let loaded = state::parse::<StateOwned>(
            &durability.dir,
            files.snapshot.as_deref(),
            files.journal.as_deref(),
        )?;
        let (state, seq, good_len) = (loaded.state, loaded.seq, loaded.good_len);
        let fresh = loaded.config.is_none();
        self.restored = Some(self.replay(loaded, &config)?);
        drop(files);
        // The journal goes on unless it is new or its configuration changed.
        let keep = !fresh && self.core.machine().config() == &config;
        let journal = Journal::open(
            durability,
            lock,
            state,
            seq,
            config,
            keep.then_some(good_len),
        )?;
        self.journal = Some(journal);
        Ok(())
    }

    /// Restores from state files given as bytes, without a directory or a
    /// journal to write: the fuzz targets' way in.
    #[cfg(fuzzing)]
    pub(crate) fn restore_bytes(
        &mut self,
        snapshot: Option<&[u8]>,
        journal: Option<&[u8]>,
    ) -> Result<Restored, DriverError> {
        let loaded = state::parse(std::path::Path::new("state"), snapshot, journal)?;
        // The journal's own configuration: a restart that keeps it.
        let config = match &loaded.config {
            Some(config) => config.clone(),
            None => self.core.machine().config().clone(),
        };
        self.replay(loaded, &config)
    }

    /// Rebuilds the state from a snapshot and the inputs after it. Outputs
    /// of replayed inputs are not carried out again: they were, before the
    /// stop, or their input was never durable and is not in the journal.
    fn replay(
        &mut self,
        mut loaded: Loaded<'_, StateOwned>,
        config: &Config,
    ) -> Result<Restored, DriverError> {
        let snapshot = loaded.snapshot.is_some();
        if let Some(state) = loaded.snapshot.take() {
            self.core = Core::Plain(Box::new(state.machine));
            self.mailboxes = state.mailboxes;
            self.live = state
                .live
                .into_iter()
                .map(|(run, live)| (RunId::new(run), live))
                .collect();
        } else if let Some(journaled) = &loaded.config {
            if journaled != config {
                // Replay must see the configuration the inputs were
                // applied under.
                self.core = Core::new(journaled.clone(), false)?;
            }
        }
        let _span = tracing::info_span!("replay").entered();
        let replayed = loaded.len();
        for entry in loaded.entries() {
            let (index, stamped) = entry?;
            let now = Time::from_nanos(stamped.now);
            // A journaled input was accepted when it was applied: it is
            // accepted again (deterministic core), or the state is damaged.
            match self.apply(now, stamped.entry) {
                Ok(_) => {}
                Err(DriverError::Rejected(e)) => {
                    let message = e.to_string();
                    return Err(StateError::Replay { index, message }.into());
                }
                Err(e) => return Err(e),
            }
            self.effects.clear();
        }
        drop(_span);
        let machine = self.core.machine();
        if machine.config() != config {
            if !(machine.is_quiescent() && self.live.is_empty()) {
                return Err(StateError::ConfigChanged.into());
            }
            // Nothing left under the old configuration: start afresh.
            self.core = Core::new(config.clone(), false)?;
            self.mailboxes = Mailboxes::default();
        }
        self.offset = self.core.machine().now().as_nanos();
        // The handle shares these counters: reset in place, not replaced.
        self.counters.reset_counts();
        self.counters.gauges(&self.core.machine().stats());
        if loaded.dropped > 0 {
            warn!(bytes = loaded.dropped, "dropped a torn journal tail");
        }
        info!(snapshot, replayed, live = self.live.len(), "state restored");
        Ok(Restored {
            snapshot,
            replayed,
            dropped_bytes: loaded.dropped,
            live_runs: self.live.len(),
        })
    }

    /// Runs the loop until the core is shut down and every run has exited.
    /// Shutdown comes from [`Handle::shutdown`], or from dropping every
    /// handle. Fails on a broken invariant (checked drivers) or a state
    /// directory that can no longer be written (durable drivers).
    pub async fn run(mut self) -> Result<(), DriverError> {
        let result = self.run_loop().await;
        // Whatever is durable is carried out, even on the way out; nothing
        // that is not (a state directory that failed stops everything).
        let flushed = self.flush();
        if flushed.is_ok() {
            self.carry_out_effects();
        }
        result.and(flushed)
    }

    async fn run_loop(&mut self) -> Result<(), DriverError> {
        if self.journal.is_some() {
            self.reconcile()?;
        }
        loop {
            if self.core.machine().is_shut_down() && self.live.is_empty() {
                return Ok(());
            }
            let deadline = self
                .core
                .machine()
                .next_deadline()
                .map(|at| self.instant(at));
            let sync_due = self.journal.as_ref().and_then(Journal::due);
            tokio::select! {
                biased;
                () = sleep_until(sync_due) => {}
                Some((run, event)) = self.run_events.recv() => self.on_run_event(run, event)?,
                request = self.requests.recv(), if self.requests_open => match request {
                    Some(request) => self.on_request(request)?,
                    None => {
                        self.requests_open = false;
                        if !self.core.machine().is_shut_down() {
                            info!("every handle dropped: shutting down");
                            let _ = self.input(Entry::Shutdown)?;
                        }
                    }
                },
                () = sleep_until(deadline) => {
                    let _span = tracing::debug_span!("timeout").entered();
                    self.input(Entry::Timeout)?;
                }
            }
            self.take_waiting_requests()?;
            self.commit()?;
        }
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

    /// After a restart: every run the state believes live is either gone
    /// (launched by the driver that stopped: failed, as a vanished run) or
    /// was never launched (its work goes back). The runtime kills whatever
    /// it still finds first, orphans included.
    fn reconcile(&mut self) -> Result<(), DriverError> {
        let mut believed: Vec<RunId> = self.live.keys().copied().collect();
        believed.sort();
        let launched = self.runtime.recover().map_err(|e| StateError::Io {
            path: "runtime".into(),
            message: e.to_string(),
        })?;
        // Launched runs the state no longer holds: their exit was durable
        // before the crash, only their release was not carried out.
        for &run in launched.iter().filter(|run| !believed.contains(run)) {
            self.runtime.release(run);
        }
        for &run in &believed {
            let _span = tracing::info_span!("reconcile", run = run.get()).entered();
            let entry = if launched.contains(&run) {
                info!(
                    run = run.get(),
                    "launched before the restart: failed as lost"
                );
                Entry::Exited {
                    run: run.get(),
                    exit: RunExit::Lost,
                }
            } else {
                info!(run = run.get(), "never launched: its work goes back");
                Entry::NeverLaunched { run: run.get() }
            };
            let _ = self.input(entry)?;
        }
        // Each run is released only once its fate is durable: a crash
        // before that finds the same runs again.
        self.flush()?;
        self.carry_out_effects();
        Ok(())
    }

    /// Applies a live input and journals it if it was accepted.
    fn input(&mut self, entry: Entry) -> Result<Answered, DriverError> {
        let now = self.now();
        let journaled = self.journal.is_some().then(|| entry.clone());
        let result = self.apply(now, entry);
        if let (Some(entry), Some(journal), true) = (journaled, &mut self.journal, result.is_ok()) {
            journal.append(&Stamped {
                now: now.as_nanos(),
                entry,
            });
        }
        result
    }

    /// Carries out the decided effects once their inputs are durable: at
    /// once without a journal or when the sync policy says so.
    fn commit(&mut self) -> Result<(), DriverError> {
        let due = match &self.journal {
            None => true,
            Some(journal) => journal.due().is_some_and(|at| at <= Instant::now()),
        };
        if due {
            self.flush()?;
            self.carry_out_effects();
        }
        Ok(())
    }

    /// Syncs the journal, and snapshots it when one is due.
    fn flush(&mut self) -> Result<(), DriverError> {
        let Some(journal) = &mut self.journal else {
            return Ok(());
        };
        journal.flush()?;
        if journal.snapshot_due() {
            let mut live: Vec<(u64, &LiveRun)> =
                self.live.iter().map(|(run, l)| (run.get(), l)).collect();
            live.sort_by_key(|(run, _)| *run);
            let state = StateRef {
                machine: self.core.machine(),
                mailboxes: &self.mailboxes,
                live,
            };
            journal.snapshot(&state)?;
            debug!(inputs = journal.seq(), "snapshot taken");
        }
        Ok(())
    }

    fn carry_out_effects(&mut self) {
        for effect in std::mem::take(&mut self.effects) {
            match effect {
                Effect::Spawn(spec) => {
                    let events = RunEvents::new(spec.run, self.run_events_tx.clone());
                    self.runtime.spawn(spec, events);
                }
                Effect::Deliver(run, message) => {
                    if let Err(e) = self.runtime.deliver(run, &message) {
                        // The run is ending; its rollback hands the
                        // message to the next run.
                        warn!(run = run.get(), "cannot write the follow-up: {e}");
                    }
                }
                Effect::Close(run) => {
                    if let Err(e) = self.runtime.close(run) {
                        warn!(run = run.get(), "cannot close the run's input: {e}");
                    }
                }
                Effect::Kill(run) => self.runtime.kill(run),
                Effect::Release(run) => self.runtime.release(run),
                Effect::Tell(event) => {
                    // A host that dropped its receiver hears nothing.
                    let _ = self.host.send(event);
                }
                Effect::Answer(answer) => answer(),
            }
        }
    }

    /// One input through the core, its outputs decided in order.
    fn step<E>(&mut self, now: Time, event: E) -> Result<E::Answer, DriverError>
    where
        E: Event<String, String, String> + Clone,
    {
        let mut outputs = std::mem::take(&mut self.outputs);
        let answer = self.core.step(now, event, &mut outputs);
        if answer.is_ok() {
            Counters::bump(&self.counters.inputs);
        }
        for output in outputs.drain(..) {
            self.decide(output);
        }
        self.outputs = outputs;
        self.counters.gauges(&self.core.machine().stats());
        answer
    }

    /// Handles a request inside its span; its answer waits with its effects.
    fn on_request(&mut self, request: Request) -> Result<(), DriverError> {
        use tracing::debug_span as span;
        let (effect, stop) = match request {
            Request::Message {
                group,
                text,
                answer: to,
            } => {
                let _span = span!("message", group = %group).entered();
                let result = self.input(Entry::Message { group, text });
                answer_with(to, result, |a| match a {
                    Answered::Delivery(d) => Some(d),
                    _ => None,
                })
            }
            Request::Task {
                group,
                id,
                payload,
                answer: to,
            } => {
                let _span = span!("task", group = %group, task = %id).entered();
                let result = self.input(Entry::Task { group, id, payload });
                answer_with(to, result, |a| match a {
                    Answered::Task(t) => Some(t),
                    _ => None,
                })
            }
            Request::Cancel {
                group,
                id,
                answer: to,
            } => {
                let _span = span!("cancel", group = %group, task = %id).entered();
                let result = self.input(Entry::Cancel { group, id });
                answer_with(to, result, |a| match a {
                    Answered::Cancel(c) => Some(c),
                    _ => None,
                })
            }
            Request::Pause { group, answer: to } => {
                let _span = span!("pause", group = %group).entered();
                let result = self.input(Entry::Pause { group });
                answer_with(to, result, |_| Some(()))
            }
            Request::Resume { group, answer: to } => {
                let _span = span!("resume", group = %group).entered();
                let result = self.input(Entry::Resume { group });
                answer_with(to, result, |_| Some(()))
            }
            Request::Close { group, answer: to } => {
                let _span = span!("close", group = %group).entered();
                let result = self.input(Entry::Close { group });
                answer_with(to, result, |a| match a {
                    Answered::Close(c) => Some(c),
                    _ => None,
                })
            }
            Request::Explain { group, answer: to } => {
                let _ = to.send(self.core.machine().explain(&group));
                return Ok(());
            }
            Request::Stats { answer: to } => {
                let _ = to.send(self.core.machine().stats());
                return Ok(());
            }
            Request::Shutdown { answer: to } => {
                let _span = span!("shutdown").entered();
                info!("shutdown");
                let result = self.input(Entry::Shutdown);
                answer_with(to, result, |a| match a {
                    Answered::Report(r) => Some(*r),
                    _ => None,
                })
            }
        };
        self.effects.push(effect);
        stop
    }

    /// Applies one input at `now`: live, or replayed from the journal. Every
    /// outside effect is only decided here (see [`Effect`]).
    fn apply(&mut self, now: Time, entry: Entry) -> Result<Answered, DriverError> {
        match entry {
            Entry::Message { group, text } => {
                self.message(now, group, text).map(Answered::Delivery)
            }
            Entry::Task { group, id, payload } => self
                .step(now, Task { group, id, payload })
                .map(Answered::Task),
            Entry::Cancel { group, id } => {
                self.step(now, Cancel { group, id }).map(Answered::Cancel)
            }
            Entry::Pause { group } => self.step(now, Pause { group }).map(|()| Answered::Unit),
            Entry::Resume { group } => self.step(now, Resume { group }).map(|()| Answered::Unit),
            Entry::Close { group } => self.step(now, Close { group }).map(Answered::Close),
            Entry::Shutdown => self
                .step(now, Shutdown)
                .map(|r| Answered::Report(Box::new(r))),
            Entry::Timeout => self.step(now, Timeout).map(|()| Answered::Unit),
            Entry::Line {
                run,
                line,
                host_open,
            } => self.line(now, RunId::new(run), line, host_open),
            Entry::Exited { run, exit } => self.exited(now, RunId::new(run), exit),
            Entry::NeverLaunched { run } => self.never_launched(now, RunId::new(run)),
        }
    }

    /// Pipe, or on refusal Message: the fallback done for the user. A
    /// message the core rejected is not kept.
    fn message(&mut self, now: Time, group: String, text: String) -> Result<Delivery, DriverError> {
        match self.step(
            now,
            Pipe {
                group: group.clone(),
            },
        )? {
            PipeAnswer::Piped(run) => {
                self.mailboxes.push(&group, text);
                for message in self.mailboxes.take_unread(&group) {
                    self.effects.push(Effect::Deliver(run, message));
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
                if let Err(e) = self.step(
                    now,
                    Message {
                        group: group.clone(),
                    },
                ) {
                    self.mailboxes.unpush(&group);
                    return Err(e);
                }
                Ok(Delivery::Queued)
            }
        }
    }

    /// A run's event from the runtime: journaled as an input of its own.
    fn on_run_event(&mut self, run: RunId, event: RunEvent) -> Result<(), DriverError> {
        let Some(live) = self.live.get(&run) else {
            // After its exit was handled: nothing left to tell.
            return Ok(());
        };
        let _span = tracing::debug_span!("run", run = run.get(), group = %live.group).entered();
        let entry = match event {
            RunEvent::Line(line) => Entry::Line {
                run: run.get(),
                line,
                host_open: !self.host.is_closed(),
            },
            RunEvent::Exited(exit) => Entry::Exited {
                run: run.get(),
                exit,
            },
        };
        match self.input(entry) {
            Err(DriverError::Rejected(e)) => {
                warn!(run = run.get(), "the core rejected the run's event: {e}");
                Ok(())
            }
            other => other.map(|_| ()),
        }
    }

    fn line(
        &mut self,
        now: Time,
        run: RunId,
        line: AgentLine,
        host_open: bool,
    ) -> Result<Answered, DriverError> {
        let group = self.group_of(run);
        match line {
            AgentLine::Turn(turn) => {
                let report = self.turn_report(run, &group, turn, host_open);
                self.step(now, Turn { run, report })
            }
            AgentLine::Idle => self.step(now, Idle { run }),
            AgentLine::Heartbeat => self.step(now, Heartbeat { run }),
        }
        .map(|()| Answered::Unit)
    }

    fn exited(&mut self, now: Time, run: RunId, exit: RunExit) -> Result<Answered, DriverError> {
        let Some(live) = self.live.remove(&run) else {
            return Err(groupq::Error::StaleRun(run).into());
        };
        let group = live.group;
        info!(run = run.get(), group = %group, %exit, "exited");
        let mut clean = exit.is_clean();
        let unanswered = self.mailboxes.unanswered(&group);
        if clean && live.kind == WorkKind::Messages && unanswered > 0 {
            // Counted as done, they would be lost: a failure hands
            // them to the next run.
            warn!(run = run.get(), group = %group, unanswered,
                "exited 0 with messages no reply answered: treated as failed");
            clean = false;
        }
        self.tell(HostEvent::Exited { group, run, exit });
        let result = self.step(
            now,
            Exited {
                run,
                exit: if clean { Exit::Clean } else { Exit::Failed },
            },
        );
        self.effects.push(Effect::Release(run));
        result.map(|()| Answered::Unit)
    }

    fn never_launched(&mut self, now: Time, run: RunId) -> Result<Answered, DriverError> {
        let Some(live) = self.live.get(&run) else {
            return Err(groupq::Error::StaleRun(run).into());
        };
        let work = match (live.kind, &live.task, &live.payload) {
            (WorkKind::Task, Some(id), Some(payload)) => Work::Task {
                id: id.clone(),
                payload: payload.clone(),
            },
            (WorkKind::Compact, ..) => Work::Compact,
            _ => Work::Messages,
        };
        let group = live.group.clone();
        // A refusal changes nothing: the run stays the driver's.
        let answer = self.step(now, NeverLaunched { run, work })?;
        self.live.remove(&run);
        self.effects.push(Effect::Release(run));
        let handed_back = match answer {
            Requeue::Requeued => None,
            Requeue::HandedBack(Work::Task { id, payload }) => Some(RunWork::Task { id, payload }),
            Requeue::HandedBack(Work::Compact) => Some(RunWork::Compact),
            Requeue::HandedBack(Work::Messages) => Some(RunWork::Messages),
        };
        self.tell(HostEvent::NotLaunched {
            group,
            run,
            handed_back,
        });
        Ok(Answered::Unit)
    }

    /// Decides a turn's reply for the host and builds the core's report. A
    /// reply counts as delivered when the host was listening: it reaches
    /// the host once its input is durable.
    fn turn_report(
        &mut self,
        run: RunId,
        group: &str,
        turn: TurnLine,
        host_open: bool,
    ) -> TurnReport {
        let (kind, task) = self
            .live
            .get(&run)
            .map_or((WorkKind::Messages, None), |l| (l.kind, l.task.clone()));
        let mut delivered = false;
        let mut answered_all = true;
        match (&turn.reply, &turn.error) {
            (Some(text), _) => {
                delivered = host_open;
                self.tell(HostEvent::Reply {
                    group: group.to_string(),
                    run,
                    task,
                    text: text.clone(),
                });
                if delivered {
                    Counters::bump(&self.counters.replies);
                    if kind == WorkKind::Messages {
                        self.mailboxes.answered(group, turn.messages);
                    }
                }
                debug!(run = run.get(), delivered, "reply");
                // The core takes a delivered reply to answer every message
                // handed to the run, and counts a run that fails after it as
                // done. An agent that batches by read time may have answered
                // only some: then the core hears "replied", and a failure
                // rolls back to just past what was answered.
                answered_all = kind != WorkKind::Messages || self.mailboxes.unanswered(group) == 0;
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
            if delivered && answered_all {
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

    /// Decides what one output of the core means for the runtime and host.
    fn decide(&mut self, output: QueueOutput) {
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
                self.effects.push(Effect::Close(run));
                Counters::bump(&self.counters.closes);
                if reason == CloseReason::Evicted {
                    Counters::bump(&self.counters.evictions);
                }
                self.tell(HostEvent::Closed { group, run, reason });
            }
            Command::Kill { run } => {
                let group = self.group_of(run);
                warn!(run = run.get(), group = %group, "kill: no exit within the kill grace");
                self.effects.push(Effect::Kill(run));
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
        let (task, payload) = match &work {
            RunWork::Task { id, payload } => (Some(id.clone()), Some(payload.clone())),
            _ => (None, None),
        };
        info!(run = run.get(), group = %group, ?kind, task = ?task, messages = messages.len(), "spawn");
        Counters::bump(&self.counters.spawns);
        self.tell(HostEvent::Spawned {
            group: group.clone(),
            run,
            kind,
            task: task.clone(),
            messages: messages.len(),
        });
        self.live.insert(
            run,
            LiveRun {
                group: group.clone(),
                kind,
                task,
                payload,
            },
        );
        self.effects.push(Effect::Spawn(RunSpec {
            run,
            group,
            work,
            messages,
        }));
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

    /// Decides a host event: sent once its input is durable.
    fn tell(&mut self, event: HostEvent) {
        self.effects.push(Effect::Tell(event));
    }

    /// The driver's clock now: the core's time, which a restored driver
    /// continues from where its state stopped.
    pub fn now(&self) -> Time {
        Time::from_nanos(
            self.epoch
                .time(Instant::now().into_std())
                .as_nanos()
                .saturating_add(self.offset),
        )
    }

    /// The instant a core time falls at on this driver's clock.
    fn instant(&self, at: Time) -> Instant {
        let at = Time::from_nanos(at.as_nanos().saturating_sub(self.offset));
        Instant::from_std(self.epoch.instant(at))
    }
}
