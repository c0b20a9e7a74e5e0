//! A live run between its turns: a follow-up piped in, or the run going
//! idle. `Busy` → `IdleWaiting` → `Busy` on a pipe, or `Closing` once the
//! core closed its input.

use std::hash::Hash;

use crate::error::Error;
use crate::input::{PipeAnswer, PipeRefusal};
use crate::machine::Machine;
use crate::output::CloseReason;
use crate::state::GroupIdx;
use crate::work::{RunId, RunState, WorkKind};

impl<K, T, P> Machine<K, T, P>
where
    K: Clone + Eq + Hash,
    T: Clone + Eq + Hash,
{
    /// [`Pipe`](crate::Pipe): accepted only for a live Messages run that
    /// is busy or idle (it becomes busy). Never into a task, compact or
    /// closing run: the follow-up would be lost.
    pub(crate) fn on_pipe(&mut self, group: &K) -> PipeAnswer {
        let refused = PipeAnswer::Refused;
        if self.shut_down {
            return refused(PipeRefusal::ShutDown);
        }
        let Some(g) = self.groups.find(group) else {
            return refused(PipeRefusal::NoRun);
        };
        let Some(run) = self.runs.get_mut(self.groups.get(g).live) else {
            return refused(PipeRefusal::NoRun);
        };
        match (run.kind, run.state) {
            (WorkKind::Task, _) => refused(PipeRefusal::TaskRun),
            (WorkKind::Compact, _) => refused(PipeRefusal::CompactRun),
            (WorkKind::Messages, RunState::Closing) => refused(PipeRefusal::Closing),
            (WorkKind::Messages, _) => {
                run.state = RunState::Busy;
                PipeAnswer::Piped(run.id)
            }
        }
    }

    /// [`Idle`](crate::Idle).
    pub(crate) fn on_idle(&mut self, run: RunId) -> Result<(), Error> {
        let g = self.runs.group_of(run)?;
        self.become_idle(g);
        Ok(())
    }

    /// `Busy` → `IdleWaiting`; if jobs wait for the group, close the run's
    /// input so it exits and frees the group (preemption). Also reached by
    /// a successful turn.
    pub(super) fn become_idle(&mut self, g: GroupIdx) {
        let group = self.groups.get(g);
        let Some(run) = self.runs.get_mut(group.live) else {
            return;
        };
        if run.state == RunState::Busy {
            run.state = RunState::IdleWaiting;
        }
        if run.state == RunState::IdleWaiting && !group.jobs.is_empty() {
            self.close(g, CloseReason::Preempt);
        }
    }
}
