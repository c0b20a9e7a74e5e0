//! The ordinary life of a durable service, on a runner the test drives by
//! hand: a clean shutdown and a start again, a restart that adopts the
//! runs left live (or detached), the lock, the task window, the journal's
//! tail, and unread messages a terminal failure leaves.

mod support;

use std::path::Path;
use std::time::Duration;

use groupq::{Config, RunId};
use groupq_tokio::{
    Driver, DriverError, Duplicate, Durability, FrameError, HostEvent, RestartPolicy, RunExit,
    RunWork, StateError, Submitted, SyncPolicy,
};

use support::fake::{fake, Call, Runs};
use support::{Host, Scratch};

fn config() -> Config {
    Config::default()
        .with_max_active(1)
        .with_retry_base(Duration::from_millis(10))
}

fn durable(dir: &Path) -> Durability {
    Durability::new(dir.join("state")).sync(SyncPolicy::EveryInput)
}

type Started = (
    tokio::task::JoinHandle<Result<(), DriverError>>,
    groupq_tokio::Handle,
    Host,
    Runs,
);

fn start_with(config: Config, durability: Durability, runs: Option<Runs>) -> Started {
    let (runner, fresh) = fake();
    if let Some(previous) = runs {
        // The restarted runner answers `recover` as the test set it up.
        fresh.copy_recovery_from(&previous);
    }
    let (driver, handle, events) = Driver::builder(config)
        .durable(durability)
        .build(runner)
        .expect("the state restores");
    (tokio::spawn(driver.run()), handle, Host::new(events), fresh)
}

fn spawned(calls: &[Call]) -> Vec<(RunId, String, RunWork, Vec<String>)> {
    calls
        .iter()
        .filter_map(|c| match c {
            Call::Spawn(spec) => Some((
                spec.run,
                spec.group.clone(),
                spec.work.clone(),
                spec.messages.clone(),
            )),
            _ => None,
        })
        .collect()
}

/// A clean shutdown ends the state's epoch; the next start begins a new
/// one and puts back what was left, texts and payloads included: the
/// application persists nothing. Run ids go on.
#[tokio::test]
async fn a_state_shut_down_cleanly_starts_again_and_puts_its_work_back() {
    let dir = Scratch::new("restart-after-shutdown");
    let (running, handle, mut host, runs) = start_with(config(), durable(&dir.0), None);
    handle.message("a", "for a").await.unwrap();
    let a = host.spawned().await;
    handle.message("b", "for b").await.unwrap();
    handle.task("c", "t1", "report").await.unwrap();
    let left = handle.shutdown().await.unwrap();
    assert_eq!(left.tasks.len(), 1);
    assert_eq!(
        (left.tasks[0].group.as_str(), left.tasks[0].payload.as_str()),
        ("c", "report")
    );
    assert_eq!(left.messages.len(), 1);
    assert_eq!(left.messages[0].texts, ["for b"]);
    assert_eq!(left.live_runs[0].unanswered, ["for a"]);
    // The busy run ends without answering: its message is left too.
    runs.exit(a, RunExit::Code(1));
    running.await.unwrap().unwrap();

    let (running, handle, mut host, runs) = start_with(config(), durable(&dir.0), None);
    let mut order = Vec::new();
    for _ in 0..3 {
        let run = host.spawned().await;
        let (_, group, work, messages) = spawned(&runs.calls())
            .into_iter()
            .find(|s| s.0 == run)
            .unwrap();
        assert!(run.get() > a.get(), "run ids go on: {run}");
        order.push((group, work, messages));
        runs.reply(run, "done", 1);
        runs.exit(run, RunExit::Code(0));
        host.exited().await;
    }
    assert_eq!(
        order,
        [
            (
                "c".to_string(),
                RunWork::Task {
                    id: "t1".into(),
                    payload: "report".into()
                },
                vec![]
            ),
            (
                "a".to_string(),
                RunWork::Messages,
                vec!["for a".to_string()]
            ),
            (
                "b".to_string(),
                RunWork::Messages,
                vec!["for b".to_string()]
            ),
        ]
    );
    let left = handle.shutdown().await.unwrap();
    assert!(left.is_empty(), "{left:?}");
    running.await.unwrap().unwrap();
}

