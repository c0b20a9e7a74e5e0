//! A reference model of the groupq contract, written from the crate docs (B1–B10)
//! and the "decisions beyond the written contract" in the crate docs, not
//! from `src/`.
//!
//! It is meant to be obviously correct, not fast: plain `Vec`s and
//! `VecDeque`s, linear scans, a clone of the whole model to undo a rejected
//! input. It produces the same answer and the same commands as
//! [`groupq::Machine`] for every input; `tests/model.rs` and
//! `tests/exhaustive.rs` hold the two side by side. Records (observability)
//! are not modelled.
//!
//! Standalone on purpose (only `groupq`'s public types and std), so that
//! other crates (the fuzzers) can include it with `#[path]`.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::time::Duration;

use groupq::{
    CancelAnswer, CloseAnswer, CloseReason, Command, CompactionTrigger, Config, ContextStats,
    Error, Exit, Input, LiveRun, Notice, PendingGroup, PipeRefusal, Policy, Requeue, Response,
    RunId, RunState, ShutdownReport, TaskRefusal, Time, TurnReport, TurnStatus, Work, WorkKind,
};

/// A queued job of a group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModelJob<T, P> {
    /// A task with its payload.
    Task { id: T, payload: P },
    /// The compact turn.
    Compact,
}

/// A live run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelRun<T> {
    pub id: RunId,
    pub kind: WorkKind,
    /// The task id of a task run.
    pub task: Option<T>,
    pub state: RunState,
    /// A turn of this run reported an error.
    pub errored: bool,
    /// A reply of this run reached the user.
    pub delivered: bool,
    /// A follow-up was piped in after the last delivered reply.
    pub piped_after_delivery: bool,
    /// `Kill` was sent for it.
    pub killed: bool,
    /// When it was spawned (B15).
    pub spawned: Time,
    /// A background task's run (B16).
    pub background: bool,
}

/// Everything the model keeps about one group. Groups are never forgotten:
/// memory (B12) is not the model's business.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelGroup<K, T, P> {
    pub key: K,
    pub run: Option<ModelRun<T>>,
    pub jobs: VecDeque<ModelJob<T, P>>,
    /// The message check (B1).
    pub check: bool,
    /// Consecutive failed Messages runs (B7).
    pub failures: u32,
    /// The scheduled retry: (attempt, deadline).
    pub retry: Option<(u32, Time)>,
    /// The live run reached the auto-compact threshold (B5).
    pub compact_pending: bool,
    /// An operator paused the group: nothing starts for it.
    pub paused: bool,
    /// B14: debouncing, and the latest time its messages run may start.
    pub debounce: Option<Time>,
    /// B16: background tasks, FIFO.
    pub background: VecDeque<(T, P)>,
}

impl<K, T, P> ModelGroup<K, T, P> {
    fn has_pending(&self) -> bool {
        self.conversation() || !self.background.is_empty()
    }

    /// B16: work of the conversation (normal jobs or messages).
    fn conversation(&self) -> bool {
        !self.jobs.is_empty() || self.check
    }
}

/// What a timer does when it fires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModelTimer<K> {
    /// B7: the group's retry.
    Retry(K),
    /// B5: the run's idle deadline (armed while it is idle).
    Idle(RunId),
    /// The run's turn deadline (armed while it is busy).
    Turn(RunId),
    /// The run's life cap (`max_run_time`).
    Life(RunId),
    /// The busy run's stall watch.
    Stall(RunId),
    /// The closed run's kill deadline.
    Kill(RunId),
    /// The busy run's shutdown grace.
    Grace(RunId),
    /// B14: the group's burst of messages is over.
    Debounce(K),
    /// B15: the breaker's cooldown ends, or its probe lived long enough.
    Breaker,
}

/// B15: where the breaker stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelBreaker {
    Closed,
    Open {
        cooldown: Duration,
    },
    HalfOpen {
        cooldown: Duration,
        probe: Option<RunId>,
    },
}

/// An armed deadline; `seq` is the order it was set in (B10 ties).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelDeadline<K> {
    pub at: Time,
    pub seq: u64,
    pub what: ModelTimer<K>,
}

/// What one input produced: the machine's answer and the commands, in order.
pub type ModelStep<K, T, P> = (Result<Response<K, T, P>, Error>, Vec<Command<K, T, P>>);

/// The reference model.
#[derive(Clone, Debug)]
pub struct Model<K, T, P> {
    pub config: Config,
    pub now: Time,
    pub shut_down: bool,
    /// The id the next run gets.
    pub next_run: u64,
    /// Every group ever seen, in the order first seen.
    pub groups: Vec<ModelGroup<K, T, P>>,
    /// Groups waiting for a slot with a conversation, front first (B8).
    pub line: VecDeque<K>,
    /// B16: groups waiting with background tasks only, front first, and
    /// how many conversation starts passed them since the last background
    /// start.
    pub bg_line: VecDeque<K>,
    pub passed: u32,
    /// B16: each group's last conversation run exit (with a skip window).
    pub recent: Vec<(K, Time)>,
    /// Armed deadlines, unordered.
    pub timers: Vec<ModelDeadline<K>>,
    /// Idle runs in the order they became idle (eviction takes the first).
    pub idle_order: Vec<RunId>,
    pub seq: u64,
    /// B15: the breaker, and the fast failures while it is closed.
    pub breaker: ModelBreaker,
    pub fast_failures: Vec<(Time, K)>,
    /// Commands of the input being handled.
    out: Vec<Command<K, T, P>>,
}

