//! B5 and the outcome half of B6: what a turn reports. Notices only when
//! on and only for a successful reply; missing numbers never panic nor give
//! a notice; the cursor is rolled back only when nothing was delivered; a
//! reply re-arms the idle deadline, which closes an idle run once.

mod common;

use common::{mins, reply_at, secs, Pair};
use groupq::{
    CloseReason, Command, Compaction, CompactionTrigger, Config, ContextStats, Exit, Input, Notice,
    PipeAnswer, RunId, RunState, Time, TurnReport, TurnStatus,
};

/// A Pair with one live Messages run for "a".
fn live(config: Config) -> (Pair, RunId) {
    let mut p = Pair::new(config);
    p.message("a");
    let run = p.spawned_run("a");
    (p, run)
}

fn notices(p: &Pair) -> Vec<Notice> {
    p.commands()
        .into_iter()
        .filter_map(|c| match c {
            Command::Notify { group: "a", notice } => Some(notice),
            _ => None,
        })
        .collect()
}

fn with_stats(output: TurnReport, tokens: Option<u64>, limit: Option<u64>) -> TurnReport {
    output.with_context(ContextStats {
        tokens,
        limit,
        percent: None,
        compact_recommended: false,
    })
}

fn state(p: &Pair) -> RunState {
    p.q.explain(&"a").unwrap().run.unwrap().state
}

// ---- notices ---------------------------------------------------------------

#[test]
fn a_context_warning_is_notified_at_the_warn_threshold_when_notices_are_on() {
    for (percent, warned) in [(69, false), (70, true), (74, true)] {
        let (mut p, run) = live(Config::default());
        p.turn(run, reply_at(percent));
        let expected: &[Notice] = if warned {
            &[Notice::ContextWarning {
                percent,
                tokens: None,
                limit: None,
            }]
        } else {
            &[]
        };
        assert_eq!(notices(&p), expected, "{percent}%");
    }
}

#[test]
fn no_notice_is_sent_when_notices_are_off() {
    let (mut p, run) = live(Config::default().with_notices(false));
    p.turn(
        run,
        reply_at(90).with_compaction(Compaction {
            trigger: CompactionTrigger::Auto,
            tokens_before: Some(1000),
        }),
    );
    assert!(notices(&p).is_empty());
    assert_eq!(
        p.commands(),
        [Command::RecordCompaction { group: "a" }],
        "the compaction is still recorded"
    );
    p.turn(run, reply_at(90));
    assert!(p.commands().is_empty());
    assert!(
        p.q.explain(&"a").unwrap().compact_pending,
        "the trigger still works"
    );
}

#[test]
fn notices_come_only_from_a_successful_reply() {
    let (mut p, run) = live(Config::default());
    let failed = TurnReport {
        status: TurnStatus::Error,
        ..reply_at(90)
    };
    p.turn(
        run,
        failed.with_compaction(Compaction {
            trigger: CompactionTrigger::Auto,
            tokens_before: None,
        }),
    );
    assert!(notices(&p).is_empty(), "a failed turn notifies nothing");
    assert_eq!(p.commands(), [Command::RecordCompaction { group: "a" }]);
    let no_reply = TurnReport {
        replied: false,
        delivered: false,
        ..reply_at(90)
    };
    p.turn(run, no_reply);
    assert!(notices(&p).is_empty(), "no reply, no notice");
}

#[test]
fn an_auto_compaction_is_notified_and_recorded() {
    let (mut p, run) = live(Config::default());
    p.turn(
        run,
        TurnReport::delivered_reply().with_compaction(Compaction {
            trigger: CompactionTrigger::Auto,
            tokens_before: Some(180_000),
        }),
    );
    let commands = p.commands();
    assert_eq!(commands.len(), 2, "{commands:?}");
    assert!(commands.contains(&Command::Notify {
        group: "a",
        notice: Notice::AutoCompacted {
            tokens_before: Some(180_000)
        }
    }));
    assert!(commands.contains(&Command::RecordCompaction { group: "a" }));
}

#[test]
fn a_manual_compaction_is_recorded_without_a_notice() {
    let (mut p, run) = live(Config::default());
    p.turn(
        run,
        TurnReport::delivered_reply().with_compaction(Compaction {
            trigger: CompactionTrigger::Manual,
            tokens_before: Some(180_000),
        }),
    );
    assert_eq!(p.commands(), [Command::RecordCompaction { group: "a" }]);
}

#[test]
fn a_warn_threshold_above_the_auto_threshold_compacts_without_warning() {
    let config = Config::default()
        .with_warn_percent(90)
        .with_auto_compact_percent(75);
    let (mut p, run) = live(config);
    p.turn(run, reply_at(80));
    assert!(notices(&p).is_empty());
    assert!(p.q.explain(&"a").unwrap().compact_pending);
}

