//! A small deterministic harness for the integration tests, after
//! quinn-proto's `Pair`: it owns a machine and the current time, sends one
//! input at a time, drains every output until `WakeAt`, and keeps the whole
//! history so that a test can assert on what an adapter would have seen.
//!
//! Every step also goes through the invariant checker (`groupq::check`), so
//! each scenario is checked against P1–P12 on top of its own assertions.

#![allow(dead_code)]

use std::time::Duration;

use groupq::{
    Command, Config, ContextStats, Error, Event, Exit, Exited, Idle, Input, Machine, Message,
    Output, Pipe, PipeAnswer, Record, Response, RunId, Shutdown, ShutdownReport, Steppable, Task,
    TaskAnswer, Time, Timeout, Turn, TurnReport, Work,
};
use groupq_check::{CheckError, Checked};

/// Group keys are chat names.
pub type Group = &'static str;
/// The machine under test: task ids are numbers, payloads strings.
pub type Q = Machine<Group, u32, String>;
/// One output of [`Q`].
pub type Out = Output<Group, u32, String>;
/// One command of [`Q`].
pub type Cmd = Command<Group, u32, String>;

/// One input, its answer, and every output it produced.
#[derive(Debug)]
pub struct Step {
    /// When it was sent.
    pub now: Time,
    /// What was sent.
    pub input: Input<Group, u32, String>,
    /// The machine's answer.
    pub result: Result<Response<Group, u32, String>, Error>,
    /// The commands and records it produced, in order.
    pub outputs: Vec<Out>,
}

/// With `GROUPQ_TRACE_DIR` set, every test's inputs are written there as a
/// trace named after the test when its `Pair` is dropped: that is how the
/// fuzz seed corpora are made from these scenarios
/// (`GROUPQ_TRACE_DIR=/tmp/t cargo test -- --test-threads 1`).
impl Drop for Pair {
    fn drop(&mut self) {
        let Some(dir) = std::env::var_os("GROUPQ_TRACE_DIR") else {
            return;
        };
        let trace = groupq_check::trace::Trace {
            config: self.q.config().clone(),
            steps: self
                .history
                .iter()
                .map(|s| groupq_check::trace::Step::from_input(s.now, &s.input))
                .collect(),
        };
        let name = std::thread::current()
            .name()
            .unwrap_or("pair")
            .replace("::", "-");
        let path = std::path::Path::new(&dir).join(format!("{name}.trace"));
        std::fs::write(&path, trace.to_string()).expect("write the trace");
    }
}

/// A checked machine, a clock, and the history of everything sent and
/// seen. Every step goes through `Steppable::step` (the shared run loop) on a
/// `Checked` machine, so each scenario is checked against the invariants on
/// top of its own assertions.
pub struct Pair {
    /// The machine (read it with `explain`, `stats`, `next_deadline`).
    pub q: Checked<Group, u32, String>,
    /// The current time; inputs are sent at it.
    pub now: Time,
    /// The next deadline after the last input.
    pub wake_at: Option<Time>,
    /// Every step so far.
    pub history: Vec<Step>,
}

pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

pub fn mins(n: u64) -> Duration {
    Duration::from_secs(60 * n)
}

/// A successful, delivered reply reporting `percent` of the context in use.
pub fn reply_at(percent: u32) -> TurnReport {
    TurnReport::delivered_reply().with_context(ContextStats::from_percent(percent))
}

impl Pair {
    /// A machine with `config` and records on, at time zero.
    pub fn new(config: Config) -> Pair {
        let config = config.with_records(true);
        Pair {
            q: Checked::new(config).expect("valid config"),
            now: Time::ZERO,
            wake_at: None,
            history: Vec::new(),
        }
    }

    /// The default configuration with this global limit.
    pub fn with_max_active(max_active: usize) -> Pair {
        Pair::new(Config::default().with_max_active(max_active))
    }

