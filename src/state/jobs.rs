//! Per-group job FIFOs (compact and tasks), linked through one shared node
//! arena, and the task-id deduplication of every group.
//!
//! A `VecDeque` per group would allocate when a group gets its first job and
//! free when it is evicted: an allocation per event at scale. Here every
//! group's queue is a linked list of indices into one arena whose freed
//! nodes are reused, so the steady state allocates nothing.
//!
//! Each group has two queues in the arena: its normal jobs (`Group::jobs`)
//! and its background tasks (B16), whose ends live in a side table by
//! group index, since most groups never have one; `Queue::background`
//! says whether the group's is non-empty.
//!
//! Invariants: a queue holds at most one compact job, a background queue
//! none; a group's task ids are distinct across both its queues; when a
//! queue's ids are hashed (`Queue::ids_hashed`), the id index maps exactly
//! `(group, id)` of each of its tasks to its node.
//! Queues are doubly linked, so a cancelled task leaves from anywhere in
//! O(1).

use std::collections::HashMap;
use std::hash::Hash;

use crate::state::{GroupIdx, NIL};
use crate::work::Work;

/// Jobs a group's queue may hold while its task ids are deduplicated by
/// scanning it: short queues cost less to scan than to hash `(group, id)`
/// twice per task; a queue that grows past this moves its ids to the set
/// (once, amortised over the jobs that made it grow) and stays there until
/// it empties.
const SCAN_MAX: usize = 8;

/// A queued job: what a run will do, minus the unread messages.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) enum Job<T, P> {
    Task { id: T, payload: P },
    Compact,
}

impl<T, P> Job<T, P> {
    pub(crate) fn into_work(self) -> Work<T, P> {
        match self {
            Job::Task { id, payload } => Work::Task { id, payload },
            Job::Compact => Work::Compact,
        }
    }
}

/// One group's queue: ends, length and how its ids are deduplicated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) struct Queue {
    head: u32,
    tail: u32,
    len: u32,
    /// A compact job is queued (at most one).
    compact_queued: bool,
    /// Its task ids are in the id set rather than found by scanning.
    ids_hashed: bool,
    /// The group's background queue (in `Jobs::background`) is not empty.
    /// Kept here, in the queue's spare bytes, so that the hot paths read
    /// it with the group.
    #[cfg_attr(feature = "serde", serde(default))]
    background: bool,
}

impl Default for Queue {
    fn default() -> Self {
        Queue {
            head: NIL,
            tail: NIL,
            len: 0,
            compact_queued: false,
            ids_hashed: false,
            background: false,
        }
    }
}

impl Queue {
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len as usize
    }
    #[inline]
    pub(crate) fn has_compact(&self) -> bool {
        self.compact_queued
    }
    /// Tasks queued: every job but a queued compact.
    #[inline]
    pub(crate) fn tasks(&self) -> usize {
        self.len() - usize::from(self.compact_queued)
    }
    /// The group has background tasks queued.
    #[inline]
    pub(crate) fn has_background(&self) -> bool {
        self.background
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
struct Node<T, P> {
    job: Option<Job<T, P>>,
    next: u32,
    /// The previous node of the same queue, so that a cancelled task can
    /// be unlinked from the middle in O(1).
    prev: u32,
}

/// The arena holding every group's jobs, and the id index of long queues.
#[derive(Clone)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(bound(deserialize = "T: serde::Deserialize<'de>, P: serde::Deserialize<'de>"))
)]
pub(crate) struct Jobs<T, P> {
    nodes: Vec<Node<T, P>>,
    free: u32,
    len: usize,
    /// Compact jobs queued across all groups (at most one per group): the
    /// rest of `len` are tasks. Rebuilt on restore.
    #[cfg_attr(feature = "serde", serde(skip))]
    compacts: usize,
    /// Task id → its node, per group, for queues too long to scan.
    #[cfg_attr(feature = "serde", serde(skip))]
    ids: HashMap<(GroupIdx, T), u32>,
    /// Each group's background queue, by group index: grown on first use
    /// and never shrunk, so the steady state allocates nothing.
    #[cfg_attr(feature = "serde", serde(default))]
    background: Vec<Queue>,
}

