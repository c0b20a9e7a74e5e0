//! The adapter: owns the groupq [`Machine`], carries out its commands with
//! processes and files, and turns what the processes do into inputs.
//!
//! Everything goes through [`Adapter::step`]: one `Drive::step` of a
//! checked machine (the input handled, its outputs drained, the step checked
//! by the invariant checker), then the outputs carried out. The run loop waits for the next event or the machine's
//! next deadline, whichever comes first.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::fs;
use std::io;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use groupq::{
    CloseReason, Command, Config, Drive, Exit, Input, Notice, Output, Pending, PipeRefusal, Record,
    Response, RunId, RunState, ShutdownReport, Time, Work,
};
use groupq_check::{CheckError, Checked};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command as Process};
use tokio::sync::mpsc::{self, UnboundedSender};
use tokio::sync::oneshot;
use tokio::time::{sleep_until, Instant};

use crate::report::{self, Evidence, Tally};
use crate::wire::{self, AgentLine, CLOSE_SENTINEL};
use crate::workload::{self, Action, FLAKY_FAILURES, FLAKY_GROUP, HUNG_GROUP};
use crate::Options;

/// Any error that stops the example.
pub type Fatal = Box<dyn std::error::Error>;

type Group = String;
type TaskId = String;
type Prompt = String;
type Queue = Checked<Group, TaskId, Prompt>;
type QueueInput = Input<Group, TaskId, Prompt>;
type Answer = Result<Response<Group, TaskId, Prompt>, groupq::Error>;

/// Everything the run loop reacts to, besides the machine's deadline.
pub enum Event {
    /// The script did something.
    Workload(Action),
    /// A run's process wrote a line on stdout.
    Line { run: RunId, line: String },
    /// A run's process ended (`None`: killed by a signal or never started).
    /// Sent after every line of its stdout.
    Exited { run: RunId, status: Option<i32> },
}

/// How fast things happen.
struct Pace {
    /// How long an agent's turn takes.
    turn: Duration,
    idle_timeout: Duration,
    retry_base: Duration,
    /// A turn taking longer than this is a hung agent.
    max_turn: Duration,
    /// How long a closed agent may take to exit before it is killed.
    kill_grace: Duration,
    /// Multiplies the script's times.
    script_scale: f64,
}

impl Pace {
    fn new(quick: bool) -> Pace {
        if quick {
            Pace {
                turn: Duration::from_millis(60),
                idle_timeout: Duration::from_secs(5),
                retry_base: Duration::from_millis(100),
                max_turn: Duration::from_millis(600),
                kill_grace: Duration::from_millis(300),
                script_scale: 0.4,
            }
        } else {
            Pace {
                turn: Duration::from_millis(150),
                idle_timeout: Duration::from_secs(5),
                retry_base: Duration::from_millis(200),
                max_turn: Duration::from_millis(1200),
                kill_grace: Duration::from_millis(500),
                script_scale: 1.0,
            }
        }
    }
}

/// The example's scratch space, removed when dropped.
struct Scratch {
    root: PathBuf,
}

impl Scratch {
    fn new() -> io::Result<Scratch> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let root = std::env::temp_dir().join(format!(
            "groupq-process-runtime-{}-{nanos}",
            std::process::id()
        ));
        fs::create_dir_all(root.join("ipc"))?;
        fs::create_dir_all(root.join("sessions"))?;
        Ok(Scratch { root })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

/// The host's message store for one group, with the cursor the core may ask
/// to roll back.
#[derive(Default)]
struct Mailbox {
    messages: Vec<String>,
    /// Messages before this index have been handed to a run.
    cursor: usize,
    /// The cursor when the group's current (or last) run started.
    run_start: usize,
}

impl Mailbox {
    /// A run starts: remember where, and hand it the unread messages.
    fn start_run(&mut self) -> Vec<String> {
        self.run_start = self.cursor;
        self.take_unread()
    }

    /// Hands every unread message over, advancing the cursor.
    fn take_unread(&mut self) -> Vec<String> {
        let unread = self.messages[self.cursor..].to_vec();
        self.cursor = self.messages.len();
        unread
    }

