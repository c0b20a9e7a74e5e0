//! Background tasks (B16): work that gives way to the conversation, judged
//! on what an adapter sees (answers, commands), every step also through
//! the checker. The proptests at the end judge from the outputs alone.

mod common;

use std::time::Duration;

use common::{task, Pair};
use groupq::{
    Background, BackgroundTask, CancelAnswer, CloseReason, Command, Config, ConfigError, Error,
    Machine, TaskAnswer, TaskRefusal, Work,
};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn pair(max_active: usize, background: Background) -> Pair {
    Pair::new(
        Config::default()
            .with_max_active(max_active)
            .with_background(background),
    )
}

fn background(p: &mut Pair, group: &'static str, id: u32, skip: bool) -> TaskAnswer {
    p.accept(BackgroundTask {
        group,
        id,
        payload: format!("bg{id}"),
        skip_if_active: skip,
    })
}

fn closes(p: &Pair) -> Vec<CloseReason> {
    p.commands()
        .into_iter()
        .filter_map(|c| match c {
            Command::CloseInput { reason, .. } => Some(reason),
            _ => None,
        })
        .collect()
}

#[test]
fn a_background_task_starts_after_the_conversation_and_never_closes_its_run() {
    let mut p = pair(2, Background::default());
    p.message("a");
    let run = p.spawned_run("a");
    p.idle(run);
    assert_eq!(background(&mut p, "a", 1, false), TaskAnswer::Queued);
    assert!(closes(&p).is_empty(), "the idle messages run stays open");
    // A normal task for the same group does close it (today's rule), and
    // starts before the background one.
    p.task("a", 2, "t2");
    assert_eq!(closes(&p), [CloseReason::Preempt]);
    p.message("a");
    p.exit(run);
    assert_eq!(p.spawned().2, task(2, "t2"), "normal jobs first");
    let t2 = p.spawned_run("a");
    p.exit(t2);
    assert_eq!(p.spawned().2, Work::Messages, "then the messages");
    let m = p.spawned_run("a");
    p.exit(m);
    assert_eq!(p.spawned().2, task(1, "bg1"), "background last");
}

#[test]
fn an_idle_background_run_gives_way_to_a_message() {
    let mut p = pair(2, Background::default());
    background(&mut p, "h", 1, false);
    let run = p.spawned_run("h");
    p.idle(run);
    assert!(closes(&p).is_empty(), "nothing waits: it stays open");
    p.message("h");
    assert_eq!(closes(&p), [CloseReason::Preempt]);
    p.exit(run);
    assert_eq!(p.spawned().2, Work::Messages);
}

#[test]
fn a_busy_background_run_finishes_before_the_message_starts() {
    let mut p = pair(2, Background::default());
    background(&mut p, "h", 1, false);
    let run = p.spawned_run("h");
    p.message("h");
    assert!(closes(&p).is_empty(), "a busy run is never closed for it");
    p.exit(run);
    assert_eq!(p.spawned().2, Work::Messages);
}

#[test]
fn background_groups_wait_behind_conversations_and_age() {
    let mut p = pair(1, Background::default().with_aging(2));
    p.message("busy");
    let mut live = p.spawned_run("busy");
    background(&mut p, "h", 1, false);
    for g in ["a", "b", "c"] {
        p.message(g);
    }
    assert_eq!(p.q.explain(&"h").unwrap().waiting_behind, Some(0));
    assert_eq!(p.q.stats().waiting_background, 1);
    // Two conversations pass it (aging 2), then it goes first.
    let mut order = Vec::new();
    for _ in 0..4 {
        p.exit(live);
        let (run, group, _) = p.spawned();
        order.push(group);
        live = run;
    }
    assert_eq!(order, ["a", "b", "h", "c"]);
}

#[test]
fn background_groups_never_evict_an_idle_conversation() {
    let mut p = pair(1, Background::default());
    p.message("a");
    let run = p.spawned_run("a");
    p.idle(run);
    background(&mut p, "h", 1, false);
    assert!(closes(&p).is_empty(), "eviction is for conversations only");
    p.message("b");
    assert_eq!(closes(&p), [CloseReason::Evicted], "a conversation evicts");
}