impl<T, P> Default for Jobs<T, P> {
    fn default() -> Self {
        Jobs {
            nodes: Vec::new(),
            free: NIL,
            len: 0,
            compacts: 0,
            ids: HashMap::new(),
            background: Vec::new(),
        }
    }
}

/// The arena only: the id index mirrors it, and its order is the hasher's.
impl<T: std::fmt::Debug, P: std::fmt::Debug> std::fmt::Debug for Jobs<T, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jobs")
            .field("nodes", &self.nodes)
            .field("free", &self.free)
            .field("background", &self.background)
            .finish_non_exhaustive()
    }
}

/// How far the background table once grew is not state.
impl<T: Eq + Hash, P: PartialEq> PartialEq for Jobs<T, P> {
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (&self.background, &other.background);
        let empty = Queue::default();
        let same_background = (0..a.len().max(b.len()))
            .all(|i| a.get(i).unwrap_or(&empty) == b.get(i).unwrap_or(&empty));
        self.nodes == other.nodes
            && self.free == other.free
            && self.len == other.len
            && self.ids == other.ids
            && same_background
    }
}

impl<T, P> Jobs<T, P> {
    /// Jobs queued across all groups.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Tasks queued across all groups.
    #[inline]
    pub(crate) fn tasks(&self) -> usize {
        self.len - self.compacts
    }

    #[inline]
    fn alloc(&mut self, job: Job<T, P>, prev: u32, next: u32) -> u32 {
        self.len += 1;
        self.compacts += usize::from(matches!(job, Job::Compact));
        let node = Node {
            job: Some(job),
            next,
            prev,
        };
        if self.free != NIL {
            let i = self.free;
            self.free = self.nodes[i as usize].next;
            self.nodes[i as usize] = node;
            i
        } else {
            self.nodes.push(node);
            (self.nodes.len() - 1) as u32
        }
    }

    #[inline]
    fn push_back(&mut self, q: &mut Queue, job: Job<T, P>) -> u32 {
        let i = self.alloc(job, q.tail, NIL);
        if q.tail == NIL {
            q.head = i;
        } else {
            self.nodes[q.tail as usize].next = i;
        }
        q.tail = i;
        q.len += 1;
        i
    }

    /// Queues a compact job at the front, unless one is queued already.
    #[inline]
    pub(crate) fn push_compact(&mut self, q: &mut Queue) {
        if q.compact_queued {
            return;
        }
        q.compact_queued = true;
        self.insert_after(q, NIL, Job::Compact);
    }

    /// Links a new node holding `job` into `q` right after node `after`
    /// (`NIL`: at the front); returns it.
    fn insert_after(&mut self, q: &mut Queue, after: u32, job: Job<T, P>) -> u32 {
        let next = match after {
            NIL => q.head,
            a => self.nodes[a as usize].next,
        };
        let i = self.alloc(job, after, next);
        match after {
            NIL => q.head = i,
            a => self.nodes[a as usize].next = i,
        }
        match next {
            NIL => q.tail = i,
            n => self.nodes[n as usize].prev = i,
        }
        q.len += 1;
        i
    }

    /// Unlinks node `i` from `q` and frees it.
    #[inline]
    fn unlink(&mut self, q: &mut Queue, i: u32) -> Option<Job<T, P>> {
        let node = &mut self.nodes[i as usize];
        let job = node.job.take();
        let (prev, next) = (node.prev, node.next);
        node.next = self.free;
        node.prev = NIL;
        self.free = i;
        match prev {
            NIL => q.head = next,
            p => self.nodes[p as usize].next = next,
        }
        match next {
            NIL => q.tail = prev,
            n => self.nodes[n as usize].prev = prev,
        }
        q.len -= 1;
        self.len -= 1;
        self.compacts -= usize::from(matches!(job, Some(Job::Compact)));
        job
    }

    /// The front job of `q`.
    #[inline]
    pub(crate) fn front(&self, q: &Queue) -> Option<&Job<T, P>> {
        self.nodes.get(q.head as usize)?.job.as_ref()
    }

