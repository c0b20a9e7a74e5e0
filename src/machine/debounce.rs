//! Debounce (B14): a message for a group with no run waits for its burst
//! to end before the group wakes; tasks and retries never wait.

use std::hash::Hash;

use crate::config::Debounce;
use crate::machine::Machine;
use crate::output::{Pending, Record};
use crate::state::timers;
use crate::state::GroupIdx;
use crate::time::Time;

impl<K, T, P> Machine<K, T, P>
where
    K: Clone + Eq + Hash,
    T: Clone + Eq + Hash,
{
    /// A message for group `g` under `debounce`: if the group would wake
    /// (no run, not in line, not paused), its unread messages wait until
    /// the quiet period passes or `max_wait` since the burst's first
    /// message, whichever is first. Returns whether it waits; if not, the
    /// message takes the usual way.
    pub(super) fn debounce(&mut self, g: GroupIdx, debounce: Debounce) -> bool {
        let group = self.groups.get(g);
        let latest = match self.groups.debouncing(g) {
            Some(latest) => latest,
            None if group.is_asleep() & !group.has_pending() & !self.groups.is_paused(g) => {
                let latest = self.now + debounce.max_wait;
                self.groups.set_debouncing(g, latest);
                latest
            }
            None => return false,
        };
        self.groups.get_mut(g).unread = true;
        self.record(g, |group| Record::Queued {
            group,
            what: Pending::Messages,
        });
        let at = (self.now + debounce.quiet).min(latest);
        self.timers.set(timers::debounce_key(g), at);
        true
    }

    /// The group wakes for another reason (a task, a retry due, a resume)
    /// or its debounce ran out: it stops debouncing.
    #[inline]
    pub(super) fn end_debounce(&mut self, g: GroupIdx) {
        if self.groups.stop_debouncing(g) {
            self.timers.cancel(timers::debounce_key(g));
        }
    }

    /// The debounce deadline fired: the burst is over, the group wakes.
    pub(super) fn on_debounce_due(&mut self, g: GroupIdx) {
        // Shutdown cancels every debounce timer, so this never runs after it.
        debug_assert!(!self.shut_down);
        self.groups.stop_debouncing(g);
        self.wake(g);
    }

    /// When group `g`'s debounced messages run may start, if it waits.
    pub(super) fn debounced_until(&self, g: GroupIdx) -> Option<Time> {
        self.groups
            .debouncing(g)
            .and_then(|_| self.timers.get(timers::debounce_key(g)))
    }
}
