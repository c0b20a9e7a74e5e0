//! B1, B2, B8 and P2: at most `max_active` runs are live at once, and a
//! freed slot goes to a waiting group at once.

mod common;

use common::{task, Pair};
use groupq::{Record, Work};

#[test]
fn three_groups_with_max_active_two_start_two_then_the_third_when_one_exits() {
    let mut p = Pair::with_max_active(2);
    p.message("a");
    p.message("b");
    p.message("c");
    assert!(p.spawns().is_empty(), "no slot for the third group");
    assert_eq!(p.q.stats().live_runs, 2);
    assert_eq!(p.q.stats().waiting_groups, 1);
    assert_eq!(
        p.records().last(),
        Some(&Record::Waiting {
            group: "c",
            ahead: 0
        })
    );

    let a = p.spawned_run("a");
    p.exit(a);
    let (run, group, work) = p.spawned();
    assert_eq!((group, work), ("c", Work::Messages));
    assert!(p.records().contains(&Record::Drained { group: "c", run }));
    assert_eq!(p.q.stats().live_runs, 2);
    assert_eq!(p.q.stats().waiting_groups, 0);
}

#[test]
fn tasks_of_different_groups_respect_the_global_limit() {
    let mut p = Pair::with_max_active(2);
    for (i, g) in ["a", "b", "c", "d"].into_iter().enumerate() {
        p.task(g, i as u32, g);
    }
    assert_eq!(p.all_spawns().len(), 2);
    assert_eq!(p.q.stats().waiting_groups, 2);
    for g in ["a", "b"] {
        let run = p.spawned_run(g);
        p.exit(run);
    }
    let started: Vec<_> = p.all_spawns().into_iter().map(|s| (s.1, s.2)).collect();
    assert_eq!(
        started,
        [
            ("a", task(0, "a")),
            ("b", task(1, "b")),
            ("c", task(2, "c")),
            ("d", task(3, "d"))
        ]
    );
    assert_eq!(p.q.stats().live_runs, 2);
}

#[test]
fn with_max_active_one_every_group_runs_alone_in_arrival_order() {
    let mut p = Pair::with_max_active(1);
    let groups = ["a", "b", "c", "d", "e"];
    for g in groups {
        p.message(g);
    }
    for g in groups {
        let (run, group, _) = p.all_spawns().pop().unwrap();
        assert_eq!(group, g, "groups start in arrival order");
        assert_eq!(p.q.stats().live_runs, 1);
        p.exit(run);
    }
    assert_eq!(p.q.stats().live_runs, 0);
}

#[test]
fn a_freed_slot_is_never_left_free_while_a_group_waits() {
    let mut p = Pair::with_max_active(3);
    for g in ["a", "b", "c", "d", "e", "f"] {
        p.message(g);
    }
    for g in ["a", "b", "c"] {
        let run = p.spawned_run(g);
        p.exit(run);
        assert_eq!(p.q.stats().live_runs, 3, "the slot went to a waiting group");
    }
    assert_eq!(p.q.stats().waiting_groups, 0);
}
