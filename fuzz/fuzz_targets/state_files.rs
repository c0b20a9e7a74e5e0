//! The state directory's readers, from arbitrary bytes: the snapshot and
//! the journal, framed or raw, decoded and replayed into a driver. Each
//! restore is a state or a typed error, never a panic; and a good journal
//! cut short by one byte (a torn write) still restores, dropping that
//! record and saying so.
//!
//! Input: a flags byte (1: a snapshot file, 2: a journal file, 4: frame the
//! parts here, their payloads separated by `\n`, so that mutations reach
//! the JSON decoders past the checksums), a `u16` (LE) length of the
//! snapshot part, then the snapshot part and the journal part.

#![no_main]

use groupq_tokio::fuzzing;
use libfuzzer_sys::fuzz_target;

fn file(bytes: &[u8], snapshot: bool, frame: bool) -> Vec<u8> {
    if frame {
        let payloads: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
        fuzzing::framed(snapshot, &payloads)
    } else {
        bytes.to_vec()
    }
}

fuzz_target!(|data: &[u8]| {
    let [flags, a, b, rest @ ..] = data else {
        return;
    };
    let split = usize::from(u16::from_le_bytes([*a, *b])).min(rest.len());
    let (snapshot, journal) = rest.split_at(split);
    let frame = flags & 4 != 0;
    let snapshot = (flags & 1 != 0).then(|| file(snapshot, true, frame));
    let journal = (flags & 2 != 0).then(|| file(journal, false, frame));
    let restored = fuzzing::restore(snapshot.as_deref(), journal.as_deref());
    let (Ok(restored), Some(journal)) = (restored, journal) else {
        return;
    };
    if restored.replayed == 0 {
        return;
    }
    // The last record torn: what is left is a prefix of accepted inputs.
    let torn = &journal[..journal.len() - 1];
    match fuzzing::restore(snapshot.as_deref(), Some(torn)) {
        Ok(again) => assert!(again.dropped_bytes > 0, "{again:?}"),
        Err(e) => panic!("a torn last record made the state unreadable: {e}"),
    }
});