    /// Sends `event` at the current time through the shared loop, keeps the
    /// step in the history, and returns the machine's typed answer. Panics
    /// on an invariant violation.
    pub fn try_event<E>(&mut self, event: E) -> Result<E::Answer, Error>
    where
        E: Event<Group, u32, String> + Clone,
    {
        let input: Input<Group, u32, String> = event.clone().into();
        let mut outputs = Vec::new();
        let result = match self.q.step(self.now, event, |o| outputs.push(o)) {
            Ok(stepped) => {
                assert_eq!(stepped.wake_at, self.q.next_deadline());
                Ok(stepped.answer)
            }
            Err(CheckError::Rejected(e)) => Err(e),
            Err(CheckError::Violation(v)) => {
                panic!("invariant violated: {v}\nhistory: {:#?}", self.history)
            }
        };
        self.wake_at = self.q.next_deadline();
        self.history.push(Step {
            now: self.now,
            input,
            result: result.as_ref().map(E::response).map_err(|e| *e),
            outputs,
        });
        result
    }

    /// Sends an input value (the dynamic path) and returns the answer.
    pub fn try_send(
        &mut self,
        input: Input<Group, u32, String>,
    ) -> Result<Response<Group, u32, String>, Error> {
        self.try_event(input)
    }

    /// Sends an event that must be accepted.
    pub fn accept<E>(&mut self, event: E) -> E::Answer
    where
        E: Event<Group, u32, String> + Clone + std::fmt::Debug,
    {
        let shown = format!("{event:?}");
        self.try_event(event)
            .unwrap_or_else(|e| panic!("{shown} at {} rejected: {e}", self.now))
    }

    /// Sends an input that must be accepted.
    pub fn send(&mut self, input: Input<Group, u32, String>) -> Response<Group, u32, String> {
        self.accept(input)
    }

    /// Sends an input that must be rejected, and proves that it changed
    /// nothing: the machine equals a clone taken before, and it produced no
    /// output.
    pub fn reject(&mut self, input: Input<Group, u32, String>) -> Error {
        let before: Q = (*self.q).clone();
        let shown = format!("{input:?}");
        let err = match self.try_send(input) {
            Err(e) => e,
            Ok(r) => panic!("{shown} was accepted: {r:?}"),
        };
        assert!(self.outputs().is_empty(), "a rejected input gave outputs");
        assert!(*self.q == before, "a rejected input changed the machine");
        err
    }

    // ---- time ------------------------------------------------------------

    /// Moves the clock forward without sending anything.
    pub fn advance(&mut self, d: Duration) {
        self.now = self.now.saturating_add(d);
    }

    /// Jumps to the next deadline and sends `Timeout`. Returns the deadline.
    pub fn advance_to_next_deadline(&mut self) -> Time {
        let at = self.q.next_deadline().expect("a deadline is armed");
        self.now = self.now.max(at);
        self.timeout();
        at
    }

    /// Sends `Timeout` at the current time.
    pub fn timeout(&mut self) {
        self.accept(Timeout);
    }

    // ---- inputs, each through its typed event ------------------------------

    pub fn message(&mut self, group: Group) {
        self.accept(Message { group });
    }

    /// Queues a task; `false` when it was deduplicated.
    pub fn task(&mut self, group: Group, id: u32, payload: &str) -> bool {
        let payload = payload.to_string();
        self.accept(Task { group, id, payload }) == TaskAnswer::Queued
    }

    /// Pipes into the group's live run: the run, or why it was refused.
    pub fn pipe(&mut self, group: Group) -> PipeAnswer {
        self.accept(Pipe { group })
    }

    pub fn idle(&mut self, run: RunId) {
        self.accept(Idle { run });
    }

    pub fn turn(&mut self, run: RunId, report: TurnReport) {
        self.accept(Turn { run, report });
    }

