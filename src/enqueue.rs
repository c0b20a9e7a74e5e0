//! B1 (message) and B2 (task): work arriving for a group.

use std::hash::{BuildHasher, Hash};

use crate::error::Error;
use crate::group::RunState;
use crate::jobs::Job;
use crate::machine::Machine;
use crate::output::{CloseReason, Pending, Record};

impl<K, T, P, S> Machine<K, T, P, S>
where
    K: Clone + Eq + Hash,
    T: Clone + Eq + Hash,
    S: BuildHasher + Clone,
{
    /// B1. Live run: set its message check. No run and a free slot: spawn
    /// Messages. No free slot: set the check and join the waiting line once.
    pub(crate) fn on_message(&mut self, group: K) -> Result<(), Error> {
        if self.shut_down {
            return Err(Error::ShutDown);
        }
        let g = self.slot(group);
        self.request_messages(g);
        Ok(())
    }

    /// B1, also used by a due retry (B7): the group has messages to process.
    pub(crate) fn request_messages(&mut self, g: u32) {
        self.group_mut(g).check = true;
        self.record(g, |group| Record::Queued {
            group,
            what: Pending::MessageCheck,
        });
        if self.group(g).run.is_none() {
            self.wake(g);
        }
    }

    /// B2. A duplicate id (live or queued in the group) queues nothing
    /// (`Ok(false)`).
    /// Live run: append, and preempt it if it is idle. No run: start it in a
    /// free slot, or append and wait in line.
    pub(crate) fn on_task(&mut self, group: K, id: T, payload: P) -> Result<bool, Error> {
        if self.shut_down {
            return Err(Error::ShutDown);
        }
        // One probe of the group index and one of the id set: a duplicate
        // can only be found in a group that already exists, so tracking the
        // group first is harmless (it is not new when the task is refused).
        let g = self.slot(group);
        let live_dup = self
            .group(g)
            .run
            .as_ref()
            .is_some_and(|r| r.task.as_ref() == Some(&id));
        if live_dup || !self.queued_ids.insert((g, id.clone())) {
            self.record(g, |group| Record::Deduplicated { group, id });
            return Ok(false);
        }
        if self.config.records() {
            self.record(g, |group| Record::Queued {
                group,
                what: Pending::Task(id.clone()),
            });
        }
        let group = self.groups[g as usize].as_mut().expect("group slot in use");
        self.jobs
            .push_back(&mut group.jobs, Job::Task { id, payload });
        match group.run.as_ref().map(|r| r.state) {
            Some(RunState::IdleWaiting) => self.close(g, CloseReason::Preempt),
            Some(_) => {}
            None => self.wake(g),
        }
        Ok(true)
    }
}
