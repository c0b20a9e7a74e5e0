//! The host's rules, without tokio, a clock or files: entries in, effects
//! and answers out.

use groupq::{Config, RunId, Time};
use groupq_host::{
    Answer, Delivery, Duplicate, Effect, Entry, ExitRecord, Host, HostError, HostEvent, Left,
    RunWork, Submitted, TurnRecord,
};

fn host() -> Host {
    Host::new(Config::default().with_max_active(1), 0xabc).unwrap()
}

fn at(ms: u64) -> Time {
    Time::from_millis(ms)
}

fn effects(host: &mut Host) -> Vec<Effect> {
    std::iter::from_fn(|| host.poll()).collect()
}

fn message(group: &str, text: &str) -> Entry {
    Entry::Message {
        group: group.into(),
        text: text.into(),
    }
}

fn reply(run: RunId, messages: u64, listening: bool) -> Entry {
    Entry::Turn {
        run: run.get(),
        turn: Box::new(TurnRecord {
            reply: Some("re".into()),
            messages: Some(messages),
            ..TurnRecord::default()
        }),
        listening,
        read_to: 10,
    }
}

fn exited(run: RunId, code: i32) -> Entry {
    Entry::Exited {
        run: run.get(),
        exit: ExitRecord::Code { code },
    }
}

fn spawned(effects: &[Effect]) -> Vec<(RunId, RunWork, Vec<String>)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Spawn(spec) => Some((spec.run, spec.work.clone(), spec.messages.clone())),
            _ => None,
        })
        .collect()
}

fn told(effects: &[Effect]) -> Vec<&HostEvent> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Tell(event) => Some(event),
            _ => None,
        })
        .collect()
}

/// The whole state, as a snapshot would hold it.
fn state(host: &Host) -> String {
    serde_json::to_string(&host.state()).unwrap()
}

#[test]
fn a_message_starts_a_run_with_it_and_a_follow_up_is_delivered_into_that_run() {
    let mut h = host();
    let answer = h.apply(at(0), message("a", "one")).unwrap();
    assert_eq!(answer, Answer::Delivery(Delivery::Queued));
    let first = effects(&mut h);
    let run = RunId::new(1);
    assert_eq!(
        spawned(&first),
        [(run, RunWork::Messages, vec!["one".into()])]
    );
    let Effect::Spawn(spec) = &first[1] else {
        panic!("{first:?}")
    };
    assert_eq!(spec.name, "0000000000000abc-1");
    let answer = h.apply(at(5), message("a", "two")).unwrap();
    assert_eq!(answer, Answer::Delivery(Delivery::Piped(run)));
    let piped = effects(&mut h);
    assert!(piped.contains(&Effect::Deliver {
        run,
        text: "two".into()
    }));
    assert_eq!(h.counters().piped, 1);
}

#[test]
fn a_refused_entry_changes_nothing_and_decides_nothing() {
    let mut h = host();
    h.apply(at(10), message("a", "one")).unwrap();
    effects(&mut h);
    let before = state(&h);
    for refused in [
        exited(RunId::new(7), 0),
        reply(RunId::new(7), 1, true),
        Entry::Idle { run: 9, read_to: 1 },
        Entry::NeverLaunched { run: 0 },
    ] {
        assert!(h.apply(at(20), refused).is_err());
        assert_eq!(state(&h), before);
        assert!(h.poll().is_none());
    }
    // Time going backwards.
    assert!(h.apply(at(5), message("b", "x")).is_err());
    assert_eq!(state(&h), before);
    // After shutdown a message is refused before the pipe, which would
    // have moved the clock.
    h.apply(at(30), Entry::Shutdown).unwrap();
    effects(&mut h);
    let shut = state(&h);
    assert!(h.apply(at(40), message("a", "late")).is_err());
    assert_eq!(state(&h), shut);
}

