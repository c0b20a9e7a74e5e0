//! The checker's own account of what the stream has promised so far: per
//! group, what is queued (with payloads), owed and scheduled; per live run,
//! what it is and where it is in its lifecycle. Built only from inputs,
//! answers and commands: never read from the machine.

use std::collections::{HashSet, VecDeque};
use std::hash::Hash;

use groupq::{RunId, RunState, Time, WorkKind};

/// A job the stream queued and no `Spawn` has taken yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum JobAccount<T, P> {
    Task { id: T, payload: P },
    Compact,
}

/// One group's obligations.
#[derive(Clone, Debug)]
pub(super) struct GroupAccount<T, P> {
    /// When the checker first saw the group: its key in `Checker::order`,
    /// so that every walk over groups is in a deterministic order.
    pub(super) seen: u64,
    pub(super) run: Option<RunId>,
    pub(super) jobs: VecDeque<JobAccount<T, P>>,
    /// The ids of the queued tasks of both classes, for O(1) duplicate
    /// checks.
    pub(super) queued: HashSet<T>,
    /// Background tasks (B16), FIFO; their ids are in `queued` too.
    pub(super) background: VecDeque<(T, P)>,
    /// A compact job is in `jobs`.
    pub(super) compact_queued: bool,
    pub(super) unread: bool,
    pub(super) failures: u32,
    /// `(deadline, order set)`: the key in `Checker::retries`.
    pub(super) retry_at: Option<(Time, u64)>,
    /// The live run reached the auto-compact threshold.
    pub(super) compact_owed: bool,
    /// Waiting for a slot since: `(key in Checker::starved, or in
    /// `Checker::starved_background` if `waits_background`, groups ahead
    /// in that lane, releases then)`: slot releases and background starts
    /// for a conversation (`since.0`, `since.1`), background-eligible
    /// releases for a background group (`since.0`).
    pub(super) starved: Option<(u64, usize, (u64, u64))>,
    /// It waits with background tasks only (B16).
    pub(super) waits_background: bool,
    /// The step (from 1) whose timeout last fired its retry: a background
    /// run may have started earlier in that timeout, before the retry
    /// made its messages unread.
    pub(super) retry_fired: u64,
    /// An operator paused it.
    pub(super) paused: bool,
    /// Debouncing: the latest start, and `(deadline, order set)`: the key
    /// in `Checker::debounces`.
    pub(super) debounce: Option<(Time, (Time, u64))>,
}

impl<T: Clone + Eq + Hash, P> GroupAccount<T, P> {
    pub(super) fn new(seen: u64) -> Self {
        GroupAccount {
            seen,
            run: None,
            jobs: VecDeque::new(),
            queued: HashSet::new(),
            background: VecDeque::new(),
            compact_queued: false,
            unread: false,
            failures: 0,
            retry_at: None,
            compact_owed: false,
            starved: None,
            waits_background: false,
            retry_fired: 0,
            paused: false,
            debounce: None,
        }
    }

    pub(super) fn has_pending(&self) -> bool {
        self.conversation() || !self.background.is_empty()
    }

    /// Work of the conversation: messages or normal jobs (B16).
    pub(super) fn conversation(&self) -> bool {
        self.unread || !self.jobs.is_empty()
    }

    /// Nothing live, pending, scheduled or owed: the machine must have
    /// forgotten it, and so does the checker.
    pub(super) fn is_empty(&self) -> bool {
        self.run.is_none()
            && !self.has_pending()
            && self.retry_at.is_none()
            && !self.compact_owed
            && !self.paused
    }

    /// Waiting for a slot: work, no run, not paused, not debouncing.
    pub(super) fn is_waiting(&self) -> bool {
        self.run.is_none() && self.has_pending() && !self.paused && self.debounce.is_none()
    }

