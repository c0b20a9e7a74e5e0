//! B9 (P10): after shutdown nothing is spawned, ever; the report hands back
//! everything not done; live runs keep running and their inputs are still
//! accepted.

mod common;

use common::{secs, task, Pair};
use groupq::{
    Dropped, Error, Exit, Input, LiveRun, PendingGroup, Record, RunState, ShutdownReport,
    TurnReport, Work, WorkKind,
};

#[test]
fn nothing_is_spawned_from_drain_after_shutdown() {
    let mut p = Pair::with_max_active(1);
    p.message("a");
    p.task("a", 1, "queued behind the run");
    p.message("b");
    p.task("c", 2, "waiting for a slot");
    let a = p.spawned_run("a");
    p.shutdown();
    p.exit(a);
    assert!(p.spawns().is_empty(), "a freed slot starts nothing");
    assert_eq!(p.q.stats().live_runs, 0);
}

#[test]
fn nothing_is_spawned_from_retries_after_shutdown() {
    let mut p = Pair::with_max_active(1);
    p.message("a");
    let run = p.spawned_run("a");
    p.fail(run);
    let retry_at = p.wake_at.expect("a retry is scheduled");
    let report = p.shutdown();
    assert_eq!(report.groups[0].retry, Some((1, retry_at)));
    assert_eq!(p.wake_at, None, "the retry timer is gone");
    p.advance(secs(3600));
    p.timeout();
    assert_eq!(p.all_spawns().len(), 1, "the retry never started");
}

#[test]
fn a_run_failing_after_shutdown_is_rolled_back_but_not_retried() {
    let mut p = Pair::with_max_active(1);
    p.message("a");
    let run = p.spawned_run("a");
    p.shutdown();
    p.fail(run);
    assert_eq!(
        p.commands(),
        [groupq::Command::RollbackCursor { group: "a" }]
    );
    assert_eq!(
        p.records(),
        [Record::Dropped {
            group: "a",
            what: Dropped::Retry
        }]
    );
    assert_eq!(p.wake_at, None);
    assert_eq!(p.q.explain(&"a"), None, "nothing held for it");
}

#[test]
fn the_report_lists_pending_payloads_unread_messagess_retries_and_live_runs() {
    // Eviction off: the idle task run must still be live and idle here.
    let mut p = Pair::new(
        groupq::Config::default()
            .with_max_active(2)
            .with_evict_idle(false),
    );
    // a: live Messages run, two tasks queued behind it, and new messages.
    p.message("a");
    let a = p.spawned_run("a");
    p.task("a", 1, "a-one");
    p.task("a", 2, "a-two");
    p.message("a");
    // r: failed, retry scheduled.
    p.message("r");
    let r = p.spawned_run("r");
    p.fail(r);
    let retry_at = p.q.explain(&"r").unwrap().retry_at.unwrap();
    // t: a live idle task run.
    p.task("t", 9, "t-nine");
    let t = p.spawned_run("t");
    p.idle(t);
    // w: waiting for a slot with a task and messages.
    p.task("w", 3, "w-three");
    p.message("w");

    let report = p.shutdown();
    // The idle task run is closed at once; the busy run gets its grace.
    assert_eq!(
        p.commands(),
        [groupq::Command::CloseInput {
            run: t,
            reason: groupq::CloseReason::Shutdown
        }]
    );
    assert_eq!(
        report,
        ShutdownReport {
            groups: vec![
                PendingGroup {
                    group: "a",
                    jobs: vec![task(1, "a-one"), task(2, "a-two")],
                    background_tasks: vec![],
                    unread_messages: true,
                    retry: None,
                    compact_pending: false,
                },
                PendingGroup {
                    group: "r",
                    jobs: vec![],
                    background_tasks: vec![],
                    unread_messages: false,
                    retry: Some((1, retry_at)),
                    compact_pending: false,
                },
                PendingGroup {
                    group: "w",
                    jobs: vec![task(3, "w-three")],
                    background_tasks: vec![],
                    unread_messages: true,
                    retry: None,
                    compact_pending: false,
                },
            ],
            live_runs: vec![
                LiveRun {
                    run: a,
                    group: "a",
                    kind: WorkKind::Messages,
                    state: RunState::Busy
                },
                LiveRun {
                    run: t,
                    group: "t",
                    kind: WorkKind::Task,
                    state: RunState::IdleWaiting
                },
            ],
        }
    );
    // Handed back, so no longer held: only the live runs' groups remain.
    assert_eq!(p.q.stats().tracked_groups, 2);
    assert_eq!(p.q.stats().queued_jobs, 0);
    assert_eq!(p.q.stats().waiting_groups, 0);
}

