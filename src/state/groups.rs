//! The group table: every group the machine holds memory for, by key.
//!
//! Invariant (memory): a group is in the table only while it has a live
//! run, pending work, a scheduled retry or a compact owed
//! ([`Group::is_empty`] is false); callers hand every group they touched to
//! [`Groups::forget_if_empty`]. Entries are addressed by a [`GroupIdx`],
//! stable while the group is tracked and reused afterwards.

use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap};
use std::hash::Hash;

use crate::state::jobs::Queue;
use crate::state::{GroupIdx, Lane, LineLink, NIL};
use crate::time::Time;
use crate::turn_report::ContextStats;

/// Everything the core knows about one group.
///
/// Kept small (40 bytes for `u32` keys) because every message touches it
/// and a backlog of waiting groups can exceed the caches: the live run is an
/// index into the run table, the retry deadline lives only in the timer
/// table and the last context statistics in a cold side table, none of
/// which a waiting group needs.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) struct Group<K> {
    pub(crate) key: K,
    /// The group's live run in the run table, or `NIL`. One index, so "a
    /// group never has two live runs" holds by construction.
    pub(crate) live: u32,
    /// Compact and task jobs, FIFO (a compact may be put at the front).
    pub(crate) jobs: Queue,
    /// The group has unread messages that no run has picked up.
    pub(crate) unread: bool,
    /// In the waiting line, in this lane (then `line` links it).
    pub(crate) in_line: Option<Lane>,
    pub(crate) line: LineLink,
    /// Consecutive failed Messages runs.
    pub(crate) failures: u32,
    /// A retry is scheduled; its deadline is the group's retry timer.
    pub(crate) retry: bool,
    /// The live run reached the auto-compact threshold; becomes a compact
    /// job when that run exits.
    pub(crate) compact_pending: bool,
}

impl<K> Group<K> {
    #[inline]
    fn new(key: K) -> Self {
        Group {
            key,
            live: NIL,
            jobs: Queue::default(),
            unread: false,
            in_line: None,
            line: LineLink::default(),
            failures: 0,
            retry: false,
            compact_pending: false,
        }
    }

    /// Work of the conversation: normal jobs or unread messages.
    #[inline]
    pub(crate) fn has_conversation(&self) -> bool {
        !self.jobs.is_empty() | self.unread
    }

    /// The lane this group waits in, by its work.
    #[inline]
    pub(crate) fn lane(&self) -> Lane {
        match self.has_conversation() {
            true => Lane::Conversation,
            false => Lane::Background,
        }
    }

    /// Work that needs a slot: jobs (of either class) or unread messages.
    ///
    /// These predicates use `|` and `&` rather than `||` and `&&`: every
    /// operand is a plain field read, and one well-predicted branch on the
    /// result is cheaper than a chain of data-dependent ones on hot paths.
    #[inline]
    pub(crate) fn has_pending(&self) -> bool {
        !self.jobs.is_empty() | self.unread | self.jobs.has_background()
    }

    /// Has no run and is not in the waiting line: new work must wake it.
    #[inline]
    pub(crate) fn is_asleep(&self) -> bool {
        (self.live == NIL) & self.in_line.is_none()
    }

    /// Nothing live, pending or scheduled: the group can be forgotten.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.is_asleep() & !self.has_pending() & !self.retry & !self.compact_pending
    }
}

/// The group table. See the module docs for its invariant.
#[derive(Clone)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(bound(deserialize = "K: serde::Deserialize<'de>"))
)]
pub(crate) struct Groups<K> {
    /// Key → index into `table`.
    #[cfg_attr(feature = "serde", serde(skip))]
    index: HashMap<K, GroupIdx>,
    /// `None` entries are free and listed in `free`.
    table: Vec<Option<Group<K>>>,
    free: Vec<GroupIdx>,
    /// The last context statistics a turn reported, per index. Cold, so
    /// kept out of [`Group`]; grown only when a turn reports them.
    contexts: Vec<Option<ContextStats>>,
    /// Groups an operator paused. Rare, so kept out of [`Group`]: the hot
    /// paths only look when it is not empty.
    paused: BTreeSet<GroupIdx>,
    /// Per index, the latest time a debouncing group's messages run may
    /// start (the burst's first message plus `max_wait`). Only groups with
    /// unread messages, no run and not in line; their debounce timer is
    /// armed. Grown on first use and never shrunk, like `contexts`, so the
    /// steady state allocates nothing.
    #[cfg_attr(feature = "serde", serde(default))]
    debouncing: Vec<Option<Time>>,
    /// How many entries of `debouncing` are set: the hot paths look only
    /// when some are.
    #[cfg_attr(feature = "serde", serde(skip))]
    debounced: usize,
}

