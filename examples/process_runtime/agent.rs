//! Agent mode: the stand-in for a container. The example binary re-executes
//! itself as `process_runtime agent ...`, once per run.
//!
//! - `--work messages`: answer the message files found in the input
//!   directory, one turn per batch; after each turn print a `turn` line and an
//!   `idle` line, then wait for more files until the `_close` sentinel
//!   appears. With `--fail` the first turn fails and the process exits 1.
//!   With `--hang` it never answers and ignores its close: it only logs that
//!   it is alive, every 20 ms, until it is killed.
//! - `--work task`: do the task (`--prompt`), print one `turn` line, exit.
//! - `--work compact`: compact the group's context, print one `turn` line
//!   with the compaction event, exit.
//!
//! The group's context lives in a session file that outlives the process, as
//! a conversation outlives a container: it grows turn by turn until the core
//! queues a compact turn. Only one process of a group ever runs at a time
//! (that is what groupq guarantees), so the file needs no locking.
//!
//! Each process appends its own start and end wall-clock timestamps to its
//! log file: the evidence the integration test reads.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::wire::{self, AgentLine, Status, Turn, CLOSE_SENTINEL};

/// Tokens in a fresh (or freshly compacted) context.
const BASE_TOKENS: u64 = 2_000;
/// The context window.
const CONTEXT_LIMIT: u64 = 10_000;
/// Tokens a message and its answer add to the context.
const TOKENS_PER_MESSAGE: u64 = 1_100;
/// How long the agent waits between looks at its input directory.
const POLL: Duration = Duration::from_millis(10);

#[derive(Clone, Copy, PartialEq, Eq)]
enum WorkArg {
    Messages,
    Task,
    Compact,
}

struct Agent {
    group: String,
    run: u64,
    work: WorkArg,
    input: PathBuf,
    session: PathBuf,
    log: PathBuf,
    turn: Duration,
    prompt: String,
    fail: bool,
    hang: bool,
}

/// Entry point of agent mode; `args` follow the word `agent`.
pub fn main(args: &[String]) -> ExitCode {
    let agent = match Agent::parse(args) {
        Ok(agent) => agent,
        Err(e) => {
            eprintln!("agent: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = agent.log_event("start") {
        eprintln!("agent {}: cannot write its log: {e}", agent.run);
        return ExitCode::from(2);
    }
    let code = agent.run().unwrap_or_else(|e| {
        eprintln!("agent {}: {e}", agent.run);
        1
    });
    if let Err(e) = agent.log_event("end") {
        eprintln!("agent {}: cannot write its log: {e}", agent.run);
        return ExitCode::from(2);
    }
    ExitCode::from(code)
}

impl Agent {
    fn parse(args: &[String]) -> Result<Agent, String> {
        let value = |name: &str| -> Result<String, String> {
            args.iter()
                .position(|a| a == name)
                .and_then(|i| args.get(i + 1))
                .cloned()
                .ok_or_else(|| format!("missing {name}"))
        };
        let work = match value("--work")?.as_str() {
            "messages" => WorkArg::Messages,
            "task" => WorkArg::Task,
            "compact" => WorkArg::Compact,
            other => return Err(format!("unknown work {other:?}")),
        };
        let number = |name: &str| -> Result<u64, String> {
            value(name)?.parse().map_err(|e| format!("{name}: {e}"))
        };
        Ok(Agent {
            group: value("--group")?,
            run: number("--run")?,
            work,
            input: value("--input")?.into(),
            session: value("--session")?.into(),
            log: value("--log")?.into(),
            turn: Duration::from_millis(number("--turn-ms")?),
            prompt: value("--prompt").unwrap_or_default(),
            fail: args.iter().any(|a| a == "--fail"),
            hang: args.iter().any(|a| a == "--hang"),
        })
    }

    /// Appends `event=start|end group=.. run=.. unix_nanos=..` to the log.
    fn log_event(&self, event: &str) -> io::Result<()> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(io::Error::other)?
            .as_nanos();
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        writeln!(
            log,
            "event={event} group={} run={} unix_nanos={nanos}",
            self.group, self.run
        )
    }

    /// Does the work; returns the exit status.
    fn run(&self) -> io::Result<u8> {
        if self.hang {
            // A hung agent: its own clock says it is alive, nothing else.
            loop {
                self.log_event("alive")?;
                thread::sleep(Duration::from_millis(20));
            }
        }
        match self.work {
            WorkArg::Messages => self.messages(),
            WorkArg::Task => {
                thread::sleep(self.turn);
                let tokens = self.tokens()?;
                emit(&AgentLine::Turn(Turn {
                    status: Status::Success,
                    reply: Some(format!("done: {}", self.prompt)),
                    error: None,
                    tokens,
                    context_limit: CONTEXT_LIMIT,
                    compacted_from: None,
                }))?;
                Ok(0)
            }
            WorkArg::Compact => {
                thread::sleep(self.turn);
                let before = self.tokens()?;
                self.set_tokens(BASE_TOKENS)?;
                emit(&AgentLine::Turn(Turn {
                    status: Status::Success,
                    reply: None,
                    error: None,
                    tokens: BASE_TOKENS,
                    context_limit: CONTEXT_LIMIT,
                    compacted_from: Some(before),
                }))?;
                Ok(0)
            }
        }
    }

    fn messages(&self) -> io::Result<u8> {
        let mut batch = wire::take_messages(&self.input)?;
        if batch.is_empty() {
            // Started for a message check whose messages another run took.
            return Ok(0);
        }
        loop {
            if !batch.is_empty() {
                if !self.answer(&batch)? {
                    return Ok(1);
                }
            } else if self.input.join(CLOSE_SENTINEL).exists() {
                // Every accepted follow-up was written before the sentinel:
                // one last look catches any that arrived since the last one.
                let last = wire::take_messages(&self.input)?;
                if !last.is_empty() && !self.answer(&last)? {
                    return Ok(1);
                }
                return Ok(0);
            } else {
                thread::sleep(POLL);
            }
            batch = wire::take_messages(&self.input)?;
        }
    }

    /// One turn over a batch of messages. `false` when the turn failed.
    fn answer(&self, batch: &[String]) -> io::Result<bool> {
        thread::sleep(self.turn);
        let tokens = self.tokens()?;
        if self.fail {
            emit(&AgentLine::Turn(Turn {
                status: Status::Error,
                reply: None,
                error: Some("the model API is unavailable".into()),
                tokens,
                context_limit: CONTEXT_LIMIT,
                compacted_from: None,
            }))?;
            return Ok(false);
        }
        let tokens = tokens + TOKENS_PER_MESSAGE * batch.len() as u64;
        self.set_tokens(tokens)?;
        emit(&AgentLine::Turn(Turn {
            status: Status::Success,
            reply: Some(format!("re: {}", batch.join(" | "))),
            error: None,
            tokens,
            context_limit: CONTEXT_LIMIT,
            compacted_from: None,
        }))?;
        emit(&AgentLine::Idle)?;
        Ok(true)
    }

    fn tokens(&self) -> io::Result<u64> {
        match fs::read_to_string(&self.session) {
            Ok(s) => Ok(s.trim().parse().unwrap_or(BASE_TOKENS)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(BASE_TOKENS),
            Err(e) => Err(e),
        }
    }

    fn set_tokens(&self, tokens: u64) -> io::Result<()> {
        fs::write(&self.session, tokens.to_string())
    }
}

/// Prints one JSON line on stdout (line-buffered, so the adapter sees it now).
fn emit(line: &AgentLine) -> io::Result<()> {
    let json = serde_json::to_string(line)?;
    writeln!(io::stdout(), "{json}")
}
