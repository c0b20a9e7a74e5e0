//! Random configurations and input sequences, and the harness that turns a
//! generated [`Step`] into a concrete input.
//!
//! Run ids are not generated directly: a [`Pick`] names an index into the
//! runs the harness has seen spawned and not yet exited (mostly), a run that
//! already exited, or an id never issued. Sequences therefore keep working
//! while proptest shrinks them.

use std::time::Duration;

use proptest::option;
use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;

use groupq::{
    Background, Breaker, Command, Compaction, CompactionTrigger, Config, ContextStats, Debounce,
    Error, Exit, Input, Limits, Machine, Output, Policy, Response, RunId, Steppable, Time,
    TurnReport, TurnStatus, Work,
};

/// Group key.
pub type G = u8;
/// Task id.
pub type Id = u8;
/// Task payload: unique per generated task, so a lost or doubled payload
/// cannot hide behind an equal one.
pub type Payload = u32;
/// The machine under test.
pub type Q = Machine<G, Id, Payload>;
/// One input as given to a machine.
pub type In = Input<G, Id, Payload>;
/// One output.
pub type Out = Output<G, Id, Payload>;
/// One answer.
pub type Answer = Result<Response<G, Id, Payload>, Error>;

/// Cases per property: `PROPTEST_CASES` when set, else `default`.
/// (`ProptestConfig::with_cases` would override the environment variable,
/// which only sets proptest's own default of 256.)
pub fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A proptest configuration with [`cases`] cases.
pub fn proptest_config(default_cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases: cases(default_cases),
        // Shrinking long sequences is slow in debug builds; a failure is
        // still reported with its minimal case found so far.
        max_shrink_iters: std::env::var("PROPTEST_MAX_SHRINK_ITERS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(4_096),
        ..ProptestConfig::default()
    }
}

/// How the clock moves before a step.
#[derive(Clone, Debug)]
pub enum Clock {
    /// Same instant as the previous input.
    Same,
    /// A few milliseconds later.
    Tick(u64),
    /// Far later (retries and idle timeouts become due together).
    Jump(u64),
    /// Exactly the next deadline (or the same instant if none).
    NextDeadline,
    /// Earlier than the previous input by this many milliseconds (at least 1
    /// nanosecond earlier, unless the clock is at zero).
    Back(u64),
}

/// Which run an input names.
#[derive(Clone, Debug)]
pub enum Pick {
    /// Index (modulo) into the live runs; an unknown id when none is live.
    Live(usize),
    /// Index (modulo) into the runs that exited; an unknown id when none did.
    Stale(usize),
    /// Never issued: `0` for run id zero, else that far past the last issued id.
    Unknown(u64),
}

/// A generated input, before run ids and time are resolved.
#[derive(Clone, Debug)]
pub enum Act {
    Message(G),
    Task(G, Id),
    /// A background task; `true`: skip it while the group is active.
    Background(G, Id, bool),
    Pipe(G),
    Idle(Pick),
    Heartbeat(Pick),
    Turn(Pick, TurnReport),
    Exit(Pick, Exit),
    /// The run never started: hand back its own work (`true`) or another.
    NeverLaunched(Pick, bool),
    Timeout,
    Shutdown,
    Cancel(G, Id),
    Pause(G),
    Resume(G),
    Close(G),
    /// The operator sets `max_active` (0 is rejected) and the task caps.
    Limits(usize, Option<usize>, Option<usize>),
}

/// One generated step.
#[derive(Clone, Debug)]
pub struct Step {
    pub clock: Clock,
    pub act: Act,
}