/// A crash with a run live, and a restart that adopts it: the runner is
/// told its name, how far its output was read and how many messages were
/// written into it; the run keeps its id and slot (nothing else starts for
/// the group), and its later lines and exit are its own, not a loss.
#[tokio::test]
async fn a_restart_adopts_a_live_run_which_keeps_its_accounting() {
    let dir = Scratch::new("restart-adopt");
    let (running, handle, mut host, runs) = start_with(config(), durable(&dir.0), None);
    handle.message("a", "one").await.unwrap();
    let run = host.spawned().await;
    runs.reply(run, "re: one", 1);
    host.reply().await;
    assert!(matches!(
        handle.message("a", "two").await.unwrap(),
        groupq_tokio::Delivery::Piped(r) if r == run
    ));
    handle.message("b", "waiting").await.unwrap();
    running.abort();
    let _ = running.await;

    runs.set_adopted(&[run]);
    let (running, handle, mut host, again) = start_with(config(), durable(&dir.0), Some(runs));
    // Once it answers, the driver has settled the live run.
    let status = handle.status("a").await.unwrap().unwrap();
    let (policy, believed) = again.asked().expect("recover was asked");
    assert_eq!(policy, RestartPolicy::Adopt);
    assert_eq!(believed.len(), 1);
    let (id, name, read_to, delivered) = &believed[0];
    assert_eq!((*id, *read_to, *delivered), (run, 2, 2), "{name}");
    assert_eq!(status.run.as_ref().map(|r| r.0), Some(run));
    assert_eq!(status.unanswered, 1, "\"two\" is still the run's to answer");
    assert!(
        spawned(&again.calls()).is_empty(),
        "the slot is still the adopted run's"
    );
    // The adopted run answers and ends: no rollback, no retry, no loss.
    again.reply(run, "re: two", 1);
    let (replied, text) = host.reply().await;
    assert_eq!((replied, text.as_str()), (run, "re: two"));
    again.exit(run, RunExit::Code(0));
    let exit = host.exited().await;
    assert_eq!(exit, RunExit::Code(0));
    // Then the slot goes to the waiting group.
    let next = host.spawned().await;
    assert_eq!(spawned(&again.calls())[0].1, "b");
    again.reply(next, "re: waiting", 1);
    again.exit(next, RunExit::Code(0));
    handle.shutdown().await.unwrap();
    running.await.unwrap().unwrap();
    assert!(
        !host
            .seen
            .iter()
            .any(|e| matches!(e, HostEvent::RolledBack { .. })),
        "{:#?}",
        host.seen
    );
}

/// An adopted run that hangs is still closed at its turn deadline and
/// killed a kill grace later: its deadlines came back with the state.
#[tokio::test]
async fn a_hung_adopted_run_is_closed_and_killed_on_time() {
    let dir = Scratch::new("restart-hung");
    let config = config()
        .with_max_turn_time(Duration::from_millis(300))
        .with_kill_grace(Duration::from_millis(200))
        .with_max_retries(0);
    let (running, handle, mut host, runs) = start_with(config.clone(), durable(&dir.0), None);
    handle.message("a", "hang").await.unwrap();
    let run = host.spawned().await;
    running.abort();
    let _ = running.await;
    runs.set_adopted(&[run]);
    let (running, handle, mut host, again) = start_with(config, durable(&dir.0), Some(runs));
    host.closed().await;
    host.killed().await;
    assert!(again.calls().contains(&Call::Close(run)));
    assert!(again.calls().contains(&Call::Kill(run)));
    again.exit(run, RunExit::Signal(9));
    host.exited().await;
    handle.shutdown().await.unwrap();
    running.await.unwrap().unwrap();
}

/// Detaching stops the driver and leaves its runs live: the runner is told
/// so (it must not kill them when dropped), and the next start adopts
/// them; queued work was not shut down, it is still queued.
#[tokio::test]
async fn a_detached_driver_leaves_its_runs_for_the_next_start() {
    let dir = Scratch::new("restart-detach");
    let (running, handle, mut host, runs) = start_with(config(), durable(&dir.0), None);
    handle.message("a", "one").await.unwrap();
    let run = host.spawned().await;
    handle.task("a", "t", "later").await.unwrap();
    let detached = handle.detach().await.unwrap();
    assert_eq!(detached.live_runs, [run]);
    running.await.unwrap().unwrap();
    assert!(runs.detached());
    assert!(!runs
        .calls()
        .iter()
        .any(|c| matches!(c, Call::Close(_) | Call::Kill(_))));

    runs.set_adopted(&[run]);
    let (running, handle, mut host, again) = start_with(config(), durable(&dir.0), Some(runs));
    // The driver has settled the run once it answers.
    handle.stats().await.unwrap();
    assert!(
        again.asked().is_some_and(|(_, b)| b.len() == 1),
        "{:?}",
        again.asked()
    );
    again.reply(run, "re: one", 1);
    host.reply().await;
    // The queued task preempts the idle adopted run, then runs.
    host.closed().await;
    again.exit(run, RunExit::Code(0));
    let task = host.spawned().await;
    assert!(matches!(&spawned(&again.calls())[0].2, RunWork::Task { id, .. } if id == "t"));
    again.exit(task, RunExit::Code(0));
    handle.shutdown().await.unwrap();
    running.await.unwrap().unwrap();
}

/// A driver that is not durable cannot detach: no later start could adopt.
#[tokio::test]
async fn only_a_durable_driver_can_detach() {
    let (runner, _runs) = fake();
    let (driver, handle, _events) = Driver::builder(config()).build(runner).unwrap();
    let running = tokio::spawn(driver.run());
    assert!(matches!(
        handle.detach().await,
        Err(DriverError::NotDurable)
    ));
    handle.shutdown().await.unwrap();
    running.await.unwrap().unwrap();
}

