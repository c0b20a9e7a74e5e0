//! End-to-end evidence of P1 and P2 with real processes: run the
//! `orchestrator` example (the README's main command: the `groupq-tokio`
//! driver with the process runtime) and read the start and end timestamps
//! each agent wrote about itself. No two processes of one group may overlap, and no more than
//! `max_active` may be alive at any instant. A hung agent (it ignores its
//! close and only logs `alive` ticks) is killed after its turn deadline and
//! the kill grace, and shutdown ends the idle agents at once.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

/// One process's life by its own wall clock (nanoseconds since the Unix epoch).
#[derive(Debug)]
struct Span {
    group: String,
    run: u64,
    start: u128,
    /// Its `end` line, or a killed agent's last `alive` tick.
    end: u128,
    /// It never wrote an end: it was killed.
    killed: bool,
}

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
    (stdout, read_spans(&logs.0.join("work/runs")), shutdown)
}

/// Parses the `event=start|turn|alive|end group=G run=N unix_nanos=T` lines
/// of each run directory's `agent.log`.
fn read_spans(dir: &Path) -> Vec<Span> {
    let mut spans = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path().join("agent.log");
        let text = fs::read_to_string(&path).unwrap();
        let mut fields: BTreeMap<String, String> = BTreeMap::new();
        let (mut start, mut end, mut alive) = (None, None, None);
        for line in text.lines() {
            let kv: BTreeMap<&str, &str> = line
                .split_whitespace()
                .filter_map(|kv| kv.split_once('='))
                .collect();
            let at: u128 = kv["unix_nanos"].parse().unwrap();
            match kv["event"] {
                "start" => start = Some(at),
                "end" => end = Some(at),
                "alive" | "turn" => alive = Some(at),
                other => panic!("unknown event {other:?}"),
            }
            for key in ["group", "run"] {
                let previous = fields.insert(key.to_string(), kv[key].to_string());
                assert!(previous.map_or(true, |p| p == kv[key]), "mixed log: {text}");
            }
        }
        let run = fields["run"].parse().unwrap();
        spans.push(Span {
            group: fields["group"].clone(),
            run,
            start: start.unwrap_or_else(|| panic!("run {run} logged no start")),
            end: end
                .or(alive)
                .unwrap_or_else(|| panic!("run {run} logged no end")),
            killed: end.is_none(),
        });
    }
    spans.sort_by_key(|s| s.run);
    spans
}

/// Most processes alive at one instant. At equal timestamps an end sorts
/// before a start (`false < true`).
fn max_alive<'a>(spans: impl IntoIterator<Item = &'a Span>) -> usize {
    let mut events: Vec<(u128, bool)> = Vec::new();
    for s in spans {
        events.push((s.start, true));
        events.push((s.end, false));
    }
    events.sort();
    let (mut alive, mut max) = (0usize, 0);
    for (_, is_start) in events {
        if is_start {
            alive += 1;
            max = max.max(alive);
        } else {
            alive -= 1;
        }
    }
    max
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
        assert_eq!(max_alive(runs.iter().copied()), 1, "group {group}");
    }
    // P2: never more than max_active alive at once.
    let alive = max_alive(&spans);
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
