//! The invariant checker: P1–P12 checked on what an adapter sees.
//!
//! A [`Checker`] reads the stream of inputs given to a machine, the answer to
//! each, and the outputs each produced. It never looks inside the machine:
//! it keeps its own account of the obligations the contract creates (queued
//! tasks, message checks, retries, compactions owed, live runs) and reports
//! the first [`Violation`]. Run recorded production traces through it, or
//! wrap a machine in [`Checked`] to check every step as it happens.
//!
//! ```
//! use groupq::check::Checked;
//! use groupq::{Config, Input, Time};
//!
//! let mut q = Checked::<&str, u32, ()>::new(Config::default())?;
//! let outputs = q.handle(Time::ZERO, Input::Message { group: "a" })?;
//! assert_eq!(outputs.len(), 1); // Spawn
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::hash::{BuildHasher, Hash};

use crate::config::{Config, Policy};
use crate::error::{Error, PipeRefusal};
use crate::group::RunState;
use crate::input::{CompactionTrigger, Exit, Input, Response, RunId, TurnStatus};
use crate::machine::Machine;
use crate::output::{CloseReason, Command, Notice, Output, Work, WorkKind};
use crate::report::ShutdownReport;
use crate::time::Time;

/// Which promise a [`Violation`] broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Property {
    /// P1: a group never has two live runs.
    OneRunPerGroup,
    /// P2: live runs never exceed `max_active`.
    GlobalLimit,
    /// P3: a free slot implies no group with pending work is without a run.
    WorkConservation,
    /// P4: every accepted task runs exactly once or is reported at shutdown;
    /// duplicates are reported at submission; no run starts without work.
    NothingLostOrTwice,
    /// P5: per group, jobs start in FIFO order and before the message check.
    JobOrder,
    /// P6: fair policy: a group with `W` groups ahead starts within `W + 1`
    /// slot releases.
    Fairness,
    /// P7: pipe is never accepted into a task, compact or closing run.
    Pipe,
    /// P8: at most one `CloseInput` per run, only for live runs, only with
    /// a reason.
    CloseOnce,
    /// P9: a rejected input produces nothing, and only invalid inputs are
    /// rejected.
    Rejection,
    /// P10: no `Spawn` after shutdown.
    NoSpawnAfterShutdown,
    /// P11: a compact job starts only after the run that triggered it exited.
    CompactAfterExit,
    /// P12: retries follow B7; `TerminalFailure` after `max_retries + 1`
    /// consecutive failures.
    Retry,
    /// Another clause of the contract (B1–B11), e.g. a notice without cause.
    Contract,
}

/// The first broken promise, with the context to debug it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation<K, T> {
    /// Index of the input (0-based) after which the violation was seen.
    pub step: u64,
    /// The promise broken.
    pub property: Property,
    /// The group concerned, if one is.
    pub group: Option<K>,
    /// The run concerned, if one is.
    pub run: Option<RunId>,
    /// What happened.
    pub detail: String,
    _task: std::marker::PhantomData<T>,
}

impl<K: fmt::Debug, T> fmt::Display for Violation<K, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "step {}: {:?} violated", self.step, self.property)?;
        if let Some(g) = &self.group {
            write!(f, " for group {g:?}")?;
        }
        if let Some(r) = self.run {
            write!(f, " ({r})")?;
        }
        write!(f, ": {}", self.detail)
    }
}

impl<K: fmt::Debug, T: fmt::Debug> std::error::Error for Violation<K, T> {}

#[derive(Clone, Debug, PartialEq, Eq)]
enum JobObs<T> {
    Task(T),
    Compact,
}

#[derive(Clone, Debug)]
struct GroupObs<T> {
    run: Option<RunId>,
    jobs: VecDeque<JobObs<T>>,
    check: bool,
    failures: u32,
    retry_at: Option<(Time, u64)>,
    /// The live run reached the auto-compact threshold.
    compact_owed: bool,
    /// Waiting for a slot since: (starved-order key, groups ahead, releases then).
    starved: Option<(u64, usize, u64)>,
}

impl<T> Default for GroupObs<T> {
    fn default() -> Self {
        GroupObs {
            run: None,
            jobs: VecDeque::new(),
            check: false,
            failures: 0,
            retry_at: None,
            compact_owed: false,
            starved: None,
        }
    }
}

