//! The host's message store the core's `RollbackCursor` speaks of: per
//! group, the messages in arrival order and a cursor, the index of the
//! first message no run has been handed yet.

use std::collections::{HashMap, VecDeque};

use serde::{Deserialize, Serialize};

/// One group's messages.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Mailbox {
    /// Messages from index `first` on; older ones were answered and dropped.
    messages: VecDeque<String>,
    first: u64,
    /// The next message to hand to a run.
    cursor: u64,
    /// Where the cursor goes back to if the group's run fails: its position
    /// at the run's spawn, moved past every message a delivered reply
    /// answered. Messages before it are answered and can be dropped.
    rollback_to: u64,
}

impl Mailbox {
    fn end(&self) -> u64 {
        self.first + self.messages.len() as u64
    }

    fn take_unread(&mut self) -> Vec<String> {
        let from = (self.cursor - self.first) as usize;
        self.cursor = self.end();
        self.messages.range(from..).cloned().collect()
    }

    /// Drops the messages no rollback can reach again.
    fn forget_answered(&mut self) {
        while self.first < self.rollback_to {
            self.messages.pop_front();
            self.first += 1;
        }
    }

    /// Holds nothing: every message was answered and dropped.
    fn is_empty(&self) -> bool {
        self.messages.is_empty() && self.cursor == self.first && self.rollback_to == self.first
    }
}

/// Every group's mailbox, while it holds messages: an empty one is dropped
/// (its positions only count within it), so a group with nothing pending
/// costs nothing. Snapshots list them by group, sorted, so that the bytes
/// never depend on hashing.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Mailboxes {
    #[serde(serialize_with = "sorted")]
    groups: HashMap<String, Mailbox>,
}

fn sorted<S: serde::Serializer>(
    groups: &HashMap<String, Mailbox>,
    s: S,
) -> Result<S::Ok, S::Error> {
    let sorted: std::collections::BTreeMap<_, _> = groups.iter().collect();
    sorted.serialize(s)
}

impl Mailboxes {
    /// A new message arrived, unread.
    pub(crate) fn push(&mut self, group: &str, text: String) {
        self.mailbox(group).messages.push_back(text);
    }

    /// Takes back the message just pushed, which the core rejected.
    pub(crate) fn unpush(&mut self, group: &str) {
        if let Some(mailbox) = self.groups.get_mut(group) {
            if mailbox.end() > mailbox.cursor {
                mailbox.messages.pop_back();
            }
        }
    }

    /// A messages run starts: it is handed every unread message.
    pub(crate) fn start_run(&mut self, group: &str) -> Vec<String> {
        let Some(mailbox) = self.groups.get_mut(group) else {
            return Vec::new();
        };
        mailbox.rollback_to = mailbox.cursor;
        mailbox.take_unread()
    }

    /// The message just pushed was piped into the live run.
    pub(crate) fn take_unread(&mut self, group: &str) -> Vec<String> {
        self.groups
            .get_mut(group)
            .map_or_else(Vec::new, Mailbox::take_unread)
    }

    /// A reply answering the next `count` messages (`None`: every message
    /// handed so far) was delivered.
    pub(crate) fn answered(&mut self, group: &str, count: Option<u64>) {
        let Some(mailbox) = self.groups.get_mut(group) else {
            return;
        };
        mailbox.rollback_to = match count {
            Some(count) => (mailbox.rollback_to + count).min(mailbox.cursor),
            None => mailbox.cursor,
        };
        mailbox.forget_answered();
        self.drop_if_empty(group);
    }

    /// The run failed: its unanswered messages are unread again. Returns
    /// how many.
    pub(crate) fn roll_back(&mut self, group: &str) -> usize {
        let Some(mailbox) = self.groups.get_mut(group) else {
            return 0;
        };
        let rewound = mailbox.cursor - mailbox.rollback_to;
        mailbox.cursor = mailbox.rollback_to;
        self.drop_if_empty(group);
        rewound as usize
    }

    /// How many groups hold messages.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.groups.len()
    }

    fn drop_if_empty(&mut self, group: &str) {
        if self.groups.get(group).is_some_and(Mailbox::is_empty) {
            self.groups.remove(group);
        }
    }

    /// Messages handed to the group's run that no delivered reply answered.
    pub(crate) fn unanswered(&self, group: &str) -> usize {
        self.groups
            .get(group)
            .map_or(0, |m| (m.cursor - m.rollback_to) as usize)
    }

    /// Messages not yet handed to a run.
    pub(crate) fn unread(&self, group: &str) -> usize {
        self.groups
            .get(group)
            .map_or(0, |m| (m.end() - m.cursor) as usize)
    }

    fn mailbox(&mut self, group: &str) -> &mut Mailbox {
        if !self.groups.contains_key(group) {
            self.groups.insert(group.to_string(), Mailbox::default());
        }
        self.groups.get_mut(group).expect("inserted above")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rollback_rewinds_past_what_delivered_replies_answered_only() {
        let mut m = Mailboxes::default();
        m.push("g", "a".into());
        m.push("g", "b".into());
        assert_eq!(m.start_run("g"), ["a", "b"]);
        // The first turn answered "a" and was delivered.
        m.answered("g", Some(1));
        m.push("g", "c".into());
        assert_eq!(m.take_unread("g"), ["c"]);
        // The run fails: "b" and "c" are read again, "a" is not.
        assert_eq!(m.unanswered("g"), 2);
        assert_eq!(m.roll_back("g"), 2);
        assert_eq!(m.unread("g"), 2);
        assert_eq!(m.start_run("g"), ["b", "c"]);
        m.answered("g", None);
        assert_eq!(m.roll_back("g"), 0);
        assert_eq!(m.unread("g"), 0);
        // Nothing left: the group's mailbox is gone.
        assert_eq!(m.len(), 0);
    }

    #[test]
    fn answered_counts_past_the_cursor_are_capped() {
        let mut m = Mailboxes::default();
        m.push("g", "a".into());
        m.start_run("g");
        m.answered("g", Some(5));
        m.push("g", "b".into());
        assert_eq!(m.roll_back("g"), 0);
        assert_eq!(m.start_run("g"), ["b"]);
    }
}
