//! Ways in for the fuzz targets (`fuzz/`), built only with `--cfg fuzzing`,
//! which `cargo fuzz` sets: not part of the crate's API.

use std::io;

use groupq::{Config, RunId};

use crate::{Driver, DriverError, Restored, RunEvents, RunSpec, Runtime};

/// Restores a driver from a snapshot's and a journal's bytes (`None`: no
/// such file), as a durable driver's start with the journal's own
/// configuration would, without touching disk.
pub fn restore(snapshot: Option<&[u8]>, journal: Option<&[u8]>) -> Result<Restored, DriverError> {
    let (mut driver, _handle, _events) = Driver::builder(Config::default()).build(NoRuns)?;
    driver.restore_bytes(snapshot, journal)
}

/// A snapshot file (`snapshot`) or a journal whose records hold `payloads`,
/// with their lengths and checksums right.
pub fn framed(snapshot: bool, payloads: &[&[u8]]) -> Vec<u8> {
    crate::state::framed(snapshot, payloads)
}

/// A runtime that starts nothing: replay carries out no effect.
struct NoRuns;

impl Runtime for NoRuns {
    fn spawn(&mut self, _: RunSpec, _: RunEvents) {}
    fn deliver(&mut self, _: RunId, _: &str) -> io::Result<()> {
        Ok(())
    }
    fn close(&mut self, _: RunId) -> io::Result<()> {
        Ok(())
    }
    fn kill(&mut self, _: RunId) {}
    fn release(&mut self, _: RunId) {}
}