impl<T> GroupObs<T> {
    fn has_pending(&self) -> bool {
        self.check || !self.jobs.is_empty()
    }
    fn is_empty(&self) -> bool {
        self.run.is_none() && !self.has_pending() && self.retry_at.is_none() && !self.compact_owed
    }
}

#[derive(Clone, Debug)]
struct RunObs<K, T> {
    group: K,
    kind: WorkKind,
    task: Option<T>,
    state: RunState,
    errored: bool,
    delivered: bool,
    idle_deadline: Option<Time>,
}

/// What this step's input obliges the outputs to contain.
#[derive(Default)]
struct Expect {
    rollback: bool,
    terminal: bool,
    record_compaction: bool,
    warning: Option<u32>,
    auto_compacted: Option<Option<u64>>,
}

/// Checks P1–P12 over the stream an adapter sees. See the module docs.
#[derive(Clone, Debug)]
pub struct Checker<K, T> {
    config: Config,
    step: u64,
    now: Time,
    shut_down: bool,
    groups: HashMap<K, GroupObs<T>>,
    runs: HashMap<RunId, RunObs<K, T>>,
    last_run: u64,
    /// Pending retries in firing order: (deadline, order set) → group.
    retries: BTreeMap<(Time, u64), K>,
    seq: u64,
    /// Groups with pending work and no run, in the order they started waiting.
    starved: BTreeMap<u64, K>,
    releases: u64,
}

type Verdict<K, T> = Result<(), Violation<K, T>>;

