//! Pacing (B14, B15): the debounce of a burst of messages and the
//! crash-loop breaker, judged on what an adapter sees (answers, commands,
//! the next deadline), every step also through the checker. The
//! proptests at the end judge from the outputs alone.

mod common;

use std::time::Duration;

use common::{secs, task, Pair};
use groupq::{
    Breaker, BreakerStatus, Command, Config, ConfigError, Debounce, Exit, Exited, Machine, Time,
    Work,
};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn debounced(quiet: u64, max_wait: u64) -> Pair {
    Pair::new(
        Config::default()
            .with_max_active(2)
            .with_debounce(Some(Debounce::new(ms(quiet), ms(max_wait)))),
    )
}

#[test]
fn a_burst_of_messages_starts_one_run_after_the_quiet_period() {
    let mut p = debounced(800, 3_000);
    p.message("a");
    assert!(p.spawns().is_empty(), "the first message waits");
    assert_eq!(p.q.next_deadline(), Some(Time::from_millis(800)));
    p.advance(ms(500));
    p.message("a");
    assert_eq!(
        p.q.next_deadline(),
        Some(Time::from_millis(1_300)),
        "each message restarts the quiet period"
    );
    assert_eq!(
        p.q.explain(&"a").unwrap().debounced_until,
        Some(Time::from_millis(1_300))
    );
    p.advance_to_next_deadline();
    assert_eq!(p.spawned().2, Work::Messages);
}

#[test]
fn a_burst_that_never_pauses_starts_at_the_maximum_wait() {
    let mut p = debounced(800, 2_000);
    // Messages at 0, 300, …, 1800, never 800 apart: the deadline follows
    // the quiet period until the first message's time plus max_wait caps it.
    for n in 0..7u64 {
        p.message("a");
        let quiet_end = Time::from_millis(n * 300 + 800);
        assert_eq!(
            p.q.next_deadline(),
            Some(quiet_end.min(Time::from_millis(2_000)))
        );
        p.advance(ms(300));
    }
    assert!(p.all_spawns().is_empty());
    assert_eq!(p.advance_to_next_deadline(), Time::from_millis(2_000));
    assert_eq!(p.spawned().2, Work::Messages, "one run for the burst");
}

#[test]
fn tasks_and_groups_with_a_run_are_never_debounced() {
    let mut p = debounced(800, 3_000);
    p.task("a", 1, "t1");
    assert_eq!(p.spawned().2, task(1, "t1"), "a task starts at once");
    p.message("a");
    assert!(
        p.spawns().is_empty(),
        "a live run reads it (pipe), no new run"
    );
    assert_eq!(p.q.explain(&"a").unwrap().debounced_until, None);
    // A task for a debouncing group wakes it: the task first, then the
    // messages as soon as the task run leaves.
    p.message("b");
    assert!(p.spawns().is_empty());
    p.task("b", 2, "t2");
    assert_eq!(p.spawned().2, task(2, "t2"));
    let run = p.spawned_run("b");
    p.exit(run);
    assert_eq!(p.spawned().2, Work::Messages);
}

#[test]
fn a_debounced_group_joins_the_line_when_its_burst_ends() {
    let mut p = Pair::new(
        Config::default()
            .with_max_active(1)
            .with_debounce(Some(Debounce::new(ms(100), ms(100)))),
    );
    p.task("busy", 1, "t");
    p.message("a");
    p.advance_to_next_deadline();
    assert_eq!(p.q.explain(&"a").unwrap().waiting_behind, Some(0));
    let run = p.spawned_run("busy");
    p.exit(run);
    assert_eq!(p.spawned().1, "a");
}

#[test]
fn shutdown_reports_a_debounced_burst_as_unread() {
    let mut p = debounced(800, 3_000);
    p.message("a");
    let report = p.shutdown();
    assert!(report.groups[0].unread_messages);
    assert_eq!(p.q.next_deadline(), None, "no debounce deadline is left");
}

