//! B1: messages for one group are serialized and coalesced. However many
//! messages arrive, a group has at most one live run, and the messages that
//! arrive meanwhile become one message check.

mod common;

use common::{task, Pair};
use groupq::{Command, Pending, Record, Work};

#[test]
fn a_message_with_a_free_slot_spawns_a_messages_run_at_once() {
    let mut p = Pair::with_max_active(2);
    p.message("a");
    let (_, group, work) = p.spawned();
    assert_eq!((group, work), ("a", Work::Messages));
}

#[test]
fn two_messages_for_one_group_never_give_two_spawns() {
    let mut p = Pair::with_max_active(5);
    p.message("a");
    p.message("a");
    assert!(p.spawns().is_empty(), "second message must not spawn");
    assert_eq!(p.all_spawns().len(), 1);
    assert_eq!(p.q.stats().live_runs, 1);
}

#[test]
fn messages_during_a_run_coalesce_into_one_follow_up_run() {
    let mut p = Pair::with_max_active(5);
    p.message("a");
    let run = p.spawned_run("a");
    for _ in 0..10 {
        p.message("a");
    }
    assert!(p.q.explain(&"a").unwrap().unread_messages);
    p.exit(run);
    let (second, _, work) = p.spawned();
    assert_eq!(work, Work::Messages);
    assert!(
        !p.q.explain(&"a").unwrap().unread_messages,
        "check consumed"
    );
    p.exit(second);
    assert!(p.spawns().is_empty(), "ten messages gave one follow-up run");
    assert_eq!(p.all_spawns().len(), 2);
}

#[test]
fn messages_for_a_waiting_group_coalesce_and_join_the_line_once() {
    let mut p = Pair::with_max_active(1);
    p.message("busy");
    let busy = p.spawned_run("busy");
    let queued = Record::Queued {
        group: "a",
        what: Pending::Messages,
    };
    p.message("a");
    let waiting = Record::Waiting {
        group: "a",
        ahead: 0,
    };
    assert_eq!(p.records(), [queued.clone(), waiting]);
    for _ in 0..3 {
        p.message("a");
        assert_eq!(
            p.records(),
            vec![queued.clone()],
            "joins the line only once"
        );
    }
    assert_eq!(p.q.stats().waiting_groups, 1);
    p.exit(busy);
    let (run, group, work) = p.spawned();
    assert_eq!((group, work), ("a", Work::Messages));
    p.exit(run);
    assert!(p.spawns().is_empty());
}

#[test]
fn a_task_and_a_message_for_one_group_never_give_two_live_runs() {
    let mut p = Pair::with_max_active(5);
    assert!(p.task("a", 1, "t1"));
    p.message("a");
    p.task("a", 2, "t2");
    assert_eq!(p.all_spawns().len(), 1);
    let first = p.spawned_run("a");
    p.exit(first);
    assert_eq!(p.spawned().2, task(2, "t2"));
    let second = p.spawned_run("a");
    p.exit(second);
    assert_eq!(p.spawned().2, Work::Messages);
    assert!(
        !p.all_commands()
            .iter()
            .any(|c| matches!(c, Command::CloseInput { .. })),
        "busy runs are never closed by new work"
    );
}
