//! The output buffer's words: each call's four answer words, then every
//! output as an opcode and its fields. Times are milliseconds; an unknown
//! count is NaN.
//!
//! | opcode | output | fields |
//! |---|---|---|
//! | 1 | `Spawn` | run, group, work kind (0 messages, 1 task, 2 compact), task, payload |
//! | 2 | `CloseInput` | run, reason ([`reason`]) |
//! | 3 | `Kill` | run |
//! | 4 | `Notify(ContextWarning)` | group, percent, tokens, limit |
//! | 5 | `Notify(AutoCompacted)` | group, tokens before |
//! | 6 | `RollbackCursor` | group |
//! | 7 | `RecordCompaction` | group |
//! | 8 | `TerminalFailure` | group |
//! | 20 | `Record::Queued` | group, pending kind (0 messages, 1 task, 2 compact), task |
//! | 21 | `Record::Deduplicated` | group, task |
//! | 22 | `Record::Waiting` | group, groups ahead |
//! | 23 | `Record::Drained` | group, run |
//! | 24 | `Record::RetryScheduled` | group, attempt, at |
//! | 25 | `Record::RetriesExhausted` | group |
//! | 26 | `Record::TaskFailed` | group, run, task |
//! | 27 | `Record::Dropped` | group, what (0 retry, 1 compact) |

use groupq::{
    CancelAnswer, CloseAnswer, CloseReason, Command, Dropped, Notice, Output, Pending, PipeAnswer,
    PipeRefusal, Record, Requeue, TaskAnswer, TaskRefusal, Work,
};

use crate::args::millis;

/// Writes the four answer words.
pub fn answer(out: &mut Vec<f64>, words: [f64; 4]) {
    out.extend(words);
}

fn opt(v: Option<u64>) -> f64 {
    v.map_or(f64::NAN, |v| v as f64)
}

/// A work's three words: kind, task, payload.
fn work(w: &Work<u32, u32>) -> [f64; 3] {
    match w {
        Work::Messages => [0.0, 0.0, 0.0],
        Work::Task { id, payload } => [1.0, f64::from(*id), f64::from(*payload)],
        Work::Compact => [2.0, 0.0, 0.0],
    }
}

/// A close reason's code.
pub fn reason(r: CloseReason) -> f64 {
    match r {
        CloseReason::Preempt => 0.0,
        CloseReason::IdleTimeout => 1.0,
        CloseReason::TurnTimeout => 2.0,
        CloseReason::RunTimeLimit => 3.0,
        CloseReason::Stalled => 4.0,
        CloseReason::Shutdown => 5.0,
        CloseReason::Evicted => 6.0,
        CloseReason::Host => 7.0,
        CloseReason::LimitLowered => 8.0,
        _ => -1.0,
    }
}

/// A task's answer: `[0]` queued, `[1]` duplicate, `[2, cap]` refused by
/// the group's cap, `[3, cap]` by the total cap, `[4]` skipped (a
/// background task while its group's conversation is active).
pub fn task_answer(a: TaskAnswer) -> [f64; 4] {
    match a {
        TaskAnswer::Queued => [0.0; 4],
        TaskAnswer::Duplicate => [1.0, 0.0, 0.0, 0.0],
        TaskAnswer::Refused(TaskRefusal::GroupFull { cap }) => [2.0, cap as f64, 0.0, 0.0],
        TaskAnswer::Refused(TaskRefusal::QueueFull { cap }) => [3.0, cap as f64, 0.0, 0.0],
        TaskAnswer::Skipped => [4.0, 0.0, 0.0, 0.0],
    }
}

/// A pipe's answer: `[run, 0, ..]` or `[0, refusal, ..]` (refusal 1 no
/// run, 2 task run, 3 compact run, 4 closing, 5 shut down).
pub fn pipe_answer(a: PipeAnswer) -> [f64; 4] {
    match a {
        PipeAnswer::Piped(run) => [run.get() as f64, 0.0, 0.0, 0.0],
        PipeAnswer::Refused(r) => {
            let code = match r {
                PipeRefusal::NoRun => 1.0,
                PipeRefusal::TaskRun => 2.0,
                PipeRefusal::CompactRun => 3.0,
                PipeRefusal::Closing => 4.0,
                PipeRefusal::ShutDown => 5.0,
                _ => 0.0,
            };
            [0.0, code, 0.0, 0.0]
        }
    }
}

