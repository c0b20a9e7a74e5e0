//! B5 (trigger) and B6 (compact job), P11: reaching the auto-compact
//! threshold only marks the group; one `Compact` job is queued at the front
//! of its jobs after the triggering run exited, and it starts through the
//! same queue as any job. Includes the regression test for the DEUS race,
//! where `/compact` was dispatched while the primary turn still ran.

mod common;

use std::collections::HashMap;

use common::{reply_at, secs, task, Group, Pair};
use groupq::{
    Command, Compaction, CompactionTrigger, Config, ContextStats, Dropped, Exit, Input, PipeAnswer,
    Record, Response, RunId, TurnReport, Work,
};

fn compact_spawns(p: &Pair) -> Vec<(RunId, Group)> {
    p.all_spawns()
        .into_iter()
        .filter(|s| s.2 == Work::Compact)
        .map(|s| (s.0, s.1))
        .collect()
}

fn auto_compaction() -> Compaction {
    Compaction {
        trigger: CompactionTrigger::Auto,
        tokens_before: Some(150_000),
    }
}

/// Exits the group's live run; returns what the next spawn does.
fn next_work(p: &mut Pair, group: Group) -> Option<Work<u32, String>> {
    let run = p.live_run(group).expect("a live run");
    p.exit(run);
    p.spawns().into_iter().next().map(|(_, _, work)| work)
}

#[test]
fn regression_threshold_then_more_output_then_exit_never_gives_two_live_runs() {
    // The DEUS sequence: a turn reports the context over the auto-compact
    // threshold, the run keeps producing output (a piped follow-up, new
    // messages, a task arriving), then the run exits.
    let mut p = Pair::with_max_active(3);
    p.message("chat");
    let run = p.spawned_run("chat");
    p.advance(secs(1));
    p.turn(run, reply_at(82)); // threshold reached: compact pending
    let trigger_step = p.history.len() - 1;
    assert!(p.q.explain(&"chat").unwrap().compact_pending);
    p.advance(secs(1));
    assert_eq!(
        p.pipe("chat"),
        PipeAnswer::Piped(run),
        "the run still takes follow-ups"
    );
    p.message("chat");
    p.turn(run, reply_at(88)); // more output, still over the threshold
    p.advance(secs(1));
    p.task("chat", 1, "daily digest"); // the idle run is preempted
    p.advance(secs(1));
    p.turn(run, reply_at(90)); // a late output of the closing run
    assert!(
        p.history[trigger_step..].iter().all(|s| !s
            .outputs
            .iter()
            .any(|o| matches!(o, groupq::Output::Command(Command::Spawn { .. })))),
        "nothing starts while the triggering run is live"
    );
    p.exit(run);
    let exit_step = p.history.len() - 1;
    assert_eq!(
        p.spawned().2,
        Work::Compact,
        "the compact starts after the exit"
    );
    assert_eq!(next_work(&mut p, "chat"), Some(task(1, "daily digest")));
    assert_eq!(next_work(&mut p, "chat"), Some(Work::Messages));
    assert_eq!(next_work(&mut p, "chat"), None);

    // Exactly one compact, started by the exit itself.
    assert_eq!(compact_spawns(&p).len(), 1);
    assert!(p.history[exit_step].outputs.iter().any(|o| matches!(
        o,
        groupq::Output::Command(Command::Spawn {
            work: Work::Compact,
            ..
        })
    )));

    // Replay what an adapter saw: never two live runs for the group.
    let mut live: HashMap<Group, Vec<RunId>> = HashMap::new();
    for step in &p.history {
        if let (Input::Exited { run, .. }, Ok(_)) = (&step.input, &step.result) {
            for runs in live.values_mut() {
                runs.retain(|r| r != run);
            }
        }
        for (run, group, _) in common::spawns(&common::commands(&step.outputs)) {
            let runs = live.entry(group).or_default();
            runs.push(run);
            assert_eq!(runs.len(), 1, "two live runs for {group}: {runs:?}");
        }
    }
}

#[test]
fn the_trigger_spawns_nothing_until_the_run_exits_then_exactly_one_compact() {
    let mut p = Pair::with_max_active(5);
    p.message("a");
    let run = p.spawned_run("a");
    p.turn(run, reply_at(80));
    assert!(p.spawns().is_empty());
    assert!(p.records().contains(&Record::Queued {
        group: "a",
        what: groupq::Pending::Compact
    }));
    p.advance(secs(600));
    p.timeout();
    assert!(p.spawns().is_empty());
    p.exit(run);
    let (compact, group, work) = p.spawned();
    assert_eq!((group, work), ("a", Work::Compact));
    p.exit(compact);
    assert!(p.spawns().is_empty(), "one compact, nothing more");
    assert_eq!(compact_spawns(&p).len(), 1);
}

