//! B10: deadlines fire in deadline order, ties in the order they were set;
//! early and extra timeouts do nothing; `WakeAt` reports the next deadline.

mod common;

use common::{mins, secs, Pair};
use groupq::{CloseReason, Command, Config, Time, TurnReport, Work};

fn idle_timeout(minutes: u64) -> Config {
    Config::default()
        .with_max_active(5)
        .with_idle_timeout(mins(minutes))
}

#[test]
fn deadlines_fire_in_deadline_order_not_in_the_order_set() {
    let mut p = Pair::new(idle_timeout(30));
    p.message("a");
    let a = p.spawned_run("a");
    p.turn(a, TurnReport::delivered_reply()); // idle deadline at 30 min
    p.advance(secs(10));
    p.message("r");
    let r = p.spawned_run("r");
    p.fail(r); // retry deadline at 10 s + 5 s: set later, due earlier
    p.advance(mins(60));
    p.timeout();
    let commands = p.commands();
    assert_eq!(commands.len(), 2, "{commands:?}");
    assert!(matches!(
        &commands[0],
        Command::Spawn {
            group: "r",
            work: Work::Messages,
            ..
        }
    ));
    assert_eq!(
        commands[1],
        Command::CloseInput {
            run: a,
            reason: CloseReason::IdleTimeout
        }
    );
}

#[test]
fn deadlines_due_at_the_same_time_fire_in_the_order_they_were_set() {
    let mut p = Pair::new(idle_timeout(30));
    for g in ["a", "b", "c"] {
        p.message(g);
    }
    let [a, b, c] = ["a", "b", "c"].map(|g| p.spawned_run(g));
    // Replies at the same instant, in an order unlike the groups' order.
    for run in [b, c, a] {
        p.turn(run, TurnReport::delivered_reply());
    }
    p.advance_to_next_deadline();
    let closed: Vec<_> = p
        .commands()
        .into_iter()
        .map(|c| match c {
            Command::CloseInput { run, .. } => run,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(closed, [b, c, a]);
}

#[test]
fn an_early_timeout_does_nothing() {
    let mut p = Pair::new(idle_timeout(30));
    p.message("a");
    let a = p.spawned_run("a");
    p.turn(a, TurnReport::delivered_reply());
    let deadline = p.wake_at.unwrap();
    let before = p.q.explain(&"a");
    p.advance(mins(30) - secs(1));
    p.timeout();
    assert!(p.outputs().is_empty());
    assert_eq!(p.q.explain(&"a"), before);
    assert_eq!(p.wake_at, Some(deadline));
}

#[test]
fn an_extra_timeout_does_nothing() {
    let mut p = Pair::new(idle_timeout(30));
    p.message("a");
    let a = p.spawned_run("a");
    p.turn(a, TurnReport::delivered_reply());
    let closed_at = p.advance_to_next_deadline();
    assert_eq!(p.commands().len(), 1);
    // What is left is the kill deadline, `kill_grace` after the close.
    let kill_at = closed_at.saturating_add(secs(30));
    assert_eq!(p.wake_at, Some(kill_at));
    let state = p.q.clone();
    p.timeout();
    assert!(p.outputs().is_empty());
    p.advance(secs(29));
    p.timeout();
    assert!(p.outputs().is_empty(), "early: nothing fires");
    assert_eq!(p.q.explain(&"a"), state.explain(&"a"));
}

#[test]
fn a_timeout_with_nothing_armed_does_nothing() {
    let mut p = Pair::with_max_active(1);
    p.advance(secs(5));
    p.timeout();
    assert!(p.outputs().is_empty());
    assert_eq!(p.wake_at, None);
}

#[test]
fn wake_at_reports_the_next_deadline() {
    let mut p = Pair::new(idle_timeout(30));
    p.message("a");
    let turn = Time::ZERO.saturating_add(mins(30));
    assert_eq!(p.wake_at, Some(turn), "a busy run's turn deadline");
    let a = p.spawned_run("a");
    p.turn(a, TurnReport::delivered_reply());
    assert_eq!(
        p.wake_at,
        Some(Time::ZERO.saturating_add(mins(30))),
        "now its idle deadline"
    );
    p.advance(secs(100));
    p.message("r");
    let r = p.spawned_run("r");
    p.fail(r);
    let retry = p.now.saturating_add(secs(5));
    assert_eq!(p.wake_at, Some(retry), "the earlier of the two");
    assert_eq!(p.advance_to_next_deadline(), retry);
    assert_eq!(p.wake_at, Some(Time::ZERO.saturating_add(mins(30))));
    // The retry started r again, with its own turn deadline.
    let r_turn = retry.saturating_add(mins(30));
    p.exit(a);
    assert_eq!(
        p.wake_at,
        Some(r_turn),
        "an exited run's idle deadline is cancelled"
    );
}

#[test]
fn a_timeout_far_beyond_every_deadline_fires_each_once() {
    let mut p = Pair::new(idle_timeout(1));
    for g in ["a", "b"] {
        p.message(g);
        let run = p.spawned_run(g);
        p.turn(run, TurnReport::delivered_reply());
        p.advance(secs(1));
    }
    p.now = Time::MAX;
    p.timeout();
    // Two idle closes, then the two kills their closes armed (at the end of
    // time, so due at once), each once.
    let kinds: Vec<&str> = p
        .commands()
        .iter()
        .map(|c| match c {
            Command::CloseInput { .. } => "close",
            Command::Kill { .. } => "kill",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["close", "close", "kill", "kill"]);
    assert_eq!(p.wake_at, None);
}