impl<K, T> Checker<K, T>
where
    K: Clone + Eq + Hash + fmt::Debug,
    T: Clone + Eq + Hash + fmt::Debug,
{
    /// A checker for a machine built with `config`.
    pub fn new(config: &Config) -> Self {
        Checker {
            config: config.clone(),
            step: 0,
            now: Time::ZERO,
            shut_down: false,
            groups: HashMap::new(),
            runs: HashMap::new(),
            last_run: 0,
            retries: BTreeMap::new(),
            seq: 0,
            starved: BTreeMap::new(),
            releases: 0,
        }
    }

    /// Inputs checked so far.
    pub fn steps(&self) -> u64 {
        self.step
    }

    /// Runs live according to the outputs seen.
    pub fn live_runs(&self) -> usize {
        self.runs.len()
    }

    fn violation(
        &self,
        property: Property,
        group: Option<&K>,
        run: Option<RunId>,
        detail: String,
    ) -> Violation<K, T> {
        Violation {
            step: self.step,
            property,
            group: group.cloned(),
            run,
            detail,
            _task: std::marker::PhantomData,
        }
    }

    fn fail<R>(
        &self,
        property: Property,
        group: Option<&K>,
        run: Option<RunId>,
        detail: String,
    ) -> Result<R, Violation<K, T>> {
        Err(self.violation(property, group, run, detail))
    }

    /// Checks one input, the machine's answer to it, and every output it
    /// produced (`WakeAt` may be included or left out). Returns the first
    /// violation; after one, the checker's account is unreliable.
    pub fn step<P>(
        &mut self,
        now: Time,
        input: &Input<K, T, P>,
        result: &Result<Response<K, T, P>, Error>,
        outputs: &[Output<K, T, P>],
    ) -> Result<(), Violation<K, T>> {
        let r = self.step_inner(now, input, result, outputs);
        self.step += 1;
        r
    }

    fn step_inner<P>(
        &mut self,
        now: Time,
        input: &Input<K, T, P>,
        result: &Result<Response<K, T, P>, Error>,
        outputs: &[Output<K, T, P>],
    ) -> Verdict<K, T> {
        let response = match result {
            Err(e) => return self.check_rejection(now, input, e, outputs),
            Ok(r) => r,
        };
        if now < self.now {
            return self.fail(
                Property::Rejection,
                None,
                None,
                format!("accepted an input at {now}, before {}", self.now),
            );
        }
        self.now = now;
        let mut touched: Vec<K> = Vec::new();
        let mut expect = Expect::default();
        let mut expect_group: Option<K> = None;
        let mut idle_due: Vec<RunId> = Vec::new();
        match input {
            Input::Message { group } => {
                self.refuse_after_shutdown(group)?;
                self.groups.entry(group.clone()).or_default().check = true;
                touched.push(group.clone());
            }
            Input::Task { group, id, .. } => {
                self.refuse_after_shutdown(group)?;
                let live_dup = self.live_task(group).is_some_and(|t| t == id);
                let queued_dup = self
                    .groups
                    .get(group)
                    .is_some_and(|g| g.jobs.contains(&JobObs::Task(id.clone())));
                match response {
                    Response::Deduplicated if !(live_dup || queued_dup) => {
                        return self.fail(
                            Property::NothingLostOrTwice,
                            Some(group),
                            None,
                            format!("new task {id:?} reported as a duplicate"),
                        );
                    }
                    Response::Deduplicated => {}
                    Response::Accepted if live_dup || queued_dup => {
                        return self.fail(
                            Property::NothingLostOrTwice,
                            Some(group),
                            None,
                            format!("duplicate task {id:?} accepted"),
                        );
                    }
                    Response::Accepted => {
                        self.groups
                            .entry(group.clone())
                            .or_default()
                            .jobs
                            .push_back(JobObs::Task(id.clone()));
                        touched.push(group.clone());
                    }
                    _ => {
                        return self.fail(
                            Property::Contract,
                            Some(group),
                            None,
                            "task answered with neither Accepted nor Deduplicated".into(),
                        )
                    }
                }
            }
            Input::Pipe { group } => {
                let Response::Piped(run) = response else {
                    return self.fail(
                        Property::Contract,
                        Some(group),
                        None,
                        "pipe not answered with a run".into(),
                    );
                };
                let live = self.groups.get(group).and_then(|g| g.run);
                let Some(r) = self.runs.get_mut(run).filter(|_| live == Some(*run)) else {
                    return self.fail(
                        Property::Pipe,
                        Some(group),
                        Some(*run),
                        "piped into a run that is not the group's live run".into(),
                    );
                };
                if self.shut_down || r.kind != WorkKind::Messages || r.state == RunState::Closing {
                    let detail = format!("piped into a {:?} run in state {:?}", r.kind, r.state);
                    return self.fail(Property::Pipe, Some(group), Some(*run), detail);
                }
                r.state = RunState::Busy;
            }
            Input::Idle { run } => {
                let r = self.live_run_mut(*run)?;
                if r.state == RunState::Busy {
                    r.state = RunState::IdleWaiting;
                }
            }
            Input::TurnOutput { run, output } => {
                let (warn, auto, notices) = (
                    u32::from(self.config.warn_percent()),
                    u32::from(self.config.auto_compact_percent()),
                    self.config.notices(),
                );
                let idle_timeout = self.config.idle_timeout();
                let r = self.live_run_mut(*run)?;
                let success = output.status == TurnStatus::Success;
                r.errored |= !success;
                r.delivered |= output.delivered;
                if output.replied && r.state != RunState::Closing {
                    r.idle_deadline = Some(now.saturating_add(idle_timeout));
                }
                if success && r.state == RunState::Busy {
                    r.state = RunState::IdleWaiting;
                }
                let (group, kind) = (r.group.clone(), r.kind);
                let percent = output.context.and_then(|c| c.effective_percent());
                let over = percent.is_some_and(|p| p >= auto)
                    || output.context.is_some_and(|c| c.compact_recommended);
                let is_messages = kind == WorkKind::Messages;
                if notices && success && output.replied && is_messages {
                    expect.warning = percent.filter(|&p| p >= warn);
                    expect.auto_compacted = output
                        .compaction
                        .filter(|c| c.trigger == CompactionTrigger::Auto)
                        .map(|c| c.tokens_before);
                }
                expect.record_compaction = output.compaction.is_some();
                let g = self.groups.entry(group.clone()).or_default();
                if output.compaction.is_some() {
                    g.compact_owed = false;
                } else if is_messages && over && !g.jobs.contains(&JobObs::Compact) {
                    g.compact_owed = true;
                }
                expect_group = Some(group.clone());
                touched.push(group);
            }
            Input::Exited { run, exit } => {
                self.live_run_mut(*run)?;
                let r = self.runs.remove(run).expect("checked live");
                self.releases += 1;
                let max_retries = self.config.max_retries();
                let shut_down = self.shut_down;
                let g = self.groups.entry(r.group.clone()).or_default();
                g.run = None;
                let failed = *exit == Exit::Failed || r.errored;
                if r.kind == WorkKind::Messages {
                    if failed && !r.delivered {
                        expect.rollback = true;
                        g.failures += 1;
                        if shut_down {
                            g.failures = 0;
                        } else if g.failures > max_retries {
                            expect.terminal = true;
                            g.failures = 0;
                            if let Some(at) = g.retry_at.take() {
                                self.retries.remove(&at);
                            }
                        } else {
                            self.seq += 1;
                            let at = (
                                now.saturating_add(self.config.retry_delay(g.failures)),
                                self.seq,
                            );
                            if let Some(old) = g.retry_at.replace(at) {
                                self.retries.remove(&old);
                            }
                            self.retries.insert(at, r.group.clone());
                        }
                    } else {
                        g.failures = 0;
                    }
                }
                if std::mem::take(&mut g.compact_owed)
                    && !shut_down
                    && !g.jobs.contains(&JobObs::Compact)
                {
                    g.jobs.push_front(JobObs::Compact);
                }
                expect_group = Some(r.group.clone());
                touched.push(r.group);
            }
            Input::Timeout => {
                while let Some(entry) = self.retries.first_entry() {
                    if entry.key().0 > now {
                        break;
                    }
                    let group = entry.remove();
                    let g = self.groups.entry(group.clone()).or_default();
                    g.retry_at = None;
                    g.check = true;
                    touched.push(group);
                }
                let mut due: Vec<RunId> = self
                    .runs
                    .iter()
                    .filter(|(_, r)| {
                        r.state != RunState::Closing && r.idle_deadline.is_some_and(|d| d <= now)
                    })
                    .map(|(&id, _)| id)
                    .collect();
                due.sort();
                idle_due = due;
            }
            Input::Shutdown => {
                if self.shut_down {
                    return self.fail(
                        Property::Rejection,
                        None,
                        None,
                        "second shutdown accepted".into(),
                    );
                }
                let Response::ShutDown(report) = response else {
                    return self.fail(
                        Property::Contract,
                        None,
                        None,
                        "shutdown answered without a report".into(),
                    );
                };
                self.check_report(report)?;
            }
        }
        self.check_outputs(
            now,
            outputs,
            &mut expect,
            expect_group.as_ref(),
            &mut touched,
        )?;
        for run in idle_due {
            if let Some(r) = self.runs.get(&run) {
                if r.state != RunState::Closing {
                    return self.fail(
                        Property::Contract,
                        Some(&r.group.clone()),
                        Some(run),
                        "idle deadline passed without CloseInput".into(),
                    );
                }
            }
        }
        // B4/B2: an idle run whose group has jobs waiting must be preempted.
        for (&id, r) in &self.runs {
            if r.state == RunState::IdleWaiting
                && self
                    .groups
                    .get(&r.group)
                    .is_some_and(|g| !g.jobs.is_empty())
            {
                return self.fail(
                    Property::Contract,
                    Some(&r.group),
                    Some(id),
                    "idle run not preempted although jobs wait".into(),
                );
            }
        }
        self.check_wake(outputs)?;
        self.settle(touched)
    }

    /// B10 and the run loop: the `WakeAt` the adapter sleeps until (when it
    /// is among the outputs) is no later than the earliest deadline the
    /// contract set: a scheduled retry, or the idle deadline of a run whose
    /// input is still open. A later or missing wake-up would leave the
    /// retry or the close undone.
    fn check_wake<P>(&self, outputs: &[Output<K, T, P>]) -> Verdict<K, T> {
        let retry = self
            .retries
            .iter()
            .next()
            .map(|((at, _), group)| (*at, Some(group), None));
        let idle = self
            .runs
            .iter()
            .filter(|(_, r)| r.state != RunState::Closing)
            .filter_map(|(&id, r)| r.idle_deadline.map(|at| (at, Some(&r.group), Some(id))))
            .min_by_key(|&(at, _, id)| (at, id));
        let Some((due, group, run)) = [retry, idle].into_iter().flatten().min_by_key(|d| d.0)
        else {
            return Ok(());
        };
        for output in outputs {
            if let Output::WakeAt(wake) = output {
                if wake.map_or(true, |w| w > due) {
                    return self.fail(
                        Property::Contract,
                        group,
                        run,
                        format!("WakeAt({wake:?}) but a deadline is due at {due}"),
                    );
                }
            }
        }
        Ok(())
    }

    fn refuse_after_shutdown(&self, group: &K) -> Verdict<K, T> {
        if self.shut_down {
            return self.fail(
                Property::Rejection,
                Some(group),
                None,
                "work accepted after shutdown".into(),
            );
        }
        Ok(())
    }

    fn live_task(&self, group: &K) -> Option<&T> {
        let run = self.groups.get(group)?.run?;
        self.runs.get(&run)?.task.as_ref()
    }

    fn live_run_mut(&mut self, run: RunId) -> Result<&mut RunObs<K, T>, Violation<K, T>> {
        if !self.runs.contains_key(&run) {
            return self.fail(
                Property::Rejection,
                None,
                Some(run),
                "input for a run that is not live was accepted".into(),
            );
        }
        Ok(self.runs.get_mut(&run).expect("checked"))
    }

    /// P9: a rejected input produced nothing, and deserved rejection.
    fn check_rejection<P>(
        &self,
        now: Time,
        input: &Input<K, T, P>,
        e: &Error,
        outputs: &[Output<K, T, P>],
    ) -> Verdict<K, T> {
        if outputs.iter().any(|o| !matches!(o, Output::WakeAt(_))) {
            return self.fail(
                Property::Rejection,
                None,
                None,
                format!("rejected input ({e}) produced outputs"),
            );
        }
        if now < self.now {
            return match e {
                Error::TimeWentBackwards { .. } => Ok(()),
                _ => self.fail(
                    Property::Rejection,
                    None,
                    None,
                    format!("time went backwards but the error was {e}"),
                ),
            };
        }
        let justified = match (input, e) {
            (_, Error::TimeWentBackwards { .. }) => false,
            (Input::Message { .. } | Input::Task { .. } | Input::Shutdown, Error::ShutDown) => {
                self.shut_down
            }
            (
                Input::Idle { run } | Input::TurnOutput { run, .. } | Input::Exited { run, .. },
                Error::UnknownRun(r) | Error::StaleRun(r),
            ) => r == run && !self.runs.contains_key(run),
            (Input::Pipe { group }, Error::PipeRefused(reason)) => {
                self.pipe_refusal_justified(group, *reason)
            }
            _ => false,
        };
        if justified {
            Ok(())
        } else {
            self.fail(
                Property::Rejection,
                None,
                None,
                format!("valid input rejected: {e}"),
            )
        }
    }

    fn pipe_refusal_justified(&self, group: &K, reason: PipeRefusal) -> bool {
        if self.shut_down {
            return reason == PipeRefusal::ShutDown;
        }
        let run = self
            .groups
            .get(group)
            .and_then(|g| g.run)
            .and_then(|r| self.runs.get(&r));
        match (reason, run) {
            (PipeRefusal::NoRun, None) => true,
            (PipeRefusal::TaskRun, Some(r)) => r.kind == WorkKind::Task,
            (PipeRefusal::CompactRun, Some(r)) => r.kind == WorkKind::Compact,
            (PipeRefusal::Closing, Some(r)) => {
                r.kind == WorkKind::Messages && r.state == RunState::Closing
            }
            _ => false,
        }
    }

    /// B9/P4: the report lists exactly the pending work, then it is forgotten.
    fn check_report<P>(&mut self, report: &ShutdownReport<K, T, P>) -> Verdict<K, T> {
        let mut listed: HashMap<&K, usize> = HashMap::new();
        for (i, pg) in report.groups.iter().enumerate() {
            if listed.insert(&pg.group, i).is_some() {
                return self.fail(
                    Property::NothingLostOrTwice,
                    Some(&pg.group),
                    None,
                    "group listed twice in the shutdown report".into(),
                );
            }
        }
        // Report order first, so the violation found is deterministic there.
        let groups: Vec<&K> = report
            .groups
            .iter()
            .map(|p| &p.group)
            .chain(self.groups.keys())
            .collect();
        for key in groups {
            let g = self.groups.get(key);
            let expected_jobs: Vec<JobObs<T>> = g
                .map(|g| g.jobs.iter().cloned().collect())
                .unwrap_or_default();
            let (check, retry, owed) = g.map_or((false, None, false), |g| {
                (
                    g.check,
                    g.retry_at.map(|r| r.0),
                    g.compact_owed && g.run.is_some(),
                )
            });
            let entry = listed.get(key).map(|&i| &report.groups[i]);
            let got_jobs: Vec<JobObs<T>> = entry
                .map(|e| {
                    e.jobs
                        .iter()
                        .map(|w| match w {
                            Work::Task { id, .. } => JobObs::Task(id.clone()),
                            _ => JobObs::Compact,
                        })
                        .collect()
                })
                .unwrap_or_default();
            if got_jobs != expected_jobs {
                return self.fail(
                    Property::NothingLostOrTwice,
                    Some(key),
                    None,
                    format!("shutdown report lists jobs {got_jobs:?}, expected {expected_jobs:?}"),
                );
            }
            let got = entry.map_or((false, None, false), |e| {
                (e.message_check, e.retry.map(|r| r.1), e.compact_pending)
            });
            if got != (check, retry, owed) {
                return self.fail(
                    Property::NothingLostOrTwice,
                    Some(key),
                    None,
                    format!(
                        "shutdown report has (check, retry, compact) {got:?}, expected {:?}",
                        (check, retry, owed)
                    ),
                );
            }
        }
        let mut live: Vec<RunId> = self.runs.keys().copied().collect();
        live.sort();
        let reported: Vec<RunId> = report.live_runs.iter().map(|r| r.run).collect();
        if live != reported {
            return self.fail(
                Property::Contract,
                None,
                None,
                format!("shutdown report lists live runs {reported:?}, expected {live:?}"),
            );
        }
        self.shut_down = true;
        self.retries.clear();
        self.starved.clear();
        for g in self.groups.values_mut() {
            g.jobs.clear();
            g.check = false;
            g.retry_at = None;
            g.starved = None;
            if g.run.is_some() {
                g.compact_owed = false;
            }
        }
        self.groups.retain(|_, g| !g.is_empty());
        Ok(())
    }

    fn check_outputs<P>(
        &mut self,
        now: Time,
        outputs: &[Output<K, T, P>],
        expect: &mut Expect,
        expect_group: Option<&K>,
        touched: &mut Vec<K>,
    ) -> Verdict<K, T> {
        for output in outputs {
            let Output::Command(command) = output else {
                continue;
            };
            match command {
                Command::Spawn { run, group, work } => {
                    self.check_spawn(*run, group, work)?;
                    touched.push(group.clone());
                }
                Command::CloseInput { run, reason } => {
                    let Some(r) = self.runs.get_mut(run) else {
                        return self.fail(
                            Property::CloseOnce,
                            None,
                            Some(*run),
                            "CloseInput for a run that is not live".into(),
                        );
                    };
                    if r.state == RunState::Closing {
                        let group = r.group.clone();
                        return self.fail(
                            Property::CloseOnce,
                            Some(&group),
                            Some(*run),
                            "second CloseInput".into(),
                        );
                    }
                    let justified = match reason {
                        CloseReason::Preempt => self
                            .groups
                            .get(&r.group)
                            .is_some_and(|g| !g.jobs.is_empty()),
                        CloseReason::IdleTimeout => r.idle_deadline.is_some_and(|d| d <= now),
                    };
                    if !justified {
                        let group = r.group.clone();
                        return self.fail(
                            Property::CloseOnce,
                            Some(&group),
                            Some(*run),
                            format!("CloseInput({reason:?}) without cause"),
                        );
                    }
                    r.state = RunState::Closing;
                }
                Command::RollbackCursor { group } => {
                    if !(std::mem::take(&mut expect.rollback) && expect_group == Some(group)) {
                        return self.fail(
                            Property::Retry,
                            Some(group),
                            None,
                            "unexpected RollbackCursor".into(),
                        );
                    }
                }
                Command::TerminalFailure { group } => {
                    if !(std::mem::take(&mut expect.terminal) && expect_group == Some(group)) {
                        return self.fail(
                            Property::Retry,
                            Some(group),
                            None,
                            "unexpected TerminalFailure".into(),
                        );
                    }
                }
                Command::RecordCompaction { group } => {
                    if !(std::mem::take(&mut expect.record_compaction)
                        && expect_group == Some(group))
                    {
                        return self.fail(
                            Property::Contract,
                            Some(group),
                            None,
                            "RecordCompaction without a compaction".into(),
                        );
                    }
                }
                Command::Notify { group, notice } => {
                    let ok = expect_group == Some(group)
                        && match notice {
                            Notice::ContextWarning { percent } => {
                                expect.warning.take() == Some(*percent)
                            }
                            Notice::AutoCompacted { tokens_before } => {
                                expect.auto_compacted.take() == Some(*tokens_before)
                            }
                        };
                    if !ok {
                        return self.fail(
                            Property::Contract,
                            Some(group),
                            None,
                            format!("unexpected notice {notice:?}"),
                        );
                    }
                }
            }
        }
        let missing = [
            (expect.rollback, Property::Retry, "RollbackCursor"),
            (expect.terminal, Property::Retry, "TerminalFailure"),
            (
                expect.record_compaction,
                Property::Contract,
                "RecordCompaction",
            ),
            (
                expect.warning.is_some(),
                Property::Contract,
                "context warning",
            ),
            (
                expect.auto_compacted.is_some(),
                Property::Contract,
                "auto-compacted notice",
            ),
        ];
        for (missing, property, what) in missing {
            if missing {
                return self.fail(
                    property,
                    expect_group,
                    None,
                    format!("expected {what} was not emitted"),
                );
            }
        }
        Ok(())
    }

    fn check_spawn<P>(&mut self, run: RunId, group: &K, work: &Work<T, P>) -> Verdict<K, T> {
        if self.shut_down {
            return self.fail(
                Property::NoSpawnAfterShutdown,
                Some(group),
                Some(run),
                "Spawn after shutdown".into(),
            );
        }
        if run.get() <= self.last_run {
            return self.fail(
                Property::OneRunPerGroup,
                Some(group),
                Some(run),
                "run id reused or not increasing".into(),
            );
        }
        self.last_run = run.get();
        if self.runs.len() >= self.config.max_active() {
            return self.fail(
                Property::GlobalLimit,
                Some(group),
                Some(run),
                format!(
                    "Spawn with {} runs live, max_active {}",
                    self.runs.len(),
                    self.config.max_active()
                ),
            );
        }
        let (policy, releases) = (self.config.policy(), self.releases);
        let g = self.groups.entry(group.clone()).or_default();
        if let Some(other) = g.run {
            return self.fail(
                Property::OneRunPerGroup,
                Some(group),
                Some(run),
                format!("second live run; {other} is still live"),
            );
        }
        let task = match work {
            Work::Task { id, .. } => match g.jobs.front() {
                Some(JobObs::Task(front)) if front == id => {
                    g.jobs.pop_front();
                    Some(id.clone())
                }
                Some(_) if g.jobs.contains(&JobObs::Task(id.clone())) => {
                    return self.fail(
                        Property::JobOrder,
                        Some(group),
                        Some(run),
                        format!("task {id:?} started out of FIFO order"),
                    );
                }
                _ => {
                    return self.fail(
                        Property::NothingLostOrTwice,
                        Some(group),
                        Some(run),
                        format!("task {id:?} started but not queued"),
                    )
                }
            },
            Work::Compact => {
                if g.jobs.front() != Some(&JobObs::Compact) {
                    return self.fail(
                        Property::CompactAfterExit,
                        Some(group),
                        Some(run),
                        "compact started without a compact owed by an exited run, or out of order"
                            .into(),
                    );
                }
                g.jobs.pop_front();
                None
            }
            Work::Messages => {
                if !g.jobs.is_empty() {
                    return self.fail(
                        Property::JobOrder,
                        Some(group),
                        Some(run),
                        "message check started before queued jobs".into(),
                    );
                }
                if !g.check {
                    return self.fail(
                        Property::NothingLostOrTwice,
                        Some(group),
                        Some(run),
                        "Messages run started without a message check".into(),
                    );
                }
                g.check = false;
                // The run reads the rolled-back messages: no retry left.
                if let Some(at) = g.retry_at.take() {
                    self.retries.remove(&at);
                }
                None
            }
        };
        g.run = Some(run);
        if let Some((order, ahead, since)) = g.starved.take() {
            self.starved.remove(&order);
            if policy == Policy::Fair && releases - since > ahead as u64 + 1 {
                return self.fail(
                    Property::Fairness,
                    Some(group),
                    Some(run),
                    format!(
                        "waited {} releases with {ahead} groups ahead",
                        releases - since
                    ),
                );
            }
        }
        self.runs.insert(
            run,
            RunObs {
                group: group.clone(),
                kind: work.kind(),
                task,
                state: RunState::Busy,
                errored: false,
                delivered: false,
                idle_deadline: None,
            },
        );
        Ok(())
    }

    /// Updates the waiting account of the groups this step touched, then
    /// checks P3 (work conservation) and forgets empty groups.
    fn settle(&mut self, touched: Vec<K>) -> Verdict<K, T> {
        for key in touched {
            let Some(g) = self.groups.get_mut(&key) else {
                continue;
            };
            let starving = !self.shut_down && g.run.is_none() && g.has_pending();
            match (starving, g.starved) {
                (true, None) => {
                    self.seq += 1;
                    g.starved = Some((self.seq, self.starved.len(), self.releases));
                    self.starved.insert(self.seq, key.clone());
                }
                (false, Some((order, _, _))) => {
                    g.starved = None;
                    self.starved.remove(&order);
                }
                _ => {}
            }
            if g.is_empty() {
                self.groups.remove(&key);
            }
        }
        if !self.shut_down && self.runs.len() < self.config.max_active() {
            if let Some((_, key)) = self.starved.first_key_value() {
                let key = key.clone();
                return self.fail(
                    Property::WorkConservation,
                    Some(&key),
                    None,
                    format!(
                        "{} of {} slots free while the group waits",
                        self.config.max_active() - self.runs.len(),
                        self.config.max_active()
                    ),
                );
            }
        }
        Ok(())
    }
}

