//! The timer table: every deadline the core keeps, in one indexed binary heap.
//!
//! Each group owns at most two timers (its retry deadline and its run's idle
//! deadline), addressed by a small integer key. The heap keeps each key's
//! position, so re-arming or cancelling is O(log n) and leaves no stale
//! entries behind (a lazily-deleted heap would grow with every reply).
//! Deadlines fire in `(deadline, order set)` order.

use crate::time::Time;

const NONE: u32 = u32::MAX;

/// Which of a group's timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TimerKind {
    /// Retry a failed Messages run.
    Retry,
    /// Close an idle run's input.
    Idle,
}

/// A timer's address: the group slot and which timer.
#[inline]
pub(crate) fn key(group: u32, kind: TimerKind) -> u32 {
    group * 2 + matches!(kind, TimerKind::Idle) as u32
}

/// The group slot and kind of a timer key.
#[inline]
pub(crate) fn split(key: u32) -> (u32, TimerKind) {
    let kind = if key % 2 == 0 {
        TimerKind::Retry
    } else {
        TimerKind::Idle
    };
    (key / 2, kind)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    at: Time,
    seq: u64,
    key: u32,
}

impl Entry {
    fn before(&self, other: &Entry) -> bool {
        (self.at, self.seq) < (other.at, other.seq)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Timers {
    heap: Vec<Entry>,
    /// Heap index of each key, or `NONE`.
    pos: Vec<u32>,
    /// Order in which deadlines were set: breaks ties.
    seq: u64,
}

impl Timers {
    #[inline]
    pub(crate) fn get(&self, key: u32) -> Option<Time> {
        let p = *self.pos.get(key as usize)?;
        (p != NONE).then(|| self.heap[p as usize].at)
    }

    /// Arms (or re-arms) `key` to fire at `at`.
    #[inline]
    pub(crate) fn set(&mut self, key: u32, at: Time) {
        let k = key as usize;
        if self.pos.len() <= k {
            self.pos.resize(k + 1, NONE);
        }
        self.seq += 1;
        let entry = Entry {
            at,
            seq: self.seq,
            key,
        };
        let p = self.pos[k];
        if p == NONE {
            self.heap.push(entry);
            let i = self.heap.len() - 1;
            self.pos[k] = i as u32;
            self.sift_up(i);
        } else {
            self.heap[p as usize] = entry;
            let i = self.sift_up(p as usize);
            self.sift_down(i);
        }
    }

    /// Disarms `key`; harmless if it is not armed.
    #[inline]
    pub(crate) fn cancel(&mut self, key: u32) {
        let Some(&p) = self.pos.get(key as usize) else {
            return;
        };
        if p == NONE {
            return;
        }
        self.remove_at(p as usize);
    }

    /// The earliest deadline.
    #[inline]
    pub(crate) fn next(&self) -> Option<Time> {
        self.heap.first().map(|e| e.at)
    }

    /// Removes and returns the earliest key due at or before `now`.
    #[inline]
    pub(crate) fn pop_due(&mut self, now: Time) -> Option<u32> {
        let first = *self.heap.first()?;
        if first.at > now {
            return None;
        }
        self.remove_at(0);
        Some(first.key)
    }

    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }

    fn remove_at(&mut self, i: usize) {
        let removed = self.heap.swap_remove(i);
        self.pos[removed.key as usize] = NONE;
        if i < self.heap.len() {
            self.pos[self.heap[i].key as usize] = i as u32;
            let j = self.sift_up(i);
            self.sift_down(j);
        }
    }

    fn swap(&mut self, a: usize, b: usize) {
        self.heap.swap(a, b);
        self.pos[self.heap[a].key as usize] = a as u32;
        self.pos[self.heap[b].key as usize] = b as u32;
    }

    fn sift_up(&mut self, mut i: usize) -> usize {
        while i > 0 {
            let parent = (i - 1) / 2;
            if !self.heap[i].before(&self.heap[parent]) {
                break;
            }
            self.swap(i, parent);
            i = parent;
        }
        i
    }

    fn sift_down(&mut self, mut i: usize) {
        loop {
            let (l, r) = (2 * i + 1, 2 * i + 2);
            let mut best = i;
            if l < self.heap.len() && self.heap[l].before(&self.heap[best]) {
                best = l;
            }
            if r < self.heap.len() && self.heap[r].before(&self.heap[best]) {
                best = r;
            }
            if best == i {
                return;
            }
            self.swap(i, best);
            i = best;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(t: &mut Timers, now: Time) -> Vec<u32> {
        std::iter::from_fn(|| t.pop_due(now)).collect()
    }

    #[test]
    fn fires_in_deadline_order_ties_by_order_set() {
        let mut t = Timers::default();
        t.set(7, Time::from_millis(20));
        t.set(3, Time::from_millis(10));
        t.set(5, Time::from_millis(10));
        t.set(1, Time::from_millis(10));
        assert_eq!(t.pop_due(Time::from_millis(9)), None);
        assert_eq!(drain(&mut t, Time::from_millis(20)), [3, 5, 1, 7]);
    }

    #[test]
    fn rearm_and_cancel_leave_no_stale_entries() {
        let mut t = Timers::default();
        for i in 0..100 {
            t.set(i % 4, Time::from_millis(1000 - i as u64));
        }
        assert_eq!(t.len(), 4);
        t.cancel(2);
        t.cancel(2);
        t.cancel(99);
        assert_eq!(t.get(2), None);
        assert_eq!(t.get(3), Some(Time::from_millis(901)));
        assert_eq!(drain(&mut t, Time::MAX), [3, 1, 0]);
        assert_eq!(t.next(), None);
    }

    #[test]
    fn key_round_trips() {
        for g in [0, 1, 77] {
            for kind in [TimerKind::Retry, TimerKind::Idle] {
                assert_eq!(split(key(g, kind)), (g, kind));
            }
        }
    }
}
