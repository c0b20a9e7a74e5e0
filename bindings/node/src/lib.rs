//! # groupq-wasm: the core's JavaScript boundary
//!
//! The npm package `groupq` is this crate built to WebAssembly, with a
//! TypeScript layer (`ts/`) that users call. The boundary is numeric on
//! purpose: group keys, task ids and payloads are small integers here
//! (`u32`), which the TypeScript layer maps to strings and to any
//! JavaScript value; times are milliseconds (`f64`) from an epoch the host
//! chooses. No string crosses on the hot path, and every call is one
//! crossing plus a read of the output buffer.
//!
//! **The call protocol.** Every input method returns a number:
//!
//! - `>= 0`: accepted; that many words were written to the output buffer
//!   ([`Core::out_ptr`], `f64`s in wasm memory). Words 0 to 3 are the
//!   answer ([`encode`] says what each input's four words mean); the
//!   outputs follow, each an opcode and its fields.
//! - `< 0`: rejected with that error code ([`error`]); the machine is
//!   unchanged, and the buffer holds the error's details.
//!
//! Nothing panics on any argument: bad numbers (NaN, negative, fractional
//! ids, time beyond what the core holds) are an error code like any other.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod args;
pub mod config;
pub mod encode;
pub mod error;
pub mod views;

use groupq::{
    BackgroundTask, BreakerStatus, Cancel, CloseRun, Exit, Exited, Heartbeat, Idle, Limits,
    Machine, Message, NeverLaunched, Pause, Pipe, Resume, SetLimits, Shutdown, Task, Timeout, Turn,
    Work,
};
use wasm_bindgen::prelude::*;

use args::{id, run, time, turn_report};
use error::Refusal;

/// The machine this module drives: keys, task ids and payloads are ids the
/// TypeScript layer issues.
pub type Queue = Machine<u32, u32, u32>;

/// One machine and its output buffer.
#[wasm_bindgen]
pub struct Core {
    machine: Queue,
    /// The last call's answer and outputs, or its error's details.
    out: Vec<f64>,
    /// The last shutdown's report, as JSON, until taken.
    report: String,
}

#[wasm_bindgen]
impl Core {
    /// A machine with the configuration in `slots` (see [`config`]).
    /// Throws a string `"<code>:<detail>"` on a bad configuration: the
    /// TypeScript layer turns it into a typed error.
    #[wasm_bindgen(constructor)]
    pub fn new(slots: &[f64]) -> Result<Core, JsValue> {
        let config = config::from_slots(slots).map_err(|r| JsValue::from_str(&r.to_string()))?;
        let machine =
            Machine::new(config).map_err(|e| JsValue::from_str(&Refusal::from(e).to_string()))?;
        Ok(Core {
            machine,
            out: Vec::with_capacity(64),
            report: String::new(),
        })
    }

    /// Where the output buffer starts in wasm memory (it may move between
    /// calls: read it after each).
    pub fn out_ptr(&self) -> *const f64 {
        self.out.as_ptr()
    }

    /// A call that does nothing: the boundary's own cost.
    pub fn noop(&self) -> f64 {
        0.0
    }

    /// A call that takes a string and does nothing with it but measure it:
    /// what a string key would cost at the boundary.
    pub fn noop_str(&self, s: &str) -> f64 {
        s.len() as f64
    }

    /// [`Message`]: answer words unused.
    pub fn message(&mut self, now: f64, group: f64) -> f64 {
        self.call(|q, out| {
            let (now, group) = (time(now)?, id(group, 1)?);
            q.handle(now, Message { group })?;
            encode::answer(out, [0.0; 4]);
            Ok(())
        })
    }

    /// [`Task`]: answer word 0 is 0 (queued), 1 (duplicate), 2 or 3
    /// (refused by the group's or the total cap, word 1 the cap).
    pub fn task(&mut self, now: f64, group: f64, task: f64, payload: f64) -> f64 {
        self.call(|q, out| {
            let now = time(now)?;
            let (group, id, payload) = (id(group, 1)?, id(task, 2)?, id(payload, 3)?);
            let answer = q.handle(now, Task { group, id, payload })?;
            encode::answer(out, encode::task_answer(answer));
            Ok(())
        })
    }

    /// [`BackgroundTask`]: `skip` 1 to skip it while the group's
    /// conversation is active, else 0; answered as [`Core::task`], or word
    /// 0 is 4 (skipped).
    pub fn background_task(
        &mut self,
        now: f64,
        group: f64,
        task: f64,
        payload: f64,
        skip: f64,
    ) -> f64 {
        self.call(|q, out| {
            let now = time(now)?;
            let (group, id, payload) = (id(group, 1)?, id(task, 2)?, id(payload, 3)?);
            let skip_if_active = match args::code(skip, 4)? {
                0 => false,
                1 => true,
                _ => return Err(Refusal::BadArgument(4)),
            };
            let task = BackgroundTask {
                group,
                id,
                payload,
                skip_if_active,
            };
            let answer = q.handle(now, task)?;
            encode::answer(out, encode::task_answer(answer));
            Ok(())
        })
    }

