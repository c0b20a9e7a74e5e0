//! Per-group state, and the live run a group may have.
//!
//! A group holds at most one [`Run`] in an `Option`: P1 ("a group never has
//! two live runs") is a property of the type, not of a check.

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

/// A live run, owned by its group.
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

/// The group's place in the waiting line: an intrusive singly linked list
/// through the group slab, so joining and leaving are O(1) and allocate
/// nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LineLink {
    pub(crate) queued: bool,
    pub(crate) next: u32,
    /// Join order, wrapping; groups leave only from the front, so the number
    /// of groups ahead is `ticket - head's ticket` (exact in wrapping `u32`
    /// arithmetic: the line never holds more than `u32::MAX` groups).
    pub(crate) ticket: u32,
}

impl Default for LineLink {
    fn default() -> Self {
        LineLink {
            queued: false,
            next: NIL,
            ticket: 0,
        }
    }
}

/// Everything the core knows about one group.
///
/// Kept small (64 bytes for `u32` keys and ids: one cache line) because
/// every message touches it: the retry deadline lives only in the timer
/// table and the last context statistics in a cold side table
/// (`Machine::contexts`), neither of which a message needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Group<K, T> {
    pub(crate) key: K,
    pub(crate) run: Option<Run<T>>,
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
    pub(crate) line: LineLink,
    /// Consecutive failed Messages runs (B7).
    pub(crate) failures: u32,
    /// A retry is scheduled; its deadline is the group's retry timer.
    pub(crate) retry: bool,
    /// The auto-compact threshold was reached during the live run (B5);
    /// becomes a compact job when that run exits (B6).
    pub(crate) compact_pending: bool,
}

impl<K, T> Group<K, T> {
    pub(crate) fn new(key: K) -> Self {
        Group {
            key,
            run: None,
            jobs: Queue::default(),
            compact_queued: false,
            ids_hashed: false,
            check: false,
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
        self.run.is_none() & !self.line.queued
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
    fn a_group_fits_one_cache_line_with_small_keys() {
        assert!(std::mem::size_of::<Option<Group<u32, u32>>>() <= 64);
    }
}
