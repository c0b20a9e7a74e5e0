//! Exhaustive bounded exploration: breadth-first search over every input
//! sequence from a small alphabet, for a few small configurations.
//!
//! The alphabet, at every state: a message, a pipe and a task with each of
//! two ids for every group; for every live run idle, a turn output reaching
//! the auto-compact threshold, a failed turn, a clean exit and a failed
//! exit; a timeout at the next deadline; shutdown. Rejected inputs are probed
//! at every state too (a stale run's exit, time going backwards, work after
//! shutdown): they must change nothing (P9) and lead nowhere new.
//!
//! Every transition goes through the invariant checker (one per path,
//! cloned along with the machine: P1–P12), through the reference model (the
//! same answer and commands), and through a second machine with a different
//! hasher (byte-identical outputs: P13). States are deduplicated on the
//! machine's `Debug` rendering with times made relative to `now` and
//! monotonic counters (run ids, timer order, line tickets) replaced by their
//! rank, so that equal futures are explored once.
//!
//! The default depth keeps `cargo test` (debug) fast; set
//! `GROUPQ_EXHAUSTIVE_EXTRA_DEPTH` to search that many inputs deeper, e.g.
//! `GROUPQ_EXHAUSTIVE_EXTRA_DEPTH=2 cargo test --release --test exhaustive -- --nocapture`.

mod support;

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::time::Duration;

use groupq::{
    Background, Breaker, Command, Config, ContextStats, Debounce, Exit, Input, Output, Policy,
    Response, RunId, Time, TurnReport,
};
use groupq_check::Checker;

use support::gen::{self, In, Q};
use support::model::Model;

/// A second machine: its maps get other `RandomState` keys, so any output
/// that depended on hashing would differ between the two.
type Twin = Q;

/// One explored state, reached by the path ending at `path`.
#[derive(Clone)]
struct Node {
    q: Q,
    twin: Twin,
    model: Model<u8, u8, u32>,
    checker: Checker<u8, u8, u32>,
    /// Live runs in spawn order, and runs that exited.
    live: Vec<RunId>,
    exited: Vec<RunId>,
    depth: usize,
    /// Index of the last step of the path in the path arena.
    path: usize,
}

/// The inputs of a path, stored once: (parent, time, input).
struct Paths(Vec<(usize, Time, In)>);

impl Paths {
    fn render(&self, mut at: usize) -> String {
        let mut steps = Vec::new();
        while at != 0 {
            let (parent, t, input) = &self.0[at];
            steps.push(format!("  at {t}: {input:?}"));
            at = *parent;
        }
        steps.reverse();
        steps.join("\n")
    }
}

/// A turn output that reaches both thresholds, with a delivered reply.
fn threshold_output() -> TurnReport {
    TurnReport::delivered_reply().with_context(ContextStats {
        percent: Some(80),
        ..ContextStats::default()
    })
}

