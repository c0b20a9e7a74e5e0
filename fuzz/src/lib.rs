//! Shared decoding for the fuzz targets: arbitrary bytes become a
//! configuration and a sequence of inputs, legal and illegal alike.

use std::time::Duration;

use std::fmt;

use arbitrary::Arbitrary;
use groupq::{
    Background, Breaker, Compaction, CompactionTrigger, Config, ContextStats, Debounce, Exit,
    Input, Limits, Policy, RunId, Time, TurnReport, TurnStatus, Work,
};
use groupq_check::trace::Trace;
use groupq_check::{replay, ReplayError};

/// A fuzzed configuration. Invalid ones (zero slots, zero base, thresholds
/// above 100) are generated too: `Machine::new` must refuse them cleanly.
#[derive(Arbitrary, Debug, Clone)]
pub struct FuzzConfig {
    max_active: u8,
    legacy: bool,
    notices: bool,
    records: bool,
    retry_base_ms: u16,
    max_retries: u8,
    idle_ms: u16,
    warn: u8,
    auto: u8,
    kill_grace_ms: u16,
    max_turn_ms: u16,
    max_compact_ms: u16,
    max_run_ms: Option<u16>,
    stall_ms: Option<u16>,
    shutdown_grace_ms: u16,
    start_grace_ms: u16,
    keep_idle: bool,
    max_queued_tasks: Option<u8>,
    max_group_tasks: Option<u8>,
    /// Debounce: (quiet, max wait) in ms; zero or a wait below the quiet
    /// period are invalid.
    debounce_ms: Option<(u16, u16)>,
    /// Breaker: (fast failure, groups, window, cooldown, max cooldown) in
    /// ms; zeros and a cap below the cooldown are invalid.
    breaker: Option<(u16, u8, u16, u16, u16)>,
    /// Background: (aging, max running, skip window in ms); zeros are
    /// invalid.
    background: (u8, Option<u8>, Option<u16>),
}

impl FuzzConfig {
    /// The configuration, with values kept small so that slots and timers
    /// actually run out and fire.
    pub fn config(&self) -> Config {
        let ms = |n: u16| Duration::from_millis(u64::from(n));
        Config::default()
            .with_max_active(usize::from(self.max_active % 9))
            .with_policy(if self.legacy {
                Policy::Legacy
            } else {
                Policy::Fair
            })
            .with_notices(self.notices)
            .with_records(self.records)
            .with_retry_base(Duration::from_millis(u64::from(self.retry_base_ms % 2000)))
            .with_max_retries(u32::from(self.max_retries % 8))
            .with_idle_timeout(Duration::from_millis(u64::from(self.idle_ms)))
            .with_warn_percent(self.warn % 110)
            .with_auto_compact_percent(self.auto % 110)
            .with_kill_grace(ms(self.kill_grace_ms))
            .with_max_turn_time(ms(self.max_turn_ms))
            .with_max_compact_time(ms(self.max_compact_ms))
            .with_max_run_time(self.max_run_ms.map(ms))
            .with_stall_timeout(self.stall_ms.map(ms))
            .with_shutdown_grace(ms(self.shutdown_grace_ms))
            .with_start_grace(ms(self.start_grace_ms))
            .with_evict_idle(!self.keep_idle)
            .with_max_queued_tasks(self.max_queued_tasks.map(|n| usize::from(n % 8)))
            .with_max_group_tasks(self.max_group_tasks.map(|n| usize::from(n % 4)))
            .with_debounce(
                self.debounce_ms
                    .map(|(quiet, wait)| Debounce::new(ms(quiet), ms(wait))),
            )
            .with_breaker(self.breaker.map(|(fast, groups, window, cooldown, cap)| {
                Breaker::default()
                    .with_fast_failure(ms(fast))
                    .with_threshold(usize::from(groups % 4), ms(window))
                    .with_cooldown(ms(cooldown), ms(cap))
            }))
            .with_background({
                let (aging, max_running, window) = self.background;
                Background::default()
                    .with_aging(u32::from(aging % 6))
                    .with_max_running(max_running.map(|n| usize::from(n % 4)))
                    .with_skip_window(window.map(ms))
            })
    }
}

