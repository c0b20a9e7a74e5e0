//! B6 (a run exited) and B7 (retry with exponential backoff).

use std::hash::{BuildHasher, Hash};

use crate::error::Error;
use crate::input::{Exit, RunId};
use crate::jobs::Job;
use crate::machine::Machine;
use crate::output::{Command, Dropped, Record, WorkKind};
use crate::time::Time;
use crate::timers::{self, TimerKind};

impl<K, T, P, S> Machine<K, T, P, S>
where
    K: Clone + Eq + Hash,
    T: Clone + Eq + Hash,
    S: BuildHasher + Clone,
{
    /// B6. Frees the slot, settles the run's outcome, queues a pending
    /// compact at the front of the group's jobs, then drains (B8).
    pub(crate) fn on_exited(&mut self, now: Time, run: RunId, exit: Exit) -> Result<(), Error> {
        let g = match self.runs.remove(&run) {
            Some(g) => g,
            None => return Err(self.not_live(run)),
        };
        self.timers.cancel(timers::key(g, TimerKind::Idle));
        let group = self.groups[g as usize].as_mut().expect("group slot in use");
        let r = self.lives.take(&mut group.live).expect("live run");
        let failed = (exit == Exit::Failed) | r.errored;
        let messages = r.kind == WorkKind::Messages;
        if messages & failed & !r.delivered {
            let group = group.key.clone();
            self.command(Command::RollbackCursor { group });
            self.schedule_retry(now, g);
        } else {
            // Success, or failure after a delivered reply: re-processing
            // would send duplicates, so it counts as done.
            if messages {
                group.failures = 0;
            }
            if failed & (r.kind == WorkKind::Task) {
                if let Some(id) = r.task {
                    self.record(g, |group| Record::TaskFailed { group, run, id });
                }
            }
        }
        self.queue_pending_compact(g);
        self.release_slot(g);
        self.evict_if_empty(g);
        Ok(())
    }

    /// B6, compaction half: the run that reached the threshold has exited,
    /// so its compact turn may now be queued, first in line, at most one.
    fn queue_pending_compact(&mut self, g: u32) {
        let shut_down = self.shut_down;
        let group = self.groups[g as usize].as_mut().expect("group slot in use");
        if !std::mem::take(&mut group.compact_pending) {
            return;
        }
        if shut_down {
            self.record(g, |group| Record::Dropped {
                group,
                what: Dropped::Compact,
            });
        } else if !group.compact_queued {
            group.compact_queued = true;
            self.jobs.push_front(&mut group.jobs, Job::Compact);
        }
    }

    /// B7. Attempt `n` waits `base · 2^(n−1)`; past `max_retries`,
    /// `TerminalFailure` and the count starts again.
    fn schedule_retry(&mut self, now: Time, g: u32) {
        let (max_retries, shut_down) = (self.config.max_retries(), self.shut_down);
        let group = self.group_mut(g);
        group.failures = group.failures.saturating_add(1);
        let attempt = group.failures;
        if shut_down {
            // The cursor was rolled back: the messages are read again on the
            // next start, so nothing is lost.
            group.failures = 0;
            self.record(g, |group| Record::Dropped {
                group,
                what: Dropped::Retry,
            });
            return;
        }
        let key = timers::key(g, TimerKind::Retry);
        if attempt > max_retries {
            group.failures = 0;
            group.retry = false;
            self.timers.cancel(key);
            self.command(Command::TerminalFailure {
                group: self.group(g).key.clone(),
            });
            self.record(g, |group| Record::RetriesExhausted { group });
            return;
        }
        let at = now.saturating_add(self.config.retry_delay(attempt));
        self.group_mut(g).retry = true;
        self.timers.set(key, at);
        self.record(g, |group| Record::RetryScheduled { group, attempt, at });
    }

    /// B7: a retry deadline fired; it acts as a message for the group.
    pub(crate) fn on_retry_due(&mut self, g: u32) {
        // Shutdown cancels every retry timer, so this never runs after it.
        debug_assert!(!self.shut_down);
        self.group_mut(g).retry = false;
        self.request_messages(g);
    }
}
