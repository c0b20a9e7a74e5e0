//! Records are observability, but when they are on they must say exactly
//! what happened: each path of the machine emits its records and no others.

mod common;

use common::Pair;
use groupq::{Pending, Record, TurnReport};

#[test]
fn a_clean_task_exit_records_nothing() {
    let mut p = Pair::with_max_active(1);
    p.task("a", 7, "t");
    assert_eq!(
        p.records(),
        [Record::Queued {
            group: "a",
            what: Pending::Task(7)
        }]
    );
    let run = p.spawned_run("a");
    p.exit(run);
    assert_eq!(p.records(), [], "a clean exit is not a failure");
}

#[test]
fn a_clean_messages_exit_and_a_turn_record_nothing() {
    let mut p = Pair::with_max_active(1);
    p.message("a");
    let run = p.spawned_run("a");
    p.turn(run, TurnReport::delivered_reply());
    assert_eq!(p.records(), []);
    p.exit(run);
    assert_eq!(p.records(), []);
}

#[test]
fn waiting_and_draining_are_recorded_with_the_groups_ahead() {
    let mut p = Pair::with_max_active(1);
    p.message("a");
    p.message("b");
    p.message("c");
    assert_eq!(
        p.records(),
        [
            Record::Queued {
                group: "c",
                what: Pending::Messages
            },
            Record::Waiting {
                group: "c",
                ahead: 1
            }
        ]
    );
    let a = p.spawned_run("a");
    p.exit(a);
    let b = p.spawned_run("b");
    assert_eq!(p.records(), [Record::Drained { group: "b", run: b }]);
}

#[test]
fn records_are_off_by_default() {
    let mut q = groupq::Machine::<&str, u32, ()>::new(groupq::Config::default()).unwrap();
    q.handle(groupq::Time::ZERO, groupq::Message { group: "a" })
        .unwrap();
    let outputs: Vec<_> = q.drain().collect();
    assert_eq!(outputs.len(), 1);
    assert!(outputs[0].command().is_some(), "only the Spawn");
}
