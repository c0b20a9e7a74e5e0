//! A std-threads adapter, written from the crate docs alone: each run is a
//! thread standing in for a container, the run loop is `Steppable::step` plus
//! `recv_timeout` until the next deadline, and `--check` drives a checked
//! machine instead of a plain one through the same loop.
//!
//! ```text
//! cargo run --example threads [-- --check] [--groups N] [--messages N] [--max-active N]
//! ```
//!
//! At the end the agents' own start and end instants prove that no group
//! ever had two agents alive at once and that at most `max_active` were
//! alive; the example exits non-zero otherwise.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use groupq::{
    Command, Config, Epoch, Exit, Exited, Machine, Message, Output, Pipe, RunId, Shutdown,
    Steppable, Task, Timeout, Turn, TurnReport, Work,
};
use groupq_check::Checked;

type Group = String;

/// What the run loop reacts to.
enum Event {
    /// A user wrote in a group.
    UserMessage(Group),
    /// The host queued a task.
    UserTask(Group, u32),
    /// No more user events.
    Done,
    /// An agent finished a turn.
    TurnDone(RunId),
    /// An agent's thread ended.
    AgentExited(RunId),
}

/// What an agent thread receives.
enum AgentInput {
    FollowUp,
    Close,
    /// A thread cannot be killed: the agent stops at its next input.
    Kill,
}

/// One agent's life, from its own clock.
struct Span {
    group: Group,
    start: Instant,
    end: Instant,
}

struct Options {
    check: bool,
    groups: usize,
    messages: usize,
    max_active: usize,
}

