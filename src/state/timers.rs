//! The timer table: every deadline the core keeps, in one indexed binary heap.
//!
//! A group owns two timers of its own (its retry and its debounce), its
//! live run up to six ([`RunTimer`]), and the machine one (its breaker).
//! Each is addressed by a small integer key: group timers by group index,
//! run timers by the run's index in the run table (at most `max_active` of
//! them), so the key space stays as small as the tables. The heap keeps each key's position, so re-arming or cancelling is
//! O(log n) and leaves no stale entries behind. Deadlines fire in
//! `(deadline, order set)` order.

use crate::state::GroupIdx;
use crate::time::Time;

const NONE: u32 = u32::MAX;

/// The deadlines of a live run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RunTimer {
    /// Close an idle run's input.
    Idle = 0,
    /// Close a run that has not finished its turn.
    Turn = 1,
    /// Close a run that reached its maximum life.
    Life = 2,
    /// Close a busy run that sent nothing for the stall timeout.
    Stall = 3,
    /// Kill a closed run that has not exited.
    Kill = 4,
    /// Close a busy run whose shutdown grace is over.
    Grace = 5,
}

impl RunTimer {
    fn from_bits(bits: u32) -> RunTimer {
        match bits {
            0 => RunTimer::Idle,
            1 => RunTimer::Turn,
            2 => RunTimer::Life,
            3 => RunTimer::Stall,
            4 => RunTimer::Kill,
            _ => RunTimer::Grace,
        }
    }
}

/// The configured durations of the run deadlines, in nanoseconds, computed
/// once: arming a deadline is then one saturating addition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RunDurations {
    pub(crate) idle: u64,
    pub(crate) turn: u64,
    pub(crate) compact: u64,
    pub(crate) life: Option<u64>,
    pub(crate) stall: Option<u64>,
    /// The first stall window: `stall + start_grace`.
    pub(crate) first_stall: Option<u64>,
    pub(crate) kill: u64,
    pub(crate) grace: u64,
    /// An exit has more to settle than its run: a breaker or a skip window
    /// is configured (one test per exit instead of one per setting).
    pub(crate) exit_hooks: bool,
}

impl RunDurations {
    pub(crate) fn of(config: &crate::config::Config) -> Self {
        let nanos = |d: std::time::Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        RunDurations {
            idle: nanos(config.idle_timeout()),
            turn: nanos(config.max_turn_time()),
            compact: nanos(config.max_compact_time()),
            life: config.max_run_time().map(nanos),
            stall: config.stall_timeout().map(nanos),
            first_stall: config
                .stall_timeout()
                .map(|stall| nanos(stall).saturating_add(nanos(config.start_grace()))),
            kill: nanos(config.kill_grace()),
            grace: nanos(config.shutdown_grace()),
            exit_hooks: config.breaker().is_some() | config.background().skip_window.is_some(),
        }
    }
}

/// Whose timer a key is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Timer {
    /// The group's retry.
    Retry(GroupIdx),
    /// The group's debounce: its messages run may start.
    Debounce(GroupIdx),
    /// A deadline of the live run at this run-table index.
    Run(u32, RunTimer),
    /// The breaker's: its cooldown ends, or its probe has lived long enough.
    Breaker,
}

/// The key layout: even keys are group timers (`g << 2`, plus 2 for the
/// debounce), odd keys run timers (kinds 0–5), and the one kind-7 key the
/// breaker's. Snapshots written before the debounce used layout 0, where
/// a retry was `g << 1`; they are upgraded on restore.
pub(crate) const LAYOUT: u8 = 1;

/// The key of group `g`'s retry timer.
#[inline]
pub(crate) fn retry_key(g: GroupIdx) -> u32 {
    g << 2
}

/// The key of group `g`'s debounce timer.
#[inline]
pub(crate) fn debounce_key(g: GroupIdx) -> u32 {
    (g << 2) | 2
}

/// The key of a run timer (odd keys): the run's table index and the kind.
#[inline]
pub(crate) fn run_key(run: u32, timer: RunTimer) -> u32 {
    (((run << 3) | timer as u32) << 1) | 1
}

