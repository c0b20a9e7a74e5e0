//! Why a state directory could not be used.

use std::io;
use std::path::{Path, PathBuf};

use thiserror::Error;

use super::frame::FrameError;

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
    /// Another driver holds the state directory (its lock is on the
    /// directory itself).
    #[error("{path}: another driver uses this state directory")]
    Locked {
        /// The state directory.
        path: PathBuf,
    },
    /// The invariant checker cannot be restored with the state.
    #[error("a checked driver cannot be durable: the checker's account is not part of the state")]
    Checked,
}

/// A closure turning an I/O error on `path` into a [`StateError::Io`].
pub(crate) fn io_error(path: &Path) -> impl FnOnce(io::Error) -> StateError + '_ {
    move |e| StateError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}
