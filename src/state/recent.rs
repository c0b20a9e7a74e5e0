//! Recent conversations (B16): when each group's last conversation run
//! exited, remembered for the skip window, so that a background task with
//! `skip_if_active` is skipped for a group forgotten a moment ago.
//!
//! Exits are noted in time order, so a FIFO of `(exit, key)` holds them
//! oldest first and is pruned from its front; a map gives each group's
//! latest. Memory: the exits within the window. Only used with a skip
//! window configured.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::time::Duration;

use crate::time::Time;

/// The exits within the window. See the module docs.
#[derive(Clone)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(bound(deserialize = "K: serde::Deserialize<'de>"))
)]
pub(crate) struct Recent<K> {
    /// Every exit noted and not yet pruned, oldest first.
    exits: VecDeque<(Time, K)>,
    /// Each group's latest exit. Rebuilt on restore.
    #[cfg_attr(feature = "serde", serde(skip))]
    latest: HashMap<K, Time>,
}

impl<K> Default for Recent<K> {
    fn default() -> Self {
        Recent {
            exits: VecDeque::new(),
            latest: HashMap::new(),
        }
    }
}

/// The FIFO only: the map mirrors it, and its order is the hasher's.
impl<K: std::fmt::Debug> std::fmt::Debug for Recent<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recent")
            .field("exits", &self.exits)
            .finish_non_exhaustive()
    }
}

/// The map mirrors the FIFO: equal FIFOs are equal memories.
impl<K: PartialEq> PartialEq for Recent<K> {
    fn eq(&self, other: &Self) -> bool {
        self.exits == other.exits
    }
}

impl<K: Clone + Eq + Hash> Recent<K> {
    /// Group `key`'s conversation run exited at `now`; exits older than
    /// `window` are forgotten.
    pub(crate) fn note(&mut self, key: &K, now: Time, window: Duration) {
        while let Some((at, _)) = self.exits.front() {
            if *at + window > now {
                break;
            }
            if let Some((at, old)) = self.exits.pop_front() {
                if self.latest.get(&old) == Some(&at) {
                    self.latest.remove(&old);
                }
            }
        }
        self.latest.insert(key.clone(), now);
        self.exits.push_back((now, key.clone()));
    }

    /// Whether group `key`'s conversation run exited less than `window`
    /// before `now`.
    pub(crate) fn within(&self, key: &K, now: Time, window: Duration) -> bool {
        self.latest.get(key).is_some_and(|&at| at + window > now)
    }

    /// Restoring from a snapshot: the exits are in time order, none after
    /// `now`; the map is rebuilt.
    #[cfg(feature = "serde")]
    pub(crate) fn restore(&mut self, now: Time) -> Result<(), &'static str> {
        let mut last = Time::ZERO;
        self.latest.clear();
        for (at, key) in &self.exits {
            if *at < last || *at > now {
                return Err("the recent exits are out of order");
            }
            last = *at;
            self.latest.insert(key.clone(), *at);
        }
        Ok(())
    }
}
