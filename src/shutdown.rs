//! B9: shutdown. No `Spawn` after it, ever (P10); everything not done is
//! handed back in the [`ShutdownReport`].

use std::hash::{BuildHasher, Hash};

use crate::error::Error;
use crate::jobs::Job;
use crate::machine::Machine;
use crate::report::{LiveRun, PendingGroup, ShutdownReport};
use crate::timers::{self, TimerKind};

impl<K, T, P, S> Machine<K, T, P, S>
where
    K: Clone + Eq + Hash,
    T: Clone + Eq + Hash,
    S: BuildHasher + Clone,
{
    /// B9. Moves every queued job (with its payload), message check,
    /// scheduled retry and pending compact into the report, and forgets
    /// them. Live runs keep running; their inputs are still accepted.
    pub(crate) fn on_shutdown(&mut self) -> Result<ShutdownReport<K, T, P>, Error> {
        if self.shut_down {
            return Err(Error::ShutDown);
        }
        self.shut_down = true;
        self.clear_line();
        self.queued_ids.clear();
        let mut report = ShutdownReport {
            groups: Vec::new(),
            live_runs: Vec::new(),
        };
        // Slot order: deterministic, independent of hashing (P13).
        for g in 0..self.groups.len() as u32 {
            let Some(group) = self.groups[g as usize].as_mut() else {
                continue;
            };
            let mut jobs = Vec::with_capacity(group.jobs.len());
            while let Some(job) = self.jobs.pop_front(&mut group.jobs) {
                jobs.push(Job::into_work(job));
            }
            group.compact_queued = false;
            group.ids_hashed = false;
            let key = timers::key(g, TimerKind::Retry);
            let retry = std::mem::take(&mut group.retry)
                .then(|| self.timers.get(key).map(|at| (group.failures, at)))
                .flatten();
            self.timers.cancel(key);
            let message_check = std::mem::take(&mut group.check);
            let compact_pending = std::mem::take(&mut group.compact_pending);
            if let Some(run) = self.lives.get(group.live) {
                report.live_runs.push(LiveRun {
                    run: run.id,
                    group: group.key.clone(),
                    kind: run.kind,
                    state: run.state,
                });
            }
            if !jobs.is_empty() || message_check || retry.is_some() || compact_pending {
                report.groups.push(PendingGroup {
                    group: group.key.clone(),
                    jobs,
                    message_check,
                    retry,
                    compact_pending,
                });
            }
            self.evict_if_empty(g);
        }
        report.live_runs.sort_by_key(|r| r.run);
        Ok(report)
    }
}
