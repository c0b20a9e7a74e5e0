//! The wire between the adapter and an agent, shaped like the orchestrator
//! this stands in for: message files go into a per-run input directory, and
//! the agent answers with one JSON object per line on its stdout.

use std::fs;
use std::io;
use std::path::Path;

use groupq::{Compaction, CompactionTrigger, ContextStats, TurnReport, TurnStatus};
use serde::{Deserialize, Serialize};

/// The file whose presence tells an agent to finish and exit.
pub const CLOSE_SENTINEL: &str = "_close";

/// One message file in a run's input directory.
#[derive(Debug, Serialize, Deserialize)]
pub struct MessageFile {
    pub text: String,
}

/// One line of an agent's stdout.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AgentLine {
    /// A turn finished.
    Turn(Turn),
    /// The agent finished its turn and waits for more input.
    Idle,
}

/// Whether a turn succeeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Success,
    Error,
}

/// What a turn reports, e.g.
/// `{"type":"turn","status":"success","reply":"re: hello","tokens":3100,"context_limit":10000}`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Turn {
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Tokens in the group's context after the turn.
    pub tokens: u64,
    /// The context window.
    pub context_limit: u64,
    /// The turn compacted the context, which held this many tokens before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compacted_from: Option<u64>,
}

impl Turn {
    /// The turn as the core's input. `delivered` says whether the adapter got
    /// the reply to the user (here: printed it).
    pub fn to_report(&self, delivered: bool) -> TurnReport {
        TurnReport {
            status: match self.status {
                Status::Success => TurnStatus::Success,
                Status::Error => TurnStatus::Error,
            },
            replied: self.reply.is_some(),
            delivered: delivered && self.reply.is_some(),
            context: Some(ContextStats {
                tokens: Some(self.tokens),
                limit: Some(self.context_limit),
                percent: None,
                compact_recommended: false,
            }),
            compaction: self.compacted_from.map(|before| Compaction {
                trigger: CompactionTrigger::Manual,
                tokens_before: Some(before),
            }),
        }
    }

    /// Percent of the context window in use.
    pub fn percent(&self) -> u64 {
        self.tokens * 100 / self.context_limit.max(1)
    }
}

/// Writes `dir/name` atomically: a reader sees the whole file or nothing.
/// The temporary name starts with a dot, which readers skip.
pub fn write_atomic(dir: &Path, name: &str, contents: &[u8]) -> io::Result<()> {
    let tmp = dir.join(format!(".{name}.tmp"));
    fs::write(&tmp, contents)?;
    fs::rename(&tmp, dir.join(name))
}

/// Writes one message file; `seq` orders the files (readers sort by name).
pub fn write_message(dir: &Path, seq: u64, text: &str) -> io::Result<()> {
    let body = serde_json::to_vec(&MessageFile {
        text: text.to_string(),
    })?;
    write_atomic(dir, &format!("{seq:08}.json"), &body)
}

/// Reads and removes every message file in `dir`, oldest first.
pub fn take_messages(dir: &Path) -> io::Result<Vec<String>> {
    let mut names: Vec<String> = fs::read_dir(dir)?
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".json") && !name.starts_with('.'))
        .collect();
    names.sort();
    let mut texts = Vec::with_capacity(names.len());
    for name in names {
        let path = dir.join(&name);
        let file: MessageFile = serde_json::from_slice(&fs::read(&path)?)?;
        fs::remove_file(&path)?;
        texts.push(file.text);
    }
    Ok(texts)
}
