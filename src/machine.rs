//! The [`Machine`]: its state, the one input method, the one output method,
//! and the helpers every behaviour shares (group slots, spawning, closing).
//! Each behaviour of the contract lives in its own file; see the crate docs
//! for the map.

use std::collections::hash_map::{Entry, RandomState};
use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};

use crate::config::Config;
use crate::error::Error;
use crate::group::{Group, Run, RunState};
use crate::input::{Input, Response, RunId, TurnOutput};
use crate::jobs::{Job, Jobs};
use crate::output::{CloseReason, Command, Output, Record, Work};
use crate::policy::Line;
use crate::report::{Explain, JobInfo, RunInfo, ShutdownReport, Stats};
use crate::time::Time;
use crate::timers::{self, TimerKind, Timers};

/// The deterministic, sans-IO group queue.
///
/// `K` is the group key, `T` the task id, `P` the task payload, `S` the
/// hasher of the internal maps. No output order ever depends on `S`: outputs
/// are the same, byte for byte, whatever the hasher or its seed (P13).
///
/// Drive it with [`handle`](Machine::handle) and [`poll`](Machine::poll);
/// the crate docs state the loop.
#[derive(Clone)]
pub struct Machine<K, T, P, S = RandomState> {
    pub(crate) config: Config,
    /// The latest `now` accepted.
    pub(crate) now: Time,
    pub(crate) shut_down: bool,
    /// Group key → slot in `groups`.
    pub(crate) index: HashMap<K, u32, S>,
    /// Group slab; `None` slots are free and listed in `free_groups`.
    pub(crate) groups: Vec<Option<Group<K, T>>>,
    pub(crate) free_groups: Vec<u32>,
    pub(crate) jobs: Jobs<T, P>,
    /// Task ids queued per group slot: O(1) dedup (B2).
    pub(crate) queued_ids: HashSet<(u32, T), S>,
    /// Live run → group slot. At most `max_active` entries.
    pub(crate) runs: HashMap<RunId, u32, BuildHasherDefault<RunIdHasher>>,
    pub(crate) next_run: u64,
    pub(crate) line: Line,
    pub(crate) timers: Timers,
    /// Buffered outputs; reused, so the steady state allocates nothing.
    pub(crate) out: VecDeque<Output<K, T, P>>,
}

/// Run ids are issued by the machine itself, so a multiplicative hash is
/// enough for the live-run map and far cheaper than SipHash.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunIdHasher(u64);

impl Hasher for RunIdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

impl<K, T, P> Machine<K, T, P, RandomState>
where
    K: Clone + Eq + Hash,
    T: Clone + Eq + Hash,
{
    /// A machine with the standard hasher. Fails on an invalid [`Config`].
    pub fn new(config: Config) -> Result<Self, Error> {
        Self::with_hasher(config, RandomState::new())
    }
}

