//! The run lifecycle for containers that misbehave: every run must make
//! progress, every close is followed by a kill if the run does not exit,
//! shutdown winds runs down, and a follow-up piped into a run is never lost.

mod common;

use common::{mins, secs, Pair};
use groupq::{CloseReason, Command, Config, RunId, RunState, Time, TurnReport, Work};

fn closed(p: &Pair, run: RunId, reason: CloseReason) {
    assert_eq!(p.commands(), [Command::CloseInput { run, reason }]);
}

fn killed(p: &Pair, run: RunId) {
    assert_eq!(p.commands(), [Command::Kill { run }]);
}

fn state(p: &Pair, group: &'static str) -> RunState {
    p.q.explain(&group).unwrap().run.unwrap().state
}

#[test]
fn a_hung_run_is_closed_at_its_turn_deadline_then_killed_once_after_the_grace() {
    let mut p = Pair::new(
        Config::default()
            .with_max_turn_time(mins(10))
            .with_kill_grace(secs(30)),
    );
    p.message("a");
    let run = p.spawned_run("a");
    assert_eq!(p.advance_to_next_deadline(), Time::ZERO + mins(10));
    closed(&p, run, CloseReason::TurnTimeout);
    assert_eq!(state(&p, "a"), RunState::Closing);
    assert_eq!(
        p.advance_to_next_deadline(),
        Time::ZERO + mins(10) + secs(30)
    );
    killed(&p, run);
    // The run stays live until its exit is reported; no second kill.
    assert_eq!(p.wake_at, None);
    assert!(p.q.explain(&"a").unwrap().run.unwrap().killed);
    p.advance(mins(60));
    p.timeout();
    assert!(p.commands().is_empty(), "at most one kill per run");
    p.fail(run);
    assert_eq!(p.q.stats().live_runs, 0);
}

#[test]
fn heartbeats_keep_a_stall_watch_quiet_but_never_extend_the_turn() {
    let mut p = Pair::new(
        Config::default()
            .with_max_turn_time(mins(10))
            .with_stall_timeout(Some(mins(2))),
    );
    p.message("a");
    let run = p.spawned_run("a");
    for _ in 0..6 {
        p.advance(mins(1) + secs(30));
        p.accept(groupq::Heartbeat { run });
        p.timeout();
        assert!(p.commands().is_empty(), "alive: no stall");
    }
    // 9 minutes in; the turn deadline at 10 minutes stands.
    assert_eq!(p.advance_to_next_deadline(), Time::ZERO + mins(10));
    closed(&p, run, CloseReason::TurnTimeout);
}

#[test]
fn a_silent_busy_run_is_closed_as_stalled() {
    let mut p = Pair::new(Config::default().with_stall_timeout(Some(mins(2))));
    p.message("a");
    let run = p.spawned_run("a");
    p.advance(mins(1));
    p.turn(run, TurnReport::error()); // a report is progress, even an error
    assert_eq!(p.advance_to_next_deadline(), Time::ZERO + mins(3));
    closed(&p, run, CloseReason::Stalled);
}

#[test]
fn a_slow_start_gets_the_start_grace_once() {
    let mut p = Pair::new(
        Config::default()
            .with_stall_timeout(Some(mins(2)))
            .with_start_grace(mins(3)),
    );
    p.message("a");
    let run = p.spawned_run("a");
    // Silent from its spawn: the first window is stall + grace.
    assert_eq!(
        p.q.explain(&"a").unwrap().run.unwrap().stall_deadline,
        Some(Time::ZERO + mins(5))
    );
    p.advance(mins(4));
    p.accept(groupq::Heartbeat { run });
    // Alive: every later window is the stall timeout alone.
    assert_eq!(p.advance_to_next_deadline(), Time::ZERO + mins(6));
    closed(&p, run, CloseReason::Stalled);
}

