//! What each accepted input changes in the account, which answers it may
//! get, and which rejections are deserved.

use std::fmt;
use std::hash::Hash;

use groupq::{
    CancelAnswer, CloseAnswer, CompactionTrigger, Error, Exit, Input, Output, PipeRefusal, Requeue,
    Response, RunId, RunState, TaskRefusal, Time, TurnReport, TurnStatus, Work, WorkKind,
};

use super::account::{Expect, RunAccount};
use super::{nanos, Checker, Property, Verdict};

impl<K, T, P> Checker<K, T, P>
where
    K: Clone + Eq + Hash + fmt::Debug,
    T: Clone + Eq + Hash + fmt::Debug,
    P: Clone + PartialEq,
{
    pub(super) fn apply_input(
        &mut self,
        now: Time,
        input: &Input<K, T, P>,
        response: &Response<K, T, P>,
        expect: &mut Expect<K>,
        touched: &mut Vec<K>,
    ) -> Verdict<K> {
        match input {
            Input::Message { group } => {
                self.refuse_after_shutdown(group)?;
                self.answer_is(response, matches!(response, Response::Accepted), "message")?;
                self.debounce_message(group);
                self.group_mut(group).unread = true;
                touched.push(group.clone());
            }
            Input::Task { group, id, payload } => {
                self.refuse_after_shutdown(group)?;
                self.on_task(group, id, payload, response)?;
                touched.push(group.clone());
            }
            Input::BackgroundTask {
                group,
                id,
                payload,
                skip_if_active,
            } => {
                self.refuse_after_shutdown(group)?;
                self.on_background_task(group, id, payload, *skip_if_active, response)?;
                touched.push(group.clone());
            }
            Input::Pipe { group } => self.on_pipe(group, response)?,
            Input::Idle { run } => {
                self.answer_is(response, matches!(response, Response::Accepted), "idle")?;
                let r = self.live_run_mut(*run)?;
                let became_idle = r.state == RunState::Busy;
                if became_idle {
                    r.state = RunState::IdleWaiting;
                }
                touched.push(r.group.clone());
                if became_idle {
                    self.on_idle(*run);
                }
            }
            Input::Heartbeat { run } => {
                self.answer_is(
                    response,
                    matches!(response, Response::Accepted),
                    "heartbeat",
                )?;
                if self.live_run_mut(*run)?.state == RunState::Busy {
                    self.on_progress(*run);
                }
            }
            Input::Turn { run, report } => {
                self.answer_is(response, matches!(response, Response::Accepted), "turn")?;
                self.on_turn(*run, report, expect, touched)?;
            }
            Input::Exited { run, exit } => {
                self.answer_is(response, matches!(response, Response::Accepted), "exited")?;
                self.on_exited(now, *run, *exit, expect, touched)?;
            }
            Input::Timeout => {
                self.answer_is(response, matches!(response, Response::Accepted), "timeout")?;
                self.on_timeout(now, expect, touched);
            }
            Input::Shutdown => {
                if self.shut_down {
                    let detail = "second shutdown accepted".to_string();
                    return self.fail(Property::Rejection, None, None, detail);
                }
                let Response::ShutDown(report) = response else {
                    return self.answer_is(response, false, "shutdown");
                };
                self.check_report(report)?;
                self.on_shutdown_runs();
                self.end_breaker();
                while let Some((_, key)) = self.debounces.pop_first() {
                    self.group_mut(&key).debounce = None;
                }
                let mut live: Vec<K> = self.runs.values().map(|r| r.group.clone()).collect();
                live.sort_by_key(|g| self.groups.get(g).map(|a| a.seen));
                touched.extend(live);
            }
            Input::Pause { group } => {
                self.refuse_after_shutdown(group)?;
                self.answer_is(response, matches!(response, Response::Accepted), "pause")?;
                self.group_mut(group).paused = true;
                touched.push(group.clone());
            }
            Input::Resume { group } => {
                self.refuse_after_shutdown(group)?;
                self.answer_is(response, matches!(response, Response::Accepted), "resume")?;
                if let Some(g) = self.groups.get_mut(group) {
                    g.paused = false;
                    touched.push(group.clone());
                    self.end_debounce(group);
                }
            }
            Input::Cancel { group, id } => {
                self.on_cancel(group, id, response)?;
                touched.push(group.clone());
            }
            Input::CloseRun { group } => {
                let live = self.groups.get(group).and_then(|g| g.run);
                let state = live.and_then(|r| self.runs.get(&r)).map(|r| r.state);
                let fits = match (response, live, state) {
                    (Response::Close(CloseAnswer::NoRun), None, _) => true,
                    (
                        Response::Close(CloseAnswer::AlreadyClosing(r)),
                        Some(l),
                        Some(RunState::Closing),
                    ) => *r == l,
                    (Response::Close(CloseAnswer::Closed(r)), Some(l), Some(s)) => {
                        *r == l && s != RunState::Closing
                    }
                    _ => false,
                };
                self.answer_is(response, fits, "close")?;
                if let Response::Close(CloseAnswer::Closed(run)) = response {
                    expect.host_close = Some(*run);
                }
                touched.push(group.clone());
            }
            Input::NeverLaunched { run, work } => {
                self.on_never_launched(*run, work, response, expect, touched)?;
            }
            Input::SetLimits { limits } => {
                if self.shut_down || limits.max_active == 0 {
                    let detail = format!("limits {limits:?} accepted");
                    return self.fail(Property::Rejection, None, None, detail);
                }
                self.answer_is(response, matches!(response, Response::Accepted), "limits")?;
                self.rules.max_active = limits.max_active;
                self.rules.max_queued_tasks = limits.max_queued_tasks;
                self.rules.max_group_tasks = limits.max_group_tasks;
            }
            _ => {
                let detail = "an input this checker does not know".to_string();
                return self.fail(Property::Contract, None, input.run(), detail);
            }
        }
        Ok(())
    }

    /// Every answer fits its input: a message is never answered with a
    /// run, a task only with queued or duplicate, and so on.
    fn answer_is(&self, response: &Response<K, T, P>, fits: bool, input: &str) -> Verdict<K> {
        if fits {
            return Ok(());
        }
        let detail = format!("{input} answered with `{response}`");
        self.fail(Property::Rejection, None, None, detail)
    }

    fn on_task(
        &mut self,
        group: &K,
        id: &T,
        payload: &P,
        response: &Response<K, T, P>,
    ) -> Verdict<K> {
        if self.check_task_answer(group, id, response, "task")? {
            self.group_mut(group).push_task(id.clone(), payload.clone());
            // The task wakes the group: no debounce holds it back.
            self.end_debounce(group);
        }
        Ok(())
    }

    /// The answer a task of either class deserves: duplicate (of the live
    /// run's task or one queued in the group, either class), refused by a
    /// cap, else queued. Returns whether it was queued.
    pub(super) fn check_task_answer(
        &self,
        group: &K,
        id: &T,
        response: &Response<K, T, P>,
        input: &str,
    ) -> Result<bool, super::Violation<K>> {
        let live = self.groups.get(group).and_then(|g| g.run);
        let live_dup = live
            .and_then(|r| self.runs.get(&r))
            .is_some_and(|r| r.task.as_ref() == Some(id));
        let queued_dup = self
            .groups
            .get(group)
            .is_some_and(|g| g.queued.contains(id));
        let duplicate = live_dup || queued_dup;
        let over = (!duplicate).then(|| self.task_cap(group)).flatten();
        match response {
            Response::TaskRefused(why) if Some(*why) == over => Ok(false),
            Response::TaskRefused(why) => self.fail(
                Property::Rejection,
                Some(group),
                None,
                format!("task {id:?} refused ({why}) but the cap to hit is {over:?}"),
            ),
            Response::Queued if over.is_some() => self.fail(
                Property::Rejection,
                Some(group),
                None,
                format!("task {id:?} queued over a cap: {over:?}"),
            ),
            Response::Duplicate if !duplicate => self.fail(
                Property::NothingLostOrTwice,
                Some(group),
                None,
                format!("new task {id:?} reported as a duplicate"),
            ),
            Response::Queued if duplicate => self.fail(
                Property::NothingLostOrTwice,
                Some(group),
                None,
                format!("duplicate task {id:?} accepted"),
            ),
            Response::Duplicate => Ok(false),
            Response::Queued => Ok(true),
            other => self.answer_is(other, false, input).map(|()| false),
        }
    }

    /// The cap a new task of `group` hits, by the contract's order: the
    /// group's cap first, then the total. Tasks only: queued compacts and
    /// running tasks do not count. The total is summed here, only when that
    /// cap is on: O(groups) per task then.
    fn task_cap(&self, group: &K) -> Option<TaskRefusal> {
        let here = self.groups.get(group).map_or(0, |g| g.queued.len());
        if let Some(cap) = self.rules.max_group_tasks.filter(|&cap| here >= cap) {
            return Some(TaskRefusal::GroupFull { cap });
        }
        let cap = self.rules.max_queued_tasks?;
        let total: usize = self.groups.values().map(|g| g.queued.len()).sum();
        (total >= cap).then_some(TaskRefusal::QueueFull { cap })
    }

    /// A cancel is answered by what the group holds: the running task, a
    /// queued one (with its own payload, then gone), or nothing.
    fn on_cancel(&mut self, group: &K, id: &T, response: &Response<K, T, P>) -> Verdict<K> {
        let live = self.groups.get(group).and_then(|g| g.run);
        let running = live.filter(|r| self.runs.get(r).and_then(|r| r.task.as_ref()) == Some(id));
        let answer = match response {
            Response::Cancel(a) => a,
            other => return self.answer_is(other, false, "cancel"),
        };
        let fits = match (answer, running) {
            (CancelAnswer::Running(r), Some(run)) => *r == run,
            (CancelAnswer::Running(_), None) => false,
            (_, Some(_)) => false,
            (CancelAnswer::Cancelled(payload), None) => {
                match self.groups.get_mut(group).and_then(|g| g.remove_task(id)) {
                    Some(queued) => queued == *payload,
                    None => false,
                }
            }
            (CancelAnswer::NotQueued, None) => !self
                .groups
                .get(group)
                .is_some_and(|g| g.queued.contains(id)),
        };
        if fits {
            return Ok(());
        }
        let detail = format!("cancel of {id:?} answered wrongly");
        self.fail(Property::NothingLostOrTwice, Some(group), running, detail)
    }

    fn on_pipe(&mut self, group: &K, response: &Response<K, T, P>) -> Verdict<K> {
        let live = self.groups.get(group).and_then(|g| g.run);
        match response {
            Response::Piped(run) => {
                let shut_down = self.shut_down;
                let Some(r) = self.runs.get_mut(run).filter(|_| live == Some(*run)) else {
                    let detail = "piped into a run that is not the group's live run".to_string();
                    return self.fail(Property::Pipe, Some(group), Some(*run), detail);
                };
                if shut_down || r.kind != WorkKind::Messages || r.state == RunState::Closing {
                    let detail = format!("piped into a {:?} run in state {:?}", r.kind, r.state);
                    return self.fail(Property::Pipe, Some(group), Some(*run), detail);
                }
                r.piped_after_delivery |= r.delivered;
                let was_idle = r.state == RunState::IdleWaiting;
                r.state = RunState::Busy;
                if was_idle {
                    self.on_busy_again(*run);
                }
                Ok(())
            }
            Response::PipeRefused(reason) => {
                if self.pipe_refusal_justified(live, *reason) {
                    return Ok(());
                }
                let detail = format!("pipe refused ({reason}) but the run could take it");
                self.fail(Property::Rejection, Some(group), live, detail)
            }
            other => self.answer_is(other, false, "pipe"),
        }
    }

    fn pipe_refusal_justified(&self, live: Option<RunId>, reason: PipeRefusal) -> bool {
        if self.shut_down {
            return reason == PipeRefusal::ShutDown;
        }
        let run = live.and_then(|r| self.runs.get(&r));
        match (reason, run) {
            (PipeRefusal::NoRun, None) => true,
            (PipeRefusal::TaskRun, Some(r)) => r.kind == WorkKind::Task,
            (PipeRefusal::CompactRun, Some(r)) => r.kind == WorkKind::Compact,
            (PipeRefusal::Closing, Some(r)) => {
                r.kind == WorkKind::Messages && r.state == RunState::Closing
            }
            _ => false,
        }
    }

    fn on_turn(
        &mut self,
        run: RunId,
        report: &TurnReport,
        expect: &mut Expect<K>,
        touched: &mut Vec<K>,
    ) -> Verdict<K> {
        let rules = self.rules.clone();
        let r = self.live_run_mut(run)?;
        let success = report.status == TurnStatus::Success;
        r.errored |= !success;
        r.delivered |= report.delivered;
        if report.delivered {
            r.piped_after_delivery = false;
        }
        let (was_idle, busy) = (r.state == RunState::IdleWaiting, r.state == RunState::Busy);
        if success && busy {
            r.state = RunState::IdleWaiting;
        }
        let (group, kind) = (r.group.clone(), r.kind);
        if busy {
            self.on_progress(run);
        }
        if report.replied && was_idle {
            self.rearm_idle(run);
        }
        if success && busy {
            self.on_idle(run);
        }
        let percent = report.context.as_ref().and_then(Self::percent);
        let over = percent.is_some_and(|p| p >= rules.auto_compact_percent)
            || report.context.is_some_and(|c| c.compact_recommended);
        let messages = kind == WorkKind::Messages;
        if rules.notices && success && report.replied && messages {
            expect.warning = percent.filter(|&p| p >= rules.warn_percent).map(|p| {
                let context = report.context.unwrap_or_default();
                (p, context.tokens, context.limit)
            });
            expect.auto_compacted = report
                .compaction
                .filter(|c| c.trigger == CompactionTrigger::Auto)
                .map(|c| c.tokens_before);
        }
        expect.record_compaction = report.compaction.is_some();
        let g = self.group_mut(&group);
        if report.compaction.is_some() {
            g.compact_owed = false;
        } else if messages && over && !g.compact_queued {
            g.compact_owed = true;
        }
        expect.group = Some(group.clone());
        touched.push(group);
        Ok(())
    }

    fn on_exited(
        &mut self,
        now: Time,
        run: RunId,
        exit: Exit,
        expect: &mut Expect<K>,
        touched: &mut Vec<K>,
    ) -> Verdict<K> {
        self.live_run_mut(run)?;
        self.on_gone(run);
        let r = self.runs.remove(&run).expect("checked live");
        let failed = exit.is_failure() || r.errored;
        self.background_gone(&r, true);
        self.breaker_exit(run, &r, failed);
        self.release();
        let rules = self.rules.clone();
        let shut_down = self.shut_down;
        let mut retry = None;
        let g = self.group_mut(&r.group);
        g.run = None;
        if r.kind == WorkKind::Messages {
            // Nothing reached the user, or a follow-up piped in after the
            // last delivered reply would be lost: roll back and retry.
            if failed && (!r.delivered || r.piped_after_delivery) {
                expect.rollback = true;
                g.failures += 1;
                if shut_down {
                    g.failures = 0;
                } else if g.failures > rules.max_retries || exit == Exit::Fatal {
                    // Out of retries, or a failure no retry can mend.
                    expect.terminal = true;
                    g.failures = 0;
                    retry = Some(None);
                } else if let Exit::RetryAfter(after) = exit {
                    retry = Some(Some(Time::from_nanos(
                        now.as_nanos().saturating_add(nanos(after)),
                    )));
                } else {
                    retry = Some(Some(rules.retry_at(now, g.failures)));
                }
            } else {
                g.failures = 0;
            }
        }
        if std::mem::take(&mut g.compact_owed) && !shut_down {
            g.push_compact();
        }
        if let Some(at) = retry {
            self.schedule_retry(&r.group, at);
        }
        expect.group = Some(r.group.clone());
        touched.push(r.group);
        Ok(())
    }

    /// A run that never started leaves without a failure: a task back at
    /// the front of its group's jobs (behind a compact), a Messages run's
    /// cursor rolled back and its messages unread again, no retry. After
    /// shutdown the work is handed back in the answer instead.
    fn on_never_launched(
        &mut self,
        run: RunId,
        work: &Work<T, P>,
        response: &Response<K, T, P>,
        expect: &mut Expect<K>,
        touched: &mut Vec<K>,
    ) -> Verdict<K> {
        let r = self.live_run_mut(run)?;
        let matches = match work {
            Work::Task { id, .. } => r.task.as_ref() == Some(id),
            other => r.task.is_none() && other.kind() == r.kind,
        };
        if !matches {
            let detail = "never-launched work that is not the run's was accepted".to_string();
            return self.fail(Property::Rejection, None, Some(run), detail);
        }
        let shut_down = self.shut_down;
        let handed_back = shut_down;
        let fits = match response {
            Response::Requeue(Requeue::Requeued) => !handed_back,
            Response::Requeue(Requeue::HandedBack(w)) => handed_back && w == work,
            _ => false,
        };
        self.answer_is(response, fits, "never launched")?;
        self.on_gone(run);
        let r = self.runs.remove(&run).expect("checked live");
        self.background_gone(&r, false);
        self.breaker_never_launched(run);
        self.release();
        let g = self.group_mut(&r.group);
        g.run = None;
        match work {
            Work::Messages => {
                expect.rollback = true;
                g.unread |= !shut_down;
            }
            _ if shut_down => {}
            Work::Task { id, payload } if r.background => {
                g.push_background_front(id.clone(), payload.clone())
            }
            Work::Task { id, payload } => g.push_task_front(id.clone(), payload.clone()),
            Work::Compact => g.push_compact(),
        }
        if std::mem::take(&mut g.compact_owed) && !shut_down {
            g.push_compact();
        }
        expect.group = Some(r.group.clone());
        touched.push(r.group);
        Ok(())
    }

    /// Replaces the group's retry with one at `at` (or none).
    fn schedule_retry(&mut self, group: &K, at: Option<Time>) {
        self.seq += 1;
        let key = at.map(|at| (at, self.seq));
        let g = self.group_mut(group);
        let old = std::mem::replace(&mut g.retry_at, key);
        if let Some(old) = old {
            self.retries.remove(&old);
        }
        if let Some(key) = key {
            self.retries.insert(key, group.clone());
        }
    }

    fn on_timeout(&mut self, now: Time, expect: &mut Expect<K>, touched: &mut Vec<K>) {
        expect.timeout = true;
        // Retries and debounces fire in one order: (deadline, order set),
        // which decides the order groups join the line in.
        loop {
            let retry = self.retries.keys().next().copied().filter(|k| k.0 <= now);
            let debounce = self.debounces.keys().next().copied().filter(|k| k.0 <= now);
            match (retry, debounce) {
                (Some(r), d) if d.map_or(true, |d| r < d) => {
                    let group = self.retries.remove(&r).expect("first");
                    let step = self.step + 1;
                    let g = self.group_mut(&group);
                    g.retry_at = None;
                    g.unread = true;
                    g.retry_fired = step;
                    self.end_debounce(&group);
                    touched.push(group);
                }
                (_, Some(d)) => {
                    let group = self.debounces.remove(&d).expect("first");
                    self.group_mut(&group).debounce = None;
                    touched.push(group);
                }
                _ => break,
            }
        }
        self.breaker_due(now);
    }

    fn refuse_after_shutdown(&self, group: &K) -> Verdict<K> {
        if self.shut_down {
            let detail = "work accepted after shutdown".to_string();
            return self.fail(Property::Rejection, Some(group), None, detail);
        }
        Ok(())
    }

    fn live_run_mut(&mut self, run: RunId) -> Result<&mut RunAccount<K, T>, super::Violation<K>> {
        if !self.runs.contains_key(&run) {
            let detail = "input for a run that is not live was accepted".to_string();
            return self.fail(Property::Rejection, None, Some(run), detail);
        }
        Ok(self.runs.get_mut(&run).expect("checked"))
    }

    /// A rejected input produced nothing, and deserved rejection.
    pub(super) fn check_rejection(
        &self,
        now: Time,
        input: &Input<K, T, P>,
        e: &Error,
        outputs: &[Output<K, T, P>],
    ) -> Verdict<K> {
        if !outputs.is_empty() {
            let detail = format!("rejected input ({e}) produced outputs");
            return self.fail(Property::Rejection, None, None, detail);
        }
        if now < self.now {
            return match e {
                Error::TimeWentBackwards { .. } => Ok(()),
                _ => {
                    let detail = format!("time went backwards but the error was {e}");
                    self.fail(Property::Rejection, None, None, detail)
                }
            };
        }
        let justified = match (input, e) {
            (
                Input::Message { .. }
                | Input::Task { .. }
                | Input::BackgroundTask { .. }
                | Input::Pause { .. }
                | Input::Resume { .. }
                | Input::SetLimits { .. }
                | Input::Shutdown,
                Error::ShutDown,
            ) => self.shut_down,
            (Input::SetLimits { limits }, Error::InvalidConfig(_)) => {
                !self.shut_down && limits.max_active == 0
            }
            (
                Input::Idle { run }
                | Input::Heartbeat { run }
                | Input::Turn { run, .. }
                | Input::Exited { run, .. }
                | Input::NeverLaunched { run, .. },
                Error::UnknownRun(r) | Error::StaleRun(r),
            ) => r == run && !self.runs.contains_key(run) && self.right_kind(*run, e),
            (Input::NeverLaunched { run, work }, Error::WorkMismatch(r)) => {
                r == run
                    && self.runs.get(run).is_some_and(|live| match work {
                        Work::Task { id, .. } => live.task.as_ref() != Some(id),
                        other => live.task.is_some() || other.kind() != live.kind,
                    })
            }
            _ => false,
        };
        if justified {
            return Ok(());
        }
        let detail = format!("valid input rejected: {e}");
        self.fail(Property::Rejection, None, input.run(), detail)
    }

    /// `UnknownRun` for ids never issued, `StaleRun` for ids that exited.
    fn right_kind(&self, run: RunId, e: &Error) -> bool {
        let issued = run.get() != 0 && run.get() <= self.last_run;
        match e {
            Error::StaleRun(_) => issued,
            _ => !issued,
        }
    }
}