// ---- context statistics ------------------------------------------------------

#[test]
fn a_missing_percent_gives_no_warning_no_compact_and_no_panic() {
    let cases = [
        (None, None),
        (Some(199_000), None),
        (None, Some(200_000)),
        (Some(199_000), Some(0)),
        (Some(0), Some(0)),
    ];
    for (tokens, limit) in cases {
        let (mut p, run) = live(Config::default());
        p.turn(
            run,
            with_stats(TurnReport::delivered_reply(), tokens, limit),
        );
        assert!(p.commands().is_empty(), "{tokens:?}/{limit:?}");
        let e = p.q.explain(&"a").unwrap();
        assert!(!e.compact_pending, "{tokens:?}/{limit:?}");
        assert_eq!(e.last_context.unwrap().tokens, tokens, "kept for explain");
        p.exit(run);
        assert!(p.spawns().is_empty());
    }
}

#[test]
fn the_percent_is_derived_from_tokens_and_limit() {
    let (mut p, run) = live(Config::default());
    p.turn(
        run,
        with_stats(TurnReport::delivered_reply(), Some(139_999), Some(200_000)),
    );
    assert!(notices(&p).is_empty(), "69.9995 % rounds down");
    p.turn(
        run,
        with_stats(TurnReport::delivered_reply(), Some(150_000), Some(200_000)),
    );
    assert_eq!(
        notices(&p),
        [Notice::ContextWarning {
            percent: 75,
            tokens: Some(150_000),
            limit: Some(200_000)
        }]
    );
    assert!(p.q.explain(&"a").unwrap().compact_pending);
}

#[test]
fn a_given_percent_wins_over_tokens_and_limit() {
    let (mut p, run) = live(Config::default());
    let output = TurnReport::delivered_reply().with_context(ContextStats {
        tokens: Some(199_000),
        limit: Some(200_000),
        percent: Some(10),
        compact_recommended: false,
    });
    p.turn(run, output);
    assert!(p.commands().is_empty());
    assert!(!p.q.explain(&"a").unwrap().compact_pending);
}

#[test]
fn absurd_token_counts_do_not_panic() {
    let (mut p, run) = live(Config::default());
    p.turn(
        run,
        with_stats(TurnReport::delivered_reply(), Some(u64::MAX), Some(1)),
    );
    assert!(p.q.explain(&"a").unwrap().compact_pending);
    p.turn(
        run,
        with_stats(
            TurnReport::delivered_reply(),
            Some(u64::MAX),
            Some(u64::MAX),
        ),
    );
}

// ---- outcome: rollback and delivery ------------------------------------------

#[test]
fn the_cursor_is_rolled_back_only_when_nothing_was_delivered() {
    let undelivered_reply = TurnReport {
        delivered: false,
        ..TurnReport::delivered_reply()
    };
    let delivered_error = TurnReport {
        delivered: true,
        replied: true,
        ..TurnReport::error()
    };
    let cases: [(&str, &[TurnReport], Exit, bool); 8] = [
        (
            "clean success",
            &[TurnReport::delivered_reply()],
            Exit::Clean,
            false,
        ),
        ("unclean exit, no output", &[], Exit::Failed, true),
        (
            "turn error, clean exit",
            &[TurnReport::error()],
            Exit::Clean,
            true,
        ),
        (
            "reply not delivered, unclean exit",
            &[undelivered_reply],
            Exit::Failed,
            true,
        ),
        (
            "delivered, then unclean exit",
            &[TurnReport::delivered_reply()],
            Exit::Failed,
            false,
        ),
        (
            "delivered, then turn error",
            &[TurnReport::delivered_reply(), TurnReport::error()],
            Exit::Clean,
            false,
        ),
        (
            "turn error, then delivered",
            &[TurnReport::error(), TurnReport::delivered_reply()],
            Exit::Failed,
            false,
        ),
        (
            "an error that was delivered",
            &[delivered_error],
            Exit::Clean,
            false,
        ),
    ];
    for (name, outputs, exit, rolled_back) in cases {
        let (mut p, run) = live(Config::default());
        for output in outputs {
            p.turn(run, *output);
        }
        p.send(Input::Exited { run, exit });
        let rollback = p
            .commands()
            .contains(&Command::RollbackCursor { group: "a" });
        assert_eq!(rollback, rolled_back, "{name}");
        assert_eq!(
            p.wake_at.is_some(),
            rolled_back,
            "{name}: retry iff rollback"
        );
    }
}

// ---- lifecycle: success acts as idle; idle timeout -----------------------------