/// Which run an input names: usually a live one, sometimes any number.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum RunRef {
    /// The live run at this index (modulo the number of live runs).
    Live(u8),
    /// Any run id, issued or not.
    Raw(u8),
}

/// A fuzzed turn output.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub struct FuzzTurn {
    error: bool,
    replied: bool,
    delivered: bool,
    tokens: Option<u32>,
    limit: Option<u32>,
    percent: Option<u8>,
    recommended: bool,
    stats: bool,
    compaction: Option<(bool, Option<u32>)>,
}

impl FuzzTurn {
    fn output(&self) -> TurnReport {
        TurnReport {
            status: if self.error {
                TurnStatus::Error
            } else {
                TurnStatus::Success
            },
            replied: self.replied,
            delivered: self.delivered,
            context: self.stats.then_some(ContextStats {
                tokens: self.tokens.map(u64::from),
                limit: self.limit.map(u64::from),
                percent: self.percent.map(u32::from),
                compact_recommended: self.recommended,
            }),
            compaction: self.compaction.map(|(auto, before)| Compaction {
                trigger: if auto {
                    CompactionTrigger::Auto
                } else {
                    CompactionTrigger::Manual
                },
                tokens_before: before.map(u64::from),
            }),
        }
    }
}

/// One fuzzed event.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Op {
    /// B1.
    Message(u8),
    /// B2.
    Task(u8, u8, u16),
    /// B16: a background task, skipped while the group is active or not.
    Background(u8, u8, u16, bool),
    /// B3.
    Pipe(u8),
    /// B4.
    Idle(RunRef),
    /// A liveness signal.
    Heartbeat(RunRef),
    /// B5.
    Turn(RunRef, FuzzTurn),
    /// B6.
    /// A run's exit: 0 clean, 1 failed, 2 fatal, else retry after that
    /// many milliseconds.
    Exit(RunRef, u16),
    /// The run never launched: its own work (`true`) or another.
    NeverLaunched(RunRef, bool),
    /// B10 at the current time.
    Timeout,
    /// B10 at the next deadline.
    TimeoutAtDeadline,
    /// B9.
    Shutdown,
    /// Operator: cancel a task.
    Cancel(u8, u8),
    /// Operator: pause a group.
    Pause(u8),
    /// Operator: resume a group.
    Resume(u8),
    /// The host closes a group's run.
    Close(u8),
    /// The operator changes the limits (slots 0 are rejected) and caps.
    Limits(u8, Option<u8>, Option<u8>),
}

/// How time moves before an event.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Clock {
    /// Same instant.
    Same,
    /// Forward by milliseconds.
    Forward(u16),
    /// Far forward by seconds.
    Leap(u16),
    /// Backwards by milliseconds (must be rejected).
    Back(u16),
}

/// A whole fuzz case.
#[derive(Arbitrary, Debug, Clone)]
pub struct Scenario {
    /// The configuration.
    pub config: FuzzConfig,
    /// The events.
    pub steps: Vec<(Clock, Op)>,
}

/// Turns a scenario's events into concrete inputs, tracking live runs from
/// the spawns the caller reports. Group keys and task ids are small, so
/// collisions (serialization, dedup) are the common case.
#[derive(Default)]
pub struct Driver {
    /// Runs live according to the outputs seen, in spawn order.
    pub live: Vec<RunId>,
    /// Highest run id seen.
    pub last_run: u64,
    /// The latest time accepted.
    pub now: Time,
    /// The work each spawned run was given.
    pub works: std::collections::HashMap<RunId, Work<u8, u16>>,
}

impl Driver {
    fn run(&self, r: RunRef) -> RunId {
        match r {
            RunRef::Live(i) if !self.live.is_empty() => self.live[usize::from(i) % self.live.len()],
            RunRef::Live(i) | RunRef::Raw(i) => RunId::new(u64::from(i) % (self.last_run + 3)),
        }
    }