#[test]
fn at_most_max_running_background_runs_even_with_slots_free() {
    let mut p = pair(3, Background::default().with_max_running(Some(1)));
    background(&mut p, "h1", 1, false);
    let first = p.spawned_run("h1");
    background(&mut p, "h2", 2, false);
    assert!(p.spawns().is_empty(), "the cap holds it");
    assert_eq!(p.q.stats().free_slots, 2);
    p.message("a");
    assert_eq!(p.spawned().1, "a", "conversations still start");
    p.exit(first);
    assert_eq!(p.spawned().1, "h2");
}

#[test]
fn skip_if_active_is_answered_skipped_and_changes_nothing() {
    let config = Config::default()
        .with_background(Background::default().with_skip_window(Some(Duration::from_secs(60))));
    let mut p = Pair::new(config);
    p.message("a");
    let before = Machine::clone(&p.q);
    assert_eq!(background(&mut p, "a", 1, true), TaskAnswer::Skipped);
    assert!(p.outputs().is_empty(), "a skipped task produces nothing");
    assert!(*p.q == before, "a skipped task changes nothing");
    // Without the flag it is queued behind the conversation.
    assert_eq!(background(&mut p, "a", 2, false), TaskAnswer::Queued);
    let run = p.spawned_run("a");
    p.exit(run);
    let bg = p.spawned_run("a");
    p.exit(bg);
    // A background run is no conversation; the messages run ended: within
    // the window it is still skipped, after it queued.
    p.advance(Duration::from_secs(59));
    assert_eq!(background(&mut p, "a", 3, true), TaskAnswer::Skipped);
    assert!(!p.q.tracks(&"a"), "forgotten, yet remembered");
    p.advance(Duration::from_secs(1));
    assert_eq!(background(&mut p, "a", 3, true), TaskAnswer::Queued);
    // A group never seen is not active.
    assert_eq!(background(&mut p, "z", 1, true), TaskAnswer::Queued);
}

#[test]
fn without_a_window_only_the_live_conversation_counts() {
    let mut p = pair(2, Background::default());
    p.message("a");
    let run = p.spawned_run("a");
    assert_eq!(background(&mut p, "a", 1, true), TaskAnswer::Skipped);
    p.exit(run);
    assert_eq!(background(&mut p, "a", 1, true), TaskAnswer::Queued);
}

#[test]
fn ids_are_deduplicated_across_classes_and_caps_count_both() {
    let config = Config::default()
        .with_max_active(1)
        .with_max_group_tasks(Some(2));
    let mut p = Pair::new(config);
    p.message("busy");
    p.task("a", 1, "t1");
    assert_eq!(background(&mut p, "a", 1, false), TaskAnswer::Duplicate);
    assert_eq!(background(&mut p, "a", 2, false), TaskAnswer::Queued);
    assert!(!p.task("a", 2, "t2"), "a background id is a duplicate too");
    assert_eq!(
        background(&mut p, "a", 3, false),
        TaskAnswer::Refused(TaskRefusal::GroupFull { cap: 2 })
    );
    assert_eq!(
        p.accept(groupq::Cancel { group: "a", id: 2 }),
        CancelAnswer::Cancelled("bg2".to_string())
    );
    assert_eq!(background(&mut p, "a", 3, false), TaskAnswer::Queued);
    let report = p.shutdown();
    let a = report.groups.iter().find(|g| g.group == "a").unwrap();
    assert_eq!(a.jobs, [task(1, "t1")]);
    assert_eq!(a.background_tasks, [(3, "bg3".to_string())]);
}

#[test]
fn a_background_run_that_never_launched_goes_back_to_its_queue() {
    let mut p = pair(1, Background::default());
    background(&mut p, "h", 1, false);
    let (run, _, work) = p.spawned();
    background(&mut p, "h", 2, false);
    p.message("h");
    p.accept(groupq::NeverLaunched { run, work });
    // It is requeued first, as background work: the message goes before it.
    assert_eq!(p.spawned().2, Work::Messages);
    assert_eq!(p.q.explain(&"h").unwrap().background_tasks, [1, 2]);
}

