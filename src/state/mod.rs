//! The machine's state, by owner. Each type owns its data and keeps its own
//! invariants through its methods; none of them knows the behaviours in
//! [`crate::machine`], and none of them decides anything.
//!
//! | owner | holds |
//! |---|---|
//! | [`groups::Groups`] | every tracked group, by key and by index |
//! | [`line::Line`] | the waiting line's two lanes (links kept in the groups) |
//! | [`jobs::Jobs`] | every group's job FIFOs (normal, background) and task-id dedup |
//! | [`recent::Recent`] | conversation exits within the skip window |
//! | [`runs::Runs`] | the live runs, by id and by index |
//! | [`timers::Timers`] | every deadline, in one indexed heap |

pub(crate) mod breaker;
pub(crate) mod groups;
pub(crate) mod jobs;
pub(crate) mod line;
pub(crate) mod recent;
pub(crate) mod runs;
pub(crate) mod timers;

/// Index of a group in the group table. Not a key: reused after the group
/// is forgotten.
pub(crate) type GroupIdx = u32;

/// "No entry" for every `u32` index in the state owners.
pub(crate) const NIL: u32 = u32::MAX;

/// Restoring from a snapshot: whether a table's free list names exactly
/// its empty entries, each once.
#[cfg(feature = "serde")]
pub(crate) fn free_list_matches<E>(table: &[Option<E>], free: &[u32]) -> bool {
    let mut named = vec![false; table.len()];
    for &i in free {
        match (named.get_mut(i as usize), table.get(i as usize)) {
            (Some(seen), Some(None)) if !*seen => *seen = true,
            _ => return false,
        }
    }
    table
        .iter()
        .zip(named)
        .all(|(entry, named)| entry.is_some() || named)
}

/// Which lane of the line a group waits in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) enum Lane {
    /// Messages or normal jobs wait.
    Conversation = 0,
    /// Only background tasks wait.
    Background = 1,
}

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

#[cfg(all(test, feature = "serde"))]
mod tests {
    use super::free_list_matches;

    #[test]
    fn a_free_list_must_name_each_empty_entry_once_and_nothing_else() {
        let table = [Some('a'), None, Some('b'), None];
        assert!(free_list_matches(&table, &[3, 1]));
        assert!(!free_list_matches(&table, &[1]), "an empty entry left out");
        assert!(!free_list_matches(&table, &[1, 3, 1]), "named twice");
        assert!(!free_list_matches(&table, &[1, 3, 0]), "a tracked entry");
        assert!(!free_list_matches(&table, &[1, 3, 9]), "out of range");
    }
}
