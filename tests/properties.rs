//! Property tests: random configurations and random input sequences of up to
//! a few hundred steps, every step through the invariant checker
//! (`groupq::check`), every rejected input proven to change nothing (P9).
//!
//! Each property runs 1,000 cases by default; `PROPTEST_CASES=100000 cargo
//! test --release --test properties` runs 100,000.

mod support;

use groupq::{
    Command, ConfigError, Error, Input, Output, PipeRefusal, Response, RunId, Time, Work,
};
use groupq_check::Checker;
use proptest::prelude::*;

use support::gen::{self, Answer, Harness, In, Out, Payload, Step, Q};

/// The groups a sequence uses, then the sequence.
fn scenario(shutdown: u32, max_len: usize) -> impl Strategy<Value = (u8, Vec<Step>)> {
    (1u8..=6).prop_flat_map(move |groups| (Just(groups), gen::steps(groups, shutdown, max_len)))
}

/// One checked step: handle, drain, check the output stream's shape, prove
/// a rejection changed nothing, and run the checker.
fn checked_step(
    q: &mut Q,
    checker: &mut Checker<u8, u8, Payload>,
    at: Time,
    input: &In,
) -> Result<(Answer, Vec<Out>), TestCaseError> {
    let before = q.clone();
    let (answer, outputs) = gen::run_step(q, at, input.clone());
    prop_assert!(q.poll().is_none(), "the step drained every output");
    if !q.config().records() {
        prop_assert!(
            !outputs.iter().any(|o| matches!(o, Output::Record(_))),
            "records while records are off"
        );
    }
    if let Err(e) = &answer {
        // P9: a rejected input changes nothing and produces nothing.
        prop_assert!(*q == before, "rejected input ({}) changed the machine", e);
        prop_assert!(
            outputs.is_empty(),
            "rejected input ({}) produced outputs",
            e
        );
    }
    if let Err(v) = checker.step(at, input, &answer, &outputs, q.next_deadline()) {
        return Err(TestCaseError::fail(format!("{v}\ninput: {input:?}")));
    }
    Ok((answer, outputs))
}

