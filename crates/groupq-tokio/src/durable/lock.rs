//! The state directory's lock: an exclusive `flock` on the directory's own
//! descriptor, held while the driver lives. No file can be deleted to get
//! around it: a second driver on the same directory is refused
//! ([`StateError::Locked`]) until the first is gone, whatever is removed
//! inside the directory meanwhile.

use std::fs::{self, File};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use super::error::{io_error, StateError};

/// The lock, held for the driver's life.
#[derive(Debug)]
pub(crate) struct Lock(#[allow(dead_code)] Flock<File>); // held, never read

impl Lock {
    /// Creates `dir` if needed and locks it.
    pub(crate) fn take(dir: &Path) -> Result<Lock, StateError> {
        fs::create_dir_all(dir).map_err(io_error(dir))?;
        let file = File::open(dir).map_err(io_error(dir))?;
        Flock::lock(file, FlockArg::LockExclusiveNonblock)
            .map(Lock)
            .map_err(|(_, errno)| match errno {
                Errno::EWOULDBLOCK => StateError::Locked {
                    path: dir.to_path_buf(),
                },
                errno => io_error(dir)(std::io::Error::from(errno)),
            })
    }
}
