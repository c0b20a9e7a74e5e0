//! Errors and P9: unknown and stale runs, time going backwards, work after
//! shutdown and invalid configurations are typed errors, and every rejected
//! input leaves the machine equal to a clone taken before, with no output.

mod common;

use std::time::Duration;

use common::{secs, Pair, Q};
use groupq::{
    Config, ConfigError, Error, Exit, Input, Machine, Message, Pipe, RunId, Time, TurnReport,
};

/// Every input that names `run`.
fn run_inputs(run: RunId) -> Vec<Input<&'static str, u32, String>> {
    vec![
        Input::Idle { run },
        Input::Turn {
            run,
            report: TurnReport::delivered_reply(),
        },
        Input::Exited {
            run,
            exit: Exit::Clean,
        },
        Input::Exited {
            run,
            exit: Exit::Failed,
        },
    ]
}

/// A machine with a bit of everything: live runs, queued work, a waiting
/// group, a retry and an idle deadline.
fn busy_pair() -> Pair {
    let mut p = Pair::with_max_active(2);
    p.message("a");
    let a = p.spawned_run("a");
    p.turn(a, TurnReport::delivered_reply());
    p.message("r");
    let r = p.spawned_run("r");
    p.fail(r);
    p.task("b", 1, "b-one");
    p.task("c", 2, "c-two");
    p.message("c");
    p.advance(secs(1));
    p.timeout();
    p
}

#[test]
fn an_unknown_run_is_rejected_and_changes_nothing() {
    let mut p = busy_pair();
    p.advance(secs(5)); // a rejected input must not move the clock either
    for raw in [0, 99, u64::MAX] {
        let run = RunId::new(raw);
        for input in run_inputs(run) {
            assert_eq!(p.reject(input), Error::UnknownRun(run));
        }
    }
}

#[test]
fn a_stale_run_is_rejected_and_changes_nothing() {
    let mut p = busy_pair();
    let r = p.all_spawns()[1].0; // the failed run of "r"
    assert_eq!(p.live_run("r"), None);
    p.advance(secs(5));
    for input in run_inputs(r) {
        assert_eq!(p.reject(input), Error::StaleRun(r));
    }
}

#[test]
fn an_exited_run_cannot_exit_twice() {
    let mut p = Pair::with_max_active(1);
    p.message("a");
    let a = p.spawned_run("a");
    p.exit(a);
    p.message("a");
    let next = p.spawned_run("a");
    assert_ne!(a, next, "run ids are never reused");
    assert_eq!(
        p.reject(Input::Exited {
            run: a,
            exit: Exit::Clean
        }),
        Error::StaleRun(a),
        "a stale exit never frees the successor's slot"
    );
    assert_eq!(p.live_run("a"), Some(next));
}

#[test]
fn time_going_backwards_is_rejected_and_changes_nothing() {
    let mut p = busy_pair();
    let last = p.q.now();
    assert_eq!(last, p.now);
    p.now = Time::from_millis(last.as_millis() - 1);
    let now = p.now;
    let a = p.live_run("a").unwrap();
    let inputs = [
        Input::Message { group: "a" },
        Input::Message { group: "new" },
        Input::Task {
            group: "a",
            id: 5,
            payload: "x".into(),
        },
        Input::Pipe { group: "a" },
        Input::Timeout,
        Input::Shutdown,
    ]
    .into_iter()
    .chain(run_inputs(a));
    for input in inputs {
        assert_eq!(p.reject(input), Error::TimeWentBackwards { now, last });
    }
    // The typed events go through the same clock check.
    let before: Q = (*p.q).clone();
    assert_eq!(
        p.try_event(Pipe { group: "a" }),
        Err(Error::TimeWentBackwards { now, last }),
        "the typed pipe event checks time too"
    );
    assert_eq!(
        p.try_event(Message { group: "a" }),
        Err(Error::TimeWentBackwards { now, last })
    );
    assert!(*p.q == before);
}

