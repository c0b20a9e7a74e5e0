//! The protocol's types and file helpers, shared by the driver (which
//! writes run files and messages, and reads lines) and agents (which do the
//! opposite).

use std::fs;
use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The run's assignment file, in the IPC directory.
pub const RUN_FILE: &str = "run.json";
/// The run's input directory, in the IPC directory.
pub const INPUT_DIR: &str = "in";
/// The file in the input directory whose presence closes the run's input.
pub const CLOSE_SENTINEL: &str = "_close";

/// What a run is for: `run.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    /// The run's id, unique within one driver.
    pub run: u64,
    /// The group (conversation) the run serves.
    pub group: String,
    /// The work.
    #[serde(flatten)]
    pub work: AssignedWork,
}

/// The work of a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "work", rename_all = "snake_case")]
pub enum AssignedWork {
    /// Answer the group's messages in `in/`, and follow-ups until closed.
    Messages,
    /// Do one task, then exit.
    Task {
        /// The task's id, unique among the group's queued tasks.
        task_id: String,
        /// What to do.
        prompt: String,
    },
    /// Compact the group's context, then exit.
    Compact,
}

/// One message file in `in/`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageFile {
    /// The user's message.
    pub text: String,
}

/// One line of an agent's stdout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AgentLine {
    /// A turn finished.
    Turn(TurnLine),
    /// The agent answered everything it was given and waits for input.
    Idle,
    /// The agent is alive, mid-turn.
    Heartbeat,
}

/// Whether a turn succeeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The turn succeeded.
    Success,
    /// The turn failed; the agent exits non-zero after it.
    Error,
}

/// What a finished turn reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TurnLine {
    /// Success or error.
    pub status: Status,
    /// The reply to deliver to the user, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
    /// Why the turn failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// How many input messages, in order, this turn answered; absent: every
    /// message the run has been given so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<u64>,
    /// Tokens in the group's context after the turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<u64>,
    /// The model's context window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_limit: Option<u64>,
    /// The turn compacted the context, which held this many tokens before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compacted_from: Option<u64>,
    /// On an error turn: the failure will happen again however often the
    /// messages are retried (a stale session, a bad configuration). The
    /// group's messages are not retried: the host is told of a terminal
    /// failure at once.
    #[serde(default, skip_serializing_if = "is_false")]
    pub fatal: bool,
    /// On an error turn: retry the messages after this many milliseconds
    /// rather than on the backoff (a provider's rate limit). Ignored when
    /// `fatal` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Writes `dir/name` atomically: a reader sees the whole file or nothing.
/// The temporary name starts with a dot, which readers skip.
pub fn write_atomic(dir: &Path, name: &str, contents: &[u8]) -> io::Result<()> {
    let tmp = dir.join(format!(".{name}.tmp"));
    fs::write(&tmp, contents)?;
    fs::rename(&tmp, dir.join(name))
}

/// The name of message number `seq` in the input directory: names sort as
/// the numbers do.
pub fn message_name(seq: u64) -> String {
    format!("{seq:012}.json")
}

/// The contents of a message file holding `text`.
pub fn message_body(text: &str) -> io::Result<Vec<u8>> {
    Ok(serde_json::to_vec(&MessageFile {
        text: text.to_string(),
    })?)
}

/// Writes message number `seq` into the input directory `input`; `seq`
/// orders the files (readers sort by name).
pub fn write_message(input: &Path, seq: u64, text: &str) -> io::Result<()> {
    write_atomic(input, &message_name(seq), &message_body(text)?)
}

/// Reads and deletes every message file in the input directory `input`,
/// oldest first.
pub fn read_messages(input: &Path) -> io::Result<Vec<String>> {
    let mut names: Vec<String> = fs::read_dir(input)?
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".json") && !name.starts_with('.'))
        .collect();
    names.sort();
    let mut texts = Vec::with_capacity(names.len());
    for name in names {
        let path = input.join(&name);
        let file: MessageFile = serde_json::from_slice(&fs::read(&path)?)?;
        fs::remove_file(&path)?;
        texts.push(file.text);
    }
    Ok(texts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_have_the_documented_shape() {
        let turn = AgentLine::Turn(TurnLine {
            status: Status::Success,
            reply: Some("re: hello".into()),
            error: None,
            messages: Some(1),
            tokens: Some(3100),
            context_limit: Some(10000),
            compacted_from: None,
            fatal: false,
            retry_after_ms: None,
        });
        assert_eq!(
            serde_json::to_string(&turn).unwrap(),
            r#"{"type":"turn","status":"success","reply":"re: hello","messages":1,"tokens":3100,"context_limit":10000}"#
        );
        assert_eq!(
            serde_json::to_string(&AgentLine::Idle).unwrap(),
            r#"{"type":"idle"}"#
        );
        let minimal: AgentLine =
            serde_json::from_str(r#"{"type":"turn","status":"error"}"#).unwrap();
        assert!(matches!(
            minimal,
            AgentLine::Turn(TurnLine {
                status: Status::Error,
                messages: None,
                ..
            })
        ));
    }

    #[test]
    fn assignments_have_the_documented_shape() {
        let task = Assignment {
            run: 7,
            group: "alpha".into(),
            work: AssignedWork::Task {
                task_id: "r1".into(),
                prompt: "report".into(),
            },
        };
        assert_eq!(
            serde_json::to_string(&task).unwrap(),
            r#"{"run":7,"group":"alpha","work":"task","task_id":"r1","prompt":"report"}"#
        );
        let messages: Assignment =
            serde_json::from_str(r#"{"run":1,"group":"g","work":"messages"}"#).unwrap();
        assert_eq!(messages.work, AssignedWork::Messages);
    }
}
