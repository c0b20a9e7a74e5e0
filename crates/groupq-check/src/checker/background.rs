//! The checker's own account of background tasks (B16): which answer a
//! background task deserves (skipped, duplicate, refused, queued), how
//! many background runs are live, each group's last conversation exit for
//! the skip window, and the wait bound of a group waiting with background
//! work only.

use std::fmt;
use std::hash::Hash;

use groupq::{Response, RunId};

use super::account::RunAccount;
use super::{Checker, Property, Verdict};

impl<K, T, P> Checker<K, T, P>
where
    K: Clone + Eq + Hash + fmt::Debug,
    T: Clone + Eq + Hash + fmt::Debug,
    P: Clone + PartialEq,
{
    /// A background task: skipped exactly when asked while the
    /// conversation is active, else answered like a task; queued at the
    /// back of the group's background queue.
    pub(super) fn on_background_task(
        &mut self,
        group: &K,
        id: &T,
        payload: &P,
        skip_if_active: bool,
        response: &Response<K, T, P>,
    ) -> Verdict<K> {
        let skip = skip_if_active && self.conversation_active(group);
        match response {
            Response::Skipped if skip => return Ok(()),
            Response::Skipped => {
                let detail = format!("background task {id:?} skipped, but the group is not active");
                return self.fail(Property::Background, Some(group), None, detail);
            }
            _ if skip => {
                let detail = format!("background task {id:?} answered `{response}`, not skipped");
                return self.fail(Property::Background, Some(group), None, detail);
            }
            _ => {}
        }
        let queued = self.check_task_answer(group, id, response, "background task")?;
        if queued {
            let g = self.group_mut(group);
            g.push_background(id.clone(), payload.clone());
            if g.run.is_none() {
                // The task wakes the group: no debounce holds it back.
                self.end_debounce(group);
            }
        }
        Ok(())
    }

    /// The conversation of `group` is active: a run that is not a
    /// background task's, messages or normal jobs waiting, a retry or a
    /// compact owed, or a conversation run exited within the skip window.
    fn conversation_active(&self, group: &K) -> bool {
        let now = self.groups.get(group).is_some_and(|g| {
            let run = g.run.and_then(|r| self.runs.get(&r));
            run.is_some_and(|r| !r.background)
                || g.conversation()
                || g.retry_at.is_some()
                || g.compact_owed
        });
        let recent = match (
            self.rules.skip_window_nanos,
            self.conversation_exits.get(group),
        ) {
            (Some(window), Some(at)) => self.now.as_nanos() < at.as_nanos().saturating_add(window),
            _ => false,
        };
        now || recent
    }

    /// A background run may start: fewer than `max_running` are live.
    pub(super) fn background_admits(&self) -> bool {
        self.rules
            .max_background
            .map_or(true, |max| self.background_live < max)
    }

    /// A background task's run is spawned: under the cap, counted.
    pub(super) fn background_spawn(&mut self, run: RunId, group: &K) -> Verdict<K> {
        if !self.background_admits() {
            let detail = format!(
                "background run spawned with {} live, max_running {:?}",
                self.background_live, self.rules.max_background
            );
            return self.fail(Property::Background, Some(group), Some(run), detail);
        }
        self.background_live += 1;
        self.background_starts += 1;
        Ok(())
    }

    /// A run left (`exited`, or never launched): a background one frees
    /// its place under the cap; a conversation one that exited is
    /// remembered for the skip window. Before the release is counted.
    pub(super) fn background_gone(&mut self, r: &RunAccount<K, T>, exited: bool) {
        if r.background {
            self.background_live -= 1;
        } else if exited && self.rules.skip_window_nanos.is_some() {
            self.conversation_exits.insert(r.group.clone(), self.now);
        }
    }

    /// A group that waited with background work only, `ahead` others of
    /// its lane before it, starts within `(ahead + 1) · (aging + 1)`
    /// releases after which a background run could start (fair policy).
    pub(super) fn check_background_wait(
        &self,
        run: RunId,
        group: &K,
        ahead: usize,
        since: u64,
    ) -> Verdict<K> {
        let waited = self.background_releases - since;
        let bound = (ahead as u64 + 1).saturating_mul(u64::from(self.rules.aging) + 1);
        if self.rules.fair && waited > bound {
            let detail = format!(
                "background group waited {waited} eligible releases with {ahead} ahead (bound {bound})"
            );
            return self.fail(Property::Background, Some(group), Some(run), detail);
        }
        Ok(())
    }
}
