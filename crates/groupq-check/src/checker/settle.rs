//! What must hold after every accepted input: idle runs with jobs waiting
//! are preempted, the next deadline is no later than the contract's, no
//! slot is free while a group waits, and the fairness account is kept.

use std::fmt;
use std::hash::Hash;

use groupq::{RunState, Time};

use super::{Checker, Property, Verdict};

impl<K, T, P> Checker<K, T, P>
where
    K: Clone + Eq + Hash + fmt::Debug,
    T: Clone + Eq + Hash + fmt::Debug,
    P: Clone + PartialEq,
{
    /// An idle run whose group has jobs waiting must be closed. Only the
    /// groups this step touched can have become so (a job arrived, or the
    /// run went idle), so only they are looked at.
    pub(super) fn check_preemption(&self, touched: &[K]) -> Verdict<K> {
        for key in touched {
            let Some(g) = self.groups.get(key) else {
                continue;
            };
            let Some(run) = g.run else {
                continue;
            };
            let (idle, background) = self.runs.get(&run).map_or((false, false), |r| {
                (r.state == RunState::IdleWaiting, r.background)
            });
            // Messages wait behind an idle background run: it gives way.
            let waiting = !g.jobs.is_empty() || (background && g.unread);
            if idle && waiting && !g.paused {
                let detail = "idle run not preempted although jobs wait".to_string();
                return self.fail(Property::Contract, Some(key), Some(run), detail);
            }
            if idle && self.shut_down {
                let detail = "idle run not closed after shutdown".to_string();
                return self.fail(Property::Deadline, Some(key), Some(run), detail);
            }
        }
        Ok(())
    }

    /// The deadline the adapter sleeps until is no later than the earliest
    /// one the contract set: a scheduled retry, or a deadline of a live run.
    /// A later or missing wake-up would leave the retry, the close or the
    /// kill undone.
    pub(super) fn check_wake(&self, wake_at: Option<Time>) -> Verdict<K> {
        let retry = self
            .retries
            .iter()
            .next()
            .map(|(&(at, _), g)| (at, Some(g), None));
        let idle = self.first_deadline();
        let debounce = self.first_debounce().map(|(at, g)| (at, Some(g), None));
        let breaker = self.breaker_deadline().map(|at| (at, None, None));
        let Some((due, group, run)) = [retry, idle, debounce, breaker]
            .into_iter()
            .flatten()
            .min_by_key(|d| d.0)
        else {
            return Ok(());
        };
        if wake_at.map_or(true, |w| w > due) {
            let detail = format!("next deadline {wake_at:?} but one is due at {due}");
            return self.fail(Property::Contract, group, run, detail);
        }
        Ok(())
    }

    /// Updates the waiting account of the groups this step touched, forgets
    /// empty groups, then checks work conservation.
    pub(super) fn settle(&mut self, touched: Vec<K>) -> Verdict<K> {
        for key in touched {
            let Some(g) = self.groups.get_mut(&key) else {
                continue;
            };
            let starving = !self.shut_down && g.is_waiting();
            let background = !g.conversation();
            // A group whose work changed class changed lanes: it waits
            // again from the back of its new lane.
            let moved = g.starved.is_some() && g.waits_background != background;
            if let Some((order, _, _)) = g.starved.filter(|_| !starving || moved) {
                g.starved = None;
                match g.waits_background {
                    true => self.starved_background.remove(&order),
                    false => self.starved.remove(&order),
                };
            }
            if starving && g.starved.is_none() {
                self.seq += 1;
                g.waits_background = background;
                g.starved = Some(match background {
                    true => {
                        self.starved_background.insert(self.seq, key.clone());
                        let ahead = self.starved_background.len() - 1;
                        (self.seq, ahead, (self.background_releases, 0))
                    }
                    false => {
                        self.starved.insert(self.seq, key.clone());
                        let ahead = self.starved.len() - 1;
                        (self.seq, ahead, (self.releases, self.background_starts))
                    }
                });
            }
            if g.is_empty() {
                let seen = g.seen;
                self.groups.remove(&key);
                self.order.remove(&seen);
            }
        }
        if !self.shut_down && self.runs.len() < self.rules.max_active && self.breaker_admits() {
            // Background groups may wait past `max_running` (B16).
            let background = self
                .starved_background
                .first_key_value()
                .filter(|_| self.background_admits());
            if let Some((_, key)) = self.starved.first_key_value().or(background) {
                let detail = format!(
                    "{} of {} slots free while the group waits",
                    self.rules.max_active - self.runs.len(),
                    self.rules.max_active
                );
                return self.fail(Property::WorkConservation, Some(key), None, detail);
            }
        }
        Ok(())
    }

    /// Groups waiting for a slot right now, mid-step: the waiting account
    /// of the last step, corrected for the groups this step touched.
    pub(super) fn waiting_now(&self, touched: &[K]) -> usize {
        let mut seen: Vec<&K> = Vec::with_capacity(touched.len());
        let mut waiting = self.starved.len();
        for key in touched {
            if seen.contains(&key) {
                continue;
            }
            seen.push(key);
            let Some(g) = self.groups.get(key) else {
                continue;
            };
            // Only conversations want slots: background groups never
            // close a run (B16).
            let now = !self.shut_down && g.is_waiting() && g.conversation();
            let before = g.starved.is_some() && !g.waits_background;
            match (before, now) {
                (true, false) => waiting -= 1,
                (false, true) => waiting += 1,
                _ => {}
            }
        }
        waiting
    }

    /// With eviction on, after every input: no idle run holds a slot while
    /// more groups wait than closing runs will make room for.
    pub(super) fn check_eviction(&self) -> Verdict<K> {
        let wanted = self.slots_wanted(self.starved.len());
        if !self.rules.evict_idle || self.shut_down || wanted <= self.slots_coming() {
            return Ok(());
        }
        let Some(&run) = self.idle_order.values().next() else {
            return Ok(());
        };
        let group = self.runs.get(&run).map(|r| r.group.clone());
        let detail = format!(
            "{} groups wait, {} runs are closing, and this run stays idle",
            self.starved.len(),
            self.closing
        );
        self.fail(Property::Eviction, group.as_ref(), Some(run), detail)
    }

    /// After every input: no idle run stays open while more runs are open
    /// than a lowered limit allows.
    pub(super) fn check_trimmed(&self) -> Verdict<K> {
        if self.shut_down || self.open_runs() <= self.rules.max_active {
            return Ok(());
        }
        let Some(&run) = self.idle_order.values().next() else {
            return Ok(());
        };
        let group = self.runs.get(&run).map(|r| r.group.clone());
        let detail = format!(
            "{} runs open above the limit {}, and this run stays idle",
            self.open_runs(),
            self.rules.max_active
        );
        self.fail(Property::GlobalLimit, group.as_ref(), Some(run), detail)
    }
}