/// Every input of the alphabet at this state, and the time it is given at.
fn alphabet(node: &Node, groups: u8) -> Vec<(Time, In)> {
    let now = node.q.now();
    let mut inputs = Vec::new();
    for group in 0..groups {
        inputs.push(Input::Message { group });
        inputs.push(Input::Pipe { group });
        inputs.push(Input::Pause { group });
        inputs.push(Input::Resume { group });
        inputs.push(Input::CloseRun { group });
        inputs.push(Input::Cancel { group, id: 0 });
        for id in 0..2 {
            let payload = u32::from(group) * 10 + u32::from(id);
            inputs.push(Input::Task { group, id, payload });
        }
        // Background tasks only where the configuration is about them, so
        // the other searches keep their space.
        if node.q.config().background() != Background::default() {
            for skip_if_active in [false, true] {
                let payload = u32::from(group) * 10 + 5 + u32::from(skip_if_active);
                inputs.push(Input::BackgroundTask {
                    group,
                    id: 2 + u8::from(skip_if_active),
                    payload,
                    skip_if_active,
                });
            }
        }
    }
    // The operator toggles the slots between one and two (so every
    // configuration sees its limit lowered below its live runs), and a cap
    // of one queued task per group.
    let limits = node.q.config().limits();
    let other = if limits.max_active == 1 { 2 } else { 1 };
    inputs.push(Input::SetLimits {
        limits: limits.with_max_active(other),
    });
    let cap = match limits.max_group_tasks {
        None => Some(1),
        Some(_) => None,
    };
    inputs.push(Input::SetLimits {
        limits: limits.with_max_group_tasks(cap),
    });
    for &run in &node.live {
        inputs.push(Input::Idle { run });
        inputs.push(Input::Heartbeat { run });
        inputs.push(Input::Turn {
            run,
            report: threshold_output(),
        });
        inputs.push(Input::Turn {
            run,
            report: TurnReport::error(),
        });
        inputs.push(Input::Exited {
            run,
            exit: Exit::Clean,
        });
        inputs.push(Input::Exited {
            run,
            exit: Exit::Failed,
        });
        inputs.push(Input::Exited {
            run,
            exit: Exit::Fatal,
        });
        inputs.push(Input::Exited {
            run,
            exit: Exit::RetryAfter(Duration::from_millis(500)),
        });
    }
    // Probes that must be rejected.
    if let Some(&run) = node.exited.last() {
        inputs.push(Input::Exited {
            run,
            exit: Exit::Clean,
        });
    }
    inputs.push(Input::Shutdown);
    let mut timed: Vec<(Time, In)> = inputs.into_iter().map(|i| (now, i)).collect();
    if let Some(at) = node.q.next_deadline() {
        timed.push((at.max(now), Input::Timeout));
    }
    if now > Time::ZERO {
        timed.push((Time::from_nanos(now.as_nanos() - 1), Input::Timeout));
    }
    timed
}

/// The machine's `Debug` rendering with every absolute or ever-growing
/// number made relative: times to `now`, run ids to the next run id, timer
/// order and line tickets to their rank. Two states with equal forms have
/// equal futures, up to a shift in time and a renaming of runs.
fn canonical(q: &Q) -> String {
    let text = format!("{q:?}");
    let fields = ["Time(", "RunId(", "seq: ", "ticket: ", "next_id: "];
    // Pass 1: the numbers after each field name, in order.
    let mut found: Vec<(usize, usize, &str, u64)> = Vec::new(); // (start, end, field, value)
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let field = fields.iter().find(|f| text[i..].starts_with(**f));
        match field {
            Some(f) => {
                let start = i + f.len();
                let end = start
                    + bytes[start..]
                        .iter()
                        .take_while(|b| b.is_ascii_digit())
                        .count();
                let value = text[start..end].parse().expect("a number after the field");
                found.push((start, end, f, value));
                i = end;
            }
            None => i += 1,
        }
    }
    let now = q.now().as_nanos();
    let next_run = found
        .iter()
        .find(|f| f.2 == "next_id: ")
        .expect("next_id in Debug")
        .3;
    let rank = |field: &str, v: u64| {
        let mut all: Vec<u64> = found.iter().filter(|f| f.2 == field).map(|f| f.3).collect();
        all.sort_unstable();
        all.dedup();
        all.binary_search(&v).expect("present")
    };
    // Pass 2: rewrite.
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for &(start, end, field, value) in &found {
        out.push_str(&text[last..start]);
        let rewritten = match field {
            "Time(" => format!("{:+}", i128::from(value) - i128::from(now)),
            "RunId(" => format!("-{}", next_run - value),
            "next_id: " => String::new(),
            _ => format!("#{}", rank(field, value)),
        };
        out.push_str(&rewritten);
        last = end;
    }
    out.push_str(&text[last..]);
    out
}