    /// [`SetLimits`]: `max_active`, then the caps (-1 off).
    pub fn set_limits(&mut self, now: f64, max_active: f64, total: f64, group: f64) -> f64 {
        self.call(|q, out| {
            let now = time(now)?;
            let slots = id(max_active, 1)? as usize;
            let total = config::cap(total).ok_or(Refusal::BadArgument(2))?;
            let group = config::cap(group).ok_or(Refusal::BadArgument(3))?;
            let limits = Limits::new(slots)
                .with_max_queued_tasks(total)
                .with_max_group_tasks(group);
            q.handle(now, SetLimits { limits })?;
            encode::answer(out, [0.0; 4]);
            Ok(())
        })
    }

    /// [`Pipe`]: answer word 0 is the run piped into, or 0 with word 1 the
    /// refusal's code.
    pub fn pipe(&mut self, now: f64, group: f64) -> f64 {
        self.call(|q, out| {
            let (now, group) = (time(now)?, id(group, 1)?);
            let answer = q.handle(now, Pipe { group })?;
            encode::answer(out, encode::pipe_answer(answer));
            Ok(())
        })
    }

    /// [`Idle`].
    pub fn idle(&mut self, now: f64, run_id: f64) -> f64 {
        self.call(|q, out| {
            let (now, run) = (time(now)?, run(run_id, 1)?);
            q.handle(now, Idle { run })?;
            encode::answer(out, [0.0; 4]);
            Ok(())
        })
    }

    /// [`Heartbeat`].
    pub fn heartbeat(&mut self, now: f64, run_id: f64) -> f64 {
        self.call(|q, out| {
            let (now, run) = (time(now)?, run(run_id, 1)?);
            q.handle(now, Heartbeat { run })?;
            encode::answer(out, [0.0; 4]);
            Ok(())
        })
    }

    /// [`Turn`], the report flattened (see [`args::turn_report`]).
    #[allow(clippy::too_many_arguments)]
    pub fn turn(
        &mut self,
        now: f64,
        run_id: f64,
        status: f64,
        flags: f64,
        tokens: f64,
        limit: f64,
        percent: f64,
        tokens_before: f64,
    ) -> f64 {
        self.call(|q, out| {
            let (now, run) = (time(now)?, run(run_id, 1)?);
            let report = turn_report(status, flags, tokens, limit, percent, tokens_before)?;
            q.handle(now, Turn { run, report })?;
            encode::answer(out, [0.0; 4]);
            Ok(())
        })
    }

    /// [`Exited`]: `exit` 0 clean, 1 failed, 2 fatal, 3 retry after
    /// `after` ms (ignored otherwise).
    pub fn exited(&mut self, now: f64, run_id: f64, exit: f64, after: f64) -> f64 {
        self.call(|q, out| {
            let (now, run) = (time(now)?, run(run_id, 1)?);
            let exit = match args::code(exit, 2)? {
                0 => Exit::Clean,
                1 => Exit::Failed,
                2 => Exit::Fatal,
                3 => Exit::RetryAfter(args::duration(after).ok_or(Refusal::BadArgument(3))?),
                _ => return Err(Refusal::BadArgument(2)),
            };
            q.handle(now, Exited { run, exit })?;
            encode::answer(out, [0.0; 4]);
            Ok(())
        })
    }

    /// [`NeverLaunched`] with the run's work (`kind` 0 messages, 1 task
    /// with `task` and `payload`, 2 compact): answer word 0 is 0
    /// (requeued) or 1 (handed back, words 1 to 3 the work as in a spawn).
    pub fn never_launched(
        &mut self,
        now: f64,
        run_id: f64,
        kind: f64,
        task: f64,
        payload: f64,
    ) -> f64 {
        self.call(|q, out| {
            let (now, run) = (time(now)?, run(run_id, 1)?);
            let work = match args::code(kind, 2)? {
                0 => Work::Messages,
                1 => Work::Task {
                    id: id(task, 3)?,
                    payload: id(payload, 4)?,
                },
                2 => Work::Compact,
                _ => return Err(Refusal::BadArgument(2)),
            };
            let answer = q.handle(now, NeverLaunched { run, work })?;
            encode::answer(out, encode::requeue_answer(answer));
            Ok(())
        })
    }

    /// [`Timeout`].
    pub fn timeout(&mut self, now: f64) -> f64 {
        self.call(|q, out| {
            q.handle(time(now)?, Timeout)?;
            encode::answer(out, [0.0; 4]);
            Ok(())
        })
    }

    /// [`Shutdown`]: the report waits for [`Core::take_report`].
    pub fn shutdown(&mut self, now: f64) -> f64 {
        let mut report = String::new();
        let len = self.call(|q, out| {
            let answer = q.handle(time(now)?, Shutdown)?;
            report = views::report_json(&answer);
            encode::answer(out, [0.0; 4]);
            Ok(())
        });
        if len >= 0.0 {
            self.report = report;
        }
        len
    }