/// Random valid configurations: every knob, with small retry bases and idle
/// timeouts so that timers matter within a few hundred steps.
pub fn config() -> impl Strategy<Value = Config> {
    let thresholds = prop::sample::select(vec![0u8, 30, 50, 70, 75, 80, 100]);
    let lifecycle = (
        0u64..=100,
        20u64..=400,
        20u64..=400,
        option::weighted(0.3, 50u64..=800),
        option::weighted(0.3, 10u64..=200),
        0u64..=200,
        prop_oneof![3 => Just(0u64), 1 => 1u64..=300],
        prop::bool::weighted(0.8),
    );
    (
        (
            1usize..=8,
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            1u64..=50,
            0u32..=4,
            1u64..=300,
            thresholds.clone(),
            thresholds,
        ),
        lifecycle,
        (
            option::weighted(0.2, 0usize..=6),
            option::weighted(0.2, 0usize..=3),
        ),
        (
            option::weighted(0.25, (1u64..=100, 0u64..=200)),
            option::weighted(
                0.25,
                (
                    10u64..=1_000,
                    1usize..=3,
                    50u64..=2_000,
                    1u64..=200,
                    0u64..=400,
                ),
            ),
        ),
        (
            1u32..=4,
            option::weighted(0.3, 1usize..=2),
            option::weighted(0.3, 10u64..=500),
        ),
    )
        .prop_map(
            |(
                (max_active, legacy, notices, records, base, retries, idle, warn, auto),
                (kill, turn, compact, life, stall, grace, start_grace, evict),
                (total, group),
                (debounce, breaker),
                (aging, max_background, skip_window),
            )| {
                let ms = Duration::from_millis;
                // Debounce: quiet, and the extra allowed on top of it;
                // breaker: fast failure, groups, window, cooldown and the
                // cap's extra on top of it.
                let debounce =
                    debounce.map(|(quiet, extra)| Debounce::new(ms(quiet), ms(quiet + extra)));
                let breaker = breaker.map(|(fast, groups, window, cooldown, extra)| {
                    Breaker::default()
                        .with_fast_failure(ms(fast))
                        .with_threshold(groups, ms(window))
                        .with_cooldown(ms(cooldown), ms(cooldown + extra))
                });
                let background = Background::default()
                    .with_aging(aging)
                    .with_max_running(max_background)
                    .with_skip_window(skip_window.map(ms));
                Config::default()
                    .with_background(background)
                    .with_debounce(debounce)
                    .with_breaker(breaker)
                    .with_max_queued_tasks(total)
                    .with_max_group_tasks(group)
                    .with_max_active(max_active)
                    .with_policy(if legacy { Policy::Legacy } else { Policy::Fair })
                    .with_notices(notices)
                    .with_records(records)
                    .with_retry_base(ms(base))
                    .with_max_retries(retries)
                    .with_idle_timeout(ms(idle))
                    .with_warn_percent(warn)
                    .with_auto_compact_percent(auto)
                    .with_kill_grace(ms(kill))
                    .with_max_turn_time(ms(turn))
                    .with_max_compact_time(ms(compact))
                    .with_max_run_time(life.map(ms))
                    .with_stall_timeout(stall.map(ms))
                    .with_shutdown_grace(ms(grace))
                    .with_start_grace(ms(start_grace))
                    .with_evict_idle(evict)
            },
        )
}

/// Context statistics: any mix of known and unknown numbers, including a
/// zero window, and sometimes the agent's own recommendation.
pub fn context() -> impl Strategy<Value = ContextStats> {
    (
        option::of(0u64..300_000),
        option::of(prop_oneof![Just(0u64), 1u64..200_000]),
        option::of(0u32..=120),
        prop::bool::weighted(0.1),
    )
        .prop_map(
            |(tokens, limit, percent, compact_recommended)| ContextStats {
                tokens,
                limit,
                percent,
                compact_recommended,
            },
        )
}

/// Turn outputs with and without statistics, compaction events and errors.
pub fn turn_output() -> impl Strategy<Value = TurnReport> {
    (
        prop::bool::weighted(0.2),
        prop::bool::weighted(0.8),
        any::<bool>(),
        option::weighted(0.6, context()),
        option::weighted(
            0.15,
            (any::<bool>(), option::of(0u64..300_000)).prop_map(|(auto, tokens_before)| {
                Compaction {
                    trigger: if auto {
                        CompactionTrigger::Auto
                    } else {
                        CompactionTrigger::Manual
                    },
                    tokens_before,
                }
            }),
        ),
    )
        .prop_map(
            |(error, replied, delivered, context, compaction)| TurnReport {
                status: if error {
                    TurnStatus::Error
                } else {
                    TurnStatus::Success
                },
                replied,
                delivered,
                context,
                compaction,
            },
        )
}

