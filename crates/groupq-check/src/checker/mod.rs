//! The invariant checker: the promises of the contract, checked on what an
//! adapter sees (the inputs, the answers, the commands and the next
//! deadline), never on the machine's fields.
//!
//! A [`Checker`] keeps its own account of the obligations the stream
//! creates (queued tasks with their payloads, unread messages, retries,
//! compactions owed, live runs and their states, the waiting order) and
//! reports the first [`Violation`]. It keeps its own arithmetic too (retry
//! delays, context percentages): it calls nothing of the machine's to
//! decide what is right. Each step costs O(log n) in the groups, runs and
//! jobs it tracks, so production-sized recordings can be checked.
//!
//! Where the checks live: `inputs.rs` (what each input changes and which
//! answers it may get), `commands.rs` (what each command must be justified
//! by), `report.rs` (the shutdown report), `settle.rs` (what must hold after
//! every step: work conservation, fairness, preemption, the next deadline).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::hash::Hash;

use groupq::{Config, Error, Input, Output, Policy, Response, RunId, Time};

mod account;
mod background;
mod commands;
mod deadlines;
mod inputs;
mod pacing;
mod report;
mod settle;

use account::{Expect, GroupAccount, RunAccount};
use deadlines::Deadline;
use pacing::{BreakerAccount, BreakerOwed};

/// Which promise a [`Violation`] broke. The names are defined in the
/// crate docs of `groupq` ("Invariants").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Property {
    /// A group never has two live runs.
    OneRunPerGroup,
    /// Live runs never exceed `max_active`: no spawn at or above the
    /// limit in force, and no idle run left open above a lowered one.
    GlobalLimit,
    /// After an input, a free slot implies no group with pending work is
    /// without a run (before shutdown).
    WorkConservation,
    /// Every accepted task runs exactly once, with its own payload, or is
    /// handed back at shutdown; duplicates are reported at submission; no
    /// run starts without work.
    NothingLostOrTwice,
    /// Per group, jobs start in FIFO order and before the unread messages.
    JobOrder,
    /// Fair policy: a group with `W` groups ahead starts within `W + 1`
    /// slot releases.
    Fairness,
    /// A pipe is never accepted into a task, compact or closing run.
    Pipe,
    /// At most one `CloseInput` per run, only for live runs, only with its
    /// cause.
    CloseOnce,
    /// A rejected input produces nothing, only invalid inputs are rejected,
    /// and every answer fits its input.
    Rejection,
    /// No `Spawn` after shutdown.
    NoSpawnAfterShutdown,
    /// A compact job starts only after the run that triggered it exited.
    CompactAfterExit,
    /// Retry delays double from the base; `TerminalFailure` after
    /// `max_retries + 1` consecutive failures.
    Retry,
    /// A run whose deadline passed is closed, and a closed run still live
    /// after its kill grace is killed.
    Deadline,
    /// At most one `Kill` per run, only for a live run whose kill deadline
    /// passed.
    KillOnce,
    /// With eviction on, no slot is held by an idle run while a group waits
    /// that no closing run will make room for; the run closed is the one
    /// idle longest, and never more than the waiting groups need.
    Eviction,
    /// Nothing is spawned for a paused group.
    Paused,
    /// A messages run starts only once its burst of messages is over: the
    /// quiet period passed, or the maximum wait, or the group woke for
    /// another reason.
    Debounce,
    /// No run starts while the breaker is open, one probe while it is
    /// half-open; it opens exactly when fast failures of enough distinct
    /// groups fall within its window, and closes exactly when its probe
    /// lives.
    Breaker,
    /// Background tasks give way: they start only when their group has
    /// no normal jobs and no unread messages, never past `max_running`,
    /// never close a run, are skipped exactly when asked while the
    /// conversation is active, and a group waiting with background work
    /// only starts within `(B + 1) · (aging + 1)` eligible releases.
    Background,
    /// Another clause of the contract: a notice without cause, a late
    /// wake-up, a wrong report.
    Contract,
}

/// The first broken promise, with the context to debug it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation<K> {
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
}

