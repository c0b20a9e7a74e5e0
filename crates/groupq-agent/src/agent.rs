//! The reference agent: a stand-in for a real model-driven agent that
//! speaks the whole protocol, logs its own life, and can be scripted to
//! misbehave from the text it is given.
//!
//! `groupq-agent [--turn-ms N]` (default 100): every turn takes `N` ms.
//!
//! - **Messages** run: answers the messages in `in/`, one turn per batch
//!   (a `turn` line, then an `idle` line), waits for follow-ups, and exits
//!   0 once the close sentinel is there and everything is answered.
//! - **Task** run: one turn (`"done: <prompt>"`), exit 0.
//! - **Compact** run: sets the group's context back to its base size, one
//!   turn reporting the compaction, exit 0.
//!
//! Scripted behaviour, from a message's text or a task's prompt:
//! - `#fail`: the turn fails (an `error` turn line, exit 1), every time.
//! - `#fatal`: as `#fail`, and the turn line says the failure is fatal
//!   (`"fatal":true`): the host is told of a terminal failure at once.
//! - `#ratelimit`: as `#fail`, and the turn line asks for a retry after
//!   300 ms (`"retry_after_ms":300`), as a rate-limited agent would.
//! - `#flaky`: the turn fails the first two times the group sees it (a
//!   count kept in the group directory), then succeeds: what a retry is for.
//! - `#hang`: the first run of the group that sees it hangs: it answers
//!   nothing, ignores its close, and only logs `alive` every 20 ms until it
//!   is killed. Later runs answer (a marker in the group directory).
//!
//! The group's context size lives in `context` in the group directory,
//! growing by 1,100 tokens per message from 2,000 in a 10,000-token window,
//! so long conversations get compacted.
//!
//! Its evidence, `agent.log` in the IPC directory, one line per event with
//! its own wall clock: `event=start|turn|alive|end group=.. run=..
//! unix_nanos=..` (`turn` lines add `messages=N`, and `answered=..` with the
//! texts a successful turn answered; `end` adds `code=N`; see [`crate::log`]).

use std::fs;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use groupq_protocol::{
    read_messages, AgentLine, AssignedWork, Assignment, Status, TurnLine, CLOSE_SENTINEL,
    INPUT_DIR, RUN_FILE,
};

/// Tokens in a fresh (or freshly compacted) context.
const BASE_TOKENS: u64 = 2_000;
/// The context window.
const CONTEXT_LIMIT: u64 = 10_000;
/// Tokens a message and its answer add to the context.
const TOKENS_PER_MESSAGE: u64 = 1_100;
/// How long the agent waits between looks at its input directory.
const POLL: Duration = Duration::from_millis(5);
/// How often a hung agent logs that it is alive.
const ALIVE_TICK: Duration = Duration::from_millis(20);

/// The scripted word that fails a turn.
pub const FAIL: &str = "#fail";
/// The scripted word that fails a turn fatally: no retry.
pub const FATAL: &str = "#fatal";
/// The scripted word that fails a turn asking for a retry after
/// [`RATE_LIMIT_MS`].
pub const RATE_LIMIT: &str = "#ratelimit";
/// The retry delay `#ratelimit` asks for, in milliseconds.
pub const RATE_LIMIT_MS: u64 = 300;
/// The scripted word that hangs the group's first run that sees it.
pub const HANG: &str = "#hang";
/// The scripted word that fails the group's first two turns that see it.
pub const FLAKY: &str = "#flaky";
/// How many times `#flaky` fails.
const FLAKY_FAILURES: u32 = 2;

struct Agent {
    assignment: Assignment,
    ipc: PathBuf,
    group_dir: PathBuf,
    turn: Duration,
}