impl<K> Default for Groups<K> {
    fn default() -> Self {
        Groups {
            index: HashMap::new(),
            table: Vec::new(),
            free: Vec::new(),
            contexts: Vec::new(),
            paused: BTreeSet::new(),
            debouncing: Vec::new(),
            debounced: 0,
        }
    }
}

impl<K: Clone + Eq + Hash> Groups<K> {
    /// The index of `key`, if tracked.
    #[inline]
    pub(crate) fn find(&self, key: &K) -> Option<GroupIdx> {
        self.index.get(key).copied()
    }

    /// The index of `key`, tracking the group if it is new. The key is
    /// cloned before anything changes, so a panicking `Clone` leaves the
    /// table as it was.
    #[inline]
    pub(crate) fn track(&mut self, key: K) -> GroupIdx {
        match self.index.entry(key) {
            Entry::Occupied(e) => *e.get(),
            Entry::Vacant(v) => {
                let group = Some(Group::new(v.key().clone()));
                let g = match self.free.pop() {
                    Some(g) => {
                        self.table[g as usize] = group;
                        g
                    }
                    None => {
                        self.table.push(group);
                        (self.table.len() - 1) as GroupIdx
                    }
                };
                *v.insert(g)
            }
        }
    }

    /// Forgets group `g` if it holds nothing and is not paused (the table's
    /// invariant).
    #[inline]
    pub(crate) fn forget_if_empty(&mut self, g: GroupIdx) {
        if !self.get(g).is_empty() || self.is_paused(g) {
            return;
        }
        if let Some(group) = self.table[g as usize].take() {
            self.index.remove(&group.key);
        }
        if let Some(context) = self.contexts.get_mut(g as usize) {
            *context = None;
        }
        self.free.push(g);
    }
}

impl<K> Groups<K> {
    /// The tracked group at `g`. Every index the machine holds (in the
    /// index, the waiting line, the run and timer tables) names a tracked
    /// group; this is the one place that relies on it.
    #[inline(always)]
    pub(crate) fn get(&self, g: GroupIdx) -> &Group<K> {
        self.table[g as usize]
            .as_ref()
            .expect("indices held by the machine name tracked groups")
    }

    /// See [`Groups::get`].
    #[inline(always)]
    pub(crate) fn get_mut(&mut self, g: GroupIdx) -> &mut Group<K> {
        self.table[g as usize]
            .as_mut()
            .expect("indices held by the machine name tracked groups")
    }

    /// The tracked group at `g`, if there is one: for checking indices
    /// that did not come from the machine itself (a snapshot).
    #[cfg(feature = "serde")]
    pub(crate) fn try_get(&self, g: GroupIdx) -> Option<&Group<K>> {
        self.table.get(g as usize)?.as_ref()
    }

    /// Groups tracked.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    /// The indices of tracked groups, in table order: deterministic,
    /// independent of hashing.
    pub(crate) fn indices(&self) -> impl Iterator<Item = GroupIdx> + '_ {
        self.table
            .iter()
            .enumerate()
            .filter(|(_, g)| g.is_some())
            .map(|(i, _)| i as GroupIdx)
    }

    /// Whether an operator paused group `g`.
    #[inline]
    pub(crate) fn is_paused(&self, g: GroupIdx) -> bool {
        !self.paused.is_empty() && self.paused.contains(&g)
    }

    /// The latest start of group `g`'s debounced messages run, if it is
    /// debouncing.
    #[inline]
    pub(crate) fn debouncing(&self, g: GroupIdx) -> Option<Time> {
        if self.debounced == 0 {
            return None;
        }
        self.debouncing.get(g as usize).copied().flatten()
    }

    /// Group `g` debounces until `latest` at most.
    pub(crate) fn set_debouncing(&mut self, g: GroupIdx, latest: Time) {
        let i = g as usize;
        if self.debouncing.len() <= i {
            self.debouncing.resize(i + 1, None);
        }
        if self.debouncing[i].replace(latest).is_none() {
            self.debounced += 1;
        }
    }

    /// Group `g` stops debouncing; whether it was.
    #[inline]
    pub(crate) fn stop_debouncing(&mut self, g: GroupIdx) -> bool {
        if self.debounced == 0 {
            return false;
        }
        let stopped = self
            .debouncing
            .get_mut(g as usize)
            .and_then(Option::take)
            .is_some();
        self.debounced -= usize::from(stopped);
        stopped
    }

    /// Resumes every group (at shutdown: nothing starts any more).
    pub(crate) fn clear_paused(&mut self) {
        self.paused.clear();
    }

    /// Pauses or resumes group `g`.
    pub(crate) fn set_paused(&mut self, g: GroupIdx, paused: bool) {
        if paused {
            self.paused.insert(g);
        } else {
            self.paused.remove(&g);
        }
    }

    pub(crate) fn context(&self, g: GroupIdx) -> Option<ContextStats> {
        self.contexts.get(g as usize).copied().flatten()
    }

    pub(crate) fn set_context(&mut self, g: GroupIdx, context: ContextStats) {
        let i = g as usize;
        if self.contexts.len() <= i {
            self.contexts.resize(i + 1, None);
        }
        self.contexts[i] = Some(context);
    }
}

