//! Per-group state, and the live run a group may have.
//!
//! A group refers to at most one [`Run`] through one index (`Group::live`):
//! P1 ("a group never has two live runs") is a property of the type, not of
//! a check. The runs themselves sit in a small table of their own
//! ([`Lives`]): at most `max_active` are live, while groups that only wait
//! may number in the millions and should not each carry a `Run`.

use crate::input::RunId;
use crate::jobs::{Queue, NIL};
use crate::output::WorkKind;

/// Jobs a group's queue may hold while its task ids are deduplicated by
/// scanning it (see [`Group::ids_hashed`]).
pub(crate) const SCAN_MAX: usize = 8;

/// Where a live run is in its lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RunState {
    /// Working on a turn.
    Busy,
    /// Finished its turn; waiting for piped input.
    IdleWaiting,
    /// Its input was closed ([`CloseInput`](crate::Command::CloseInput)
    /// emitted); it only has to exit.
    Closing,
}

/// A live run, referred to by its group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Run<T> {
    pub(crate) id: RunId,
    pub(crate) kind: WorkKind,
    /// The task id of a task run: a new task with this id is a duplicate.
    pub(crate) task: Option<T>,
    pub(crate) state: RunState,
    /// A turn reported an error (B6).
    pub(crate) errored: bool,
    /// A reply reached the user (B6: then no rollback, no retry).
    pub(crate) delivered: bool,
}

/// The group's place in the waiting line (when `Group::in_line`): an
/// intrusive singly linked list through the group slab, so joining and
/// leaving are O(1) and allocate nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LineLink {
    pub(crate) next: u32,
    /// Join order, wrapping; groups leave only from the front, so the number
    /// of groups ahead is `ticket - head's ticket` (exact in wrapping `u32`
    /// arithmetic: the line never holds more than `u32::MAX` groups).
    pub(crate) ticket: u32,
}

impl Default for LineLink {
    fn default() -> Self {
        LineLink {
            next: NIL,
            ticket: 0,
        }
    }
}

/// The live runs, indexed by `Group::live`. Slots are reused, so the table
/// holds at most `max_active` runs' worth of memory once warm.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Lives<T> {
    runs: Vec<Option<Run<T>>>,
    free: Vec<u32>,
}

impl<T> Default for Lives<T> {
    fn default() -> Self {
        Lives {
            runs: Vec::new(),
            free: Vec::new(),
        }
    }
}

impl<T> Lives<T> {
    /// The run at `i`, if `i` is not `NIL`.
    pub(crate) fn get(&self, i: u32) -> Option<&Run<T>> {
        self.runs.get(i as usize)?.as_ref()
    }

    pub(crate) fn get_mut(&mut self, i: u32) -> Option<&mut Run<T>> {
        self.runs.get_mut(i as usize)?.as_mut()
    }

    /// Stores `run`; returns its index for `Group::live`.
    pub(crate) fn insert(&mut self, run: Run<T>) -> u32 {
        match self.free.pop() {
            Some(i) => {
                self.runs[i as usize] = Some(run);
                i
            }
            None => {
                self.runs.push(Some(run));
                (self.runs.len() - 1) as u32
            }
        }
    }

    /// Takes the run out of `*live` (a group's index), leaving `NIL`.
    pub(crate) fn take(&mut self, live: &mut u32) -> Option<Run<T>> {
        let i = std::mem::replace(live, NIL);
        let run = self.runs.get_mut(i as usize)?.take();
        self.free.push(i);
        run
    }
}

/// Everything the core knows about one group.
///
/// Kept small (40 bytes for `u32` keys) because every message touches it
/// and a backlog of waiting groups can exceed the caches: the live run is
/// an index into [`Lives`], the retry deadline lives only in the timer table
/// and the last context statistics in a cold side table
/// (`Machine::contexts`), none of which a waiting group needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Group<K> {
    pub(crate) key: K,
    /// The group's live run in [`Lives`], or `NIL`.
    pub(crate) live: u32,
    /// Compact and task jobs, FIFO (compact may be put at the front).
    pub(crate) jobs: Queue,
    /// A compact job is in `jobs` (at most one, B6).
    pub(crate) compact_queued: bool,
    /// The ids of the queued tasks are in `Machine::queued_ids`. Short
    /// queues (at most [`SCAN_MAX`] jobs) are deduplicated by scanning
    /// them instead, which costs less than hashing `(slot, id)` twice per
    /// task; a queue that grows past that moves its ids to the set (once,
    /// amortised over the jobs that made it grow) and stays there until it
    /// empties.
    pub(crate) ids_hashed: bool,
    /// The coalesced "has unprocessed messages" bit (B1).
    pub(crate) check: bool,
    /// In the waiting line.
    pub(crate) in_line: bool,
    pub(crate) line: LineLink,
    /// Consecutive failed Messages runs (B7).
    pub(crate) failures: u32,
    /// A retry is scheduled; its deadline is the group's retry timer.
    pub(crate) retry: bool,
    /// The auto-compact threshold was reached during the live run (B5);
    /// becomes a compact job when that run exits (B6).
    pub(crate) compact_pending: bool,
}

impl<K> Group<K> {
    pub(crate) fn new(key: K) -> Self {
        Group {
            key,
            live: NIL,
            jobs: Queue::default(),
            compact_queued: false,
            ids_hashed: false,
            check: false,
            in_line: false,
            line: LineLink::default(),
            failures: 0,
            retry: false,
            compact_pending: false,
        }
    }

    /// Work that needs a slot: jobs or the message check.
    ///
    /// These predicates use `|` and `&` rather than `||` and `&&`: every
    /// operand is a plain field read, and one well-predicted branch on the
    /// result is cheaper than a chain of data-dependent ones on hot paths.
    pub(crate) fn has_pending(&self) -> bool {
        !self.jobs.is_empty() | self.check
    }

    /// Has no run and is not in the waiting line: new work must wake it.
    pub(crate) fn is_asleep(&self) -> bool {
        (self.live == NIL) & !self.in_line
    }

    /// B12: nothing live, pending or scheduled; the group can be forgotten.
    pub(crate) fn is_empty(&self) -> bool {
        self.is_asleep() & !self.has_pending() & !self.retry & !self.compact_pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_takes_40_bytes_with_small_keys() {
        assert!(std::mem::size_of::<Option<Group<u32>>>() <= 40);
    }
}
