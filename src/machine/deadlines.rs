//! [`Timeout`](crate::Timeout): deadlines firing, in deadline order, ties
//! in the order they were set: a group's retry, and its live run's idle,
//! turn, life, stall, shutdown-grace and kill deadlines. Every deadline of a
//! run but the kill closes its input; the kill follows a close.

use std::hash::Hash;

use crate::machine::Machine;
use crate::output::{CloseReason, Command};
use crate::state::timers::{self, RunTimer, Timer};
use crate::state::GroupIdx;
use crate::time::Time;
use crate::work::RunState;

impl<K, T, P> Machine<K, T, P>
where
    K: Clone + Eq + Hash,
    T: Clone + Eq + Hash,
{
    /// Fires every deadline at or before `now`. Early or extra calls do
    /// nothing.
    pub(crate) fn on_timeout(&mut self, now: Time) {
        while let Some(key) = self.timers.pop_due(now) {
            match timers::split(key) {
                Timer::Retry(g) => self.on_retry_due(g),
                Timer::Debounce(g) => self.on_debounce_due(g),
                Timer::Run(idx, timer) => self.on_run_due(idx, timer),
                Timer::Breaker => self.on_breaker_due(),
            }
        }
    }

    /// A retry deadline fired: it acts as a message for the group.
    fn on_retry_due(&mut self, g: GroupIdx) {
        // Shutdown cancels every retry timer, so this never runs after it.
        debug_assert!(!self.shut_down);
        self.groups.get_mut(g).retry = false;
        self.request_messages(g);
    }

    /// A deadline of the run at table index `idx` fired. Each is disarmed
    /// when its run leaves the state it watches, so the state checks here
    /// only guard the contract.
    fn on_run_due(&mut self, idx: u32, timer: RunTimer) {
        let Some(run) = self.runs.get_mut(idx) else {
            return;
        };
        let (g, state) = (run.group, run.state);
        let close = match (timer, state) {
            (RunTimer::Idle, RunState::IdleWaiting) => CloseReason::IdleTimeout,
            (RunTimer::Turn, RunState::Busy) => CloseReason::TurnTimeout,
            (RunTimer::Stall, RunState::Busy) => CloseReason::Stalled,
            (RunTimer::Grace, RunState::Busy) => CloseReason::Shutdown,
            (RunTimer::Life, RunState::Busy | RunState::IdleWaiting) => CloseReason::RunTimeLimit,
            (RunTimer::Kill, _) if !run.killed => {
                run.killed = true;
                let run = run.id;
                self.command(Command::Kill { run });
                return;
            }
            _ => return,
        };
        self.close(g, close);
    }
}
