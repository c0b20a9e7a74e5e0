//! The record framing shared by the journal and the snapshot file. Version
//! 2 holds the entries of `groupq-host`'s format 2.
//!
//! A file is a magic (8 bytes), a format version (u32, little endian), then
//! records. A record is its payload's length (u32), the length's bitwise
//! complement (u32: a damaged length is caught before it is trusted), the
//! CRC-32 of the payload (u32), then the payload (JSON). Reading stops
//! cleanly at a torn tail (a record cut short, or a last record whose
//! checksum fails: a write the crash interrupted) and says how many bytes
//! it dropped; a damaged record with records after it is an error, never
//! skipped.

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
    /// A damaged record with more data after it: not a torn tail.
    #[error("damaged record at byte {offset} with {after} bytes after it")]
    Corrupt {
        /// Where the record starts.
        offset: u64,
        /// Bytes after the damaged record.
        after: u64,
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
        let torn = |read: &mut Read<'a>| read.dropped = rest.len() as u64;
        if rest.len() < HEAD {
            torn(&mut read);
            break;
        }
        let word = |i: usize| u32::from_le_bytes(rest[i..i + 4].try_into().unwrap_or_default());
        let (len, check, crc) = (word(0), word(4), word(8));
        let corrupt = |after: usize| FrameError::Corrupt {
            offset: at as u64,
            after: after as u64,
        };
        if len != !check || len > MAX_RECORD {
            // Zeros to the end are a tail the crash never wrote.
            if rest.iter().all(|&b| b == 0) {
                torn(&mut read);
                break;
            }
            return Err(corrupt(rest.len()));
        }
        let end = HEAD + len as usize;
        if rest.len() < end {
            torn(&mut read);
            break;
        }
        let payload = &rest[HEAD..end];
        if crc32(payload) != crc {
            if rest.len() == end {
                torn(&mut read);
                break;
            }
            return Err(corrupt(rest.len() - end));
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
    }

    #[test]
    fn a_flipped_byte_in_the_last_record_is_a_torn_tail_elsewhere_an_error() {
        let whole = file(&[b"first", b"second"]);
        let last = 12 + HEAD + 5;
        for at in 12..whole.len() {
            let mut bytes = whole.clone();
            bytes[at] ^= 0x40;
            match read(&bytes, MAGIC, "test") {
                Ok(read) => {
                    assert!(
                        at >= last,
                        "a damaged first record was accepted (byte {at})"
                    );
                    assert_eq!(read.records, vec![&b"first"[..]]);
                    assert_eq!(read.dropped, (whole.len() - last) as u64);
                }
                Err(FrameError::Corrupt { offset, .. }) => {
                    assert!(at < last || offset == last as u64, "byte {at}: {offset}")
                }
                Err(e) => panic!("byte {at}: {e}"),
            }
        }
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
