//! Replaying a [`Trace`] through a checked machine, with a transcript.

use std::fmt;

use thiserror::Error;

use groupq::{
    CloseReason, Command, Dropped, Error, Machine, Notice, Output, Pending, Record, Response,
    RunState, ShutdownReport, Steppable, Time, Work, WorkKind,
};

use crate::checked::{CheckError, Checked};
use crate::checker::Violation;
use crate::trace::{Dur, Step, Str, Trace};

/// Why [`replay`] stopped.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// The trace's configuration is invalid; no machine could be built.
    #[error("cannot build the machine: {0}")]
    Config(#[source] Error),
    /// The machine broke an invariant; the transcript ends with the step.
    #[error("`{step}` broke an invariant: {violation}")]
    Violation {
        /// Index of the step in [`Trace::steps`], from 0.
        index: usize,
        /// The step.
        step: Step,
        /// What the checker found.
        violation: Box<Violation<String>>,
    },
    /// The transcript could not be written.
    #[error("writing the transcript failed")]
    Write(#[from] fmt::Error),
}

/// Replays `trace` through a [`Checked`] machine, writing a transcript to
/// `out`, and returns the machine as the trace left it.
///
/// For each step the transcript has the step's line, then indented: the
/// machine's answer (`accepted`, `queued`, `duplicate`, `piped run#1`,
/// `pipe refused: <reason>`, the shutdown report, or `rejected: <error>`),
/// every command and record in order, and the next deadline
/// (`wake-at 5030ms` or `wake-at none`). A rejected input is not a failure:
/// traces may hold illegal inputs, and the checker verifies that the
/// rejection was deserved and produced nothing. The transcript is
/// deterministic, so it can be committed as a golden file.
pub fn replay<W: fmt::Write>(
    trace: &Trace,
    out: &mut W,
) -> Result<Machine<String, String, String>, ReplayError> {
    let mut q = Checked::new(trace.config.clone()).map_err(ReplayError::Config)?;
    let mut outputs = Vec::new();
    for (index, step) in trace.steps.iter().enumerate() {
        writeln!(out, "{step}")?;
        outputs.clear();
        let result = q.step(step.now, step.input.clone(), |o| outputs.push(o));
        let violation = match result {
            Ok(stepped) => {
                write_response(out, &stepped.answer)?;
                None
            }
            Err(CheckError::Rejected(e)) => {
                writeln!(out, "  rejected: {e}")?;
                None
            }
            Err(CheckError::Violation(v)) => {
                // The step's outputs are still there to show.
                outputs.extend(std::iter::from_fn(|| q.poll()));
                Some(v)
            }
        };
        for o in &outputs {
            writeln!(out, "  {}", ShowOutput(o))?;
        }
        write_wake(out, q.machine().next_deadline())?;
        if let Some(violation) = violation {
            return Err(ReplayError::Violation {
                index,
                step: step.clone(),
                violation,
            });
        }
    }
    Ok(q.into_machine())
}

fn write_wake<W: fmt::Write>(out: &mut W, wake_at: Option<Time>) -> fmt::Result {
    match wake_at {
        Some(at) => writeln!(out, "  wake-at {at}"),
        None => writeln!(out, "  wake-at none"),
    }
}

fn write_response<W: fmt::Write>(
    out: &mut W,
    response: &Response<String, String, String>,
) -> fmt::Result {
    match response {
        Response::ShutDown(report) => write_report(out, report),
        other => writeln!(out, "  {other}"),
    }
}

fn write_report<W: fmt::Write>(
    out: &mut W,
    report: &ShutdownReport<String, String, String>,
) -> fmt::Result {
    writeln!(out, "  shut-down")?;
    for g in &report.groups {
        let group = Str(&g.group);
        for job in &g.jobs {
            writeln!(out, "    pending {group} {}", ShowWork(job))?;
        }
        if g.unread_messages {
            writeln!(out, "    pending {group} unread-messages")?;
        }
        if let Some((attempt, at)) = g.retry {
            writeln!(out, "    pending {group} retry attempt={attempt} at={at}")?;
        }
        if g.compact_pending {
            writeln!(out, "    pending {group} compact-pending")?;
        }
        for (id, payload) in &g.background_tasks {
            writeln!(
                out,
                "    pending {group} background {} {}",
                Str(id),
                Str(payload)
            )?;
        }
    }
    for r in &report.live_runs {
        let state = match r.state {
            RunState::Busy => "busy",
            RunState::IdleWaiting => "idle-waiting",
            RunState::Closing => "closing",
        };
        let kind = match r.kind {
            WorkKind::Messages => "messages",
            WorkKind::Task => "task",
            WorkKind::Compact => "compact",
        };
        writeln!(out, "    live {} {} {kind} {state}", r.run, Str(&r.group))?;
    }
    Ok(())
}

struct ShowWork<'a>(&'a Work<String, String>);