/// A reply that answered only some of the run's messages is told to the
/// core as "replied": the run's failure then rolls back to just past what
/// was answered.
#[test]
fn a_partial_reply_is_not_delivered_to_the_core_and_its_rest_is_retried() {
    let mut h = host();
    let run = RunId::new(1);
    h.apply(at(0), message("a", "one")).unwrap();
    h.apply(at(1), message("a", "two")).unwrap();
    effects(&mut h);
    h.apply(at(2), reply(run, 1, true)).unwrap();
    let events = effects(&mut h);
    assert!(told(&events)
        .iter()
        .any(|e| matches!(e, HostEvent::Reply { .. })));
    assert_eq!(h.counters().replies, 1);
    h.apply(at(3), exited(run, 1)).unwrap();
    let after = effects(&mut h);
    assert!(told(&after)
        .iter()
        .any(|e| matches!(e, HostEvent::RolledBack { messages: 1, .. })));
    // The retry fires later and is handed "two" only.
    h.apply(at(10_000), Entry::Timeout).unwrap();
    let retry = effects(&mut h);
    assert_eq!(
        spawned(&retry),
        [(RunId::new(2), RunWork::Messages, vec!["two".into()])]
    );
}

#[test]
fn exit_0_with_an_unanswered_message_is_a_failure_so_nothing_is_lost() {
    let mut h = host();
    h.apply(at(0), message("a", "one")).unwrap();
    effects(&mut h);
    h.apply(at(1), exited(RunId::new(1), 0)).unwrap();
    let events = effects(&mut h);
    assert!(told(&events)
        .iter()
        .any(|e| matches!(e, HostEvent::RolledBack { messages: 1, .. })));
    assert!(events.contains(&Effect::Release { run: RunId::new(1) }));
    assert_eq!(h.status("a").unwrap().unread, 1);
}

/// A reply the application's stream could not take was not delivered: the
/// message stays unanswered and is read again.
#[test]
fn a_reply_nobody_could_take_leaves_its_messages_unanswered() {
    let mut h = host();
    let run = RunId::new(1);
    h.apply(at(0), message("a", "one")).unwrap();
    effects(&mut h);
    h.apply(at(1), reply(run, 1, false)).unwrap();
    effects(&mut h);
    assert_eq!(h.counters().replies, 0);
    assert_eq!(h.status("a").unwrap().unanswered, 1);
    h.apply(at(2), exited(run, 0)).unwrap();
    assert_eq!(h.status("a").unwrap().unread, 1);
}

#[test]
fn a_run_that_never_launched_puts_its_task_back_and_a_task_waits_its_time() {
    let mut h = host();
    let task = Entry::Task {
        group: "a".into(),
        id: "t".into(),
        payload: "p".into(),
    };
    assert_eq!(
        h.apply(at(0), task.clone()).unwrap(),
        Answer::Task(Submitted::Queued)
    );
    effects(&mut h);
    assert_eq!(
        h.apply(at(1), task).unwrap(),
        Answer::Task(Submitted::Duplicate(Duplicate::Running(RunId::new(1))))
    );
    h.apply(at(2), Entry::NeverLaunched { run: 1 }).unwrap();
    let back = effects(&mut h);
    // Not a failure: the task starts again, and says how long it waited.
    assert_eq!(
        spawned(&back),
        [(
            RunId::new(2),
            RunWork::Task {
                id: "t".into(),
                payload: "p".into()
            },
            vec![]
        )]
    );
    assert!(told(&back).iter().any(|e| matches!(
        e,
        HostEvent::NotLaunched {
            handed_back: None,
            ..
        }
    )));
}

#[test]
fn waits_and_lives_are_core_time() {
    let mut h = host();
    h.apply(at(100), message("busy", "x")).unwrap();
    effects(&mut h);
    h.apply(at(150), message("waiting", "y")).unwrap();
    h.apply(at(400), reply(RunId::new(1), 1, true)).unwrap();
    h.apply(at(500), exited(RunId::new(1), 0)).unwrap();
    let events = effects(&mut h);
    let lived = told(&events).iter().find_map(|e| match e {
        HostEvent::Exited { lived, .. } => Some(*lived),
        _ => None,
    });
    assert_eq!(lived, Some(std::time::Duration::from_millis(400)));
    let waited = told(&events).iter().find_map(|e| match e {
        HostEvent::Spawned { group, waited, .. } if group == "waiting" => *waited,
        _ => None,
    });
    assert_eq!(waited, Some(std::time::Duration::from_millis(350)));
}

