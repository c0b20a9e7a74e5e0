//! Read-only views for operators: one group's status (the core's
//! `explain` with what the host keeps beside it) and the host at a glance.

use std::collections::HashMap;

use groupq::{Explain, RunId, Stats, Time};
use serde::{Deserialize, Serialize};

use crate::host::Host;

/// What the host remembers of a group for its operators, while it tracks
/// the group: its last error and when it last wrote output.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Note {
    pub(crate) last_error: Option<String>,
    pub(crate) last_output: Option<Time>,
}

/// The notes of the groups the host tracks.
pub(crate) type Notes = HashMap<String, Note>;

/// Why a group is where it is: the answer of [`Host::status`]. It
/// serializes (serde) for an operator's endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct GroupStatus {
    /// What the core holds for the group (`None`: nothing, for example
    /// after a terminal failure left only unread messages).
    pub core: Option<Explain<String>>,
    /// Messages no run has been handed yet. After a terminal failure they
    /// wait here for the group's next message.
    pub unread: usize,
    /// Messages handed to the live run that no delivered reply answered.
    pub unanswered: usize,
    /// The live run and its name.
    pub run: Option<(RunId, String)>,
    /// The last error: a failed turn's, or a failed run's exit.
    pub last_error: Option<String>,
    /// When one of its runs last wrote a line (core time).
    pub last_output: Option<Time>,
}

/// The host at a glance: the answer of [`Host::stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct HostStats {
    /// The core's counts.
    pub core: Stats,
    /// Unread messages in every group, terminal failures' included.
    pub unread_messages: usize,
    /// Groups the host holds messages for.
    pub groups_with_messages: usize,
}

impl<D: groupq::Steppable<String, String, String>> Host<D> {
    /// Everything known about `group`, or `None` when neither the core nor
    /// the host holds anything for it.
    pub fn status(&self, group: &str) -> Option<GroupStatus> {
        let core = self.core.machine().explain(&group.to_string());
        let unread = self.mailboxes.unread(group);
        let unanswered = self.mailboxes.unanswered(group);
        if core.is_none() && unread == 0 && unanswered == 0 {
            return None;
        }
        let note = self.notes.get(group);
        let run = core
            .as_ref()
            .and_then(|e| e.run)
            .and_then(|r| self.runs.get(r.run).map(|l| (r.run, l.name.clone())));
        Some(GroupStatus {
            core,
            unread,
            unanswered,
            run,
            last_error: note.and_then(|n| n.last_error.clone()),
            last_output: note.and_then(|n| n.last_output),
        })
    }

    /// Every group the core or the message store holds something for,
    /// sorted: for a status page.
    pub fn groups(&self) -> Vec<String> {
        let mut groups: Vec<String> = self.core.machine().groups().cloned().collect();
        groups.extend(
            self.mailboxes
                .groups_with_unread()
                .into_iter()
                .map(|(g, _)| g),
        );
        groups.sort();
        groups.dedup();
        groups
    }

    /// The host at a glance.
    pub fn stats(&self) -> HostStats {
        HostStats {
            core: self.core.machine().stats(),
            unread_messages: self.mailboxes.total_unread(),
            groups_with_messages: self.mailboxes.len(),
        }
    }
}
