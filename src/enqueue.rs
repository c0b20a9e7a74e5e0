//! B1 (message) and B2 (task): work arriving for a group.

use std::hash::{BuildHasher, Hash};

use crate::error::Error;
use crate::group::{RunState, SCAN_MAX};
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
        self.wake(g);
    }

    /// B2. A duplicate id (live or queued in the group) queues nothing
    /// (`Ok(false)`).
    /// Live run: append, and preempt it if it is idle. No run: start it in a
    /// free slot, or append and wait in line.
    pub(crate) fn on_task(&mut self, group: K, id: T, payload: P) -> Result<bool, Error> {
        if self.shut_down {
            return Err(Error::ShutDown);
        }
        // One probe of the group index; a duplicate can only be found in a
        // group that already exists, so tracking the group first is
        // harmless (it is not new when the task is refused).
        let g = self.slot(group);
        if self.is_duplicate(g, &id) {
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
        match self.lives.get(group.live).map(|r| r.state) {
            Some(RunState::IdleWaiting) => self.close(g, CloseReason::Preempt),
            Some(_) => {}
            None => self.wake(g),
        }
        Ok(true)
    }

    /// B2 dedup: `id` is the live task's or already queued in group `g`.
    /// When it is not, it is recorded as queued (in the id set if the
    /// group's ids are hashed); the caller then queues the job. O(1): a
    /// scan of at most `SCAN_MAX` jobs, or one probe of the id set.
    fn is_duplicate(&mut self, g: u32, id: &T) -> bool {
        let group = self.groups[g as usize].as_mut().expect("group slot in use");
        let live = self.lives.get(group.live);
        if live.is_some_and(|r| r.task.as_ref() == Some(id)) {
            return true;
        }
        if group.ids_hashed {
            return !self.queued_ids.insert((g, id.clone()));
        }
        if self.jobs.has_task(&group.jobs, id) {
            return true;
        }
        if group.jobs.len() >= SCAN_MAX {
            // Too long to scan: from now on the group's ids live in the set.
            for job in self.jobs.iter(&group.jobs) {
                if let Job::Task { id, .. } = job {
                    self.queued_ids.insert((g, id.clone()));
                }
            }
            self.queued_ids.insert((g, id.clone()));
            group.ids_hashed = true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use crate::{Command, Config, Exit, Machine, Output, RunId, Time, Work};

    fn spawned(q: &mut Machine<u32, u32, ()>) -> Vec<(RunId, u32)> {
        std::iter::from_fn(|| match q.poll() {
            Output::WakeAt(_) => None,
            o => Some(o),
        })
        .filter_map(|o| match o {
            Output::Command(Command::Spawn {
                run,
                work: Work::Task { id, .. },
                ..
            }) => Some((run, id)),
            _ => None,
        })
        .collect()
    }

    #[test]
    fn dedup_is_exact_below_and_above_the_scan_limit_and_the_id_set_empties() {
        let t = Time::ZERO;
        let mut q: Machine<u32, u32, ()> =
            Machine::new(Config::default().with_max_active(1)).unwrap();
        assert!(q.task(t, 7, 0, ()).unwrap());
        let (mut live, first) = spawned(&mut q)[0];
        assert_eq!(first, 0);
        for round in 0..2u32 {
            let base = round * 20;
            // Grow the queue well past the scan limit, checking duplicates
            // (queued and live) at every length on the way.
            for id in base + 1..=base + 20 {
                assert!(q.task(t, 7, id, ()).unwrap(), "{id} is new");
                for dup in base + 1..=id {
                    assert!(!q.task(t, 7, dup, ()).unwrap(), "{dup} is queued");
                }
                let running = q.explain(&7).unwrap().run.unwrap().run;
                assert_eq!(running, live);
                assert!(!q.task(t, 7, base, ()).unwrap(), "{base} is live");
            }
            assert!(q.groups[0].as_ref().unwrap().ids_hashed);
            // Drain: each started task is a duplicate while live, and the
            // ids still queued stay duplicates.
            for next in base + 1..=base + 20 {
                q.exited(t, live, Exit::Clean).unwrap();
                let s = spawned(&mut q);
                assert_eq!(s.len(), 1);
                live = s[0].0;
                assert_eq!(s[0].1, next, "FIFO");
                assert!(!q.task(t, 7, next, ()).unwrap(), "{next} is live");
                if next < base + 20 {
                    assert!(!q.task(t, 7, base + 20, ()).unwrap(), "still queued");
                }
            }
            assert!(q.queued_ids.is_empty(), "no id left behind");
            assert!(!q.groups[0].as_ref().unwrap().ids_hashed);
            assert_eq!(q.stats().queued_jobs, 0);
        }
    }
}