#[test]
fn an_idle_shutdown_gives_an_empty_report() {
    let mut p = Pair::with_max_active(1);
    assert!(p.shutdown().is_empty());
    assert!(p.q.stats().shut_down);
}

#[test]
fn live_runs_inputs_are_still_accepted_after_shutdown() {
    let mut p = Pair::with_max_active(2);
    p.message("a");
    p.task("b", 1, "t");
    let (a, b) = (p.spawned_run("a"), p.spawned_run("b"));
    p.shutdown();
    p.turn(a, TurnReport::delivered_reply());
    p.idle(a);
    p.idle(b);
    p.send(Input::Exited {
        run: b,
        exit: Exit::Failed,
    });
    p.exit(a);
    assert_eq!(p.q.stats().live_runs, 0);
    assert_eq!(p.q.stats().tracked_groups, 0);
    assert_eq!(p.all_spawns().len(), 2);
}

#[test]
fn new_work_after_shutdown_is_rejected() {
    let mut p = Pair::with_max_active(1);
    p.message("a");
    p.shutdown();
    assert_eq!(p.reject(Input::Message { group: "a" }), Error::ShutDown);
    assert_eq!(p.reject(Input::Message { group: "new" }), Error::ShutDown);
    assert_eq!(
        p.reject(Input::Task {
            group: "a",
            id: 1,
            payload: "late".into()
        }),
        Error::ShutDown
    );
}

#[test]
fn a_second_shutdown_is_rejected() {
    let mut p = Pair::with_max_active(1);
    p.message("a");
    p.shutdown();
    assert_eq!(p.reject(Input::Shutdown), Error::ShutDown);
}

#[test]
fn a_live_run_going_idle_after_shutdown_is_closed_at_once() {
    // Its queued tasks were handed back in the report: it is not preempted
    // for them, but there is nothing left for it to do.
    let mut p = Pair::with_max_active(1);
    p.message("a");
    p.task("a", 1, "t");
    let a = p.spawned_run("a");
    let report = p.shutdown();
    assert_eq!(report.groups[0].jobs, [task(1, "t")]);
    p.idle(a);
    assert_eq!(
        p.commands(),
        [groupq::Command::CloseInput {
            run: a,
            reason: groupq::CloseReason::Shutdown
        }]
    );
    assert_eq!(
        p.q.explain(&"a").unwrap().run.unwrap().state,
        RunState::Closing
    );
    assert_eq!(p.all_spawns()[0].2, Work::Messages);
}

/// A run whose spawn was never carried out leaves after shutdown with its
/// work handed back in the answer, whatever its kind: for a messages run
/// the machine then holds nothing for the group, so the answer is where
/// the host learns that its messages wait for the next start.
#[test]
fn a_run_that_never_launched_after_shutdown_hands_its_work_back() {
    let mut p = Pair::with_max_active(2);
    p.message("a");
    p.task("b", 1, "report");
    let (a, b) = (p.spawned_run("a"), p.spawned_run("b"));
    p.shutdown();
    for (run, work) in [(a, Work::Messages), (b, task(1, "report"))] {
        let answer = p.accept(groupq::NeverLaunched {
            run,
            work: work.clone(),
        });
        assert_eq!(answer, groupq::Requeue::HandedBack(work));
    }
    assert_eq!(p.commands(), [], "the task's run leaves without a command");
    assert!(p.q.is_quiescent(), "nothing is held for either group");
}
