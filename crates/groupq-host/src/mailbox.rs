//! The message store the core's `RollbackCursor` speaks of: per group, the
//! messages in arrival order and a cursor, the position of the first
//! message no run has been handed yet.
//!
//! Positions count every message the group ever had, so a position names
//! one message for the mailbox's life. Invariant: `first <= rollback_to <=
//! cursor <= end`. Messages before `rollback_to` were answered by a
//! delivered reply and are dropped; `rollback_to..cursor` were handed to
//! the live run and not yet answered; `cursor..end` are unread.

use std::collections::{BTreeMap, HashMap, VecDeque};

use groupq::Time;
use serde::{Deserialize, Serialize};

/// A message and when it arrived (core time).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Stored {
    text: String,
    at: Time,
}

/// One group's messages.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Mailbox {
    /// Messages from position `first` on; older ones were answered and
    /// dropped.
    messages: VecDeque<Stored>,
    first: u64,
    /// The next message to hand to a run.
    cursor: u64,
    /// Where the cursor goes back to if the group's run fails: its position
    /// at the run's spawn, moved past every message a delivered reply
    /// answered. Messages before it are answered and dropped.
    rollback_to: u64,
}

impl Mailbox {
    fn end(&self) -> u64 {
        self.first + self.messages.len() as u64
    }

    fn index(&self, position: u64) -> usize {
        (position - self.first) as usize
    }

    fn take_unread(&mut self) -> Vec<String> {
        let from = self.index(self.cursor);
        self.cursor = self.end();
        self.messages
            .range(from..)
            .map(|m| m.text.clone())
            .collect()
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

    fn is_consistent(&self) -> bool {
        self.first <= self.rollback_to
            && self.rollback_to <= self.cursor
            && self.cursor <= self.end()
    }
}

/// Every group's mailbox, while it holds messages: an empty one is dropped
/// (its positions only count within it), so a group with nothing pending
/// costs nothing. Snapshots list them by group, sorted, so that the bytes
/// never depend on hashing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Mailboxes {
    groups: HashMap<String, Mailbox>,
    /// Unread messages in every group, kept as they change: the driver
    /// reads it after every input, so it must not cost a walk.
    unread: usize,
}

impl Serialize for Mailboxes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let sorted: BTreeMap<_, _> = self.groups.iter().collect();
        sorted.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Mailboxes {
    /// Refuses a mailbox whose positions contradict each other: a snapshot
    /// that decodes is one the store can work on without panicking.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let groups: HashMap<String, Mailbox> = HashMap::deserialize(d)?;
        if let Some((group, _)) = groups.iter().find(|(_, m)| !m.is_consistent()) {
            return Err(serde::de::Error::custom(format!(
                "the mailbox of group {group:?} has positions out of order"
            )));
        }
        let unread = groups.values().map(|m| (m.end() - m.cursor) as usize).sum();
        Ok(Mailboxes { groups, unread })
    }
}

impl Mailboxes {
    /// A new message arrived at `at`, unread.
    pub(crate) fn push(&mut self, group: &str, text: String, at: Time) {
        let stored = Stored { text, at };
        // One lookup for a group that has messages (the common case); the
        // key is copied only for a new mailbox.
        match self.groups.get_mut(group) {
            Some(mailbox) => mailbox.messages.push_back(stored),
            None => {
                let mut mailbox = Mailbox::default();
                mailbox.messages.push_back(stored);
                self.groups.insert(group.to_string(), mailbox);
            }
        }
        self.unread += 1;
    }

    /// Takes back the message just pushed, which the core rejected. Only an
    /// unread message can be taken back: one a run was handed stays.
    pub(crate) fn unpush(&mut self, group: &str) {
        if let Some(mailbox) = self.groups.get_mut(group) {
            if mailbox.end() > mailbox.cursor {
                mailbox.messages.pop_back();
                self.unread -= 1;
            }
        }
        self.drop_if_empty(group);
    }

    /// A messages run starts: it is handed every unread message.
    pub(crate) fn start_run(&mut self, group: &str) -> Vec<String> {
        let Some(mailbox) = self.groups.get_mut(group) else {
            return Vec::new();
        };
        mailbox.rollback_to = mailbox.cursor;
        self.unread -= (mailbox.end() - mailbox.cursor) as usize;
        mailbox.take_unread()
    }

    /// The messages that arrived since the group's run was handed its
    /// last: the follow-ups to write into it now.
    pub(crate) fn take_unread(&mut self, group: &str) -> Vec<String> {
        let Some(mailbox) = self.groups.get_mut(group) else {
            return Vec::new();
        };
        self.unread -= (mailbox.end() - mailbox.cursor) as usize;
        mailbox.take_unread()
    }

    /// A reply answering the next `count` messages (`None`: every message
    /// handed so far) was delivered.
    pub(crate) fn answered(&mut self, group: &str, count: Option<u64>) {
        let Some(mailbox) = self.groups.get_mut(group) else {
            return;
        };
        mailbox.rollback_to = match count {
            Some(count) => mailbox
                .rollback_to
                .saturating_add(count)
                .min(mailbox.cursor),
            None => mailbox.cursor,
        };
        mailbox.forget_answered();
        self.drop_if_empty(group);
    }

    /// How many handed messages a reply answering `count` (`None`: all)
    /// would leave unanswered; nothing changes.
    pub(crate) fn unanswered_after(&self, group: &str, count: Option<u64>) -> usize {
        let Some(m) = self.groups.get(group) else {
            return 0;
        };
        let answered = match count {
            Some(count) => m.rollback_to.saturating_add(count).min(m.cursor),
            None => m.cursor,
        };
        (m.cursor - answered) as usize
    }

