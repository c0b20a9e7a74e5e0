//! The machine's state, by owner. Each type owns its data and keeps its own
//! invariants through its methods; none of them knows the behaviours in
//! [`crate::machine`], and none of them decides anything.
//!
//! | owner | holds |
//! |---|---|
//! | [`groups::Groups`] | every tracked group, by key and by index |
//! | [`line::Line`] | the waiting line (links kept in the groups) |
//! | [`jobs::Jobs`] | every group's job FIFO and task-id dedup |
//! | [`runs::Runs`] | the live runs, by id and by index |
//! | [`timers::Timers`] | every deadline, in one indexed heap |

pub(crate) mod groups;
pub(crate) mod jobs;
pub(crate) mod line;
pub(crate) mod runs;
pub(crate) mod timers;

/// Index of a group in the group table. Not a key: reused after the group
/// is forgotten.
pub(crate) type GroupIdx = u32;

/// "No entry" for every `u32` index in the state owners.
pub(crate) const NIL: u32 = u32::MAX;

/// A group's place in the waiting line, kept in the group. Only
/// [`line::Line`] reads or writes its fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) struct LineLink {
    pub(in crate::state) prev: GroupIdx,
    pub(in crate::state) next: GroupIdx,
}

impl Default for LineLink {
    fn default() -> Self {
        LineLink {
            prev: NIL,
            next: NIL,
        }
    }
}