fn parse() -> Result<Options, String> {
    let mut o = Options {
        check: false,
        groups: 6,
        messages: 60,
        max_active: 3,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = |name: &str| -> Result<usize, String> {
            let v = args.next().ok_or(format!("{name} needs a value"))?;
            match v.parse() {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(format!("{name} {v}: expected a whole number above 0")),
            }
        };
        match arg.as_str() {
            "--check" => o.check = true,
            "--groups" => o.groups = number("--groups")?,
            "--messages" => o.messages = number("--messages")?,
            "--max-active" => o.max_active = number("--max-active")?,
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(o)
}

/// An agent: one turn per input, a turn report after each, then wait for a
/// follow-up or the close; a task or compact run does one turn and exits.
fn agent(
    run: RunId,
    group: Group,
    work: Work<u32, ()>,
    input: Receiver<AgentInput>,
    events: Sender<Event>,
    spans: Arc<Mutex<Vec<Span>>>,
) {
    let start = Instant::now();
    let turn = || thread::sleep(Duration::from_millis(3 + run.get() % 5));
    turn();
    if let Work::Messages = work {
        let _ = events.send(Event::TurnDone(run));
        while let Ok(AgentInput::FollowUp) = input.recv() {
            turn();
            let _ = events.send(Event::TurnDone(run));
        }
    }
    let end = Instant::now();
    spans
        .lock()
        .expect("no agent panics")
        .push(Span { group, start, end });
    let _ = events.send(Event::AgentExited(run));
}

/// The adapter: carries out commands with threads.
struct Adapter {
    events: Sender<Event>,
    agents: HashMap<RunId, Sender<AgentInput>>,
    spans: Arc<Mutex<Vec<Span>>>,
    spawned: usize,
}

impl Adapter {
    fn carry_out(&mut self, output: Output<Group, u32, ()>) {
        let Output::Command(command) = output else {
            return; // records are observability only
        };
        match command {
            Command::Spawn { run, group, work } => {
                let (tx, rx) = channel();
                self.agents.insert(run, tx);
                let (events, spans) = (self.events.clone(), self.spans.clone());
                thread::spawn(move || agent(run, group, work, rx, events, spans));
                self.spawned += 1;
            }
            Command::CloseInput { run, .. } => {
                if let Some(agent) = self.agents.get(&run) {
                    let _ = agent.send(AgentInput::Close);
                }
            }
            Command::Kill { run } => {
                if let Some(agent) = self.agents.get(&run) {
                    let _ = agent.send(AgentInput::Kill);
                }
            }
            // Notices, cursor rollbacks, compaction records and terminal
            // failures would go to the host's chat and store.
            _ => {}
        }
    }
}

/// The run loop, the same for a plain and a checked machine.
fn run_loop<D: Steppable<Group, u32, ()>>(mut q: D, o: &Options) -> Result<usize, D::Error>
where
    D::Error: std::fmt::Display,
{
    let (events, inbox) = channel();
    let spans = Arc::new(Mutex::new(Vec::new()));
    let mut a = Adapter {
        events: events.clone(),
        agents: HashMap::new(),
        spans: spans.clone(),
        spawned: 0,
    };
    let (groups, messages) = (o.groups, o.messages);
    thread::spawn(move || {
        for i in 0..messages {
            let group = format!("chat-{}", i % groups);
            let _ = events.send(match i % 7 {
                3 => Event::UserTask(group, (i % 4) as u32),
                _ => Event::UserMessage(group),
            });
            thread::sleep(Duration::from_millis(2));
        }
        let _ = events.send(Event::Done);
    });
    let epoch = Epoch::new(Instant::now());
    let mut wake_at = None;
    let mut done = false;
    loop {
        let event = match wake_at {
            Some(at) => {
                inbox.recv_timeout(epoch.instant(at).saturating_duration_since(Instant::now()))
            }
            None => inbox.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        let now = epoch.time(Instant::now());
        wake_at = match event {
            Err(RecvTimeoutError::Timeout) => q.step(now, Timeout, |o| a.carry_out(o))?.wake_at,
            Err(RecvTimeoutError::Disconnected) => break,
            Ok(Event::UserMessage(group)) => {
                let piped = q.step(
                    now,
                    Pipe {
                        group: group.clone(),
                    },
                    |o| a.carry_out(o),
                )?;
                match piped.answer.run() {
                    Some(run) => {
                        if let Some(agent) = a.agents.get(&run) {
                            let _ = agent.send(AgentInput::FollowUp);
                        }
                        piped.wake_at
                    }
                    None => q.step(now, Message { group }, |o| a.carry_out(o))?.wake_at,
                }
            }
            Ok(Event::UserTask(group, id)) => {
                q.step(
                    now,
                    Task {
                        group,
                        id,
                        payload: (),
                    },
                    |o| a.carry_out(o),
                )?
                .wake_at
            }
            Ok(Event::TurnDone(run)) => {
                let report = TurnReport::delivered_reply();
                q.step(now, Turn { run, report }, |o| a.carry_out(o))?
                    .wake_at
            }
            Ok(Event::AgentExited(run)) => {
                a.agents.remove(&run);
                q.step(
                    now,
                    Exited {
                        run,
                        exit: Exit::Clean,
                    },
                    |o| a.carry_out(o),
                )?
                .wake_at
            }
            Ok(Event::Done) => {
                done = true;
                wake_at
            }
        };
        if done && q.machine().is_quiescent() {
            let report = q.step(now, Shutdown, |o| a.carry_out(o))?.answer;
            assert!(report.is_empty(), "work left at shutdown: {report:?}");
            break;
        }
    }
    verify(&spans.lock().expect("no agent panics"), o.max_active);
    Ok(a.spawned)
}

/// From the agents' own instants: one agent per group at a time, at most
/// `max_active` at once.
fn verify(spans: &[Span], max_active: usize) {
    for (i, s) in spans.iter().enumerate() {
        let alive = spans
            .iter()
            .filter(|t| t.start <= s.start && s.start < t.end)
            .count();
        assert!(
            alive <= max_active,
            "{alive} agents alive, max_active {max_active}"
        );
        for t in &spans[i + 1..] {
            let overlap = s.start < t.end && t.start < s.end;
            assert!(
                !(overlap && s.group == t.group),
                "two agents of {} overlapped",
                s.group
            );
        }
    }
    println!(
        "agents' own clocks: {} agents, never two per group, at most {max_active} alive",
        spans.len()
    );
}

fn main() -> ExitCode {
    let o = match parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("threads: {e}\nusage: threads [--check] [--groups N] [--messages N] [--max-active N]");
            return ExitCode::from(2);
        }
    };
    let config = Config::default()
        .with_max_active(o.max_active)
        .with_idle_timeout(Duration::from_millis(20));
    let result = if o.check {
        Checked::new(config)
            .map_err(|e| e.to_string())
            .and_then(|q| run_loop(q, &o).map_err(|e| e.to_string()))
    } else {
        Machine::new(config)
            .map_err(|e| e.to_string())
            .and_then(|q| run_loop(q, &o).map_err(|e| e.to_string()))
    };
    match result {
        Ok(spawned) => {
            let checked = if o.check { ", every step checked" } else { "" };
            println!("threads: {spawned} runs spawned{checked}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("threads: {e}");
            ExitCode::FAILURE
        }
    }
}
