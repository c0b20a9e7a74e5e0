//! The record framing shared by the journal and the snapshot file. Version
//! 2 holds the entries of `groupq-host`'s format 2.
//!
//! A file is a magic (8 bytes), a format version (u32, little endian), then
//! records. A record is its payload's length (u32), the length's bitwise
//! complement (u32: a damaged length is caught before it is trusted), the
//! CRC-32 of the payload (u32), then the payload (JSON).
//!
//! **The tail rule.** A torn write can only hit what was never synced, and
//! a process killed in the middle of a write leaves the record cut short:
//! reading stops cleanly at a last record cut short (fewer bytes left than
//! its header, or than its header says), says how many bytes it dropped,
//! and the journal is cut back to the good records. Anything else is damage
//! to bytes that may have been synced and acknowledged, and is refused
//! ([`FrameError::Corrupt`]), at the end of the file as anywhere else: a
//! full-length last record whose checksum fails, a length that does not
//! match its complement (zeros included), a length over the limit. A
//! record cut off whole at a record boundary cannot be told from the end.

use thiserror::Error;

/// The format version this build writes and reads.
pub const VERSION: u32 = 2;
/// The largest payload a record may claim.
const MAX_RECORD: u32 = 64 << 20;
const HEAD: usize = 12;

/// Why a state file could not be read.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// The file does not start with this kind of file's magic.
    #[error("not a groupq {kind} file")]
    NotOurs {
        /// `journal` or `snapshot`.
        kind: &'static str,
    },
    /// The file was written by an incompatible version.
    #[error("{kind} format version {found}, this build reads version {VERSION}")]
    Version {
        /// `journal` or `snapshot`.
        kind: &'static str,
        /// The version found.
        found: u32,
    },
    /// A damaged record: not a record cut short at the end. The file is
    /// refused as it is; see the crate docs ("State files") for what an
    /// operator does.
    #[error("damaged record at byte {offset} ({to_end} bytes from there to the end)")]
    Corrupt {
        /// Where the damaged record starts: the good records end here.
        offset: u64,
        /// Bytes from there to the end of the file.
        to_end: u64,
    },
}

/// The records read from a file, and what was dropped at its end.
#[derive(Debug, Default)]
pub struct Read<'a> {
    /// Each record's payload, in order.
    pub records: Vec<&'a [u8]>,
    /// Where the last good record ends: the length to truncate to.
    pub good_len: u64,
    /// Bytes of a torn tail, dropped.
    pub dropped: u64,
}

/// The file's header.
pub fn header(magic: &[u8; 8]) -> Vec<u8> {
    let mut out = magic.to_vec();
    out.extend_from_slice(&VERSION.to_le_bytes());
    out
}

/// Appends one framed record to `out`.
pub fn record(out: &mut Vec<u8>, payload: &[u8]) {
    let len = payload.len() as u32;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&(!len).to_le_bytes());
    out.extend_from_slice(&crc32(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// Reads a whole file: header, then records up to a torn tail.
pub fn read<'a>(
    bytes: &'a [u8],
    magic: &[u8; 8],
    kind: &'static str,
) -> Result<Read<'a>, FrameError> {
    if bytes.len() < 12 || &bytes[..8] != magic {
        return Err(FrameError::NotOurs { kind });
    }
    let found = u32::from_le_bytes(bytes[8..12].try_into().unwrap_or_default());
    if found != VERSION {
        return Err(FrameError::Version { kind, found });
    }
    let mut read = Read {
        good_len: 12,
        ..Read::default()
    };
    let mut at = 12usize;
    while at < bytes.len() {
        let rest = &bytes[at..];
        let corrupt = FrameError::Corrupt {
            offset: at as u64,
            to_end: rest.len() as u64,
        };
        if rest.len() < HEAD {
            // Cut short in its header: a write the crash interrupted.
            read.dropped = rest.len() as u64;
            break;
        }
        let word = |i: usize| u32::from_le_bytes(rest[i..i + 4].try_into().unwrap_or_default());
        let (len, check, crc) = (word(0), word(4), word(8));
        if len != !check || len > MAX_RECORD {
            return Err(corrupt);
        }
        let end = HEAD + len as usize;
        if rest.len() < end {
            // Cut short in its payload.
            read.dropped = rest.len() as u64;
            break;
        }
        let payload = &rest[HEAD..end];
        if crc32(payload) != crc {
            return Err(corrupt);
        }
        read.records.push(payload);
        at += end;
        read.good_len = at as u64;
    }
    Ok(read)
}

