//! B6 and B7 (P12): a failed Messages run rolls the cursor back and is
//! retried after `base · 2^(n−1)`; past `max_retries`, `TerminalFailure` and
//! the count starts again. A failure after a delivered reply is neither
//! rolled back nor retried.

mod common;

use std::time::Duration;

use common::{secs, task, Pair};
use groupq::{Command, Record, TurnReport, Work};

/// Fails the group's live Messages run; returns the retry delay scheduled,
/// or `None` when no retry was scheduled.
fn fail_and_delay(p: &mut Pair, group: &'static str) -> Option<Duration> {
    let run = p.live_run(group).expect("a live run");
    p.fail(run);
    let at = p.q.explain(&group).and_then(|e| e.retry_at)?;
    Some(at.saturating_duration_since(p.now))
}

#[test]
fn backoff_is_5_10_20_40_80_seconds_then_terminal_failure_and_reset() {
    let mut p = Pair::with_max_active(1);
    p.message("a");
    let mut delays = Vec::new();
    for attempt in 1..=5u32 {
        p.advance(secs(1));
        let delay = fail_and_delay(&mut p, "a").expect("a retry");
        assert_eq!(
            p.commands(),
            [Command::RollbackCursor { group: "a" }],
            "attempt {attempt}"
        );
        assert!(p.records().contains(&Record::RetryScheduled {
            group: "a",
            attempt,
            at: p.now.saturating_add(delay)
        }));
        assert_eq!(p.wake_at, Some(p.now.saturating_add(delay)));
        delays.push(delay.as_secs());
        assert!(p.spawns().is_empty(), "no retry before its deadline");
        p.advance_to_next_deadline();
        assert_eq!(p.spawned().2, Work::Messages, "the retry spawns");
    }
    assert_eq!(delays, [5, 10, 20, 40, 80]);

    assert_eq!(fail_and_delay(&mut p, "a"), None, "sixth failure");
    assert_eq!(
        p.commands(),
        [
            Command::RollbackCursor { group: "a" },
            Command::TerminalFailure { group: "a" }
        ]
    );
    assert!(p
        .records()
        .contains(&Record::RetriesExhausted { group: "a" }));
    assert_eq!(p.wake_at, None, "no timer after terminal failure");
    assert_eq!(p.q.explain(&"a"), None, "the count was reset");

    p.message("a");
    assert_eq!(
        fail_and_delay(&mut p, "a"),
        Some(secs(5)),
        "after the reset, the first delay again"
    );
}

#[test]
fn a_smaller_retry_limit_fails_terminally_sooner() {
    let mut p = Pair::new(
        groupq::Config::default()
            .with_max_retries(1)
            .with_retry_base(secs(2)),
    );
    p.message("a");
    assert_eq!(fail_and_delay(&mut p, "a"), Some(secs(2)));
    p.advance_to_next_deadline();
    assert_eq!(fail_and_delay(&mut p, "a"), None);
    assert!(p
        .commands()
        .contains(&Command::TerminalFailure { group: "a" }));
}

#[test]
fn a_success_resets_the_retry_count() {
    let mut p = Pair::with_max_active(1);
    p.message("a");
    assert_eq!(fail_and_delay(&mut p, "a"), Some(secs(5)));
    p.advance_to_next_deadline();
    assert_eq!(fail_and_delay(&mut p, "a"), Some(secs(10)));
    p.advance_to_next_deadline();
    let run = p.spawned_run("a");
    p.exit(run);
    assert_eq!(p.q.explain(&"a"), None, "count reset, group forgotten");
    p.message("a");
    assert_eq!(fail_and_delay(&mut p, "a"), Some(secs(5)));
}

#[test]
fn a_failure_after_a_delivered_reply_is_neither_rolled_back_nor_retried() {
    let mut p = Pair::with_max_active(1);
    p.message("a");
    let run = p.spawned_run("a");
    p.turn(run, TurnReport::delivered_reply());
    p.turn(run, TurnReport::error());
    p.fail(run);
    assert!(p.commands().is_empty(), "no rollback: {:?}", p.commands());
    assert_eq!(p.wake_at, None, "no retry");
    assert_eq!(p.q.explain(&"a"), None);
}

#[test]
fn a_failure_after_delivery_resets_earlier_failures() {
    let mut p = Pair::with_max_active(1);
    p.message("a");
    assert_eq!(fail_and_delay(&mut p, "a"), Some(secs(5)));
    p.advance_to_next_deadline();
    let run = p.spawned_run("a");
    p.turn(run, TurnReport::delivered_reply());
    p.fail(run);
    p.message("a");
    assert_eq!(fail_and_delay(&mut p, "a"), Some(secs(5)));
}