#[test]
fn a_run_that_never_speaks_is_stalled_after_the_timeout_and_the_grace() {
    let mut p = Pair::new(
        Config::default()
            .with_stall_timeout(Some(mins(2)))
            .with_start_grace(secs(30)),
    );
    p.message("a");
    let run = p.spawned_run("a");
    assert_eq!(
        p.advance_to_next_deadline(),
        Time::ZERO + mins(2) + secs(30)
    );
    closed(&p, run, CloseReason::Stalled);
}

#[test]
fn a_compact_run_has_its_own_deadline() {
    let mut p = Pair::new(
        Config::default()
            .with_max_turn_time(mins(30))
            .with_max_compact_time(mins(5)),
    );
    p.message("a");
    let run = p.spawned_run("a");
    p.turn(run, common::reply_at(80)); // compact pending
    p.exit(run);
    let (compact, _, work) = p.spawned();
    assert_eq!(work, Work::Compact);
    assert_eq!(p.advance_to_next_deadline(), Time::ZERO + mins(5));
    closed(&p, compact, CloseReason::TurnTimeout);
}

#[test]
fn max_run_time_caps_even_a_healthy_conversation() {
    let mut p = Pair::new(Config::default().with_max_run_time(Some(mins(60))));
    p.message("a");
    let run = p.spawned_run("a");
    // A run that keeps finishing turns is healthy: no turn deadline hits.
    for _ in 0..5 {
        p.advance(mins(10));
        assert!(p.pipe("a").run().is_some());
        p.advance(mins(1));
        p.turn(run, TurnReport::delivered_reply());
        assert!(p.commands().is_empty());
    }
    assert_eq!(p.advance_to_next_deadline(), Time::ZERO + mins(60));
    closed(&p, run, CloseReason::RunTimeLimit);
}

#[test]
fn the_idle_deadline_never_closes_a_busy_run_after_a_pipe() {
    // Issue found by trying it: a follow-up piped in one second before the
    // idle deadline used to be cut off by it.
    let mut p = Pair::new(Config::default().with_idle_timeout(secs(60)));
    p.message("a");
    let run = p.spawned_run("a");
    p.turn(run, TurnReport::delivered_reply());
    p.advance(secs(59));
    assert_eq!(p.pipe("a").run(), Some(run));
    p.advance(secs(1));
    p.timeout();
    assert!(
        p.commands().is_empty(),
        "the run is busy with the follow-up"
    );
    assert_eq!(state(&p, "a"), RunState::Busy);
}

#[test]
fn an_idle_run_that_never_replied_is_still_closed_for_idleness() {
    let mut p = Pair::new(Config::default().with_idle_timeout(secs(60)));
    p.message("a");
    let run = p.spawned_run("a");
    p.idle(run);
    assert_eq!(p.advance_to_next_deadline(), Time::ZERO + secs(60));
    closed(&p, run, CloseReason::IdleTimeout);
}

#[test]
fn shutdown_closes_idle_runs_at_once_and_busy_ones_after_their_grace() {
    let mut p = Pair::new(
        Config::default()
            .with_max_active(3)
            .with_shutdown_grace(secs(20))
            .with_kill_grace(secs(10)),
    );
    p.message("idle");
    let idle = p.spawned_run("idle");
    p.idle(idle);
    p.message("busy");
    let busy = p.spawned_run("busy");
    p.message("done");
    let done = p.spawned_run("done");
    p.shutdown();
    closed(&p, idle, CloseReason::Shutdown);
    // "done" finishes its turn within the grace: closed as soon as idle.
    p.advance(secs(5));
    p.turn(done, TurnReport::delivered_reply());
    closed(&p, done, CloseReason::Shutdown);
    // The idle run ignores its close: killed after its kill grace.
    assert_eq!(p.advance_to_next_deadline(), Time::ZERO + secs(10));
    killed(&p, idle);
    // "busy" never finishes: closed when its grace ends, killed after.
    assert_eq!(p.advance_to_next_deadline(), Time::ZERO + secs(15));
    killed(&p, done);
    assert_eq!(p.advance_to_next_deadline(), Time::ZERO + secs(20));
    closed(&p, busy, CloseReason::Shutdown);
    assert_eq!(p.advance_to_next_deadline(), Time::ZERO + secs(30));
    killed(&p, busy);
    assert!(p.all_spawns().len() == 3, "no spawn after shutdown");
}

