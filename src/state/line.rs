//! The waiting line: groups with pending work and no run that found no
//! free slot, in two lanes, each in the order its groups joined: the
//! conversation lane (messages or normal jobs) and, behind it, the
//! background lane (groups with background tasks only, B16).
//!
//! Each lane is an intrusive doubly linked FIFO through the group table
//! (each group's `LineLink`): joining at the back, leaving from the front
//! and leaving from anywhere (a paused group gives up its place) are O(1)
//! and allocate nothing. Invariant: a group is in at most one lane, once
//! (`Group::in_line`). A group's position is counted by walking from the
//! head: the only O(n) read, used by `explain` alone.
//!
//! Aging: while both lanes wait, the background lane's head goes first
//! after `aging` groups left the conversation lane since the last
//! background start (`passed`), so it waits a bounded number of starts.

use crate::state::groups::Groups;
use crate::state::{GroupIdx, Lane, LineLink, NIL};

/// The ends of one lane; the links live in the groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
struct Fifo {
    head: GroupIdx,
    tail: GroupIdx,
    len: usize,
}

impl Default for Fifo {
    fn default() -> Self {
        Fifo {
            head: NIL,
            tail: NIL,
            len: 0,
        }
    }
}

/// Both lanes and the aging count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(from = "Stored", into = "Stored"))]
pub(crate) struct Line {
    /// The conversation lane, then the background lane: indexed by
    /// [`Lane`], so that joining and leaving do not branch on it.
    lanes: [Fifo; 2],
    /// Groups that left the conversation lane while the background lane
    /// waited, since the last background start.
    passed: u32,
}

/// The line on disk: the conversation lane's ends at the top, as they were
/// before lanes existed, so that older snapshots restore.
#[cfg(feature = "serde")]
#[derive(Clone, Copy, serde::Serialize, serde::Deserialize)]
struct Stored {
    head: GroupIdx,
    tail: GroupIdx,
    len: usize,
    #[serde(default)]
    background: Fifo,
    #[serde(default)]
    passed: u32,
}

#[cfg(feature = "serde")]
impl From<Stored> for Line {
    fn from(s: Stored) -> Line {
        let conversation = Fifo {
            head: s.head,
            tail: s.tail,
            len: s.len,
        };
        Line {
            lanes: [conversation, s.background],
            passed: s.passed,
        }
    }
}

#[cfg(feature = "serde")]
impl From<Line> for Stored {
    fn from(l: Line) -> Stored {
        Stored {
            head: l.lanes[0].head,
            tail: l.lanes[0].tail,
            len: l.lanes[0].len,
            background: l.lanes[1],
            passed: l.passed,
        }
    }
}

