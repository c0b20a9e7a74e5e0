//! B2 and B4: an idle run is closed when a task waits for its group, a busy
//! one is not, and a run's input is closed at most once (P8).

mod common;

use common::{mins, task, Pair};
use groupq::{CloseReason, Command, RunState, TurnReport};

fn closes(p: &Pair) -> Vec<Command<&'static str, u32, String>> {
    p.all_commands()
        .into_iter()
        .filter(|c| matches!(c, Command::CloseInput { .. }))
        .collect()
}

fn state(p: &Pair, group: &'static str) -> RunState {
    p.q.explain(&group).unwrap().run.unwrap().state
}

#[test]
fn an_idle_run_is_preempted_when_a_task_arrives() {
    let mut p = Pair::with_max_active(2);
    p.message("a");
    let run = p.spawned_run("a");
    p.idle(run);
    assert_eq!(state(&p, "a"), RunState::IdleWaiting);
    assert!(p.commands().is_empty());
    p.task("a", 1, "t");
    assert_eq!(
        p.commands(),
        [Command::CloseInput {
            run,
            reason: CloseReason::Preempt
        }]
    );
    assert_eq!(state(&p, "a"), RunState::Closing);
    p.exit(run);
    assert_eq!(p.spawned().2, task(1, "t"));
}

#[test]
fn a_busy_run_is_not_preempted_when_a_task_arrives() {
    let mut p = Pair::with_max_active(2);
    p.message("a");
    let run = p.spawned_run("a");
    p.task("a", 1, "t");
    assert!(p.commands().is_empty());
    assert_eq!(state(&p, "a"), RunState::Busy);
    p.exit(run);
    assert_eq!(p.spawned().2, task(1, "t"), "the task waited for the run");
}

#[test]
fn a_run_going_idle_with_pending_tasks_is_closed() {
    let mut p = Pair::with_max_active(2);
    p.message("a");
    let run = p.spawned_run("a");
    p.task("a", 1, "t");
    p.idle(run);
    assert_eq!(
        p.commands(),
        [Command::CloseInput {
            run,
            reason: CloseReason::Preempt
        }]
    );
    assert_eq!(state(&p, "a"), RunState::Closing);
}

#[test]
fn a_successful_turn_with_pending_tasks_closes_the_run() {
    let mut p = Pair::with_max_active(2);
    p.message("a");
    let run = p.spawned_run("a");
    p.task("a", 1, "t");
    p.turn(run, TurnReport::delivered_reply());
    assert!(p.commands().contains(&Command::CloseInput {
        run,
        reason: CloseReason::Preempt
    }));
}

#[test]
fn a_task_run_going_idle_with_pending_tasks_is_closed() {
    let mut p = Pair::with_max_active(2);
    p.task("a", 1, "running");
    let run = p.spawned_run("a");
    p.task("a", 2, "next");
    p.idle(run);
    assert_eq!(
        p.commands(),
        [Command::CloseInput {
            run,
            reason: CloseReason::Preempt
        }]
    );
}

#[test]
fn an_idle_run_without_pending_tasks_stays_open() {
    let mut p = Pair::with_max_active(2);
    p.message("a");
    let run = p.spawned_run("a");
    p.idle(run);
    p.message("a");
    assert!(p.commands().is_empty(), "a message does not preempt");
    assert_eq!(state(&p, "a"), RunState::IdleWaiting);
}

#[test]
fn a_run_gets_at_most_one_close_input() {
    let mut p = Pair::with_max_active(2);
    p.message("a");
    let run = p.spawned_run("a");
    p.turn(run, TurnReport::delivered_reply()); // arms the idle deadline
    p.task("a", 1, "t1"); // preempts the idle run
    assert_eq!(closes(&p).len(), 1);
    p.task("a", 2, "t2");
    p.idle(run);
    p.turn(run, TurnReport::delivered_reply());
    p.idle(run);
    p.advance(mins(60));
    p.timeout(); // the idle deadline, if any, must not close it again
    assert_eq!(
        closes(&p),
        [Command::CloseInput {
            run,
            reason: CloseReason::Preempt
        }],
        "one CloseInput per run"
    );
    assert_eq!(state(&p, "a"), RunState::Closing);
}