fn fingerprint(s: &str) -> (u64, u64) {
    let mut a = DefaultHasher::new();
    s.hash(&mut a);
    let mut b = DefaultHasher::new();
    (s, 0x5eed_u32).hash(&mut b);
    (a.finish(), b.finish())
}

fn normalize(answer: gen::Answer) -> gen::Answer {
    answer.map(|r| match r {
        Response::ShutDown(mut report) => {
            report.groups.sort_by_key(|g| g.group);
            Response::ShutDown(report)
        }
        other => other,
    })
}

struct Explored {
    states: usize,
    transitions: usize,
    rejected: usize,
    spawns: usize,
    /// Closes, by reason, and kills the search saw.
    closes: std::collections::BTreeMap<String, usize>,
    kills: usize,
    /// Breaker openings and closings the search saw.
    breaker: (usize, usize),
    /// Background tasks skipped, background runs started, and states
    /// with a background group waiting at its cap beside a free slot.
    background: (usize, usize, usize),
}

/// Breadth-first search to `depth` inputs from the empty machine.
fn explore(config: Config, groups: u8, depth: usize) -> Explored {
    let root = Node {
        q: Q::new(config.clone()).unwrap(),
        twin: Twin::new(config.clone()).unwrap(),
        model: Model::new(config.clone()),
        checker: Checker::new(&config),
        live: Vec::new(),
        exited: Vec::new(),
        depth: 0,
        path: 0,
    };
    let mut paths = Paths(vec![(0, Time::ZERO, Input::Timeout)]);
    let mut seen: HashSet<(u64, u64)> = HashSet::new();
    seen.insert(fingerprint(&canonical(&root.q)));
    let mut queue = VecDeque::from([root]);
    let mut explored = Explored {
        states: 1,
        transitions: 0,
        rejected: 0,
        spawns: 0,
        closes: Default::default(),
        kills: 0,
        breaker: (0, 0),
        background: (0, 0, 0),
    };
    while let Some(node) = queue.pop_front() {
        for (at, input) in alphabet(&node, groups) {
            explored.transitions += 1;
            let mut next = node.clone();
            let (answer, outputs) = gen::run_step(&mut next.q, at, input.clone());
            let (twin_answer, twin_outputs) = gen::run_step(&mut next.twin, at, input.clone());
            let (model_answer, model_commands) = next.model.handle(at, input.clone());
            let fail = |paths: &Paths, what: String| -> ! {
                panic!(
                    "{what}\nconfig: {config:?}\npath:\n{}\n  at {at}: {input:?}",
                    paths.render(node.path)
                )
            };
            let wake = next.q.next_deadline();
            if let Err(v) = next.checker.step(at, &input, &answer, &outputs, wake) {
                fail(&paths, format!("checker: {v}"));
            }
            if format!("{answer:?}{outputs:?}") != format!("{twin_answer:?}{twin_outputs:?}") {
                fail(&paths, "P13: outputs differ between hashers".into());
            }
            if normalize(answer.clone()) != normalize(model_answer) {
                fail(
                    &paths,
                    format!("answer {answer:?} differs from the model's"),
                );
            }
            if gen::commands(&outputs) != model_commands {
                fail(
                    &paths,
                    format!("commands {outputs:?} differ from the model's {model_commands:?}"),
                );
            }
            if answer.is_err() {
                explored.rejected += 1;
                if next.q != node.q || !outputs.is_empty() {
                    fail(&paths, "P9: a rejected input changed the machine".into());
                }
                continue;
            }
            for o in &outputs {
                if let Output::Command(Command::Spawn { run, .. }) = o {
                    next.live.push(*run);
                    explored.spawns += 1;
                }
                match o {
                    Output::Command(Command::CloseInput { reason, .. }) => {
                        *explored.closes.entry(format!("{reason:?}")).or_default() += 1;
                    }
                    Output::Command(Command::Kill { .. }) => explored.kills += 1,
                    Output::Command(Command::BreakerOpened { .. }) => explored.breaker.0 += 1,
                    Output::Command(Command::BreakerClosed) => explored.breaker.1 += 1,
                    _ => {}
                }
            }
            let (before, after) = (node.q.stats(), next.q.stats());
            explored.background.0 += usize::from(matches!(answer, Ok(Response::Skipped)));
            explored.background.1 += after.background_runs.saturating_sub(before.background_runs);
            explored.background.2 +=
                usize::from(after.waiting_background > 0 && after.free_slots > 0);
            if let Input::Exited { run, .. } = input {
                next.live.retain(|r| *r != run);
                next.exited.push(run);
            }
            if seen.insert(fingerprint(&canonical(&next.q))) {
                explored.states += 1;
                next.depth += 1;
                if next.depth < depth {
                    paths.0.push((node.path, at, input));
                    next.path = paths.0.len() - 1;
                    queue.push_back(next);
                }
            }
        }
    }
    explored
}