impl Line {
    /// Groups in the line, both lanes.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.lanes[0].len + self.lanes[1].len
    }

    /// Groups in the conversation lane.
    #[inline]
    pub(crate) fn conversations(&self) -> usize {
        self.lanes[0].len
    }

    /// Groups in the background lane.
    #[inline]
    pub(crate) fn backgrounds(&self) -> usize {
        self.lanes[1].len
    }

    #[inline(always)]
    fn fifo(&mut self, lane: Lane) -> &mut Fifo {
        &mut self.lanes[lane as usize]
    }

    /// Puts `g` at the back of `lane`; returns how many groups are ahead
    /// of it in that lane.
    #[inline(always)]
    pub(crate) fn join<K>(&mut self, groups: &mut Groups<K>, g: GroupIdx, lane: Lane) -> usize {
        let fifo = self.fifo(lane);
        let tail = fifo.tail;
        let group = groups.get_mut(g);
        debug_assert!(group.in_line.is_none());
        group.in_line = Some(lane);
        group.line = LineLink {
            prev: tail,
            next: NIL,
        };
        if tail == NIL {
            fifo.head = g;
        } else {
            groups.get_mut(tail).line.next = g;
        }
        fifo.tail = g;
        fifo.len += 1;
        fifo.len - 1
    }

    /// Takes the next group to start: the conversation lane's head, but
    /// the background lane's once `aging` conversation groups passed it or
    /// no conversation waits. While `background_blocked` (its cap is
    /// reached) the background lane is passed over and the count goes on,
    /// so it goes first as soon as the cap allows.
    #[inline]
    pub(crate) fn pop<K>(
        &mut self,
        groups: &mut Groups<K>,
        aging: u32,
        background_blocked: bool,
    ) -> Option<GroupIdx> {
        let background_due = (self.lanes[1].len > 0)
            & !background_blocked
            & ((self.lanes[0].len == 0) | (self.passed >= aging));
        let g = match background_due {
            true => {
                self.passed = 0;
                self.lanes[1].head
            }
            false if self.lanes[0].len > 0 => {
                if self.lanes[1].len > 0 {
                    self.passed = self.passed.saturating_add(1);
                }
                self.lanes[0].head
            }
            false => return None,
        };
        self.leave(groups, g);
        Some(g)
    }

    /// Takes the conversation lane's head while no background group
    /// waits: the common case, without the aging arithmetic.
    #[inline(always)]
    pub(crate) fn pop_conversation<K>(&mut self, groups: &mut Groups<K>) -> Option<GroupIdx> {
        debug_assert_eq!(self.lanes[1].len, 0);
        let g = self.lanes[0].head;
        if g == NIL {
            return None;
        }
        let group = groups.get_mut(g);
        let next = std::mem::take(&mut group.line).next;
        group.in_line = None;
        self.lanes[0].head = next;
        match next {
            NIL => self.lanes[0].tail = NIL,
            n => groups.get_mut(n).line.prev = NIL,
        }
        self.lanes[0].len -= 1;
        Some(g)
    }

    /// Takes every group out of the line (shutdown).
    pub(crate) fn clear<K>(&mut self, groups: &mut Groups<K>) {
        while self.pop(groups, 1, false).is_some() {}
    }

    /// Takes `g` out of the line, wherever it stands; nothing if it is not
    /// in it.
    #[inline(always)]
    pub(crate) fn leave<K>(&mut self, groups: &mut Groups<K>, g: GroupIdx) {
        let group = groups.get_mut(g);
        let Some(lane) = group.in_line.take() else {
            return;
        };
        let LineLink { prev, next } = std::mem::take(&mut group.line);
        match prev {
            NIL => self.fifo(lane).head = next,
            p => groups.get_mut(p).line.next = next,
        }
        match next {
            NIL => self.fifo(lane).tail = prev,
            n => groups.get_mut(n).line.prev = prev,
        }
        self.fifo(lane).len -= 1;
        if self.lanes[1].len == 0 {
            self.passed = 0;
        }
    }

    /// Groups ahead of `g` in its lane, if it is in the line: a walk from
    /// the lane's head.
    pub(crate) fn position<K>(&self, groups: &Groups<K>, g: GroupIdx) -> Option<usize> {
        let lane = groups.get(g).in_line?;
        let mut ahead = 0;
        let mut at = self.lanes[lane as usize].head;
        while at != g && at != NIL {
            ahead += 1;
            at = groups.get(at).line.next;
        }
        Some(ahead)
    }
}

/// Restoring from a snapshot: each lane is walked from its head through
/// the groups' links.
#[cfg(feature = "serde")]
impl Line {
    pub(crate) fn check<K>(&self, groups: &Groups<K>) -> Result<(), &'static str> {
        for (fifo, lane) in [
            (&self.lanes[0], Lane::Conversation),
            (&self.lanes[1], Lane::Background),
        ] {
            let (mut prev, mut at, mut len) = (NIL, fifo.head, 0usize);
            while at != NIL {
                let group = groups
                    .try_get(at)
                    .ok_or("the line names an untracked group")?;
                if group.in_line != Some(lane) || group.line.prev != prev || len == fifo.len {
                    return Err("the waiting line is broken");
                }
                if !group.has_pending() || group.lane() != lane {
                    return Err("a group waits in the line without work of its lane");
                }
                (prev, at, len) = (at, group.line.next, len + 1);
            }
            let in_lane = groups
                .indices()
                .filter(|&g| groups.get(g).in_line == Some(lane))
                .count();
            if prev != fifo.tail || len != fifo.len || in_lane != len {
                return Err("the waiting line's ends or length disagree with its groups");
            }
        }
        if self.lanes[1].len == 0 && self.passed != 0 {
            return Err("the line's aging count is set with no background group waiting");
        }
        Ok(())
    }
}
