//! The [`Machine`]: its state owners, the output buffer, and the scheduler
//! every route ends in (start a run, close a run, wake a group, hand a freed
//! slot on).
//!
//! One file per route, each starting at the entry point an input reaches:
//!
//! | route | file |
//! |---|---|
//! | message, task | `enqueue.rs` |
//! | background task, skip, yielding | `background.rs` |
//! | debounce of a burst of messages | `debounce.rs` |
//! | crash-loop breaker | `breaker.rs` |
//! | pipe, idle | `lifecycle.rs` |
//! | turn report, compaction trigger | `turn.rs` |
//! | exit, rollback, retry scheduling | `exit.rs` |
//! | deadlines firing (retry, run deadlines, kill) | `deadlines.rs` |
//! | cancel, pause, resume, host close | `operator.rs` |
//! | limits changed, task caps | `limits.rs` |
//! | shutdown report | `shutdown.rs` |
//! | explain, stats | `views.rs` |

use std::collections::VecDeque;
use std::fmt;
use std::hash::Hash;

use crate::config::{Config, Policy};
use crate::error::Error;
use crate::output::{CloseReason, Command, Output, Record};
use crate::state::breaker::BreakerState;
use crate::state::groups::Groups;
use crate::state::jobs::{Job, Jobs};
use crate::state::line::Line;
use crate::state::recent::Recent;
use crate::state::runs::{Run, Runs};
use crate::state::timers::{self, RunDurations, RunTimer, Timers};
use crate::state::{GroupIdx, Lane, NIL};
use crate::time::Time;
use crate::work::{RunId, RunState, Work, WorkKind};

mod background;
mod breaker;
mod deadlines;
mod debounce;
mod enqueue;
mod exit;
mod lifecycle;
mod limits;
mod operator;
mod shutdown;
#[cfg(feature = "serde")]
mod snapshot;
#[cfg(feature = "serde")]
pub use snapshot::SnapshotError;
mod turn;
mod views;

/// The deterministic, sans-IO group queue.
///
/// `K` is the group key, `T` the task id, `P` the task payload. No output
/// order ever depends on hashing: outputs are the same, byte for byte, for
/// the same configuration and inputs.
///
/// Steppable it with [`handle`](Machine::handle) and [`poll`](Machine::poll);
/// the crate docs state the loop.
#[derive(Clone)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(
        try_from = "snapshot::Snapshot<K, T, P>",
        bound(
            serialize = "K: serde::Serialize, T: serde::Serialize, P: serde::Serialize",
            deserialize = "K: serde::Deserialize<'de> + Clone + Eq + Hash, \
                           T: serde::Deserialize<'de> + Clone + Eq + Hash, \
                           P: serde::Deserialize<'de>"
        )
    )
)]
pub struct Machine<K, T, P> {
    config: Config,
    /// The latest `now` accepted.
    now: Time,
    shut_down: bool,
    groups: Groups<K>,
    runs: Runs<T>,
    jobs: Jobs<T, P>,
    line: Line,
    timers: Timers,
    breaker: BreakerState<K>,
    /// Conversation exits within the skip window (B16).
    #[cfg_attr(feature = "serde", serde(default))]
    recent: Recent<K>,
    /// The run deadlines' durations, from the config.
    #[cfg_attr(feature = "serde", serde(skip_serializing))]
    durations: RunDurations,
    /// Buffered outputs; reused, so the steady state allocates nothing.
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "snapshot::no_pending_outputs")
    )]
    out: VecDeque<Output<K, T, P>>,
}