impl fmt::Display for ShowWork<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Work::Messages => f.write_str("messages"),
            Work::Task { id, payload } => write!(f, "task {} {}", Str(id), Str(payload)),
            Work::Compact => f.write_str("compact"),
        }
    }
}

struct ShowOutput<'a>(&'a Output<String, String, String>);

impl fmt::Display for ShowOutput<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Output::Command(c) => match c {
                Command::Spawn { run, group, work } => {
                    write!(f, "spawn {run} {} {}", Str(group), ShowWork(work))
                }
                Command::CloseInput { run, reason } => write!(
                    f,
                    "close {run} {}",
                    match reason {
                        CloseReason::Preempt => "preempt",
                        CloseReason::IdleTimeout => "idle-timeout",
                        CloseReason::TurnTimeout => "turn-timeout",
                        CloseReason::RunTimeLimit => "run-time-limit",
                        CloseReason::Stalled => "stalled",
                        CloseReason::Shutdown => "shutdown",
                        CloseReason::Evicted => "evicted",
                        CloseReason::Host => "host",
                        CloseReason::LimitLowered => "limit-lowered",
                        _ => "unknown-reason",
                    }
                ),
                Command::Kill { run } => write!(f, "kill {run}"),
                Command::Notify { group, notice } => {
                    write!(f, "notify {} ", Str(group))?;
                    match notice {
                        Notice::ContextWarning {
                            percent,
                            tokens,
                            limit,
                        } => {
                            write!(f, "context-warning percent={percent}")?;
                            if let Some(t) = tokens {
                                write!(f, " tokens={t}")?;
                            }
                            match limit {
                                Some(l) => write!(f, " limit={l}"),
                                None => Ok(()),
                            }
                        }
                        Notice::AutoCompacted {
                            tokens_before: Some(t),
                        } => write!(f, "auto-compacted tokens_before={t}"),
                        Notice::AutoCompacted {
                            tokens_before: None,
                        } => write!(f, "auto-compacted"),
                        other => write!(f, "{other:?}"),
                    }
                }
                Command::RollbackCursor { group } => write!(f, "rollback-cursor {}", Str(group)),
                Command::RecordCompaction { group } => {
                    write!(f, "record-compaction {}", Str(group))
                }
                Command::TerminalFailure { group } => {
                    write!(f, "terminal-failure {}", Str(group))
                }
                Command::BreakerOpened { until, cooldown } => {
                    write!(
                        f,
                        "breaker-opened until={until} cooldown={}",
                        Dur(*cooldown)
                    )
                }
                Command::BreakerClosed => f.write_str("breaker-closed"),
                other => write!(f, "{other:?}"),
            },
            Output::Record(r) => {
                f.write_str("record ")?;
                match r {
                    Record::Queued { group, what } => {
                        write!(f, "queued {} ", Str(group))?;
                        match what {
                            Pending::Messages => f.write_str("messages"),
                            Pending::Task(id) => write!(f, "task {}", Str(id)),
                            Pending::Compact => f.write_str("compact"),
                            other => write!(f, "{other:?}"),
                        }
                    }
                    Record::Deduplicated { group, id } => {
                        write!(f, "deduplicated {} {}", Str(group), Str(id))
                    }
                    Record::Waiting { group, ahead } => {
                        write!(f, "waiting {} ahead={ahead}", Str(group))
                    }
                    Record::Drained { group, run } => write!(f, "drained {} {run}", Str(group)),
                    Record::RetryScheduled { group, attempt, at } => write!(
                        f,
                        "retry-scheduled {} attempt={attempt} at={at}",
                        Str(group)
                    ),
                    Record::RetriesExhausted { group } => {
                        write!(f, "retries-exhausted {}", Str(group))
                    }
                    Record::TaskFailed { group, run, id } => {
                        write!(f, "task-failed {} {run} {}", Str(group), Str(id))
                    }
                    Record::Dropped { group, what } => write!(
                        f,
                        "dropped {} {}",
                        Str(group),
                        match what {
                            Dropped::Retry => "retry",
                            Dropped::Compact => "compact",
                            _ => "unknown",
                        }
                    ),
                    other => write!(f, "{other:?}"),
                }
            }
            other => write!(f, "{other:?}"),
        }
    }
}