/// A snapshot taken after any entry, plus the entries after it, is the host
/// that never stopped.
#[test]
fn a_snapshot_and_the_entries_after_it_replay_into_the_same_host() {
    let run = RunId::new;
    let entries = vec![
        message("a", "one"),
        message("b", "two"),
        message("a", "three"),
        reply(run(1), 1, true),
        Entry::Task {
            group: "b".into(),
            id: "t".into(),
            payload: "p".into(),
        },
        exited(run(1), 1),
        Entry::Timeout,
        reply(run(2), 1, true),
        exited(run(2), 0),
        Entry::Timeout,
    ];
    let mut whole = host();
    for (i, entry) in entries.iter().enumerate() {
        let _ = whole.apply(at(i as u64 * 3000), entry.clone());
        whole.discard_effects();
    }
    for cut in 0..entries.len() {
        let mut first = host();
        for (i, entry) in entries[..cut].iter().enumerate() {
            let _ = first.apply(at(i as u64 * 3000), entry.clone());
            first.discard_effects();
        }
        let json = state(&first);
        let mut again = Host::restore(serde_json::from_str(&json).unwrap()).unwrap();
        for (i, entry) in entries.iter().enumerate().skip(cut) {
            let _ = again.apply(at(i as u64 * 3000), entry.clone());
            again.discard_effects();
        }
        assert_eq!(state(&again), state(&whole), "cut at {cut}");
    }
}

#[test]
fn a_snapshot_whose_live_runs_are_not_the_cores_is_refused() {
    let mut h = host();
    h.apply(at(0), message("a", "one")).unwrap();
    let json = state(&h);
    let forged = json.replace("\"live\":[[1,", "\"live\":[[2,");
    assert!(Host::restore(serde_json::from_str(&forged).unwrap()).is_err());
    let emptied = {
        let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
        v["live"] = serde_json::json!([]);
        v.to_string()
    };
    assert!(Host::restore(serde_json::from_str(&emptied).unwrap()).is_err());
}

fn task(group: &str, id: &str) -> Entry {
    Entry::Task {
        group: group.into(),
        id: id.into(),
        payload: format!("do {id}"),
    }
}

fn renew(max_active: usize) -> Entry {
    Entry::Renew {
        config: Box::new(Config::default().with_max_active(max_active)),
        configured: None,
    }
}

/// A shutdown answers with every text and payload left; a new epoch after
/// it goes on numbering runs, and puts back the tasks and the unread
/// messages.
#[test]
fn a_new_epoch_after_shutdown_puts_back_what_it_left() {
    let mut h = host();
    h.apply(at(0), message("a", "one")).unwrap();
    h.apply(at(1), message("a", "two")).unwrap();
    h.apply(at(2), task("b", "t1")).unwrap();
    h.apply(at(3), message("c", "three")).unwrap();
    effects(&mut h);
    let Answer::Shutdown(left) = h.apply(at(4), Entry::Shutdown).unwrap() else {
        panic!("a report")
    };
    let Left {
        tasks,
        messages,
        live_runs,
        ..
    } = *left;
    assert_eq!(tasks.len(), 1);
    assert_eq!(
        (tasks[0].group.as_str(), tasks[0].payload.as_str()),
        ("b", "do t1")
    );
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(
        (messages[0].group.as_str(), messages[0].texts.clone()),
        ("c", vec!["three".to_string()])
    );
    assert_eq!(live_runs.len(), 1);
    assert_eq!(live_runs[0].unanswered, ["one", "two"]);
    // A new epoch is refused while the run lives, and changes nothing.
    let before = state(&h);
    assert_eq!(h.apply(at(5), renew(2)), Err(HostError::NotRenewable));
    assert_eq!(state(&h), before);
    // The run fails: its messages go back to the store.
    h.apply(at(6), exited(RunId::new(1), 1)).unwrap();
    effects(&mut h);
    assert!(h.renewable());
    h.apply(at(7), renew(3)).unwrap();
    let spawns = spawned(&effects(&mut h));
    assert_eq!(
        spawns,
        [
            (
                RunId::new(2),
                RunWork::Task {
                    id: "t1".into(),
                    payload: "do t1".into()
                },
                vec![]
            ),
            (
                RunId::new(3),
                RunWork::Messages,
                vec!["one".into(), "two".into()]
            ),
            (RunId::new(4), RunWork::Messages, vec!["three".into()]),
        ]
    );
    assert!(h.left_tasks().is_empty());
    assert_eq!(h.machine().config().max_active(), 3);
    assert_eq!(h.machine().now(), at(7), "time goes on");
}

