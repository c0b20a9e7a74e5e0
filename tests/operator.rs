//! Operator controls: cancel a queued task, pause and resume a group, and
//! the host closing a group's run itself.

mod common;

use common::{secs, Pair};
use groupq::{
    CancelAnswer, CloseAnswer, CloseReason, CloseRun, Command, PipeAnswer, PipeRefusal, RunState,
    Time, TurnReport, Work,
};

fn cancel(p: &mut Pair, group: &'static str, id: u32) -> CancelAnswer<String> {
    p.accept(groupq::Cancel { group, id })
}

#[test]
fn a_queued_task_is_cancelled_with_its_payload_and_never_runs() {
    let mut p = Pair::with_max_active(1);
    p.task("a", 1, "first");
    let first = p.spawned_run("a");
    p.task("a", 2, "second");
    p.task("a", 3, "third");
    assert_eq!(
        cancel(&mut p, "a", 2),
        CancelAnswer::Cancelled("second".into())
    );
    assert_eq!(cancel(&mut p, "a", 2), CancelAnswer::NotQueued, "only once");
    assert_eq!(
        cancel(&mut p, "a", 1),
        CancelAnswer::Running(first),
        "not cancelled"
    );
    p.exit(first);
    assert_eq!(p.spawned().2, common::task(3, "third"), "2 is skipped");
    assert!(p.task("a", 2, "again"), "its id can be queued again");
}

#[test]
fn cancelling_the_last_work_of_a_waiting_group_takes_it_out_of_the_line() {
    let mut p = Pair::with_max_active(1);
    p.message("busy");
    p.task("b", 1, "t");
    p.message("c");
    assert_eq!(p.q.explain(&"c").unwrap().waiting_behind, Some(1));
    assert_eq!(cancel(&mut p, "b", 1), CancelAnswer::Cancelled("t".into()));
    assert_eq!(p.q.explain(&"b"), None, "nothing left: forgotten");
    assert_eq!(p.q.explain(&"c").unwrap().waiting_behind, Some(0));
}

#[test]
fn a_paused_group_starts_nothing_keeps_its_work_and_rejoins_at_the_back() {
    let mut p = Pair::with_max_active(1);
    p.message("busy");
    let busy = p.spawned_run("busy");
    p.message("a");
    p.message("b");
    p.accept(groupq::Pause { group: "a" });
    let e = p.q.explain(&"a").unwrap();
    assert!(e.paused && e.unread_messages, "its work is kept");
    assert_eq!(e.waiting_behind, None, "it gave up its place");
    p.exit(busy);
    assert_eq!(p.spawned().1, "b", "b goes first");
    p.accept(groupq::Resume { group: "a" });
    assert_eq!(
        p.q.explain(&"a").unwrap().waiting_behind,
        Some(0),
        "back of the line"
    );
    let b = p.spawned_run("b");
    p.exit(b);
    assert_eq!(p.spawned().1, "a");
}

#[test]
fn a_paused_group_with_a_free_slot_still_starts_nothing_until_resumed() {
    let mut p = Pair::with_max_active(2);
    p.accept(groupq::Pause { group: "a" });
    p.task("a", 1, "t");
    p.message("a");
    assert!(p.spawns().is_empty());
    p.accept(groupq::Resume { group: "a" });
    assert_eq!(p.spawned().2, common::task(1, "t"));
}

#[test]
fn a_paused_groups_idle_run_is_not_preempted_for_tasks_that_cannot_start() {
    let mut p = Pair::with_max_active(2);
    p.message("a");
    let run = p.spawned_run("a");
    p.turn(run, TurnReport::delivered_reply());
    p.accept(groupq::Pause { group: "a" });
    p.task("a", 1, "t");
    assert!(p.commands().is_empty(), "no preemption while paused");
    p.accept(groupq::Resume { group: "a" });
    assert_eq!(
        p.commands(),
        [Command::CloseInput {
            run,
            reason: CloseReason::Preempt
        }]
    );
}

#[test]
fn the_host_closes_a_run_once_then_pipes_are_refused_and_the_kill_follows() {
    let mut p = Pair::new(groupq::Config::default().with_kill_grace(secs(10)));
    assert_eq!(p.accept(CloseRun { group: "a" }), CloseAnswer::NoRun);
    p.message("a");
    let run = p.spawned_run("a");
    p.turn(run, TurnReport::delivered_reply());
    assert_eq!(p.accept(CloseRun { group: "a" }), CloseAnswer::Closed(run));
    assert_eq!(
        p.commands(),
        [Command::CloseInput {
            run,
            reason: CloseReason::Host
        }]
    );
    assert_eq!(p.pipe("a"), PipeAnswer::Refused(PipeRefusal::Closing));
    assert_eq!(
        p.accept(CloseRun { group: "a" }),
        CloseAnswer::AlreadyClosing(run)
    );
    assert!(p.commands().is_empty(), "one close per run");
    assert_eq!(p.advance_to_next_deadline(), Time::ZERO + secs(10));
    assert_eq!(p.commands(), [Command::Kill { run }]);
    assert_eq!(
        p.q.explain(&"a").unwrap().run.unwrap().state,
        RunState::Closing
    );
    p.fail(run);
    // The follow-up the user typed went in as a message: a new run reads it.
    p.message("a");
    assert_eq!(p.spawned().2, Work::Messages);
}
