//! Ways in for the fuzz targets (`fuzz/`), built only with `--cfg fuzzing`,
//! which `cargo fuzz` sets: not part of the crate's API.

use crate::{DriverError, Restored};

/// Restores a host from a snapshot's and a journal's bytes (`None`: no
/// such file), as a durable driver's start with the journal's own
/// configuration would, without touching disk.
pub fn restore(snapshot: Option<&[u8]>, journal: Option<&[u8]>) -> Result<Restored, DriverError> {
    Ok(crate::durable::restore_bytes(snapshot, journal)?)
}

/// A snapshot file (`snapshot`) or a journal whose records hold `payloads`,
/// with their lengths and checksums right.
pub fn framed(snapshot: bool, payloads: &[&[u8]]) -> Vec<u8> {
    crate::durable::framed(snapshot, payloads)
}