impl<K, T, P> Machine<K, T, P>
where
    K: Clone + Eq + Hash,
    T: Clone + Eq + Hash,
{
    /// A machine with this configuration. Fails on an invalid [`Config`].
    pub fn new(config: Config) -> Result<Self, Error> {
        config.validate()?;
        Ok(Machine {
            runs: Runs::with_capacity(config.max_active()),
            durations: RunDurations::of(&config),
            config,
            now: Time::ZERO,
            shut_down: false,
            groups: Groups::default(),
            jobs: Jobs::default(),
            line: Line::default(),
            timers: Timers::default(),
            breaker: BreakerState::default(),
            recent: Recent::default(),
            out: VecDeque::new(),
        })
    }

    /// Applies `f` at time `now`: refuses a `now` before the last one, and
    /// advances the clock only when `f` succeeds, so a rejected input
    /// changes nothing.
    #[inline]
    pub(crate) fn at<R>(
        &mut self,
        now: Time,
        f: impl FnOnce(&mut Self) -> Result<R, Error>,
    ) -> Result<R, Error> {
        let last = self.now;
        if now < last {
            return Err(Error::TimeWentBackwards { now, last });
        }
        // Routes read the clock from `self.now`; a rejection puts it back.
        self.now = now;
        let r = f(self);
        if r.is_err() {
            self.now = last;
        }
        r
    }

    // ---- the scheduler: where every route ends -------------------------

    /// New work arrived for group `g`: if it has no run and is not already
    /// waiting, start it in a free slot or put it in line. A group with a
    /// run picks the work up when that run exits. Never called after
    /// shutdown: inputs are refused then.
    #[inline(always)]
    fn wake(&mut self, g: GroupIdx) {
        debug_assert!(!self.shut_down);
        self.end_debounce(g);
        let group = self.groups.get(g);
        if !group.is_asleep() {
            // A group waiting with background work only that now has a
            // conversation moves to the back of the conversation lane.
            if !(group.in_line == Some(Lane::Background) && group.has_conversation()) {
                return;
            }
            self.line.leave(&mut self.groups, g);
        }
        if self.groups.is_paused(g) {
            return;
        }
        if self.can_start(g) {
            self.start_next(g);
        } else {
            self.join_line(g);
            self.evict_for_waiting();
        }
    }

    /// Puts group `g` at the back of the lane its work belongs in.
    #[inline(always)]
    fn join_line(&mut self, g: GroupIdx) {
        let lane = self.groups.get(g).lane();
        let ahead = self.line.join(&mut self.groups, g, lane);
        self.record(g, |group| Record::Waiting { group, ahead });
    }

    /// Preemption: the group's idle run is closed when normal jobs wait for
    /// the group, or messages behind a background run (and it is not
    /// paused), so that they can start. Background tasks never close a
    /// run. Returns whether it closed the run.
    fn preempt_for_jobs(&mut self, g: GroupIdx) -> bool {
        let group = self.groups.get(g);
        let (idle, background) = self.runs.get(group.live).map_or((false, false), |r| {
            (r.state == RunState::IdleWaiting, r.background)
        });
        // An idle background run gives way to the messages too (B16).
        let waiting = !group.jobs.is_empty() | (background & group.unread);
        if idle & waiting & !self.groups.is_paused(g) {
            self.close(g, CloseReason::Preempt);
            return true;
        }
        false
    }

    /// While more groups wait than closing runs will free slots for, close
    /// the run idle longest (when eviction is on). So no slot is held by an
    /// idle run while a group waits, and never more runs are closed than
    /// the waiting groups need.
    fn evict_for_waiting(&mut self) {
        if !self.config.evict_idle() || self.shut_down {
            return;
        }
        while self.slots_wanted() > self.slots_coming() {
            if !self.close_longest_idle(CloseReason::Evicted) {
                return;
            }
        }
    }

    /// Closes the run idle longest, if there is one: eviction's and a
    /// lowered limit's one way to free a slot.
    fn close_longest_idle(&mut self, reason: CloseReason) -> bool {
        let idle = self.runs.longest_idle();
        let Some(g) = idle.and_then(|idx| self.runs.get(idx)).map(|r| r.group) else {
            return false;
        };
        self.close(g, reason);
        true
    }

    /// Group `g`'s run just exited and freed a slot.
    ///
    /// `Fair`: if others wait, `g` goes to the back and the head gets the
    /// slot, so a group with `W` groups ahead of it starts within `W + 1`
    /// releases. `Legacy`: `g` drains its own backlog first.
    #[inline]
    fn release_slot(&mut self, g: GroupIdx) {
        if self.shut_down {
            return;
        }
        let group = self.groups.get(g);
        if group.has_pending() & !self.groups.is_paused(g) {
            let conversation = group.has_conversation();
            match self.config.policy() {
                // Above a lowered limit the freed slot is not free; nor is
                // it for background work past `max_running`.
                _ if !self.can_start(g) => self.join_line(g),
                // Background work yields to waiting conversations under
                // either policy.
                _ if !conversation & (self.line.conversations() > 0) => self.join_line(g),
                Policy::Fair if self.line.len() > 0 => self.join_line(g),
                Policy::Fair | Policy::Legacy => {
                    self.start_next(g);
                }
            }
        }
        self.drain_line();
        self.evict_for_waiting();
    }

    /// Gives free slots to the head of the line until they run out. Groups
    /// with nothing left are skipped (and forgotten if empty). A slot is
    /// never left free while a group with pending work waits.
    #[inline(always)]
    fn drain_line(&mut self) {
        while self.has_free_slot() {
            let next = match self.line.backgrounds() {
                0 => self.line.pop_conversation(&mut self.groups),
                _ => {
                    let aging = self.config.background_ref().aging;
                    let blocked = !self.background_admits();
                    self.line.pop(&mut self.groups, aging, blocked)
                }
            };
            let Some(h) = next else {
                return;
            };
            let group = self.groups.get(h);
            if group.has_pending() & (group.live == NIL) {
                // `pop` takes a background group only below `max_running`.
                debug_assert!(self.can_start(h));
                let run = self.start_next(h);
                self.record(h, |group| Record::Drained { group, run });
            } else {
                self.groups.forget_if_empty(h);
            }
        }
    }

    /// A run may start now: a slot is free below the limit in force and
    /// the breaker lets it through.
    #[inline]
    fn has_free_slot(&self) -> bool {
        (self.runs.len() < self.config.max_active()) & self.breaker.admits()
    }

    /// Starts the group's next work in a free slot: jobs (compact, tasks) in
    /// FIFO order before the unread messages, and background tasks, FIFO,
    /// last. Every run starts here (background tasks in `start_background`).
    ///
    /// Everything that can panic (the user's `Clone` of the key and the task
    /// id) runs before anything changes, so a panic leaves no half-started
    /// run behind.
    fn start_next(&mut self, g: GroupIdx) -> RunId {
        debug_assert!(!self.shut_down && self.has_free_slot());
        let group = self.groups.get(g);
        debug_assert!(group.live == NIL, "one live run per group");
        let key = group.key.clone();
        let background = !group.has_conversation();
        if background {
            return self.start_background(g, key);
        }
        let task = match self.jobs.front(&group.jobs) {
            Some(Job::Task { id, .. }) => Some(id.clone()),
            _ => None,
        };
        let run = self.runs.next_id();
        let group = self.groups.get_mut(g);
        let work = match self.jobs.pop_front(g, &mut group.jobs) {
            Some(job) => job.into_work(),
            None => {
                group.unread = false;
                // This run reads every unread message, the rolled-back ones
                // included: a scheduled retry would only start a second,
                // empty run after it.
                if std::mem::take(&mut group.retry) {
                    self.timers.cancel(timers::retry_key(g));
                }
                Work::Messages
            }
        };
        let kind = work.kind();
        // Only the breaker reads a run's spawn time: without one no run
        // keeps it, so equal situations stay equal states.
        let spawned = self.config.breaker_ref().map(|_| self.now);
        let idx = self
            .runs
            .start(g, Run::new(run, g, kind, task, false, spawned));
        group.live = idx;
        self.launch(idx, key, run, work)
    }

    /// Starts group `g`'s front background task (it has no conversation
    /// work): [`Machine::start_next`]'s rarer half.
    #[cold]
    fn start_background(&mut self, g: GroupIdx, key: K) -> RunId {
        let task = match self.jobs.front_background(g) {
            Some(Job::Task { id, .. }) => Some(id.clone()),
            _ => None,
        };
        let run = self.runs.next_id();
        let group = self.groups.get_mut(g);
        let job = self.jobs.pop_background(g, &mut group.jobs);
        let work = job.map_or(Work::Messages, Job::into_work);
        let spawned = self.config.breaker_ref().map(|_| self.now);
        let idx = self
            .runs
            .start(g, Run::new(run, g, work.kind(), task, true, spawned));
        group.live = idx;
        self.launch(idx, key, run, work)
    }

    /// The run just recorded at table index `idx`: arms its deadlines and
    /// emits its `Spawn`.
    #[inline(always)]
    fn launch(&mut self, idx: u32, key: K, run: RunId, work: Work<T, P>) -> RunId {
        let kind = work.kind();
        self.breaker_on_start(run);
        // Every run must make progress: a turn deadline from the start, the
        // life cap and the stall watch if configured (with the start grace
        // until its first sign of life).
        let turn = match kind {
            WorkKind::Compact => self.durations.compact,
            _ => self.durations.turn,
        };
        self.arm(idx, RunTimer::Turn, turn);
        if let Some(life) = self.durations.life {
            self.arm(idx, RunTimer::Life, life);
        }
        if let Some(first) = self.durations.first_stall {
            self.arm(idx, RunTimer::Stall, first);
        }
        self.command(Command::Spawn {
            run,
            group: key,
            work,
        });
        run
    }

    /// Closes the live run's input, once per run, and arms its kill: a run
    /// that has not exited `kill_grace` later is killed. Every other
    /// deadline of the run is dropped: a closing run only has to exit.
    fn close(&mut self, g: GroupIdx, reason: CloseReason) {
        let idx = self.groups.get(g).live;
        let Some(run) = self.runs.get_mut(idx) else {
            return;
        };
        if run.state == RunState::Closing {
            return;
        }
        let (run, state) = (run.id, run.state);
        self.runs.set_state(idx, RunState::Closing);
        self.disarm_all(idx, state, false);
        self.arm(idx, RunTimer::Kill, self.durations.kill);
        self.command(Command::CloseInput { run, reason });
    }

    /// Arms run timer `timer` of the run at table index `idx`, `after`
    /// nanoseconds from now.
    #[inline]
    fn arm(&mut self, idx: u32, timer: RunTimer, after: u64) {
        let at = Time::from_nanos(self.now.as_nanos().saturating_add(after));
        self.timers.set(timers::run_key(idx, timer), at);
    }

    /// Disarms every timer a run in `state` can have armed (and its kill if
    /// `killable`): the deadlines of a state are dropped when the run leaves
    /// it, so only these can be left.
    #[inline]
    fn disarm_all(&mut self, idx: u32, state: RunState, killable: bool) {
        match state {
            RunState::Busy => {
                self.disarm(idx, RunTimer::Turn);
                if self.durations.stall.is_some() {
                    self.disarm(idx, RunTimer::Stall);
                }
                if self.shut_down {
                    self.disarm(idx, RunTimer::Grace);
                }
            }
            RunState::IdleWaiting => self.disarm(idx, RunTimer::Idle),
            RunState::Closing => {}
        }
        if self.durations.life.is_some() && state != RunState::Closing {
            self.disarm(idx, RunTimer::Life);
        }
        if killable {
            self.disarm(idx, RunTimer::Kill);
        }
    }

    #[inline]
    fn disarm(&mut self, idx: u32, timer: RunTimer) {
        self.timers.cancel(timers::run_key(idx, timer));
    }

    /// (Re-)arms the stall watch of a busy run, when stall detection is on.
    #[inline]
    fn arm_stall(&mut self, idx: u32) {
        if let Some(stall) = self.durations.stall {
            self.arm(idx, RunTimer::Stall, stall);
        }
    }

    #[inline]
    fn command(&mut self, command: Command<K, T, P>) {
        self.out.push_back(Output::Command(command));
    }

    /// Emits a record about group `g` when records are on; the key is cloned
    /// only then.
    #[inline(always)]
    fn record(&mut self, g: GroupIdx, make: impl FnOnce(K) -> Record<K, T>) {
        if self.config.records() {
            self.push_record(g, make);
        }
    }

    #[cold]
    fn push_record(&mut self, g: GroupIdx, make: impl FnOnce(K) -> Record<K, T>) {
        let key = self.groups.get(g).key.clone();
        self.out.push_back(Output::Record(make(key)));
    }
}