impl<K: fmt::Debug> fmt::Display for Violation<K> {
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

impl<K: fmt::Debug> std::error::Error for Violation<K> {}

type Verdict<K> = Result<(), Violation<K>>;

/// The numbers of the configuration the checks need, copied once.
#[derive(Clone, Debug)]
struct Rules {
    /// The limits in force: the config's, then each accepted `SetLimits`'.
    max_active: usize,
    max_queued_tasks: Option<usize>,
    max_group_tasks: Option<usize>,
    fair: bool,
    retry_base_nanos: u128,
    max_retries: u32,
    idle_timeout_nanos: u64,
    kill_grace_nanos: u64,
    max_turn_nanos: u64,
    max_compact_nanos: u64,
    max_run_nanos: Option<u64>,
    stall_nanos: Option<u64>,
    /// The stall window from a spawn to the run's first sign of life.
    first_stall_nanos: Option<u64>,
    shutdown_grace_nanos: u64,
    evict_idle: bool,
    warn_percent: u32,
    auto_compact_percent: u32,
    notices: bool,
    /// `(quiet, max_wait)` of the debounce.
    debounce: Option<(u64, u64)>,
    /// The breaker's settings (`pacing::breaker_rules`).
    breaker: Option<(u64, usize, u64, u64, u64)>,
    /// Background settings: aging, `max_running`, the skip window.
    aging: u32,
    max_background: Option<usize>,
    skip_window_nanos: Option<u64>,
}

impl Rules {
    fn of(config: &Config) -> Rules {
        Rules {
            max_active: config.max_active(),
            max_queued_tasks: config.max_queued_tasks(),
            max_group_tasks: config.max_group_tasks(),
            fair: config.policy() == Policy::Fair,
            retry_base_nanos: config.retry_base().as_nanos(),
            max_retries: config.max_retries(),
            idle_timeout_nanos: nanos(config.idle_timeout()),
            kill_grace_nanos: nanos(config.kill_grace()),
            max_turn_nanos: nanos(config.max_turn_time()),
            max_compact_nanos: nanos(config.max_compact_time()),
            max_run_nanos: config.max_run_time().map(nanos),
            stall_nanos: config.stall_timeout().map(nanos),
            first_stall_nanos: config
                .stall_timeout()
                .map(|s| nanos(s).saturating_add(nanos(config.start_grace()))),
            shutdown_grace_nanos: nanos(config.shutdown_grace()),
            evict_idle: config.evict_idle(),
            warn_percent: u32::from(config.warn_percent()),
            auto_compact_percent: u32::from(config.auto_compact_percent()),
            notices: config.notices(),
            debounce: config
                .debounce()
                .map(|d| (nanos(d.quiet), nanos(d.max_wait))),
            breaker: config.breaker().map(pacing::breaker_rules),
            aging: config.background().aging,
            max_background: config.background().max_running,
            skip_window_nanos: config.background().skip_window.map(nanos),
        }
    }