/// Mostly live runs, sometimes stale or never issued.
pub fn pick() -> impl Strategy<Value = Pick> {
    prop_oneof![
        16 => any::<usize>().prop_map(Pick::Live),
        2 => any::<usize>().prop_map(Pick::Stale),
        1 => (0u64..3).prop_map(Pick::Unknown),
    ]
}

fn exit() -> impl Strategy<Value = Exit> {
    prop_oneof![
        12 => Just(Exit::Clean),
        4 => Just(Exit::Failed),
        1 => Just(Exit::Fatal),
        1 => (0u64..=300).prop_map(|ms| Exit::RetryAfter(Duration::from_millis(ms))),
    ]
}

/// Inputs over `groups` groups and three task ids (so ids collide).
/// `shutdown` is the weight of a shutdown among about 310 for the rest.
pub fn act(groups: G, shutdown: u32) -> impl Strategy<Value = Act> {
    prop_oneof![
        60 => (0..groups).prop_map(Act::Message),
        50 => (0..groups, 0..3u8).prop_map(|(g, id)| Act::Task(g, id)),
        25 => (0..groups, 0..3u8, any::<bool>()).prop_map(|(g, id, skip)| Act::Background(g, id, skip)),
        30 => (0..groups).prop_map(Act::Pipe),
        30 => pick().prop_map(Act::Idle),
        15 => pick().prop_map(Act::Heartbeat),
        50 => (pick(), turn_output()).prop_map(|(p, o)| Act::Turn(p, o)),
        60 => (pick(), exit()).prop_map(|(p, e)| Act::Exit(p, e)),
        8 => (pick(), prop::bool::weighted(0.85)).prop_map(|(p, right)| Act::NeverLaunched(p, right)),
        30 => Just(Act::Timeout),
        8 => (0..groups, 0..3u8).prop_map(|(g, id)| Act::Cancel(g, id)),
        5 => (0..groups).prop_map(Act::Pause),
        8 => (0..groups).prop_map(Act::Resume),
        5 => (0..groups).prop_map(Act::Close),
        4 => (0usize..=4, option::weighted(0.3, 0usize..=6), option::weighted(0.3, 0usize..=3))
            .prop_map(|(n, total, group)| Act::Limits(n, total, group)),
        shutdown => Just(Act::Shutdown),
    ]
}

/// Clock moves: mostly small steps, sometimes to the next deadline, far
/// ahead, or backwards.
pub fn clock() -> impl Strategy<Value = Clock> {
    prop_oneof![
        10 => Just(Clock::Same),
        10 => (0u64..50).prop_map(Clock::Tick),
        2 => (0u64..100_000).prop_map(Clock::Jump),
        5 => Just(Clock::NextDeadline),
        1 => (0u64..1_000).prop_map(Clock::Back),
    ]
}

/// Sequences of up to `max_len` steps.
pub fn steps(groups: G, shutdown: u32, max_len: usize) -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        (clock(), act(groups, shutdown)).prop_map(|(clock, act)| Step { clock, act }),
        0..=max_len,
    )
}

/// Tracks what an adapter would know (the clock, live runs from `Spawn`
/// outputs, exited runs) to resolve generated steps into inputs.
#[derive(Clone, Debug, Default)]
pub struct Harness {
    /// The latest time an input was accepted at.
    pub now: Time,
    /// Runs spawned and not yet exited, in spawn order.
    pub live: Vec<RunId>,
    /// Runs that exited.
    pub exited: Vec<RunId>,
    /// One past the highest run id seen.
    pub next_run: u64,
    /// Payload of the next task (unique).
    pub next_payload: Payload,
    /// Whether a shutdown was accepted.
    pub shut_down: bool,
    /// The work each spawned run was given.
    pub works: std::collections::HashMap<RunId, Work<Id, Payload>>,
}

impl Harness {
    /// A harness for a fresh machine.
    pub fn new() -> Self {
        Harness {
            next_run: 1,
            ..Harness::default()
        }
    }

    /// The run id `pick` names now.
    pub fn run(&self, pick: &Pick) -> RunId {
        match pick {
            Pick::Live(i) if !self.live.is_empty() => self.live[i % self.live.len()],
            Pick::Stale(i) if !self.exited.is_empty() => self.exited[i % self.exited.len()],
            Pick::Unknown(0) => RunId::new(0),
            Pick::Unknown(n) => RunId::new(self.next_run + n - 1),
            _ => RunId::new(self.next_run),
        }
    }