#[test]
fn invalid_background_settings_are_refused_with_a_typed_error() {
    for (background, why) in [
        (Background::default().with_aging(0), "aging"),
        (
            Background::default().with_max_running(Some(0)),
            "max_running",
        ),
        (
            Background::default().with_skip_window(Some(Duration::ZERO)),
            "skip_window",
        ),
    ] {
        let config = Config::default().with_background(background);
        match Machine::<u8, u8, ()>::new(config) {
            Err(Error::InvalidConfig(ConfigError::InvalidBackground(m))) => {
                assert!(m.contains(why), "{m}")
            }
            other => panic!("{why}: {:?}", other.err()),
        }
    }
    let _ = ms(0);
}

/// From the outputs alone, on a machine without the checker.
mod properties {
    use std::collections::{BTreeMap, BTreeSet, VecDeque};

    use groupq::{Background, CloseReason, Command, Config, Exit, Input, RunId, Time, Work};
    use proptest::prelude::*;

    use super::ms;

    use crate::common::bare::{step, M};

    #[derive(Clone, Debug)]
    enum Act {
        Message(u8),
        Background(u8, u32, bool),
        Idle(usize),
        Reply(usize),
        Exit(usize),
        Wait(u64),
    }

    fn act(groups: u8) -> impl Strategy<Value = Act> {
        prop_oneof![
            4 => (0..groups).prop_map(Act::Message),
            4 => (0..groups + 3, 0u32..4, any::<bool>()).prop_map(|(g, id, s)| Act::Background(g, id, s)),
            3 => any::<usize>().prop_map(Act::Idle),
            2 => any::<usize>().prop_map(Act::Reply),
            3 => any::<usize>().prop_map(Act::Exit),
            2 => (0u64..2_000).prop_map(Act::Wait),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(
            std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)
        ))]

        /// With a slot for every conversation beside `max_running` for
        /// background runs, nothing but background work could compete for
        /// them: then no conversation run is ever closed but by its own
        /// idle deadline. Background tasks (for the conversation groups
        /// and others) arrive in any order, runs go idle, reply and exit;
        /// eviction is on.
        #[test]
        fn background_work_never_closes_a_conversation_run(
            groups in 1u8..=3,
            aging in 1u32..=4,
            max_running in 1usize..=2,
            acts in prop::collection::vec(act(3), 1..120),
        ) {
            let config = Config::default()
                .with_max_active(usize::from(groups) + max_running)
                .with_idle_timeout(ms(1_000))
                .with_background(Background::default().with_aging(aging).with_max_running(Some(max_running)));
            let mut q = M::new(config).unwrap();
            let mut now = Time::ZERO;
            // Live runs in spawn order, with whether each reads messages.
            let mut live: Vec<(RunId, bool)> = Vec::new();
            let mut payload = 0;
            for a in acts {
                let input = match a {
                    Act::Message(g) => Input::Message { group: g % groups },
                    Act::Background(group, id, skip_if_active) => {
                        payload += 1;
                        Input::BackgroundTask { group, id, payload, skip_if_active }
                    }
                    Act::Idle(i) | Act::Reply(i) | Act::Exit(i) if live.is_empty() => {
                        let _ = i;
                        Input::Timeout
                    }
                    Act::Idle(i) => Input::Idle { run: live[i % live.len()].0 },
                    Act::Reply(i) => Input::Turn {
                        run: live[i % live.len()].0,
                        report: groupq::TurnReport::delivered_reply(),
                    },
                    Act::Exit(i) => Input::Exited { run: live.remove(i % live.len()).0, exit: Exit::Clean },
                    Act::Wait(d) => {
                        now += ms(d);
                        Input::Timeout
                    }
                };
                // Deadlines due before `now` fire first, as a loop would.
                while let Some(at) = q.next_deadline().filter(|&at| at <= now) {
                    let (_, commands) = step(&mut q, at, Input::Timeout);
                    check(&commands, &mut live)?;
                }
                let (_, commands) = step(&mut q, now, input);
                check(&commands, &mut live)?;
            }
        }

        /// A group waiting with background work only, `B` others ahead of
        /// it, starts within `(B + 1) · (aging + 1)` slot releases, however
        /// busy the conversations keep every slot (each exit is followed
        /// by a new message for that group).
        #[test]
        fn background_work_is_never_starved_past_its_bound(
            max_active in 1usize..=3,
            aging in 1u32..=4,
            order in prop::collection::vec((0usize..3, any::<bool>()), 1..80),
        ) {
            let config = Config::default()
                .with_max_active(max_active)
                .with_background(Background::default().with_aging(aging));
            let mut q = M::new(config).unwrap();
            let now = Time::ZERO;
            let conversations = max_active as u8 + 2;
            let mut live: VecDeque<(RunId, u8)> = VecDeque::new();
            let note = |commands: Vec<Command<u8, u32, u32>>, live: &mut VecDeque<(RunId, u8)>, started: &mut BTreeSet<u8>| {
                for c in commands {
                    if let Command::Spawn { run, group, work } = c {
                        if matches!(work, Work::Task { .. }) {
                            started.insert(group);
                        }
                        live.push_back((run, group));
                    }
                }
            };
            let mut started = BTreeSet::new();
            let bound = |ahead: usize| (ahead as u64 + 1) * (u64::from(aging) + 1);
            for g in 0..conversations {
                let (_, c) = step(&mut q, now, Input::Message { group: g });
                note(c, &mut live, &mut started);
            }
            // Background groups are 100.., one task each; per group, the
            // releases counted at its submission and the groups ahead.
            let mut waiting: BTreeMap<u8, (u64, usize)> = BTreeMap::new();
            let mut next_background = 100u8;
            let mut releases = 0u64;
            for (pick, submit) in order {
                if submit && next_background < 200 {
                    let group = next_background;
                    next_background += 1;
                    waiting.retain(|g, _| !started.contains(g));
                    let ahead = waiting.len();
                    let (_, c) = step(&mut q, now, Input::BackgroundTask { group, id: 1, payload: 1, skip_if_active: false });
                    note(c, &mut live, &mut started);
                    if !started.contains(&group) {
                        waiting.insert(group, (releases, ahead));
                    }
                }
                let Some((run, group)) = live.remove(pick % live.len().max(1)) else { continue };
                let (_, c) = step(&mut q, now, Input::Exited { run, exit: Exit::Clean });
                releases += 1;
                note(c, &mut live, &mut started);
                if group < 100 {
                    // The conversation goes on.
                    let (_, c) = step(&mut q, now, Input::Message { group });
                    note(c, &mut live, &mut started);
                }
                for g in started.iter() {
                    if let Some((since, ahead)) = waiting.remove(g) {
                        prop_assert!(releases - since <= bound(ahead),
                            "group {} waited {} releases with {} ahead, aging {}", g, releases - since, ahead, aging);
                    }
                }
                for (g, (since, ahead)) in &waiting {
                    prop_assert!(releases - since <= bound(*ahead),
                        "group {} still waits after {} releases with {} ahead, aging {}", g, releases - since, ahead, aging);
                }
            }
        }
    }

    /// No `CloseInput` of a messages run but for its idle deadline; keeps
    /// the live runs.
    fn check(
        commands: &[Command<u8, u32, u32>],
        live: &mut Vec<(RunId, bool)>,
    ) -> Result<(), TestCaseError> {
        for c in commands {
            match c {
                Command::Spawn { run, work, .. } => live.push((*run, *work == Work::Messages)),
                Command::CloseInput { run, reason } => {
                    let messages = live.iter().any(|(r, m)| r == run && *m);
                    prop_assert!(
                        !messages || *reason == CloseReason::IdleTimeout,
                        "a conversation run {} closed: {:?}",
                        run,
                        reason
                    );
                }
                _ => {}
            }
        }
        Ok(())
    }
}
