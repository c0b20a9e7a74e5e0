//! B2: a task id is a dedup key within its group, against both the pending
//! jobs and the live run.

mod common;

use common::{task, Pair};
use groupq::{JobInfo, Record};

#[test]
fn a_duplicate_task_id_while_its_run_is_live_is_deduplicated() {
    let mut p = Pair::with_max_active(2);
    assert!(p.task("a", 1, "first"));
    assert!(!p.task("a", 1, "second"), "same id as the live run");
    assert!(p.commands().is_empty());
    assert_eq!(p.records(), [Record::Deduplicated { group: "a", id: 1 }]);
    assert!(p.q.explain(&"a").unwrap().jobs.is_empty(), "nothing queued");
    let run = p.spawned_run("a");
    p.exit(run);
    assert!(p.spawns().is_empty(), "the duplicate never runs");
}

#[test]
fn a_duplicate_task_id_while_pending_is_deduplicated() {
    let mut p = Pair::with_max_active(1);
    p.message("busy");
    assert!(p.task("a", 1, "first"));
    assert!(!p.task("a", 1, "second"), "same id as a pending task");
    assert!(p.task("a", 2, "other"));
    assert!(!p.task("a", 2, "again"));
    assert_eq!(
        p.q.explain(&"a").unwrap().jobs,
        [JobInfo::Task(1), JobInfo::Task(2)]
    );
    let busy = p.spawned_run("busy");
    p.exit(busy);
    assert_eq!(p.spawned().2, task(1, "first"), "the first payload is kept");
    let run = p.spawned_run("a");
    p.exit(run);
    assert_eq!(p.spawned().2, task(2, "other"));
    let run = p.spawned_run("a");
    p.exit(run);
    assert!(p.spawns().is_empty());
    assert_eq!(p.all_spawns().len(), 3);
}

#[test]
fn a_pending_duplicate_behind_a_live_task_is_deduplicated() {
    let mut p = Pair::with_max_active(1);
    p.task("a", 1, "live");
    p.task("a", 2, "pending");
    assert!(!p.task("a", 2, "dup"));
    assert!(!p.task("a", 1, "dup of live"));
    assert_eq!(p.q.stats().queued_jobs, 1);
}

#[test]
fn the_same_id_in_another_group_is_not_a_duplicate() {
    let mut p = Pair::with_max_active(1);
    assert!(p.task("a", 1, "for a"));
    assert!(p.task("b", 1, "for b"), "pending in b, live in a");
    assert!(p.task("c", 1, "for c"));
    let a = p.spawned_run("a");
    p.exit(a);
    assert_eq!(p.spawned().1, "b");
    assert_eq!(p.spawned().2, task(1, "for b"));
}

#[test]
fn a_task_id_is_reusable_after_its_run_exits() {
    let mut p = Pair::with_max_active(1);
    p.task("a", 1, "first");
    let run = p.spawned_run("a");
    p.exit(run);
    assert!(p.task("a", 1, "second"), "the run exited: not a duplicate");
    assert_eq!(p.spawned().2, task(1, "second"));
}

#[test]
fn a_task_id_is_reusable_once_its_pending_job_has_started() {
    let mut p = Pair::with_max_active(1);
    p.message("a");
    p.task("a", 1, "first");
    let run = p.spawned_run("a");
    p.exit(run);
    let task_run = p.spawned_run("a");
    assert!(
        !p.task("a", 1, "live now"),
        "started: now it is the live run"
    );
    p.exit(task_run);
    assert!(p.task("a", 1, "again"));
    assert_eq!(p.spawned().2, task(1, "again"));
}
