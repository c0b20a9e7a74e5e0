//! B3 and P7: a follow-up is piped only into a live Messages run that is
//! `Busy` or `IdleWaiting`; every other case is refused with its reason, and
//! a refusal changes nothing.

mod common;

use common::{reply_at, Pair};
use groupq::{Input, PipeAnswer, PipeRefusal, Response, RunState, Work};

/// Pipes into `group`, expects a refusal, and proves it changed nothing but
/// the clock: a refusal is an ordinary answer, not an error.
fn refused(p: &mut Pair, group: &'static str) -> PipeRefusal {
    p.advance(common::secs(1));
    let (explained, stats) = (p.q.explain(&group), p.q.stats());
    let reason = match p.pipe(group) {
        PipeAnswer::Refused(reason) => reason,
        other => panic!("expected a pipe refusal, got {other:?}"),
    };
    assert!(p.outputs().is_empty(), "a refusal gives no output");
    assert_eq!(p.q.explain(&group), explained);
    assert_eq!(p.q.stats(), stats);
    reason
}

fn state(p: &Pair, group: &'static str) -> RunState {
    p.q.explain(&group).unwrap().run.unwrap().state
}

#[test]
fn pipe_is_refused_for_a_task_run() {
    let mut p = Pair::with_max_active(2);
    p.task("a", 1, "t");
    assert_eq!(refused(&mut p, "a"), PipeRefusal::TaskRun);
    let run = p.spawned_run("a");
    p.idle(run);
    assert_eq!(refused(&mut p, "a"), PipeRefusal::TaskRun, "even when idle");
}

#[test]
fn pipe_is_refused_for_a_compact_run() {
    let mut p = Pair::with_max_active(2);
    p.message("a");
    let run = p.spawned_run("a");
    p.turn(run, reply_at(90));
    p.exit(run);
    assert_eq!(p.spawned().2, Work::Compact);
    assert_eq!(refused(&mut p, "a"), PipeRefusal::CompactRun);
}

#[test]
fn pipe_is_refused_for_a_closing_run() {
    let mut p = Pair::with_max_active(2);
    p.message("a");
    let run = p.spawned_run("a");
    p.idle(run);
    p.task("a", 1, "t");
    assert_eq!(state(&p, "a"), RunState::Closing);
    assert_eq!(refused(&mut p, "a"), PipeRefusal::Closing);
}

#[test]
fn pipe_is_refused_when_the_group_has_no_run() {
    let mut p = Pair::with_max_active(1);
    assert_eq!(refused(&mut p, "unknown"), PipeRefusal::NoRun);
    p.message("busy");
    p.message("a"); // waits for a slot: known, but no run
    assert!(p.q.explain(&"a").is_some());
    assert_eq!(refused(&mut p, "a"), PipeRefusal::NoRun);
}

#[test]
fn pipe_is_refused_after_shutdown_even_into_a_live_messages_run() {
    let mut p = Pair::with_max_active(1);
    p.message("a");
    p.shutdown();
    assert_eq!(state(&p, "a"), RunState::Busy);
    assert_eq!(refused(&mut p, "a"), PipeRefusal::ShutDown);
}

#[test]
fn pipe_is_accepted_into_a_busy_messages_run() {
    let mut p = Pair::with_max_active(1);
    p.message("a");
    let run = p.spawned_run("a");
    assert_eq!(p.pipe("a"), PipeAnswer::Piped(run));
    assert!(p.outputs().is_empty());
    assert_eq!(state(&p, "a"), RunState::Busy);
}

#[test]
fn pipe_into_an_idle_messages_run_makes_it_busy() {
    let mut p = Pair::with_max_active(1);
    p.message("a");
    let run = p.spawned_run("a");
    p.idle(run);
    assert_eq!(p.pipe("a"), PipeAnswer::Piped(run));
    assert_eq!(state(&p, "a"), RunState::Busy);
    // Busy again: a task arriving now waits instead of preempting it.
    p.task("a", 1, "t");
    assert!(p.commands().is_empty());
}

#[test]
fn the_pipe_event_refuses_like_the_pipe_input() {
    let mut p = Pair::with_max_active(1);
    p.task("a", 1, "t");
    let refusal = PipeAnswer::Refused(PipeRefusal::TaskRun);
    assert_eq!(p.pipe("a"), refusal);
    assert_eq!(p.send(Input::Pipe { group: "a" }), Response::from(refusal));
    let none = PipeAnswer::Refused(PipeRefusal::NoRun);
    assert_eq!(p.pipe("b"), none);
    assert_eq!(p.send(Input::Pipe { group: "b" }), Response::from(none));
}

#[test]
fn the_pipe_event_accepts_like_the_pipe_input_and_moves_the_clock() {
    let mut p = Pair::with_max_active(1);
    p.message("a");
    let run = p.spawned_run("a");
    p.idle(run);
    p.advance(common::secs(1));
    assert_eq!(p.pipe("a"), PipeAnswer::Piped(run));
    assert_eq!(p.q.now(), p.now);
    assert_eq!(state(&p, "a"), RunState::Busy);
    p.idle(run);
    assert_eq!(p.send(Input::Pipe { group: "a" }), Response::Piped(run));
    assert_eq!(state(&p, "a"), RunState::Busy);
}
