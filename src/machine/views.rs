//! Read-only answers for the host: `explain` and `stats`.

use std::hash::Hash;

use crate::machine::Machine;
use crate::state::jobs::Job;
use crate::state::timers::{self, RunTimer};
use crate::view::{Explain, JobInfo, RunInfo, Stats};

impl<K, T, P> Machine<K, T, P>
where
    K: Clone + Eq + Hash,
    T: Clone + Eq + Hash,
{
    /// Why `group` is where it is, or `None` when the machine holds nothing
    /// for it (a group with nothing live, pending or scheduled is
    /// forgotten).
    pub fn explain(&self, group: &K) -> Option<Explain<T>> {
        let g = self.groups.find(group)?;
        let group = self.groups.get(g);
        Some(Explain {
            run: self.runs.get(group.live).map(|r| {
                let at = |timer| self.timers.get(timers::run_key(group.live, timer));
                RunInfo {
                    run: r.id,
                    kind: r.kind,
                    state: r.state,
                    idle_deadline: at(RunTimer::Idle),
                    turn_deadline: at(RunTimer::Turn),
                    life_deadline: at(RunTimer::Life),
                    stall_deadline: at(RunTimer::Stall),
                    grace_deadline: at(RunTimer::Grace),
                    kill_deadline: at(RunTimer::Kill),
                    killed: r.killed,
                    background: r.background,
                }
            }),
            jobs: self
                .jobs
                .iter(&group.jobs)
                .map(|j| match j {
                    Job::Task { id, .. } => JobInfo::Task(id.clone()),
                    Job::Compact => JobInfo::Compact,
                })
                .collect(),
            background_tasks: self
                .jobs
                .iter_background(g)
                .filter_map(|j| match j {
                    Job::Task { id, .. } => Some(id.clone()),
                    Job::Compact => None,
                })
                .collect(),
            unread_messages: group.unread,
            waiting_behind: self.line.position(&self.groups, g),
            failures: group.failures,
            retry_at: group
                .retry
                .then(|| self.timers.get(timers::retry_key(g)))
                .flatten(),
            compact_pending: group.compact_pending,
            paused: self.groups.is_paused(g),
            debounced_until: self.debounced_until(g),
            last_context: self.groups.context(g),
        })
    }

    /// Whether the machine holds anything for `group` (its `explain` is
    /// `Some`), in O(1): a host that maps its keys to small ids frees one
    /// when this turns false.
    pub fn tracks(&self, group: &K) -> bool {
        self.groups.find(group).is_some()
    }

    /// Every group the machine holds something for, in the order of its
    /// group table (deterministic, independent of hashing): for a status
    /// page that explains each.
    pub fn groups(&self) -> impl Iterator<Item = &K> + '_ {
        self.groups.indices().map(|g| &self.groups.get(g).key)
    }

    /// The machine at a glance.
    pub fn stats(&self) -> Stats {
        Stats {
            live_runs: self.runs.len(),
            max_active: self.config.max_active(),
            free_slots: self.free_slots(),
            waiting_groups: self.line.len(),
            waiting_background: self.line.backgrounds(),
            background_runs: self.runs.background(),
            tracked_groups: self.groups.len(),
            queued_jobs: self.jobs.len(),
            deadlines: self.timers.len(),
            shut_down: self.shut_down,
            breaker: self.breaker_status(),
        }
    }
}