    /// Group `g`'s background queue (empty if it never had one).
    #[inline]
    fn background_of(&self, g: GroupIdx) -> Queue {
        self.background.get(g as usize).copied().unwrap_or_default()
    }

    /// Stores group `g`'s background queue back, and its flag in `q`.
    fn set_background(&mut self, g: GroupIdx, q: &mut Queue, b: Queue) {
        let i = g as usize;
        if self.background.len() <= i {
            self.background.resize(i + 1, Queue::default());
        }
        self.background[i] = b;
        q.background = !b.is_empty();
    }

    /// The front task of group `g`'s background queue.
    #[inline]
    pub(crate) fn front_background(&self, g: GroupIdx) -> Option<&Job<T, P>> {
        let b = self.background.get(g as usize)?;
        self.nodes.get(b.head as usize)?.job.as_ref()
    }

    /// Background tasks queued in group `g` (whose queue is `q`).
    #[inline]
    pub(crate) fn background_len(&self, g: GroupIdx, q: &Queue) -> usize {
        if q.background {
            self.background_of(g).len()
        } else {
            0
        }
    }

    /// Group `g`'s background tasks, front first.
    pub(crate) fn iter_background(&self, g: GroupIdx) -> impl Iterator<Item = &Job<T, P>> + '_ {
        let b = self.background_of(g);
        self.nodes_of(&b).map(|(_, job)| job)
    }

    /// The jobs of `q`, front first.
    pub(crate) fn iter<'a>(&'a self, q: &Queue) -> impl Iterator<Item = &'a Job<T, P>> + 'a {
        self.nodes_of(q).map(|(_, job)| job)
    }

    /// The jobs of `q` with their node indices, front first.
    fn nodes_of<'a>(&'a self, q: &Queue) -> impl Iterator<Item = (u32, &'a Job<T, P>)> + 'a {
        let mut i = q.head;
        std::iter::from_fn(move || {
            let at = i;
            let node = self.nodes.get(at as usize)?;
            i = node.next;
            node.job.as_ref().map(|job| (at, job))
        })
    }
}

impl<T: Clone + Eq + Hash, P> Jobs<T, P> {
    /// Appends a normal task to group `g`'s queue unless `id` is queued in
    /// the group already (in either class); hands the task back if it is.
    /// O(1): a scan of at most `SCAN_MAX` jobs, or one probe of the id
    /// index, per queue.
    #[inline]
    pub(crate) fn push_task(
        &mut self,
        g: GroupIdx,
        q: &mut Queue,
        id: T,
        payload: P,
    ) -> Result<(), (T, P)> {
        if q.background && self.is_queued_in(&self.background_of(g), g, &id) {
            return Err((id, payload));
        }
        self.push(g, q, id, payload)
    }

    /// Appends a background task to group `g`'s background queue unless
    /// `id` is queued in the group already; hands it back if it is.
    pub(crate) fn push_background(
        &mut self,
        g: GroupIdx,
        q: &mut Queue,
        id: T,
        payload: P,
    ) -> Result<(), (T, P)> {
        if self.is_queued_in(q, g, &id) {
            return Err((id, payload));
        }
        let mut b = self.background_of(g);
        let pushed = self.push(g, &mut b, id, payload);
        self.set_background(g, q, b);
        pushed
    }

    /// Appends a task to queue `q` of group `g` unless `id` is in it.
    #[inline]
    fn push(&mut self, g: GroupIdx, q: &mut Queue, id: T, payload: P) -> Result<(), (T, P)> {
        if q.ids_hashed {
            // Clone first: a panicking `Clone` must leave the index as it was.
            let key = (g, id.clone());
            if self.ids.contains_key(&key) {
                return Err((id, payload));
            }
            let node = self.push_back(q, Job::Task { id, payload });
            self.ids.insert(key, node);
            return Ok(());
        }
        if self.find(q, &id).is_some() {
            return Err((id, payload));
        }
        if q.len() >= SCAN_MAX {
            // Too long to scan from now on: its ids move to the index.
            let mut moved: Vec<((GroupIdx, T), u32)> = Vec::with_capacity(q.len() + 1);
            for (node, job) in self.nodes_of(q) {
                if let Job::Task { id, .. } = job {
                    moved.push(((g, id.clone()), node));
                }
            }
            let key = (g, id.clone());
            let node = self.push_back(q, Job::Task { id, payload });
            moved.push((key, node));
            self.ids.extend(moved);
            q.ids_hashed = true;
            return Ok(());
        }
        self.push_back(q, Job::Task { id, payload });
        Ok(())
    }