#[test]
fn a_compaction_event_in_the_same_output_suppresses_the_trigger() {
    let mut p = Pair::with_max_active(5);
    p.message("a");
    let run = p.spawned_run("a");
    p.turn(run, reply_at(80).with_compaction(auto_compaction()));
    assert!(p
        .commands()
        .contains(&Command::RecordCompaction { group: "a" }));
    assert!(!p.q.explain(&"a").unwrap().compact_pending);
    p.exit(run);
    assert!(p.spawns().is_empty());
}

#[test]
fn a_later_compaction_event_clears_a_pending_compact() {
    let mut p = Pair::with_max_active(5);
    p.message("a");
    let run = p.spawned_run("a");
    p.turn(run, reply_at(80));
    assert!(p.q.explain(&"a").unwrap().compact_pending);
    p.turn(
        run,
        TurnReport::delivered_reply().with_compaction(auto_compaction()),
    );
    assert!(!p.q.explain(&"a").unwrap().compact_pending);
    p.exit(run);
    assert!(p.spawns().is_empty(), "the agent already compacted");
}

#[test]
fn two_triggers_in_one_run_give_one_compact() {
    let mut p = Pair::with_max_active(5);
    p.message("a");
    let run = p.spawned_run("a");
    p.turn(run, reply_at(80));
    p.pipe("a").run().unwrap();
    p.turn(run, reply_at(85));
    assert!(
        !p.records()
            .iter()
            .any(|r| matches!(r, Record::Queued { .. })),
        "the second trigger is deduplicated"
    );
    p.exit(run);
    let compact = p.spawned_run("a");
    assert_eq!(compact_spawns(&p), [(compact, "a")]);
    p.exit(compact);
    assert!(p.spawns().is_empty());
}

#[test]
fn a_pending_compact_goes_before_a_pending_task() {
    let mut p = Pair::with_max_active(5);
    p.message("a");
    let run = p.spawned_run("a");
    p.task("a", 1, "t1"); // queued first, behind the busy run
    p.task("a", 2, "t2");
    p.turn(run, reply_at(76)); // success: idle, then preempted by the tasks
    assert!(p.commands().contains(&Command::CloseInput {
        run,
        reason: groupq::CloseReason::Preempt
    }));
    p.exit(run);
    assert_eq!(p.spawned().2, Work::Compact);
    assert_eq!(next_work(&mut p, "a"), Some(task(1, "t1")));
    assert_eq!(next_work(&mut p, "a"), Some(task(2, "t2")));
    assert_eq!(next_work(&mut p, "a"), None);
}

#[test]
fn a_compact_run_reaching_the_threshold_does_not_queue_another_compact() {
    let mut p = Pair::with_max_active(5);
    p.message("a");
    let run = p.spawned_run("a");
    p.turn(run, reply_at(80));
    p.exit(run);
    let compact = p.spawned_run("a");
    p.turn(compact, reply_at(99));
    p.turn(
        compact,
        TurnReport::delivered_reply().with_context(ContextStats {
            compact_recommended: true,
            ..ContextStats::default()
        }),
    );
    assert!(!p.q.explain(&"a").unwrap().compact_pending);
    p.exit(compact);
    assert!(p.spawns().is_empty(), "no compact loop");
}

#[test]
fn a_task_run_reaching_the_threshold_does_not_trigger_a_compact() {
    let mut p = Pair::with_max_active(5);
    p.task("a", 1, "t");
    let run = p.spawned_run("a");
    p.turn(run, reply_at(95));
    assert!(p.commands().is_empty(), "no notice from a task run");
    p.exit(run);
    assert!(p.spawns().is_empty());
}

#[test]
fn the_agent_recommending_compaction_triggers_it_without_a_percent() {
    let mut p = Pair::with_max_active(5);
    p.message("a");
    let run = p.spawned_run("a");
    p.turn(
        run,
        TurnReport::delivered_reply().with_context(ContextStats {
            compact_recommended: true,
            ..ContextStats::default()
        }),
    );
    assert!(p.q.explain(&"a").unwrap().compact_pending);
    assert!(p.commands().is_empty(), "no warning without a percent");
    p.exit(run);
    assert_eq!(p.spawned().2, Work::Compact);
}

#[test]
fn the_auto_compact_threshold_is_inclusive() {
    for (percent, triggers) in [(74, false), (75, true), (100, true), (250, true)] {
        let mut p = Pair::with_max_active(5);
        p.message("a");
        let run = p.spawned_run("a");
        p.turn(run, reply_at(percent));
        p.exit(run);
        assert_eq!(
            compact_spawns(&p).len(),
            usize::from(triggers),
            "{percent}%"
        );
    }
}