    /// The last shutdown's report as JSON (once).
    pub fn take_report(&mut self) -> String {
        std::mem::take(&mut self.report)
    }

    /// [`Cancel`]: answer word 0 is 0 (cancelled, word 1 the payload), 1
    /// (running, word 1 the run) or 2 (not queued).
    pub fn cancel(&mut self, now: f64, group: f64, task: f64) -> f64 {
        self.call(|q, out| {
            let now = time(now)?;
            let (group, id) = (id(group, 1)?, id(task, 2)?);
            let answer = q.handle(now, Cancel { group, id })?;
            encode::answer(out, encode::cancel_answer(answer));
            Ok(())
        })
    }

    /// [`Pause`].
    pub fn pause(&mut self, now: f64, group: f64) -> f64 {
        self.call(|q, out| {
            let (now, group) = (time(now)?, id(group, 1)?);
            q.handle(now, Pause { group })?;
            encode::answer(out, [0.0; 4]);
            Ok(())
        })
    }

    /// [`Resume`].
    pub fn resume(&mut self, now: f64, group: f64) -> f64 {
        self.call(|q, out| {
            let (now, group) = (time(now)?, id(group, 1)?);
            q.handle(now, Resume { group })?;
            encode::answer(out, [0.0; 4]);
            Ok(())
        })
    }

    /// [`CloseRun`]: answer word 0 is 0 (closed), 1 (already closing) or 2
    /// (no run); word 1 the run.
    pub fn close_run(&mut self, now: f64, group: f64) -> f64 {
        self.call(|q, out| {
            let (now, group) = (time(now)?, id(group, 1)?);
            let answer = q.handle(now, CloseRun { group })?;
            encode::answer(out, encode::close_answer(answer));
            Ok(())
        })
    }

    /// The next deadline in milliseconds, or -1 for none.
    pub fn next_deadline(&self) -> f64 {
        self.machine.next_deadline().map_or(-1.0, args::millis)
    }

    /// The latest time accepted, in milliseconds.
    pub fn now(&self) -> f64 {
        args::millis(self.machine.now())
    }

    /// Whether the machine holds anything for `group` (an id it was
    /// given): the TypeScript layer frees the id when not.
    pub fn tracks(&self, group: f64) -> bool {
        id(group, 0).is_ok_and(|g| self.machine.tracks(&g))
    }

    /// The group's `explain` as JSON, or an empty string when the machine
    /// holds nothing for it.
    pub fn explain(&self, group: f64) -> String {
        match id(group, 0).ok().and_then(|g| self.machine.explain(&g)) {
            Some(explain) => views::explain_json(&explain),
            None => String::new(),
        }
    }

    /// The machine's stats: words 0 to 7 of the buffer are live runs, free
    /// slots, waiting groups, tracked groups, queued jobs, deadlines, shut
    /// down (0 or 1) and the limit in force; 8 and 9 the breaker; 10 and 11
    /// the groups waiting with background work only and the background
    /// runs. Returns the word count.
    pub fn stats(&mut self) -> f64 {
        self.out.clear();
        let s = self.machine.stats();
        self.out.extend([
            s.live_runs as f64,
            s.free_slots as f64,
            s.waiting_groups as f64,
            s.tracked_groups as f64,
            s.queued_jobs as f64,
            s.deadlines as f64,
            f64::from(u8::from(s.shut_down)),
            s.max_active as f64,
        ]);
        // The breaker: 0 closed, 1 open (until), 2 probing (probe run or 0).
        self.out.extend(match s.breaker {
            BreakerStatus::Open { until } => [1.0, args::millis(until)],
            BreakerStatus::Probing { probe } => [2.0, probe.map_or(0.0, |r| r.get() as f64)],
            _ => [0.0, 0.0],
        });
        // Background work: groups waiting with it only, its live runs.
        self.out
            .extend([s.waiting_background as f64, s.background_runs as f64]);
        self.out.len() as f64
    }

    /// Whether shutdown was accepted.
    pub fn is_shut_down(&self) -> bool {
        self.machine.is_shut_down()
    }

    /// Whether the machine holds no group at all.
    pub fn is_quiescent(&self) -> bool {
        self.machine.is_quiescent()
    }
}

impl Core {
    /// One input: on success the answer and every output in the buffer,
    /// and their word count; on a refusal its code (negative) and its
    /// details in the buffer, the machine unchanged.
    fn call(&mut self, f: impl FnOnce(&mut Queue, &mut Vec<f64>) -> Result<(), Refusal>) -> f64 {
        self.out.clear();
        match f(&mut self.machine, &mut self.out) {
            Ok(()) => {
                for output in self.machine.drain() {
                    encode::output(&mut self.out, output);
                }
                self.out.len() as f64
            }
            Err(refusal) => {
                self.out.clear();
                refusal.details(&mut self.out);
                -f64::from(refusal.code())
            }
        }
    }

    /// The machine, for the crate's tests.
    pub fn machine(&self) -> &Queue {
        &self.machine
    }

    /// The buffer's words, for the crate's tests.
    pub fn out(&self) -> &[f64] {
        &self.out
    }
}
