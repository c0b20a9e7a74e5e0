//! [`Host`]: the core with everything a driver keeps around it (the
//! message store, the live runs, the task submission times), one entry in,
//! effects out.

use std::collections::{HashMap, VecDeque};

use groupq::{
    Cancel, CancelAnswer, CloseRun, Command, Config, Event, Exit, Exited, Heartbeat, Idle, Machine,
    Message, NeverLaunched, Output, Pause, Pipe, PipeAnswer, Record, Requeue, Resume, RunId,
    Shutdown, Steppable, Task, TaskAnswer, Time, Timeout, Turn, Work, WorkKind,
};

use crate::answer::{Answer, Delivery};
use crate::counters::Counters;
use crate::effect::{Effect, RunExit, RunSpec};
use crate::entry::{Entry, TurnRecord};
use crate::error::HostError;
use crate::event::HostEvent;
use crate::mailbox::Mailboxes;
use crate::runs::{LiveRun, Runs};
use crate::status::Notes;
use crate::turn;

/// The core's key, task id and payload types in a host: text, because they
/// cross the wire to agents as text.
pub type Queue = Machine<String, String, String>;
/// One output of a [`Queue`].
pub type QueueOutput = Output<String, String, String>;

/// The host: a core (`D`: a [`Queue`], or a checked one), the message
/// store, the live runs' accounting, and the rules that turn one
/// [`Entry`] into the core's inputs and the core's commands into
/// [`Effect`]s. No clock, no I/O: see the crate docs for the loop.
#[derive(Clone, Debug)]
pub struct Host<D = Queue> {
    pub(crate) core: D,
    pub(crate) mailboxes: Mailboxes,
    pub(crate) runs: Runs,
    /// When each queued task was submitted, by (group, id): how long it
    /// waited, once it starts.
    pub(crate) queued: HashMap<(String, String), Time>,
    /// Names this host's runs (see [`RunSpec::name`]).
    pub(crate) instance: u64,
    pub(crate) counters: Counters,
    /// Each tracked group's last error and output time, for operators.
    pub(crate) notes: Notes,
    /// Reused for every step's outputs.
    outputs: Vec<QueueOutput>,
    effects: VecDeque<Effect>,
}

impl Host<Queue> {
    /// A host with a new core of this configuration (records switched on:
    /// the host needs them), naming its runs by `instance` (a number unique
    /// to this state: a durable driver keeps it in its state directory).
    pub fn new(config: Config, instance: u64) -> Result<Host<Queue>, groupq::Error> {
        Ok(Host::with_core(
            Machine::new(config.with_records(true))?,
            instance,
        ))
    }
}

impl Host<Queue> {
    /// The same host with a new core under `config`: for a host with no
    /// live run whose core holds nothing more (`is_quiescent`) or was shut
    /// down. Run ids go on after the old core's (a run id names one run for
    /// the state's life), the instance and the message store are kept.
    pub fn renew(self, config: Config) -> Result<Host<Queue>, groupq::Error> {
        let mut core = Machine::new(config.with_records(true))?;
        let last = self.core.next_run_id().get().saturating_sub(1);
        core.continue_after(RunId::new(last));
        let mut renewed = Host::with_core(core, self.instance);
        renewed.mailboxes = self.mailboxes;
        renewed.notes = self.notes;
        Ok(renewed)
    }
}

