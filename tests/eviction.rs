//! B12: a group with no run, no pending work and no retry deadline holds no
//! memory: `stats().tracked_groups` and `explain` return to empty.

mod common;

use common::{reply_at, secs, Pair};
use groupq::{Stats, TurnReport};

fn assert_empty(p: &Pair, groups: &[&'static str]) {
    for g in groups {
        assert_eq!(p.q.explain(g), None, "{g} is still held");
    }
    let s = p.q.stats();
    assert_eq!(
        s,
        Stats {
            max_active: p.q.config().max_active(),
            free_slots: p.q.config().max_active(),
            shut_down: s.shut_down,
            ..Stats::default()
        }
    );
}

#[test]
fn a_group_is_forgotten_when_its_run_exits_with_nothing_pending() {
    let mut p = Pair::with_max_active(1);
    p.message("a");
    assert_eq!(p.q.stats().tracked_groups, 1);
    let run = p.spawned_run("a");
    p.turn(run, TurnReport::delivered_reply()); // arms an idle deadline
    p.exit(run);
    assert_empty(&p, &["a"]);
}

#[test]
fn a_group_is_kept_while_it_has_pending_work_and_forgotten_after() {
    let mut p = Pair::with_max_active(1);
    p.message("a");
    p.task("a", 1, "t");
    p.message("a");
    for _ in 0..2 {
        let run = p.live_run("a").unwrap();
        p.exit(run);
        assert!(p.q.explain(&"a").is_some());
    }
    let run = p.live_run("a").unwrap();
    p.exit(run);
    assert_empty(&p, &["a"]);
}

#[test]
fn a_group_is_kept_while_a_retry_is_scheduled_and_forgotten_after() {
    let mut p = Pair::with_max_active(1);
    p.message("a");
    let run = p.spawned_run("a");
    p.fail(run);
    assert_eq!(p.q.stats().tracked_groups, 1, "the retry deadline is held");
    p.advance_to_next_deadline();
    let run = p.spawned_run("a");
    p.exit(run);
    assert_empty(&p, &["a"]);
}

#[test]
fn a_group_is_forgotten_after_terminal_failure() {
    let mut p = Pair::new(groupq::Config::default().with_max_retries(0));
    p.message("a");
    let run = p.spawned_run("a");
    p.fail(run);
    assert_empty(&p, &["a"]);
}

#[test]
fn a_duplicate_task_for_a_forgotten_group_holds_nothing() {
    let mut p = Pair::with_max_active(1);
    p.task("a", 1, "t");
    let run = p.spawned_run("a");
    assert!(!p.task("a", 1, "dup"));
    p.exit(run);
    assert_empty(&p, &["a"]);
}

#[test]
fn a_refused_pipe_for_an_unknown_group_holds_nothing() {
    let mut p = Pair::with_max_active(1);
    assert!(p.pipe("ghost").run().is_none());
    assert_empty(&p, &["ghost"]);
}

#[test]
fn a_compact_cycle_leaves_nothing_behind() {
    let mut p = Pair::with_max_active(1);
    p.message("a");
    let run = p.spawned_run("a");
    p.turn(run, reply_at(95));
    p.exit(run);
    let compact = p.spawned_run("a");
    p.exit(compact);
    assert_empty(&p, &["a"]);
}

#[test]
fn many_groups_cycling_through_leave_nothing_behind() {
    let mut p = Pair::with_max_active(3);
    let names: Vec<&'static str> = (0..50)
        .map(|i| &*Box::leak(format!("g{i}").into_boxed_str()))
        .collect();
    for (i, g) in names.iter().enumerate() {
        p.message(g);
        p.task(g, i as u32, "t");
        p.advance(secs(1));
    }
    assert_eq!(p.q.stats().tracked_groups, 50);
    while let Some(run) = names.iter().find_map(|g| p.live_run(g)) {
        p.exit(run);
    }
    assert_eq!(p.all_spawns().len(), 100);
    assert_empty(&p, &names);
}

#[test]
fn after_shutdown_only_groups_with_live_runs_are_held_until_they_exit() {
    let mut p = Pair::with_max_active(1);
    p.message("a");
    p.task("a", 1, "t");
    p.message("b");
    let run = p.spawned_run("a");
    p.shutdown();
    assert_eq!(p.q.stats().tracked_groups, 1);
    assert_eq!(p.q.explain(&"b"), None, "handed back in the report");
    p.exit(run);
    assert_empty(&p, &["a", "b"]);
}