#[test]
fn a_follow_up_piped_after_the_last_delivered_reply_is_rolled_back_when_the_run_fails() {
    // The trace from the issue: message, delivered reply, idle, pipe, error,
    // failed exit. The follow-up was never answered: it must be read again.
    let mut p = Pair::with_max_active(1);
    p.message("a");
    let run = p.spawned_run("a");
    p.turn(run, TurnReport::delivered_reply());
    p.idle(run);
    assert_eq!(p.pipe("a").run(), Some(run));
    p.turn(run, TurnReport::error());
    p.fail(run);
    assert_eq!(
        p.commands(),
        [Command::RollbackCursor { group: "a" }],
        "the follow-up is not lost"
    );
    let retry = p.q.explain(&"a").unwrap().retry_at;
    assert_eq!(retry, Some(p.now + secs(5)), "and it is retried");
}

#[test]
fn a_follow_up_answered_by_a_delivered_reply_is_done_even_if_the_run_then_fails() {
    let mut p = Pair::with_max_active(1);
    p.message("a");
    let run = p.spawned_run("a");
    p.turn(run, TurnReport::delivered_reply());
    assert_eq!(p.pipe("a").run(), Some(run));
    p.turn(run, TurnReport::delivered_reply()); // answered
    p.fail(run);
    assert!(
        p.commands().is_empty(),
        "no rollback: it would send duplicates"
    );
}

#[test]
fn a_waiting_group_evicts_the_longest_idle_run_and_only_as_many_as_needed() {
    let mut p = Pair::with_max_active(3);
    for g in ["a", "b", "c"] {
        p.message(g);
        let run = p.spawned_run(g);
        p.advance(secs(1));
        p.turn(run, TurnReport::delivered_reply()); // idle, in this order
    }
    let a = p.live_run("a").unwrap();
    p.message("d"); // no slot: "a" has been idle longest
    closed(&p, a, CloseReason::Evicted);
    p.message("e"); // a second waiting group: one more eviction
    let b = p.live_run("b").unwrap();
    closed(&p, b, CloseReason::Evicted);
    p.message("d"); // "d" already waits and is covered: nothing more
    assert!(p.commands().is_empty());
    assert_eq!(state(&p, "c"), RunState::IdleWaiting, "c keeps its slot");
    p.exit(a);
    assert_eq!(
        p.spawned().1,
        "d",
        "the evicted run's slot goes to the line"
    );
}

#[test]
fn a_run_going_idle_while_a_group_waits_is_closed_at_once() {
    let mut p = Pair::with_max_active(1);
    p.message("a");
    let a = p.spawned_run("a");
    p.message("b"); // waits behind a busy run: nothing to evict
    assert!(p.commands().is_empty());
    p.turn(a, TurnReport::delivered_reply());
    closed(&p, a, CloseReason::Evicted);
}

#[test]
fn with_eviction_off_idle_runs_keep_their_slots_until_their_idle_timeout() {
    let mut p = Pair::new(
        Config::default()
            .with_max_active(1)
            .with_evict_idle(false)
            .with_idle_timeout(mins(30)),
    );
    p.message("a");
    let a = p.spawned_run("a");
    p.turn(a, TurnReport::delivered_reply());
    p.message("b");
    assert!(p.commands().is_empty(), "b waits for the idle timeout");
    assert_eq!(p.advance_to_next_deadline(), Time::ZERO + mins(30));
    closed(&p, a, CloseReason::IdleTimeout);
}
