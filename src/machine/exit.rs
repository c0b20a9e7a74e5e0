//! [`Exited`](crate::Exited): a run ended. Its slot is freed, its outcome
//! settled (rollback and retry with exponential backoff for a failed
//! Messages run), a compact it triggered is queued, and the slot handed on.
//! [`NeverLaunched`](crate::NeverLaunched): a run that never started leaves
//! the same way, its work put back as it was.

use std::hash::Hash;

use crate::error::Error;
use crate::input::Requeue;
use crate::machine::Machine;
use crate::output::{Command, Dropped, Record};
use crate::state::timers;
use crate::state::{GroupIdx, NIL};
use crate::time::Time;
use crate::work::{Exit, RunId, Work, WorkKind};

impl<K, T, P> Machine<K, T, P>
where
    K: Clone + Eq + Hash,
    T: Clone + Eq + Hash,
{
    /// Frees the slot, settles the run's outcome, queues a pending compact
    /// at the front of the group's jobs, then hands the slot on.
    pub(crate) fn on_exited(&mut self, now: Time, run: RunId, exit: Exit) -> Result<(), Error> {
        let (g, r) = self.runs.finish(run)?;
        let idx = std::mem::replace(&mut self.groups.get_mut(g).live, NIL);
        self.disarm_all(idx, r.state, !r.killed);
        let group = self.groups.get_mut(g);
        let failed = exit.is_failure() | r.errored;
        let messages = r.kind == WorkKind::Messages;
        // Nothing reached the user, or a follow-up piped in after the last
        // delivered reply would be lost: roll back and retry.
        let undelivered = !r.delivered | r.piped_after_delivery;
        if messages & failed & undelivered {
            let group = group.key.clone();
            self.command(Command::RollbackCursor { group });
            self.schedule_retry(now, g, exit);
        } else {
            // Success, or failure after a delivered reply: re-processing
            // would send duplicates, so it counts as done.
            if messages {
                group.failures = 0;
            }
            // Cloned only for a failed task: the run is still needed below.
            if let Some(id) = r.task.as_ref().filter(|_| failed).cloned() {
                self.record(g, |group| Record::TaskFailed { group, run, id });
            }
        }
        self.queue_pending_compact(g);
        if self.durations.exit_hooks {
            self.breaker_on_exit(g, &r, failed);
            self.note_conversation_exit(g, r.background);
        }
        self.release_slot(g);
        self.groups.forget_if_empty(g);
        Ok(())
    }

    /// Checks the work against the run first (a mismatch changes nothing),
    /// then frees the slot and puts the work back: no failure, no retry.
    pub(crate) fn on_never_launched(
        &mut self,
        run: RunId,
        work: Work<T, P>,
    ) -> Result<Requeue<T, P>, Error> {
        let g = self.runs.group_of(run)?;
        let r = self
            .runs
            .get(self.groups.get(g).live)
            .ok_or(Error::StaleRun(run))?;
        let matches = match &work {
            Work::Task { id, .. } => r.task.as_ref() == Some(id),
            other => r.task.is_none() && other.kind() == r.kind,
        };
        if !matches {
            return Err(Error::WorkMismatch(run));
        }
        let (g, r) = self.runs.finish(run)?;
        let idx = std::mem::replace(&mut self.groups.get_mut(g).live, NIL);
        self.disarm_all(idx, r.state, !r.killed);
        self.breaker_on_never_launched(run);
        let group = self.groups.get_mut(g);
        let answer = match work {
            Work::Messages => {
                // Nothing was read: the cursor goes back, and the messages
                // count as unread again; after shutdown they are handed
                // back (they wait in the host's store for the next start).
                let key = group.key.clone();
                group.unread = !self.shut_down;
                self.command(Command::RollbackCursor { group: key });
                match self.shut_down {
                    true => Requeue::HandedBack(Work::Messages),
                    false => Requeue::Requeued,
                }
            }
            work if self.shut_down => Requeue::HandedBack(work),
            Work::Task { id, payload } if r.background => {
                self.jobs
                    .push_background_front(g, &mut group.jobs, id, payload);
                Requeue::Requeued
            }
            Work::Task { id, payload } => {
                self.jobs.push_task_front(g, &mut group.jobs, id, payload);
                Requeue::Requeued
            }
            Work::Compact => {
                self.jobs.push_compact(&mut group.jobs);
                Requeue::Requeued
            }
        };
        self.queue_pending_compact(g);
        self.release_slot(g);
        self.groups.forget_if_empty(g);
        Ok(answer)
    }

    /// The run that reached the threshold has exited, so its compact turn
    /// may now be queued: first in line, at most one.
    fn queue_pending_compact(&mut self, g: GroupIdx) {
        let group = self.groups.get_mut(g);
        if !std::mem::take(&mut group.compact_pending) {
            return;
        }
        if self.shut_down {
            self.record(g, |group| Record::Dropped {
                group,
                what: Dropped::Compact,
            });
        } else {
            self.jobs.push_compact(&mut group.jobs);
        }
    }

    /// Attempt `n` waits `base · 2^(n−1)`, or the time a
    /// [`Exit::RetryAfter`] asked for; past `max_retries`, or at once for
    /// an [`Exit::Fatal`], `TerminalFailure` and the count starts again.
    fn schedule_retry(&mut self, now: Time, g: GroupIdx, exit: Exit) {
        let max_retries = self.config.max_retries();
        let group = self.groups.get_mut(g);
        group.failures = group.failures.saturating_add(1);
        let attempt = group.failures;
        if self.shut_down {
            // The cursor was rolled back: the messages are read again on the
            // next start, so nothing is lost.
            group.failures = 0;
            self.record(g, |group| Record::Dropped {
                group,
                what: Dropped::Retry,
            });
            return;
        }
        let key = timers::retry_key(g);
        if attempt > max_retries || exit == Exit::Fatal {
            let terminal = Command::TerminalFailure {
                group: group.key.clone(),
            };
            group.failures = 0;
            group.retry = false;
            self.timers.cancel(key);
            self.command(terminal);
            self.record(g, |group| Record::RetriesExhausted { group });
            return;
        }
        let delay = match exit {
            Exit::RetryAfter(after) => after,
            _ => self.config.retry_delay(attempt),
        };
        let at = now + delay;
        group.retry = true;
        self.timers.set(key, at);
        self.record(g, |group| Record::RetryScheduled { group, attempt, at });
    }
}
