//! The shutdown report: exactly the work not done (payloads included) and
//! exactly the live runs (group, kind and state), then nothing pending.

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;

use groupq::{RunId, RunState, ShutdownReport, Time, Work, WorkKind};

use super::account::JobAccount;
use super::{Checker, Property, Verdict};

/// What the report says of one group: jobs, unread, retry, compact,
/// background tasks.
type Listed<T, P> = (
    Vec<Option<JobAccount<T, P>>>,
    bool,
    Option<Time>,
    bool,
    Vec<(T, P)>,
);

impl<K, T, P> Checker<K, T, P>
where
    K: Clone + Eq + Hash + fmt::Debug,
    T: Clone + Eq + Hash + fmt::Debug,
    P: Clone + PartialEq,
{
    pub(super) fn check_report(&mut self, report: &ShutdownReport<K, T, P>) -> Verdict<K> {
        let mut listed: HashMap<&K, usize> = HashMap::new();
        for (i, pg) in report.groups.iter().enumerate() {
            if listed.insert(&pg.group, i).is_some() {
                let detail = "group listed twice in the shutdown report".to_string();
                return self.fail(Property::NothingLostOrTwice, Some(&pg.group), None, detail);
            }
        }
        // Report order first, then the groups the report left out in the
        // order the checker first saw them: deterministic.
        let keys = report
            .groups
            .iter()
            .map(|p| &p.group)
            .chain(self.order.values().filter(|k| !listed.contains_key(k)));
        for key in keys {
            let expected = self.owed_at_shutdown(key);
            let got: Listed<T, P> = match listed.get(key).map(|&i| &report.groups[i]) {
                Some(e) => (
                    e.jobs.iter().map(job_of).collect(),
                    e.unread_messages,
                    e.retry.map(|r| r.1),
                    e.compact_pending,
                    e.background_tasks.clone(),
                ),
                None => (Vec::new(), false, None, false, Vec::new()),
            };
            if got.0 != expected.0 || got.4 != expected.4 {
                let detail =
                    "the shutdown report's jobs (or their payloads) are not the queued ones";
                return self.fail(Property::NothingLostOrTwice, Some(key), None, detail.into());
            }
            if (got.1, got.2, got.3) != (expected.1, expected.2, expected.3) {
                let detail = format!(
                    "shutdown report has (unread, retry, compact) {:?}, expected {:?}",
                    (got.1, got.2, got.3),
                    (expected.1, expected.2, expected.3)
                );
                return self.fail(Property::NothingLostOrTwice, Some(key), None, detail);
            }
        }
        self.check_reported_runs(report)?;
        self.forget_pending();
        Ok(())
    }

    fn owed_at_shutdown(&self, key: &K) -> Listed<T, P> {
        match self.groups.get(key) {
            Some(g) => (
                g.jobs.iter().cloned().map(Some).collect(),
                g.unread,
                g.retry_at.map(|r| r.0),
                g.compact_owed && g.run.is_some(),
                g.background.iter().cloned().collect(),
            ),
            None => (Vec::new(), false, None, false, Vec::new()),
        }
    }

    /// The live runs, by run id, each with its group, kind and state.
    fn check_reported_runs(&self, report: &ShutdownReport<K, T, P>) -> Verdict<K> {
        let mut live: Vec<(RunId, &K, WorkKind, RunState)> = self
            .runs
            .iter()
            .map(|(&id, r)| (id, &r.group, r.kind, r.state))
            .collect();
        live.sort_by_key(|r| r.0);
        let reported: Vec<(RunId, &K, WorkKind, RunState)> = report
            .live_runs
            .iter()
            .map(|r| (r.run, &r.group, r.kind, r.state))
            .collect();
        if live != reported {
            let detail = format!("shutdown report lists live runs {reported:?}, expected {live:?}");
            return self.fail(Property::Contract, None, None, detail);
        }
        Ok(())
    }

    /// After the report, nothing is pending and nothing will be started.
    fn forget_pending(&mut self) {
        self.shut_down = true;
        self.retries.clear();
        self.starved.clear();
        self.starved_background.clear();
        for g in self.groups.values_mut() {
            g.clear_jobs();
            g.unread = false;
            g.retry_at = None;
            g.starved = None;
            g.paused = false;
            if g.run.is_some() {
                g.compact_owed = false;
            }
        }
        let empty: Vec<u64> = self
            .groups
            .values()
            .filter(|g| g.is_empty())
            .map(|g| g.seen)
            .collect();
        for seen in empty {
            if let Some(key) = self.order.remove(&seen) {
                self.groups.remove(&key);
            }
        }
    }
}

/// A reported job as the account writes it; a Messages "job" is never
/// owed, so it becomes `None`, which no account entry equals.
fn job_of<T: Clone, P: Clone>(work: &Work<T, P>) -> Option<JobAccount<T, P>> {
    match work {
        Work::Task { id, payload } => Some(JobAccount::Task {
            id: id.clone(),
            payload: payload.clone(),
        }),
        Work::Compact => Some(JobAccount::Compact),
        Work::Messages => None,
    }
}
