//! The waiting line: groups with pending work and no run that found no
//! free slot, in the order they joined.
//!
//! An intrusive FIFO through the group table (each group's `LineLink`):
//! joining at the back and leaving from the front are O(1) and allocate
//! nothing. Invariants: a group is in the line at most once
//! (`Group::in_line`); groups leave only from the front, so the tickets in
//! the line are consecutive and a group's position is a subtraction.

use crate::state::groups::Groups;
use crate::state::{GroupIdx, LineLink, NIL};

/// The ends of the line; the links live in the groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Line {
    head: GroupIdx,
    tail: GroupIdx,
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
    /// Groups in the line.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Puts `g` at the back; returns how many groups are ahead of it.
    #[inline]
    pub(crate) fn join<K>(&mut self, groups: &mut Groups<K>, g: GroupIdx) -> usize {
        let ticket = self.next_ticket;
        self.next_ticket = ticket.wrapping_add(1);
        let group = groups.get_mut(g);
        debug_assert!(!group.in_line);
        group.in_line = true;
        group.line = LineLink { next: NIL, ticket };
        if self.tail == NIL {
            self.head = g;
        } else {
            groups.get_mut(self.tail).line.next = g;
        }
        self.tail = g;
        self.len += 1;
        self.len - 1
    }

    /// Takes the group at the front.
    #[inline]
    pub(crate) fn pop<K>(&mut self, groups: &mut Groups<K>) -> Option<GroupIdx> {
        if self.head == NIL {
            return None;
        }
        let g = self.head;
        let group = groups.get_mut(g);
        let next = group.line.next;
        group.in_line = false;
        group.line.next = NIL;
        self.head = next;
        if next == NIL {
            self.tail = NIL;
        }
        self.len -= 1;
        Some(g)
    }

    /// Groups ahead of `g`, if it is in the line.
    pub(crate) fn position<K>(&self, groups: &Groups<K>, g: GroupIdx) -> Option<usize> {
        let group = groups.get(g);
        if !group.in_line {
            return None;
        }
        let head = groups.get(self.head).line.ticket;
        Some(group.line.ticket.wrapping_sub(head) as usize)
    }
}
