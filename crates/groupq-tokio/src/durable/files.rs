//! Reading a state directory's files: the journal's header and records,
//! the snapshot's one record, and how they fit together. Nothing here
//! writes; parsing works on bytes, so the fuzz target reaches it without a
//! directory.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use groupq::Config;
use groupq_host::Stamped;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::error::{io_error, StateError};
use super::frame::{self, FrameError};

pub(crate) const JOURNAL_MAGIC: &[u8; 8] = b"GQJRNL\r\n";
pub(crate) const SNAPSHOT_MAGIC: &[u8; 8] = b"GQSNAP\r\n";

/// The journal's header record.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct JournalHead {
    /// The state's id: the host's instance number.
    pub(crate) state: u64,
    /// The input count the journal starts after.
    pub(crate) base: u64,
    /// The core's configuration the inputs were applied under.
    pub(crate) config: Config,
}

/// The snapshot record: the input count it was taken at and the host's
/// state.
#[derive(Serialize, Deserialize)]
pub(crate) struct SnapshotRecord<S> {
    pub(crate) state: u64,
    pub(crate) seq: u64,
    pub(crate) host: S,
}

/// What [`parse`] found, borrowing the journal's bytes: its entries are
/// decoded one at a time as they are replayed ([`Loaded::entries`]), so a
/// restore holds the file and one entry, not every entry decoded.
pub(crate) struct Loaded<'a, S> {
    /// The state's id (`None` when the directory was empty).
    pub(crate) state: Option<u64>,
    /// The snapshot's host state, if one was taken.
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
    /// How many entries there are to replay.
    pub(crate) fn len(&self) -> usize {
        self.records.len()
    }

    /// The entries to replay, in order, each with its record index; a
    /// record that does not decode is [`StateError::Malformed`].
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
    pub(crate) snapshot: Option<Vec<u8>>,
    pub(crate) journal: Option<Vec<u8>>,
}

fn read_file(path: &Path) -> Result<Option<Vec<u8>>, StateError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error(path)(e)),
    }
}

pub(crate) fn decode<T: DeserializeOwned>(
    path: &Path,
    index: usize,
    bytes: &[u8],
) -> Result<T, StateError> {
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
                        to_end: read.dropped,
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
                state: None,
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
        state: Some(head.state),
        snapshot: snapshot.map(|s| s.host),
        first: skip + 1,
        records: records[skip..].to_vec(),
        path: journal_path,
        seq: end,
        dropped: read.dropped,
        good_len: read.good_len,
        config: Some(head.config),
    })
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