proptest! {
    #![proptest_config(gen::proptest_config(1_000))]

    /// P1–P12 on every step of random sequences (the checker), P9 on every
    /// rejected input, and early timeouts do nothing (B10).
    #[test]
    fn every_step_keeps_the_invariants_and_rejections_change_nothing(
        config in gen::config(),
        (groups, steps) in scenario(1, 300),
    ) {
        let mut q = Q::new(config.clone()).unwrap();
        let mut checker = Checker::new(&config);
        let mut h = Harness::new();
        for step in &steps {
            let (at, input) = h.resolve(step, q.next_deadline());
            let early_timeout = matches!(input, Input::Timeout)
                && at >= h.now
                && q.next_deadline().map_or(true, |d| d > at);
            let view = |q: &Q| {
                let explained: Vec<_> = (0..groups).map(|g| q.explain(&g)).collect();
                (explained, q.stats(), q.next_deadline())
            };
            let seen = view(&q);
            // A refused task answers and changes nothing; only the clock
            // moves when it came later, so the whole machine is compared
            // for tasks at the machine's own time.
            let task = matches!(input, Input::Task { .. } | Input::BackgroundTask { .. });
            let before = (task && at == q.now()).then(|| q.clone());
            let (answer, outputs) = checked_step(&mut q, &mut checker, at, &input)?;
            if early_timeout {
                prop_assert!(outputs.is_empty(), "an early timeout produced outputs");
                prop_assert_eq!(view(&q), seen.clone(), "an early timeout changed the machine");
            }
            if matches!(answer, Ok(Response::TaskRefused(_) | Response::Skipped)) {
                prop_assert!(outputs.is_empty(), "a refused task produced outputs");
                match &before {
                    Some(before) => prop_assert!(*before == q, "a refused task changed the machine"),
                    None => prop_assert_eq!(view(&q), seen, "a refused task changed the machine"),
                }
            }
            h.observe(at, &input, &answer, &outputs);
        }
    }

    /// P2 under live limits, from the outputs alone: counting the live
    /// runs from `Spawn` and the exits the harness sent, no `Spawn` ever
    /// leaves more runs live than the limit in force, the last one set.
    #[test]
    fn a_lowered_limit_is_never_exceeded_by_a_run_started_after_it(
        config in gen::config(),
        (_groups, steps) in scenario(1, 300),
    ) {
        let mut q = Q::new(config.clone()).unwrap();
        let mut checker = Checker::new(&config);
        let mut h = Harness::new();
        let mut limit = config.max_active();
        for step in &steps {
            let (at, input) = h.resolve(step, q.next_deadline());
            let (answer, outputs) = checked_step(&mut q, &mut checker, at, &input)?;
            let mut live = h.live.len();
            if let (Ok(_), Input::Exited { run, .. } | Input::NeverLaunched { run, .. }) =
                (&answer, &input)
            {
                live -= usize::from(h.live.contains(run));
            }
            if let (Ok(_), Input::SetLimits { limits }) = (&answer, &input) {
                limit = limits.max_active;
            }
            for o in &outputs {
                if let Output::Command(Command::Spawn { run, .. }) = o {
                    live += 1;
                    prop_assert!(live <= limit, "{run} made {live} live, limit {limit}");
                }
            }
            h.observe(at, &input, &answer, &outputs);
        }
    }

    /// Inputs the adapter could never legally send (stale and unknown run
    /// ids, time going backwards, work or a second shutdown after shutdown,
    /// pipes after shutdown) are rejected with exactly the typed error the
    /// contract names, and change nothing (P9). Valid run inputs are never
    /// rejected.
    #[test]
    fn invalid_inputs_get_their_typed_error_and_change_nothing(
        config in gen::config(),
        (_groups, steps) in scenario(6, 300),
    ) {
        let mut q = Q::new(config.clone()).unwrap();
        let mut checker = Checker::new(&config);
        let mut h = Harness::new();
        let (mut rejected, mut accepted) = (0u32, 0u32);
        for step in &steps {
            let (at, input) = h.resolve(step, q.next_deadline());
            let run_error = |run: RunId| {
                if h.live.contains(&run) {
                    None
                } else if run.get() == 0 || run.get() >= h.next_run {
                    Some(Error::UnknownRun(run))
                } else {
                    Some(Error::StaleRun(run))
                }
            };
            let expected: Option<Option<Error>> = if at < h.now {
                Some(Some(Error::TimeWentBackwards { now: at, last: h.now }))
            } else {
                match &input {
                    Input::Message { .. }
                    | Input::Task { .. }
                    | Input::BackgroundTask { .. }
                    | Input::Pause { .. }
                    | Input::Resume { .. }
                    | Input::Shutdown => Some(h.shut_down.then_some(Error::ShutDown)),
                    Input::SetLimits { limits } => Some(if h.shut_down {
                        Some(Error::ShutDown)
                    } else {
                        (limits.max_active == 0)
                            .then_some(Error::InvalidConfig(ConfigError::ZeroMaxActive))
                    }),
                    // Pipes are answered, never rejected (but for time);
                    // which refusal depends on the run: the checker judges.
                    Input::Pipe { .. } => Some(None),
                    Input::Idle { run }
                    | Input::Heartbeat { run }
                    | Input::Turn { run, .. }
                    | Input::Exited { run, .. } => Some(run_error(*run)),
                    Input::NeverLaunched { run, work } => Some(run_error(*run).or_else(|| {
                        (h.works.get(run) != Some(work)).then_some(Error::WorkMismatch(*run))
                    })),
                    _ => Some(None),
                }
            };
            let (answer, outputs) = checked_step(&mut q, &mut checker, at, &input)?;
            if matches!(input, Input::Pipe { .. }) && h.shut_down && at >= h.now {
                prop_assert_eq!(&answer, &Ok(Response::PipeRefused(PipeRefusal::ShutDown)));
            }
            match (expected, &answer) {
                (Some(Some(e)), got) => prop_assert_eq!(got.as_ref().err(), Some(&e)),
                (Some(None), got) => prop_assert!(got.is_ok(), "valid input rejected: {:?}", got),
                (None, _) => {}
            }
            if answer.is_err() { rejected += 1 } else { accepted += 1 }
            h.observe(at, &input, &answer, &outputs);
        }
        // Keep the generator honest: long sequences see both outcomes.
        if steps.len() >= 200 {
            prop_assert!(rejected > 0 && accepted > 0, "{rejected} rejected, {accepted} accepted");
        }
    }

    /// P4 end to end, by payload: every accepted task is spawned exactly
    /// once or handed back in the shutdown report, a deduplicated one never
    /// runs, and once every run has exited and every deadline fired the
    /// machine holds nothing (B12) and shutdown has nothing to report.
    #[test]
    fn every_accepted_task_runs_exactly_once_or_is_reported(
        config in gen::config(),
        (groups, steps) in scenario(1, 300),
    ) {
        let mut q = Q::new(config.clone()).unwrap();
        let mut checker = Checker::new(&config);
        let mut h = Harness::new();
        let (mut accepted, mut deduplicated) = (Vec::new(), Vec::new());
        let mut handed_back: Vec<Payload> = Vec::new();
        let mut note = |input: &In, answer: &Answer, outputs: &[Out]| {
            if let Input::Task { payload, .. } | Input::BackgroundTask { payload, .. } = input {
                match answer {
                    Ok(Response::Queued) => accepted.push(*payload),
                    Ok(Response::Duplicate) => deduplicated.push(*payload),
                    _ => {}
                }
            }
            // A task whose run never launched counts once: its first
            // Spawn is undone by the requeue, the next Spawn counts it.
            if let (
                Input::NeverLaunched { work: Work::Task { payload, .. }, .. },
                Ok(Response::Requeue(groupq::Requeue::Requeued)),
            ) = (input, answer)
            {
                let at = handed_back.iter().position(|p| p == payload);
                handed_back.remove(at.expect("a task never launched was spawned"));
            }
            if let Ok(Response::Cancel(groupq::CancelAnswer::Cancelled(payload))) = answer {
                handed_back.push(*payload);
            }
            if let Ok(Response::ShutDown(report)) = answer {
                for pg in &report.groups {
                    for w in &pg.jobs {
                        if let Work::Task { payload, .. } = w {
                            handed_back.push(*payload);
                        }
                    }
                    handed_back.extend(pg.background_tasks.iter().map(|(_, payload)| *payload));
                }
            }
            for o in outputs {
                if let Output::Command(Command::Spawn { work: Work::Task { payload, .. }, .. }) = o {
                    handed_back.push(*payload);
                }
            }
        };
        for step in &steps {
            let (at, input) = h.resolve(step, q.next_deadline());
            let (answer, outputs) = checked_step(&mut q, &mut checker, at, &input)?;
            note(&input, &answer, &outputs);
            h.observe(at, &input, &answer, &outputs);
        }
        // Finish everything: resume paused groups, exit runs cleanly and let
        // deadlines fire.
        if !h.shut_down {
            for group in 0..groups {
                let input: In = Input::Resume { group };
                let (answer, outputs) = checked_step(&mut q, &mut checker, h.now, &input)?;
                note(&input, &answer, &outputs);
                h.observe(h.now, &input, &answer, &outputs);
            }
        }
        let mut rounds = 0;
        loop {
            rounds += 1;
            prop_assert!(rounds < 10_000, "the machine never went quiet");
            let (at, input) = if let Some(&run) = h.live.first() {
                (h.now, Input::Exited { run, exit: groupq::Exit::Clean })
            } else if let Some(at) = q.next_deadline() {
                (at.max(h.now), Input::Timeout)
            } else {
                break;
            };
            let (answer, outputs) = checked_step(&mut q, &mut checker, at, &input)?;
            prop_assert!(answer.is_ok());
            note(&input, &answer, &outputs);
            h.observe(at, &input, &answer, &outputs);
        }
        if !h.shut_down {
            prop_assert_eq!(q.stats().tracked_groups, 0, "an idle machine holds groups");
            let input: In = Input::Shutdown;
            let (answer, outputs) = checked_step(&mut q, &mut checker, h.now, &input)?;
            match &answer {
                Ok(Response::ShutDown(report)) => prop_assert!(report.is_empty(), "{:?}", report),
                other => prop_assert!(false, "shutdown answered {:?}", other),
            }
            note(&input, &answer, &outputs);
        }
        let mut got = handed_back.clone();
        got.sort_unstable();
        let mut want = accepted.clone();
        want.sort_unstable();
        prop_assert_eq!(got, want, "spawned or reported payloads differ from accepted ones");
        for p in &deduplicated {
            prop_assert!(!handed_back.contains(p), "deduplicated payload {} ran", p);
        }
    }
}