    /// The run failed: its unanswered messages are unread again. Returns
    /// how many.
    pub(crate) fn roll_back(&mut self, group: &str) -> usize {
        let Some(mailbox) = self.groups.get_mut(group) else {
            return 0;
        };
        let rewound = mailbox.cursor - mailbox.rollback_to;
        mailbox.cursor = mailbox.rollback_to;
        self.unread += rewound as usize;
        self.drop_if_empty(group);
        rewound as usize
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

    /// When the oldest unread message arrived.
    pub(crate) fn oldest_unread(&self, group: &str) -> Option<Time> {
        let m = self.groups.get(group)?;
        m.messages.get(m.index(m.cursor)).map(|s| s.at)
    }

    /// Every group with unread messages and how many, sorted by group.
    pub(crate) fn groups_with_unread(&self) -> Vec<(String, usize)> {
        let mut groups: Vec<(String, usize)> = self
            .groups
            .iter()
            .map(|(g, m)| (g.clone(), (m.end() - m.cursor) as usize))
            .filter(|(_, n)| *n > 0)
            .collect();
        groups.sort();
        groups
    }

    /// The unread messages' texts of `group`, oldest first.
    pub(crate) fn unread_texts(&self, group: &str) -> Vec<String> {
        self.groups.get(group).map_or_else(Vec::new, |m| {
            m.messages
                .range(m.index(m.cursor)..)
                .map(|s| s.text.clone())
                .collect()
        })
    }

    /// The texts handed to the group's run that no delivered reply
    /// answered, oldest first.
    pub(crate) fn unanswered_texts(&self, group: &str) -> Vec<String> {
        self.groups.get(group).map_or_else(Vec::new, |m| {
            m.messages
                .range(m.index(m.rollback_to)..m.index(m.cursor))
                .map(|s| s.text.clone())
                .collect()
        })
    }

    /// Unread messages in every group.
    pub(crate) fn total_unread(&self) -> usize {
        debug_assert_eq!(
            self.unread,
            self.groups
                .values()
                .map(|m| (m.end() - m.cursor) as usize)
                .sum::<usize>()
        );
        self.unread
    }

    /// How many groups hold messages.
    pub(crate) fn len(&self) -> usize {
        self.groups.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Time = Time::ZERO;

    #[test]
    fn a_rollback_rewinds_past_what_delivered_replies_answered_only() {
        let mut m = Mailboxes::default();
        m.push("g", "a".into(), T);
        m.push("g", "b".into(), T);
        assert_eq!(m.start_run("g"), ["a", "b"]);
        // The first turn answered "a" and was delivered.
        m.answered("g", Some(1));
        m.push("g", "c".into(), T);
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
        m.push("g", "a".into(), T);
        m.start_run("g");
        assert_eq!(m.unanswered_after("g", Some(5)), 0);
        m.answered("g", Some(5));
        m.push("g", "b".into(), T);
        assert_eq!(m.roll_back("g"), 0);
        assert_eq!(m.start_run("g"), ["b"]);
        assert_eq!(m.unanswered_after("g", Some(u64::MAX)), 0);
        m.answered("g", Some(u64::MAX));
        assert_eq!(m.len(), 0);
    }

    #[test]
    fn unpush_takes_back_only_an_unread_message() {
        let mut m = Mailboxes::default();
        m.push("g", "a".into(), T);
        assert_eq!(m.start_run("g"), ["a"]);
        // "a" was handed to a run: a rejected input after it cannot take it.
        m.unpush("g");
        assert_eq!(m.unanswered("g"), 1);
        m.push("g", "b".into(), T);
        m.push("g", "c".into(), T);
        m.unpush("g");
        assert_eq!(m.unread_texts("g"), ["b"]);
        m.unpush("g");
        assert_eq!((m.unread("g"), m.unanswered("g")), (0, 1));
        // An unpush of a group with nothing leaves nothing behind.
        m.unpush("other");
        assert_eq!(m.len(), 1);
        m.push("h", "x".into(), T);
        m.unpush("h");
        assert_eq!(m.len(), 1, "an emptied mailbox is dropped");
    }

    #[test]
    fn the_oldest_unread_message_is_the_one_at_the_cursor() {
        let mut m = Mailboxes::default();
        m.push("g", "a".into(), Time::from_nanos(1));
        m.push("g", "b".into(), Time::from_nanos(2));
        assert_eq!(m.oldest_unread("g"), Some(Time::from_nanos(1)));
        m.start_run("g");
        assert_eq!(m.oldest_unread("g"), None);
        m.roll_back("g");
        assert_eq!(m.oldest_unread("g"), Some(Time::from_nanos(1)));
        assert_eq!(m.groups_with_unread(), [("g".to_string(), 2)]);
        assert_eq!(m.total_unread(), 2);
        // Unread counts from the cursor, wherever it stands.
        m.start_run("g");
        m.push("g", "c".into(), Time::from_nanos(3));
        m.push("h", "x".into(), Time::from_nanos(3));
        assert_eq!(m.total_unread(), 2);
    }

    #[test]
    fn a_snapshot_with_positions_out_of_order_is_refused() {
        let bad = r#"{"g":{"messages":[],"first":0,"cursor":3,"rollback_to":0}}"#;
        let e = serde_json::from_str::<Mailboxes>(bad).unwrap_err();
        assert!(e.to_string().contains("out of order"), "{e}");
        let good =
            r#"{"g":{"messages":[{"text":"a","at":0}],"first":0,"cursor":1,"rollback_to":0}}"#;
        let m: Mailboxes = serde_json::from_str(good).unwrap();
        assert_eq!(m.unanswered("g"), 1);
    }
}