/// Runs the agent with `args` (after the program name), reading
/// `GROUPQ_IPC` and `GROUPQ_GROUP_DIR` (default `/ipc` and `/group`).
pub fn main(args: &[String]) -> ExitCode {
    let agent = match Agent::new(args) {
        Ok(agent) => agent,
        Err(e) => {
            eprintln!("groupq-agent: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = agent.log("start", "") {
        eprintln!("groupq-agent: cannot write its log: {e}");
        return ExitCode::from(2);
    }
    let code = agent.run().unwrap_or_else(|e| {
        eprintln!("groupq-agent: run {}: {e}", agent.assignment.run);
        1
    });
    if let Err(e) = agent.log("end", &format!(" code={code}")) {
        eprintln!("groupq-agent: cannot write its log: {e}");
        return ExitCode::from(2);
    }
    ExitCode::from(code)
}

impl Agent {
    fn new(args: &[String]) -> Result<Agent, String> {
        let mut turn = Duration::from_millis(100);
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--turn-ms" => {
                    let ms = args.next().ok_or("--turn-ms needs a number")?;
                    let ms: u64 = ms.parse().map_err(|e| format!("--turn-ms {ms:?}: {e}"))?;
                    turn = Duration::from_millis(ms);
                }
                other => {
                    return Err(format!(
                        "unknown argument {other:?} (usage: groupq-agent [--turn-ms N])"
                    ))
                }
            }
        }
        let dir = |var: &str, default: &str| {
            PathBuf::from(std::env::var_os(var).unwrap_or_else(|| default.into()))
        };
        let ipc = dir("GROUPQ_IPC", "/ipc");
        let group_dir = dir("GROUPQ_GROUP_DIR", "/group");
        let run_file = ipc.join(RUN_FILE);
        let text = fs::read(&run_file).map_err(|e| format!("{}: {e}", run_file.display()))?;
        let assignment =
            serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", run_file.display()))?;
        Ok(Agent {
            assignment,
            ipc,
            group_dir,
            turn,
        })
    }

    /// Appends an event to the run's `agent.log` ([`crate::log`]).
    fn log(&self, event: &str, extra: &str) -> io::Result<()> {
        let Assignment { group, run, .. } = &self.assignment;
        crate::log::append(&self.ipc, event, group, *run, extra)
    }

    /// Does the work; returns the exit status.
    fn run(&self) -> io::Result<u8> {
        match &self.assignment.work {
            AssignedWork::Messages => self.messages(),
            AssignedWork::Task { prompt, .. } => {
                self.script(prompt)?;
                let ok = self.succeeds(prompt)?;
                self.turn(&format!("done: {prompt}"), &[], ok, self.tokens()?)?;
                Ok(if ok { 0 } else { 1 })
            }
            AssignedWork::Compact => {
                thread::sleep(self.turn);
                let before = self.tokens()?;
                self.set_tokens(BASE_TOKENS)?;
                emit(&AgentLine::Turn(TurnLine {
                    status: Status::Success,
                    reply: None,
                    error: None,
                    messages: None,
                    tokens: Some(BASE_TOKENS),
                    context_limit: Some(CONTEXT_LIMIT),
                    compacted_from: Some(before),
                    fatal: false,
                    retry_after_ms: None,
                }))?;
                self.log("turn", " messages=0")?;
                Ok(0)
            }
        }
    }

    /// A `#hang` in the text, the group's first: hang until killed.
    fn script(&self, text: &str) -> io::Result<()> {
        let marker = self.group_dir.join("hung");
        if text.contains(HANG) && !marker.exists() {
            fs::create_dir_all(&self.group_dir)?;
            fs::write(&marker, b"")?;
            loop {
                self.log("alive", "")?;
                thread::sleep(ALIVE_TICK);
            }
        }
        Ok(())
    }

    fn messages(&self) -> io::Result<u8> {
        let input = self.ipc.join(INPUT_DIR);
        let mut batch = read_messages(&input)?;
        if batch.is_empty() {
            emit(&AgentLine::Idle)?;
        }
        loop {
            if !batch.is_empty() {
                if !self.answer(&batch)? {
                    return Ok(1);
                }
            } else if input.join(CLOSE_SENTINEL).exists() {
                // Every follow-up was written before the sentinel: one last
                // look catches any that arrived since the last one.
                let last = read_messages(&input)?;
                if !last.is_empty() && !self.answer(&last)? {
                    return Ok(1);
                }
                return Ok(0);
            } else {
                thread::sleep(POLL);
            }
            batch = read_messages(&input)?;
        }
    }

    /// One turn over a batch of messages. `false` when the turn failed.
    fn answer(&self, batch: &[String]) -> io::Result<bool> {
        for text in batch {
            self.script(text)?;
        }
        let mut ok = true;
        for text in batch {
            ok &= self.succeeds(text)?;
        }
        let mut tokens = self.tokens()?;
        if ok {
            // The messages and their answers join the context.
            tokens += TOKENS_PER_MESSAGE * batch.len() as u64;
            self.set_tokens(tokens)?;
        }
        let reply = format!("re: {}", batch.join(" | "));
        self.turn(&reply, batch, ok, tokens)?;
        if ok {
            emit(&AgentLine::Idle)?;
        }
        Ok(ok)
    }

    /// Takes a turn's time, then reports it (a failure when not `ok`), with
    /// `tokens` in the context after it.
    fn turn(&self, reply: &str, batch: &[String], ok: bool, tokens: u64) -> io::Result<()> {
        let messages = batch.len() as u64;
        thread::sleep(self.turn);
        let line = if ok {
            TurnLine {
                status: Status::Success,
                reply: Some(reply.to_string()),
                error: None,
                messages: Some(messages),
                tokens: Some(tokens),
                context_limit: Some(CONTEXT_LIMIT),
                compacted_from: None,
                fatal: false,
                retry_after_ms: None,
            }
        } else {
            TurnLine {
                status: Status::Error,
                reply: None,
                error: Some("the model API is unavailable".into()),
                messages: Some(0),
                tokens: Some(tokens),
                context_limit: Some(CONTEXT_LIMIT),
                compacted_from: None,
                fatal: batch.iter().any(|t| t.contains(FATAL)),
                retry_after_ms: batch
                    .iter()
                    .any(|t| t.contains(RATE_LIMIT))
                    .then_some(RATE_LIMIT_MS),
            }
        };
        emit(&AgentLine::Turn(line))?;
        // The texts a successful turn answered: the evidence that each
        // message was answered by a run whose reply went out.
        let answered = if ok { batch } else { &[] };
        self.log(
            "turn",
            &format!(
                " messages={messages}{}",
                crate::log::answered_field(answered)
            ),
        )
    }

    /// Whether a turn over `text` succeeds: not for `#fail`, nor for the
    /// group's first `#flaky` turns.
    fn succeeds(&self, text: &str) -> io::Result<bool> {
        if text.contains(FAIL) || text.contains(FATAL) || text.contains(RATE_LIMIT) {
            return Ok(false);
        }
        if !text.contains(FLAKY) {
            return Ok(true);
        }
        let count = self.group_dir.join("flaky");
        let failed: u32 = fs::read_to_string(&count)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        if failed >= FLAKY_FAILURES {
            return Ok(true);
        }
        fs::create_dir_all(&self.group_dir)?;
        fs::write(&count, (failed + 1).to_string())?;
        Ok(false)
    }

    fn tokens(&self) -> io::Result<u64> {
        match fs::read_to_string(self.group_dir.join("context")) {
            Ok(s) => Ok(s.trim().parse().unwrap_or(BASE_TOKENS)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(BASE_TOKENS),
            Err(e) => Err(e),
        }
    }

    fn set_tokens(&self, tokens: u64) -> io::Result<()> {
        fs::create_dir_all(&self.group_dir)?;
        fs::write(self.group_dir.join("context"), tokens.to_string())
    }
}

/// Prints one JSON line on stdout and flushes it, so the driver sees it now.
fn emit(line: &AgentLine) -> io::Result<()> {
    let json = serde_json::to_string(line)?;
    let mut out = io::stdout().lock();
    writeln!(out, "{json}")?;
    out.flush()
}