/// The generators reach the interesting parts of the contract: the figures
/// are counts over a fixed sample, so a generator that silently stopped
/// producing some input cannot keep the properties green.
#[test]
fn generated_sequences_reach_every_kind_of_input_and_output() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config as RunnerConfig, RngAlgorithm, TestRng, TestRunner};

    let mut runner = TestRunner::new_with_rng(
        RunnerConfig::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    let strategy = (gen::config(), scenario(1, 300));
    let mut seen = std::collections::BTreeMap::<&'static str, u32>::new();
    for _ in 0..200 {
        let (config, (_, steps)) = strategy.new_tree(&mut runner).unwrap().current();
        let mut q = Q::new(config).unwrap();
        let mut h = Harness::new();
        for step in &steps {
            let (at, input) = h.resolve(step, q.next_deadline());
            let (answer, outputs) = gen::run_step(&mut q, at, input.clone());
            let mut count = |what| *seen.entry(what).or_default() += 1;
            match (&input, &answer) {
                (_, Err(Error::StaleRun(_))) => count("stale run"),
                (_, Err(Error::UnknownRun(_))) => count("unknown run"),
                (_, Err(Error::TimeWentBackwards { .. })) => count("time backwards"),
                (Input::Pipe { .. }, Ok(Response::Piped(_))) => count("pipe accepted"),
                (Input::Pipe { .. }, Ok(Response::PipeRefused(_))) => count("pipe refused"),
                (Input::Task { .. }, Ok(Response::Duplicate)) => count("deduplicated"),
                (Input::BackgroundTask { .. }, Ok(Response::Queued)) => count("background queued"),
                (Input::BackgroundTask { .. }, Ok(Response::Skipped)) => {
                    count("background skipped")
                }
                (Input::Shutdown, Ok(_)) => count("shutdown"),
                (_, Err(Error::ShutDown)) => count("after shutdown"),
                _ => {}
            }
            for o in &outputs {
                match o {
                    Output::Command(Command::Spawn { work, .. }) => count(match work {
                        Work::Messages => "spawn messages",
                        Work::Task { .. } => "spawn task",
                        Work::Compact => "spawn compact",
                    }),
                    Output::Command(Command::CloseInput { reason, .. }) => count(match reason {
                        groupq::CloseReason::Preempt => "close preempt",
                        groupq::CloseReason::IdleTimeout => "close idle",
                        _ => "close other",
                    }),
                    Output::Command(Command::Notify { .. }) => count("notify"),
                    Output::Command(Command::RollbackCursor { .. }) => count("rollback"),
                    Output::Command(Command::RecordCompaction { .. }) => count("record compaction"),
                    Output::Command(Command::TerminalFailure { .. }) => count("terminal failure"),
                    Output::Command(Command::BreakerOpened { .. }) => count("breaker opened"),
                    Output::Command(Command::BreakerClosed) => count("breaker closed"),
                    _ => {}
                }
            }
            if q.groups()
                .any(|g| q.explain(g).is_some_and(|e| e.debounced_until.is_some()))
            {
                *seen.entry("debouncing").or_default() += 1;
            }
            let stats = q.stats();
            if stats.background_runs > 0 {
                *seen.entry("background running").or_default() += 1;
            }
            if stats.waiting_background > 0 {
                *seen.entry("background waiting").or_default() += 1;
            }
            h.observe(at, &input, &answer, &outputs);
        }
    }
    println!("{seen:#?}");
    for what in [
        "breaker opened",
        "breaker closed",
        "debouncing",
        "background queued",
        "background skipped",
        "background running",
        "background waiting",
        "stale run",
        "unknown run",
        "time backwards",
        "pipe accepted",
        "pipe refused",
        "deduplicated",
        "shutdown",
        "after shutdown",
        "spawn messages",
        "spawn task",
        "spawn compact",
        "close preempt",
        "close idle",
        "notify",
        "rollback",
        "record compaction",
        "terminal failure",
    ] {
        let n = seen.get(what).copied().unwrap_or(0);
        assert!(n >= 20, "only {n} × {what} in 200 sequences: {seen:?}");
    }
}