impl<K, T, P, S> Machine<K, T, P, S>
where
    K: Clone + Eq + Hash,
    T: Clone + Eq + Hash,
    S: BuildHasher + Clone,
{
    /// A machine whose maps use `hasher`. Fails on an invalid [`Config`].
    pub fn with_hasher(config: Config, hasher: S) -> Result<Self, Error> {
        config.validate()?;
        Ok(Machine {
            runs: HashMap::with_capacity_and_hasher(
                config.max_active().min(1 << 16),
                Default::default(),
            ),
            config,
            now: Time::ZERO,
            shut_down: false,
            index: HashMap::with_hasher(hasher.clone()),
            groups: Vec::new(),
            free_groups: Vec::new(),
            jobs: Jobs::default(),
            queued_ids: HashSet::with_hasher(hasher),
            next_run: 1,
            line: Line::default(),
            timers: Timers::default(),
            out: VecDeque::new(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The latest `now` accepted.
    pub fn now(&self) -> Time {
        self.now
    }

    /// Applies one input at time `now`.
    ///
    /// On `Err` nothing changed: not the state, not the buffered outputs, not
    /// the clock (P9). On `Ok`, drain [`poll`](Machine::poll) before sleeping.
    pub fn handle(&mut self, now: Time, input: Input<K, T, P>) -> Result<Response<K, T, P>, Error> {
        if now < self.now {
            return Err(Error::TimeWentBackwards {
                now,
                last: self.now,
            });
        }
        let response = match input {
            Input::Message { group } => self.on_message(group).map(|()| Response::Accepted)?,
            Input::Task { group, id, payload } => self.on_task(group, id, payload)?,
            Input::Pipe { group } => Response::Piped(self.on_pipe(&group)?),
            Input::Idle { run } => self.on_idle(run).map(|()| Response::Accepted)?,
            Input::TurnOutput { run, output } => self
                .on_turn_output(now, run, output)
                .map(|()| Response::Accepted)?,
            Input::Exited { run, exit } => self
                .on_exited(now, run, exit)
                .map(|()| Response::Accepted)?,
            Input::Timeout => {
                self.on_timeout(now);
                Response::Accepted
            }
            Input::Shutdown => Response::ShutDown(self.on_shutdown()?),
        };
        self.now = now;
        Ok(response)
    }

    /// The next output. Commands and records come first, in the order they
    /// were decided; when none is left, [`Output::WakeAt`] with the next
    /// deadline, which is also the signal to stop polling.
    pub fn poll(&mut self) -> Output<K, T, P> {
        self.out
            .pop_front()
            .unwrap_or_else(|| Output::WakeAt(self.timers.next()))
    }

    /// The earliest armed deadline, if any.
    pub fn next_deadline(&self) -> Option<Time> {
        self.timers.next()
    }

    /// B1: see [`Input::Message`].
    pub fn message(&mut self, now: Time, group: K) -> Result<(), Error> {
        self.handle(now, Input::Message { group }).map(drop)
    }

    /// B2: see [`Input::Task`]. `Ok(false)` when the task was deduplicated.
    pub fn task(&mut self, now: Time, group: K, id: T, payload: P) -> Result<bool, Error> {
        let r = self.handle(now, Input::Task { group, id, payload })?;
        Ok(!matches!(r, Response::Deduplicated))
    }

    /// B3: may a follow-up be written into the group's live run? On
    /// [`Error::PipeRefused`], fall back to [`message`](Machine::message).
    pub fn pipe(&mut self, now: Time, group: &K) -> Result<RunId, Error> {
        if now < self.now {
            return Err(Error::TimeWentBackwards {
                now,
                last: self.now,
            });
        }
        let run = self.on_pipe(group)?;
        self.now = now;
        Ok(run)
    }

    /// B4: see [`Input::Idle`].
    pub fn idle(&mut self, now: Time, run: RunId) -> Result<(), Error> {
        self.handle(now, Input::Idle { run }).map(drop)
    }

    /// B5: see [`Input::TurnOutput`].
    pub fn turn_output(&mut self, now: Time, run: RunId, output: TurnOutput) -> Result<(), Error> {
        self.handle(now, Input::TurnOutput { run, output })
            .map(drop)
    }

    /// B6: see [`Input::Exited`].
    pub fn exited(&mut self, now: Time, run: RunId, exit: crate::Exit) -> Result<(), Error> {
        self.handle(now, Input::Exited { run, exit }).map(drop)
    }

    /// B10: see [`Input::Timeout`]. Early or extra calls do nothing.
    pub fn timeout(&mut self, now: Time) -> Result<(), Error> {
        self.handle(now, Input::Timeout).map(drop)
    }

    /// B9: see [`Input::Shutdown`].
    pub fn shutdown(&mut self, now: Time) -> Result<ShutdownReport<K, T, P>, Error> {
        match self.handle(now, Input::Shutdown)? {
            Response::ShutDown(report) => Ok(report),
            _ => unreachable!("shutdown answers with its report"),
        }
    }

    /// B11: why `group` is where it is, or `None` when the machine holds
    /// nothing for it (B12).
    pub fn explain(&self, group: &K) -> Option<Explain<T>> {
        let g = *self.index.get(group)?;
        let group = self.group(g);
        Some(Explain {
            run: group.run.as_ref().map(|r| RunInfo {
                run: r.id,
                kind: r.kind,
                state: r.state,
                idle_deadline: self.timers.get(timers::key(g, TimerKind::Idle)),
            }),
            jobs: self
                .jobs
                .iter(&group.jobs)
                .map(|j| match j {
                    Job::Task { id, .. } => JobInfo::Task(id.clone()),
                    Job::Compact => JobInfo::Compact,
                })
                .collect(),
            message_check: group.check,
            waiting_behind: self.line_position(g),
            failures: group.failures,
            retry_at: group.retry_at,
            compact_pending: group.compact_pending,
            last_context: group.last_context,
        })
    }

    /// B11: the machine at a glance.
    pub fn stats(&self) -> Stats {
        Stats {
            live_runs: self.runs.len(),
            waiting_groups: self.line.len(),
            tracked_groups: self.index.len(),
            queued_jobs: self.jobs.len(),
            deadlines: self.timers.len(),
            shut_down: self.shut_down,
        }
    }

    /// Whether shutdown was accepted.
    pub fn is_shut_down(&self) -> bool {
        self.shut_down
    }

    // ---- shared helpers ------------------------------------------------

    pub(crate) fn group(&self, g: u32) -> &Group<K, T> {
        self.groups[g as usize].as_ref().expect("group slot in use")
    }

    pub(crate) fn group_mut(&mut self, g: u32) -> &mut Group<K, T> {
        self.groups[g as usize].as_mut().expect("group slot in use")
    }

    /// The slot of `key`, tracking the group if it is new.
    pub(crate) fn slot(&mut self, key: K) -> u32 {
        match self.index.entry(key) {
            Entry::Occupied(e) => *e.get(),
            Entry::Vacant(v) => {
                let group = Some(Group::new(v.key().clone()));
                let g = match self.free_groups.pop() {
                    Some(g) => {
                        self.groups[g as usize] = group;
                        g
                    }
                    None => {
                        self.groups.push(group);
                        (self.groups.len() - 1) as u32
                    }
                };
                *v.insert(g)
            }
        }
    }

    /// B12: forget a group that holds nothing.
    pub(crate) fn evict_if_empty(&mut self, g: u32) {
        if self.group(g).is_empty() {
            let group = self.groups[g as usize].take().expect("group slot in use");
            self.index.remove(&group.key);
            self.free_groups.push(g);
        }
    }

    /// The live run's group slot; the fencing check of every run input.
    pub(crate) fn live_group(&self, run: RunId) -> Result<u32, Error> {
        match self.runs.get(&run) {
            Some(&g) => Ok(g),
            None if run.get() == 0 || run.get() >= self.next_run => Err(Error::UnknownRun(run)),
            None => Err(Error::StaleRun(run)),
        }
    }

    pub(crate) fn has_free_slot(&self) -> bool {
        self.runs.len() < self.config.max_active()
    }

    /// Starts the group's next work in a free slot: jobs (compact, tasks) in
    /// FIFO order before the message check (P5). The only place a run starts.
    pub(crate) fn start_next(&mut self, g: u32) -> RunId {
        debug_assert!(!self.shut_down && self.has_free_slot());
        let run = RunId::new(self.next_run);
        self.next_run += 1;
        let group = self.groups[g as usize].as_mut().expect("group slot in use");
        debug_assert!(group.run.is_none(), "P1: one live run per group");
        let (work, task) = match self.jobs.pop_front(&mut group.jobs) {
            Some(Job::Task { id, payload }) => {
                let key = (g, id);
                self.queued_ids.remove(&key);
                let id = key.1;
                (
                    Work::Task {
                        id: id.clone(),
                        payload,
                    },
                    Some(id),
                )
            }
            Some(Job::Compact) => {
                group.compact_queued = false;
                (Work::Compact, None)
            }
            None => {
                group.check = false;
                // This run reads every unread message, the rolled-back ones
                // included: a scheduled retry would only start a second,
                // empty run after it (B7).
                if group.retry_at.take().is_some() {
                    self.timers.cancel(timers::key(g, TimerKind::Retry));
                }
                (Work::Messages, None)
            }
        };
        group.run = Some(Run {
            id: run,
            kind: work.kind(),
            task,
            state: RunState::Busy,
            errored: false,
            delivered: false,
        });
        let key = group.key.clone();
        self.runs.insert(run, g);
        self.command(Command::Spawn {
            run,
            group: key,
            work,
        });
        run
    }

    /// Closes the live run's input, once (P8).
    pub(crate) fn close(&mut self, g: u32, reason: CloseReason) {
        let run = self.group_mut(g).run.as_mut().expect("live run");
        if run.state == RunState::Closing {
            return;
        }
        run.state = RunState::Closing;
        let run = run.id;
        // A closing run only has to exit; its idle deadline would wake the
        // adapter for nothing.
        self.timers.cancel(timers::key(g, TimerKind::Idle));
        self.command(Command::CloseInput { run, reason });
    }

    pub(crate) fn command(&mut self, command: Command<K, T, P>) {
        self.out.push_back(Output::Command(command));
    }

    /// Emits a record about group `g` when records are on; the key is cloned
    /// only then.
    pub(crate) fn record(&mut self, g: u32, make: impl FnOnce(K) -> Record<K, T>) {
        if self.config.records() {
            let key = self.group(g).key.clone();
            self.out.push_back(Output::Record(make(key)));
        }
    }

    /// B10: fire every deadline at or before `now`, in deadline order.
    fn on_timeout(&mut self, now: Time) {
        while let Some(key) = self.timers.pop_due(now) {
            match timers::split(key) {
                (g, TimerKind::Retry) => self.on_retry_due(g),
                (g, TimerKind::Idle) => self.on_idle_due(g),
            }
        }
    }
}

impl<K, T, P, S> fmt::Debug for Machine<K, T, P, S>
where
    K: fmt::Debug,
    T: fmt::Debug,
    P: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Groups in slot order, never in hash order (P13).
        f.debug_struct("Machine")
            .field("config", &self.config)
            .field("now", &self.now)
            .field("shut_down", &self.shut_down)
            .field("groups", &self.groups)
            .field("jobs", &self.jobs)
            .field("next_run", &self.next_run)
            .field("line", &self.line)
            .field("timers", &self.timers)
            .field("out", &self.out)
            .finish_non_exhaustive()
    }
}

/// Two machines are equal when their observable state is: used to prove that
/// a rejected input changes nothing (P9).
impl<K, T, P, S> PartialEq for Machine<K, T, P, S>
where
    K: Eq + Hash,
    T: Eq + Hash,
    P: PartialEq,
    S: BuildHasher,
{
    fn eq(&self, other: &Self) -> bool {
        self.config == other.config
            && self.now == other.now
            && self.shut_down == other.shut_down
            && self.index == other.index
            && self.groups == other.groups
            && self.free_groups == other.free_groups
            && self.jobs == other.jobs
            && self.queued_ids == other.queued_ids
            && self.runs == other.runs
            && self.next_run == other.next_run
            && self.line == other.line
            && self.timers == other.timers
            && self.out == other.out
    }
}
