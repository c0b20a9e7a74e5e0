//! The waiting line: groups with pending work and no run that found no
//! free slot, in the order they joined.
//!
//! An intrusive doubly linked FIFO through the group table (each group's
//! `LineLink`): joining at the back, leaving from the front and leaving
//! from anywhere (a paused group gives up its place) are O(1) and allocate
//! nothing. Invariant: a group is in the line at most once
//! (`Group::in_line`). A group's position is counted by walking from the
//! head: the only O(n) read, used by `explain` alone.

use crate::state::groups::Groups;
use crate::state::{GroupIdx, LineLink, NIL};

/// The ends of the line; the links live in the groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) struct Line {
    head: GroupIdx,
    tail: GroupIdx,
    len: usize,
}

impl Default for Line {
    fn default() -> Self {
        Line {
            head: NIL,
            tail: NIL,
            len: 0,
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
        let group = groups.get_mut(g);
        debug_assert!(!group.in_line);
        group.in_line = true;
        group.line = LineLink {
            prev: self.tail,
            next: NIL,
        };
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
        self.leave(groups, g);
        Some(g)
    }

    /// Takes `g` out of the line, wherever it stands; nothing if it is not
    /// in it.
    #[inline]
    pub(crate) fn leave<K>(&mut self, groups: &mut Groups<K>, g: GroupIdx) {
        let group = groups.get_mut(g);
        if !group.in_line {
            return;
        }
        let LineLink { prev, next } = std::mem::take(&mut group.line);
        group.in_line = false;
        match prev {
            NIL => self.head = next,
            p => groups.get_mut(p).line.next = next,
        }
        match next {
            NIL => self.tail = prev,
            n => groups.get_mut(n).line.prev = prev,
        }
        self.len -= 1;
    }

    /// Groups ahead of `g`, if it is in the line: a walk from the head.
    pub(crate) fn position<K>(&self, groups: &Groups<K>, g: GroupIdx) -> Option<usize> {
        if !groups.get(g).in_line {
            return None;
        }
        let mut ahead = 0;
        let mut at = self.head;
        while at != g && at != NIL {
            ahead += 1;
            at = groups.get(at).line.next;
        }
        Some(ahead)
    }
}

/// Restoring from a snapshot: the line is walked from its head through the
/// groups' links.
#[cfg(feature = "serde")]
impl Line {
    pub(crate) fn check<K>(&self, groups: &Groups<K>) -> Result<(), &'static str> {
        let (mut prev, mut at, mut len) = (NIL, self.head, 0usize);
        while at != NIL {
            let group = groups
                .try_get(at)
                .ok_or("the line names an untracked group")?;
            if !group.in_line || group.line.prev != prev || len == self.len {
                return Err("the waiting line is broken");
            }
            (prev, at, len) = (at, group.line.next, len + 1);
        }
        let in_line = groups.indices().filter(|&g| groups.get(g).in_line).count();
        if prev != self.tail || len != self.len || in_line != len {
            return Err("the waiting line's ends or length disagree with its groups");
        }
        Ok(())
    }
}