#[test]
fn invalid_debounce_and_breaker_settings_are_refused() {
    let bad = |c: Config| Machine::<u8, u8, u8>::new(c).err();
    assert!(matches!(
        bad(Config::default().with_debounce(Some(Debounce::new(ms(0), ms(10))))),
        Some(groupq::Error::InvalidConfig(ConfigError::InvalidDebounce(
            _
        )))
    ));
    assert!(matches!(
        bad(Config::default().with_debounce(Some(Debounce::new(ms(10), ms(5))))),
        Some(groupq::Error::InvalidConfig(ConfigError::InvalidDebounce(
            _
        )))
    ));
    for b in [
        Breaker::default().with_threshold(0, secs(1)),
        Breaker::default().with_cooldown(secs(10), secs(5)),
        Breaker::default().with_cooldown(ms(0), secs(5)),
        Breaker::default().with_fast_failure(ms(0)),
    ] {
        assert!(matches!(
            bad(Config::default().with_breaker(Some(b))),
            Some(groupq::Error::InvalidConfig(ConfigError::InvalidBreaker(_)))
        ));
    }
}

// ---- the breaker ----------------------------------------------------------

fn breaker_pair(max_active: usize) -> Pair {
    let breaker = Breaker::default()
        .with_fast_failure(secs(5))
        .with_threshold(2, secs(60))
        .with_cooldown(secs(30), secs(100));
    Pair::new(
        Config::default()
            .with_max_active(max_active)
            .with_retry_base(secs(1))
            .with_breaker(Some(breaker)),
    )
}

/// Three slots, and groups a and b running: their runs.
fn two_runs() -> (Pair, groupq::RunId, groupq::RunId) {
    let mut p = breaker_pair(3);
    p.message("a");
    p.message("b");
    let (a, b) = (p.spawned_run("a"), p.spawned_run("b"));
    (p, a, b)
}

fn crash(p: &mut Pair, run: groupq::RunId) {
    p.accept(Exited {
        run,
        exit: Exit::Failed,
    });
}

fn opened(p: &Pair) -> Option<(Time, Duration)> {
    p.commands().into_iter().find_map(|c| match c {
        Command::BreakerOpened { until, cooldown } => Some((until, cooldown)),
        _ => None,
    })
}

#[test]
fn fast_failures_of_two_groups_open_the_breaker_and_work_keeps_queueing() {
    let (mut p, a, b) = two_runs();
    p.advance(secs(1));
    crash(&mut p, a);
    assert_eq!(opened(&p), None, "one group failing is not a crash loop");
    crash(&mut p, b);
    assert_eq!(
        opened(&p),
        Some((Time::from_secs(31), secs(30))),
        "the second group's fast failure opens it"
    );
    assert_eq!(
        p.q.stats().breaker,
        BreakerStatus::Open {
            until: Time::from_secs(31)
        }
    );
    // Everything queues; nothing starts, not even the retries when due.
    p.message("c");
    assert!(p.task("d", 1, "t"));
    p.advance(secs(10));
    p.timeout();
    assert!(p.all_spawns().len() == 2, "no spawn while open");
    assert_eq!(p.q.stats().waiting_groups, 4);
    assert_eq!(p.q.stats().free_slots, 3, "the slots are free, held back");
}

#[test]
fn one_probe_after_the_cooldown_closes_it_when_it_lives() {
    let (mut p, a, b) = two_runs();
    crash(&mut p, a);
    crash(&mut p, b);
    p.message("c");
    p.advance_to_next_deadline(); // the retries at 1 s: a and b join the line
    p.advance(secs(29));
    p.timeout();
    let probes = p.spawns();
    assert_eq!(probes.len(), 1, "one probe, the head of the line");
    assert_eq!(probes[0].1, "c");
    assert!(matches!(
        p.q.stats().breaker,
        BreakerStatus::Probing { probe: Some(_) }
    ));
    p.advance(secs(5));
    p.timeout();
    assert!(p.commands().contains(&Command::BreakerClosed));
    let rest: Vec<_> = p.spawns().into_iter().map(|s| s.1).collect();
    assert_eq!(rest, ["a", "b"], "the line starts again, in order");
}