/// The table in index order; the hash index is left out, so the output
/// never depends on hashing.
impl<K: std::fmt::Debug> std::fmt::Debug for Groups<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Groups")
            .field("table", &self.table)
            .field("contexts", &self.contexts)
            .field("paused", &self.paused)
            .field("debouncing", &self.debouncing)
            .finish_non_exhaustive()
    }
}

/// Equal when the same keys map to equal groups at the same indices: the
/// context and debounce tables' lengths (how far they once grew) are not
/// state.
impl<K: Eq + Hash> PartialEq for Groups<K> {
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (&self.contexts, &other.contexts);
        let same_contexts = (0..a.len().max(b.len()))
            .all(|i| a.get(i).copied().flatten() == b.get(i).copied().flatten());
        let (a, b) = (&self.debouncing, &other.debouncing);
        let same_debounces = (0..a.len().max(b.len()))
            .all(|i| a.get(i).copied().flatten() == b.get(i).copied().flatten());
        self.index == other.index
            && self.table == other.table
            && self.free == other.free
            && self.paused == other.paused
            && same_contexts
            && same_debounces
    }
}

/// Restoring from a snapshot: the key index is rebuilt from the table, and
/// the table checked so that no index the machine follows can be wrong.
#[cfg(feature = "serde")]
impl<K: Clone + Eq + Hash> Groups<K> {
    pub(crate) fn restore(&mut self) -> Result<(), &'static str> {
        let n = self.table.len();
        // Group timer keys are `g << 2` (`timers.rs`).
        if n >= NIL as usize / 4 {
            return Err("the group table is too large");
        }
        if !crate::state::free_list_matches(&self.table, &self.free) {
            return Err("the group free list does not name exactly the empty entries");
        }
        if self.contexts.len() > n {
            return Err("more context entries than groups");
        }
        if self.paused.iter().any(|&g| self.try_get(g).is_none()) {
            return Err("a paused group is not tracked");
        }
        if self.debouncing.len() > n {
            return Err("more debounce entries than groups");
        }
        let debouncing = |(g, latest): (usize, &Option<Time>)| {
            latest.is_none()
                || self
                    .try_get(g as GroupIdx)
                    .is_some_and(|group| group.unread & group.is_asleep())
        };
        if !self.debouncing.iter().enumerate().all(debouncing) {
            return Err("a debouncing group is not asleep with unread messages");
        }
        self.debounced = self.debouncing.iter().flatten().count();
        self.index.clear();
        for (g, group) in self.table.iter().enumerate() {
            if let Some(group) = group {
                if self
                    .index
                    .insert(group.key.clone(), g as GroupIdx)
                    .is_some()
                {
                    return Err("two groups have the same key");
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_takes_40_bytes_with_small_keys() {
        assert!(std::mem::size_of::<Option<Group<u32>>>() <= 40);
    }

    #[test]
    fn an_empty_group_is_forgotten_and_its_index_reused() {
        let mut groups = Groups::default();
        let a = groups.track("a");
        assert_eq!(groups.track("a"), a);
        groups.set_context(a, ContextStats::from_percent(5));
        groups.forget_if_empty(a);
        assert_eq!(groups.len(), 0);
        assert_eq!(groups.find(&"a"), None);
        let b = groups.track("b");
        assert_eq!(b, a, "index reused");
        assert_eq!(groups.context(b), None, "no context carried over");
    }
}
