//! Durability: the write-ahead journal, snapshots, and loading both back.
//!
//! A state directory holds two files:
//! - `journal`: a header record (`JournalHead`: the state's id, the input
//!   count the journal starts after, the core's configuration), then one
//!   record per accepted input ([`entry::Stamped`]).
//! - `snapshot` (once the first is taken): one record holding the input
//!   count it was taken at and the driver's whole state.
//!
//! Both use [`frame`]'s framing (length, complement, CRC-32, JSON payload).
//! A snapshot is written to `snapshot.tmp`, synced and renamed into place;
//! then a new journal starting at the snapshot is written the same way. A
//! crash between the two renames leaves a journal that starts before the
//! snapshot: its records up to the snapshot are skipped on load.

pub(crate) mod entry;
pub mod frame;

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use groupq::Config;
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use thiserror::Error;
use tokio::time::Instant;

use entry::Stamped;
use frame::FrameError;

const JOURNAL_MAGIC: &[u8; 8] = b"GQJRNL\r\n";
const SNAPSHOT_MAGIC: &[u8; 8] = b"GQSNAP\r\n";

/// When the journal is synced to disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sync {
    /// After every input, before its outputs are carried out. Handle calls
    /// already waiting when one is taken share its sync (at most 256), so
    /// concurrent callers pay one sync per batch and no caller waits for a
    /// timer.
    EveryInput,
    /// Group commit: inputs are written together, at most `max_delay` after
    /// the first of them (rounded up to tokio's 1 ms timer) or once
    /// `max_inputs` wait; their outputs (commands, host events, answers)
    /// are held until then.
    Group {
        /// The longest an input's outputs wait for the sync.
        max_delay: Duration,
        /// Sync once this many inputs wait.
        max_inputs: usize,
    },
}

/// How a driver keeps its state: [`Builder::durable`](crate::Builder::durable).
#[derive(Clone, Debug)]
pub struct Durability {
    /// The state directory (created if missing).
    pub dir: PathBuf,
    /// When the journal is synced.
    pub sync: Sync,
    /// A snapshot is taken, and the journal restarted, every this many
    /// inputs.
    pub snapshot_every: u64,
}

impl Durability {
    /// Sync every input, snapshot every 100,000 inputs.
    pub fn new(dir: impl Into<PathBuf>) -> Durability {
        Durability {
            dir: dir.into(),
            sync: Sync::EveryInput,
            snapshot_every: 100_000,
        }
    }

    /// With this sync policy.
    pub fn sync(mut self, sync: Sync) -> Durability {
        self.sync = sync;
        self
    }

    /// With a snapshot every `inputs` inputs (at least 1).
    pub fn snapshot_every(mut self, inputs: u64) -> Durability {
        self.snapshot_every = inputs.max(1);
        self
    }
}

/// Why a state directory could not be used. The driver does not start on
/// any of these: nothing in the directory is changed or discarded.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StateError {
    /// A file could not be read, written or synced.
    #[error("{path}: {message}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The system's error.
        message: String,
    },
    /// A file is not a state file, is of another version, or is damaged
    /// before its end.
    #[error("{path}: {error}")]
    Frame {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        error: FrameError,
    },
    /// A record's checksum is right but its content is not a record of
    /// this version.
    #[error("{path}: record {index} is not readable: {message}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// The record's position (0 is the header).
        index: usize,
        /// The decoder's error.
        message: String,
    },
    /// The snapshot and the journal are not of the same state, or the
    /// journal does not reach the snapshot.
    #[error(
        "the snapshot (state {snapshot_state}, input {snapshot_seq}) does not match the journal \
         (state {journal_state}, inputs {journal_base} to {journal_end})"
    )]
    Mismatch {
        /// The snapshot's state id.
        snapshot_state: u64,
        /// The input count the snapshot was taken at.
        snapshot_seq: u64,
        /// The journal's state id.
        journal_state: u64,
        /// The input count the journal starts after.
        journal_base: u64,
        /// The input count the journal ends at.
        journal_end: u64,
    },
    /// The state holds work under another core configuration.
    #[error("the state directory holds work under another configuration; finish it with that configuration first")]
    ConfigChanged,
    /// A journaled input that the core refuses on replay. Only accepted
    /// inputs are journaled and the core is deterministic, so the journal
    /// was changed, or written by another version of the core.
    #[error("journal record {index} is refused on replay: {message}")]
    Replay {
        /// The record's position (0 is the header).
        index: usize,
        /// The core's refusal.
        message: String,
    },
    /// Another driver holds the state directory.
    #[error("{path}: another driver uses this state directory")]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
    /// The invariant checker cannot be restored with the state.
    #[error("a checked driver cannot be durable: the checker's account is not part of the state")]
    Checked,
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> StateError + '_ {
    move |e| StateError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// The journal's header record.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct JournalHead {
    state: u64,
    base: u64,
    config: Config,
}