    /// The run failed before anything reached the user: everything handed to
    /// it is unread again. Returns how many messages that is.
    fn roll_back(&mut self) -> usize {
        let rewound = self.cursor - self.run_start;
        self.cursor = self.run_start;
        rewound
    }
}

/// A run whose process is alive (from spawn until its exit is handled).
struct LiveProcess {
    group: Group,
    input: PathBuf,
    /// Asks the task that owns the child to kill it.
    kill: Option<oneshot::Sender<()>>,
}

/// The adapter's state.
struct Adapter {
    queue: Queue,
    /// `Time::ZERO`: the adapter's start.
    epoch: Instant,
    wake_at: Option<Time>,
    pace: Pace,
    scratch: Scratch,
    log_dir: PathBuf,
    agent_exe: PathBuf,
    events: UnboundedSender<Event>,
    live: BTreeMap<RunId, LiveProcess>,
    mailboxes: BTreeMap<Group, Mailbox>,
    /// Failures still to inject, per group.
    failures_left: BTreeMap<Group, u32>,
    /// The hung group's first agent was started.
    hung_once: bool,
    next_file: u64,
    /// The input being handled is a deadline firing.
    firing_deadlines: bool,
    /// The script is over: shut down once the queued work is done.
    shutdown_requested: bool,
    tally: Tally,
}

/// Runs the workload against real processes, prints the timeline and the
/// summary. Fails on an invariant violation or I/O error.
pub async fn run(options: &Options) -> Result<(), Fatal> {
    let pace = Pace::new(options.quick);
    let config = Config::default()
        .with_max_active(options.max_active)
        .with_idle_timeout(pace.idle_timeout)
        .with_retry_base(pace.retry_base)
        .with_max_turn_time(pace.max_turn)
        .with_max_compact_time(pace.max_turn)
        .with_kill_grace(pace.kill_grace)
        .with_records(true);
    let scratch = Scratch::new()?;
    let log_dir = match &options.log_dir {
        Some(dir) => dir.clone(),
        None => scratch.root.join("logs"),
    };
    fs::create_dir_all(&log_dir)?;
    if !Evidence::read(&log_dir)?.spans.is_empty() {
        return Err(format!(
            "{} already holds run logs: give an empty directory",
            log_dir.display()
        )
        .into());
    }
    let (events, mut inbox) = mpsc::unbounded_channel();
    let epoch = Instant::now();
    let mut adapter = Adapter {
        queue: Checked::new(config.clone())?,
        epoch,
        wake_at: None,
        scratch,
        log_dir,
        agent_exe: std::env::current_exe()?,
        events: events.clone(),
        live: BTreeMap::new(),
        mailboxes: BTreeMap::new(),
        failures_left: BTreeMap::from([(FLAKY_GROUP.to_string(), FLAKY_FAILURES)]),
        hung_once: false,
        next_file: 0,
        firing_deadlines: false,
        shutdown_requested: false,
        tally: Tally::default(),
        pace,
    };
    println!(
        "groupq process runtime: max_active {}, idle timeout {:?}, retry base {:?}; \
         each run is this binary re-executed as an agent",
        config.max_active(),
        config.idle_timeout(),
        config.retry_base(),
    );
    println!("{:>8}  {:<8} {:<7} what", "time", "group", "run");
    tokio::spawn(workload::play(epoch, adapter.pace.script_scale, events));

    // The run loop: wait for an event or the machine's deadline.
    while !(adapter.queue.is_shut_down() && adapter.live.is_empty()) {
        let deadline = adapter.wake_at.map(|at| epoch + at.since_epoch());
        tokio::select! {
            Some(event) = inbox.recv() => adapter.on_event(event)?,
            () = sleep_until_deadline(deadline) => {
                adapter.firing_deadlines = true;
                let answer = adapter.step(Input::Timeout)?;
                adapter.firing_deadlines = false;
                adapter.expect_accepted("-", None, answer);
            }
        }
        adapter.shut_down_when_done()?;
    }

    let evidence = Evidence::read(&adapter.log_dir)?;
    report::print_summary(
        &adapter.tally,
        &evidence,
        &config,
        adapter.queue.checker().steps(),
    );
    evidence.verify(config.max_active())?;
    Ok(())
}

/// Sleeps until `deadline`, or forever when there is none.
async fn sleep_until_deadline(deadline: Option<Instant>) {
    match deadline {
        Some(at) => sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Forwards a process's stdout lines, then its exit, to the run loop.
async fn watch(
    run: RunId,
    mut child: Child,
    events: UnboundedSender<Event>,
    mut kill: oneshot::Receiver<()>,
) {
    if let Some(stdout) = child.stdout.take() {
        let mut lines = BufReader::new(stdout).lines();
        let mut killing = false;
        loop {
            tokio::select! {
                line = lines.next_line() => match line {
                    Ok(Some(line)) => {
                        if events.send(Event::Line { run, line }).is_err() {
                            return;
                        }
                    }
                    _ => break,
                },
                // SIGKILL; stdout then ends and the exit is reported as usual.
                asked = &mut kill, if !killing => {
                    killing = true;
                    if asked.is_ok() {
                        let _ = child.start_kill();
                    }
                }
            }
        }
    }
    let status = child.wait().await.ok().and_then(|s| s.code());
    let _ = events.send(Event::Exited { run, status });
}

impl Adapter {
    /// The adapter's clock: time since its start.
    fn now(&self) -> Time {
        Time::from_duration(self.epoch.elapsed())
    }

    /// One input through the shared loop of the checked machine, then its
    /// outputs carried out. Returns the machine's answer; a violation is
    /// fatal.
    fn step(&mut self, input: QueueInput) -> Result<Answer, Fatal> {
        let now = self.now();
        let mut outputs = Vec::new();
        let answer = match self.queue.step(now, input, |o| outputs.push(o)) {
            Ok(stepped) => Ok(stepped.answer),
            Err(CheckError::Rejected(e)) => Err(e),
            Err(CheckError::Violation(v)) => return Err(format!("invariant violated: {v}").into()),
        };
        self.wake_at = self.queue.next_deadline();
        for output in outputs {
            self.carry_out(output)?;
        }
        Ok(answer)
    }

    /// A graceful stop: once nothing is queued, waiting, retrying or in a
    /// turn, shut the machine down. Idle runs are left to their idle timeout.
    fn shut_down_when_done(&mut self) -> Result<(), Fatal> {
        if !self.shutdown_requested || self.queue.is_shut_down() || self.work_left() {
            return Ok(());
        }
        self.note("-", None, "shutdown");
        // The host's own clock, for the evidence: idle agents end at once.
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        fs::write(
            self.log_dir.join("host.log"),
            format!("event=shutdown unix_nanos={nanos}\n"),
        )?;
        match self.step(Input::Shutdown)? {
            Ok(Response::ShutDown(report)) => self.print_shutdown_report(&report),
            other => self.expect_accepted("-", None, other),
        }
        Ok(())
    }

    /// Whether any group still has work queued, a retry scheduled, a compact
    /// owed, or a run that is not idle.
    fn work_left(&self) -> bool {
        let stats = self.queue.stats();
        stats.waiting_groups > 0
            || stats.queued_jobs > 0
            || self.mailboxes.keys().any(|group| {
                self.queue.explain(group).is_some_and(|e| {
                    e.unread_messages
                        || e.retry_at.is_some()
                        || e.compact_pending
                        || e.run.is_some_and(|r| r.state != RunState::IdleWaiting)
                })
            })
    }

    fn on_event(&mut self, event: Event) -> Result<(), Fatal> {
        match event {
            Event::Workload(Action::Message { group, text }) => self.user_message(group, text)?,
            Event::Workload(Action::Task { group, id, prompt }) => {
                self.note(&group, None, format!("task {id} submitted: {prompt:?}"));
                let task = Input::Task {
                    group: group.clone(),
                    id,
                    payload: prompt,
                };
                let answer = self.step(task)?;
                self.expect_accepted(&group, None, answer);
            }
            Event::Workload(Action::Shutdown) => {
                self.note("-", None, "script over: shut down once queued work is done");
                self.shutdown_requested = true;
            }
            Event::Line { run, line } => self.agent_line(run, &line)?,
            Event::Exited { run, status } => {
                let Some(process) = self.live.remove(&run) else {
                    return Ok(());
                };
                self.tally.process_ended(&process.group);
                let _ = fs::remove_dir_all(&process.input);
                let exit = match status {
                    Some(0) => Exit::Clean,
                    _ => Exit::Failed,
                };
                let how = status.map_or("no status: killed or never started".to_string(), |s| {
                    format!("status {s}")
                });
                self.note(&process.group, Some(run), format!("exited ({how})"));
                let answer = self.step(Input::Exited { run, exit })?;
                self.expect_accepted(&process.group, Some(run), answer);
            }
        }
        Ok(())
    }

    /// A user wrote in a group: store the message, then pipe it into the
    /// live run if the core allows, else tell the core there is mail.
    fn user_message(&mut self, group: Group, text: String) -> Result<(), Fatal> {
        self.note(&group, None, format!("message {text:?}"));
        self.mailboxes
            .entry(group.clone())
            .or_default()
            .messages
            .push(text);
        match self.step(Input::Pipe {
            group: group.clone(),
        })? {
            Ok(Response::Piped(run)) => {
                let unread = self.mailbox(&group).take_unread();
                let dir = self.live.get(&run).map(|p| p.input.clone());
                if let Some(dir) = dir {
                    for text in &unread {
                        self.write_message(&dir, text)?;
                    }
                }
                self.tally.piped += 1;
                self.note(&group, Some(run), "piped into the live run");
            }
            Ok(Response::PipeRefused(why)) => {
                if why != PipeRefusal::NoRun {
                    self.note(&group, None, format!("not piped: {why}"));
                }
                let answer = self.step(Input::Message {
                    group: group.clone(),
                })?;
                self.expect_accepted(&group, None, answer);
            }
            other => self.expect_accepted(&group, None, other),
        }
        Ok(())
    }

    /// A JSON line from a run's agent.
    fn agent_line(&mut self, run: RunId, line: &str) -> Result<(), Fatal> {
        let group = self
            .live
            .get(&run)
            .map_or_else(String::new, |p| p.group.clone());
        let input = match serde_json::from_str::<AgentLine>(line) {
            Ok(AgentLine::Turn(turn)) => {
                // Delivering the reply to the user is printing it here.
                let what = match (&turn.reply, &turn.error, turn.compacted_from) {
                    (Some(reply), _, _) => format!("reply {reply:?} (context {}%)", turn.percent()),
                    (_, Some(error), _) => format!("turn failed: {error}"),
                    (_, _, Some(before)) => {
                        format!("compacted: {before} -> {} tokens", turn.tokens)
                    }
                    _ => "turn finished".to_string(),
                };
                self.note(&group, Some(run), what);
                Input::Turn {
                    run,
                    report: turn.to_report(true),
                }
            }
            Ok(AgentLine::Idle) => Input::Idle { run },
            Err(e) => {
                self.note(&group, Some(run), format!("unreadable line {line:?}: {e}"));
                return Ok(());
            }
        };
        let answer = self.step(input)?;
        self.expect_accepted(&group, Some(run), answer);
        Ok(())
    }

    /// Carries out one output of the machine.
    fn carry_out(&mut self, output: Output<Group, TaskId, Prompt>) -> Result<(), Fatal> {
        match output {
            Output::Command(command) => match command {
                Command::Spawn { run, group, work } => self.spawn(run, group, work)?,
                Command::CloseInput { run, reason } => {
                    if let Some(process) = self.live.get(&run) {
                        let group = process.group.clone();
                        wire::write_atomic(&process.input, CLOSE_SENTINEL, b"")?;
                        let why = match reason {
                            CloseReason::Preempt => "a task is waiting",
                            CloseReason::IdleTimeout => "idle timeout",
                            CloseReason::TurnTimeout => "its turn took too long",
                            CloseReason::Stalled => "it stalled",
                            CloseReason::RunTimeLimit => "it reached its maximum life",
                            CloseReason::Shutdown => "shutdown",
                            CloseReason::Evicted => "another group needs the slot",
                            _ => "another reason",
                        };
                        self.note(&group, Some(run), format!("close input: {why}"));
                    }
                }
                Command::Kill { run } => {
                    if let Some(process) = self.live.get_mut(&run) {
                        if let Some(kill) = process.kill.take() {
                            let _ = kill.send(());
                        }
                        let group = process.group.clone();
                        self.tally.kills += 1;
                        self.note(&group, Some(run), "killed: it did not exit after its close");
                    }
                }
                Command::Notify { group, notice } => {
                    let what = match notice {
                        Notice::ContextWarning { percent, .. } => {
                            format!("notice to user: context at {percent}%")
                        }
                        Notice::AutoCompacted { .. } => "notice to user: auto-compacted".into(),
                        other => format!("notice to user: {other:?}"),
                    };
                    self.note(&group, None, what);
                }
                Command::RollbackCursor { group } => {
                    let rewound = self.mailbox(&group).roll_back();
                    self.tally.rollbacks += 1;
                    self.note(
                        &group,
                        None,
                        format!("cursor rolled back: {rewound} message(s) will be read again"),
                    );
                }
                Command::RecordCompaction { group } => {
                    self.tally.compactions += 1;
                    self.note(&group, None, "compaction recorded");
                }
                Command::TerminalFailure { group } => {
                    self.tally.terminal_failures += 1;
                    self.note(&group, None, "retries exhausted: giving up");
                }
                other => {
                    return Err(
                        format!("a command this adapter cannot carry out: {other:?}").into(),
                    )
                }
            },
            Output::Record(record) => self.print_record(record),
            _ => {}
        }
        Ok(())
    }

    /// Starts the run's process: the agent, with its own input directory.
    fn spawn(&mut self, run: RunId, group: Group, work: Work<TaskId, Prompt>) -> Result<(), Fatal> {
        let input = self
            .scratch
            .root
            .join("ipc")
            .join(format!("run-{}", run.get()));
        fs::create_dir_all(&input)?;
        let mut agent = Process::new(&self.agent_exe);
        agent
            .arg("agent")
            .args(["--group", &group, "--run", &run.get().to_string()])
            .args(["--turn-ms", &self.pace.turn.as_millis().to_string()])
            .arg("--input")
            .arg(&input)
            .arg("--session")
            .arg(self.scratch.root.join("sessions").join(&group))
            .arg("--log")
            .arg(self.log_dir.join(format!("run-{:06}.log", run.get())))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .kill_on_drop(true);
        let what = match &work {
            Work::Messages => {
                // The messages to process are the group's unread ones.
                let unread = self.mailbox(&group).start_run();
                for text in &unread {
                    self.write_message(&input, text)?;
                }
                agent.args(["--work", "messages"]);
                let fail = self.inject_failure(&group);
                if fail {
                    agent.arg("--fail");
                }
                let hang = self.inject_hang(&group);
                if hang {
                    agent.arg("--hang");
                }
                let flaky = match (fail, hang) {
                    (true, _) => ", scripted to fail",
                    (_, true) => ", scripted to hang",
                    _ => "",
                };
                format!("spawn: messages ({} unread){flaky}", unread.len())
            }
            Work::Task { id, payload } => {
                agent.args(["--work", "task", "--prompt", payload]);
                format!("spawn: task {id}")
            }
            Work::Compact => {
                agent.args(["--work", "compact"]);
                "spawn: compact".to_string()
            }
        };
        self.note(&group, Some(run), what);
        self.tally.process_started(&group, work.kind());
        let (kill, killed) = oneshot::channel();
        let kill = Some(kill);
        self.live.insert(run, LiveProcess { group, input, kill });
        match agent.spawn() {
            Ok(child) => {
                tokio::spawn(watch(run, child, self.events.clone(), killed));
            }
            Err(e) => {
                // Reported like any exit, through the run loop.
                eprintln!("cannot start the agent for {run}: {e}");
                let _ = self.events.send(Event::Exited { run, status: None });
            }
        }
        Ok(())
    }

    fn mailbox(&mut self, group: &str) -> &mut Mailbox {
        self.mailboxes.entry(group.to_string()).or_default()
    }

    fn write_message(&mut self, dir: &std::path::Path, text: &str) -> io::Result<()> {
        self.next_file += 1;
        wire::write_message(dir, self.next_file, text)
    }

    /// Whether this Messages run of `group` is scripted to hang: the first
    /// run of the hung group.
    fn inject_hang(&mut self, group: &str) -> bool {
        group == HUNG_GROUP && !std::mem::replace(&mut self.hung_once, true)
    }

    /// Whether this Messages run of `group` is scripted to fail.
    fn inject_failure(&mut self, group: &str) -> bool {
        match self.failures_left.get_mut(group) {
            Some(left) if *left > 0 => {
                *left -= 1;
                true
            }
            _ => false,
        }
    }

    /// Inputs from the processes are always valid; say so if one is not.
    fn expect_accepted(&self, group: &str, run: Option<RunId>, answer: Answer) {
        if let Err(e) = answer {
            self.note(group, run, format!("rejected: {e}"));
        }
    }

    fn print_record(&mut self, record: Record<Group, TaskId>) {
        let (group, what) = match record {
            Record::Queued { group, what } => match what {
                Pending::Task(id) => (group, format!("task {id} queued")),
                Pending::Compact => (group, "compact queued: starts after this run exits".into()),
                // A message check is queued for every message; say so only
                // when a retry deadline queued it.
                Pending::Messages if self.firing_deadlines => {
                    (group, "retry due: messages queued".into())
                }
                Pending::Messages => return,
                other => (group, format!("{other:?} queued")),
            },
            Record::Deduplicated { group, id } => {
                self.tally.deduplicated += 1;
                (
                    group,
                    format!("task {id} deduplicated: already queued or running"),
                )
            }
            Record::Waiting { group, ahead } => {
                (group, format!("waits for a slot, {ahead} group(s) ahead"))
            }
            Record::RetryScheduled { group, attempt, at } => {
                self.tally.retries += 1;
                (
                    group,
                    format!("retry {attempt} scheduled at {}", seconds(at)),
                )
            }
            Record::RetriesExhausted { group } => (group, "retries exhausted".into()),
            Record::TaskFailed { group, run, id } => (
                group,
                format!("task {id} failed in {run}; tasks are not retried"),
            ),
            Record::Dropped { group, what } => (group, format!("dropped after shutdown: {what:?}")),
            // The spawn line already says it.
            Record::Drained { .. } => return,
            other => (String::from("-"), format!("{other:?}")),
        };
        self.note(&group, None, what);
    }

    fn print_shutdown_report(&self, report: &ShutdownReport<Group, TaskId, Prompt>) {
        println!(
            "shutdown report: {} group(s) with work left, {} live run(s)",
            report.groups.len(),
            report.live_runs.len()
        );
        for live in &report.live_runs {
            println!(
                "  live   {} {} ({:?}, {:?}): its inputs are still handled until it exits",
                live.run, live.group, live.kind, live.state
            );
        }
        for pending in &report.groups {
            let jobs: Vec<String> = pending
                .jobs
                .iter()
                .map(|w| match w {
                    Work::Task { id, .. } => format!("task {id}"),
                    Work::Compact => "compact".into(),
                    Work::Messages => "messages".into(),
                })
                .collect();
            println!(
                "  left   {}: jobs [{}], unread messages: {}, retry: {:?}, compact pending: {}",
                pending.group,
                jobs.join(", "),
                pending.unread_messages,
                pending.retry.map(|(n, at)| (n, seconds(at))),
                pending.compact_pending
            );
        }
    }

    /// One timeline line: time, group, run, what happened.
    fn note(&self, group: &str, run: Option<RunId>, what: impl Display) {
        let run = run.map_or_else(|| "-".to_string(), |r| r.to_string());
        println!("{:>8}  {group:<8} {run:<7} {what}", seconds(self.now()));
    }
}

/// `1.234s`.
fn seconds(t: Time) -> String {
    format!("{:.3}s", t.since_epoch().as_secs_f64())
}