    /// The run exits cleanly.
    pub fn exit(&mut self, run: RunId) {
        self.accept(Exited {
            run,
            exit: Exit::Clean,
        });
    }

    /// The run exits uncleanly.
    pub fn fail(&mut self, run: RunId) {
        self.accept(Exited {
            run,
            exit: Exit::Failed,
        });
    }

    pub fn shutdown(&mut self) -> ShutdownReport<Group, u32, String> {
        self.accept(Shutdown)
    }

    // ---- what the last input produced --------------------------------------

    /// The outputs of the last input, without `WakeAt`.
    pub fn outputs(&self) -> &[Out] {
        self.history.last().map_or(&[], |s| &s.outputs)
    }

    /// The commands of the last input.
    pub fn commands(&self) -> Vec<Cmd> {
        commands(self.outputs())
    }

    /// The records of the last input.
    pub fn records(&self) -> Vec<Record<Group, u32>> {
        self.outputs()
            .iter()
            .filter_map(|o| match o {
                Output::Record(r) => Some(r.clone()),
                _ => None,
            })
            .collect()
    }

    /// The spawns of the last input.
    pub fn spawns(&self) -> Vec<(RunId, Group, Work<u32, String>)> {
        spawns(&self.commands())
    }

    /// The one spawn of the last input.
    pub fn spawned(&self) -> (RunId, Group, Work<u32, String>) {
        let mut s = self.spawns();
        assert_eq!(s.len(), 1, "exactly one spawn expected: {s:?}");
        s.remove(0)
    }

    // ---- the whole history -------------------------------------------------

    /// Every command so far, in order.
    pub fn all_commands(&self) -> Vec<Cmd> {
        self.history
            .iter()
            .flat_map(|s| commands(&s.outputs))
            .collect()
    }

    /// Every spawn so far, in order.
    pub fn all_spawns(&self) -> Vec<(RunId, Group, Work<u32, String>)> {
        spawns(&self.all_commands())
    }

    /// The run of the latest spawn for `group`.
    pub fn spawned_run(&self, group: Group) -> RunId {
        self.all_spawns()
            .into_iter()
            .rev()
            .find(|(_, g, _)| *g == group)
            .unwrap_or_else(|| panic!("no spawn for {group}"))
            .0
    }

    /// The group's live run, as the machine explains it.
    pub fn live_run(&self, group: Group) -> Option<RunId> {
        self.q.explain(&group)?.run.map(|r| r.run)
    }
}

pub fn commands(outputs: &[Out]) -> Vec<Cmd> {
    outputs
        .iter()
        .filter_map(Output::command)
        .cloned()
        .collect()
}

pub fn spawns(commands: &[Cmd]) -> Vec<(RunId, Group, Work<u32, String>)> {
    commands
        .iter()
        .filter_map(|c| match c {
            Command::Spawn { run, group, work } => Some((*run, *group, work.clone())),
            _ => None,
        })
        .collect()
}

/// A task's work, for comparing with spawns.
pub fn task(id: u32, payload: &str) -> Work<u32, String> {
    Work::Task {
        id,
        payload: payload.to_string(),
    }
}

/// A bare machine for the proptests judged from the outputs alone (no
/// checker): small group keys, numbered task ids and payloads.
pub mod bare {
    use groupq::{Command, Input, Machine, Output, Response, Time};

    /// The machine.
    pub type M = Machine<u8, u32, u32>;
    /// An input's answer and the commands it produced.
    pub type Stepped = (Response<u8, u32, u32>, Vec<Command<u8, u32, u32>>);

    /// Hands `input` in at `at` (it must be accepted) and drains its
    /// commands, records left out.
    pub fn step(q: &mut M, at: Time, input: Input<u8, u32, u32>) -> Stepped {
        let answer = q.handle(at, input).expect("accepted");
        let commands = q.drain().filter_map(|o| match o {
            Output::Command(c) => Some(c),
            _ => None,
        });
        (answer, commands.collect())
    }
}
