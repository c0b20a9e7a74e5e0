//! A live run between its turns: a follow-up piped in, or the run going
//! idle. `Busy` → `IdleWaiting` → `Busy` on a pipe, or `Closing` once the
//! core closed its input.

use std::hash::Hash;

use crate::error::Error;
use crate::input::{PipeAnswer, PipeRefusal};
use crate::machine::Machine;
use crate::output::CloseReason;
use crate::state::timers::RunTimer;
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
        let idx = self.groups.get(g).live;
        let Some(run) = self.runs.get_mut(idx) else {
            return refused(PipeRefusal::NoRun);
        };
        match (run.kind, run.state) {
            (WorkKind::Task, _) => refused(PipeRefusal::TaskRun),
            (WorkKind::Compact, _) => refused(PipeRefusal::CompactRun),
            (WorkKind::Messages, RunState::Closing) => refused(PipeRefusal::Closing),
            (WorkKind::Messages, state) => {
                // A follow-up after the last delivered reply must not be
                // lost if the run then fails: it is rolled back too.
                run.piped_after_delivery |= run.delivered;
                let id = run.id;
                self.runs.set_state(idx, RunState::Busy);
                if state == RunState::IdleWaiting {
                    // A new turn starts: the idle deadline only ever closes
                    // an idle run.
                    self.disarm(idx, RunTimer::Idle);
                    self.arm(idx, RunTimer::Turn, self.durations.turn);
                    self.arm_stall(idx);
                }
                PipeAnswer::Piped(id)
            }
        }
    }

    /// [`Idle`](crate::Idle).
    pub(crate) fn on_idle(&mut self, run: RunId) -> Result<(), Error> {
        let g = self.runs.group_of(run)?;
        self.become_idle(g);
        Ok(())
    }

    /// [`Heartbeat`](crate::Heartbeat): the run is alive; a busy run's
    /// stall watch starts again. Nothing else changes.
    pub(crate) fn on_heartbeat(&mut self, run: RunId) -> Result<(), Error> {
        let g = self.runs.group_of(run)?;
        let idx = self.groups.get(g).live;
        if self
            .runs
            .get(idx)
            .is_some_and(|r| r.state == RunState::Busy)
        {
            self.arm_stall(idx);
        }
        Ok(())
    }

    /// `Busy` → `IdleWaiting`: the turn's deadlines give way to the idle
    /// deadline. If jobs wait for the group, or the machine is shut down,
    /// the run's input is closed at once. Also reached by a successful
    /// turn.
    pub(super) fn become_idle(&mut self, g: GroupIdx) {
        let idx = self.groups.get(g).live;
        let Some(run) = self.runs.get_mut(idx) else {
            return;
        };
        if run.state != RunState::Busy {
            return;
        }
        self.runs.set_state(idx, RunState::IdleWaiting);
        for timer in [RunTimer::Turn, RunTimer::Stall, RunTimer::Grace] {
            self.disarm(idx, timer);
        }
        self.arm(idx, RunTimer::Idle, self.durations.idle);
        if self.shut_down {
            self.close(g, CloseReason::Shutdown);
        } else if !self.preempt_for_jobs(g) {
            // Above a lowered limit it closes; else groups may be waiting
            // for this slot.
            self.trim_to_limit();
            self.evict_for_waiting();
        }
    }
}
