//! Limits changed while the machine runs ([`SetLimits`](crate::SetLimits)):
//! raising `max_active` starts waiting groups, lowering it closes idle runs
//! above the new limit; and the caps on queued tasks.

use std::hash::Hash;

use crate::config::Limits;
use crate::error::Error;
use crate::input::TaskRefusal;
use crate::machine::Machine;
use crate::output::CloseReason;

impl<K, T, P> Machine<K, T, P>
where
    K: Clone + Eq + Hash,
    T: Clone + Eq + Hash,
{
    /// [`SetLimits`](crate::SetLimits): the new limits hold from now on.
    pub(crate) fn on_set_limits(&mut self, limits: Limits) -> Result<(), Error> {
        if self.shut_down {
            return Err(Error::ShutDown);
        }
        limits.validate()?;
        let config = std::mem::take(&mut self.config);
        self.config = config.with_limits(limits);
        self.trim_to_limit();
        self.drain_line();
        self.evict_for_waiting();
        Ok(())
    }

    /// While more runs are open (live, not closing) than `max_active`
    /// allows, closes the run idle longest; busy runs finish their turn and
    /// are closed here when they go idle. Only a lowered limit makes this
    /// do anything: runs start only in free slots.
    pub(super) fn trim_to_limit(&mut self) {
        while self.runs.len() - self.runs.closing() > self.config.max_active() {
            if !self.close_longest_idle(CloseReason::LimitLowered) {
                return;
            }
        }
    }

    /// How many of the closing runs will free a slot a waiting group can
    /// take: above a lowered limit, an exit only brings the live runs down
    /// towards it.
    pub(super) fn slots_coming(&self) -> usize {
        let over = self.runs.len().saturating_sub(self.config.max_active());
        self.runs.closing().saturating_sub(over)
    }

    /// The cap a task `id` of `group` would exceed, if it is not a
    /// duplicate. Counts queued tasks only, of both classes: a running task
    /// is not queued, a compact job is not a task. Reads only.
    pub(super) fn task_refusal(&self, group: &K, id: &T) -> Option<TaskRefusal> {
        let here = match self.groups.find(group) {
            Some(g) => {
                let grp = self.groups.get(g);
                let running = self.runs.get(grp.live).and_then(|r| r.task.as_ref());
                if running == Some(id) || self.jobs.is_queued(&grp.jobs, g, id) {
                    return None;
                }
                grp.jobs.tasks() + self.jobs.background_len(g, &grp.jobs)
            }
            None => 0,
        };
        if let Some(cap) = self.config.max_group_tasks().filter(|&cap| here >= cap) {
            return Some(TaskRefusal::GroupFull { cap });
        }
        let cap = self.config.max_queued_tasks()?;
        (self.jobs.tasks() >= cap).then_some(TaskRefusal::QueueFull { cap })
    }
}
