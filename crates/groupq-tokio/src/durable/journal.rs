//! The open journal: appends entries, syncs them by policy, and restarts
//! after each snapshot.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use groupq::{Config, Time};
use groupq_host::Entry;
use serde::Serialize;
use tokio::time::Instant;

use super::error::{io_error, StateError};
use super::files::{JournalHead, SnapshotRecord, JOURNAL_MAGIC, SNAPSHOT_MAGIC};
use super::frame;
use super::lock::Lock;
use super::{Durability, SyncPolicy};

/// A journal record, borrowed: the same bytes as `groupq_host::Stamped`.
#[derive(Serialize)]
struct StampedRef<'a> {
    now: Time,
    #[serde(flatten)]
    entry: &'a Entry,
}

/// The open journal.
pub(crate) struct Journal {
    dir: PathBuf,
    /// Held for the journal's life.
    _lock: Lock,
    file: File,
    state: u64,
    config: Config,
    /// Framed records not yet written.
    buffer: Vec<u8>,
    /// Inputs in `buffer`.
    waiting: usize,
    /// When the first of them was appended.
    first_waiting: Option<Instant>,
    sync: SyncPolicy,
    snapshot_every: u64,
    /// Inputs accepted in this state's life.
    seq: u64,
    since_snapshot: u64,
}

fn sync_dir(dir: &Path) -> Result<(), StateError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error(dir))
}

/// Writes `bytes` to `dir/name.tmp`, syncs it, renames it to `dir/name`
/// and syncs the directory; returns the file, open at its end.
fn replace(dir: &Path, name: &str, bytes: &[u8]) -> Result<File, StateError> {
    let tmp = dir.join(format!("{name}.tmp"));
    let path = dir.join(name);
    let mut file = File::create(&tmp).map_err(io_error(&tmp))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(io_error(&tmp))?;
    fs::rename(&tmp, &path).map_err(io_error(&path))?;
    sync_dir(dir)?;
    Ok(file)
}

/// Writes a journal holding only its header (the state, the input count
/// it starts after, the configuration) in place of the old one, and opens
/// it for appending.
fn new_journal(dir: &Path, state: u64, base: u64, config: &Config) -> Result<File, StateError> {
    let head = JournalHead {
        state,
        base,
        config: config.clone(),
    };
    let path = dir.join("journal");
    let head = serde_json::to_vec(&head).map_err(|e| io_error(&path)(io::Error::other(e)))?;
    let mut bytes = frame::header(JOURNAL_MAGIC);
    frame::record(&mut bytes, &head);
    // Positioned at its end: new records are written through it.
    replace(dir, "journal", &bytes)
}

impl Journal {
    /// Opens the journal of a loaded state for appending: `keep` it, cut
    /// back to its last good record (a torn tail goes), or write a new one
    /// (`None`: a new state, or a new configuration).
    pub(crate) fn open(
        durability: &Durability,
        lock: Lock,
        state: u64,
        seq: u64,
        config: Config,
        keep: Option<u64>,
    ) -> Result<Journal, StateError> {
        let dir = durability.dir.clone();
        let file = match keep {
            None => new_journal(&dir, state, seq, &config)?,
            Some(good_len) => {
                // Cut a torn tail off, so that new records follow good ones.
                let path = dir.join("journal");
                OpenOptions::new()
                    .append(true)
                    .open(&path)
                    .and_then(|f| {
                        f.set_len(good_len)?;
                        f.sync_all()?;
                        Ok(f)
                    })
                    .map_err(io_error(&path))?
            }
        };
        Ok(Journal {
            dir,
            _lock: lock,
            file,
            state,
            config,
            buffer: Vec::new(),
            waiting: 0,
            first_waiting: None,
            sync: durability.sync,
            snapshot_every: durability.snapshot_every,
            seq,
            since_snapshot: 0,
        })
    }

    /// Appends an entry about to be applied at `now`; it is durable after
    /// the next [`flush`](Journal::flush), unless [`unstage`](Journal::unstage)d
    /// first (the host refused it). Returns where it starts in the buffer.
    pub(crate) fn stage(&mut self, now: Time, entry: &Entry) -> usize {
        let mark = self.buffer.len();
        // An entry is strings and numbers: it always serializes.
        let payload = serde_json::to_vec(&StampedRef { now, entry }).unwrap_or_default();
        frame::record(&mut self.buffer, &payload);
        self.waiting += 1;
        self.seq += 1;
        self.since_snapshot += 1;
        if self.waiting == 1 {
            self.first_waiting = Some(Instant::now());
        }
        mark
    }

    /// Takes back the entry staged at `mark`: it was refused.
    pub(crate) fn unstage(&mut self, mark: usize) {
        self.buffer.truncate(mark);
        self.waiting -= 1;
        self.seq -= 1;
        self.since_snapshot -= 1;
        if self.waiting == 0 {
            self.first_waiting = None;
        }
    }

    /// Whether the policy is [`SyncPolicy::EveryInput`].
    pub(crate) fn syncs_every_input(&self) -> bool {
        self.sync == SyncPolicy::EveryInput
    }

    /// When the waiting inputs must be synced at the latest: now for sync
    /// every input or a full group, else the group's delay.
    pub(crate) fn due(&self) -> Option<Instant> {
        let first = self.first_waiting?;
        match self.sync {
            SyncPolicy::EveryInput => Some(first),
            SyncPolicy::Group { max_inputs, .. } if self.waiting >= max_inputs => Some(first),
            SyncPolicy::Group { max_delay, .. } => Some(first + max_delay),
        }
    }

    /// Writes and syncs the waiting inputs.
    pub(crate) fn flush(&mut self) -> Result<(), StateError> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let path = self.dir.join("journal");
        self.file
            .write_all(&self.buffer)
            .and_then(|()| self.file.sync_data())
            .map_err(io_error(&path))?;
        self.buffer.clear();
        self.waiting = 0;
        self.first_waiting = None;
        Ok(())
    }

    /// Whether a snapshot is due.
    pub(crate) fn snapshot_due(&self) -> bool {
        self.since_snapshot >= self.snapshot_every
    }

    /// Writes a snapshot of `host` at the current input count, then
    /// restarts the journal after it, under `config` (the host's core's,
    /// which a new epoch may have changed). Call with nothing waiting.
    pub(crate) fn snapshot<S: Serialize>(
        &mut self,
        host: &S,
        config: &Config,
    ) -> Result<(), StateError> {
        self.config = config.clone();
        self.flush()?;
        let record = SnapshotRecord {
            state: self.state,
            seq: self.seq,
            host,
        };
        let payload = serde_json::to_vec(&record).map_err(|e| StateError::Io {
            path: self.dir.join("snapshot"),
            message: e.to_string(),
        })?;
        let mut bytes = frame::header(SNAPSHOT_MAGIC);
        frame::record(&mut bytes, &payload);
        replace(&self.dir, "snapshot", &bytes)?;
        self.file = new_journal(&self.dir, self.state, self.seq, &self.config)?;
        self.since_snapshot = 0;
        Ok(())
    }

    /// Inputs accepted in this state's life.
    pub(crate) fn seq(&self) -> u64 {
        self.seq
    }
}