/// A cancel's answer: `[0, payload]`, `[1, run]` or `[2, 0]`.
pub fn cancel_answer(a: CancelAnswer<u32>) -> [f64; 4] {
    match a {
        CancelAnswer::Cancelled(p) => [0.0, f64::from(p), 0.0, 0.0],
        CancelAnswer::Running(run) => [1.0, run.get() as f64, 0.0, 0.0],
        CancelAnswer::NotQueued => [2.0, 0.0, 0.0, 0.0],
    }
}

/// A host close's answer: `[0, run]`, `[1, run]` or `[2, 0]`.
pub fn close_answer(a: CloseAnswer) -> [f64; 4] {
    match a {
        CloseAnswer::Closed(run) => [0.0, run.get() as f64, 0.0, 0.0],
        CloseAnswer::AlreadyClosing(run) => [1.0, run.get() as f64, 0.0, 0.0],
        CloseAnswer::NoRun => [2.0, 0.0, 0.0, 0.0],
    }
}

/// A never-launched run's answer: `[0, ..]` or `[1, kind, task, payload]`.
pub fn requeue_answer(a: Requeue<u32, u32>) -> [f64; 4] {
    match a {
        Requeue::Requeued => [0.0; 4],
        Requeue::HandedBack(w) => {
            let [k, t, p] = work(&w);
            [1.0, k, t, p]
        }
    }
}

/// Appends one output.
pub fn output(out: &mut Vec<f64>, o: Output<u32, u32, u32>) {
    let g = |g: u32| f64::from(g);
    match o {
        Output::Command(c) => match c {
            Command::Spawn {
                run,
                group,
                work: w,
            } => {
                let [k, t, p] = work(&w);
                out.extend([1.0, run.get() as f64, g(group), k, t, p]);
            }
            Command::CloseInput { run, reason: r } => {
                out.extend([2.0, run.get() as f64, reason(r)]);
            }
            Command::Kill { run } => out.extend([3.0, run.get() as f64]),
            Command::Notify { group, notice } => match notice {
                Notice::ContextWarning {
                    percent,
                    tokens,
                    limit,
                } => out.extend([4.0, g(group), f64::from(percent), opt(tokens), opt(limit)]),
                Notice::AutoCompacted { tokens_before } => {
                    out.extend([5.0, g(group), opt(tokens_before)])
                }
                _ => {}
            },
            Command::RollbackCursor { group } => out.extend([6.0, g(group)]),
            Command::RecordCompaction { group } => out.extend([7.0, g(group)]),
            Command::TerminalFailure { group } => out.extend([8.0, g(group)]),
            Command::BreakerOpened { until, cooldown } => {
                out.extend([9.0, millis(until), cooldown.as_secs_f64() * 1e3])
            }
            Command::BreakerClosed => out.push(10.0),
            _ => {}
        },
        Output::Record(r) => match r {
            Record::Queued { group, what } => {
                let (k, t) = match what {
                    Pending::Messages => (0.0, 0.0),
                    Pending::Task(t) => (1.0, f64::from(t)),
                    _ => (2.0, 0.0),
                };
                out.extend([20.0, g(group), k, t]);
            }
            Record::Deduplicated { group, id } => out.extend([21.0, g(group), f64::from(id)]),
            Record::Waiting { group, ahead } => out.extend([22.0, g(group), ahead as f64]),
            Record::Drained { group, run } => out.extend([23.0, g(group), run.get() as f64]),
            Record::RetryScheduled { group, attempt, at } => {
                out.extend([24.0, g(group), f64::from(attempt), millis(at)])
            }
            Record::RetriesExhausted { group } => out.extend([25.0, g(group)]),
            Record::TaskFailed { group, run, id } => {
                out.extend([26.0, g(group), run.get() as f64, f64::from(id)])
            }
            Record::Dropped { group, what } => {
                let w = match what {
                    Dropped::Retry => 0.0,
                    _ => 1.0,
                };
                out.extend([27.0, g(group), w]);
            }
            _ => {}
        },
        _ => {}
    }
}