/// The key of the breaker's timer: run kind 7, which no run timer uses.
pub(crate) const BREAKER_KEY: u32 = (7 << 1) | 1;

/// Whose timer `key` is.
#[inline]
pub(crate) fn split(key: u32) -> Timer {
    if key & 1 == 0 {
        match key & 2 {
            0 => Timer::Retry(key >> 2),
            _ => Timer::Debounce(key >> 2),
        }
    } else if key == BREAKER_KEY {
        Timer::Breaker
    } else {
        let k = key >> 1;
        Timer::Run(k >> 3, RunTimer::from_bits(k & 7))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
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

#[derive(Clone, Debug, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) struct Timers {
    heap: Vec<Entry>,
    /// Heap index of each key, or `NONE`.
    pos: Vec<u32>,
    /// Order in which deadlines were set: breaks ties.
    seq: u64,
    /// The key layout ([`LAYOUT`]); absent from old snapshots (layout 0).
    #[cfg_attr(feature = "serde", serde(default))]
    layout: u8,
}

/// Equal when the same deadlines are armed in the same order: the
/// position index follows from the heap (its length is how far it once
/// grew, not state).
impl PartialEq for Timers {
    fn eq(&self, other: &Self) -> bool {
        self.heap == other.heap && self.seq == other.seq && self.layout == other.layout
    }
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            heap: Vec::new(),
            pos: Vec::new(),
            seq: 0,
            layout: LAYOUT,
        }
    }
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

/// Restoring from a snapshot: old key layouts are upgraded, then the heap,
/// its position index and each key's owner are checked.
#[cfg(feature = "serde")]
impl Timers {
    /// Rewrites the keys of a layout-0 snapshot (a retry was `g << 1`),
    /// keeping every deadline and its order.
    pub(crate) fn upgrade(&mut self) -> Result<(), &'static str> {
        match self.layout {
            LAYOUT => return Ok(()),
            0 => {}
            _ => return Err("the timer key layout is unknown"),
        }
        for entry in &mut self.heap {
            if entry.key & 1 == 0 {
                entry.key = entry
                    .key
                    .checked_mul(2)
                    .ok_or("a retry timer's group is out of range")?;
            }
        }
        let top = self
            .heap
            .iter()
            .map(|e| e.key as usize + 1)
            .max()
            .unwrap_or(0);
        self.pos = vec![NONE; top];
        for (i, entry) in self.heap.iter().enumerate() {
            self.pos[entry.key as usize] = i as u32;
        }
        self.layout = LAYOUT;
        Ok(())
    }

    pub(crate) fn check<K, T>(
        &self,
        groups: &crate::state::groups::Groups<K>,
        runs: &crate::state::runs::Runs<T>,
    ) -> Result<(), &'static str> {
        let armed = self.pos.iter().filter(|&&p| p != NONE).count();
        if armed != self.heap.len() {
            return Err("the timer index disagrees with the heap");
        }
        for (p, entry) in self.heap.iter().enumerate() {
            if self.pos.get(entry.key as usize) != Some(&(p as u32)) || entry.seq > self.seq {
                return Err("a timer's position or order is wrong");
            }
            if p > 0 && entry.before(&self.heap[(p - 1) / 2]) {
                return Err("the timer heap is out of order");
            }
            let owned = match split(entry.key) {
                Timer::Retry(g) | Timer::Debounce(g) => groups.try_get(g).is_some(),
                Timer::Run(i, _) => runs.get(i).is_some(),
                Timer::Breaker => true,
            };
            if !owned {
                return Err("a timer belongs to no group or run");
            }
        }
        Ok(())
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
    fn keys_round_trip() {
        for i in [0, 1, 77] {
            assert_eq!(split(retry_key(i)), Timer::Retry(i));
            assert_eq!(split(debounce_key(i)), Timer::Debounce(i));
            for kind in [
                RunTimer::Idle,
                RunTimer::Turn,
                RunTimer::Life,
                RunTimer::Stall,
                RunTimer::Kill,
                RunTimer::Grace,
            ] {
                assert_eq!(split(run_key(i, kind)), Timer::Run(i, kind));
            }
        }
        assert_eq!(split(BREAKER_KEY), Timer::Breaker);
    }
}
