//! [`Timeout`](crate::Timeout): deadlines firing, in deadline order, ties
//! in the order they were set. A group has at most two: its retry and its
//! live run's idle close.

use std::hash::Hash;

use crate::machine::Machine;
use crate::output::CloseReason;
use crate::state::timers::{self, TimerKind};
use crate::state::{GroupIdx, NIL};
use crate::time::Time;

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
                (g, TimerKind::Retry) => self.on_retry_due(g),
                (g, TimerKind::Idle) => self.on_idle_due(g),
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

    /// The idle deadline of the group's run fired: close its input (a
    /// closing run has no idle deadline, so this is its only close).
    fn on_idle_due(&mut self, g: GroupIdx) {
        if self.groups.get(g).live != NIL {
            self.close(g, CloseReason::IdleTimeout);
        }
    }
}
