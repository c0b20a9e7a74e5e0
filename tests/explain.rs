//! B11: `explain(group)` says why a group is where it is; `stats()` gives
//! the machine at a glance.

mod common;

use common::{mins, reply_at, secs, Pair};
use groupq::{
    BreakerStatus, ContextStats, Explain, JobInfo, RunInfo, RunState, Stats, Time, TurnReport,
    WorkKind,
};

#[test]
fn an_unknown_group_has_no_explanation() {
    let p = Pair::with_max_active(1);
    assert_eq!(p.q.explain(&"nobody"), None);
}

#[test]
fn explain_shows_the_live_run_its_state_and_idle_deadline() {
    let mut p = Pair::with_max_active(1);
    p.message("a");
    let run = p.spawned_run("a");
    p.advance(secs(7));
    p.turn(run, TurnReport::delivered_reply());
    assert_eq!(
        p.q.explain(&"a").unwrap().run,
        Some(RunInfo {
            run,
            kind: WorkKind::Messages,
            state: RunState::IdleWaiting,
            idle_deadline: Some(Time::from_secs(7).saturating_add(mins(30))),
            turn_deadline: None,
            life_deadline: None,
            stall_deadline: None,
            grace_deadline: None,
            kill_deadline: None,
            killed: false,
            background: false,
        })
    );
}

#[test]
fn explain_shows_pending_jobs_unread_messages_and_place_in_line() {
    let mut p = Pair::with_max_active(1);
    p.message("busy");
    p.message("b");
    p.task("c", 4, "c4");
    p.task("c", 2, "c2");
    p.message("c");
    assert_eq!(
        p.q.explain(&"c").unwrap(),
        Explain {
            run: None,
            jobs: vec![JobInfo::Task(4), JobInfo::Task(2)],
            background_tasks: vec![],
            unread_messages: true,
            waiting_behind: Some(1),
            failures: 0,
            retry_at: None,
            compact_pending: false,
            paused: false,
            debounced_until: None,
            last_context: None,
        }
    );
    assert_eq!(p.q.explain(&"b").unwrap().waiting_behind, Some(0));
    assert_eq!(p.q.explain(&"busy").unwrap().waiting_behind, None);
    let busy = p.spawned_run("busy");
    p.exit(busy);
    assert_eq!(p.q.explain(&"c").unwrap().waiting_behind, Some(0));
}

#[test]
fn explain_shows_the_retry_attempt_and_deadline() {
    let mut p = Pair::with_max_active(1);
    p.message("a");
    let run = p.spawned_run("a");
    p.advance(secs(2));
    p.fail(run);
    let e = p.q.explain(&"a").unwrap();
    assert_eq!((e.failures, e.retry_at), (1, Some(Time::from_secs(7))));
    assert_eq!(e.run, None);
}

#[test]
fn explain_shows_compact_pending_and_the_last_context_statistics() {
    let mut p = Pair::with_max_active(1);
    p.message("a");
    let run = p.spawned_run("a");
    p.turn(run, reply_at(80));
    let e = p.q.explain(&"a").unwrap();
    assert!(e.compact_pending);
    assert_eq!(
        e.last_context,
        Some(ContextStats {
            percent: Some(80),
            ..ContextStats::default()
        })
    );
    // A later output without statistics keeps the last ones known.
    p.turn(run, TurnReport::delivered_reply());
    assert_eq!(
        p.q.explain(&"a").unwrap().last_context.unwrap().percent,
        Some(80)
    );
}

#[test]
fn explain_shows_a_queued_compact_job_first() {
    let mut p = Pair::with_max_active(1);
    p.message("a");
    let run = p.spawned_run("a");
    p.task("a", 1, "t");
    p.turn(run, reply_at(80));
    p.message("b"); // waits, so "a" must wait behind it after its exit
    p.exit(run);
    let e = p.q.explain(&"a").unwrap();
    assert_eq!(e.jobs, [JobInfo::Compact, JobInfo::Task(1)]);
    assert!(!e.compact_pending, "pending became a queued job");
    assert_eq!(e.waiting_behind, Some(0));
}

#[test]
fn explain_displays_as_one_readable_line() {
    let mut p = Pair::with_max_active(1);
    p.message("a");
    let run = p.spawned_run("a");
    p.turn(run, reply_at(80));
    p.task("a", 3, "t");
    p.message("a");
    let line = p.q.explain(&"a").unwrap().to_string();
    assert_eq!(
        line,
        format!(
            "{run} Messages Closing; jobs [Task(3)]; unread messages; compact pending; context 80%"
        )
    );
}

#[test]
fn stats_count_live_runs_waiting_and_tracked_groups() {
    let mut p = Pair::with_max_active(2);
    p.message("a");
    p.message("b");
    p.task("c", 1, "t");
    p.task("d", 1, "t");
    p.task("d", 2, "t");
    let a = p.spawned_run("a");
    p.turn(a, TurnReport::delivered_reply());
    assert_eq!(
        p.q.stats(),
        Stats {
            live_runs: 2,
            max_active: 2,
            free_slots: 0,
            waiting_groups: 2,
            waiting_background: 0,
            background_runs: 0,
            tracked_groups: 4,
            queued_jobs: 3,
            deadlines: 2, // a's idle deadline, b's turn deadline
            shut_down: false,
            breaker: BreakerStatus::Closed,
        }
    );
    p.shutdown();
    assert_eq!(
        p.q.stats(),
        Stats {
            live_runs: 2,
            max_active: 2,
            free_slots: 0,
            waiting_groups: 0,
            waiting_background: 0,
            background_runs: 0,
            tracked_groups: 2,
            queued_jobs: 0,
            // a was idle: closed, its kill deadline; b busy: its turn
            // deadline and its shutdown grace.
            deadlines: 3,
            shut_down: true,
            breaker: BreakerStatus::Closed,
        }
    );
}
