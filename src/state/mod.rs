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
