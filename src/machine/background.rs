//! Background tasks (B16): queued behind the conversation, started only
//! when the group has nothing else to do, never closing a run, skipped on
//! request while the conversation is active; and the conversation taking
//! precedence over an idle background run.

use std::hash::Hash;

use crate::error::Error;
use crate::input::{BackgroundTask, TaskAnswer};
use crate::machine::Machine;
use crate::state::{GroupIdx, NIL};

impl<K, T, P> Machine<K, T, P>
where
    K: Clone + Eq + Hash,
    T: Clone + Eq + Hash,
{
    /// [`BackgroundTask`]: skip, refuse or deduplicate before anything
    /// changes; else queue it in the group's background queue and wake the
    /// group if it has no run. A live run is never closed for it.
    pub(crate) fn on_background_task(
        &mut self,
        task: BackgroundTask<K, T, P>,
    ) -> Result<TaskAnswer, Error> {
        if self.shut_down {
            return Err(Error::ShutDown);
        }
        let BackgroundTask {
            group,
            id,
            payload,
            skip_if_active,
        } = task;
        if skip_if_active && self.conversation_active(&group) {
            return Ok(TaskAnswer::Skipped);
        }
        let g = match self.queue_task(group, id, payload, true) {
            Ok(g) => g,
            Err(answer) => return Ok(answer),
        };
        // Never a preemption: a live run finishes first.
        if self.groups.get(g).live == NIL {
            self.wake(g);
        }
        Ok(TaskAnswer::Queued)
    }

    /// Whether `group`'s conversation is active: a run that is not a
    /// background task's is live, messages or normal jobs wait (debouncing
    /// included), a retry or a compact is owed, or (with a skip window) its
    /// last conversation run exited within the window.
    pub(super) fn conversation_active(&self, group: &K) -> bool {
        let now_active = self.groups.find(group).is_some_and(|g| {
            let grp = self.groups.get(g);
            let run = self.runs.get(grp.live);
            run.is_some_and(|r| !r.background)
                | grp.has_conversation()
                | grp.retry
                | grp.compact_pending
        });
        let window = self.config.background_ref().skip_window;
        now_active || window.is_some_and(|w| self.recent.within(group, self.now, w))
    }

    /// Messages arrived for group `g`: an idle background run of it gives
    /// way (the preemption rule, `preempt_for_jobs`). Looks only while
    /// background runs are live: no other idle run is closed for messages.
    #[inline]
    pub(super) fn yield_background(&mut self, g: GroupIdx) {
        if self.runs.background() > 0 {
            self.preempt_for_jobs(g);
        }
    }

    /// A background run may start: fewer than `max_running` are live.
    #[inline]
    pub(super) fn background_admits(&self) -> bool {
        self.config
            .background_ref()
            .max_running
            .map_or(true, |max| self.runs.background() < max)
    }

    /// Group `g`'s next work may start now: a free slot, and for
    /// background work only, room under `max_running`.
    #[inline]
    pub(super) fn can_start(&self, g: GroupIdx) -> bool {
        self.has_free_slot() && (self.groups.get(g).has_conversation() || self.background_admits())
    }

    /// A conversation run of group `g` exited: with a skip window, it is
    /// remembered for it.
    #[inline]
    pub(super) fn note_conversation_exit(&mut self, g: GroupIdx, background: bool) {
        if let Some(window) = self
            .config
            .background_ref()
            .skip_window
            .filter(|_| !background)
        {
            let key = &self.groups.get(g).key;
            self.recent.note(key, self.now, window);
        }
    }
}