#[test]
fn a_turn_error_with_a_clean_exit_is_rolled_back_and_retried() {
    let mut p = Pair::with_max_active(1);
    p.message("a");
    let run = p.spawned_run("a");
    p.turn(run, TurnReport::error());
    p.exit(run);
    assert_eq!(p.commands(), [Command::RollbackCursor { group: "a" }]);
    assert_eq!(p.wake_at, Some(p.now.saturating_add(secs(5))));
}

#[test]
fn a_failed_task_run_is_recorded_and_not_retried() {
    let mut p = Pair::with_max_active(1);
    p.task("a", 7, "t");
    let run = p.spawned_run("a");
    p.fail(run);
    assert!(p.commands().is_empty(), "no rollback for a task");
    assert_eq!(
        p.records(),
        [Record::TaskFailed {
            group: "a",
            run,
            id: 7
        }]
    );
    assert_eq!(p.wake_at, None, "tasks are not retried");
    assert_eq!(p.q.explain(&"a"), None);
}

#[test]
fn a_retry_deadline_acts_as_a_message_for_a_group_with_a_live_run() {
    let mut p = Pair::with_max_active(2);
    p.message("a");
    fail_and_delay(&mut p, "a");
    p.task("a", 1, "t"); // starts at once: the group has no run
    let task_run = p.spawned_run("a");
    p.advance_to_next_deadline();
    assert!(p.spawns().is_empty(), "the group already has a live run");
    assert!(p.q.explain(&"a").unwrap().unread_messages);
    p.exit(task_run);
    assert_eq!(p.spawned().2, Work::Messages);
}

#[test]
fn a_retry_deadline_with_no_free_slot_waits_in_line() {
    let mut p = Pair::with_max_active(1);
    p.message("a");
    fail_and_delay(&mut p, "a");
    p.message("b");
    let b = p.spawned_run("b");
    p.advance_to_next_deadline();
    assert!(p.spawns().is_empty());
    assert_eq!(p.q.explain(&"a").unwrap().waiting_behind, Some(0));
    p.exit(b);
    assert_eq!((p.spawned().1, p.spawned().2), ("a", Work::Messages));
}

#[test]
fn a_retry_still_scheduled_is_cancelled_by_a_successful_run() {
    let mut p = Pair::with_max_active(2);
    p.message("a");
    fail_and_delay(&mut p, "a");
    p.message("a"); // new messages start a run before the retry is due
    let run = p.spawned_run("a");
    p.exit(run);
    assert_eq!(p.wake_at, None, "the retry had nothing left to do");
    assert_eq!(p.q.explain(&"a"), None);
    p.advance(secs(60));
    p.timeout();
    assert!(p.spawns().is_empty());
}

#[test]
fn a_messages_run_started_before_the_retry_cancels_it_so_no_empty_run_follows() {
    let mut p = Pair::with_max_active(2);
    p.message("a");
    fail_and_delay(&mut p, "a").expect("a retry");
    p.message("a"); // this run reads the rolled-back messages too
    let run = p.spawned_run("a");
    assert_eq!(p.q.explain(&"a").and_then(|e| e.retry_at), None);
    let turn = p.q.explain(&"a").unwrap().run.unwrap().turn_deadline;
    assert_eq!(
        p.wake_at, turn,
        "no retry deadline left, only the run's turn"
    );
    // Long past the old deadline, with the run still live: nothing is queued
    // behind it, so its exit frees the group.
    p.advance(secs(60));
    p.timeout();
    assert!(!p.q.explain(&"a").expect("live").unread_messages);
    p.exit(run);
    assert!(p.spawns().is_empty(), "no second, empty Messages run");
    assert_eq!(p.q.explain(&"a"), None);
}

#[test]
fn a_failure_of_the_run_that_replaced_a_retry_keeps_counting_the_backoff() {
    let mut p = Pair::with_max_active(2);
    p.message("a");
    assert_eq!(fail_and_delay(&mut p, "a"), Some(secs(5)));
    p.message("a");
    assert_eq!(
        fail_and_delay(&mut p, "a"),
        Some(secs(10)),
        "attempt 2, not 1"
    );
}

#[test]
fn pending_jobs_of_a_failing_group_still_run_in_order() {
    let mut p = Pair::with_max_active(1);
    p.message("a");
    p.task("a", 1, "t");
    let run = p.spawned_run("a");
    p.fail(run);
    assert_eq!(p.spawned().2, task(1, "t"), "the job is not held back");
    let t = p.spawned_run("a");
    p.exit(t);
    assert!(p.spawns().is_empty(), "the retry waits for its deadline");
    p.advance_to_next_deadline();
    assert_eq!(p.spawned().2, Work::Messages);
}