impl<K, T, P> Model<K, T, P>
where
    K: Clone + PartialEq + std::fmt::Debug,
    T: Clone + PartialEq + std::fmt::Debug,
    P: Clone + std::fmt::Debug,
{
    /// A model with this (valid) configuration.
    pub fn new(config: Config) -> Self {
        Model {
            config,
            now: Time::ZERO,
            shut_down: false,
            next_run: 1,
            groups: Vec::new(),
            line: VecDeque::new(),
            bg_line: VecDeque::new(),
            passed: 0,
            recent: Vec::new(),
            timers: Vec::new(),
            idle_order: Vec::new(),
            seq: 0,
            breaker: ModelBreaker::Closed,
            fast_failures: Vec::new(),
            out: Vec::new(),
        }
    }

    /// Handles one input. On `Err` the model is exactly as before and no
    /// command is produced.
    pub fn handle(&mut self, now: Time, input: Input<K, T, P>) -> ModelStep<K, T, P> {
        if now < self.now {
            let last = self.now;
            return (Err(Error::TimeWentBackwards { now, last }), Vec::new());
        }
        let saved = self.clone();
        self.now = now;
        let result = self.apply(now, input);
        match result {
            Ok(response) => (Ok(response), std::mem::take(&mut self.out)),
            Err(e) => {
                *self = saved;
                (Err(e), Vec::new())
            }
        }
    }

    /// The earliest armed deadline.
    pub fn next_deadline(&self) -> Option<Time> {
        self.timers.iter().map(|t| t.at).min()
    }

    /// Live runs, by run id.
    pub fn live_runs(&self) -> Vec<RunId> {
        let mut runs: Vec<RunId> = self
            .groups
            .iter()
            .filter_map(|g| g.run.as_ref().map(|r| r.id))
            .collect();
        runs.sort();
        runs
    }

    /// The group with this key, if the model has seen it.
    pub fn group(&self, key: &K) -> Option<&ModelGroup<K, T, P>> {
        self.groups.iter().find(|g| g.key == *key)
    }

    fn apply(&mut self, now: Time, input: Input<K, T, P>) -> Result<Response<K, T, P>, Error> {
        match input {
            Input::Message { group } => {
                if self.shut_down {
                    return Err(Error::ShutDown);
                }
                let i = self.index(group.clone());
                if !self.debounce(i) {
                    self.message(group);
                }
                Ok(Response::Accepted)
            }
            Input::Task { group, id, payload } => self.task(group, id, payload),
            Input::BackgroundTask {
                group,
                id,
                payload,
                skip_if_active,
            } => self.background_task(group, id, payload, skip_if_active),
            Input::Pipe { group } => self.pipe(group),
            Input::Idle { run } => {
                let i = self.live(run)?;
                self.idle(i);
                Ok(Response::Accepted)
            }
            Input::Heartbeat { run } => {
                let i = self.live(run)?;
                let run = self.groups[i].run.as_ref().expect("live");
                if run.state == RunState::Busy {
                    let id = run.id;
                    self.set_after(self.config.stall_timeout(), ModelTimer::Stall(id));
                }
                Ok(Response::Accepted)
            }
            Input::Turn {
                run,
                report: output,
            } => {
                let i = self.live(run)?;
                self.turn_output(i, output);
                Ok(Response::Accepted)
            }
            Input::Exited { run, exit } => {
                let i = self.live(run)?;
                self.exited(now, i, exit);
                Ok(Response::Accepted)
            }
            Input::Timeout => {
                self.timeout(now);
                Ok(Response::Accepted)
            }
            Input::Shutdown => self.shutdown(),
            Input::Pause { group } => {
                if self.shut_down {
                    return Err(Error::ShutDown);
                }
                let i = self.index(group.clone());
                self.groups[i].paused = true;
                self.leave_line(&group);
                Ok(Response::Accepted)
            }
            Input::Resume { group } => {
                if self.shut_down {
                    return Err(Error::ShutDown);
                }
                if let Some(i) = self.groups.iter().position(|g| g.key == group) {
                    self.groups[i].paused = false;
                    self.end_debounce(i);
                    let g = &self.groups[i];
                    if g.run.is_none() && g.has_pending() && !self.in_line(&group) {
                        if self.can_start(i) {
                            self.start(i);
                        } else {
                            self.join_line(i);
                            self.evict();
                        }
                    }
                    if self.preemptible(i) {
                        self.close(i, CloseReason::Preempt);
                    }
                }
                Ok(Response::Accepted)
            }
            Input::Cancel { group, id } => Ok(Response::Cancel(self.cancel(group, id))),
            Input::CloseRun { group } => {
                let Some(i) = self.groups.iter().position(|g| g.key == group) else {
                    return Ok(Response::Close(CloseAnswer::NoRun));
                };
                Ok(Response::Close(match self.groups[i].run.as_ref() {
                    None => CloseAnswer::NoRun,
                    Some(r) if r.state == RunState::Closing => CloseAnswer::AlreadyClosing(r.id),
                    Some(r) => {
                        let run = r.id;
                        self.close(i, CloseReason::Host);
                        CloseAnswer::Closed(run)
                    }
                }))
            }
            Input::NeverLaunched { run, work } => {
                let i = self.live(run)?;
                let r = self.groups[i].run.as_ref().expect("live");
                let matches = match &work {
                    Work::Task { id, .. } => r.task.as_ref() == Some(id),
                    other => r.task.is_none() && other.kind() == r.kind,
                };
                if !matches {
                    return Err(Error::WorkMismatch(run));
                }
                Ok(Response::Requeue(self.never_launched(i, work)))
            }
            Input::SetLimits { limits } => {
                if self.shut_down {
                    return Err(Error::ShutDown);
                }
                if limits.max_active == 0 {
                    return Err(Error::InvalidConfig(groupq::ConfigError::ZeroMaxActive));
                }
                self.config = self.config.clone().with_limits(limits);
                self.trim();
                self.fill_slots();
                self.evict();
                Ok(Response::Accepted)
            }
            other => panic!("the model does not know {other:?}"),
        }
    }

    // ---- helpers -------------------------------------------------------

    fn index(&mut self, key: K) -> usize {
        match self.groups.iter().position(|g| g.key == key) {
            Some(i) => i,
            None => {
                self.groups.push(ModelGroup {
                    key,
                    run: None,
                    jobs: VecDeque::new(),
                    check: false,
                    failures: 0,
                    retry: None,
                    compact_pending: false,
                    paused: false,
                    debounce: None,
                    background: VecDeque::new(),
                });
                self.groups.len() - 1
            }
        }
    }

    /// The group of a live run, or why the run id is refused.
    fn live(&self, run: RunId) -> Result<usize, Error> {
        for (i, g) in self.groups.iter().enumerate() {
            if g.run.as_ref().is_some_and(|r| r.id == run) {
                return Ok(i);
            }
        }
        if run.get() == 0 || run.get() >= self.next_run {
            Err(Error::UnknownRun(run))
        } else {
            Err(Error::StaleRun(run))
        }
    }

    fn live_count(&self) -> usize {
        self.groups.iter().filter(|g| g.run.is_some()).count()
    }

    fn free_slot(&self) -> bool {
        let admits = match self.breaker {
            ModelBreaker::Closed => true,
            ModelBreaker::HalfOpen { probe, .. } => probe.is_none(),
            ModelBreaker::Open { .. } => false,
        };
        self.live_count() < self.config.max_active() && admits
    }

    /// B15: how many waiting groups free slots can serve now.
    fn wanted(&self) -> usize {
        match self.breaker {
            // Background groups never close a run (B16).
            ModelBreaker::Closed => self.line.len(),
            ModelBreaker::HalfOpen { probe: None, .. } => self.line.len().min(1),
            _ => 0,
        }
    }

    /// Joins the lane of its work (B16), unless it waits already.
    fn join_line(&mut self, i: usize) {
        let key = self.groups[i].key.clone();
        if self.in_line(&key) {
            return;
        }
        match self.groups[i].conversation() {
            true => self.line.push_back(key),
            false => self.bg_line.push_back(key),
        }
    }

    fn in_line(&self, key: &K) -> bool {
        self.line.contains(key) || self.bg_line.contains(key)
    }

    fn leave_line(&mut self, key: &K) {
        self.line.retain(|k| k != key);
        self.bg_line.retain(|k| k != key);
        if self.bg_line.is_empty() {
            self.passed = 0;
        }
    }

    /// B16: live background runs.
    fn background_live(&self) -> usize {
        self.groups
            .iter()
            .filter(|g| g.run.as_ref().is_some_and(|r| r.background))
            .count()
    }

    /// B16: a background run may start under `max_running`.
    fn background_admits(&self) -> bool {
        let max = self.config.background().max_running;
        max.map_or(true, |m| self.background_live() < m)
    }

    /// A free slot, and room for background work if that is all it has.
    fn can_start(&self, i: usize) -> bool {
        self.free_slot() && (self.groups[i].conversation() || self.background_admits())
    }

    /// An idle run to close for the group's waiting work: normal jobs, or
    /// messages behind a background run (B16).
    fn preemptible(&self, i: usize) -> bool {
        let g = &self.groups[i];
        g.run.as_ref().is_some_and(|r| {
            r.state == RunState::IdleWaiting && (!g.jobs.is_empty() || (r.background && g.check))
        }) && !g.paused
    }

    fn set_timer(&mut self, at: Time, what: ModelTimer<K>) {
        self.cancel_timer(&what);
        self.seq += 1;
        self.timers.push(ModelDeadline {
            at,
            seq: self.seq,
            what,
        });
    }

    fn cancel_timer(&mut self, what: &ModelTimer<K>) {
        self.timers.retain(|t| t.what != *what);
    }

    /// Arms `what` `after` from now, if `after` is set.
    fn set_after(&mut self, after: Option<Duration>, what: ModelTimer<K>) {
        if let Some(d) = after {
            let at = Time::from_nanos(
                self.now
                    .as_nanos()
                    .saturating_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
            );
            self.set_timer(at, what);
        }
    }

    fn cancel_retry(&mut self, i: usize) {
        self.groups[i].retry = None;
        let what = ModelTimer::Retry(self.groups[i].key.clone());
        self.cancel_timer(&what);
    }

    /// Starts the group's next work: jobs front first, then the message
    /// check (B8, P5). The only place a run starts.
    fn start(&mut self, i: usize) {
        assert!(!self.shut_down, "model: start after shutdown");
        assert!(self.free_slot(), "model: start without a free slot");
        assert!(self.groups[i].run.is_none(), "model: second run");
        let key = self.groups[i].key.clone();
        self.leave_line(&key);
        let run = RunId::new(self.next_run);
        self.next_run += 1;
        let g = &mut self.groups[i];
        let background = !g.conversation();
        if background {
            assert!(self.background_admits(), "model: background past its cap");
        }
        let g = &mut self.groups[i];
        let front = match background {
            false => g.jobs.pop_front(),
            true => g
                .background
                .pop_front()
                .map(|(id, payload)| ModelJob::Task { id, payload }),
        };
        let (work, task) = match front {
            Some(ModelJob::Task { id, payload }) => (
                Work::Task {
                    id: id.clone(),
                    payload,
                },
                Some(id),
            ),
            Some(ModelJob::Compact) => (Work::Compact, None),
            None => {
                assert!(g.check, "model: start without work");
                g.check = false;
                (Work::Messages, None)
            }
        };
        g.run = Some(ModelRun {
            id: run,
            kind: work.kind(),
            task,
            state: RunState::Busy,
            errored: false,
            delivered: false,
            piped_after_delivery: false,
            killed: false,
            spawned: self.now,
            background,
        });
        if let ModelBreaker::HalfOpen {
            cooldown,
            probe: None,
        } = self.breaker
        {
            self.breaker = ModelBreaker::HalfOpen {
                cooldown,
                probe: Some(run),
            };
            let fast = self.config.breaker().expect("breaker").fast_failure;
            self.set_after(Some(fast), ModelTimer::Breaker);
        }
        if work.kind() == WorkKind::Messages {
            // The run reads the rolled-back messages too: a scheduled retry
            // has nothing left to do (decision beyond the contract; the
            // failure count is kept).
            self.cancel_retry(i);
        }
        let turn = match work.kind() {
            WorkKind::Compact => self.config.max_compact_time(),
            _ => self.config.max_turn_time(),
        };
        self.set_after(Some(turn), ModelTimer::Turn(run));
        self.set_after(self.config.max_run_time(), ModelTimer::Life(run));
        // Until its first sign of life the stall watch adds the start grace.
        let first_stall = self
            .config
            .stall_timeout()
            .map(|s| s.saturating_add(self.config.start_grace()));
        self.set_after(first_stall, ModelTimer::Stall(run));
        self.out.push(Command::Spawn {
            run,
            group: key,
            work,
        });
    }

    /// Closes the group's live run's input, at most once (P8).
    fn close(&mut self, i: usize, reason: CloseReason) {
        let run = self.groups[i]
            .run
            .as_mut()
            .expect("model: close without run");
        if run.state != RunState::Closing {
            run.state = RunState::Closing;
            let run = run.id;
            self.idle_order.retain(|r| *r != run);
            // A closing run only has to exit: its other deadlines go, and
            // the kill deadline comes.
            for what in [
                ModelTimer::Idle(run),
                ModelTimer::Turn(run),
                ModelTimer::Life(run),
                ModelTimer::Stall(run),
                ModelTimer::Grace(run),
            ] {
                self.cancel_timer(&what);
            }
            self.set_after(Some(self.config.kill_grace()), ModelTimer::Kill(run));
            self.out.push(Command::CloseInput { run, reason });
        }
    }

    // ---- behaviour -------------------------------------------------------

    /// B1 (also what a retry does when it fires, B7).
    fn message(&mut self, key: K) {
        let i = self.index(key);
        self.groups[i].check = true;
        // B16: an idle background run gives way.
        if self.preemptible(i) {
            self.close(i, CloseReason::Preempt);
        }
        self.wake(i);
    }

    /// The group has work: it starts or waits in line (ending a debounce).
    fn wake(&mut self, i: usize) {
        self.end_debounce(i);
        if self.groups[i].run.is_some() || self.groups[i].paused {
            return;
        }
        let key = self.groups[i].key.clone();
        if self.line.contains(&key) {
            return;
        }
        if self.bg_line.contains(&key) {
            if !self.groups[i].conversation() {
                return;
            }
            // B16: a conversation now: to the back of its lane.
            self.leave_line(&key);
        }
        if self.can_start(i) {
            self.start(i);
        } else {
            self.join_line(i);
            self.evict();
        }
    }

    fn closing_count(&self) -> usize {
        self.groups
            .iter()
            .filter(|g| g.run.as_ref().is_some_and(|r| r.state == RunState::Closing))
            .count()
    }

    /// A lowered limit: while more runs are open than it allows, close the
    /// run idle longest.
    fn trim(&mut self) {
        while self.live_count() - self.closing_count() > self.config.max_active() {
            let Some(&oldest) = self.idle_order.first() else {
                return;
            };
            let i = self.live(oldest).expect("idle runs are live");
            self.close(i, CloseReason::LimitLowered);
        }
    }

    /// Eviction: while more groups wait than closing runs will make room
    /// for (above a lowered limit, fewer do), close the run idle longest.
    fn evict(&mut self) {
        if !self.config.evict_idle() || self.shut_down {
            return;
        }
        loop {
            let over = self.live_count().saturating_sub(self.config.max_active());
            let closing = self.closing_count().saturating_sub(over);
            if self.wanted() <= closing {
                return;
            }
            let Some(&oldest) = self.idle_order.first() else {
                return;
            };
            let i = self.live(oldest).expect("idle runs are live");
            self.close(i, CloseReason::Evicted);
        }
    }

    /// B2.
    fn task(&mut self, key: K, id: T, payload: P) -> Result<Response<K, T, P>, Error> {
        if self.shut_down {
            return Err(Error::ShutDown);
        }
        let i = match self.admit(key, &id) {
            Ok(i) => i,
            Err(answer) => return Ok(answer),
        };
        self.groups[i]
            .jobs
            .push_back(ModelJob::Task { id, payload });
        let paused = self.groups[i].paused;
        if self.groups[i].run.is_none() {
            // The task wakes the group: no debounce holds it back.
            self.end_debounce(i);
        }
        match self.groups[i].run.as_ref().map(|r| r.state) {
            Some(RunState::IdleWaiting) if !paused => self.close(i, CloseReason::Preempt),
            Some(_) => {}
            // Wakes the group (a group waiting with background work only
            // moves to the conversation lane, B16).
            None => self.wake(i),
        }
        Ok(Response::Queued)
    }

    /// A task of either class: a duplicate (of the live run's task or one
    /// queued in the group, either class), refused by a cap, or the index
    /// of the group to queue it in.
    fn admit(&mut self, key: K, id: &T) -> Result<usize, Response<K, T, P>> {
        let i = self.index(key);
        let g = &self.groups[i];
        let live_dup = g.run.as_ref().is_some_and(|r| r.task.as_ref() == Some(id));
        if live_dup || Self::queued(g, id) {
            return Err(Response::Duplicate);
        }
        match self.refusal(i) {
            Some(refused) => Err(refused),
            None => Ok(i),
        }
    }

    /// Task `id` is queued in the group, in either class.
    fn queued(g: &ModelGroup<K, T, P>, id: &T) -> bool {
        let normal = g
            .jobs
            .iter()
            .any(|j| matches!(j, ModelJob::Task { id: queued, .. } if queued == id));
        normal || g.background.iter().any(|(queued, _)| queued == id)
    }

    /// The caps, counting tasks of both classes.
    fn refusal(&self, i: usize) -> Option<Response<K, T, P>> {
        let tasks = |g: &ModelGroup<K, T, P>| {
            g.jobs
                .iter()
                .filter(|j| matches!(j, ModelJob::Task { .. }))
                .count()
                + g.background.len()
        };
        if let Some(cap) = self.config.max_group_tasks() {
            if tasks(&self.groups[i]) >= cap {
                return Some(Response::TaskRefused(TaskRefusal::GroupFull { cap }));
            }
        }
        if let Some(cap) = self.config.max_queued_tasks() {
            if self.groups.iter().map(tasks).sum::<usize>() >= cap {
                return Some(Response::TaskRefused(TaskRefusal::QueueFull { cap }));
            }
        }
        None
    }

    /// B16: skipped while the conversation is active, else deduplicated,
    /// capped and queued behind everything else; never closes a run.
    fn background_task(
        &mut self,
        key: K,
        id: T,
        payload: P,
        skip_if_active: bool,
    ) -> Result<Response<K, T, P>, Error> {
        if self.shut_down {
            return Err(Error::ShutDown);
        }
        if skip_if_active && self.active(&key) {
            return Ok(Response::Skipped);
        }
        let i = match self.admit(key, &id) {
            Ok(i) => i,
            Err(answer) => return Ok(answer),
        };
        self.groups[i].background.push_back((id, payload));
        if self.groups[i].run.is_none() {
            self.wake(i);
        }
        Ok(Response::Queued)
    }

    /// B16: the conversation is live, pending or owed, or its last run
    /// exited within the skip window.
    fn active(&self, key: &K) -> bool {
        let now = self.group(key).is_some_and(|g| {
            g.run.as_ref().is_some_and(|r| !r.background)
                || g.conversation()
                || g.retry.is_some()
                || g.compact_pending
        });
        let window = self.config.background().skip_window;
        let recent = self
            .recent
            .iter()
            .any(|(k, at)| k == key && window.is_some_and(|w| *at + w > self.now));
        now || recent
    }

    /// B3: always answered; a refusal is an answer, not an error.
    fn pipe(&mut self, key: K) -> Result<Response<K, T, P>, Error> {
        let refused = |why| Ok(Response::PipeRefused(why));
        if self.shut_down {
            return refused(PipeRefusal::ShutDown);
        }
        let Some(i) = self.groups.iter().position(|g| g.key == key) else {
            return refused(PipeRefusal::NoRun);
        };
        let Some(run) = self.groups[i].run.as_mut() else {
            return refused(PipeRefusal::NoRun);
        };
        match (run.kind, run.state) {
            (WorkKind::Task, _) => refused(PipeRefusal::TaskRun),
            (WorkKind::Compact, _) => refused(PipeRefusal::CompactRun),
            (WorkKind::Messages, RunState::Closing) => refused(PipeRefusal::Closing),
            (WorkKind::Messages, state) => {
                run.piped_after_delivery |= run.delivered;
                run.state = RunState::Busy;
                let id = run.id;
                self.idle_order.retain(|r| *r != id);
                if state == RunState::IdleWaiting {
                    self.cancel_timer(&ModelTimer::Idle(id));
                    self.set_after(Some(self.config.max_turn_time()), ModelTimer::Turn(id));
                    self.set_after(self.config.stall_timeout(), ModelTimer::Stall(id));
                }
                Ok(Response::Piped(id))
            }
        }
    }

    /// Operator cancel: the running task is not cancelled; a queued one is
    /// removed and its payload handed back.
    fn cancel(&mut self, group: K, id: T) -> CancelAnswer<P> {
        let Some(i) = self.groups.iter().position(|g| g.key == group) else {
            return CancelAnswer::NotQueued;
        };
        if let Some(r) = self.groups[i]
            .run
            .as_ref()
            .filter(|r| r.task.as_ref() == Some(&id))
        {
            return CancelAnswer::Running(r.id);
        }
        let at = self.groups[i]
            .jobs
            .iter()
            .position(|j| matches!(j, ModelJob::Task { id: queued, .. } if *queued == id));
        let bg_at = self.groups[i].background.iter().position(|(q, _)| *q == id);
        let payload = match (at, bg_at) {
            (Some(at), _) => match self.groups[i].jobs.remove(at) {
                Some(ModelJob::Task { payload, .. }) => payload,
                _ => unreachable!("a task was found there"),
            },
            (None, Some(at)) => self.groups[i].background.remove(at).expect("found").1,
            (None, None) => return CancelAnswer::NotQueued,
        };
        let conversation_lane = self.line.contains(&group);
        if !self.groups[i].has_pending() {
            self.leave_line(&group);
        } else if conversation_lane && !self.groups[i].conversation() {
            // B16: background work only: it waits in the background lane.
            self.leave_line(&group);
            self.join_line(i);
        }
        CancelAnswer::Cancelled(payload)
    }

    /// B4: a busy run becomes idle; its turn deadlines give way to the
    /// idle deadline; after shutdown it is closed at once, else preempted if
    /// jobs wait.
    fn idle(&mut self, i: usize) {
        let run = self.groups[i].run.as_mut().expect("live");
        if run.state != RunState::Busy {
            return;
        }
        run.state = RunState::IdleWaiting;
        let id = run.id;
        self.idle_order.push(id);
        for what in [
            ModelTimer::Turn(id),
            ModelTimer::Stall(id),
            ModelTimer::Grace(id),
        ] {
            self.cancel_timer(&what);
        }
        self.set_after(Some(self.config.idle_timeout()), ModelTimer::Idle(id));
        if self.shut_down {
            self.close(i, CloseReason::Shutdown);
        } else if self.preemptible(i) {
            self.close(i, CloseReason::Preempt);
        } else {
            self.trim();
            self.evict();
        }
    }

    /// B5.
    fn turn_output(&mut self, i: usize, output: TurnReport) {
        let (warn, auto) = (
            u32::from(self.config.warn_percent()),
            u32::from(self.config.auto_compact_percent()),
        );
        let run = self.groups[i].run.as_mut().expect("live");
        let id = run.id;
        let is_messages = run.kind == WorkKind::Messages;
        let success = output.status == TurnStatus::Success;
        if output.delivered {
            run.delivered = true;
            run.piped_after_delivery = false;
        }
        if !success {
            run.errored = true;
        }
        // A busy run that reports is alive; a reply from an idle run pushes
        // its idle deadline out.
        let (busy, was_idle) = (
            run.state == RunState::Busy,
            run.state == RunState::IdleWaiting,
        );
        if busy {
            self.set_after(self.config.stall_timeout(), ModelTimer::Stall(id));
        }
        if output.replied && was_idle {
            self.set_after(Some(self.config.idle_timeout()), ModelTimer::Idle(id));
        }
        let key = self.groups[i].key.clone();
        let percent = output.context.and_then(|c| model_percent(&c));
        if self.config.notices() && is_messages && success && output.replied {
            if let Some(p) = percent.filter(|&p| p >= warn) {
                let c = output.context.unwrap_or_default();
                self.out.push(Command::Notify {
                    group: key.clone(),
                    notice: Notice::ContextWarning {
                        percent: p,
                        tokens: c.tokens,
                        limit: c.limit,
                    },
                });
            }
            if let Some(c) = output.compaction {
                if c.trigger == CompactionTrigger::Auto {
                    self.out.push(Command::Notify {
                        group: key.clone(),
                        notice: Notice::AutoCompacted {
                            tokens_before: c.tokens_before,
                        },
                    });
                }
            }
        }
        let g = &mut self.groups[i];
        if output.compaction.is_some() {
            self.out.push(Command::RecordCompaction { group: key });
            g.compact_pending = false;
        } else if is_messages {
            let over = percent.is_some_and(|p| p >= auto)
                || output.context.is_some_and(|c| c.compact_recommended);
            let compact_queued = g.jobs.iter().any(|j| matches!(j, ModelJob::Compact));
            if over && !compact_queued {
                g.compact_pending = true;
            }
        }
        if success {
            self.idle(i);
        }
    }

    /// B6, B7, B8.
    fn exited(&mut self, now: Time, i: usize, exit: Exit) {
        let run = self.remove_run(i);
        self.settle_exit(now, i, exit, run);
    }

    /// A run that never started: gone without a failure, its work back.
    fn never_launched(&mut self, i: usize, work: Work<T, P>) -> Requeue<T, P> {
        let run = self.remove_run(i);
        if let ModelBreaker::HalfOpen {
            cooldown,
            probe: Some(probe),
        } = self.breaker
        {
            if probe == run.id {
                self.cancel_timer(&ModelTimer::Breaker);
                self.breaker = ModelBreaker::HalfOpen {
                    cooldown,
                    probe: None,
                };
            }
        }
        let key = self.groups[i].key.clone();
        let answer = match work {
            Work::Messages => {
                self.out.push(Command::RollbackCursor { group: key });
                self.groups[i].check |= !self.shut_down;
                match self.shut_down {
                    true => Requeue::HandedBack(Work::Messages),
                    false => Requeue::Requeued,
                }
            }
            work if self.shut_down => Requeue::HandedBack(work),
            Work::Task { id, payload } if run.background => {
                self.groups[i].background.push_front((id, payload));
                Requeue::Requeued
            }
            Work::Task { id, payload } => {
                let jobs = &mut self.groups[i].jobs;
                let at = usize::from(matches!(jobs.front(), Some(ModelJob::Compact)));
                jobs.insert(at, ModelJob::Task { id, payload });
                Requeue::Requeued
            }
            Work::Compact => {
                let jobs = &mut self.groups[i].jobs;
                if !jobs.iter().any(|j| matches!(j, ModelJob::Compact)) {
                    jobs.push_front(ModelJob::Compact);
                }
                Requeue::Requeued
            }
        };
        self.settle_compact(i);
        if !self.shut_down {
            self.drain(i);
        }
        answer
    }

    /// A compact the run owed is queued now that it is gone.
    fn settle_compact(&mut self, i: usize) {
        if self.groups[i].compact_pending {
            self.groups[i].compact_pending = false;
            if !self.shut_down
                && !self.groups[i]
                    .jobs
                    .iter()
                    .any(|j| matches!(j, ModelJob::Compact))
            {
                self.groups[i].jobs.push_front(ModelJob::Compact);
            }
        }
    }

    /// Group `i`'s run leaves, with its deadlines.
    fn remove_run(&mut self, i: usize) -> ModelRun<T> {
        let run = self.groups[i].run.take().expect("live");
        let id = run.id;
        self.idle_order.retain(|r| *r != id);
        self.timers.retain(|t| match &t.what {
            ModelTimer::Retry(_) | ModelTimer::Debounce(_) | ModelTimer::Breaker => true,
            ModelTimer::Idle(r)
            | ModelTimer::Turn(r)
            | ModelTimer::Life(r)
            | ModelTimer::Stall(r)
            | ModelTimer::Kill(r)
            | ModelTimer::Grace(r) => *r != id,
        });
        run
    }

    fn settle_exit(&mut self, now: Time, i: usize, exit: Exit, run: ModelRun<T>) {
        let key = self.groups[i].key.clone();
        let failed = exit != Exit::Clean || run.errored;
        if run.kind == WorkKind::Messages {
            if failed && (!run.delivered || run.piped_after_delivery) {
                self.out
                    .push(Command::RollbackCursor { group: key.clone() });
                if !self.shut_down {
                    self.groups[i].failures += 1;
                    let attempt = self.groups[i].failures;
                    // A fatal failure ends the retries at once.
                    if attempt > self.config.max_retries() || exit == Exit::Fatal {
                        self.out
                            .push(Command::TerminalFailure { group: key.clone() });
                        self.groups[i].failures = 0;
                        self.cancel_retry(i);
                    } else {
                        // The time a rate-limited run asked for, else the backoff.
                        let delay = match exit {
                            Exit::RetryAfter(after) => {
                                u64::try_from(after.as_nanos()).unwrap_or(u64::MAX)
                            }
                            _ => retry_delay_nanos(self.config.retry_base(), attempt),
                        };
                        let at = Time::from_nanos(now.as_nanos().saturating_add(delay));
                        self.groups[i].retry = Some((attempt, at));
                        self.set_timer(at, ModelTimer::Retry(key.clone()));
                    }
                }
            } else {
                // Success, or failed after a delivered reply: done for
                // retries (decision beyond the contract).
                self.groups[i].failures = 0;
            }
        }
        self.settle_compact(i);
        if self.config.background().skip_window.is_some() && !run.background {
            self.recent.retain(|(k, _)| *k != key);
            self.recent.push((key.clone(), now));
        }
        self.breaker_exit(now, key, &run, failed);
        if !self.shut_down {
            self.drain(i);
        }
    }

    /// B15: a run left; fast failures of distinct groups open the breaker,
    /// the probe's end decides it.
    fn breaker_exit(&mut self, now: Time, key: K, run: &ModelRun<T>, failed: bool) {
        let Some(b) = self.config.breaker() else {
            return;
        };
        if self.shut_down {
            return;
        }
        let fast = failed
            && !run.killed
            && run.state != RunState::Closing
            && now - run.spawned < b.fast_failure;
        match self.breaker {
            ModelBreaker::HalfOpen {
                cooldown,
                probe: Some(probe),
            } if probe == run.id => {
                if fast {
                    self.open_breaker(cooldown.saturating_mul(2).min(b.max_cooldown));
                } else {
                    self.close_breaker();
                }
            }
            ModelBreaker::Closed if fast => {
                self.fast_failures
                    .retain(|(at, g)| *g != key && now - *at < b.window);
                self.fast_failures.push((now, key));
                if self.fast_failures.len() >= b.groups {
                    self.open_breaker(b.cooldown);
                }
            }
            _ => {}
        }
    }

    fn open_breaker(&mut self, cooldown: Duration) {
        self.fast_failures.clear();
        self.breaker = ModelBreaker::Open { cooldown };
        let until = self.now + cooldown;
        self.set_timer(until, ModelTimer::Breaker);
        self.out.push(Command::BreakerOpened { until, cooldown });
    }

    fn close_breaker(&mut self) {
        self.breaker = ModelBreaker::Closed;
        self.cancel_timer(&ModelTimer::Breaker);
        self.out.push(Command::BreakerClosed);
        self.fill_slots();
        self.evict();
    }

    /// B14: a message for a group that would wake waits for its burst to
    /// end. Returns whether it does.
    fn debounce(&mut self, i: usize) -> bool {
        let Some(d) = self.config.debounce() else {
            return false;
        };
        let g = &self.groups[i];
        let waits = g.debounce.is_some()
            || (g.run.is_none() && !self.line.contains(&g.key) && !g.has_pending() && !g.paused);
        if !waits {
            return false;
        }
        let latest = g.debounce.unwrap_or(self.now + d.max_wait);
        let g = &mut self.groups[i];
        g.debounce = Some(latest);
        g.check = true;
        let key = g.key.clone();
        self.set_timer((self.now + d.quiet).min(latest), ModelTimer::Debounce(key));
        true
    }

    fn end_debounce(&mut self, i: usize) {
        if self.groups[i].debounce.take().is_some() {
            let key = self.groups[i].key.clone();
            self.cancel_timer(&ModelTimer::Debounce(key));
        }
    }

    /// B8: the slot of group `i`'s run was freed.
    fn drain(&mut self, i: usize) {
        let waiting = |line: &VecDeque<K>| {
            line.iter().any(|k| {
                *k != self.groups[i].key
                    && self
                        .group(k)
                        .is_some_and(|g| g.run.is_none() && g.has_pending())
            })
        };
        let conversations_waiting = waiting(&self.line);
        let others_waiting = conversations_waiting || waiting(&self.bg_line);
        if self.groups[i].has_pending() && !self.groups[i].paused {
            let conversation = self.groups[i].conversation();
            match self.config.policy() {
                // Above a lowered limit the freed slot is not free; nor is
                // it for background work past its cap.
                _ if !self.can_start(i) => self.join_line(i),
                // B16: background work yields under either policy.
                _ if !conversation && conversations_waiting => self.join_line(i),
                Policy::Fair if others_waiting => self.join_line(i),
                _ => self.start(i),
            }
        }
        self.fill_slots();
        self.evict();
    }

    /// Gives free slots to the waiting line, front first, skipping groups
    /// with nothing left.
    fn fill_slots(&mut self) {
        while self.free_slot() {
            // B16: the background lane's head after `aging` conversation
            // starts, or when no conversation waits; never past its cap.
            let aging = self.config.background().aging;
            let bg_due = !self.bg_line.is_empty()
                && self.background_admits()
                && (self.line.is_empty() || self.passed >= aging);
            let key = if bg_due {
                self.passed = 0;
                self.bg_line.pop_front()
            } else {
                if !self.bg_line.is_empty() && !self.line.is_empty() {
                    self.passed += 1;
                }
                self.line.pop_front()
            };
            let Some(key) = key else {
                break;
            };
            if self.bg_line.is_empty() {
                self.passed = 0;
            }
            let i = self.groups.iter().position(|g| g.key == key).expect("seen");
            if self.groups[i].run.is_none() && self.groups[i].has_pending() {
                self.start(i);
            }
        }
    }

    /// B10: deadlines at or before `now`, in (deadline, order set) order.
    fn timeout(&mut self, now: Time) {
        loop {
            let due = self
                .timers
                .iter()
                .enumerate()
                .filter(|(_, t)| t.at <= now)
                .min_by_key(|(_, t)| (t.at, t.seq))
                .map(|(n, _)| n);
            let Some(n) = due else { break };
            let timer = self.timers.remove(n);
            match timer.what {
                ModelTimer::Retry(key) => {
                    let i = self.index(key.clone());
                    self.groups[i].retry = None;
                    if !self.shut_down {
                        self.message(key);
                    }
                }
                ModelTimer::Idle(run) => self.run_due(run, CloseReason::IdleTimeout, |s| {
                    s == RunState::IdleWaiting
                }),
                ModelTimer::Turn(run) => {
                    self.run_due(run, CloseReason::TurnTimeout, |s| s == RunState::Busy)
                }
                ModelTimer::Stall(run) => {
                    self.run_due(run, CloseReason::Stalled, |s| s == RunState::Busy)
                }
                ModelTimer::Grace(run) => {
                    self.run_due(run, CloseReason::Shutdown, |s| s == RunState::Busy)
                }
                ModelTimer::Life(run) => {
                    self.run_due(run, CloseReason::RunTimeLimit, |s| s != RunState::Closing)
                }
                ModelTimer::Debounce(key) => {
                    let i = self.index(key);
                    self.groups[i].debounce = None;
                    self.wake(i);
                }
                ModelTimer::Breaker => match self.breaker {
                    ModelBreaker::Open { cooldown } => {
                        self.breaker = ModelBreaker::HalfOpen {
                            cooldown,
                            probe: None,
                        };
                        self.fill_slots();
                        self.evict();
                    }
                    ModelBreaker::HalfOpen { probe: Some(_), .. } => self.close_breaker(),
                    _ => {}
                },
                ModelTimer::Kill(run) => {
                    if let Ok(i) = self.live(run) {
                        let r = self.groups[i].run.as_mut().expect("live");
                        if !r.killed {
                            r.killed = true;
                            self.out.push(Command::Kill { run });
                        }
                    }
                }
            }
        }
    }

    /// A close deadline of `run` fired: close it if it is in a state the
    /// deadline watches.
    fn run_due(&mut self, run: RunId, reason: CloseReason, watched: impl Fn(RunState) -> bool) {
        if let Ok(i) = self.live(run) {
            if watched(self.groups[i].run.as_ref().expect("live").state) {
                self.close(i, reason);
            }
        }
    }

    /// B9.
    fn shutdown(&mut self) -> Result<Response<K, T, P>, Error> {
        if self.shut_down {
            return Err(Error::ShutDown);
        }
        let mut groups = Vec::new();
        let mut live_runs = Vec::new();
        for g in &self.groups {
            if let Some(r) = &g.run {
                live_runs.push(LiveRun {
                    run: r.id,
                    group: g.key.clone(),
                    kind: r.kind,
                    state: r.state,
                });
            }
            if g.has_pending() || g.retry.is_some() || g.compact_pending {
                groups.push(PendingGroup {
                    group: g.key.clone(),
                    jobs: g
                        .jobs
                        .iter()
                        .map(|j| match j {
                            ModelJob::Task { id, payload } => Work::Task {
                                id: id.clone(),
                                payload: payload.clone(),
                            },
                            ModelJob::Compact => Work::Compact,
                        })
                        .collect(),
                    background_tasks: g.background.iter().cloned().collect(),
                    unread_messages: g.check,
                    retry: g.retry,
                    compact_pending: g.compact_pending,
                });
            }
        }
        live_runs.sort_by_key(|r| r.run);
        self.shut_down = true;
        self.line.clear();
        self.bg_line.clear();
        self.passed = 0;
        // Nothing starts any more: the breaker ends, silently.
        self.breaker = ModelBreaker::Closed;
        self.fast_failures.clear();
        self.cancel_timer(&ModelTimer::Breaker);
        for i in 0..self.groups.len() {
            self.groups[i].paused = false;
            self.groups[i].jobs.clear();
            self.groups[i].background.clear();
            self.groups[i].check = false;
            self.groups[i].compact_pending = false;
            self.cancel_retry(i);
            self.end_debounce(i);
        }
        // Idle runs are closed at once, busy ones get the grace, by run id.
        for r in &live_runs {
            let i = self.live(r.run).expect("live");
            match r.state {
                RunState::IdleWaiting => self.close(i, CloseReason::Shutdown),
                RunState::Busy => {
                    self.set_after(Some(self.config.shutdown_grace()), ModelTimer::Grace(r.run))
                }
                RunState::Closing => {}
            }
        }
        Ok(Response::ShutDown(ShutdownReport { groups, live_runs }))
    }
}

/// `base · 2^(attempt − 1)` in nanoseconds, saturating (B7).
pub fn retry_delay_nanos(base: Duration, attempt: u32) -> u64 {
    let base = base.as_nanos();
    let shift = attempt.saturating_sub(1);
    if shift >= 64 {
        return u64::MAX;
    }
    let delay = base.saturating_mul(1u128 << shift);
    u64::try_from(delay).unwrap_or(u64::MAX)
}

/// The contract's percentage, computed the model's own way: the reported
/// percent, else tokens · 100 / limit (limit not zero), capped at 100.
fn model_percent(c: &ContextStats) -> Option<u32> {
    let p = match (c.percent, c.tokens, c.limit) {
        (Some(p), _, _) => f64::from(p),
        (None, Some(t), Some(l)) if l > 0 => ((t as u128 * 100) / l as u128) as f64,
        _ => return None,
    };
    Some(p.min(100.0) as u32)
}
