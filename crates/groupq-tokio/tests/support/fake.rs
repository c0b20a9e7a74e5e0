//! A runner the test drives by hand: it records every call, and the test
//! makes its runs speak and exit.

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex};

use groupq::RunId;
use groupq_protocol::{AgentLine, Status, TurnLine};
use groupq_tokio::{
    Found, Recovering, Recovery, RestartPolicy, RunEvent, RunEvents, RunExit, RunSpec, Runner,
};

/// One call the driver made.
#[derive(Clone, Debug, PartialEq)]
pub enum Call {
    Spawn(RunSpec),
    Deliver(RunId, String),
    Close(RunId),
    Kill(RunId),
    Release(RunId),
}

/// A believed run as `recover` was asked about it: its id, name, output
/// position and messages written.
pub type BelievedRun = (RunId, String, u64, u64);

#[derive(Default)]
struct Shared {
    calls: Vec<Call>,
    events: HashMap<RunId, RunEvents>,
    /// What `recover` answers: the runs an earlier driver launched, and
    /// what became of each.
    found: Vec<(RunId, Found)>,
    /// What the last `recover` was asked: the policy, and each believed
    /// run's id, name, output position and messages written.
    pub asked: Option<(RestartPolicy, Vec<BelievedRun>)>,
    /// `detach` was called.
    pub detached: bool,
    /// Lines each run wrote.
    read: HashMap<RunId, u64>,
}

/// The runner half, given to the driver.
pub struct Fake(Arc<Mutex<Shared>>);

/// The test's half.
#[derive(Clone)]
pub struct Runs(Arc<Mutex<Shared>>);

pub fn fake() -> (Fake, Runs) {
    let shared = Arc::new(Mutex::new(Shared::default()));
    (Fake(Arc::clone(&shared)), Runs(shared))
}

impl Runner for Fake {
    fn spawn(&mut self, spec: RunSpec, events: RunEvents) {
        let mut shared = self.0.lock().unwrap();
        shared.events.insert(spec.run, events);
        shared.calls.push(Call::Spawn(spec));
    }
    fn deliver(&mut self, run: RunId, message: &str) -> io::Result<()> {
        self.0
            .lock()
            .unwrap()
            .calls
            .push(Call::Deliver(run, message.to_string()));
        Ok(())
    }
    fn close_input(&mut self, run: RunId) -> io::Result<()> {
        self.0.lock().unwrap().calls.push(Call::Close(run));
        Ok(())
    }
    fn kill(&mut self, run: RunId) {
        self.0.lock().unwrap().calls.push(Call::Kill(run));
    }
    fn release(&mut self, run: RunId) {
        let mut shared = self.0.lock().unwrap();
        shared.events.remove(&run);
        shared.calls.push(Call::Release(run));
    }
    fn recover(&mut self, recovery: Recovery) -> Recovering<'_> {
        let mut shared = self.0.lock().unwrap();
        let found = shared.found.clone();
        let asked = recovery
            .believed
            .iter()
            .map(|b| (b.run, b.name.clone(), b.read_to, b.delivered))
            .collect();
        shared.asked = Some((recovery.policy, asked));
        for b in recovery.believed {
            if found.contains(&(b.run, Found::Adopted)) {
                shared.events.insert(b.run, b.events);
            }
        }
        Box::pin(async move { Ok(found) })
    }

    fn detach(&mut self) {
        self.0.lock().unwrap().detached = true;
    }
}

impl Runs {
    /// After a restart, `recover` says these runs were launched before
    /// (and are gone).
    pub fn set_launched(&self, runs: &[RunId]) {
        self.0.lock().unwrap().found = runs.iter().map(|&r| (r, Found::Launched)).collect();
    }

    /// After a restart, `recover` adopts these runs: the test makes them
    /// speak and exit as it does spawned ones.
    pub fn set_adopted(&self, runs: &[RunId]) {
        self.0.lock().unwrap().found = runs.iter().map(|&r| (r, Found::Adopted)).collect();
    }

    /// This runner answers `recover` as `other` was set up to.
    pub fn copy_recovery_from(&self, other: &Runs) {
        let found = other.0.lock().unwrap().found.clone();
        self.0.lock().unwrap().found = found;
    }

    /// What the last `recover` was asked.
    pub fn asked(&self) -> Option<(RestartPolicy, Vec<BelievedRun>)> {
        self.0.lock().unwrap().asked.clone()
    }

    /// Whether the driver detached its runner.
    pub fn detached(&self) -> bool {
        self.0.lock().unwrap().detached
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.0.lock().unwrap().calls.clone()
    }

    fn send(&self, run: RunId, event: RunEvent) {
        let shared = self.0.lock().unwrap();
        shared.events[&run].send(event);
    }

    /// The run writes `line`.
    pub fn line(&self, run: RunId, line: AgentLine) {
        let read_to = {
            let mut shared = self.0.lock().unwrap();
            let at = shared.read.entry(run).or_default();
            *at += 1;
            *at
        };
        self.send(run, RunEvent::Line { line, read_to });
    }

    /// The run answers `messages` messages with `reply`, then goes idle.
    pub fn reply(&self, run: RunId, reply: &str, messages: u64) {
        self.line(
            run,
            AgentLine::Turn(TurnLine {
                status: Status::Success,
                reply: Some(reply.into()),
                error: None,
                messages: Some(messages),
                tokens: None,
                context_limit: None,
                compacted_from: None,
                fatal: false,
                retry_after_ms: None,
            }),
        );
        self.line(run, AgentLine::Idle);
    }

    /// The run exits.
    pub fn exit(&self, run: RunId, exit: RunExit) {
        self.send(run, RunEvent::Exited(exit));
    }
}