#[test]
fn a_successful_turn_acts_as_idle() {
    let (mut p, run) = live(Config::default());
    p.turn(run, TurnReport::delivered_reply());
    assert_eq!(state(&p), RunState::IdleWaiting);
    assert_eq!(p.pipe("a"), PipeAnswer::Piped(run));
    assert_eq!(state(&p), RunState::Busy);
}

#[test]
fn a_failed_turn_does_not_make_the_run_idle() {
    let (mut p, run) = live(Config::default());
    p.turn(run, TurnReport::error());
    assert_eq!(state(&p), RunState::Busy);
    p.task("a", 1, "t");
    assert!(p.commands().is_empty(), "a busy run is not preempted");
}

#[test]
fn the_idle_timeout_closes_an_idle_run_once() {
    let (mut p, run) = live(Config::default());
    p.advance(secs(5));
    p.turn(run, TurnReport::delivered_reply());
    let deadline = Time::from_secs(5).saturating_add(mins(30));
    assert_eq!(p.wake_at, Some(deadline));
    assert_eq!(p.advance_to_next_deadline(), deadline);
    assert_eq!(
        p.commands(),
        [Command::CloseInput {
            run,
            reason: CloseReason::IdleTimeout
        }]
    );
    assert_eq!(state(&p), RunState::Closing);
    let kill_at = deadline.saturating_add(secs(30));
    assert_eq!(p.wake_at, Some(kill_at), "only the kill deadline is left");
    p.advance(secs(20));
    p.timeout();
    p.idle(run);
    p.task("a", 1, "t");
    assert!(p.commands().is_empty(), "never a second close");
    p.exit(run);
    assert_eq!(p.spawned().2, common::task(1, "t"));
}

#[test]
fn a_new_reply_pushes_the_idle_deadline_out() {
    let (mut p, run) = live(Config::default());
    p.turn(run, TurnReport::delivered_reply());
    p.advance(mins(20));
    p.pipe("a").run().unwrap();
    p.turn(run, TurnReport::delivered_reply());
    let pushed = Time::ZERO.saturating_add(mins(50));
    assert_eq!(p.wake_at, Some(pushed));
    p.advance(mins(10)); // the first deadline, 30 min
    p.timeout();
    assert!(p.commands().is_empty(), "the old deadline is gone");
    assert_eq!(p.advance_to_next_deadline(), pushed);
    assert_eq!(
        p.commands(),
        [Command::CloseInput {
            run,
            reason: CloseReason::IdleTimeout
        }]
    );
}

#[test]
fn the_idle_deadline_is_armed_when_the_run_goes_idle_not_while_it_is_busy() {
    let (mut p, run) = live(Config::default());
    let turn = Time::ZERO.saturating_add(mins(30));
    p.advance(mins(1));
    p.turn(run, TurnReport::error());
    assert_eq!(p.wake_at, Some(turn), "still busy: only the turn deadline");
    p.advance(mins(1));
    // A successful turn without a reply: the run is idle all the same.
    p.turn(run, TurnReport::success());
    let idle = Time::ZERO.saturating_add(mins(32));
    assert_eq!(p.wake_at, Some(idle));
    let e = p.q.explain(&"a").unwrap().run.unwrap();
    assert_eq!((e.turn_deadline, e.idle_deadline), (None, Some(idle)));
}

#[test]
fn a_reply_from_a_closing_run_does_not_rearm_the_idle_deadline() {
    let (mut p, run) = live(Config::default());
    p.turn(run, TurnReport::delivered_reply()); // idle deadline at 30 min
    assert_eq!(p.wake_at, Some(Time::ZERO.saturating_add(mins(30))));
    p.task("a", 1, "t"); // the idle run is preempted: Closing
    let kill_at = Time::ZERO.saturating_add(secs(30));
    assert_eq!(
        p.wake_at,
        Some(kill_at),
        "a closing run has only its kill deadline"
    );
    p.advance(secs(10));
    p.turn(run, TurnReport::delivered_reply());
    assert_eq!(
        p.wake_at,
        Some(kill_at),
        "a late reply does not re-arm the idle deadline"
    );
    assert_eq!(state(&p), RunState::Closing);
    p.advance(mins(60));
    p.timeout();
    assert_eq!(
        p.commands(),
        [Command::Kill { run }],
        "no second close: the kill grace ran out"
    );
}

#[test]
fn the_idle_timeout_follows_the_configuration() {
    let (mut p, run) = live(Config::default().with_idle_timeout(secs(90)));
    p.turn(run, TurnReport::delivered_reply());
    assert_eq!(p.wake_at, Some(Time::from_secs(90)));
}