/// The snapshot record: the input count and the driver's state.
#[derive(Serialize, Deserialize)]
struct SnapshotRecord<S> {
    state: u64,
    seq: u64,
    driver: S,
}

/// What [`parse`] found, borrowing the journal's bytes: its inputs are
/// decoded one at a time as they are replayed ([`Loaded::entries`]), so a
/// restore holds the file and one input, not every input decoded.
pub(crate) struct Loaded<'a, S> {
    /// The state's id (new when the directory was empty).
    pub(crate) state: u64,
    /// The snapshot's driver state, if one was taken.
    pub(crate) snapshot: Option<S>,
    /// The journal's records after the snapshot, to replay.
    records: Vec<&'a [u8]>,
    /// The journal record index of the first of them (0 is the header).
    first: usize,
    /// The journal's path, for errors.
    path: PathBuf,
    /// The input count after replaying them.
    pub(crate) seq: u64,
    /// Bytes of a torn journal tail, dropped.
    pub(crate) dropped: u64,
    /// Where the journal's last good record ends.
    pub(crate) good_len: u64,
    /// The configuration the journal was written under.
    pub(crate) config: Option<Config>,
}

impl<S> Loaded<'_, S> {
    /// How many inputs there are to replay.
    pub(crate) fn len(&self) -> usize {
        self.records.len()
    }

    /// The inputs to replay, in order, each with its record index; a record
    /// that does not decode is [`StateError::Malformed`].
    pub(crate) fn entries(
        &self,
    ) -> impl Iterator<Item = Result<(usize, Stamped), StateError>> + '_ {
        (self.first..).zip(&self.records).map(|(index, record)| {
            decode(&self.path, index, record).map(|stamped| (index, stamped))
        })
    }
}

/// A state directory's files as read: `None` for a file that is missing.
pub(crate) struct Files {
    /// `snapshot`.
    pub(crate) snapshot: Option<Vec<u8>>,
    /// `journal`.
    pub(crate) journal: Option<Vec<u8>>,
}

fn read_file(path: &Path) -> Result<Option<Vec<u8>>, StateError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error(path)(e)),
    }
}

fn decode<T: DeserializeOwned>(path: &Path, index: usize, bytes: &[u8]) -> Result<T, StateError> {
    serde_json::from_slice(bytes).map_err(|e| StateError::Malformed {
        path: path.to_path_buf(),
        index,
        message: e.to_string(),
    })
}

/// Reads the state directory `dir`'s files. Changes nothing on disk.
pub(crate) fn read(dir: &Path) -> Result<Files, StateError> {
    Ok(Files {
        snapshot: read_file(&dir.join("snapshot"))?,
        journal: read_file(&dir.join("journal"))?,
    })
}

/// Decodes the snapshot and frames the journal (`None`: no such file) of
/// the state directory `dir` (which only names files in errors).
pub(crate) fn parse<'a, S: DeserializeOwned>(
    dir: &Path,
    snapshot: Option<&[u8]>,
    journal: Option<&'a [u8]>,
) -> Result<Loaded<'a, S>, StateError> {
    let snapshot_path = dir.join("snapshot");
    let journal_path = dir.join("journal");
    let frame_error = |path: &Path| {
        let path = path.to_path_buf();
        move |error| StateError::Frame { path, error }
    };
    let snapshot = match snapshot {
        Some(bytes) => {
            let read = frame::read(bytes, SNAPSHOT_MAGIC, "snapshot")
                .map_err(frame_error(&snapshot_path))?;
            // A snapshot is renamed into place whole: a torn one is damage.
            let ([record], 0) = (&read.records[..], read.dropped) else {
                return Err(StateError::Frame {
                    path: snapshot_path,
                    error: FrameError::Corrupt {
                        offset: read.good_len,
                        after: read.dropped,
                    },
                });
            };
            Some(decode::<SnapshotRecord<S>>(&snapshot_path, 0, record)?)
        }
        None => None,
    };
    let Some(bytes) = journal else {
        return match snapshot {
            Some(s) => Err(StateError::Mismatch {
                snapshot_state: s.state,
                snapshot_seq: s.seq,
                journal_state: 0,
                journal_base: 0,
                journal_end: 0,
            }),
            None => Ok(Loaded {
                state: new_state_id(),
                snapshot: None,
                first: 1,
                records: Vec::new(),
                path: journal_path,
                seq: 0,
                dropped: 0,
                good_len: 0,
                config: None,
            }),
        };
    };
    let read = frame::read(bytes, JOURNAL_MAGIC, "journal").map_err(frame_error(&journal_path))?;
    let Some((head, records)) = read.records.split_first() else {
        return Err(StateError::Malformed {
            path: journal_path,
            index: 0,
            message: "no header record".into(),
        });
    };
    let head: JournalHead = decode(&journal_path, 0, head)?;
    let end = head.base + records.len() as u64;
    let (skip, snapshot) = match snapshot {
        Some(s) if s.state == head.state && head.base <= s.seq && s.seq <= end => {
            ((s.seq - head.base) as usize, Some(s))
        }
        Some(s) => {
            return Err(StateError::Mismatch {
                snapshot_state: s.state,
                snapshot_seq: s.seq,
                journal_state: head.state,
                journal_base: head.base,
                journal_end: end,
            })
        }
        None if head.base > 0 => {
            return Err(StateError::Mismatch {
                snapshot_state: 0,
                snapshot_seq: 0,
                journal_state: head.state,
                journal_base: head.base,
                journal_end: end,
            })
        }
        None => (0, None),
    };
    Ok(Loaded {
        state: head.state,
        snapshot: snapshot.map(|s| s.driver),
        first: skip + 1,
        records: records[skip..].to_vec(),
        path: journal_path,
        seq: end,
        dropped: read.dropped,
        good_len: read.good_len,
        config: Some(head.config),
    })
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