    /// Whether the task `id` is queued in group `g` (whose queue is `q`),
    /// in either class.
    pub(crate) fn is_queued(&self, q: &Queue, g: GroupIdx, id: &T) -> bool {
        self.is_queued_in(q, g, id)
            || (q.background && self.is_queued_in(&self.background_of(g), g, id))
    }

    /// Whether the task `id` is in queue `q` of group `g`.
    fn is_queued_in(&self, q: &Queue, g: GroupIdx, id: &T) -> bool {
        if q.ids_hashed {
            self.ids.contains_key(&(g, id.clone()))
        } else {
            self.find(q, id).is_some()
        }
    }

    /// Puts a task that never started back at the front of group `g`'s
    /// queue, behind a queued compact (which always goes first). Its id is
    /// not queued (it was the run's, and a live run's id is a duplicate).
    pub(crate) fn push_task_front(&mut self, g: GroupIdx, q: &mut Queue, id: T, payload: P) {
        let after = match self.front(q) {
            Some(Job::Compact) => q.head,
            _ => NIL,
        };
        let key = q.ids_hashed.then(|| (g, id.clone()));
        let i = self.insert_after(q, after, Job::Task { id, payload });
        if let Some(key) = key {
            self.ids.insert(key, i);
        }
    }

    /// Puts a background task that never started back at the front of
    /// group `g`'s background queue.
    pub(crate) fn push_background_front(&mut self, g: GroupIdx, q: &mut Queue, id: T, payload: P) {
        let mut b = self.background_of(g);
        self.push_task_front(g, &mut b, id, payload);
        self.set_background(g, q, b);
    }

    /// Removes the front task of group `g`'s background queue.
    pub(crate) fn pop_background(&mut self, g: GroupIdx, q: &mut Queue) -> Option<Job<T, P>> {
        if !q.background {
            return None;
        }
        let mut b = self.background_of(g);
        let job = self.pop_front(g, &mut b);
        self.set_background(g, q, b);
        job
    }

    /// Removes the front job of group `g`'s queue.
    #[inline]
    pub(crate) fn pop_front(&mut self, g: GroupIdx, q: &mut Queue) -> Option<Job<T, P>> {
        if q.head == NIL {
            return None;
        }
        let job = self.unlink(q, q.head)?;
        Some(self.forget(g, q, job))
    }

    /// Removes the task `id` from group `g`'s queues, wherever it stands;
    /// hands back its payload. O(1) for long queues, a short scan else.
    pub(crate) fn remove_task(&mut self, g: GroupIdx, q: &mut Queue, id: &T) -> Option<P> {
        if let Some(payload) = self.remove_from(g, q, id) {
            return Some(payload);
        }
        if !q.background {
            return None;
        }
        let mut b = self.background_of(g);
        let removed = self.remove_from(g, &mut b, id);
        self.set_background(g, q, b);
        removed
    }

    /// Removes the task `id` from queue `q` of group `g`.
    fn remove_from(&mut self, g: GroupIdx, q: &mut Queue, id: &T) -> Option<P> {
        let node = if q.ids_hashed {
            *self.ids.get(&(g, id.clone()))?
        } else {
            self.find(q, id)?
        };
        match self.unlink(q, node).map(|job| self.forget(g, q, job))? {
            Job::Task { payload, .. } => Some(payload),
            Job::Compact => None,
        }
    }

    /// Keeps the queue's flags and the id index in step with a removed job.
    #[inline]
    fn forget(&mut self, g: GroupIdx, q: &mut Queue, job: Job<T, P>) -> Job<T, P> {
        match job {
            Job::Compact => {
                q.compact_queued = false;
                Job::Compact
            }
            Job::Task { id, payload } if q.ids_hashed => {
                let key = (g, id);
                self.ids.remove(&key);
                q.ids_hashed = !q.is_empty();
                Job::Task { id: key.1, payload }
            }
            task => task,
        }
    }