/// With a window, a task submitted again after it ran is a duplicate with
/// its outcome, never run twice; after the window it runs again.
#[test]
fn a_task_that_ran_within_the_window_is_a_duplicate_with_its_outcome() {
    let mut h = host();
    h.apply(
        at(0),
        Entry::TaskWindow {
            window_ms: Some(60_000),
        },
    )
    .unwrap();
    h.apply(at(1), task("a", "t")).unwrap();
    h.apply(at(2), exited(RunId::new(1), 0)).unwrap();
    h.apply(at(3), task("b", "u")).unwrap();
    h.apply(at(4), exited(RunId::new(2), 1)).unwrap();
    effects(&mut h);
    let Answer::Task(Submitted::Duplicate(Duplicate::Ran(ok))) =
        h.apply(at(10), task("a", "t")).unwrap()
    else {
        panic!("a duplicate")
    };
    assert_eq!((ok.succeeded, ok.at), (true, at(2)));
    let Answer::Task(Submitted::Duplicate(Duplicate::Ran(failed))) =
        h.apply(at(11), task("b", "u")).unwrap()
    else {
        panic!("a duplicate")
    };
    assert!(!failed.succeeded);
    assert!(spawned(&effects(&mut h)).is_empty(), "nothing ran twice");
    assert_eq!(h.remembered_tasks(), 2);
    // Past the window: it is a new task.
    assert_eq!(
        h.apply(at(60_003), task("a", "t")).unwrap(),
        Answer::Task(Submitted::Queued)
    );
    assert_eq!(h.remembered_tasks(), 1);
}

/// A follow-up piped into a run counts among the messages written into
/// it: an adopted run's next file is numbered after them.
#[test]
fn the_messages_written_into_a_run_are_counted() {
    let mut h = host();
    h.apply(at(0), message("a", "one")).unwrap();
    h.apply(at(1), message("a", "two")).unwrap();
    h.apply(at(2), message("a", "three")).unwrap();
    assert_eq!(h.live_run(RunId::new(1)).unwrap().delivered, 3);
}

/// A run whose exit status cannot be known (adopted after a restart, it
/// ended while no driver was its parent) is clean after a successful last
/// turn, failed otherwise.
#[test]
fn an_unknown_exit_is_clean_only_after_a_successful_turn() {
    for (turned, failed) in [(true, false), (false, true)] {
        let mut h = host();
        h.apply(
            at(0),
            Entry::TaskWindow {
                window_ms: Some(60_000),
            },
        )
        .unwrap();
        h.apply(at(1), task("a", "t")).unwrap();
        if turned {
            let turn = Entry::Turn {
                run: 1,
                turn: Box::new(TurnRecord {
                    reply: Some("done".into()),
                    ..TurnRecord::default()
                }),
                listening: true,
                read_to: 1,
            };
            h.apply(at(2), turn).unwrap();
        }
        let gone = Entry::Exited {
            run: 1,
            exit: ExitRecord::Gone {
                why: "adopted".into(),
            },
        };
        h.apply(at(3), gone).unwrap();
        let events = effects(&mut h);
        let task_failed = told(&events)
            .iter()
            .any(|e| matches!(e, HostEvent::TaskFailed { .. }));
        assert_eq!(task_failed, failed, "turned: {turned}");
        let Answer::Task(Submitted::Duplicate(Duplicate::Ran(outcome))) =
            h.apply(at(4), task("a", "t")).unwrap()
        else {
            panic!("remembered")
        };
        assert_eq!(outcome.succeeded, !failed);
    }
}

fn failed_turn(run: RunId, fatal: bool, retry_after_ms: Option<u64>) -> Entry {
    Entry::Turn {
        run: run.get(),
        turn: Box::new(TurnRecord {
            error: true,
            error_text: Some("no".into()),
            messages: Some(0),
            fatal,
            retry_after_ms,
            ..TurnRecord::default()
        }),
        listening: true,
        read_to: 10,
    }
}