/// The lock is on the state directory itself: deleting every file in it
/// does not let a second driver in.
#[tokio::test]
async fn deleting_the_state_directorys_files_does_not_let_a_second_driver_in() {
    let dir = Scratch::new("restart-lock");
    let (running, handle, _host, _runs) = start_with(config(), durable(&dir.0), None);
    handle.message("a", "one").await.unwrap();
    for entry in std::fs::read_dir(dir.0.join("state")).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    let (runner, _) = fake();
    let second = Driver::builder(config())
        .durable(durable(&dir.0))
        .build(runner);
    assert!(
        matches!(second, Err(DriverError::State(StateError::Locked { .. }))),
        "{:?}",
        second.err()
    );
    running.abort();
    let _ = running.await;
}

/// A task that ran before a crash is, resubmitted after the restart, a
/// duplicate with its outcome: the application that resubmits what it did
/// not see answered cannot run it twice.
#[tokio::test]
async fn a_task_that_ran_before_a_crash_is_a_duplicate_with_its_outcome() {
    let dir = Scratch::new("restart-tasks");
    let (running, handle, mut host, runs) = start_with(config(), durable(&dir.0), None);
    handle.task("a", "t1", "report").await.unwrap();
    let run = host.spawned().await;
    runs.exit(run, RunExit::Code(0));
    host.exited().await;
    running.abort();
    let _ = running.await;
    let (running, handle, _host, again) = start_with(config(), durable(&dir.0), None);
    let answer = handle.task("a", "t1", "report").await.unwrap();
    let Submitted::Duplicate(Duplicate::Ran(outcome)) = answer else {
        panic!("{answer:?}")
    };
    assert!(outcome.succeeded);
    assert!(spawned(&again.calls()).is_empty());
    // Another group's task of the same id is another task.
    assert_eq!(
        handle.task("b", "t1", "report").await.unwrap(),
        Submitted::Queued
    );
    running.abort();
    let _ = running.await;
}

/// After a terminal failure the messages wait for the group's next one:
/// the state of record shows them (status, stats, the shutdown's report).
#[tokio::test]
async fn unread_messages_after_a_terminal_failure_are_visible() {
    let dir = Scratch::new("restart-terminal");
    let config = config().with_max_retries(0);
    let (running, handle, mut host, runs) = start_with(config, durable(&dir.0), None);
    handle.message("a", "lost?").await.unwrap();
    let run = host.spawned().await;
    runs.exit(run, RunExit::Code(1));
    host.until(|e| matches!(e, HostEvent::TerminalFailure { unread: 1, .. }).then_some(()))
        .await;
    let status = handle
        .status("a")
        .await
        .unwrap()
        .expect("the group is visible");
    assert!(status.core.is_none(), "the core gave up on it");
    assert_eq!(status.unread, 1);
    assert!(status.last_error.is_some());
    assert_eq!(handle.stats().await.unwrap().unread_messages, 1);
    assert_eq!(handle.groups().await.unwrap(), ["a"]);
    let left = handle.shutdown().await.unwrap();
    assert_eq!(left.messages[0].texts, ["lost?"]);
    running.await.unwrap().unwrap();
}

/// Damage to the journal's last record is not a torn write: a record whose
/// checksum fails at full length, or zeros where a record was, are
/// refused, and the file is left as it is. A record cut short is dropped.
#[tokio::test]
async fn damage_in_the_last_record_is_refused_only_a_cut_is_dropped() {
    let dir = Scratch::new("restart-tail");
    let (running, handle, _host, _runs) = start_with(config(), durable(&dir.0), None);
    handle.message("a", "one").await.unwrap();
    handle.message("b", "two").await.unwrap();
    running.abort();
    let _ = running.await;
    let journal = dir.0.join("state/journal");
    let good = std::fs::read(&journal).unwrap();
    let build = || {
        let (runner, _) = fake();
        Driver::builder(config())
            .durable(durable(&dir.0))
            .build(runner)
            .map(|(d, _, _)| d.restored().cloned())
    };
    let mut flipped = good.clone();
    *flipped.last_mut().unwrap() ^= 1;
    let mut zeroed = good.clone();
    zeroed.extend([0u8; 40]);
    for bad in [flipped, zeroed] {
        std::fs::write(&journal, &bad).unwrap();
        match build() {
            Err(DriverError::State(StateError::Frame {
                error: FrameError::Corrupt { .. },
                ..
            })) => {}
            other => panic!("{:?}", other.map(|_| ())),
        }
        assert_eq!(
            std::fs::read(&journal).unwrap(),
            bad,
            "the file was changed"
        );
    }
    std::fs::write(&journal, &good[..good.len() - 5]).unwrap();
    let torn = build().unwrap().unwrap();
    assert!(torn.dropped_bytes > 0);
}
