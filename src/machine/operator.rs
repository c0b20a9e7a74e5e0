//! Operator controls: cancel a queued task, pause and resume a group, and
//! the host closing a group's run itself.

use std::hash::Hash;

use crate::error::Error;
use crate::input::{CancelAnswer, CloseAnswer};
use crate::machine::Machine;
use crate::output::CloseReason;
use crate::work::RunState;

impl<K, T, P> Machine<K, T, P>
where
    K: Clone + Eq + Hash,
    T: Clone + Eq + Hash,
{
    /// [`Cancel`](crate::Cancel): removes the task from the group's queue,
    /// wherever it stands, in either class. A group left with nothing to
    /// wait for leaves the line (and is forgotten if it holds nothing); one
    /// left with background work only moves to the background lane.
    pub(crate) fn on_cancel(&mut self, group: &K, id: &T) -> CancelAnswer<P> {
        let Some(g) = self.groups.find(group) else {
            return CancelAnswer::NotQueued;
        };
        let grp = self.groups.get_mut(g);
        if let Some(run) = self
            .runs
            .get(grp.live)
            .filter(|r| r.task.as_ref() == Some(id))
        {
            return CancelAnswer::Running(run.id);
        }
        let Some(payload) = self.jobs.remove_task(g, &mut grp.jobs, id) else {
            return CancelAnswer::NotQueued;
        };
        let group = self.groups.get(g);
        if !group.has_pending() {
            self.line.leave(&mut self.groups, g);
        } else if group.in_line.is_some_and(|lane| lane != group.lane()) {
            // Its last normal job went: background work only, it waits in
            // the background lane from now on.
            self.line.leave(&mut self.groups, g);
            self.join_line(g);
        }
        self.groups.forget_if_empty(g);
        CancelAnswer::Cancelled(payload)
    }

    /// [`Pause`](crate::Pause).
    pub(crate) fn on_pause(&mut self, group: K) -> Result<(), Error> {
        if self.shut_down {
            return Err(Error::ShutDown);
        }
        let g = self.groups.track(group);
        self.groups.set_paused(g, true);
        self.line.leave(&mut self.groups, g);
        Ok(())
    }

    /// [`Resume`](crate::Resume): a paused group with work starts or joins
    /// the back of the line.
    pub(crate) fn on_resume(&mut self, group: &K) -> Result<(), Error> {
        if self.shut_down {
            return Err(Error::ShutDown);
        }
        let Some(g) = self.groups.find(group) else {
            return Ok(());
        };
        self.groups.set_paused(g, false);
        if self.groups.get(g).has_pending() {
            self.wake(g);
        }
        // An idle run of the group may now be preempted by its tasks.
        self.preempt_for_jobs(g);
        self.groups.forget_if_empty(g);
        Ok(())
    }

    /// [`CloseRun`](crate::CloseRun): the host closes the group's live run.
    pub(crate) fn on_close(&mut self, group: &K) -> CloseAnswer {
        let Some(g) = self.groups.find(group) else {
            return CloseAnswer::NoRun;
        };
        match self.runs.get(self.groups.get(g).live) {
            None => CloseAnswer::NoRun,
            Some(r) if r.state == RunState::Closing => CloseAnswer::AlreadyClosing(r.id),
            Some(r) => {
                let run = r.id;
                self.close(g, CloseReason::Host);
                CloseAnswer::Closed(run)
            }
        }
    }
}