/// A [`Machine`] whose every input is checked by a [`Checker`]: the
/// simplest way to run a simulation or a test with the invariants on.
#[derive(Debug)]
pub struct Checked<K, T, P, S = RandomState> {
    machine: Machine<K, T, P, S>,
    checker: Checker<K, T>,
    outputs: Vec<Output<K, T, P>>,
}

/// The outputs of one [`Checked`] step, without the final `WakeAt`.
pub type Outputs<'a, K, T, P> = &'a [Output<K, T, P>];

/// The answer and outputs of one [`Checked`] step.
pub type StepResult<'a, K, T, P> =
    Result<(Response<K, T, P>, Outputs<'a, K, T, P>), StepError<K, T>>;

/// What went wrong in a [`Checked`] step.
#[derive(Debug, PartialEq, Eq)]
pub enum StepError<K, T> {
    /// The machine rejected the input (the checker agreed it should).
    Rejected(Error),
    /// The machine broke a promise.
    Violation(Violation<K, T>),
}

impl<K: fmt::Debug, T> fmt::Display for StepError<K, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StepError::Rejected(e) => write!(f, "rejected: {e}"),
            StepError::Violation(v) => v.fmt(f),
        }
    }
}

impl<K: fmt::Debug, T: fmt::Debug> std::error::Error for StepError<K, T> {}