/// Extra depth for every search: `GROUPQ_EXHAUSTIVE_EXTRA_DEPTH`, else 0.
fn extra_depth() -> usize {
    std::env::var("GROUPQ_EXHAUSTIVE_EXTRA_DEPTH")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn config(max_active: usize, policy: Policy) -> Config {
    Config::default()
        .with_max_active(max_active)
        .with_policy(policy)
        .with_retry_base(Duration::from_secs(1))
        .with_max_retries(1)
        .with_idle_timeout(Duration::from_secs(3))
        .with_kill_grace(Duration::from_secs(1))
        .with_max_turn_time(Duration::from_secs(4))
        .with_max_compact_time(Duration::from_secs(2))
        .with_stall_timeout(Some(Duration::from_secs(2)))
        .with_start_grace(Duration::from_secs(1))
        .with_shutdown_grace(Duration::from_secs(1))
}

/// Explores one configuration to `depth` inputs (plus the extra depth asked
/// for) and checks the search did not shrink: a broken alphabet or
/// canonical form cannot pass silently. `at_least` is the count recorded at
/// the default depth; a change of the core that legitimately shrinks the
/// reachable space (fewer timers, say) must re-record it, and say why.
fn exhaust(config: Config, groups: u8, depth: usize, at_least: usize) {
    let extra = extra_depth();
    let e = explore(config.clone(), groups, depth + extra);
    println!(
        "{groups} groups, {} slot(s), {:?}: depth {}: {} distinct states, {} transitions ({} rejected), {} spawns, {} kills, closes {:?}",
        config.max_active(),
        config.policy(),
        depth + extra,
        e.states,
        e.transitions,
        e.rejected,
        e.spawns,
        e.kills,
        e.closes
    );
    // The lifecycle is inside the searched space, not beside it.
    assert!(e.kills > 0, "no kill within depth {}", depth + extra);
    if config.breaker().is_some() {
        println!(
            "breaker opened {} and closed {} times",
            e.breaker.0, e.breaker.1
        );
        assert!(
            e.breaker.0 > 0 && e.breaker.1 > 0,
            "the breaker never opened and closed"
        );
    }
    if config.background() != Background::default() {
        let (skipped, started, at_cap) = e.background;
        println!("background: {skipped} skipped, {started} started, {at_cap} waiting at the cap beside a free slot");
        assert!(
            skipped > 0 && started > 0 && at_cap > 0,
            "background work not inside the searched space: {:?}",
            e.background
        );
    }
    let mut reasons = vec![
        "Preempt",
        "IdleTimeout",
        "TurnTimeout",
        "Stalled",
        "Shutdown",
        "LimitLowered",
    ];
    if config.evict_idle() && usize::from(groups) > config.max_active() {
        reasons.push("Evicted");
    }
    for reason in reasons {
        assert!(
            e.closes.contains_key(reason),
            "no {reason} close: {:?}",
            e.closes
        );
    }
    assert!(
        e.states >= at_least,
        "only {} states at depth {}, expected at least {at_least}",
        e.states,
        depth + extra
    );
}

#[test]
fn two_groups_one_slot_every_state_within_depth_6_is_checked() {
    exhaust(config(1, Policy::Fair), 2, 6, 147_483);
}

#[test]
fn two_groups_two_slots_every_state_within_depth_5_is_checked() {
    exhaust(config(2, Policy::Fair), 2, 5, 69_260);
}

#[test]
fn three_groups_one_slot_fair_every_state_within_depth_5_is_checked() {
    exhaust(config(1, Policy::Fair), 3, 5, 155_578);
}

#[test]
fn three_groups_one_slot_legacy_every_state_within_depth_5_is_checked() {
    exhaust(
        config(1, Policy::Legacy).with_evict_idle(false),
        3,
        5,
        159_168,
    );
}

#[test]
fn three_groups_two_slots_every_state_within_depth_4_is_checked() {
    exhaust(config(2, Policy::Fair), 3, 4, 40_448);
}

/// Debounce and the breaker on together: a burst waits for its quiet
/// period (time moves only by timeouts, so the maximum wait is reached
/// too), and a failed exit at once is a fast failure, which opens the
/// breaker (one group is enough here: two would need the probe's closing
/// beyond depth 6; the proptests and the model cover distinct groups); the
/// probe, its doubling and its closing are inside the searched space.
#[test]
fn two_groups_one_slot_with_debounce_and_breaker_every_state_within_depth_6_is_checked() {
    let breaker = Breaker::default()
        .with_fast_failure(Duration::from_secs(1))
        .with_threshold(1, Duration::from_secs(10))
        .with_cooldown(Duration::from_secs(1), Duration::from_secs(2));
    let config = config(1, Policy::Fair)
        .with_debounce(Some(Debounce::new(
            Duration::from_secs(1),
            Duration::from_secs(2),
        )))
        .with_breaker(Some(breaker));
    exhaust(config, 2, 6, 167_540);
}

/// Background tasks: two groups sharing two slots with at most one
/// background run, aging 1 and a skip window, so that background work
/// waits behind a conversation, is passed over once, waits at its cap
/// with a slot free, gives way to a message when idle, moves lanes when a
/// conversation arrives or its last normal job is cancelled, and is
/// skipped while the conversation is active or just ended.
#[test]
fn two_groups_two_slots_with_background_tasks_every_state_within_depth_5_is_checked() {
    let background = Background::default()
        .with_aging(1)
        .with_max_running(Some(1))
        .with_skip_window(Some(Duration::from_secs(2)));
    let config = config(2, Policy::Fair).with_background(background);
    exhaust(config, 2, 5, 256_447);
}

/// The canonical form forgets what only grows (time, run ids, timer order)
/// and keeps what matters: the same situation reached again later has the
/// same form, a different situation a different one. Without this the
/// search would never merge states, or would merge distinct ones.
#[test]
fn canonical_form_forgets_time_and_run_ids_but_not_state() {
    let mut q = Q::new(config(1, Policy::Fair)).unwrap();
    let mut forms = Vec::new();
    let mut busy = Vec::new();
    for i in 0..3 {
        let t = Time::from_secs(10 * i);
        let run = RunId::new(i + 1);
        gen::run_step(&mut q, t, Input::Message { group: 0 })
            .0
            .unwrap();
        busy.push(canonical(&q));
        let reply = TurnReport::delivered_reply();
        gen::run_step(&mut q, t, Input::Turn { run, report: reply })
            .0
            .unwrap();
        forms.push(canonical(&q));
        let exit = Exit::Clean;
        gen::run_step(&mut q, t, Input::Exited { run, exit })
            .0
            .unwrap();
    }
    assert_eq!(forms[0], forms[1]);
    assert_eq!(forms[1], forms[2]);
    assert_eq!(busy[1], busy[2]);
    assert_ne!(busy[2], forms[2], "a busy run and an idle one merged");
}
