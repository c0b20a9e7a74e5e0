//! The tasks a host remembers after they ran: a task id submitted again
//! within the window is a duplicate with its outcome, so an application
//! resubmitting after a crash never runs a task twice.
//!
//! Each id is kept once (an `Arc` shared by the index and the expiry
//! queue); expiry is from the front of the queue, O(1) amortized per entry.
//! A lookup borrows the asked group and id (no key is built for it).

use std::borrow::Borrow;
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use groupq::Time;
use serde::{Deserialize, Serialize};

/// A task's identity: its group and its id.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) struct TaskKey {
    pub(crate) group: String,
    pub(crate) id: String,
}

/// A group and a task id, owned or borrowed: what the index is looked up
/// by. Hash and equality are the pair's, whoever holds it.
trait Pair {
    fn pair(&self) -> (&str, &str);
}

impl Pair for TaskKey {
    fn pair(&self) -> (&str, &str) {
        (&self.group, &self.id)
    }
}

impl Pair for (&str, &str) {
    fn pair(&self) -> (&str, &str) {
        *self
    }
}

impl Hash for TaskKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.pair().hash(state);
    }
}

impl Hash for dyn Pair + '_ {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.pair().hash(state);
    }
}

impl PartialEq for dyn Pair + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.pair() == other.pair()
    }
}

impl Eq for dyn Pair + '_ {}

impl<'a> Borrow<dyn Pair + 'a> for Arc<TaskKey> {
    fn borrow(&self) -> &(dyn Pair + 'a) {
        self.as_ref()
    }
}

/// How a remembered task ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TaskOutcome {
    /// Its run ended cleanly (a failed task is not run again).
    pub succeeded: bool,
    /// When its run ended (core time).
    pub at: Time,
}

/// The tasks that ran within the window, by key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct TaskLog {
    window: Option<Duration>,
    /// Each task's last outcome, and the number of its newest queue entry.
    done: HashMap<Arc<TaskKey>, (TaskOutcome, u64)>,
    /// In the order they ended: the front expires first. An entry whose
    /// number is not its key's newest is stale, and dropped on the way.
    order: VecDeque<(u64, Arc<TaskKey>)>,
    next: u64,
}

impl TaskLog {
    /// How long ended tasks are remembered (`None`: not at all).
    pub(crate) fn window(&self) -> Option<Duration> {
        self.window
    }

    /// A new window; a shorter one forgets at the next entry.
    pub(crate) fn set_window(&mut self, window: Option<Duration>) {
        self.window = window;
        if window.is_none() {
            self.done.clear();
            self.order.clear();
        }
    }

    /// A task's run ended at `outcome.at`.
    pub(crate) fn ended(&mut self, group: &str, id: &str, outcome: TaskOutcome) {
        if self.window.is_none() {
            return;
        }
        // One copy of the key, shared by the index and the queue.
        let key = match self.done.get_key_value(&(group, id) as &dyn Pair) {
            Some((key, _)) => Arc::clone(key),
            None => Arc::new(TaskKey {
                group: group.to_string(),
                id: id.to_string(),
            }),
        };
        let seq = self.next;
        self.next += 1;
        self.done.insert(Arc::clone(&key), (outcome, seq));
        self.order.push_back((seq, key));
    }

    /// The outcome of a task that ended within the window.
    pub(crate) fn outcome(&self, group: &str, id: &str) -> Option<TaskOutcome> {
        self.done
            .get(&(group, id) as &dyn Pair)
            .map(|(outcome, _)| *outcome)
    }

    /// Forgets the tasks that ended more than the window before `now`.
    pub(crate) fn expire(&mut self, now: Time) {
        let Some(window) = self.window else {
            return;
        };
        while let Some((seq, key)) = self.order.front() {
            match self.done.get(key) {
                Some((outcome, newest)) if newest == seq => {
                    if now.saturating_duration_since(outcome.at) <= window {
                        return;
                    }
                    let key = Arc::clone(key);
                    self.done.remove(&key);
                }
                // A stale entry: the task ran again later.
                _ => {}
            }
            self.order.pop_front();
        }
    }

    /// How many tasks are remembered.
    pub(crate) fn len(&self) -> usize {
        self.done.len()
    }

    /// Every remembered task, in the order they ended: for snapshots.
    pub(crate) fn entries(&self) -> Vec<(&TaskKey, TaskOutcome)> {
        self.order
            .iter()
            .filter_map(|(seq, key)| match self.done.get(key) {
                Some((outcome, newest)) if newest == seq => Some((key.as_ref(), *outcome)),
                _ => None,
            })
            .collect()
    }

    /// A log from a snapshot's entries, in the order they ended.
    pub(crate) fn from_entries(
        window: Option<Duration>,
        entries: Vec<(TaskKey, TaskOutcome)>,
    ) -> TaskLog {
        let mut log = TaskLog {
            window,
            ..TaskLog::default()
        };
        for (key, outcome) in entries {
            log.ended(&key.group, &key.id, outcome);
        }
        log
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(ms: u64) -> TaskOutcome {
        TaskOutcome {
            succeeded: true,
            at: Time::from_millis(ms),
        }
    }

    #[test]
    fn an_ended_task_is_remembered_for_the_window_then_forgotten() {
        let mut log = TaskLog::default();
        log.ended("g", "t", ok(0));
        assert_eq!(log.outcome("g", "t"), None, "no window: nothing kept");
        log.set_window(Some(Duration::from_secs(10)));
        log.ended("g", "t", ok(1_000));
        log.ended("g", "u", ok(5_000));
        log.expire(Time::from_millis(11_000));
        assert_eq!(log.outcome("g", "t"), Some(ok(1_000)));
        log.expire(Time::from_millis(11_001));
        assert_eq!(log.outcome("g", "t"), None);
        assert_eq!(log.outcome("g", "u"), Some(ok(5_000)));
        assert_eq!(log.len(), 1);
    }

    #[test]
    fn a_task_that_ran_again_expires_from_its_last_end() {
        let mut log = TaskLog::default();
        log.set_window(Some(Duration::from_secs(10)));
        log.ended("g", "t", ok(0));
        log.ended("g", "t", ok(8_000));
        log.expire(Time::from_millis(12_000));
        assert_eq!(log.outcome("g", "t"), Some(ok(8_000)));
        assert_eq!(log.entries().len(), 1);
        log.expire(Time::from_millis(18_001));
        assert_eq!(log.outcome("g", "t"), None);
        assert!(log.entries().is_empty());
    }

    #[test]
    fn a_log_reads_back_from_its_entries() {
        let mut log = TaskLog::default();
        log.set_window(Some(Duration::from_secs(10)));
        log.ended("g", "t", ok(1));
        log.ended("h", "t", ok(2));
        let entries: Vec<(TaskKey, TaskOutcome)> = log
            .entries()
            .into_iter()
            .map(|(k, o)| (k.clone(), o))
            .collect();
        let again = TaskLog::from_entries(log.window(), entries);
        assert_eq!(again.outcome("h", "t"), Some(ok(2)));
        assert_eq!(again.len(), 2);
    }
}
