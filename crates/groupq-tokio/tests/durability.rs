//! A durable driver across a crash (the driver's task aborted mid-flight),
//! on a runtime the test drives by hand: what a restart tells the runtime
//! and the host, and what it does with damaged state files.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use groupq::{Config, Limits, RunId};
use groupq_tokio::{
    Driver, DriverError, Durability, FrameError, Restored, RunExit, RunWork, StateError, SyncPolicy,
};

use support::fake::{fake, Call, Runs};
use support::{Host, Scratch};

fn config() -> Config {
    Config::default()
        .with_max_active(3)
        .with_retry_base(Duration::from_millis(10))
}

fn durable(dir: &Path, snapshot_every: u64) -> Durability {
    Durability::new(dir.join("state"))
        .sync(SyncPolicy::EveryInput)
        .snapshot_every(snapshot_every)
}

type Started = (
    tokio::task::JoinHandle<Result<(), DriverError>>,
    groupq_tokio::Handle,
    Host,
    Runs,
    Restored,
);

fn start(durability: Durability) -> Started {
    let (runtime, runs) = fake();
    let (driver, handle, events) = Driver::builder(config())
        .durable(durability)
        .build(runtime)
        .expect("the state restores");
    let restored = driver.restored().cloned().expect("a durable driver");
    (
        tokio::spawn(driver.run()),
        handle,
        Host::new(events),
        runs,
        restored,
    )
}

/// Three runs live when the driver dies: a messages run of `a` and a task
/// run of `b` that had launched, and a task run of `c` that had not.
/// Returns their ids.
async fn crash_with_three_live_runs(durability: Durability) -> [RunId; 3] {
    let (running, handle, mut host, _runs, restored) = start(durability);
    assert_eq!(restored.replayed, 0);
    handle.message("a", "one").await.unwrap();
    let a = host.spawned().await;
    handle.task("b", "t1", "first").await.unwrap();
    let b = host.spawned().await;
    handle.task("c", "t2", "second").await.unwrap();
    let c = host.spawned().await;
    // The crash: the loop stops between two inputs, nothing is shut down.
    running.abort();
    let _ = running.await;
    [a, b, c]
}

/// After the restart, until both retries are spawned: every call the
/// runtime saw and every host event.
async fn restart(durability: Durability, launched: &[RunId]) -> (Restored, Vec<Call>, Vec<String>) {
    let (runtime, runs) = fake();
    runs.set_launched(launched);
    let (driver, handle, events) = Driver::builder(config())
        .durable(durability)
        .build(runtime)
        .unwrap();
    let restored = driver.restored().cloned().unwrap();
    let running = tokio::spawn(driver.run());
    let mut host = Host::new(events);
    host.spawned().await;
    host.spawned().await;
    let calls = runs.calls();
    let events: Vec<String> = host.seen.iter().map(|e| format!("{e:?}")).collect();
    drop(handle);
    for call in &calls {
        if let Call::Spawn(spec) = call {
            runs.exit(spec.run, RunExit::Code(0));
        }
    }
    running.await.unwrap().unwrap();
    (restored, calls, events)
}

