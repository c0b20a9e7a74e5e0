//! B8: who gets a freed slot, and the waiting line.
//!
//! The waiting line holds groups that have pending work, no run, and found
//! no free slot. It is an intrusive FIFO through the group slab: join at the
//! back and leave from the front are O(1), and the steady state allocates
//! nothing (B12).

use std::hash::{BuildHasher, Hash};

use crate::config::Policy;
use crate::group::LineLink;
use crate::jobs::NIL;
use crate::machine::Machine;
use crate::output::Record;

/// Ends of the waiting line; the links live in each group's `LineLink`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Line {
    head: u32,
    tail: u32,
    len: usize,
    next_ticket: u32,
}

impl Default for Line {
    fn default() -> Self {
        Line {
            head: NIL,
            tail: NIL,
            len: 0,
            next_ticket: 0,
        }
    }
}

impl Line {
    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

impl<K, T, P, S> Machine<K, T, P, S>
where
    K: Clone + Eq + Hash,
    T: Clone + Eq + Hash,
    S: BuildHasher + Clone,
{
    /// New work arrived for group `g`: if it has no run and is not already
    /// waiting, start it in a free slot or put it in line. A group with a
    /// run picks the work up when that run exits. Never called after
    /// shutdown: inputs are refused then.
    pub(crate) fn wake(&mut self, g: u32) {
        debug_assert!(!self.shut_down);
        if !self.group(g).is_asleep() {
            return;
        }
        if self.has_free_slot() {
            self.start_next(g);
        } else {
            self.join_line(g);
        }
    }

    /// B8: group `g`'s run just exited and freed a slot.
    ///
    /// `Fair`: if others wait, `g` goes to the back and the head gets the
    /// slot, so a group with `W` groups ahead of it starts within `W + 1`
    /// releases (P6). `Legacy`: `g` drains its own backlog first.
    pub(crate) fn release_slot(&mut self, g: u32) {
        if self.shut_down {
            return;
        }
        if self.group(g).has_pending() {
            match self.config.policy() {
                Policy::Fair if self.line.len > 0 => self.join_line(g),
                Policy::Fair | Policy::Legacy => {
                    self.start_next(g);
                }
            }
        }
        self.drain_line();
    }

    /// Gives free slots to the head of the line until one runs out. Groups
    /// with nothing left are skipped. A slot is never left free while a
    /// group with pending work waits (P3).
    fn drain_line(&mut self) {
        while self.has_free_slot() {
            let Some(h) = self.pop_line() else {
                return;
            };
            let group = self.group(h);
            if group.has_pending() & (group.live == NIL) {
                let run = self.start_next(h);
                self.record(h, |group| Record::Drained { group, run });
            } else {
                self.evict_if_empty(h);
            }
        }
    }

    pub(crate) fn join_line(&mut self, g: u32) {
        let ticket = self.line.next_ticket;
        self.line.next_ticket = ticket.wrapping_add(1);
        let ahead = self.line.len;
        let group = self.group_mut(g);
        debug_assert!(!group.in_line);
        group.in_line = true;
        group.line = LineLink { next: NIL, ticket };
        if self.line.tail == NIL {
            self.line.head = g;
        } else {
            let tail = self.line.tail;
            self.group_mut(tail).line.next = g;
        }
        self.line.tail = g;
        self.line.len += 1;
        self.record(g, |group| Record::Waiting { group, ahead });
    }

    fn pop_line(&mut self) -> Option<u32> {
        if self.line.head == NIL {
            return None;
        }
        let g = self.line.head;
        let group = self.group_mut(g);
        let next = group.line.next;
        group.in_line = false;
        group.line.next = NIL;
        self.line.head = next;
        if next == NIL {
            self.line.tail = NIL;
        }
        self.line.len -= 1;
        Some(g)
    }

    /// Groups ahead of `g` in the line, if it is in the line. Groups leave
    /// only from the front, so tickets in the line are consecutive.
    pub(crate) fn line_position(&self, g: u32) -> Option<usize> {
        let group = self.group(g);
        if !group.in_line {
            return None;
        }
        let head = self.group(self.line.head).line.ticket;
        Some(group.line.ticket.wrapping_sub(head) as usize)
    }

    /// B9: empties the line without starting anyone.
    pub(crate) fn clear_line(&mut self) {
        while self.pop_line().is_some() {}
    }
}