#[test]
fn a_custom_auto_compact_threshold_is_honoured() {
    let mut p = Pair::new(Config::default().with_auto_compact_percent(50));
    p.message("a");
    let run = p.spawned_run("a");
    p.turn(run, reply_at(50));
    p.exit(run);
    assert_eq!(p.spawned().2, Work::Compact);
}

#[test]
fn a_compact_job_waits_for_a_slot_like_any_job() {
    let mut p = Pair::with_max_active(1);
    p.message("a");
    let run = p.spawned_run("a");
    p.turn(run, reply_at(80));
    p.message("b");
    p.exit(run);
    assert_eq!(
        p.spawned().1,
        "b",
        "fair: b was waiting, a goes to the back"
    );
    let b = p.spawned_run("b");
    p.exit(b);
    assert_eq!((p.spawned().1, p.spawned().2), ("a", Work::Compact));
}

#[test]
fn a_failed_run_over_the_threshold_is_compacted_before_its_retry() {
    let mut p = Pair::with_max_active(5);
    p.message("a");
    let run = p.spawned_run("a");
    p.turn(
        run,
        TurnReport::error().with_context(ContextStats {
            percent: Some(90),
            ..ContextStats::default()
        }),
    );
    p.exit(run);
    let commands = p.commands();
    assert_eq!(commands[0], Command::RollbackCursor { group: "a" });
    assert_eq!(p.spawned().2, Work::Compact, "the compact starts at once");
    let compact = p.spawned_run("a");
    p.advance_to_next_deadline(); // the retry: the compact is still live
    assert!(p.spawns().is_empty());
    p.exit(compact);
    assert_eq!(p.spawned().2, Work::Messages, "then the retried messages");
}

#[test]
fn a_failed_compact_run_is_neither_rolled_back_nor_retried() {
    let mut p = Pair::with_max_active(5);
    p.message("a");
    let run = p.spawned_run("a");
    p.turn(run, reply_at(80));
    p.exit(run);
    let compact = p.spawned_run("a");
    p.send(Input::Exited {
        run: compact,
        exit: Exit::Failed,
    });
    assert!(p.commands().is_empty());
    assert_eq!(p.wake_at, None);
    assert_eq!(p.q.explain(&"a"), None);
}

#[test]
fn a_compact_pending_at_shutdown_is_reported_and_never_starts() {
    let mut p = Pair::with_max_active(5);
    p.message("a");
    let run = p.spawned_run("a");
    p.turn(run, reply_at(80));
    let report = p.shutdown();
    assert!(report.groups[0].compact_pending);
    p.exit(run);
    assert!(p.spawns().is_empty());
    assert!(compact_spawns(&p).is_empty());
}

#[test]
fn a_queued_compact_job_at_shutdown_is_reported_first_among_its_jobs() {
    let mut p = Pair::with_max_active(1);
    p.message("a");
    let run = p.spawned_run("a");
    p.task("a", 1, "t");
    p.turn(run, reply_at(80));
    p.message("b");
    p.exit(run); // "a" now waits with [Compact, Task 1] behind "b"
    let report = p.shutdown();
    let a = report.groups.iter().find(|g| g.group == "a").unwrap();
    assert_eq!(a.jobs, [Work::Compact, task(1, "t")]);
    let b = p.spawned_run("b");
    p.exit(b);
    assert!(compact_spawns(&p).is_empty());
}

#[test]
fn a_trigger_after_shutdown_is_dropped_and_never_starts() {
    let mut p = Pair::with_max_active(5);
    p.message("a");
    let run = p.spawned_run("a");
    p.shutdown();
    p.turn(run, reply_at(80));
    p.exit(run);
    assert!(p.spawns().is_empty());
    assert_eq!(
        p.records(),
        [Record::Dropped {
            group: "a",
            what: Dropped::Compact
        }]
    );
    assert_eq!(p.q.explain(&"a"), None);
}

#[test]
fn a_manual_compaction_in_a_compact_run_is_recorded_without_a_notice() {
    let mut p = Pair::with_max_active(5);
    p.message("a");
    let run = p.spawned_run("a");
    p.turn(run, reply_at(80));
    p.exit(run);
    let compact = p.spawned_run("a");
    let r = p.send(Input::Turn {
        run: compact,
        report: TurnReport::delivered_reply().with_compaction(Compaction {
            trigger: CompactionTrigger::Manual,
            tokens_before: None,
        }),
    });
    assert_eq!(r, Response::Accepted);
    assert_eq!(p.commands(), [Command::RecordCompaction { group: "a" }]);
}
