//! Durability: the state directory, and the restore sequence that turns it
//! back into a host.
//!
//! A state directory holds two files (and is locked while a driver uses
//! it, `lock.rs`):
//! - `journal`: a header record (`JournalHead`: the state's id, the input
//!   count the journal starts after, the core's configuration), then one
//!   record per accepted entry (`groupq_host::Stamped`).
//! - `snapshot` (once the first is taken): one record holding the input
//!   count it was taken at and the host's whole state.
//!
//! Both use [`frame`]'s framing (length, complement, CRC-32, JSON payload).
//! A snapshot is written to `snapshot.tmp`, synced and renamed into place;
//! then a new journal starting at the snapshot is written the same way. A
//! crash between the two renames leaves a journal that starts before the
//! snapshot: its records up to the snapshot are skipped on load.
//!
//! [`open`] is the whole restore: lock, read, parse, replay, open the
//! journal for appending; the driver gets a restored host.

mod error;
mod files;
pub mod frame;
mod journal;
mod lock;

use std::path::{Path, PathBuf};
use std::time::Duration;

use groupq::Config;
use groupq_host::{Host, HostError, Queue, State};

use crate::runner::RestartPolicy;
use tracing::{info, warn};

pub use error::StateError;
pub(crate) use journal::Journal;
pub(crate) use lock::flock_waiting;

use files::Loaded;
use lock::Lock;

/// When the journal is synced to disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyncPolicy {
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
    dir: PathBuf,
    sync: SyncPolicy,
    snapshot_every: u64,
    restart: RestartPolicy,
    task_window: Option<Duration>,
}

impl Durability {
    /// State in `dir` (created if missing): sync every input, snapshot
    /// every 100,000 inputs, adopt live runs on a restart, remember tasks
    /// for 24 hours after they ran.
    pub fn new(dir: impl Into<PathBuf>) -> Durability {
        Durability {
            dir: dir.into(),
            sync: SyncPolicy::EveryInput,
            snapshot_every: 100_000,
            restart: RestartPolicy::Adopt,
            task_window: Some(Duration::from_secs(24 * 3600)),
        }
    }

    /// What a restart does with the runs the driver before it left (default
    /// [`RestartPolicy::Adopt`]).
    pub fn on_restart(mut self, policy: RestartPolicy) -> Durability {
        self.restart = policy;
        self
    }

    /// How long a task id is remembered after its run ended, so that a
    /// task submitted again is a duplicate with its outcome (default 24
    /// hours of the driver's time; `None`: only while queued or running).
    /// Each remembered id costs memory and snapshot bytes (the README's
    /// figures).
    pub fn remember_tasks(mut self, window: Option<Duration>) -> Durability {
        self.task_window = window;
        self
    }

    /// The restart policy.
    pub fn restart_policy(&self) -> RestartPolicy {
        self.restart
    }

    /// The task window.
    pub fn task_window(&self) -> Option<Duration> {
        self.task_window
    }

    /// With this sync policy. A group's `max_inputs` is at least 1.
    pub fn sync(mut self, sync: SyncPolicy) -> Durability {
        self.sync = match sync {
            SyncPolicy::Group {
                max_delay,
                max_inputs,
            } => SyncPolicy::Group {
                max_delay,
                max_inputs: max_inputs.max(1),
            },
            other => other,
        };
        self
    }

    /// With a snapshot every `inputs` inputs (at least 1).
    pub fn snapshot_every(mut self, inputs: u64) -> Durability {
        self.snapshot_every = inputs.max(1);
        self
    }

    /// The state directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The sync policy.
    pub fn sync_policy(&self) -> SyncPolicy {
        self.sync
    }

    /// Inputs between snapshots.
    pub fn snapshot_interval(&self) -> u64 {
        self.snapshot_every
    }
}

/// What a durable driver found in its state directory when it was built.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Restored {
    /// A snapshot was loaded.
    pub snapshot: bool,
    /// Journaled inputs replayed after it.
    pub replayed: usize,
    /// Bytes of a torn journal tail that were dropped (inputs that were
    /// never durable, so whose outputs were never carried out).
    pub dropped_bytes: u64,
    /// Runs the state believes live: reconciled with the runner when the
    /// loop starts.
    pub live_runs: usize,
}

/// A restored state: the host, its journal open for appending, and what
/// was found.
pub(crate) struct Opened {
    pub(crate) host: Host<Queue>,
    pub(crate) journal: Journal,
    pub(crate) restored: Restored,
}

