//! The state directory's lock: an exclusive `flock` on the directory's own
//! descriptor, held while the driver lives. No file can be deleted to get
//! around it: a second driver on the same directory is refused
//! ([`StateError::Locked`]) until the first is gone, whatever is removed
//! inside the directory meanwhile.

use std::fs::{self, File};
use std::path::Path;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use super::error::{io_error, StateError};

/// The lock, held for the driver's life.
#[derive(Debug)]
pub(crate) struct Lock(#[allow(dead_code)] Flock<File>); // held, never read

impl Lock {
    /// Creates `dir` if needed and locks it, waiting up to
    /// [`LOCK_WAIT`] for a driver that is going away.
    pub(crate) fn take(dir: &Path) -> Result<Lock, StateError> {
        fs::create_dir_all(dir).map_err(io_error(dir))?;
        let file = File::open(dir).map_err(io_error(dir))?;
        flock_waiting(file).map(Lock).map_err(|errno| match errno {
            Errno::EWOULDBLOCK => StateError::Locked {
                path: dir.to_path_buf(),
            },
            errno => io_error(dir)(std::io::Error::from(errno)),
        })
    }
}

/// How long a lock held by someone else is waited for before it is
/// refused. A driver killed while it starts an agent leaves the lock's
/// descriptor in the child until the child's `exec` closes it: a restart
/// right after the kill would otherwise find it held by nobody alive.
pub(crate) const LOCK_WAIT: Duration = Duration::from_secs(1);

/// An exclusive `flock` of `file`, tried until [`LOCK_WAIT`] has passed.
pub(crate) fn flock_waiting(mut file: File) -> Result<Flock<File>, Errno> {
    let until = Instant::now() + LOCK_WAIT;
    loop {
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => return Ok(lock),
            Err((back, Errno::EWOULDBLOCK)) if Instant::now() < until => {
                file = back;
                std::thread::sleep(Duration::from_millis(10));
            }
            Err((_, errno)) => return Err(errno),
        }
    }
}