/// The class an agent's error turn gives decides the group's retry: fatal
/// is a terminal failure at once, retry-after is retried at that time, a
/// plain error on the backoff (5 s by default).
#[test]
fn an_error_turn_says_how_its_failure_is_retried() {
    let cases = [
        (false, None, Some(at(1 + 5_000))),
        (false, Some(250), Some(at(1 + 250))),
        (true, Some(250), None),
    ];
    for (fatal, after, retry_at) in cases {
        let mut h = host();
        h.apply(at(0), message("a", "one")).unwrap();
        effects(&mut h);
        let run = RunId::new(1);
        h.apply(at(1), failed_turn(run, fatal, after)).unwrap();
        h.apply(at(1), exited(run, 1)).unwrap();
        let events = effects(&mut h);
        let events = told(&events);
        let scheduled = events.iter().find_map(|e| match e {
            HostEvent::RetryScheduled { at, .. } => Some(*at),
            _ => None,
        });
        assert_eq!(scheduled, retry_at, "fatal={fatal} after={after:?}");
        let terminal = events
            .iter()
            .any(|e| matches!(e, HostEvent::TerminalFailure { .. }));
        assert_eq!(
            terminal,
            retry_at.is_none(),
            "fatal={fatal} after={after:?}"
        );
        // The messages stay unread either way: nothing accepted is lost.
        assert_eq!(h.status("a").unwrap().unread, 1);
    }
}

/// A successful turn after an error clears the class the error gave.
#[test]
fn a_successful_turn_clears_an_earlier_failure_class() {
    let mut h = host();
    h.apply(at(0), message("a", "one")).unwrap();
    effects(&mut h);
    let run = RunId::new(1);
    h.apply(at(1), failed_turn(run, true, None)).unwrap();
    h.apply(at(2), message("a", "two")).unwrap();
    h.apply(at(3), reply(run, 1, true)).unwrap();
    h.apply(at(4), exited(run, 1)).unwrap();
    let events = effects(&mut h);
    assert!(!told(&events)
        .iter()
        .any(|e| matches!(e, HostEvent::TerminalFailure { .. })));
}

fn background(group: &str, id: &str, skip_if_active: bool) -> Entry {
    Entry::BackgroundTask {
        group: group.into(),
        id: id.into(),
        payload: format!("beat {id}"),
        skip_if_active,
    }
}

/// A background task is skipped while the conversation is live, waits
/// behind it otherwise, and a shutdown leaves it as background work: the
/// new epoch puts it back behind the conversation again.
#[test]
fn background_tasks_give_way_and_are_left_as_background_work() {
    let mut h = host();
    h.apply(at(0), message("a", "one")).unwrap();
    effects(&mut h);
    assert_eq!(
        h.apply(at(1), background("a", "b1", true)).unwrap(),
        Answer::Task(Submitted::Skipped)
    );
    assert_eq!(
        h.apply(at(2), background("h", "b2", false)).unwrap(),
        Answer::Task(Submitted::Queued)
    );
    h.apply(at(3), message("c", "two")).unwrap();
    assert!(spawned(&effects(&mut h)).is_empty(), "one slot, taken");
    let Answer::Shutdown(left) = h.apply(at(4), Entry::Shutdown).unwrap() else {
        panic!("a report")
    };
    let kept: Vec<(&str, bool)> = left
        .tasks
        .iter()
        .map(|t| (t.id.as_str(), t.background))
        .collect();
    assert_eq!(kept, [("b2", true)]);
    h.apply(at(5), exited(RunId::new(1), 0)).unwrap();
    effects(&mut h);
    h.apply(at(6), renew(1)).unwrap();
    // The conversations first (a's unanswered message, c's), the
    // heartbeat after them.
    let mut order = Vec::new();
    let mut spawns = spawned(&effects(&mut h));
    for t in 7..20 {
        let Some((run, work, _)) = spawns.pop() else {
            break;
        };
        order.push(work);
        h.apply(at(t), reply(run, 1, true)).unwrap();
        h.apply(at(t), exited(run, 0)).unwrap();
        spawns = spawned(&effects(&mut h));
    }
    assert_eq!(
        order,
        [
            RunWork::Messages,
            RunWork::Messages,
            RunWork::Task {
                id: "b2".into(),
                payload: "beat b2".into()
            }
        ]
    );
}

/// A background run that never launched after a shutdown is left as
/// background work.
#[test]
fn a_background_run_that_never_launched_after_shutdown_is_left_as_one() {
    let mut h = host();
    h.apply(at(0), background("h", "b1", false)).unwrap();
    effects(&mut h);
    h.apply(at(1), Entry::Shutdown).unwrap();
    h.apply(at(2), Entry::NeverLaunched { run: 1 }).unwrap();
    effects(&mut h);
    let kept: Vec<(&str, bool)> = h
        .left_tasks()
        .iter()
        .map(|t| (t.id.as_str(), t.background))
        .collect();
    assert_eq!(kept, [("b1", true)]);
}
