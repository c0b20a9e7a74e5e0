//! Limits changed while running ([`SetLimits`], P2, P8) and the caps on
//! queued tasks (B2, P4): judged on what an adapter sees (answers and
//! commands), every step also through the checker.

mod common;

use common::{task, Pair};
use groupq::{
    CancelAnswer, CloseReason, Command, Config, ConfigError, Error, Input, Limits, SetLimits, Task,
    TaskAnswer, TaskRefusal,
};

fn set(p: &mut Pair, limits: Limits) {
    p.accept(SetLimits { limits });
}

fn closes(p: &Pair) -> Vec<(groupq::RunId, CloseReason)> {
    p.commands()
        .into_iter()
        .filter_map(|c| match c {
            Command::CloseInput { run, reason } => Some((run, reason)),
            _ => None,
        })
        .collect()
}

#[test]
fn raising_the_limit_starts_the_waiting_groups_at_once() {
    let mut p = Pair::with_max_active(1);
    for g in ["a", "b", "c"] {
        p.message(g);
    }
    assert_eq!(p.q.stats().waiting_groups, 2);
    set(&mut p, Limits::new(3));
    let started: Vec<_> = p.spawns().into_iter().map(|s| s.1).collect();
    assert_eq!(started, ["b", "c"], "in line order");
    assert_eq!(p.q.free_slots(), 0);
}

#[test]
fn lowering_the_limit_closes_idle_runs_longest_idle_first_and_busy_ones_when_idle() {
    let mut p = Pair::with_max_active(4);
    for g in ["a", "b", "c", "d"] {
        p.message(g);
    }
    let [a, b, c, d] = ["a", "b", "c", "d"].map(|g| p.spawned_run(g));
    p.idle(b);
    p.idle(a);
    set(&mut p, Limits::new(1));
    // Three runs too many, two idle: b (idle longest) then a.
    assert_eq!(
        closes(&p),
        [
            (b, CloseReason::LimitLowered),
            (a, CloseReason::LimitLowered)
        ]
    );
    assert_eq!(p.q.free_slots(), 0);
    // c and d are busy: they finish their turn. c goes idle with two runs
    // open above the limit of one: closed.
    p.idle(c);
    assert_eq!(closes(&p), [(c, CloseReason::LimitLowered)]);
    // d is the one run the limit allows: it stays open.
    p.idle(d);
    assert!(closes(&p).is_empty());
}

#[test]
fn nothing_starts_while_the_live_runs_are_at_or_above_a_lowered_limit() {
    let mut p = Pair::new(Config::default().with_max_active(3).with_evict_idle(false));
    for g in ["a", "b", "c"] {
        p.message(g);
    }
    let runs = ["a", "b", "c"].map(|g| p.spawned_run(g));
    set(&mut p, Limits::new(1));
    p.message("d");
    assert!(p.spawns().is_empty());
    p.exit(runs[0]);
    assert!(p.spawns().is_empty(), "two live, limit one");
    p.exit(runs[1]);
    assert!(p.spawns().is_empty(), "one live, limit one");
    p.exit(runs[2]);
    assert_eq!(p.spawned().1, "d");
}

#[test]
fn invalid_limits_and_limits_after_shutdown_are_rejected_and_change_nothing() {
    let mut p = Pair::with_max_active(2);
    p.message("a");
    let zero = Input::SetLimits {
        limits: Limits::new(0),
    };
    assert_eq!(
        p.reject(zero),
        Error::InvalidConfig(ConfigError::ZeroMaxActive)
    );
    p.shutdown();
    let later = Input::SetLimits {
        limits: Limits::new(3),
    };
    assert_eq!(p.reject(later), Error::ShutDown);
}

fn capped(total: Option<usize>, group: Option<usize>) -> Pair {
    Pair::new(
        Config::default()
            .with_max_active(1)
            .with_max_queued_tasks(total)
            .with_max_group_tasks(group),
    )
}

fn submit(p: &mut Pair, group: &'static str, id: u32) -> TaskAnswer {
    p.accept(Task {
        group,
        id,
        payload: format!("{group}{id}"),
    })
}

#[test]
fn a_task_over_a_cap_is_refused_with_the_cap_and_changes_nothing() {
    let mut p = capped(Some(3), Some(2));
    p.message("a");
    assert_eq!(submit(&mut p, "a", 1), TaskAnswer::Queued);
    assert_eq!(submit(&mut p, "a", 2), TaskAnswer::Queued);
    let before = (*p.q).clone();
    let refused = submit(&mut p, "a", 3);
    assert_eq!(
        refused,
        TaskAnswer::Refused(TaskRefusal::GroupFull { cap: 2 })
    );
    assert!(p.outputs().is_empty());
    assert!(*p.q == before, "a refused task changed the machine");
    // A duplicate is a duplicate first.
    assert_eq!(submit(&mut p, "a", 1), TaskAnswer::Duplicate);
    assert_eq!(submit(&mut p, "b", 1), TaskAnswer::Queued);
    // A group seen only by its refused task is not kept.
    let before = (*p.q).clone();
    let refused = submit(&mut p, "c", 1);
    assert_eq!(
        refused,
        TaskAnswer::Refused(TaskRefusal::QueueFull { cap: 3 })
    );
    assert!(p.q.explain(&"c").is_none());
    assert!(
        *p.q == before,
        "a refused task of a new group changed the machine"
    );
}

#[test]
fn the_running_task_does_not_count_and_a_cancel_makes_room() {
    let mut p = capped(None, Some(1));
    p.task("a", 1, "one");
    assert_eq!(p.spawned().2, task(1, "one"));
    // Task 1 runs: the queue is empty, so one more fits.
    assert_eq!(submit(&mut p, "a", 2), TaskAnswer::Queued);
    assert!(matches!(submit(&mut p, "a", 3), TaskAnswer::Refused(_)));
    let cancel = p.accept(groupq::Cancel { group: "a", id: 2 });
    assert!(matches!(cancel, CancelAnswer::Cancelled(_)));
    assert_eq!(submit(&mut p, "a", 3), TaskAnswer::Queued);
}

#[test]
fn new_caps_apply_to_later_tasks_and_queued_ones_stay() {
    let mut p = capped(None, None);
    p.message("a");
    for id in 1..=3 {
        assert_eq!(submit(&mut p, "a", id), TaskAnswer::Queued);
    }
    set(&mut p, Limits::new(1).with_max_group_tasks(Some(1)));
    assert!(matches!(submit(&mut p, "a", 4), TaskAnswer::Refused(_)));
    let a = p.live_run("a").expect("live");
    p.exit(a);
    // The queued tasks still run, in order.
    assert_eq!(p.spawned().2, task(1, "a1"));
}
