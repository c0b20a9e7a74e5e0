//! The route of each [`Entry`]: which core inputs it becomes, and what the
//! host keeps of it. Every route leaves the host unchanged when the core
//! refuses its input.

use std::time::Duration;

use groupq::{
    BackgroundTask, Cancel, CancelAnswer, CloseRun, Config, Exit, Exited, Heartbeat, Idle, Limits,
    Message, NeverLaunched, Pause, Pipe, PipeAnswer, Requeue, Resume, RunId, SetLimits, Shutdown,
    Task, TaskAnswer, Time, Timeout, Turn, Work, WorkKind,
};

use crate::answer::{Answer, Delivery, Duplicate, Submitted};
use crate::effect::{Effect, RunExit};
use crate::entry::{Entry, TurnRecord};
use crate::error::HostError;
use crate::event::HostEvent;
use crate::host::{Host, HostCore};
use crate::left::{Left, LeftMessages, LeftRun, LeftTask};
use crate::runs::FailureClass;
use crate::tasks::TaskOutcome;
use crate::turn;

impl<D> Host<D>
where
    D: HostCore,
    HostError: From<D::Error>,
{
    pub(crate) fn route(&mut self, now: Time, entry: Entry) -> Result<Answer, HostError> {
        match entry {
            Entry::Message { group, text } => self.message(now, group, text).map(Answer::Delivery),
            Entry::Task { group, id, payload } => self.task(now, group, id, payload, None),
            Entry::BackgroundTask {
                group,
                id,
                payload,
                skip_if_active,
            } => self.task(now, group, id, payload, Some(skip_if_active)),
            Entry::Cancel { group, id } => {
                let key = (group.clone(), id.clone());
                let answer = self.step(now, Cancel { group, id })?;
                if matches!(answer, CancelAnswer::Cancelled(_)) {
                    self.queued.remove(&key);
                }
                Ok(Answer::Cancel(answer))
            }
            Entry::Pause { group } => self.step(now, Pause { group }).map(|()| Answer::Applied),
            Entry::Resume { group } => self.step(now, Resume { group }).map(|()| Answer::Applied),
            Entry::CloseRun { group } => self.step(now, CloseRun { group }).map(Answer::Close),
            Entry::Shutdown => self.shutdown(now),
            Entry::Timeout => self.step(now, Timeout).map(|()| Answer::Applied),
            Entry::Turn {
                run,
                turn,
                listening,
                read_to,
            } => self.turn(now, RunId::new(run), *turn, listening, read_to),
            Entry::Idle { run, read_to } => {
                let run = RunId::new(run);
                self.step(now, Idle { run })?;
                self.read_to(now, run, read_to);
                Ok(Answer::Applied)
            }
            Entry::Heartbeat { run, read_to } => {
                let run = RunId::new(run);
                self.step(now, Heartbeat { run })?;
                self.read_to(now, run, read_to);
                Ok(Answer::Applied)
            }
            Entry::Exited { run, exit } => self.exited(now, RunId::new(run), exit.into()),
            Entry::NeverLaunched { run } => self.never_launched(now, RunId::new(run)),
            Entry::Renew { config, configured } => {
                let configured = configured.map_or(config.limits(), Limits::from);
                self.renew(now, *config)?;
                self.configured = configured;
                Ok(Answer::Applied)
            }
            Entry::SetLimits { limits, configured } => {
                let limits = Limits::from(limits);
                self.step(now, SetLimits { limits })?;
                if configured {
                    self.configured = limits;
                }
                Ok(Answer::Applied)
            }
            Entry::TaskWindow { window_ms } => {
                self.tasks.set_window(window_ms.map(Duration::from_millis));
                self.tasks.expire(now);
                Ok(Answer::Applied)
            }
        }
    }

    /// Pipe, or on refusal Message: the fallback done for the user. A
    /// message the core rejected is not kept.
    fn message(&mut self, now: Time, group: String, text: String) -> Result<Delivery, HostError> {
        if self.machine().is_shut_down() {
            // Refused before the pipe, which would move the clock.
            return Err(groupq::Error::ShutDown.into());
        }
        let pipe = Pipe {
            group: group.clone(),
        };
        match self.step(now, pipe)? {
            PipeAnswer::Piped(run) => {
                self.mailboxes.push(&group, text, now);
                let texts = self.mailboxes.take_unread(&group);
                if let Some(live) = self.runs.get_mut(run) {
                    live.delivered += texts.len() as u64;
                }
                for text in texts {
                    self.effects.push_back(Effect::Deliver { run, text });
                }
                self.counters.piped += 1;
                self.tell(HostEvent::Piped { group, run });
                Ok(Delivery::Piped(run))
            }
            PipeAnswer::Refused(_) => {
                // Stored first: the run this message may start is handed it.
                self.mailboxes.push(&group, text, now);
                let message = Message {
                    group: group.clone(),
                };
                if let Err(e) = self.step(now, message) {
                    self.mailboxes.unpush(&group);
                    return Err(e);
                }
                Ok(Delivery::Queued)
            }
        }
    }

    /// A task, normal (`background` `None`) or background (`Some`, whether
    /// to skip it while the conversation is active): a duplicate of one
    /// that ran within the window is answered with its outcome; its
    /// submission time is kept until it starts, for the wait it reports.
    fn task(
        &mut self,
        now: Time,
        group: String,
        id: String,
        payload: String,
        background: Option<bool>,
    ) -> Result<Answer, HostError> {
        if self.machine().is_shut_down() {
            return Err(groupq::Error::ShutDown.into());
        }
        if let Some(outcome) = self.tasks.outcome(&group, &id) {
            // The core never hears of it; journaled, the answer is the same
            // on replay (the log is part of the state).
            return Ok(Answer::Task(Submitted::Duplicate(Duplicate::Ran(outcome))));
        }
        let key = (group.clone(), id.clone());
        // A duplicate keeps the first submission's time.
        let fresh = !self.queued.contains_key(&key);
        if fresh {
            self.queued.insert(key.clone(), now);
        }
        let answer = self.step_task(now, group.clone(), id.clone(), payload, background);
        if fresh && !matches!(answer, Ok(TaskAnswer::Queued)) {
            self.queued.remove(&key);
        }
        Ok(Answer::Task(match answer? {
            TaskAnswer::Queued => Submitted::Queued,
            TaskAnswer::Duplicate => {
                let running = self
                    .runs
                    .sorted()
                    .into_iter()
                    .find(|(_, l)| l.group == group && l.task.as_deref() == Some(id.as_str()));
                Submitted::Duplicate(match running {
                    Some((run, _)) => Duplicate::Running(run),
                    None => Duplicate::Queued,
                })
            }
            TaskAnswer::Refused(why) => Submitted::Refused(why),
            TaskAnswer::Skipped => Submitted::Skipped,
        }))
    }

    /// Shutdown: the core's report, with every text and payload; the tasks
    /// left are kept for the next epoch.
    fn shutdown(&mut self, now: Time) -> Result<Answer, HostError> {
        let report = self.step(now, Shutdown)?;
        // The queued tasks are handed back in the report.
        self.queued.clear();
        let mut left = Left::default();
        for pending in &report.groups {
            for work in &pending.jobs {
                if let Work::Task { id, payload } = work {
                    left.tasks.push(LeftTask {
                        group: pending.group.clone(),
                        id: id.clone(),
                        payload: payload.clone(),
                        background: false,
                    });
                }
            }
            for (id, payload) in &pending.background_tasks {
                left.tasks.push(LeftTask {
                    group: pending.group.clone(),
                    id: id.clone(),
                    payload: payload.clone(),
                    background: true,
                });
            }
            left.dropped_compacts += usize::from(pending.compact_pending);
        }
        self.left.extend(left.tasks.iter().cloned());
        left.messages = self
            .mailboxes
            .groups_with_unread()
            .into_iter()
            .map(|(group, _)| LeftMessages {
                texts: self.mailboxes.unread_texts(&group),
                group,
            })
            .collect();
        left.live_runs = report
            .live_runs
            .iter()
            .map(|r| LeftRun {
                run: r.run,
                group: r.group.clone(),
                kind: r.kind,
                state: r.state,
                unanswered: self.mailboxes.unanswered_texts(&r.group),
            })
            .collect();
        Ok(Answer::Shutdown(Box::new(left)))
    }

    /// A new epoch: a new core under `config` for a host with nothing live
    /// whose core was shut down or holds nothing. Run ids go on after the
    /// old core's, and time from its time; the message store, the task log
    /// and the notes are kept; the tasks a shutdown left and every group's
    /// unread messages are put back.
    fn renew(&mut self, now: Time, config: Config) -> Result<Answer, HostError> {
        if !self.renewable() {
            return Err(HostError::NotRenewable);
        }
        let last = RunId::new(self.machine().next_run_id().get().saturating_sub(1));
        self.core = D::renewed(config, last, now)?;
        // Normal tasks, then the unread messages, then background tasks:
        // the order the core starts them in anyway, so that with free
        // slots the conversation still starts before the background work.
        let (normal, background): (Vec<_>, Vec<_>) = std::mem::take(&mut self.left)
            .into_iter()
            .partition(|t| !t.background);
        for task in normal {
            self.put_back(now, task)?;
        }
        for (group, _) in self.mailboxes.groups_with_unread() {
            self.step(now, Message { group })?;
        }
        for task in background {
            self.put_back(now, task)?;
        }
        Ok(Answer::Applied)
    }

    /// A task a shutdown left, queued again in its class (never skipped:
    /// it was accepted before).
    fn put_back(&mut self, now: Time, task: LeftTask) -> Result<(), HostError> {
        self.queued
            .insert((task.group.clone(), task.id.clone()), now);
        let (group, id) = (task.group.clone(), task.id.clone());
        let background = task.background.then_some(false);
        let answer = self.step_task(now, group, id, task.payload, background)?;
        if answer == TaskAnswer::Duplicate {
            self.queued.remove(&(task.group, task.id));
        }
        Ok(())
    }

    /// A task through the core: normal (`background` `None`) or
    /// background (`Some(skip_if_active)`).
    fn step_task(
        &mut self,
        now: Time,
        group: String,
        id: String,
        payload: String,
        background: Option<bool>,
    ) -> Result<TaskAnswer, HostError> {
        match background {
            None => self.step(now, Task { group, id, payload }),
            Some(skip_if_active) => self.step(
                now,
                BackgroundTask {
                    group,
                    id,
                    payload,
                    skip_if_active,
                },
            ),
        }
    }

    fn turn(
        &mut self,
        now: Time,
        run: RunId,
        turn: TurnRecord,
        listening: bool,
        read_to: u64,
    ) -> Result<Answer, HostError> {
        let live = self.runs.get(run).ok_or(groupq::Error::StaleRun(run))?;
        let plan = turn::plan(&self.mailboxes, live, &turn, listening);
        let (group, task, kind) = (live.group.clone(), live.task.clone(), live.kind);
        self.core_step(
            now,
            Turn {
                run,
                report: plan.report,
            },
        )?;
        // Accepted: now the store and the application hear of it.
        if let Some(live) = self.runs.get_mut(run) {
            live.last_turn_ok = Some(!turn.error);
            live.failure = if turn.error {
                FailureClass::of(turn.fatal, turn.retry_after_ms)
            } else {
                None
            };
        }
        if plan.delivered {
            self.counters.replies += 1;
            if kind == WorkKind::Messages {
                self.mailboxes.answered(&group, turn.messages);
            }
        }
        if let Some(text) = turn.reply {
            self.tell(HostEvent::Reply {
                group: group.clone(),
                run,
                task,
                text,
            });
        } else if let (true, Some(error)) = (turn.error, turn.error_text) {
            self.note(&group).last_error = Some(error.clone());
            self.tell(HostEvent::TurnFailed { group, run, error });
        }
        self.read_to(now, run, read_to);
        self.decide_outputs(now);
        Ok(Answer::Applied)
    }

    fn exited(&mut self, now: Time, run: RunId, exit: RunExit) -> Result<Answer, HostError> {
        let live = self.runs.get(run).ok_or(groupq::Error::StaleRun(run))?;
        // A run whose exit status cannot be known (adopted, it ended while
        // no driver was its parent) is clean after a successful last turn.
        let unknown_ok = matches!(exit, RunExit::Gone(_)) && live.last_turn_ok == Some(true);
        let mut clean = exit.is_clean() || unknown_ok;
        if clean && live.kind == WorkKind::Messages && self.mailboxes.unanswered(&live.group) > 0 {
            // Counted as done, they would be lost: a failure hands them to
            // the next run.
            clean = false;
        }
        // A failure is retried as the run's last error turn asked (that
        // turn failed the run even if it then exited 0), else on the
        // backoff.
        let exit_for_core = match (live.failure, clean) {
            (Some(class), _) => class.exit(),
            (None, true) => Exit::Clean,
            (None, false) => Exit::Failed,
        };
        self.task_failed = false;
        self.core_step(
            now,
            Exited {
                run,
                exit: exit_for_core,
            },
        )?;
        let live = self.runs.remove(run).expect("checked above");
        if !clean {
            self.note(&live.group).last_error = Some(format!("{run} ended: {exit}"));
        }
        self.tell(HostEvent::Exited {
            group: live.group.clone(),
            run,
            kind: live.kind,
            exit,
            lived: now.saturating_duration_since(live.spawned_at),
        });
        self.decide_outputs(now);
        if let Some(id) = &live.task {
            // The core records a failed task; a clean one it does not.
            let succeeded = !std::mem::take(&mut self.task_failed);
            self.tasks
                .ended(&live.group, id, TaskOutcome { succeeded, at: now });
        }
        self.effects.push_back(Effect::Release { run });
        Ok(Answer::Applied)
    }

    fn never_launched(&mut self, now: Time, run: RunId) -> Result<Answer, HostError> {
        let live = self.runs.get(run).ok_or(groupq::Error::StaleRun(run))?;
        // Its class, while the core still holds it live: a task handed back
        // is kept as what it was.
        let background = self
            .machine()
            .explain(&live.group)
            .and_then(|e| e.run)
            .is_some_and(|r| r.run == run && r.background);
        let work = match (live.kind, &live.task, &live.payload) {
            (WorkKind::Task, Some(id), Some(payload)) => Work::Task {
                id: id.clone(),
                payload: payload.clone(),
            },
            (WorkKind::Compact, ..) => Work::Compact,
            _ => Work::Messages,
        };
        let answer = self.core_step(now, NeverLaunched { run, work })?;
        let live = self.runs.remove(run).expect("checked above");
        match (&answer, &live.task) {
            (Requeue::Requeued, Some(id)) => {
                // Back at the front of its group's jobs: it waits again.
                self.queued.insert((live.group.clone(), id.clone()), now);
            }
            (Requeue::HandedBack(Work::Task { id, payload }), _) => {
                // Shut down: kept for the next epoch, as the report's tasks.
                self.left.push(LeftTask {
                    group: live.group.clone(),
                    id: id.clone(),
                    payload: payload.clone(),
                    background,
                });
            }
            _ => {}
        }
        self.decide_outputs(now);
        self.effects.push_back(Effect::Release { run });
        let handed_back = match answer {
            Requeue::HandedBack(work) => Some(work),
            _ => None,
        };
        self.tell(HostEvent::NotLaunched {
            group: live.group,
            run,
            handed_back,
        });
        Ok(Answer::Applied)
    }
}
