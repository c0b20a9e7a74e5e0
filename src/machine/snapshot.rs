//! Snapshots (feature `serde`): a [`Machine`] serializes its whole state and
//! deserializes into a machine equal (`==`) to the one serialized.
//!
//! The hash indices (group keys, hashed task ids, live runs) are not
//! written: they mirror the tables and are rebuilt on restore, so the
//! serialized form never depends on hashing and is the same, byte for
//! byte, for equal machines. A restored machine is checked before it is
//! handed out: a snapshot whose indices or links disagree is refused with
//! [`SnapshotError`], so that no later input can trip over it.

use std::collections::VecDeque;
use std::hash::Hash;

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize, Serializer};
use thiserror::Error;

use crate::config::{Config, ConfigError};
use crate::machine::Machine;
use crate::output::Output;
use crate::state::breaker::BreakerState;
use crate::state::groups::Groups;
use crate::state::jobs::Jobs;
use crate::state::line::Line;
use crate::state::recent::Recent;
use crate::state::runs::Runs;
use crate::state::timers::{self, RunDurations, Timers};
use crate::state::NIL;
use crate::time::Time;

/// Why a snapshot was refused on restore.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// The snapshot's configuration is not valid.
    #[error("the snapshot's configuration is invalid: {0}")]
    Config(ConfigError),
    /// Its tables, links or indices disagree with one another.
    #[error("the snapshot is inconsistent: {0}")]
    Inconsistent(&'static str),
    /// It was taken with outputs not yet polled.
    #[error("the snapshot holds outputs not yet polled")]
    PendingOutputs,
}

/// The serialized form, as read back: the machine's fields without its
/// derived ones.
#[derive(Deserialize)]
#[serde(bound(deserialize = "K: Deserialize<'de>, T: Deserialize<'de>, P: Deserialize<'de>"))]
pub(crate) struct Snapshot<K, T, P> {
    config: Config,
    now: Time,
    shut_down: bool,
    groups: Groups<K>,
    runs: Runs<T>,
    jobs: Jobs<T, P>,
    line: Line,
    timers: Timers,
    #[serde(default)]
    breaker: BreakerState<K>,
    #[serde(default)]
    recent: Recent<K>,
    out: Vec<IgnoredAny>,
}

/// A snapshot is taken between steps: outputs not yet polled would be lost
/// by it, so serializing them is an error instead.
pub(crate) fn no_pending_outputs<S: Serializer, K, T, P>(
    out: &VecDeque<Output<K, T, P>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    if !out.is_empty() {
        return Err(serde::ser::Error::custom(SnapshotError::PendingOutputs));
    }
    [(); 0].serialize(s)
}

impl<K, T, P> TryFrom<Snapshot<K, T, P>> for Machine<K, T, P>
where
    K: Clone + Eq + Hash,
    T: Clone + Eq + Hash,
{
    type Error = SnapshotError;

    fn try_from(s: Snapshot<K, T, P>) -> Result<Self, SnapshotError> {
        s.config.validate().map_err(SnapshotError::Config)?;
        if !s.out.is_empty() {
            return Err(SnapshotError::PendingOutputs);
        }
        let mut m = Machine {
            durations: RunDurations::of(&s.config),
            config: s.config,
            now: s.now,
            shut_down: s.shut_down,
            groups: s.groups,
            runs: s.runs,
            jobs: s.jobs,
            line: s.line,
            timers: s.timers,
            breaker: s.breaker,
            recent: s.recent,
            out: VecDeque::new(),
        };
        m.restore().map_err(SnapshotError::Inconsistent)?;
        Ok(m)
    }
}

impl<K, T, P> Machine<K, T, P>
where
    K: Clone + Eq + Hash,
    T: Clone + Eq + Hash,
{
    /// Rebuilds the indices and checks every link the machine follows.
    fn restore(&mut self) -> Result<(), &'static str> {
        self.groups.restore()?;
        let max_active = self.config.max_active();
        self.runs.restore(&self.groups, max_active)?;
        for g in self.groups.indices() {
            let live = self.groups.get(g).live;
            if live != NIL && self.runs.get(live).map(|r| r.group) != Some(g) {
                return Err("a group's live run belongs to another group");
            }
        }
        let queues = self.groups.indices().map(|g| (g, &self.groups.get(g).jobs));
        self.jobs.restore(queues)?;
        self.line.check(&self.groups)?;
        self.timers.upgrade()?;
        self.timers.check(&self.groups, &self.runs)?;
        for g in self.groups.indices() {
            let debouncing = self.groups.debouncing(g).is_some();
            let armed = self.timers.get(timers::debounce_key(g)).is_some();
            if debouncing != armed {
                return Err("a group's debounce and its timer disagree");
            }
        }
        self.recent.restore(self.now)?;
        if self.config.background().skip_window.is_none() && self.recent != Recent::default() {
            return Err("recent exits are kept with no skip window configured");
        }
        self.breaker.restore();
        let armed = self.timers.get(timers::BREAKER_KEY).is_some();
        match self.config.breaker() {
            Some(b) => self.breaker.check(b.groups, armed)?,
            None if armed || self.breaker != BreakerState::default() => {
                return Err("a breaker is kept with none configured")
            }
            None => {}
        }
        Ok(())
    }
}