impl<D> Host<D>
where
    D: Steppable<String, String, String>,
    HostError: From<D::Error>,
{
    /// A host around `core`, which must have been built with records on
    /// (`Config::with_records(true)`): the host learns of retries and
    /// failed tasks from them.
    pub fn with_core(core: D, instance: u64) -> Host<D> {
        debug_assert!(core.machine().config().records(), "records must be on");
        Host {
            core,
            mailboxes: Mailboxes::default(),
            runs: Runs::default(),
            queued: HashMap::new(),
            instance,
            counters: Counters::default(),
            notes: Notes::default(),
            outputs: Vec::new(),
            effects: VecDeque::new(),
        }
    }

    /// The same host around another core built from this one's (a checked
    /// machine around a restored one, say).
    pub fn map_core<D2>(self, f: impl FnOnce(D) -> D2) -> Host<D2> {
        Host {
            core: f(self.core),
            mailboxes: self.mailboxes,
            runs: self.runs,
            queued: self.queued,
            instance: self.instance,
            counters: self.counters,
            notes: self.notes,
            outputs: self.outputs,
            effects: self.effects,
        }
    }

    /// Applies one entry at core time `now` and answers it. Its effects
    /// wait in [`poll`](Host::poll), in the order decided. A refused entry
    /// changes nothing and decides no effect.
    pub fn apply(&mut self, now: Time, entry: Entry) -> Result<Answer, HostError> {
        let answer = match entry {
            Entry::Message { group, text } => self.message(now, group, text).map(Answer::Delivery),
            Entry::Task { group, id, payload } => self.task(now, group, id, payload),
            Entry::Cancel { group, id } => {
                let key = (group.clone(), id.clone());
                let answer = self.step(now, Cancel { group, id })?;
                if matches!(answer, CancelAnswer::Cancelled(_)) {
                    self.queued.remove(&key);
                }
                Ok(Answer::Cancel(answer))
            }
            Entry::Pause { group } => self.step(now, Pause { group }).map(|()| Answer::Applied),
            Entry::Resume { group } => self.step(now, Resume { group }).map(|()| Answer::Applied),
            Entry::CloseRun { group } => self.step(now, CloseRun { group }).map(Answer::Close),
            Entry::Shutdown => {
                let report = self.step(now, Shutdown)?;
                // The queued tasks are handed back in the report.
                self.queued.clear();
                Ok(Answer::Shutdown(Box::new(report)))
            }
            Entry::Timeout => self.step(now, Timeout).map(|()| Answer::Applied),
            Entry::Turn {
                run,
                turn,
                listening,
                read_to,
            } => self.turn(now, RunId::new(run), turn, listening, read_to),
            Entry::Idle { run, read_to } => {
                let run = RunId::new(run);
                self.step(now, Idle { run })?;
                self.read_to(now, run, read_to);
                Ok(Answer::Applied)
            }
            Entry::Heartbeat { run, read_to } => {
                let run = RunId::new(run);
                self.step(now, Heartbeat { run })?;
                self.read_to(now, run, read_to);
                Ok(Answer::Applied)
            }
            Entry::Exited { run, exit } => self.exited(now, RunId::new(run), exit.into()),
            Entry::NeverLaunched { run } => self.never_launched(now, RunId::new(run)),
        }?;
        self.counters.entries += 1;
        self.prune_notes();
        Ok(answer)
    }

    /// The next effect decided, in order; `None` once all are taken. Carry
    /// them out in this order.
    pub fn poll(&mut self) -> Option<Effect> {
        self.effects.pop_front()
    }

    /// Forgets every effect not yet taken: replay carries out none (they
    /// were carried out before the stop, or their entry was never durable).
    pub fn discard_effects(&mut self) {
        self.effects.clear();
    }

    /// The core, to read (`explain`, `stats`, `next_deadline`, `now`).
    pub fn machine(&self) -> &Queue {
        self.core.machine()
    }

    /// The live runs, by id.
    pub fn live_runs(&self) -> Vec<(RunId, &LiveRun)> {
        self.runs.sorted()
    }

    /// Whether any run is live: a driver that was shut down stops once none
    /// is.
    pub fn has_live_runs(&self) -> bool {
        !self.runs.is_empty()
    }

    /// A live run.
    pub fn live_run(&self, run: RunId) -> Option<&LiveRun> {
        self.runs.get(run)
    }

    /// What the host counted since it was built (or since
    /// [`reset_counters`](Host::reset_counters)).
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Counts from zero again: after a replay, so that the counts are the
    /// restarted driver's, not the replayed ones.
    pub fn reset_counters(&mut self) {
        self.counters = Counters::default();
    }

    /// The number this host names its runs by.
    pub fn instance(&self) -> u64 {
        self.instance
    }

    /// Pipe, or on refusal Message: the fallback done for the user. A
    /// message the core rejected is not kept.
    fn message(&mut self, now: Time, group: String, text: String) -> Result<Delivery, HostError> {
        if self.machine().is_shut_down() {
            // Refused before the pipe, which would move the clock.
            return Err(groupq::Error::ShutDown.into());
        }
        let pipe = Pipe {
            group: group.clone(),
        };
        match self.step(now, pipe)? {
            PipeAnswer::Piped(run) => {
                self.mailboxes.push(&group, text, now);
                for text in self.mailboxes.take_unread(&group) {
                    self.effects.push_back(Effect::Deliver { run, text });
                }
                self.counters.piped += 1;
                self.tell(HostEvent::Piped { group, run });
                Ok(Delivery::Piped(run))
            }
            PipeAnswer::Refused(_) => {
                // Stored first: the run this message may start is handed it.
                self.mailboxes.push(&group, text, now);
                let message = Message {
                    group: group.clone(),
                };
                if let Err(e) = self.step(now, message) {
                    self.mailboxes.unpush(&group);
                    return Err(e);
                }
                Ok(Delivery::Queued)
            }
        }
    }

    /// A task: its submission time is kept until it starts, for the wait
    /// it reports.
    fn task(
        &mut self,
        now: Time,
        group: String,
        id: String,
        payload: String,
    ) -> Result<Answer, HostError> {
        let key = (group.clone(), id.clone());
        // A duplicate keeps the first submission's time.
        let fresh = !self.queued.contains_key(&key);
        if fresh {
            self.queued.insert(key.clone(), now);
        }
        match self.step(now, Task { group, id, payload }) {
            Ok(TaskAnswer::Queued) => Ok(Answer::Task(TaskAnswer::Queued)),
            other => {
                if fresh {
                    self.queued.remove(&key);
                }
                other.map(Answer::Task)
            }
        }
    }

    fn turn(
        &mut self,
        now: Time,
        run: RunId,
        turn: TurnRecord,
        listening: bool,
        read_to: u64,
    ) -> Result<Answer, HostError> {
        let live = self.runs.get(run).ok_or(groupq::Error::StaleRun(run))?;
        let plan = turn::plan(&self.mailboxes, live, &turn, listening);
        let (group, task) = (live.group.clone(), live.task.clone());
        self.core_step(
            now,
            Turn {
                run,
                report: plan.report,
            },
        )?;
        // Accepted: now the store and the application hear of it.
        if plan.delivered {
            self.counters.replies += 1;
            if live_kind(&self.runs, run) == Some(WorkKind::Messages) {
                self.mailboxes.answered(&group, turn.messages);
            }
        }
        if let Some(text) = turn.reply {
            self.tell(HostEvent::Reply {
                group: group.clone(),
                run,
                task,
                text,
            });
        } else if let (true, Some(error)) = (turn.error, turn.error_text) {
            self.note(&group).last_error = Some(error.clone());
            self.tell(HostEvent::TurnFailed { group, run, error });
        }
        self.read_to(now, run, read_to);
        self.decide_outputs(now);
        Ok(Answer::Applied)
    }

    fn exited(&mut self, now: Time, run: RunId, exit: RunExit) -> Result<Answer, HostError> {
        let live = self.runs.get(run).ok_or(groupq::Error::StaleRun(run))?;
        let mut clean = exit.is_clean();
        if clean && live.kind == WorkKind::Messages && self.mailboxes.unanswered(&live.group) > 0 {
            // Counted as done, they would be lost: a failure hands them to
            // the next run.
            clean = false;
        }
        let exit_for_core = if clean { Exit::Clean } else { Exit::Failed };
        self.core_step(
            now,
            Exited {
                run,
                exit: exit_for_core,
            },
        )?;
        let live = self.runs.remove(run).expect("checked above");
        if !clean {
            self.note(&live.group).last_error = Some(format!("{run} ended: {exit}"));
        }
        self.tell(HostEvent::Exited {
            group: live.group,
            run,
            kind: live.kind,
            exit,
            lived: now.saturating_duration_since(live.spawned_at),
        });
        self.decide_outputs(now);
        self.effects.push_back(Effect::Release { run });
        Ok(Answer::Applied)
    }

    fn never_launched(&mut self, now: Time, run: RunId) -> Result<Answer, HostError> {
        let live = self.runs.get(run).ok_or(groupq::Error::StaleRun(run))?;
        let work = match (live.kind, &live.task, &live.payload) {
            (WorkKind::Task, Some(id), Some(payload)) => Work::Task {
                id: id.clone(),
                payload: payload.clone(),
            },
            (WorkKind::Compact, ..) => Work::Compact,
            _ => Work::Messages,
        };
        let answer = self.core_step(now, NeverLaunched { run, work })?;
        let live = self.runs.remove(run).expect("checked above");
        if let (Requeue::Requeued, Some(id)) = (&answer, &live.task) {
            // Back at the front of its group's jobs: it waits again.
            self.queued.insert((live.group.clone(), id.clone()), now);
        }
        self.decide_outputs(now);
        self.effects.push_back(Effect::Release { run });
        let handed_back = match answer {
            Requeue::HandedBack(work) => Some(work),
            _ => None,
        };
        self.tell(HostEvent::NotLaunched {
            group: live.group,
            run,
            handed_back,
        });
        Ok(Answer::Applied)
    }

    /// One input through the core, its outputs decided in order.
    fn step<E>(&mut self, now: Time, event: E) -> Result<E::Answer, HostError>
    where
        E: Event<String, String, String> + Clone,
    {
        let answer = self.core_step(now, event)?;
        self.decide_outputs(now);
        Ok(answer)
    }

    /// One input through the core; its outputs wait in `outputs` for
    /// [`decide_outputs`](Host::decide_outputs).
    fn core_step<E>(&mut self, now: Time, event: E) -> Result<E::Answer, HostError>
    where
        E: Event<String, String, String> + Clone,
    {
        let mut outputs = std::mem::take(&mut self.outputs);
        let result = self.core.step(now, event, |o| outputs.push(o));
        self.outputs = outputs;
        Ok(result?.answer)
    }

    fn decide_outputs(&mut self, now: Time) {
        let mut outputs = std::mem::take(&mut self.outputs);
        for output in outputs.drain(..) {
            match output {
                Output::Command(command) => self.command(now, command),
                Output::Record(record) => self.record(record),
                _ => {}
            }
        }
        self.outputs = outputs;
    }

    /// What one command of the core means for the runner and the
    /// application.
    fn command(&mut self, now: Time, command: Command<String, String, String>) {
        match command {
            Command::Spawn { run, group, work } => self.spawn(now, run, group, work),
            Command::CloseInput { run, reason } => {
                self.effects.push_back(Effect::CloseInput { run });
                self.counters.closes += 1;
                if reason == groupq::CloseReason::Evicted {
                    self.counters.evictions += 1;
                }
                let group = self.group_of(run);
                self.tell(HostEvent::Closed { group, run, reason });
            }
            Command::Kill { run } => {
                self.effects.push_back(Effect::Kill { run });
                self.counters.kills += 1;
                let group = self.group_of(run);
                self.tell(HostEvent::Killed { group, run });
            }
            Command::Notify { group, notice } => self.tell(HostEvent::Notice { group, notice }),
            Command::RollbackCursor { group } => {
                let messages = self.mailboxes.roll_back(&group);
                self.tell(HostEvent::RolledBack { group, messages });
            }
            Command::RecordCompaction { group } => self.tell(HostEvent::Compacted { group }),
            Command::TerminalFailure { group } => {
                let unread = self.mailboxes.unread(&group);
                self.counters.terminal_failures += 1;
                self.tell(HostEvent::TerminalFailure { group, unread });
            }
            // A command this host does not know changes nothing outside.
            _ => {}
        }
    }

    fn spawn(&mut self, now: Time, run: RunId, group: String, work: Work<String, String>) {
        let (messages, since) = match &work {
            Work::Messages => {
                let since = self.mailboxes.oldest_unread(&group);
                (self.mailboxes.start_run(&group), since)
            }
            Work::Task { id, .. } => (Vec::new(), self.queued.remove(&(group.clone(), id.clone()))),
            Work::Compact => (Vec::new(), None),
        };
        let kind = work.kind();
        let (task, payload) = match &work {
            Work::Task { id, payload } => (Some(id.clone()), Some(payload.clone())),
            _ => (None, None),
        };
        let name = format!("{:016x}-{}", self.instance, run.get());
        self.counters.spawns += 1;
        self.tell(HostEvent::Spawned {
            group: group.clone(),
            run,
            name: name.clone(),
            kind,
            task: task.clone(),
            messages: messages.len(),
            waited: since.map(|at| now.saturating_duration_since(at)),
        });
        self.runs.insert(
            run,
            LiveRun {
                group: group.clone(),
                kind,
                task,
                payload,
                name: name.clone(),
                spawned_at: now,
                read_to: 0,
            },
        );
        self.effects.push_back(Effect::Spawn(RunSpec {
            run,
            name,
            group,
            work,
            messages,
        }));
    }

    fn record(&mut self, record: Record<String, String>) {
        match record {
            Record::RetryScheduled { group, attempt, at } => {
                self.counters.retries += 1;
                self.tell(HostEvent::RetryScheduled { group, attempt, at });
            }
            Record::TaskFailed { group, id, .. } => self.tell(HostEvent::TaskFailed { group, id }),
            _ => {}
        }
    }

    /// A line of the run was applied: its output is read up to `read_to`.
    fn read_to(&mut self, now: Time, run: RunId, read_to: u64) {
        if let Some(live) = self.runs.get_mut(run) {
            live.read_to = live.read_to.max(read_to);
            let group = live.group.clone();
            self.note(&group).last_output = Some(now);
        }
    }

    fn note(&mut self, group: &str) -> &mut crate::status::Note {
        if !self.notes.contains_key(group) {
            self.notes.insert(group.to_string(), Default::default());
        }
        self.notes.get_mut(group).expect("inserted above")
    }

    /// Notes are kept only for groups the core or the store still holds
    /// something for: dropped in a sweep once they are twice as many as
    /// those could be, so a sweep costs O(1) per entry, amortized.
    fn prune_notes(&mut self) {
        let held = self.machine().stats().tracked_groups + self.mailboxes.len();
        if self.notes.len() <= 2 * held + 16 {
            return;
        }
        let (machine, mailboxes) = (self.core.machine(), &self.mailboxes);
        self.notes.retain(|group, _| {
            machine.explain(group).is_some()
                || mailboxes.unread(group) + mailboxes.unanswered(group) > 0
        });
    }

    fn group_of(&self, run: RunId) -> String {
        self.runs
            .get(run)
            .map_or_else(String::new, |l| l.group.clone())
    }

    fn tell(&mut self, event: HostEvent) {
        self.effects.push_back(Effect::Tell(event));
    }
}

fn live_kind(runs: &Runs, run: RunId) -> Option<WorkKind> {
    runs.get(run).map(|l| l.kind)
}