    /// Removes a queued task of either class; its payload if it was
    /// queued.
    pub(super) fn remove_task(&mut self, id: &T) -> Option<P> {
        let at = self
            .jobs
            .iter()
            .position(|j| matches!(j, JobAccount::Task { id: queued, .. } if queued == id));
        let Some(at) = at else {
            let at = self
                .background
                .iter()
                .position(|(queued, _)| queued == id)?;
            self.queued.remove(id);
            return self.background.remove(at).map(|(_, payload)| payload);
        };
        self.queued.remove(id);
        match self.jobs.remove(at) {
            Some(JobAccount::Task { payload, .. }) => Some(payload),
            _ => None,
        }
    }

    pub(super) fn push_background(&mut self, id: T, payload: P) {
        self.queued.insert(id.clone());
        self.background.push_back((id, payload));
    }

    /// A background task that never started goes back first.
    pub(super) fn push_background_front(&mut self, id: T, payload: P) {
        self.queued.insert(id.clone());
        self.background.push_front((id, payload));
    }

    pub(super) fn push_task(&mut self, id: T, payload: P) {
        self.queued.insert(id.clone());
        self.jobs.push_back(JobAccount::Task { id, payload });
    }

    /// A task that never started goes back first, behind a queued compact.
    pub(super) fn push_task_front(&mut self, id: T, payload: P) {
        self.queued.insert(id.clone());
        let at = usize::from(self.compact_queued);
        self.jobs.insert(at, JobAccount::Task { id, payload });
    }

    pub(super) fn push_compact(&mut self) {
        if !self.compact_queued {
            self.compact_queued = true;
            self.jobs.push_front(JobAccount::Compact);
        }
    }

    pub(super) fn pop_front(&mut self) -> Option<JobAccount<T, P>> {
        let job = self.jobs.pop_front()?;
        match &job {
            JobAccount::Task { id, .. } => {
                self.queued.remove(id);
            }
            JobAccount::Compact => self.compact_queued = false,
        }
        Some(job)
    }

    pub(super) fn clear_jobs(&mut self) {
        self.jobs.clear();
        self.background.clear();
        self.queued.clear();
        self.compact_queued = false;
    }
}

/// One live run.
#[derive(Clone, Debug)]
pub(super) struct RunAccount<K, T> {
    pub(super) group: K,
    pub(super) kind: WorkKind,
    pub(super) task: Option<T>,
    pub(super) state: RunState,
    pub(super) errored: bool,
    pub(super) delivered: bool,
    /// A follow-up was piped in after the last delivered reply.
    pub(super) piped_after_delivery: bool,
    pub(super) killed: bool,
    /// When it was spawned.
    pub(super) spawned: Time,
    /// A background task's run (B16).
    pub(super) background: bool,
    /// Its key in `Checker::idle_order` while it is idle.
    pub(super) idle_since: Option<u64>,
    /// Armed deadlines by `Deadline` index; each is also in
    /// `Checker::deadlines` as `(at, run, which)`.
    pub(super) deadlines: [Option<Time>; 6],
}

/// What the current input obliges its outputs to contain, on top of what
/// the account allows.
pub(super) struct Expect<K> {
    /// The group the obligations below are about.
    pub(super) group: Option<K>,
    pub(super) rollback: bool,
    pub(super) terminal: bool,
    pub(super) record_compaction: bool,
    /// `(percent, tokens, limit)` of the context warning owed.
    pub(super) warning: Option<(u32, Option<u64>, Option<u64>)>,
    /// `tokens_before` of the auto-compacted notice owed.
    pub(super) auto_compacted: Option<Option<u64>>,
    /// The input is a timeout: the only input that fires deadlines.
    pub(super) timeout: bool,
    /// The input is the host closing this run: its `CloseInput(Host)` is
    /// owed.
    pub(super) host_close: Option<RunId>,
}

impl<K> Default for Expect<K> {
    fn default() -> Self {
        Expect {
            group: None,
            rollback: false,
            terminal: false,
            record_compaction: false,
            warning: None,
            auto_compacted: None,
            timeout: false,
            host_close: None,
        }
    }
}