#[test]
fn a_probe_that_fails_fast_doubles_the_cooldown_up_to_its_cap() {
    let mut p = breaker_pair(1);
    p.message("a");
    let a = p.spawned_run("a");
    crash(&mut p, a);
    p.message("b");
    let b = p.spawned_run("b");
    crash(&mut p, b);
    assert_eq!(opened(&p).map(|o| o.1), Some(secs(30)));
    let mut cooldowns = Vec::new();
    while cooldowns.len() < 3 {
        p.advance_to_next_deadline();
        // Retries come due before the cooldown ends: nothing starts.
        if let Some(&(probe, ..)) = p.spawns().first() {
            crash(&mut p, probe);
            cooldowns.push(opened(&p).map(|o| o.1));
        }
    }
    assert_eq!(
        cooldowns,
        [Some(secs(60)), Some(secs(100)), Some(secs(100))],
        "doubling, capped at max_cooldown"
    );
}

#[test]
fn runs_closed_by_the_core_or_slow_to_fail_do_not_count() {
    let (mut p, a, b) = two_runs();
    p.advance(secs(6));
    crash(&mut p, a);
    p.accept(groupq::CloseRun { group: "b" });
    crash(&mut p, b);
    assert_eq!(opened(&p), None);
    assert_eq!(p.q.stats().breaker, BreakerStatus::Closed);
}

#[test]
fn shutdown_ends_an_open_breaker_and_hands_back_the_work() {
    let (mut p, a, b) = two_runs();
    crash(&mut p, a);
    crash(&mut p, b);
    assert!(p.task("c", 7, "t7"));
    let report = p.shutdown();
    assert!(report
        .groups
        .iter()
        .any(|g| g.group == "c" && g.jobs == [task(7, "t7")]));
    assert_eq!(p.q.stats().breaker, BreakerStatus::Closed);
    assert!(p
        .commands()
        .iter()
        .all(|c| !matches!(c, Command::BreakerClosed)));
}

// ---- judged from the outputs alone ------------------------------------------

mod outputs_alone {
    use std::collections::{BTreeMap, BTreeSet};

    use super::ms;
    use groupq::{Breaker, Command, Config, Debounce, Exit, Input, Response, RunId, Time, Work};
    use proptest::prelude::*;