    /// The time and input for one event. `next_deadline` is the machine's.
    pub fn input(
        &self,
        clock: Clock,
        op: Op,
        next_deadline: Option<Time>,
    ) -> (Time, Input<u8, u8, u16>) {
        let ms = |n: u64| Duration::from_millis(n);
        let mut now = match clock {
            Clock::Same => self.now,
            Clock::Forward(n) => self.now.saturating_add(ms(u64::from(n))),
            Clock::Leap(n) => self.now.saturating_add(Duration::from_secs(u64::from(n))),
            Clock::Back(n) => Time::from_nanos(
                self.now
                    .as_nanos()
                    .saturating_sub(u64::from(n) * 1_000_000 + 1),
            ),
        };
        let input = match op {
            Op::Message(g) => Input::Message { group: g % 4 },
            Op::Task(g, id, payload) => Input::Task {
                group: g % 4,
                id: id % 4,
                payload,
            },
            Op::Background(g, id, payload, skip_if_active) => Input::BackgroundTask {
                group: g % 4,
                id: id % 4,
                payload,
                skip_if_active,
            },
            Op::Pipe(g) => Input::Pipe { group: g % 4 },
            Op::Idle(r) => Input::Idle { run: self.run(r) },
            Op::Heartbeat(r) => Input::Heartbeat { run: self.run(r) },
            Op::Turn(r, t) => Input::Turn {
                run: self.run(r),
                report: t.output(),
            },
            Op::Exit(r, how) => Input::Exited {
                run: self.run(r),
                exit: match how {
                    0..=0x7fff => Exit::Clean,
                    0x8000..=0xbfff => Exit::Failed,
                    0xc000..=0xcfff => Exit::Fatal,
                    ms => Exit::RetryAfter(Duration::from_millis(u64::from(ms & 0x0fff))),
                },
            },
            Op::NeverLaunched(r, own) => {
                let run = self.run(r);
                let work = match (own, self.works.get(&run)) {
                    (true, Some(work)) => work.clone(),
                    (_, Some(Work::Messages)) => Work::Compact,
                    _ => Work::Messages,
                };
                Input::NeverLaunched { run, work }
            }
            Op::Timeout => Input::Timeout,
            Op::TimeoutAtDeadline => {
                if let Some(at) = next_deadline {
                    now = now.max(at);
                }
                Input::Timeout
            }
            Op::Shutdown => Input::Shutdown,
            Op::Cancel(g, id) => Input::Cancel {
                group: g % 4,
                id: id % 4,
            },
            Op::Pause(g) => Input::Pause { group: g % 4 },
            Op::Resume(g) => Input::Resume { group: g % 4 },
            Op::Close(g) => Input::CloseRun { group: g % 4 },
            Op::Limits(max_active, total, group) => Input::SetLimits {
                limits: Limits::new(usize::from(max_active % 9))
                    .with_max_queued_tasks(total.map(|n| usize::from(n % 8)))
                    .with_max_group_tasks(group.map(|n| usize::from(n % 4))),
            },
        };
        (now, input)
    }

    /// Records what one accepted step did to the set of live runs.
    pub fn observe(
        &mut self,
        now: Time,
        input: &Input<u8, u8, u16>,
        outputs: &[groupq::Output<u8, u8, u16>],
    ) {
        self.now = now;
        if let Input::Exited { run, .. } | Input::NeverLaunched { run, .. } = input {
            self.live.retain(|r| r != run);
        }
        for o in outputs {
            if let groupq::Output::Command(groupq::Command::Spawn { run, work, .. }) = o {
                self.works.insert(*run, work.clone());
                self.live.push(*run);
                self.last_run = run.get();
            }
        }
    }
}

/// Discards a replay transcript.
struct Sink;

impl fmt::Write for Sink {
    fn write_str(&mut self, _: &str) -> fmt::Result {
        Ok(())
    }
}

/// If `data` is a trace, replays it through the machine and the checker
/// (panicking on a violation) and returns true; otherwise returns false.
pub fn replay_trace(data: &[u8]) -> bool {
    let Some(trace) = std::str::from_utf8(data)
        .ok()
        .and_then(|t| Trace::parse(t).ok())
    else {
        return false;
    };
    match replay(&trace, &mut Sink) {
        Err(ReplayError::Violation { violation, .. }) => panic!("{violation}\n{trace}"),
        Ok(_) | Err(_) => true,
    }
}
