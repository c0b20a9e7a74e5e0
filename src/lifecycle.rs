//! The live run's lifecycle: B3 (pipe), B4 (idle), and the idle deadline of
//! B5 firing. `Busy` → `IdleWaiting` → `Busy` on a piped message, or
//! `Closing` once the core closed its input.

use std::hash::{BuildHasher, Hash};

use crate::error::{Error, PipeRefusal};
use crate::group::RunState;
use crate::input::RunId;
use crate::jobs::NIL;
use crate::machine::Machine;
use crate::output::{CloseReason, WorkKind};

impl<K, T, P, S> Machine<K, T, P, S>
where
    K: Clone + Eq + Hash,
    T: Clone + Eq + Hash,
    S: BuildHasher + Clone,
{
    /// B3. Accepted only for a live Messages run that is `Busy` or
    /// `IdleWaiting` (it becomes `Busy`). Never into a task run, a compact
    /// run or a closing run (P7): the message would be lost.
    pub(crate) fn on_pipe(&mut self, group: &K) -> Result<RunId, Error> {
        if self.shut_down {
            return Err(PipeRefusal::ShutDown.into());
        }
        let g = *self.index.get(group).ok_or(PipeRefusal::NoRun)?;
        let live = self.group(g).live;
        let run = self.lives.get_mut(live).ok_or(PipeRefusal::NoRun)?;
        match (run.kind, run.state) {
            (WorkKind::Task, _) => Err(PipeRefusal::TaskRun.into()),
            (WorkKind::Compact, _) => Err(PipeRefusal::CompactRun.into()),
            (WorkKind::Messages, RunState::Closing) => Err(PipeRefusal::Closing.into()),
            (WorkKind::Messages, _) => {
                run.state = RunState::Busy;
                Ok(run.id)
            }
        }
    }

    /// B4. `Busy` → `IdleWaiting`; if jobs wait for the group, close the
    /// run's input so it exits and frees the group (preemption).
    pub(crate) fn on_idle(&mut self, run: RunId) -> Result<(), Error> {
        let g = self.live_group(run)?;
        self.become_idle(g);
        Ok(())
    }

    /// B4, also reached by a successful turn (B5).
    pub(crate) fn become_idle(&mut self, g: u32) {
        let group = self.groups[g as usize].as_ref().expect("group slot in use");
        let run = self.lives.get_mut(group.live).expect("live run");
        if run.state == RunState::Busy {
            run.state = RunState::IdleWaiting;
        }
        if run.state == RunState::IdleWaiting && !group.jobs.is_empty() {
            self.close(g, CloseReason::Preempt);
        }
    }

    /// B5: the idle deadline fired. Close the input unless already closing.
    pub(crate) fn on_idle_due(&mut self, g: u32) {
        if self.group(g).live != NIL {
            self.close(g, CloseReason::IdleTimeout);
        }
    }
}