    /// The time a step is given at.
    pub fn time(&self, clock: &Clock, next_deadline: Option<Time>) -> Time {
        let ms = Duration::from_millis;
        match *clock {
            Clock::Same => self.now,
            Clock::Tick(n) | Clock::Jump(n) => self.now.saturating_add(ms(n)),
            Clock::NextDeadline => next_deadline.unwrap_or(self.now).max(self.now),
            Clock::Back(n) => Time::from_nanos(
                self.now
                    .as_nanos()
                    .saturating_sub(ms(n).as_nanos() as u64 + 1),
            ),
        }
    }

    /// The concrete input and time for `step`.
    pub fn resolve(&mut self, step: &Step, next_deadline: Option<Time>) -> (Time, In) {
        let at = self.time(&step.clock, next_deadline);
        let input = match &step.act {
            Act::Message(group) => Input::Message { group: *group },
            Act::Task(group, id) => {
                self.next_payload += 1;
                Input::Task {
                    group: *group,
                    id: *id,
                    payload: self.next_payload,
                }
            }
            Act::Background(group, id, skip_if_active) => {
                self.next_payload += 1;
                Input::BackgroundTask {
                    group: *group,
                    id: *id,
                    payload: self.next_payload,
                    skip_if_active: *skip_if_active,
                }
            }
            Act::Pipe(group) => Input::Pipe { group: *group },
            Act::Idle(p) => Input::Idle { run: self.run(p) },
            Act::Heartbeat(p) => Input::Heartbeat { run: self.run(p) },
            Act::Turn(p, output) => Input::Turn {
                run: self.run(p),
                report: *output,
            },
            Act::Exit(p, exit) => Input::Exited {
                run: self.run(p),
                exit: *exit,
            },
            Act::NeverLaunched(p, right) => {
                let run = self.run(p);
                let own = self.works.get(&run).cloned().unwrap_or(Work::Messages);
                let work = match (right, own) {
                    (true, own) => own,
                    (false, Work::Messages) => Work::Compact,
                    (false, _) => Work::Messages,
                };
                Input::NeverLaunched { run, work }
            }
            Act::Timeout => Input::Timeout,
            Act::Shutdown => Input::Shutdown,
            Act::Cancel(group, id) => Input::Cancel {
                group: *group,
                id: *id,
            },
            Act::Pause(group) => Input::Pause { group: *group },
            Act::Resume(group) => Input::Resume { group: *group },
            Act::Close(group) => Input::CloseRun { group: *group },
            Act::Limits(n, total, group) => Input::SetLimits {
                limits: Limits::new(*n)
                    .with_max_queued_tasks(*total)
                    .with_max_group_tasks(*group),
            },
        };
        (at, input)
    }

    /// Learns from one handled input and its outputs.
    pub fn observe(&mut self, at: Time, input: &In, answer: &Answer, outputs: &[Out]) {
        if answer.is_err() {
            return;
        }
        self.now = self.now.max(at);
        for o in outputs {
            if let Output::Command(Command::Spawn { run, work, .. }) = o {
                self.works.insert(*run, work.clone());
                self.live.push(*run);
                self.next_run = self.next_run.max(run.get() + 1);
            }
        }
        match input {
            Input::Exited { run, .. } | Input::NeverLaunched { run, .. } => {
                self.live.retain(|r| r != run);
                self.exited.push(*run);
            }
            Input::Shutdown => self.shut_down = true,
            _ => {}
        }
    }
}

/// Handles `input` and drains every output through the shared run loop
/// ([`Steppable::step`]); the next deadline is `q.next_deadline()`.
pub fn run_step(q: &mut Q, at: Time, input: In) -> (Answer, Vec<Out>) {
    let mut outputs = Vec::new();
    let answer = q.step(at, input, |o| outputs.push(o)).map(|s| s.answer);
    (answer, outputs)
}

/// The commands among `outputs`.
pub fn commands(outputs: &[Out]) -> Vec<Command<G, Id, Payload>> {
    outputs
        .iter()
        .filter_map(Output::command)
        .cloned()
        .collect()
}
