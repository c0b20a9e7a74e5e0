//! [`Shutdown`](crate::Shutdown): no `Spawn` after it, ever; everything not
//! done is handed back in the [`ShutdownReport`].

use std::hash::Hash;

use crate::error::Error;
use crate::machine::Machine;
use crate::output::CloseReason;
use crate::state::jobs::Job;
use crate::state::timers::{self, RunTimer};
use crate::view::{LiveRun, PendingGroup, ShutdownReport};
use crate::work::RunState;

impl<K, T, P> Machine<K, T, P>
where
    K: Clone + Eq + Hash,
    T: Clone + Eq + Hash,
{
    /// Moves every queued job (with its payload), background task,
    /// unread-messages mark,
    /// scheduled retry and pending compact into the report, and forgets
    /// them. Live runs are listed as they were; then idle runs are closed at
    /// once and busy runs get `shutdown_grace` to finish their turn. Their
    /// inputs are still accepted until they exit.
    pub(crate) fn on_shutdown(&mut self) -> Result<ShutdownReport<K, T, P>, Error> {
        if self.shut_down {
            return Err(Error::ShutDown);
        }
        // Keys are cloned into the report first: a panicking `Clone` then
        // leaves the machine as it was.
        let indices: Vec<_> = self.groups.indices().collect();
        let mut report = ShutdownReport {
            groups: Vec::new(),
            live_runs: Vec::new(),
        };
        let mut keys = Vec::with_capacity(indices.len());
        for &g in &indices {
            let group = self.groups.get(g);
            keys.push(group.key.clone());
            if let Some(run) = self.runs.get(group.live) {
                report.live_runs.push(LiveRun {
                    run: run.id,
                    group: group.key.clone(),
                    kind: run.kind,
                    state: run.state,
                });
            }
        }
        self.shut_down = true;
        self.groups.clear_paused();
        self.end_breaker();
        self.line.clear(&mut self.groups);
        // Table order: deterministic, independent of hashing.
        for (g, key) in indices.into_iter().zip(keys) {
            let group = self.groups.get_mut(g);
            let mut jobs = Vec::with_capacity(group.jobs.len());
            while let Some(job) = self.jobs.pop_front(g, &mut group.jobs) {
                jobs.push(job.into_work());
            }
            let mut background_tasks = Vec::new();
            while let Some(job) = self.jobs.pop_background(g, &mut group.jobs) {
                if let Job::Task { id, payload } = job {
                    background_tasks.push((id, payload));
                }
            }
            let timer = timers::retry_key(g);
            let retry = std::mem::take(&mut group.retry)
                .then(|| self.timers.get(timer).map(|at| (group.failures, at)))
                .flatten();
            self.timers.cancel(timer);
            let unread_messages = std::mem::take(&mut group.unread);
            let compact_pending = std::mem::take(&mut group.compact_pending);
            let anything = !jobs.is_empty() | !background_tasks.is_empty();
            if anything || unread_messages || retry.is_some() || compact_pending {
                report.groups.push(PendingGroup {
                    group: key,
                    jobs,
                    background_tasks,
                    unread_messages,
                    retry,
                    compact_pending,
                });
            }
            // Its burst's messages are in the report as unread.
            self.end_debounce(g);
            self.groups.forget_if_empty(g);
        }
        report.live_runs.sort_by_key(|r| r.run);
        self.wind_down_runs();
        Ok(report)
    }

    /// Idle runs are closed at once; busy runs get `shutdown_grace`, then
    /// their input is closed; closing runs are already on their kill
    /// deadline. In run-id order, so that equal deadlines fire in that
    /// order.
    fn wind_down_runs(&mut self) {
        let mut live: Vec<_> = self.groups.indices().collect();
        live.retain(|&g| self.runs.get(self.groups.get(g).live).is_some());
        live.sort_by_key(|&g| self.runs.get(self.groups.get(g).live).map(|r| r.id));
        for g in live {
            let idx = self.groups.get(g).live;
            match self.runs.get(idx).map(|r| r.state) {
                Some(RunState::IdleWaiting) => self.close(g, CloseReason::Shutdown),
                Some(RunState::Busy) => self.arm(idx, RunTimer::Grace, self.durations.grace),
                _ => {}
            }
        }
    }
}