/// A snapshot file (`snapshot`) or a journal holding `payloads` as records:
/// how the fuzz targets get past the checksums to the decoders.
#[cfg(fuzzing)]
pub(crate) fn framed(snapshot: bool, payloads: &[&[u8]]) -> Vec<u8> {
    let mut out = frame::header(if snapshot {
        SNAPSHOT_MAGIC
    } else {
        JOURNAL_MAGIC
    });
    for payload in payloads {
        frame::record(&mut out, payload);
    }
    out
}

/// A state id: the time the state began, in nanoseconds, mixed with the
/// process id. It only has to tell one state directory's files from
/// another's.
fn new_state_id() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ (u64::from(std::process::id()) << 48)
}

/// The open journal: appends, syncs by policy, snapshots and restarts.
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
    sync: Sync,
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

    /// Appends one accepted input; it is durable after the next
    /// [`flush`](Journal::flush).
    pub(crate) fn append(&mut self, entry: &Stamped) {
        let payload = serde_json::to_vec(entry).expect("an entry serializes");
        frame::record(&mut self.buffer, &payload);
        self.waiting += 1;
        self.seq += 1;
        self.since_snapshot += 1;
        self.first_waiting.get_or_insert_with(Instant::now);
    }

    /// Whether the policy is [`Sync::EveryInput`].
    pub(crate) fn syncs_every_input(&self) -> bool {
        self.sync == Sync::EveryInput
    }

    /// When the waiting inputs must be synced at the latest: now for sync
    /// every input or a full group, else the group's delay.
    pub(crate) fn due(&self) -> Option<Instant> {
        let first = self.first_waiting?;
        match self.sync {
            Sync::EveryInput => Some(first),
            Sync::Group { max_inputs, .. } if self.waiting >= max_inputs => Some(first),
            Sync::Group { max_delay, .. } => Some(first + max_delay),
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

    /// Writes a snapshot of `driver` at the current input count, then
    /// restarts the journal after it. Call with nothing waiting.
    pub(crate) fn snapshot<S: Serialize>(&mut self, driver: &S) -> Result<(), StateError> {
        self.flush()?;
        let record = SnapshotRecord {
            state: self.state,
            seq: self.seq,
            driver,
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

/// Creates `dir` if needed and checks that it can be written.
pub(crate) fn prepare(dir: &Path) -> Result<Lock, StateError> {
    fs::create_dir_all(dir).map_err(io_error(dir))?;
    let path = dir.join("lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .and_then(|f| f.sync_all().map(|()| f))
        .map_err(io_error(&path))?;
    Flock::lock(file, FlockArg::LockExclusiveNonblock)
        .map(Lock)
        .map_err(|(_, errno)| match errno {
            Errno::EWOULDBLOCK => StateError::Locked { path },
            errno => io_error(&path)(io::Error::from(errno)),
        })
}

/// The state directory's lock, held while the driver lives: a second
/// driver on the same directory is refused ([`StateError::Locked`]).
#[derive(Debug)]
pub(crate) struct Lock(#[allow(dead_code)] Flock<File>); // held, never read