#[tokio::test]
async fn a_restart_fails_launched_runs_and_puts_back_work_that_never_launched() {
    let dir = Scratch::new("durable-reconcile");
    let [a, b, c] = crash_with_three_live_runs(durable(&dir.0, 1000)).await;
    let (restored, calls, events) = restart(durable(&dir.0, 1000), &[a, b]).await;
    assert_eq!(restored.live_runs, 3);
    assert!(!restored.snapshot);
    assert_eq!(restored.dropped_bytes, 0);
    // Each old run is released once its fate is durable; then `c`'s task
    // is started again (it never ran) and `a`'s message is retried; `b`'s
    // task, which may have run, is reported failed and not run again.
    let spawns: Vec<(String, RunWork, Vec<String>)> = calls
        .iter()
        .filter_map(|call| match call {
            Call::Spawn(spec) => {
                Some((spec.group.clone(), spec.work.clone(), spec.messages.clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        spawns,
        [
            (
                "c".to_string(),
                RunWork::Task {
                    id: "t2".into(),
                    payload: "second".into()
                },
                vec![]
            ),
            ("a".to_string(), RunWork::Messages, vec!["one".to_string()]),
        ]
    );
    for run in [a, b, c] {
        assert!(calls.contains(&Call::Release(run)), "{run} not released");
    }
    let has = |needle: &str| events.iter().any(|e| e.contains(needle));
    assert!(
        has(&format!(
            "Exited {{ group: \"a\", run: {a:?}, kind: Messages, exit: Lost,"
        )),
        "{events:#?}"
    );
    assert!(has("TaskFailed { group: \"b\", id: \"t1\""), "{events:#?}");
    assert!(
        has(&format!(
            "NotLaunched {{ group: \"c\", run: {c:?}, handed_back: None }}"
        )),
        "{events:#?}"
    );
    assert!(has("RolledBack { group: \"a\""), "{events:#?}");
}

/// The calls with each spawn's run name left out.
fn unnamed(calls: &[Call]) -> Vec<String> {
    calls
        .iter()
        .map(|call| match call {
            Call::Spawn(spec) => format!(
                "spawn {} {} {:?} {:?}",
                spec.run, spec.group, spec.work, spec.messages
            ),
            other => format!("{other:?}"),
        })
        .collect()
}

/// The events with names, waits, lives and times left out.
fn timeless(events: &[String]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            e.split(", ")
                .filter(|field| {
                    !["name: ", "waited: ", "lived: ", "at: "]
                        .iter()
                        .any(|k| field.starts_with(k))
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .collect()
}

#[tokio::test]
async fn a_restart_from_a_snapshot_does_what_a_restart_from_the_journal_does() {
    let (journal_only, snapshots) = (
        Scratch::new("durable-journal"),
        Scratch::new("durable-snap"),
    );
    let [a, b, _] = crash_with_three_live_runs(durable(&journal_only.0, 1000)).await;
    let [a2, b2, _] = crash_with_three_live_runs(durable(&snapshots.0, 2)).await;
    assert_eq!((a, b), (a2, b2));
    let (from_journal, calls, events) = restart(durable(&journal_only.0, 1000), &[a, b]).await;
    let (from_snapshot, calls2, events2) = restart(durable(&snapshots.0, 2), &[a, b]).await;
    assert!(!from_journal.snapshot && from_snapshot.snapshot);
    assert!(from_snapshot.replayed < from_journal.replayed);
    assert_eq!(from_journal.live_runs, from_snapshot.live_runs);
    // The same calls and events, but for what depends on the state (run
    // names carry its id) and on when each crash came (times).
    assert_eq!(unnamed(&calls), unnamed(&calls2));
    assert_eq!(timeless(&events), timeless(&events2));
}

/// A state directory left by a crash, with a snapshot every
/// `snapshot_every` inputs.
async fn crashed_state(tag: &str, snapshot_every: u64) -> (Scratch, PathBuf) {
    let dir = Scratch::new(tag);
    crash_with_three_live_runs(durable(&dir.0, snapshot_every)).await;
    let state = dir.0.join("state");
    (dir, state)
}

fn build(dir: &Path, snapshot_every: u64) -> Result<Restored, DriverError> {
    build_with(config(), dir, snapshot_every)
}

fn build_with(config: Config, dir: &Path, snapshot_every: u64) -> Result<Restored, DriverError> {
    let (runtime, _runs) = fake();
    Driver::builder(config)
        .durable(durable(dir, snapshot_every))
        .build(runtime)
        .map(|(driver, _, _)| driver.restored().cloned().unwrap())
}

fn state_error(result: Result<Restored, DriverError>) -> StateError {
    match result {
        Err(DriverError::State(e)) => e,
        other => panic!("expected a state error, got {other:?}"),
    }
}

/// The records' spans in a state file: (start, end) of each, header first.
fn records(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut at = 12;
    while at + 12 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        spans.push((at, at + 12 + len));
        at += 12 + len;
    }
    spans
}

/// Appends a record framed as the driver frames it: length, complement,
/// CRC-32, payload.
fn push_record(out: &mut Vec<u8>, payload: &[u8]) {
    let len = payload.len() as u32;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&(!len).to_le_bytes());
    out.extend_from_slice(&crc32(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

#[tokio::test]
async fn a_torn_last_record_is_dropped_counted_and_cut_off() {
    let (dir, state) = crashed_state("durable-torn", 1000).await;
    let journal = state.join("journal");
    let whole = build(&dir.0, 1000).unwrap();
    let bytes = std::fs::read(&journal).unwrap();
    let last = *records(&bytes).last().unwrap();
    std::fs::write(&journal, &bytes[..bytes.len() - 3]).unwrap();
    let torn = build(&dir.0, 1000).unwrap();
    assert_eq!(torn.replayed, whole.replayed - 1);
    assert_eq!(torn.dropped_bytes, (last.1 - last.0 - 3) as u64);
    // The tail is cut off on disk, so new records follow good ones.
    assert_eq!(std::fs::metadata(&journal).unwrap().len(), last.0 as u64);
    assert_eq!(build(&dir.0, 1000).unwrap().dropped_bytes, 0);
}

/// Whether a refusal is the one expected.
type Expected = fn(&FrameError) -> bool;

#[tokio::test]
async fn damage_before_the_end_version_and_magic_are_refused_and_nothing_is_changed() {
    let (dir, state) = crashed_state("durable-damage", 1000).await;
    let journal = state.join("journal");
    let good = std::fs::read(&journal).unwrap();
    let first_entry = records(&good)[1];
    let cases: [(usize, u8, Expected); 3] = [
        // A payload byte of the first entry, with records after it.
        (first_entry.0 + 14, 0x20, |e| {
            matches!(e, FrameError::Corrupt { .. })
        }),
        // Version 2 becomes 3.
        (8, 1, |e| matches!(e, FrameError::Version { found: 3, .. })),
        (0, b'X', |e| {
            matches!(e, FrameError::NotOurs { kind: "journal" })
        }),
    ];
    for (at, value, expected) in cases {
        let mut bad = good.clone();
        bad[at] ^= value;
        std::fs::write(&journal, &bad).unwrap();
        match state_error(build(&dir.0, 1000)) {
            StateError::Frame { error, .. } => assert!(expected(&error), "{error}"),
            other => panic!("byte {at}: {other}"),
        }
        assert_eq!(
            std::fs::read(&journal).unwrap(),
            bad,
            "the file was changed"
        );
    }
}

#[tokio::test]
async fn a_snapshot_of_another_state_or_without_its_journal_is_a_mismatch() {
    let (dir, state) = crashed_state("durable-mismatch", 2).await;
    let (other_dir, other) = crashed_state("durable-other", 2).await;
    std::fs::copy(other.join("snapshot"), state.join("snapshot")).unwrap();
    assert!(matches!(
        state_error(build(&dir.0, 2)),
        StateError::Mismatch { .. }
    ));
    std::fs::remove_file(other.join("journal")).unwrap();
    assert!(matches!(
        state_error(build(&other_dir.0, 2)),
        StateError::Mismatch {
            journal_state: 0,
            ..
        }
    ));
}

#[tokio::test]
async fn a_record_the_core_refuses_on_replay_is_a_typed_error() {
    let (dir, state) = crashed_state("durable-forged", 1000).await;
    let journal = state.join("journal");
    let good = std::fs::read(&journal).unwrap();
    let header = records(&good)[0];
    // Framed right, but the run it names never existed.
    let mut bytes = good[..header.1].to_vec();
    push_record(
        &mut bytes,
        br#"{"now":1,"input":"never_launched","run":99}"#,
    );
    std::fs::write(&journal, &bytes).unwrap();
    assert!(matches!(
        state_error(build(&dir.0, 1000)),
        StateError::Replay { index: 1, .. }
    ));
    // A record that is not an input at all.
    let mut bytes = good[..header.1].to_vec();
    push_record(&mut bytes, br#"{"now":1,"input":"reboot"}"#);
    std::fs::write(&journal, &bytes).unwrap();
    assert!(matches!(
        state_error(build(&dir.0, 1000)),
        StateError::Malformed { index: 1, .. }
    ));
}

#[tokio::test]
async fn another_configuration_is_refused_while_work_remains() {
    let (dir, _state) = crashed_state("durable-config", 1000).await;
    let other = config().with_retry_base(Duration::from_millis(20));
    assert_eq!(
        state_error(build_with(other, &dir.0, 1000)),
        StateError::ConfigChanged
    );
    // Refused, and nothing changed: the old configuration still restores.
    assert_eq!(build(&dir.0, 1000).unwrap().live_runs, 3);
}

#[test]
fn an_unusable_state_directory_or_a_checked_durable_driver_is_refused() {
    let dir = Scratch::new("durable-unusable");
    std::fs::create_dir_all(&dir.0).unwrap();
    // A file where the directory should be: no permission bits involved,
    // so this holds for root too.
    std::fs::write(dir.0.join("state"), b"not a directory").unwrap();
    assert!(matches!(
        state_error(build(&dir.0, 1000)),
        StateError::Io { .. }
    ));
    let (runtime, _runs) = fake();
    let checked = Driver::builder(config())
        .checked(true)
        .durable(durable(&dir.0, 1000))
        .build(runtime);
    assert!(matches!(
        checked.map(|_| ()),
        Err(DriverError::State(StateError::Checked))
    ));
}

#[tokio::test]
async fn a_state_directory_that_fails_while_running_stops_the_driver_before_any_effect() {
    let dir = Scratch::new("durable-fails");
    let (runtime, runs) = fake();
    // Three inputs between snapshots: the state's task window (the first
    // input of a new state), then two messages.
    let (driver, handle, events) = Driver::builder(config())
        .durable(durable(&dir.0, 3))
        .build(runtime)
        .unwrap();
    let running = tokio::spawn(driver.run());
    let mut host = Host::new(events);
    handle.message("a", "one").await.unwrap();
    host.spawned().await;
    // The third input makes a snapshot due, and its directory is gone.
    std::fs::remove_dir_all(dir.0.join("state")).unwrap();
    assert!(handle.message("b", "two").await.is_err());
    assert!(matches!(
        running.await.unwrap(),
        Err(DriverError::State(StateError::Io { .. }))
    ));
    // Its spawn was decided but never carried out: it was not durable.
    let spawned: Vec<String> = runs
        .calls()
        .iter()
        .filter_map(|c| match c {
            Call::Spawn(spec) => Some(spec.group.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(spawned, ["a"]);
}

#[test]
fn a_second_driver_on_the_same_state_directory_is_refused_until_the_first_is_gone() {
    let dir = Scratch::new("durable-locked");
    let (runtime, _runs) = fake();
    let first = Driver::builder(config())
        .durable(durable(&dir.0, 1000))
        .build(runtime)
        .unwrap();
    assert!(matches!(
        state_error(build(&dir.0, 1000)),
        StateError::Locked { .. }
    ));
    drop(first);
    assert_eq!(build(&dir.0, 1000).unwrap().replayed, 0);
}

/// Concurrent calls share syncs (sync every input batches the requests
/// already waiting): every call answered before the crash is in the state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answered_call_of_concurrent_callers_survives_a_crash() {
    let dir = Scratch::new("durable-concurrent");
    let (running, handle, _host, _runs, _) = start(durable(&dir.0, 1000));
    let calls: Vec<_> = (0..64)
        .map(|i| {
            let handle = handle.clone();
            tokio::spawn(async move { handle.message(format!("g{i}"), "hello").await })
        })
        .collect();
    for call in calls {
        call.await.unwrap().unwrap();
    }
    running.abort();
    let _ = running.await;
    // The calls, and the state's task window set at its first start.
    assert_eq!(build(&dir.0, 1000).unwrap().replayed, 64 + 1);
}

/// The handle's counters are the driver's after a restore too: they count
/// this driver's inputs (replayed ones are not counted), and the gauges
/// show the restored state.
#[tokio::test]
async fn a_restored_driver_counts_its_inputs_in_the_handles_metrics() {
    let dir = Scratch::new("durable-metrics");
    crash_with_three_live_runs(durable(&dir.0, 1000)).await;
    let (running, handle, _host, runs, restored) = start(durable(&dir.0, 1000));
    assert_eq!(restored.live_runs, 3);
    assert_eq!(handle.metrics().inputs, 0);
    assert_eq!(handle.metrics().live_runs, 3);
    handle.pause("z").await.unwrap();
    // Reconciliation's three inputs, then the pause.
    assert_eq!(handle.metrics().inputs, 4);
    drop(handle);
    for call in runs.calls() {
        if let Call::Spawn(spec) = call {
            runs.exit(spec.run, RunExit::Code(0));
        }
    }
    running.await.unwrap().unwrap();
}

/// The limit in force, from a restarted driver's stats.
async fn limit_after_restart(dir: &Path, config: Config) -> usize {
    let (runtime, _runs) = fake();
    let (driver, handle, _events) = Driver::builder(config)
        .durable(durable(dir, 1000))
        .build(runtime)
        .expect("the state restores");
    let running = tokio::spawn(driver.run());
    let max_active = handle.stats().await.unwrap().core.max_active;
    running.abort();
    let _ = running.await;
    max_active
}

/// `Handle::set_limits` is journaled: a restart under the same
/// configuration keeps the limits set while running, even with work
/// left; a restart whose builder's limits changed (an operator edited the
/// config) applies those instead of refusing the state; after that, the
/// builder's limits are the state's, and a later set sticks again.
#[tokio::test]
async fn limits_set_while_running_survive_restarts_unless_the_configured_ones_changed() {
    let dir = Scratch::new("durable-limits");
    let (running, handle, mut host, _runs, _) = start(durable(&dir.0, 1000));
    handle.message("a", "one").await.unwrap();
    host.spawned().await;
    handle.set_limits(Limits::new(1)).await.unwrap();
    // The operator sees the limit in force.
    let text = handle.prometheus();
    assert!(text.contains("\ngroupq_max_active 1\n"), "{text}");
    let refused = handle.set_limits(Limits::new(0)).await;
    assert!(refused.is_err(), "{refused:?}");
    handle.message("b", "two").await.unwrap();
    assert_eq!(handle.stats().await.unwrap().core.waiting_groups, 1);
    running.abort();
    let _ = running.await;
    // Same configuration (max_active 3): the 1 set while running stays.
    assert_eq!(limit_after_restart(&dir.0, config()).await, 1);
    assert_eq!(limit_after_restart(&dir.0, config()).await, 1);
    // The builder's limit changed while work remains: it applies.
    let four = config().with_max_active(4);
    assert_eq!(limit_after_restart(&dir.0, four.clone()).await, 4);
    assert_eq!(limit_after_restart(&dir.0, four).await, 4);
}
