//! Replays every committed trace under `tests/traces/` through the machine
//! and the invariant checker, forever. A trace with a sibling `.expected`
//! file is also a golden test: its transcript (what `examples/replay.rs`
//! prints) must match byte for byte, so any change of behaviour shows up
//! as a diff. After an intended change, regenerate with
//! `cargo run --example replay -- tests/traces/NAME.trace > tests/traces/NAME.expected`.

use std::fs;
use std::path::{Path, PathBuf};

use groupq_check::replay;
use groupq_check::trace::Trace;

fn traces_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/traces")
}

/// Every `*.trace` file, sorted by name.
fn trace_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(traces_dir())
        .expect("tests/traces exists")
        .map(|e| e.expect("readable directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "trace"))
        .collect();
    files.sort();
    files
}

fn load(path: &Path) -> Trace {
    let text = fs::read_to_string(path).expect("readable trace");
    Trace::parse(&text)
        .unwrap_or_else(|e| panic!("{}:{}:{}: {}", path.display(), e.line, e.column, e.kind))
}

fn transcript(path: &Path) -> String {
    let mut out = String::new();
    if let Err(e) = replay(&load(path), &mut out) {
        panic!("{}: {e}\ntranscript:\n{out}", path.display());
    }
    out
}

#[test]
fn every_committed_trace_replays_without_violation() {
    let files = trace_files();
    assert!(
        files.len() >= 4,
        "expected the committed traces, found {files:?}"
    );
    for path in &files {
        transcript(path);
    }
}

#[test]
fn transcripts_match_their_golden_files() {
    let mut compared = Vec::new();
    for path in trace_files() {
        let golden = path.with_extension("expected");
        let Ok(expected) = fs::read_to_string(&golden) else {
            continue;
        };
        let actual = transcript(&path);
        if actual != expected {
            let line = actual
                .lines()
                .zip(expected.lines())
                .position(|(a, e)| a != e)
                .unwrap_or_else(|| actual.lines().count().min(expected.lines().count()));
            panic!(
                "{} differs from {} at transcript line {}:\n  got:      {:?}\n  expected: {:?}\n\
                 If the change is intended, regenerate with\n  \
                 cargo run --example replay -- {} > {}",
                path.display(),
                golden.display(),
                line + 1,
                actual.lines().nth(line),
                expected.lines().nth(line),
                path.display(),
                golden.display(),
            );
        }
        compared.push(path);
    }
    let names: Vec<_> = compared
        .iter()
        .filter_map(|p| p.file_stem()?.to_str())
        .collect();
    assert!(
        names.contains(&"compaction_race"),
        "compaction_race must have a golden transcript; compared {names:?}"
    );
}

#[test]
fn committed_traces_round_trip_through_the_printer() {
    for path in trace_files() {
        let trace = load(&path);
        let printed = trace.to_string();
        assert_eq!(
            Trace::parse(&printed).as_ref(),
            Ok(&trace),
            "{}",
            path.display()
        );
    }
}

/// The point of the compaction race trace, checked on its transcript
/// independently of the golden file: while the run that reached the
/// threshold is live, chat-a gets no other spawn; the compact run is the
/// first spawn after it exits, and the messages that arrived meanwhile
/// are served only after the compact run.
#[test]
fn compaction_race_starts_the_compact_only_after_the_triggering_run_exits() {
    let out = transcript(&traces_dir().join("compaction_race.trace"));
    let events: Vec<&str> = out
        .lines()
        .filter(|l| {
            l.starts_with("  spawn") && l.contains(" chat-a ")
                || l.contains("exited run#1 ")
                || l.contains("exited run#3 ")
        })
        .map(str::trim)
        .collect();
    assert_eq!(
        events,
        [
            "spawn run#1 chat-a messages",
            "2000ms exited run#1 clean",
            "spawn run#3 chat-a compact",
            "2600ms exited run#3 clean",
            "spawn run#4 chat-a messages",
        ]
    );
    // The threshold was reached twice while run#1 was live, and warned about.
    assert_eq!(out.matches("notify chat-a context-warning").count(), 2);
    assert_eq!(out.matches("record-compaction chat-a").count(), 1);
}