/// Locks the state directory, loads the snapshot, replays the journal after
/// it, and opens the journal for new inputs. On any error nothing in the
/// directory was changed.
pub(crate) fn open(durability: &Durability, config: &Config) -> Result<Opened, StateError> {
    let dir = &durability.dir;
    let lock = Lock::take(dir)?;
    let files = files::read(dir)?;
    let loaded = files::parse::<State>(dir, files.snapshot.as_deref(), files.journal.as_deref())?;
    let (state, seq, good_len, dropped) =
        (loaded.state, loaded.seq, loaded.good_len, loaded.dropped);
    let journaled = loaded.config.clone();
    let (host, restored) = replay(dir, loaded, config)?;
    drop(files);
    let journal = Journal::open(
        durability,
        lock,
        state.unwrap_or(host.instance()),
        seq,
        // A new journal's header: the configuration its first entries are
        // applied under (the restored core's).
        host.machine().config().clone(),
        // A new state starts a journal; a kept one goes on after its last
        // good record (a torn tail is cut off).
        journaled.is_some().then_some(good_len),
    )?;
    if dropped > 0 {
        warn!(bytes = dropped, "dropped a torn journal tail");
    }
    Ok(Opened {
        host,
        journal,
        restored,
    })
}

/// Rebuilds the host from a snapshot and the entries after it. Effects of
/// replayed entries are not carried out again: they were, before the stop,
/// or their entry was never durable and is not in the journal. A changed
/// configuration is refused while work remains under the old one; with
/// nothing left, the driver starts a new epoch under it (`Entry::Renew`).
pub(crate) fn replay(
    dir: &Path,
    loaded: Loaded<'_, State>,
    config: &Config,
) -> Result<(Host<Queue>, Restored), StateError> {
    let mut loaded = loaded;
    let config = config.clone().with_records(true);
    let snapshot = loaded.snapshot.is_some();
    let instance = loaded.state.unwrap_or_else(new_state_id);
    let mut host = match loaded.snapshot.take() {
        Some(state) => Host::restore(state).map_err(|e| StateError::Malformed {
            path: dir.join("snapshot"),
            index: 0,
            message: e.to_string(),
        })?,
        // Replay must see the configuration the inputs were applied under.
        None => Host::new(
            loaded.config.clone().unwrap_or_else(|| config.clone()),
            instance,
        )
        .map_err(|e| StateError::Replay {
            index: 0,
            message: e.to_string(),
        })?,
    };
    let _span = tracing::info_span!("replay").entered();
    let replayed = loaded.len();
    for entry in loaded.entries() {
        let (index, stamped) = entry?;
        // A journaled entry was accepted when it was applied: it is accepted
        // again (deterministic core), or the state is damaged.
        match host.apply(stamped.now, stamped.entry) {
            Ok(_) => {}
            Err(HostError::Rejected(e)) => {
                let message = e.to_string();
                return Err(StateError::Replay { index, message });
            }
            Err(HostError::Violation(message)) => {
                return Err(StateError::Replay { index, message })
            }
            Err(e) => {
                let message = e.to_string();
                return Err(StateError::Replay { index, message });
            }
        }
        host.discard_effects();
    }
    drop(_span);
    // Limits may change while work remains (they apply at once); the rest
    // of a configuration may not.
    if !host.machine().config().same_but_limits(&config) && !host.renewable() {
        return Err(StateError::ConfigChanged);
    }
    host.reset_counters();
    let live_runs = host.live_runs().len();
    info!(snapshot, replayed, live = live_runs, "state restored");
    Ok((
        host,
        Restored {
            snapshot,
            replayed,
            dropped_bytes: loaded.dropped,
            live_runs,
        },
    ))
}

/// A state id: the time the state began, in nanoseconds, mixed with the
/// process id. It tells one state directory's files from another's, and
/// names the state's runs.
pub(crate) fn new_state_id() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ (u64::from(std::process::id()) << 48)
}

/// Restores a host from state files given as bytes, with the journal's own
/// configuration, without a directory: the fuzz target's way in.
#[cfg(fuzzing)]
pub(crate) fn restore_bytes(
    snapshot: Option<&[u8]>,
    journal: Option<&[u8]>,
) -> Result<Restored, StateError> {
    let dir = Path::new("state");
    let loaded = files::parse::<State>(dir, snapshot, journal)?;
    let config = loaded.config.clone().unwrap_or_default();
    replay(dir, loaded, &config).map(|(_, restored)| restored)
}

#[cfg(fuzzing)]
pub(crate) use files::framed;
