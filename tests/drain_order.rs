//! B8 within a group (P5): jobs go FIFO, all of them before the message
//! check.

mod common;

use common::{task, Pair};
use groupq::{Command, Work};

/// Exits the group's live run and returns what the next spawn does.
fn next_work(p: &mut Pair, group: &'static str) -> Option<Work<u32, String>> {
    let run = p.live_run(group).expect("a live run");
    p.exit(run);
    p.spawns().into_iter().next().map(|(_, _, work)| work)
}

#[test]
fn a_task_and_a_message_pending_on_a_busy_group_drain_task_first() {
    let mut p = Pair::with_max_active(3);
    p.message("a");
    p.message("a");
    p.task("a", 1, "t");
    assert!(
        !p.commands()
            .iter()
            .any(|c| matches!(c, Command::CloseInput { .. })),
        "a busy run is not preempted"
    );
    assert_eq!(next_work(&mut p, "a"), Some(task(1, "t")));
    assert_eq!(next_work(&mut p, "a"), Some(Work::Messages));
    assert_eq!(next_work(&mut p, "a"), None);
}

#[test]
fn a_task_drains_first_even_when_the_message_arrived_later() {
    let mut p = Pair::with_max_active(3);
    p.task("a", 1, "running");
    p.task("a", 2, "t");
    p.message("a");
    assert_eq!(next_work(&mut p, "a"), Some(task(2, "t")));
    assert_eq!(next_work(&mut p, "a"), Some(Work::Messages));
    assert_eq!(next_work(&mut p, "a"), None);
}

#[test]
fn jobs_of_a_group_start_in_fifo_order() {
    let mut p = Pair::with_max_active(3);
    p.message("a");
    for id in [5, 3, 9, 1] {
        p.task("a", id, &format!("t{id}"));
    }
    p.message("a");
    for id in [5, 3, 9, 1] {
        assert_eq!(next_work(&mut p, "a"), Some(task(id, &format!("t{id}"))));
    }
    assert_eq!(next_work(&mut p, "a"), Some(Work::Messages));
    assert_eq!(next_work(&mut p, "a"), None);
}

#[test]
fn a_waiting_group_starts_its_jobs_before_its_unread_messages() {
    let mut p = Pair::with_max_active(1);
    p.message("busy");
    p.message("a");
    p.task("a", 1, "t1");
    p.task("a", 2, "t2");
    let busy = p.spawned_run("busy");
    p.exit(busy);
    assert_eq!(p.spawned().2, task(1, "t1"));
    assert_eq!(next_work(&mut p, "a"), Some(task(2, "t2")));
    assert_eq!(next_work(&mut p, "a"), Some(Work::Messages));
}