#[test]
fn a_rejected_input_does_not_move_the_clock() {
    let mut p = Pair::with_max_active(1);
    p.advance(secs(10));
    p.reject(Input::Idle { run: RunId::new(7) });
    assert_eq!(p.q.now(), Time::ZERO);
    p.now = Time::from_secs(5);
    p.message("a"); // earlier than the rejected input: still accepted
}

#[test]
fn the_same_now_again_is_accepted() {
    let mut p = Pair::with_max_active(1);
    p.advance(secs(3));
    p.message("a");
    p.message("a");
    p.timeout();
}

#[test]
fn work_after_shutdown_is_rejected_and_changes_nothing() {
    let mut p = busy_pair();
    p.shutdown();
    p.advance(secs(5));
    assert_eq!(p.reject(Input::Message { group: "a" }), Error::ShutDown);
    assert_eq!(
        p.reject(Input::Task {
            group: "z",
            id: 1,
            payload: "late".into()
        }),
        Error::ShutDown
    );
    assert_eq!(p.reject(Input::Shutdown), Error::ShutDown);
    // A pipe after shutdown is refused (an answer, not an error), and the
    // fallback message is then rejected.
    assert_eq!(
        p.pipe("a"),
        groupq::PipeAnswer::Refused(groupq::PipeRefusal::ShutDown)
    );
}

#[test]
fn a_rejected_input_leaves_undrained_outputs_untouched() {
    let mut q: Machine<&str, u32, String> =
        Machine::new(Config::default().with_records(true)).unwrap();
    q.handle(Time::from_secs(1), Input::Message { group: "a" })
        .unwrap();
    let before = q.clone();
    let err = q.handle(
        Time::from_secs(1),
        Input::Idle {
            run: RunId::new(42),
        },
    );
    assert_eq!(err, Err(Error::UnknownRun(RunId::new(42))));
    assert!(q == before);
    let mut outputs = Vec::new();
    while let Some(o) = q.poll() {
        outputs.push(o);
    }
    let mut expected = before;
    let expected_outputs: Vec<_> = expected.drain().collect();
    assert_eq!(outputs, expected_outputs);
    assert_eq!(outputs.len(), 2, "the message's record and spawn");
}

#[test]
fn machine_equality_sees_an_accepted_input() {
    // Guards the P9 tests above: `==` is not vacuously true.
    let mut p = Pair::with_max_active(1);
    let before: Q = (*p.q).clone();
    p.message("a");
    assert!(*p.q != before);
    let before: Q = (*p.q).clone();
    p.advance(secs(1));
    p.timeout();
    assert!(*p.q != before, "even the clock is part of the state");
}

#[test]
fn invalid_configurations_are_refused() {
    let refused = |c: Config| Machine::<&str, u32, String>::new(c).err();
    let d = Config::default;
    assert_eq!(
        refused(d().with_max_active(0)),
        Some(Error::InvalidConfig(ConfigError::ZeroMaxActive))
    );
    assert_eq!(
        refused(d().with_retry_base(secs(0))),
        Some(Error::InvalidConfig(ConfigError::ZeroRetryBase))
    );
    assert_eq!(
        refused(d().with_warn_percent(101)),
        Some(Error::InvalidConfig(ConfigError::PercentOutOfRange {
            field: "warn_percent",
            value: 101
        }))
    );
    assert_eq!(
        refused(d().with_auto_compact_percent(255)),
        Some(Error::InvalidConfig(ConfigError::PercentOutOfRange {
            field: "auto_compact_percent",
            value: 255
        }))
    );
}

#[test]
fn boundary_configurations_are_accepted() {
    let ok = |c: Config| Machine::<&str, u32, String>::new(c).is_ok();
    let d = Config::default;
    assert!(
        ok(d().with_warn_percent(90).with_auto_compact_percent(75)),
        "warn above auto"
    );
    assert!(ok(d().with_warn_percent(0).with_auto_compact_percent(100)));
    assert!(ok(d().with_warn_percent(100).with_auto_compact_percent(0)));
    assert!(ok(d()
        .with_max_active(1)
        .with_retry_base(Duration::from_nanos(1))));
    assert!(ok(d().with_max_retries(0).with_idle_timeout(secs(0))));
}