    /// The node of the task `id` in `q`: a scan, for short queues.
    fn find(&self, q: &Queue, id: &T) -> Option<u32> {
        self.nodes_of(q).find_map(|(node, job)| match job {
            Job::Task { id: queued, .. } if queued == id => Some(node),
            _ => None,
        })
    }
}

/// Restoring from a snapshot: every queue is walked once, so that links,
/// lengths, the compact flag, the free list and the dedup invariant are
/// checked, and the id index is rebuilt for queues that hash their ids.
#[cfg(feature = "serde")]
impl<T: Clone + Eq + Hash, P> Jobs<T, P> {
    pub(crate) fn restore<'q>(
        &mut self,
        queues: impl Iterator<Item = (GroupIdx, &'q Queue)>,
    ) -> Result<(), &'static str> {
        let n = self.nodes.len();
        if n >= NIL as usize {
            return Err("the job arena is too large");
        }
        let mut seen = vec![false; n];
        let (mut total, mut all_compacts) = (0usize, 0usize);
        let mut ids = Vec::new();
        let mut tracked = vec![false; self.background.len()];
        for (g, q) in queues {
            let b = self.background_of(g);
            if q.background == b.is_empty() {
                return Err("a group's background flag disagrees with its background queue");
            }
            let mut ids_here = std::collections::HashSet::new();
            for (q, background) in [(q, false), (&b, true)] {
                let compacts = self.walk(g, q, &mut seen, &mut ids_here, &mut ids)?;
                if background && compacts > 0 {
                    return Err("a background queue holds a compact job");
                }
                total += q.len as usize;
                all_compacts += compacts;
            }
            if let Some(t) = tracked.get_mut(g as usize) {
                *t = true;
            }
        }
        if self
            .background
            .iter()
            .zip(&tracked)
            .any(|(b, &t)| !t && !b.is_empty())
        {
            return Err("an untracked group has background tasks");
        }
        if total != self.len {
            return Err("the job count disagrees with the queues");
        }
        self.compacts = all_compacts;
        let mut at = self.free;
        while at != NIL {
            let node = self
                .nodes
                .get(at as usize)
                .ok_or("a free job link is out of range")?;
            if std::mem::replace(&mut seen[at as usize], true) || node.job.is_some() {
                return Err("the job free list is broken");
            }
            at = node.next;
        }
        if seen.contains(&false) {
            return Err("a job node is neither queued nor free");
        }
        self.ids = ids.into_iter().collect();
        Ok(())
    }

    /// Walks queue `q` of group `g`: its links, length and compact flag,
    /// its ids distinct within the group (`ids_here`); collects the ids of
    /// a hashed queue. Returns its compact jobs.
    fn walk(
        &self,
        g: GroupIdx,
        q: &Queue,
        seen: &mut [bool],
        ids_here: &mut std::collections::HashSet<T>,
        ids: &mut Vec<((GroupIdx, T), u32)>,
    ) -> Result<usize, &'static str> {
        let (mut prev, mut at, mut len, mut compacts) = (NIL, q.head, 0u32, 0usize);
        while at != NIL {
            let node = self
                .nodes
                .get(at as usize)
                .ok_or("a job link is out of range")?;
            if std::mem::replace(&mut seen[at as usize], true) || node.prev != prev {
                return Err("the job links of a queue disagree");
            }
            match &node.job {
                None => return Err("a queue links a free job node"),
                Some(Job::Compact) => compacts += 1,
                Some(Job::Task { id, .. }) => {
                    if !ids_here.insert(id.clone()) {
                        return Err("a group has two queued tasks with one id");
                    }
                    if q.ids_hashed {
                        ids.push(((g, id.clone()), at));
                    }
                }
            }
            (prev, at, len) = (at, node.next, len + 1);
        }
        if prev != q.tail || len != q.len || compacts > 1 || (compacts == 1) != q.compact_queued {
            return Err("a queue's ends, length or compact flag disagree with its jobs");
        }
        Ok(compacts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(jobs: &Jobs<u32, ()>, q: &Queue) -> Vec<Option<u32>> {
        jobs.iter(q)
            .map(|j| match j {
                Job::Task { id, .. } => Some(*id),
                Job::Compact => None,
            })
            .collect()
    }

    #[test]
    fn fifo_with_front_insert_and_node_reuse() {
        let mut jobs = Jobs::default();
        let (mut a, mut b) = (Queue::default(), Queue::default());
        for id in 0..3 {
            jobs.push_task(0, &mut a, id, ()).unwrap();
            jobs.push_task(1, &mut b, 10 + id, ()).unwrap();
        }
        jobs.push_compact(&mut a);
        jobs.push_compact(&mut a);
        assert_eq!(ids(&jobs, &a), [None, Some(0), Some(1), Some(2)]);
        assert_eq!(ids(&jobs, &b), [Some(10), Some(11), Some(12)]);
        assert_eq!(jobs.pop_front(0, &mut a), Some(Job::Compact));
        assert!(!a.has_compact());
        assert_eq!(jobs.len(), 6);
        let before = jobs.nodes.len();
        jobs.push_task(1, &mut b, 13, ()).unwrap();
        assert_eq!(jobs.nodes.len(), before, "freed node reused");
        while jobs.pop_front(0, &mut a).is_some() {}
        assert!(a.is_empty());
        assert_eq!(ids(&jobs, &b), [Some(10), Some(11), Some(12), Some(13)]);
        jobs.push_compact(&mut a);
        assert_eq!(ids(&jobs, &a), [None]);
        assert_eq!(a.len(), 1);
    }

    #[test]
    fn dedup_is_exact_below_and_above_the_scan_limit_and_the_id_set_empties() {
        let mut jobs: Jobs<u32, ()> = Jobs::default();
        let mut q = Queue::default();
        for round in 0..2u32 {
            let base = round * 20;
            for id in base..base + 20 {
                assert!(jobs.push_task(7, &mut q, id, ()).is_ok(), "{id} is new");
                for dup in base..=id {
                    assert!(
                        jobs.push_task(7, &mut q, dup, ()).is_err(),
                        "{dup} is queued"
                    );
                }
            }
            assert!(q.ids_hashed);
            for next in base..base + 20 {
                assert_eq!(
                    jobs.pop_front(7, &mut q),
                    Some(Job::Task {
                        id: next,
                        payload: ()
                    })
                );
                assert!(
                    jobs.push_task(8, &mut Queue::default(), next, ()).is_ok(),
                    "other group"
                );
            }
            assert!(jobs.ids.is_empty() && !q.ids_hashed, "no id left behind");
        }
    }

    #[test]
    fn a_task_is_removed_from_anywhere_in_short_and_long_queues() {
        for n in [3u32, 20] {
            let mut jobs: Jobs<u32, u32> = Jobs::default();
            let mut q = Queue::default();
            for id in 0..n {
                jobs.push_task(1, &mut q, id, id * 10).unwrap();
            }
            jobs.push_compact(&mut q);
            // Middle, tail, then front task.
            for id in [n / 2, n - 1, 0] {
                assert_eq!(
                    jobs.remove_task(1, &mut q, &id),
                    Some(id * 10),
                    "n={n} id={id}"
                );
                assert_eq!(jobs.remove_task(1, &mut q, &id), None, "gone");
                assert!(
                    jobs.push_task(1, &mut q, id, 0).is_ok(),
                    "its id is free again"
                );
                assert_eq!(jobs.remove_task(1, &mut q, &id), Some(0));
            }
            let left: Vec<Option<u32>> = ids_of(&jobs, &q);
            let mut want = vec![None];
            want.extend((1..n - 1).filter(|&i| i != n / 2).map(Some));
            assert_eq!(left, want, "n={n}: order kept, compact first");
            while jobs.pop_front(1, &mut q).is_some() {}
            assert!(jobs.ids.is_empty() && jobs.len() == 0);
        }
    }

    fn ids_of(jobs: &Jobs<u32, u32>, q: &Queue) -> Vec<Option<u32>> {
        jobs.iter(q)
            .map(|j| match j {
                Job::Task { id, .. } => Some(*id),
                Job::Compact => None,
            })
            .collect()
    }
}
