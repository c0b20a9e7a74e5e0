//! The driver's contract on a runtime the test drives by hand: what the
//! runtime is told (the stream of calls), what the host hears, and what
//! the handle answers.

mod support;

use std::time::Duration;

use groupq::{CancelAnswer, CloseReason, Config, RunId};
use groupq_tokio::{Delivery, DriverError, Duplicate, HostEvent, RunExit, RunWork, Submitted};

use support::fake::{fake, Call};

fn config() -> Config {
    Config::default()
        .with_max_active(1)
        .with_retry_base(Duration::from_millis(10))
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

#[tokio::test]
async fn a_message_starts_a_run_with_it_and_a_follow_up_is_piped_into_that_run() {
    let (runtime, runs) = fake();
    let (running, handle, mut host) = support::start_checked(config(), runtime);
    assert_eq!(
        handle.message("a", "hello").await.unwrap(),
        Delivery::Queued
    );
    let run = host.spawned().await;
    assert_eq!(
        spawned(&runs.calls()),
        [(run, "a".into(), RunWork::Messages, vec!["hello".into()])]
    );
    assert_eq!(
        handle.message("a", "more").await.unwrap(),
        Delivery::Piped(run)
    );
    assert!(runs.calls().contains(&Call::Deliver(run, "more".into())));
    runs.reply(run, "re: hello | more", 2);
    let text = host.reply().await.1;
    assert_eq!(text, "re: hello | more");
    assert_eq!(handle.metrics().replies, 1);
    assert_eq!(handle.metrics().piped, 1);
    handle.shutdown().await.unwrap();
    host.until(|e| {
        matches!(
            e,
            HostEvent::Closed {
                reason: CloseReason::Shutdown,
                ..
            }
        )
        .then_some(())
    })
    .await;
    runs.exit(run, RunExit::Code(0));
    running.await.unwrap().unwrap();
    assert_eq!(runs.calls().last(), Some(&Call::Release(run)));
}

/// A group's run was handed "one" and "two" ("two" piped in after the reply
/// to "one", or before it while the agent worked on "one"); its reply
/// answered "one" only, then the run ended with `exit`: "two", and only
/// "two", is handed to the retry. A reply is reported to the core as
/// delivered only when it answered every message handed to the run, or the
/// core would count the run done.
async fn only_the_unanswered_follow_up_is_retried(exit: RunExit, piped_before_the_reply: bool) {
    let (runtime, runs) = fake();
    let (running, handle, mut host) = support::start_checked(config(), runtime);
    handle.message("a", "one").await.unwrap();
    let first = host.spawned().await;
    for reply_now in [!piped_before_the_reply, piped_before_the_reply] {
        if reply_now {
            runs.reply(first, "re: one", 1);
            host.reply().await;
        } else {
            assert_eq!(
                handle.message("a", "two").await.unwrap(),
                Delivery::Piped(first)
            );
        }
    }
    runs.exit(first, exit);
    let rewound = host
        .until(|e| match e {
            HostEvent::RolledBack { messages, .. } => Some(*messages),
            _ => None,
        })
        .await;
    assert_eq!(rewound, 1);
    let retry = host.spawned().await;
    assert_eq!(
        spawned(&runs.calls())[1],
        (retry, "a".into(), RunWork::Messages, vec!["two".into()])
    );
    assert_eq!(handle.metrics().retries, 1);
    drop(handle);
    runs.exit(retry, RunExit::Code(0));
    running.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_failed_run_hands_only_its_unanswered_messages_to_the_retry() {
    only_the_unanswered_follow_up_is_retried(RunExit::Code(1), false).await;
}

#[tokio::test]
async fn an_agent_that_exits_0_without_answering_a_follow_up_does_not_lose_it() {
    only_the_unanswered_follow_up_is_retried(RunExit::Code(0), false).await;
}

#[tokio::test]
async fn a_follow_up_piped_before_a_reply_that_did_not_answer_it_is_retried() {
    only_the_unanswered_follow_up_is_retried(RunExit::Code(1), true).await;
}

#[tokio::test]
async fn tasks_are_deduplicated_cancelled_and_run_one_at_a_time_per_group() {
    let (runtime, runs) = fake();
    let (running, handle, mut host) = support::start_checked(config(), runtime);
    assert_eq!(
        handle.task("a", "t1", "first").await.unwrap(),
        Submitted::Queued
    );
    assert_eq!(
        handle.task("a", "t1", "first").await.unwrap(),
        Submitted::Duplicate(Duplicate::Running(RunId::new(1)))
    );
    assert_eq!(
        handle.task("a", "t2", "second").await.unwrap(),
        Submitted::Queued
    );
    assert_eq!(
        handle.cancel("a", "t2").await.unwrap(),
        CancelAnswer::Cancelled("second".into())
    );
    let run = host.spawned().await;
    assert_eq!(
        spawned(&runs.calls()),
        [(
            run,
            "a".into(),
            RunWork::Task {
                id: "t1".into(),
                payload: "first".into()
            },
            vec![]
        )]
    );
    handle.pause("b").await.unwrap();
    handle.message("b", "waits").await.unwrap();
    runs.exit(run, RunExit::Code(0));
    host.exited().await;
    // b is paused: nothing starts although the slot is free.
    assert_eq!(handle.stats().await.unwrap().core.live_runs, 0);
    assert!(
        handle
            .status("b")
            .await
            .unwrap()
            .unwrap()
            .core
            .unwrap()
            .paused
    );
    handle.resume("b").await.unwrap();
    let b = host
        .until(|e| match e {
            HostEvent::Spawned { run, group, .. } if group == "b" => Some(*run),
            _ => None,
        })
        .await;
    let report = handle.shutdown().await.unwrap();
    assert_eq!(report.live_runs.len(), 1);
    // After shutdown the core rejects new work, and nothing is kept.
    assert!(matches!(
        handle.message("b", "late").await,
        Err(DriverError::Rejected(groupq::Error::ShutDown))
    ));
    runs.exit(b, RunExit::Code(0));
    running.await.unwrap().unwrap();
    assert!(matches!(handle.stats().await, Err(DriverError::Stopped)));
}

#[tokio::test]
async fn a_hung_run_is_closed_then_killed_and_its_slot_held_until_it_exits() {
    let (runtime, runs) = fake();
    let config = config()
        .with_max_turn_time(Duration::from_millis(50))
        .with_kill_grace(Duration::from_millis(50));
    let (running, handle, mut host) = support::start_checked(config, runtime);
    handle.message("a", "hi").await.unwrap();
    handle.message("b", "waiting").await.unwrap();
    let run = host.spawned().await;
    let reason = host.closed().await;
    assert_eq!(reason, CloseReason::TurnTimeout);
    host.killed().await;
    assert_eq!(handle.metrics().kills, 1);
    // Killed but not yet gone: b still waits.
    assert_eq!(handle.stats().await.unwrap().core.live_runs, 1);
    assert_eq!(handle.stats().await.unwrap().core.waiting_groups, 1);
    let calls = runs.calls();
    assert!(calls.contains(&Call::Close(run)) && calls.contains(&Call::Kill(run)));
    runs.exit(run, RunExit::Signal(9));
    let next = host
        .until(|e| match e {
            HostEvent::Spawned { group, run, .. } => Some((group.clone(), *run)),
            _ => None,
        })
        .await;
    assert_eq!(next.0, "b");
    drop(handle);
    runs.exit(next.1, RunExit::Code(0));
    running.await.unwrap().unwrap();
}
