//! Work arriving for a group: a message, or a task.

use std::hash::Hash;

use crate::error::Error;
use crate::input::TaskAnswer;
use crate::machine::Machine;
use crate::output::{Pending, Record};
use crate::state::GroupIdx;

impl<K, T, P> Machine<K, T, P>
where
    K: Clone + Eq + Hash,
    T: Clone + Eq + Hash,
{
    /// [`Message`](crate::Message): mark the group as having unread
    /// messages and wake it (spawn in a free slot, or join the line once),
    /// or let it wait for the burst to end (debounce).
    pub(crate) fn on_message(&mut self, group: K) -> Result<(), Error> {
        if self.shut_down {
            return Err(Error::ShutDown);
        }
        let g = self.groups.track(group);
        if let Some(&debounce) = self.config.debounce_ref() {
            if self.debounce(g, debounce) {
                return Ok(());
            }
        }
        self.request_messages(g);
        Ok(())
    }

    /// A message, or a retry coming due: the group has messages to read.
    #[inline(always)]
    pub(super) fn request_messages(&mut self, g: GroupIdx) {
        self.groups.get_mut(g).unread = true;
        self.record(g, |group| Record::Queued {
            group,
            what: Pending::Messages,
        });
        self.yield_background(g);
        self.wake(g);
    }

    /// [`Task`](crate::Task): deduplicate, queue, then preempt an idle run
    /// or wake the group.
    pub(crate) fn on_task(&mut self, group: K, id: T, payload: P) -> Result<TaskAnswer, Error> {
        if self.shut_down {
            return Err(Error::ShutDown);
        }
        let g = match self.queue_task(group, id, payload, false) {
            Ok(g) => g,
            Err(answer) => return Ok(answer),
        };
        if self.runs.get(self.groups.get(g).live).is_some() {
            self.preempt_for_jobs(g);
        } else {
            self.wake(g);
        }
        Ok(TaskAnswer::Queued)
    }

    /// A task of either class up to its queueing: refused by a cap before
    /// anything changes, deduplicated against the live run's task and the
    /// group's tasks of both classes, else appended to the queue of its
    /// class. The group, or the answer of a task not queued.
    #[inline(always)]
    pub(super) fn queue_task(
        &mut self,
        group: K,
        id: T,
        payload: P,
        background: bool,
    ) -> Result<GroupIdx, TaskAnswer> {
        // With a cap on, a full queue refuses the task before anything
        // changes, the group index included (a duplicate is a duplicate
        // whatever the caps). Off, nothing is probed twice.
        if self.config.max_group_tasks().is_some() | self.config.max_queued_tasks().is_some() {
            if let Some(why) = self.task_refusal(&group, &id) {
                return Err(TaskAnswer::Refused(why));
            }
        }
        // One probe of the group index; a duplicate can only be found in a
        // group that already exists, so tracking first is harmless.
        let g = self.groups.track(group);
        let group = self.groups.get_mut(g);
        let live = self.runs.get(group.live);
        let live_duplicate = live.is_some_and(|r| r.task.as_ref() == Some(&id));
        let queued = match live_duplicate {
            true => Err((id, payload)),
            false => {
                // Cloned only when records are on, before the id moves in.
                let shown = self.config.records().then(|| id.clone());
                let pushed = match background {
                    false => self.jobs.push_task(g, &mut group.jobs, id, payload),
                    true => self.jobs.push_background(g, &mut group.jobs, id, payload),
                };
                pushed.map(|()| shown)
            }
        };
        let shown = match queued {
            Ok(shown) => shown,
            Err((id, _)) => {
                self.record(g, |group| Record::Deduplicated { group, id });
                return Err(TaskAnswer::Duplicate);
            }
        };
        if let Some(id) = shown {
            self.record(g, |group| Record::Queued {
                group,
                what: Pending::Task(id),
            });
        }
        Ok(g)
    }
}
