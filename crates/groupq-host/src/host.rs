//! [`Host`]: the core with everything a driver keeps around it, one entry
//! in, effects out. The routes of each entry are in `inputs.rs`; what the
//! core's outputs mean outside is in `outputs.rs`.

use std::collections::{HashMap, VecDeque};

use groupq::{Config, Event, Limits, Machine, Output, RunId, Steppable, Time};

use crate::answer::Answer;
use crate::counters::Counters;
use crate::effect::Effect;
use crate::entry::Entry;
use crate::error::HostError;
use crate::left::LeftTask;
use crate::mailbox::Mailboxes;
use crate::runs::{LiveRun, Runs};
use crate::status::Notes;
use crate::tasks::TaskLog;

/// The core's key, task id and payload types in a host: text, because they
/// cross the wire to agents as text.
pub type Queue = Machine<String, String, String>;
/// One output of a [`Queue`].
pub type QueueOutput = Output<String, String, String>;

/// A core a host can own: stepped like a [`Queue`] (a plain one, or a
/// checked one), and made anew when the host starts a new epoch
/// ([`Entry::Renew`]).
pub trait HostCore: Steppable<String, String, String> + Sized
where
    HostError: From<Self::Error>,
{
    /// A new core under `config` (records on) that issues run ids after
    /// `last` only, its clock at `now`.
    fn renewed(config: Config, last: RunId, now: Time) -> Result<Self, groupq::Error>;
}

impl HostCore for Queue {
    fn renewed(config: Config, last: RunId, now: Time) -> Result<Queue, groupq::Error> {
        let mut machine = Machine::new(config.with_records(true))?;
        machine.continue_after(last);
        machine.handle(now, groupq::Timeout)?;
        Ok(machine)
    }
}

/// The host: a core (`D`: a [`Queue`], or a checked one), the message
/// store, the live runs' accounting, the tasks that ran, and the rules that
/// turn one [`Entry`] into the core's inputs and the core's commands into
/// [`Effect`]s. No clock, no I/O: see the crate docs for the loop.
#[derive(Clone, Debug)]
pub struct Host<D = Queue> {
    pub(crate) core: D,
    pub(crate) mailboxes: Mailboxes,
    pub(crate) runs: Runs,
    /// When each queued task was submitted, by (group, id): how long it
    /// waited, once it starts.
    pub(crate) queued: HashMap<(String, String), Time>,
    /// Tasks a shutdown left, kept to put back on the next epoch.
    pub(crate) left: Vec<LeftTask>,
    /// Tasks that ran, within the window.
    pub(crate) tasks: TaskLog,
    /// Names this host's runs (see [`RunSpec::name`](crate::RunSpec::name)).
    pub(crate) instance: u64,
    pub(crate) counters: Counters,
    /// Each tracked group's last error and output time, for operators.
    pub(crate) notes: Notes,
    /// Reused for every step's outputs.
    pub(crate) outputs: Vec<QueueOutput>,
    pub(crate) effects: VecDeque<Effect>,
    /// A task run's failure was recorded by the step in progress.
    pub(crate) task_failed: bool,
    /// The limits of the configuration the host was built or renewed with
    /// (or changed to since by a restart's `SetLimits { configured }`):
    /// what a restart compares its builder's limits with, so that limits
    /// set while running survive a restart under the same configuration.
    pub(crate) configured: Limits,
}

impl Host<Queue> {
    /// A host with a new core of this configuration (records switched on:
    /// the host needs them), naming its runs by `instance` (a number unique
    /// to this state: a durable driver keeps it in its state directory).
    pub fn new(config: Config, instance: u64) -> Result<Host<Queue>, groupq::Error> {
        let core = Queue::renewed(config, RunId::new(0), Time::ZERO)?;
        Ok(Host::with_core(core, instance))
    }
}

impl<D> Host<D>
where
    D: HostCore,
    HostError: From<D::Error>,
{
    /// A host around `core`, which must have been built with records on
    /// (`Config::with_records(true)`): the host learns of retries and
    /// failed tasks from them.
    pub fn with_core(core: D, instance: u64) -> Host<D> {
        debug_assert!(core.machine().config().records(), "records must be on");
        let configured = core.machine().config().limits();
        Host {
            core,
            mailboxes: Mailboxes::default(),
            runs: Runs::default(),
            queued: HashMap::new(),
            left: Vec::new(),
            tasks: TaskLog::default(),
            instance,
            counters: Counters::default(),
            notes: Notes::default(),
            outputs: Vec::new(),
            effects: VecDeque::new(),
            task_failed: false,
            configured,
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
            left: self.left,
            tasks: self.tasks,
            instance: self.instance,
            counters: self.counters,
            notes: self.notes,
            outputs: self.outputs,
            effects: self.effects,
            task_failed: self.task_failed,
            configured: self.configured,
        }
    }

    /// Applies one entry at core time `now` and answers it. Its effects
    /// wait in [`poll`](Host::poll), in the order decided. A refused entry
    /// changes nothing and decides no effect.
    pub fn apply(&mut self, now: Time, entry: Entry) -> Result<Answer, HostError> {
        if now < self.machine().now() {
            // Before anything of the host moves (the task log's expiry).
            let last = self.machine().now();
            return Err(groupq::Error::TimeWentBackwards { now, last }.into());
        }
        self.tasks.expire(now);
        let answer = self.route(now, entry)?;
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

    /// Tasks a shutdown left that a new epoch will put back.
    pub fn left_tasks(&self) -> &[LeftTask] {
        &self.left
    }

    /// Whether the host may start a new epoch ([`Entry::Renew`]): nothing
    /// is live, and its core was shut down or holds nothing.
    pub fn renewable(&self) -> bool {
        let machine = self.machine();
        !self.has_live_runs() && (machine.is_shut_down() || machine.is_quiescent())
    }

    /// The limits of the configuration this state was built with (see
    /// [`Entry::SetLimits`]); the core's live limits are
    /// `machine().config().limits()`.
    pub fn configured_limits(&self) -> Limits {
        self.configured
    }

    /// How long ended tasks are remembered ([`Entry::TaskWindow`]).
    pub fn task_window(&self) -> Option<std::time::Duration> {
        self.tasks.window()
    }

    /// Tasks remembered after they ran.
    pub fn remembered_tasks(&self) -> usize {
        self.tasks.len()
    }

    /// How a task of `group` with this id ended, if it ended within the
    /// task window (as of the last entry applied).
    pub fn task_outcome(&self, group: &str, id: &str) -> Option<crate::TaskOutcome> {
        self.tasks.outcome(group, id)
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

    /// One input through the core, its outputs decided in order.
    pub(crate) fn step<E>(&mut self, now: Time, event: E) -> Result<E::Answer, HostError>
    where
        E: Event<String, String, String> + Clone,
    {
        let answer = self.core_step(now, event)?;
        self.decide_outputs(now);
        Ok(answer)
    }

    /// One input through the core; its outputs wait in `outputs` for
    /// [`decide_outputs`](Host::decide_outputs).
    pub(crate) fn core_step<E>(&mut self, now: Time, event: E) -> Result<E::Answer, HostError>
    where
        E: Event<String, String, String> + Clone,
    {
        let mut outputs = std::mem::take(&mut self.outputs);
        let result = self.core.step(now, event, |o| outputs.push(o));
        self.outputs = outputs;
        Ok(result?.answer)
    }

    pub(crate) fn tell(&mut self, event: crate::event::HostEvent) {
        self.effects.push_back(Effect::Tell(event));
    }
}