impl<K, T, P> Checked<K, T, P, RandomState>
where
    K: Clone + Eq + Hash + fmt::Debug,
    T: Clone + Eq + Hash + fmt::Debug,
    P: Clone,
{
    /// A checked machine with the standard hasher.
    pub fn new(config: Config) -> Result<Self, Error> {
        Self::with_hasher(config, RandomState::new())
    }
}

impl<K, T, P, S> Checked<K, T, P, S>
where
    K: Clone + Eq + Hash + fmt::Debug,
    T: Clone + Eq + Hash + fmt::Debug,
    P: Clone,
    S: BuildHasher + Clone,
{
    /// A checked machine whose maps use `hasher`.
    pub fn with_hasher(config: Config, hasher: S) -> Result<Self, Error> {
        Ok(Checked {
            checker: Checker::new(&config),
            machine: Machine::with_hasher(config, hasher)?,
            outputs: Vec::new(),
        })
    }

    /// Handles `input`, drains every output, checks the step, and returns
    /// the outputs (without the final `WakeAt`; see [`Machine::next_deadline`]).
    pub fn handle(
        &mut self,
        now: Time,
        input: Input<K, T, P>,
    ) -> Result<Outputs<'_, K, T, P>, StepError<K, T>> {
        self.step(now, input).map(|(_, outputs)| outputs)
    }

    /// Like [`handle`](Checked::handle), also returning the machine's answer.
    pub fn step(&mut self, now: Time, input: Input<K, T, P>) -> StepResult<'_, K, T, P> {
        self.outputs.clear();
        // The checker needs the input after the machine consumed it.
        let seen = input.clone();
        let result = self.machine.handle(now, input);
        loop {
            let o = self.machine.poll();
            let last = matches!(o, Output::WakeAt(_));
            self.outputs.push(o);
            if last {
                break;
            }
        }
        // The checker sees the final `WakeAt` too; the caller does not.
        let checked = self.checker.step(now, &seen, &result, &self.outputs);
        self.outputs.pop();
        checked.map_err(StepError::Violation)?;
        match result {
            Ok(response) => Ok((response, &self.outputs)),
            Err(e) => Err(StepError::Rejected(e)),
        }
    }

    /// The machine, to read (`explain`, `stats`, `next_deadline`).
    pub fn machine(&self) -> &Machine<K, T, P, S> {
        &self.machine
    }

    /// The checker.
    pub fn checker(&self) -> &Checker<K, T> {
        &self.checker
    }
}