    /// When retry `attempt` (from 1) is due after a failure at `now`:
    /// `base · 2^(attempt−1)` later, saturating at the end of time.
    fn retry_at(&self, now: Time, attempt: u32) -> Time {
        let shift = attempt.saturating_sub(1);
        let max = u128::from(u64::MAX);
        let delay = if shift >= 64 || self.retry_base_nanos > max >> shift {
            u64::MAX
        } else {
            (self.retry_base_nanos << shift) as u64
        };
        Time::from_nanos(now.as_nanos().saturating_add(delay))
    }
}

/// A duration in whole nanoseconds, saturating.
pub(super) fn nanos(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Checks the contract over the stream an adapter sees. See the module
/// docs.
#[derive(Clone, Debug)]
pub struct Checker<K, T, P> {
    rules: Rules,
    step: u64,
    now: Time,
    shut_down: bool,
    groups: HashMap<K, GroupAccount<T, P>>,
    /// Tracked groups by first sight: walks over groups use this order.
    order: BTreeMap<u64, K>,
    runs: HashMap<RunId, RunAccount<K, T>>,
    /// Every armed run deadline: `(at, run, which)`.
    deadlines: BTreeSet<(Time, RunId, Deadline)>,
    /// Idle runs in the order they became idle.
    idle_order: BTreeMap<u64, RunId>,
    /// Runs closing and not yet exited.
    closing: usize,
    /// The host close owed by this step was emitted.
    host_closed: bool,
    last_run: u64,
    /// Pending retries in firing order: (deadline, order set) → group.
    retries: BTreeMap<(Time, u64), K>,
    /// Debounce deadlines in firing order, keyed like `retries`.
    debounces: BTreeMap<(Time, u64), K>,
    /// Groups with a conversation waiting and no run, in the order they
    /// started waiting.
    starved: BTreeMap<u64, K>,
    /// Groups waiting with background tasks only, likewise (B16).
    starved_background: BTreeMap<u64, K>,
    /// Slot releases (exits) so far.
    releases: u64,
    /// Releases after which a background run could start (below
    /// `max_running`), and background spawns, so far (B16).
    background_releases: u64,
    background_starts: u64,
    /// Live background runs.
    background_live: usize,
    /// Each group's last conversation run exit, with a skip window.
    conversation_exits: HashMap<K, Time>,
    seq: u64,
    breaker: BreakerAccount<K>,
    /// The breaker commands this step owes.
    breaker_owed: BreakerOwed,
}

impl<K, T, P> Checker<K, T, P>
where
    K: Clone + Eq + Hash + fmt::Debug,
    T: Clone + Eq + Hash + fmt::Debug,
    P: Clone + PartialEq,
{
    /// A checker for a machine built with `config`.
    pub fn new(config: &Config) -> Self {
        Checker {
            rules: Rules::of(config),
            step: 0,
            now: Time::ZERO,
            shut_down: false,
            groups: HashMap::new(),
            order: BTreeMap::new(),
            runs: HashMap::new(),
            deadlines: BTreeSet::new(),
            idle_order: BTreeMap::new(),
            closing: 0,
            host_closed: false,
            last_run: 0,
            retries: BTreeMap::new(),
            debounces: BTreeMap::new(),
            starved: BTreeMap::new(),
            starved_background: BTreeMap::new(),
            releases: 0,
            background_releases: 0,
            background_starts: 0,
            background_live: 0,
            conversation_exits: HashMap::new(),
            seq: 0,
            breaker: BreakerAccount::default(),
            breaker_owed: BreakerOwed::default(),
        }
    }

    /// How many of the closing runs will free a slot below the limit in
    /// force (all of them, unless a lowered limit is still above the live
    /// runs).
    fn slots_coming(&self) -> usize {
        let over = self.runs.len().saturating_sub(self.rules.max_active);
        self.closing.saturating_sub(over)
    }

    /// Live runs whose input is not closed.
    fn open_runs(&self) -> usize {
        self.runs.len() - self.closing
    }

    /// A run left: it counts as a slot release for the fairness bound
    /// only if it freed a slot below the limit in force.
    /// Called after the breaker saw the exit: while it holds slots back,
    /// an exit frees none.
    fn release(&mut self) {
        if self.runs.len() < self.rules.max_active && self.breaker_admits() {
            self.releases += 1;
            if self.background_admits() {
                self.background_releases += 1;
            }
        }
    }

    /// Inputs checked so far.
    pub fn steps(&self) -> u64 {
        self.step
    }

    /// Runs live according to the stream.
    pub fn live_runs(&self) -> usize {
        self.runs.len()
    }

    /// Checks one input, the machine's answer to it, every output it
    /// produced, and the next deadline the machine gave after it
    /// ([`Machine::next_deadline`](groupq::Machine::next_deadline)).
    /// Returns the first violation; after one, the account is unreliable.
    pub fn step(
        &mut self,
        now: Time,
        input: &Input<K, T, P>,
        result: &Result<Response<K, T, P>, Error>,
        outputs: &[Output<K, T, P>],
        wake_at: Option<Time>,
    ) -> Verdict<K> {
        let verdict = match result {
            Err(e) => self.check_rejection(now, input, e, outputs),
            Ok(response) => self.check_accepted(now, input, response, outputs, wake_at),
        };
        self.step += 1;
        verdict
    }

    fn check_accepted(
        &mut self,
        now: Time,
        input: &Input<K, T, P>,
        response: &Response<K, T, P>,
        outputs: &[Output<K, T, P>],
        wake_at: Option<Time>,
    ) -> Verdict<K> {
        if now < self.now {
            let detail = format!("accepted an input at {now}, before {}", self.now);
            return self.fail(Property::Rejection, None, None, detail);
        }
        self.now = now;
        let mut touched = Vec::new();
        let mut expect = Expect::default();
        self.apply_input(now, input, response, &mut expect, &mut touched)?;
        self.check_commands(outputs, &mut expect, &mut touched)?;
        self.check_breaker_commands(outputs)?;
        self.check_obligations_met(&expect)?;
        self.check_nothing_overdue(expect.timeout)?;
        self.check_preemption(&touched)?;
        self.check_wake(wake_at)?;
        self.settle(touched)?;
        self.check_trimmed()?;
        self.check_eviction()
    }

    // ---- plumbing ---------------------------------------------------------

    fn fail<R>(
        &self,
        property: Property,
        group: Option<&K>,
        run: Option<RunId>,
        detail: String,
    ) -> Result<R, Violation<K>> {
        Err(Violation {
            step: self.step,
            property,
            group: group.cloned(),
            run,
            detail,
        })
    }

    /// The group's account, opened at first sight.
    fn group_mut(&mut self, key: &K) -> &mut GroupAccount<T, P> {
        if !self.groups.contains_key(key) {
            self.seq += 1;
            self.order.insert(self.seq, key.clone());
            self.groups.insert(key.clone(), GroupAccount::new(self.seq));
        }
        self.groups.get_mut(key).expect("opened above")
    }

    /// The effective context percentage, by the contract's rule: the
    /// reported percent, else tokens · 100 / limit; at most 100.
    fn percent(context: &groupq::ContextStats) -> Option<u32> {
        let raw = match (context.percent, context.tokens, context.limit) {
            (Some(p), _, _) => u128::from(p),
            (None, Some(t), Some(l)) if l != 0 => u128::from(t) * 100 / u128::from(l),
            _ => return None,
        };
        Some(if raw > 100 { 100 } else { raw as u32 })
    }
}