/// CRC-32 (IEEE), table-driven; the table is built at compile time.
pub fn crc32(bytes: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            table[i] = c;
            i += 1;
        }
        table
    };
    let mut c = !0u32;
    for &b in bytes {
        c = TABLE[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8);
    }
    !c
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAGIC: &[u8; 8] = b"TESTFILE";

    fn file(payloads: &[&[u8]]) -> Vec<u8> {
        let mut out = header(MAGIC);
        for p in payloads {
            record(&mut out, p);
        }
        out
    }

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn records_read_back_in_order() {
        let bytes = file(&[b"one", b"", b"three"]);
        let read = read(&bytes, MAGIC, "test").unwrap();
        assert_eq!(read.records, vec![&b"one"[..], b"", b"three"]);
        assert_eq!((read.good_len, read.dropped), (bytes.len() as u64, 0));
    }

    #[test]
    fn a_tail_cut_anywhere_is_dropped_and_counted() {
        let whole = file(&[b"first", b"second"]);
        let first_end = (12 + HEAD + 5) as u64;
        for cut in first_end as usize + 1..whole.len() {
            let read = read(&whole[..cut], MAGIC, "test").unwrap();
            assert_eq!(read.records, vec![&b"first"[..]], "cut at {cut}");
            assert_eq!(read.good_len, first_end);
            assert_eq!(read.dropped, cut as u64 - first_end);
        }
        // Cut at the record boundary: nothing to tell, nothing dropped.
        let read = read(&whole[..first_end as usize], MAGIC, "test").unwrap();
        assert_eq!((read.records.len(), read.dropped), (1, 0));
    }

    /// Each rule at its exact boundary: the mutations of the reader that a
    /// test must catch (a length check off by one, a dropped `good_len`,
    /// a corrupt offset's arithmetic, zeros taken for a torn tail).
    #[test]
    fn the_tail_rules_hold_at_their_boundaries() {
        let first = file(&[b"first"]);
        let good = first.len() as u64;
        // 11 bytes, any bytes, zeros too: shorter than a header, torn.
        for tail in [vec![0u8; HEAD - 1], vec![0xAB; HEAD - 1], vec![1]] {
            let mut bytes = first.clone();
            bytes.extend_from_slice(&tail);
            let read = read(&bytes, MAGIC, "test").unwrap();
            assert_eq!((read.good_len, read.dropped), (good, tail.len() as u64));
        }
        // A whole header of zeros (a length that is not its complement):
        // damage, refused where it starts.
        for zeros in [HEAD, HEAD + 7, 4096] {
            let mut bytes = first.clone();
            bytes.extend(vec![0u8; zeros]);
            assert_eq!(
                read(&bytes, MAGIC, "test").unwrap_err(),
                FrameError::Corrupt {
                    offset: good,
                    to_end: zeros as u64
                }
            );
        }
        // An empty payload is exactly a header long, and whole.
        let empty = file(&[b"first", b""]);
        let read_empty = read(&empty, MAGIC, "test").unwrap();
        assert_eq!(read_empty.records, vec![&b"first"[..], b""]);
        assert_eq!(
            (read_empty.good_len, read_empty.dropped),
            (empty.len() as u64, 0)
        );
        // One payload byte short of whole: torn; whole: read.
        let two = file(&[b"first", b"second"]);
        let read_short = read(&two[..two.len() - 1], MAGIC, "test").unwrap();
        assert_eq!(
            (read_short.good_len, read_short.dropped),
            (good, (HEAD + 6 - 1) as u64)
        );
        // The largest length allowed, cut short, is torn; one more is damage.
        for (len, torn) in [(MAX_RECORD, true), (MAX_RECORD + 1, false)] {
            let mut bytes = first.clone();
            bytes.extend_from_slice(&len.to_le_bytes());
            bytes.extend_from_slice(&(!len).to_le_bytes());
            bytes.extend_from_slice(&0u32.to_le_bytes());
            bytes.extend_from_slice(b"partial");
            match read(&bytes, MAGIC, "test") {
                Ok(r) => assert!(torn && r.good_len == good && r.dropped == (HEAD + 7) as u64),
                Err(e) => assert!(!torn, "{e}"),
            }
        }
    }

    #[test]
    fn damage_anywhere_is_refused_with_where_it_starts_the_last_record_too() {
        let whole = file(&[b"first", b"second", b"third"]);
        let starts = [12, 12 + HEAD + 5, 12 + 2 * HEAD + 5 + 6];
        for at in 12..whole.len() {
            let mut bytes = whole.clone();
            bytes[at] ^= 0x40;
            let damaged = *starts.iter().rfind(|&&s| s <= at).unwrap();
            assert_eq!(
                read(&bytes, MAGIC, "test").unwrap_err(),
                FrameError::Corrupt {
                    offset: damaged as u64,
                    to_end: (whole.len() - damaged) as u64
                },
                "byte {at}"
            );
        }
    }

    /// A file of its header alone holds no record; a record torn right
    /// after it is cut back to the header, not to nothing.
    #[test]
    fn a_header_alone_is_a_file_and_a_torn_first_record_keeps_it() {
        let bare = header(MAGIC);
        let read_bare = read(&bare, MAGIC, "test").unwrap();
        assert!(read_bare.records.is_empty());
        assert_eq!((read_bare.good_len, read_bare.dropped), (12, 0));
        let whole = file(&[b"first"]);
        let torn = read(&whole[..whole.len() - 2], MAGIC, "test").unwrap();
        assert!(torn.records.is_empty());
        assert_eq!((torn.good_len, torn.dropped), (12, (HEAD + 3) as u64));
        // Eleven bytes of header: not a state file.
        assert_eq!(
            read(&bare[..11], MAGIC, "test").unwrap_err(),
            FrameError::NotOurs { kind: "test" }
        );
    }

    #[test]
    fn another_magic_or_version_is_refused() {
        let mut bytes = file(&[b"x"]);
        assert_eq!(
            read(&bytes, b"OTHERMAG", "test").unwrap_err(),
            FrameError::NotOurs { kind: "test" }
        );
        bytes[8] = 9;
        assert_eq!(
            read(&bytes, MAGIC, "test").unwrap_err(),
            FrameError::Version {
                kind: "test",
                found: 9
            }
        );
        assert!(read(b"", MAGIC, "test").is_err());
    }
}
