//! End-to-end evidence of P1 and P2 with real processes: run the
//! `orchestrator` example (the README's main command: the `groupq-tokio`
//! driver with the process runtime) and read the start and end timestamps
//! each agent wrote about itself. No two processes of one group may overlap, and no more than
//! `max_active` may be alive at any instant. A hung agent (it ignores its
//! close and only logs `alive` ticks) is killed after its turn deadline and
//! the kill grace, and shutdown ends the idle agents at once.

use std::collections::BTreeMap;

use groupq_agent::log::{max_alive, read_runs, Span};
use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

/// The quick pace of the example (`examples/orchestrator/main.rs`).
const MAX_TURN_NANOS: u128 = 600_000_000;
const KILL_GRACE_NANOS: u128 = 300_000_000;
const IDLE_TIMEOUT_NANOS: u128 = 5_000_000_000;

/// A fresh directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir =
            std::env::temp_dir().join(format!("groupq-test-{tag}-{}-{nanos}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Runs the example in its quick configuration and returns its stdout and
/// the spans its processes logged.
fn run_example(max_active: usize) -> (String, Vec<Span>, Option<u128>) {
    let logs = TempDir::new(&format!("logs-{max_active}"));
    let output = Command::new(env!("CARGO"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["run", "--quiet", "--example", "orchestrator", "--"])
        .args(["--quick", "--max-active", &max_active.to_string()])
        .arg("--work-dir")
        .arg(logs.0.join("work"))
        .output()
        .expect("cargo runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "the example failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let shutdown = fs::read_to_string(logs.0.join("work/host.log"))
        .ok()
        .and_then(|t| {
            t.trim()
                .strip_prefix("event=shutdown unix_nanos=")?
                .parse()
                .ok()
        });
    (
        stdout,
        read_runs(&logs.0.join("work/runs")).expect("the agents' logs"),
        shutdown,
    )
}

fn assert_promises_held(max_active: usize) {
    let (stdout, spans, shutdown) = run_example(max_active);
    assert!(
        stdout.contains("no violation"),
        "the checker did not report:\n{stdout}"
    );
    let mut by_group: BTreeMap<&str, Vec<&Span>> = BTreeMap::new();
    for s in &spans {
        assert!(s.start <= s.end, "run {} ended before it started", s.run);
        by_group.entry(&s.group).or_default().push(s);
    }
    // The workload is not trivial: six groups, several runs in one group.
    assert_eq!(by_group.len(), 6, "{spans:?}");
    assert!(by_group.values().any(|runs| runs.len() >= 3), "{spans:?}");

    // P1: within a group, each process ended before the next one started.
    for (group, runs) in &by_group {
        for pair in runs.windows(2) {
            assert!(
                pair[0].end < pair[1].start,
                "group {group}: run {} and run {} overlapped",
                pair[0].run,
                pair[1].run
            );
        }
        let runs: Vec<Span> = runs.iter().map(|s| (*s).clone()).collect();
        assert_eq!(max_alive(&runs).1, 1, "group {group}");
    }
    // P2: never more than max_active alive at once.
    let alive = max_alive(&spans).0;
    assert!(
        alive <= max_active,
        "{alive} processes alive at once with max_active {max_active}"
    );
    // The hung agent: alive past its turn deadline, then dead soon after
    // the kill grace (its last tick is at most 20 ms before its death).
    let hung: Vec<&Span> = spans.iter().filter(|s| s.killed).collect();
    assert_eq!(hung.len(), 1, "one agent was killed: {spans:?}");
    let lived = hung[0].end - hung[0].start;
    assert!(
        lived >= MAX_TURN_NANOS,
        "killed after {lived} ns, before its deadline"
    );
    let slack = 400_000_000; // scheduling on a loaded machine
    assert!(
        lived <= MAX_TURN_NANOS + KILL_GRACE_NANOS + slack,
        "killed {lived} ns after its start: not within the grace"
    );
    // Shutdown: every agent alive then ends at once, long before its idle
    // timeout would have closed it.
    let shutdown = shutdown.expect("the example logged its shutdown");
    let at_shutdown: Vec<&Span> = spans
        .iter()
        .filter(|s| s.start < shutdown && s.end > shutdown)
        .collect();
    assert!(
        !at_shutdown.is_empty(),
        "agents were idle at shutdown: {spans:?}"
    );
    for s in at_shutdown {
        let after = s.end - shutdown;
        assert!(
            after < IDLE_TIMEOUT_NANOS / 5,
            "run {} ended {after} ns after the shutdown",
            s.run
        );
    }
}

#[test]
fn real_processes_of_one_group_never_overlap_and_at_most_two_are_alive() {
    assert_promises_held(2);
}

#[test]
fn real_processes_never_overlap_at_all_with_one_slot() {
    assert_promises_held(1);
}