    use crate::common::bare::{step, M};

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(
            std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(128)
        ))]

        /// With a slot for every group and runs that end at once, each
        /// messages run starts exactly when its burst ends: the last
        /// message plus `quiet`, or the first plus `max_wait`, whichever
        /// is first; never before, never later.
        #[test]
        fn a_messages_run_starts_exactly_when_its_burst_ends(
            quiet in 1u64..=500,
            extra in 0u64..=1_000,
            messages in prop::collection::vec((0u8..3, 0u64..=400), 1..60),
        ) {
            let config = Config::default()
                .with_max_active(3)
                .with_debounce(Some(Debounce::new(ms(quiet), ms(quiet + extra))));
            let mut q = M::new(config).unwrap();
            let mut now = Time::ZERO;
            // Per group, the burst in progress: (first, last message).
            let mut burst: BTreeMap<u8, (Time, Time)> = BTreeMap::new();
            let mut starts = 0;
            let fire_until = |q: &mut M, until: Time, burst: &mut BTreeMap<u8, (Time, Time)>, starts: &mut usize| {
                while let Some(at) = q.next_deadline().filter(|&at| at <= until) {
                    let (_, commands) = step(q, at, Input::Timeout);
                    for c in commands {
                        let Command::Spawn { run, group, work } = c else { continue };
                        prop_assert_eq!(work, Work::Messages);
                        let (first, last) = burst.remove(&group).expect("a burst");
                        let due = (last + ms(quiet)).min(first + ms(quiet + extra));
                        prop_assert_eq!(at, due, "group {} started at {} for a burst due at {}", group, at, due);
                        *starts += 1;
                        step(q, at, Input::Exited { run, exit: Exit::Clean });
                    }
                }
                Ok(())
            };
            for (group, gap) in messages {
                let at = now + ms(gap);
                fire_until(&mut q, at, &mut burst, &mut starts)?;
                now = at;
                step(&mut q, now, Input::Message { group });
                burst.entry(group).and_modify(|b| b.1 = now).or_insert((now, now));
            }
            fire_until(&mut q, Time::MAX, &mut burst, &mut starts)?;
            prop_assert!(burst.is_empty(), "bursts left without a run: {:?}", burst);
            prop_assert!(starts > 0);
        }

        /// Agents crash at once for a while, then recover: the breaker
        /// opens and closes as it likes, but every accepted task still runs
        /// exactly once, and everything is done in the end.
        #[test]
        fn the_breaker_never_loses_work(
            max_active in 1usize..=3,
            tasks in prop::collection::vec((0u8..4, 0u64..=300), 1..40),
            crashing_until in 0u64..=20_000,
        ) {
            let breaker = Breaker::default()
                .with_fast_failure(ms(1_000))
                .with_threshold(2, ms(10_000))
                .with_cooldown(ms(2_000), ms(8_000));
            let config = Config::default().with_max_active(max_active).with_breaker(Some(breaker));
            let mut d = Agents {
                q: M::new(config).unwrap(),
                now: Time::ZERO,
                crashing_until: Time::from_millis(crashing_until),
                live: Vec::new(),
                started: BTreeMap::new(),
            };
            let mut accepted = BTreeSet::new();
            for (id, (group, gap)) in tasks.into_iter().enumerate() {
                let id = id as u32;
                d.now += ms(gap);
                let answer = d.send(Input::Task { group, id, payload: id });
                prop_assert_eq!(answer, Response::Queued);
                accepted.insert(id);
                d.settle();
            }
            // Drive to the end: exits, then deadlines, until nothing is left.
            for _ in 0..10_000 {
                if d.q.is_quiescent() {
                    break;
                }
                if d.live.is_empty() {
                    let at = d.q.next_deadline().expect("work left without a deadline");
                    d.now = d.now.max(at);
                    d.send(Input::Timeout);
                } else {
                    d.settle();
                }
            }
            prop_assert!(d.q.is_quiescent(), "work left: {:?}", d.q.stats());
            let ran: BTreeSet<u32> = d.started.keys().copied().collect();
            prop_assert_eq!(&ran, &accepted, "every accepted task ran");
            prop_assert!(d.started.values().all(|&n| n == 1), "a task ran twice: {:?}", d.started);
        }
    }

    /// Agents that crash at once until `crashing_until`, then work.
    struct Agents {
        q: M,
        now: Time,
        crashing_until: Time,
        live: Vec<RunId>,
        /// Spawns per task id, from the commands.
        started: BTreeMap<u32, u32>,
    }

    impl Agents {
        fn send(&mut self, input: Input<u8, u32, u32>) -> Response<u8, u32, u32> {
            let (answer, commands) = step(&mut self.q, self.now, input);
            for c in commands {
                if let Command::Spawn {
                    run,
                    work: Work::Task { id, .. },
                    ..
                } = c
                {
                    *self.started.entry(id).or_default() += 1;
                    self.live.push(run);
                }
            }
            answer
        }

        /// Every live run ends 100 ms on: failed while the agents crash,
        /// cleanly after.
        fn settle(&mut self) {
            self.now += ms(100);
            let exit = match self.now < self.crashing_until {
                true => Exit::Failed,
                false => Exit::Clean,
            };
            for run in std::mem::take(&mut self.live) {
                self.send(Input::Exited { run, exit });
            }
        }
    }
}
