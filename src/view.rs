//! Read-only views handed to the host: the shutdown report, `explain` and
//! `stats`.

use std::fmt;

use crate::time::Time;
use crate::turn_report::ContextStats;
use crate::work::{RunId, RunState, Work, WorkKind};

/// A live run, as listed in reports.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct LiveRun<K> {
    /// The run.
    pub run: RunId,
    /// Its group.
    pub group: K,
    /// What it does.
    pub kind: WorkKind,
    /// Where it is in its lifecycle.
    pub state: RunState,
}

/// A group's unfinished work at shutdown.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PendingGroup<K, T, P> {
    /// The group.
    pub group: K,
    /// Jobs that were queued, in the order they would have run, payloads
    /// included.
    pub jobs: Vec<Work<T, P>>,
    /// Background tasks that were queued, `(id, payload)`, in the order
    /// they would have run (after the jobs and the messages): resubmit
    /// them as [`BackgroundTask`](crate::BackgroundTask)s.
    #[cfg_attr(feature = "serde", serde(default = "Vec::new"))]
    pub background_tasks: Vec<(T, P)>,
    /// The group had unread messages that no run had picked up.
    pub unread_messages: bool,
    /// A retry was scheduled: `(attempt, deadline)`.
    pub retry: Option<(u32, Time)>,
    /// The live run reached the auto-compact threshold; its compact turn
    /// will not be started.
    pub compact_pending: bool,
}

/// Everything that will not be done because of shutdown. Nothing is
/// silently dropped: persist this and resubmit it on the next start.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ShutdownReport<K, T, P> {
    /// Groups with unfinished work, in an order that depends only on the
    /// inputs (never on hashing).
    pub groups: Vec<PendingGroup<K, T, P>>,
    /// Runs still live, by run id. Their inputs are still accepted.
    pub live_runs: Vec<LiveRun<K>>,
}

impl<K, T, P> ShutdownReport<K, T, P> {
    /// Nothing pending and nothing live.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty() && self.live_runs.is_empty()
    }
}

/// The live run of an explained group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct RunInfo {
    /// The run.
    pub run: RunId,
    /// What it does.
    pub kind: WorkKind,
    /// Where it is in its lifecycle.
    pub state: RunState,
    /// When its input will be closed for idleness (armed while it is idle).
    pub idle_deadline: Option<Time>,
    /// When its input will be closed if its turn has not finished (armed
    /// while it is busy).
    pub turn_deadline: Option<Time>,
    /// When its input will be closed for reaching `max_run_time`.
    pub life_deadline: Option<Time>,
    /// When its input will be closed if it sends nothing (stall detection).
    pub stall_deadline: Option<Time>,
    /// When its input will be closed because its shutdown grace ends.
    pub grace_deadline: Option<Time>,
    /// When it will be killed if it has not exited (armed once it closes).
    pub kill_deadline: Option<Time>,
    /// `Kill` was emitted for it.
    pub killed: bool,
    /// It runs a background task (B16).
    #[cfg_attr(feature = "serde", serde(default))]
    pub background: bool,
}

/// A queued job of an explained group.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum JobInfo<T> {
    /// A task with this id.
    Task(T),
    /// A compact turn.
    Compact,
}

/// Why a group is where it is: the answer of
/// [`Machine::explain`](crate::Machine::explain).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Explain<T> {
    /// Its live run, if any.
    pub run: Option<RunInfo>,
    /// Queued jobs, front first.
    pub jobs: Vec<JobInfo<T>>,
    /// Queued background tasks' ids, front first: they run after the jobs
    /// and the messages.
    #[cfg_attr(feature = "serde", serde(default = "Vec::new"))]
    pub background_tasks: Vec<T>,
    /// It has unread messages that no run has picked up yet.
    pub unread_messages: bool,
    /// Groups ahead of it in its lane of the waiting line, if it is in the
    /// line (the background lane when it waits with background tasks only).
    pub waiting_behind: Option<usize>,
    /// Consecutive failed Messages runs.
    pub failures: u32,
    /// When the scheduled retry fires, if any.
    pub retry_at: Option<Time>,
    /// Its live run reached the auto-compact threshold.
    pub compact_pending: bool,
    /// An operator paused it: nothing is started for it until resumed.
    pub paused: bool,
    /// Its messages run waits for a burst of messages to end, until this
    /// time at the latest (debounce).
    #[cfg_attr(feature = "serde", serde(default))]
    pub debounced_until: Option<Time>,
    /// The last context statistics a turn reported.
    pub last_context: Option<ContextStats>,
}

impl<T: fmt::Debug> fmt::Display for Explain<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.run {
            Some(r) => write!(f, "{} {:?} {:?}", r.run, r.kind, r.state)?,
            None => write!(f, "no run")?,
        }
        if let Some(ahead) = self.waiting_behind {
            write!(f, "; waiting behind {ahead}")?;
        }
        if !self.jobs.is_empty() {
            write!(f, "; jobs {:?}", self.jobs)?;
        }
        if !self.background_tasks.is_empty() {
            write!(f, "; background {:?}", self.background_tasks)?;
        }
        if self.unread_messages {
            write!(f, "; unread messages")?;
        }
        if self.failures > 0 {
            write!(f, "; {} failures", self.failures)?;
        }
        if let Some(at) = self.retry_at {
            write!(f, "; retry at {at}")?;
        }
        if self.compact_pending {
            write!(f, "; compact pending")?;
        }
        if self.paused {
            write!(f, "; paused")?;
        }
        if let Some(at) = self.debounced_until {
            write!(f, "; debounced until {at}")?;
        }
        if let Some(p) = self.last_context.and_then(|c| c.effective_percent()) {
            write!(f, "; context {p}%")?;
        }
        Ok(())
    }
}

/// The machine at a glance: the answer of
/// [`Machine::stats`](crate::Machine::stats).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Stats {
    /// Live runs (at most `max_active`, but for runs above a lowered
    /// limit).
    pub live_runs: usize,
    /// The limit in force (the config's, or the last [`SetLimits`](crate::SetLimits)'s).
    pub max_active: usize,
    /// Slots free: `max_active - live_runs`, or 0.
    pub free_slots: usize,
    /// Groups in the waiting line (both lanes).
    pub waiting_groups: usize,
    /// Of those, groups waiting with background tasks only.
    #[cfg_attr(feature = "serde", serde(default))]
    pub waiting_background: usize,
    /// Live runs of background tasks.
    #[cfg_attr(feature = "serde", serde(default))]
    pub background_runs: usize,
    /// Groups the machine holds memory for.
    pub tracked_groups: usize,
    /// Jobs queued across all groups, background tasks included.
    pub queued_jobs: usize,
    /// Deadlines armed.
    pub deadlines: usize,
    /// Shutdown was accepted.
    pub shut_down: bool,
    /// Where the crash-loop breaker stands.
    #[cfg_attr(feature = "serde", serde(default))]
    pub breaker: BreakerStatus,
}

/// Where the crash-loop breaker stands ([`Stats::breaker`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum BreakerStatus {
    /// Runs start as usual (or no breaker is configured).
    #[default]
    Closed,
    /// No run starts until then.
    Open {
        /// When one run may start as the probe.
        until: Time,
    },
    /// The cooldown is over: the next run to start is the probe, or this
    /// one is, and nothing else starts until it has lived long enough.
    Probing {
        /// The probe, once it started.
        probe: Option<RunId>,
    },
}