impl<K, T, P> Machine<K, T, P> {
    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The latest `now` accepted.
    pub fn now(&self) -> Time {
        self.now
    }

    /// The next output of the inputs handled so far, in the order decided;
    /// `None` once all are drained. Carry out every [`Command`] in order
    /// before sleeping until [`next_deadline`](Machine::next_deadline).
    #[inline]
    pub fn poll(&mut self) -> Option<Output<K, T, P>> {
        self.out.pop_front()
    }

    /// Drains the outputs as an iterator (the same as calling
    /// [`poll`](Machine::poll) until `None`).
    pub fn drain(&mut self) -> impl Iterator<Item = Output<K, T, P>> + '_ {
        self.out.drain(..)
    }

    /// The earliest armed deadline, if any: sleep until then, then hand in
    /// [`Timeout`](crate::Timeout). `None`: no deadline, sleep until the next
    /// event.
    #[inline]
    pub fn next_deadline(&self) -> Option<Time> {
        self.timers.next()
    }

    /// The id the next run will get.
    pub fn next_run_id(&self) -> RunId {
        self.runs.next_id()
    }

    /// Issues run ids after `last` only: for a machine that takes over
    /// from an earlier one (after a clean shutdown, or a change of
    /// configuration with nothing left), so that a run id names one run
    /// across both. Ids never go back: an earlier `last` changes nothing.
    ///
    /// ```
    /// use groupq::{Config, Machine, RunId};
    /// let mut q: Machine<&str, u32, ()> = Machine::new(Config::default())?;
    /// q.continue_after(RunId::new(41));
    /// assert_eq!(q.next_run_id(), RunId::new(42));
    /// q.continue_after(RunId::new(7));
    /// assert_eq!(q.next_run_id(), RunId::new(42));
    /// # Ok::<(), groupq::Error>(())
    /// ```
    pub fn continue_after(&mut self, last: RunId) {
        self.runs.continue_after(last);
    }

    /// Whether shutdown was accepted.
    pub fn is_shut_down(&self) -> bool {
        self.shut_down
    }

    /// Slots free: `max_active` minus the live runs (zero while a lowered
    /// limit is still above the live runs).
    pub fn free_slots(&self) -> usize {
        self.config.max_active().saturating_sub(self.runs.len())
    }

    /// Nothing live, nothing pending, nothing scheduled: the machine holds
    /// no group at all. A host waiting for the work to finish before it
    /// shuts down waits for this.
    pub fn is_quiescent(&self) -> bool {
        self.groups.len() == 0
    }
}

impl<K, T, P> fmt::Debug for Machine<K, T, P>
where
    K: fmt::Debug,
    T: fmt::Debug,
    P: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Groups in table order, never in hash order.
        f.debug_struct("Machine")
            .field("config", &self.config)
            .field("now", &self.now)
            .field("shut_down", &self.shut_down)
            .field("groups", &self.groups)
            .field("runs", &self.runs)
            .field("jobs", &self.jobs)
            .field("line", &self.line)
            .field("timers", &self.timers)
            .field("breaker", &self.breaker)
            .field("recent", &self.recent)
            .field("out", &self.out)
            .finish()
    }
}

/// Two machines are equal when their state is: used to prove that a
/// rejected input changes nothing.
impl<K, T, P> PartialEq for Machine<K, T, P>
where
    K: Eq + Hash,
    T: Eq + Hash,
    P: PartialEq,
{
    fn eq(&self, other: &Self) -> bool {
        self.config == other.config
            && self.now == other.now
            && self.shut_down == other.shut_down
            && self.groups == other.groups
            && self.runs == other.runs
            && self.jobs == other.jobs
            && self.line == other.line
            && self.timers == other.timers
            && self.breaker == other.breaker
            && self.recent == other.recent
            && self.out == other.out
    }
}
