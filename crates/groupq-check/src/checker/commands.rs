//! What each command must be justified by, and what it changes in the
//! account.

use std::fmt;
use std::hash::Hash;

use groupq::{CloseReason, Command, Notice, Output, RunId, RunState, Work};

use super::account::{Expect, JobAccount, RunAccount};
use super::{Checker, Property, Verdict};

impl<K, T, P> Checker<K, T, P>
where
    K: Clone + Eq + Hash + fmt::Debug,
    T: Clone + Eq + Hash + fmt::Debug,
    P: Clone + PartialEq,
{
    pub(super) fn check_commands(
        &mut self,
        outputs: &[Output<K, T, P>],
        expect: &mut Expect<K>,
        touched: &mut Vec<K>,
    ) -> Verdict<K> {
        for command in outputs.iter().filter_map(Output::command) {
            match command {
                Command::Spawn { run, group, work } => {
                    self.check_spawn(*run, group, work)?;
                    touched.push(group.clone());
                }
                Command::CloseInput { run, reason } => {
                    let waiting = self.waiting_now(touched);
                    self.check_close(*run, *reason, expect, waiting)?
                }
                Command::Kill { run } => self.check_kill(*run, expect)?,
                Command::RollbackCursor { group } => {
                    let owed = std::mem::take(&mut expect.rollback);
                    self.owed(owed, expect, group, Property::Retry, "RollbackCursor")?;
                }
                Command::TerminalFailure { group } => {
                    let owed = std::mem::take(&mut expect.terminal);
                    self.owed(owed, expect, group, Property::Retry, "TerminalFailure")?;
                }
                Command::RecordCompaction { group } => {
                    let owed = std::mem::take(&mut expect.record_compaction);
                    self.owed(owed, expect, group, Property::Contract, "RecordCompaction")?;
                }
                Command::Notify { group, notice } => {
                    let owed = match notice {
                        Notice::ContextWarning {
                            percent,
                            tokens,
                            limit,
                        } => expect.warning.take() == Some((*percent, *tokens, *limit)),
                        Notice::AutoCompacted { tokens_before } => {
                            expect.auto_compacted.take() == Some(*tokens_before)
                        }
                        _ => false,
                    };
                    self.owed(owed, expect, group, Property::Contract, "notice")?;
                }
                // Checked against the breaker's account after the loop.
                Command::BreakerOpened { .. } | Command::BreakerClosed => {}
                _ => {
                    let detail = "a command this checker does not know".to_string();
                    return self.fail(Property::Contract, None, None, detail);
                }
            }
        }
        Ok(())
    }

    /// A command the input owed, for the input's group.
    fn owed(
        &self,
        owed: bool,
        expect: &Expect<K>,
        group: &K,
        property: Property,
        what: &str,
    ) -> Verdict<K> {
        if owed && expect.group.as_ref() == Some(group) {
            return Ok(());
        }
        self.fail(property, Some(group), None, format!("unexpected {what}"))
    }

    /// Every obligation of the input was met by its commands.
    pub(super) fn check_obligations_met(&mut self, expect: &Expect<K>) -> Verdict<K> {
        if expect.host_close.is_some() && !std::mem::take(&mut self.host_closed) {
            let detail = "the host's close was answered but not emitted".to_string();
            return self.fail(
                Property::CloseOnce,
                expect.group.as_ref(),
                expect.host_close,
                detail,
            );
        }
        let missing = [
            (expect.rollback, Property::Retry, "RollbackCursor"),
            (expect.terminal, Property::Retry, "TerminalFailure"),
            (
                expect.record_compaction,
                Property::Contract,
                "RecordCompaction",
            ),
            (
                expect.warning.is_some(),
                Property::Contract,
                "context warning",
            ),
            (
                expect.auto_compacted.is_some(),
                Property::Contract,
                "auto-compacted notice",
            ),
        ];
        if let Some((_, property, what)) = missing.into_iter().find(|m| m.0) {
            let detail = format!("expected {what} was not emitted");
            return self.fail(property, expect.group.as_ref(), None, detail);
        }
        Ok(())
    }

    /// At most one close per live run, each with its cause: `Preempt` only
    /// for an idle run whose group has jobs waiting, `IdleTimeout` only
    /// when a timeout finds its idle deadline passed.
    fn check_close(
        &mut self,
        run: RunId,
        reason: CloseReason,
        expect: &Expect<K>,
        waiting: usize,
    ) -> Verdict<K> {
        let Some(r) = self.runs.get(&run) else {
            let detail = "CloseInput for a run that is not live".to_string();
            return self.fail(Property::CloseOnce, None, Some(run), detail);
        };
        if r.state == RunState::Closing {
            return self.fail(
                Property::CloseOnce,
                Some(&r.group),
                Some(run),
                "second CloseInput".into(),
            );
        }
        let host = reason == CloseReason::Host && expect.host_close == Some(run);
        if !host && !self.close_justified(run, r, reason, expect.timeout, waiting) {
            let detail = format!(
                "CloseInput({reason:?}) of a {:?} run without cause",
                r.state
            );
            return self.fail(Property::CloseOnce, Some(&r.group), Some(run), detail);
        }
        if let Some(r) = self.runs.get_mut(&run) {
            r.state = RunState::Closing;
        }
        if host {
            self.host_closed = true;
        }
        self.on_closed(run);
        Ok(())
    }

    /// At most one kill per live run, only once its kill deadline passed.
    fn check_kill(&mut self, run: RunId, expect: &Expect<K>) -> Verdict<K> {
        let Some(r) = self.runs.get(&run) else {
            let detail = "Kill for a run that is not live".to_string();
            return self.fail(Property::KillOnce, None, Some(run), detail);
        };
        if !self.kill_justified(r, expect.timeout) {
            let detail = format!(
                "Kill of a {:?} run (killed before: {}) without cause",
                r.state, r.killed
            );
            return self.fail(Property::KillOnce, Some(&r.group), Some(run), detail);
        }
        if let Some(r) = self.runs.get_mut(&run) {
            r.killed = true;
        }
        self.set_deadline(run, super::Deadline::Kill, None);
        Ok(())
    }

    fn check_spawn(&mut self, run: RunId, group: &K, work: &Work<T, P>) -> Verdict<K> {
        if self.shut_down {
            let detail = "Spawn after shutdown".to_string();
            return self.fail(
                Property::NoSpawnAfterShutdown,
                Some(group),
                Some(run),
                detail,
            );
        }
        if run.get() <= self.last_run {
            let detail = "run id reused or not increasing".to_string();
            return self.fail(Property::OneRunPerGroup, Some(group), Some(run), detail);
        }
        self.last_run = run.get();
        if self.runs.len() >= self.rules.max_active {
            let detail = format!(
                "Spawn with {} runs live, max_active {}",
                self.runs.len(),
                self.rules.max_active
            );
            return self.fail(Property::GlobalLimit, Some(group), Some(run), detail);
        }
        if self.groups.get(group).is_some_and(|g| g.paused) {
            let detail = "Spawn for a paused group".to_string();
            return self.fail(Property::Paused, Some(group), Some(run), detail);
        }
        if let Some(other) = self.groups.get(group).and_then(|g| g.run) {
            let detail = format!("second live run; {other} is still live");
            return self.fail(Property::OneRunPerGroup, Some(group), Some(run), detail);
        }
        self.breaker_spawn(run, group)?;
        let (task, background) = self.take_work(run, group, work)?;
        if background {
            self.background_spawn(run, group)?;
        }
        self.check_fair_wait(run, group)?;
        let g = self.group_mut(group);
        g.run = Some(run);
        self.runs.insert(
            run,
            RunAccount {
                group: group.clone(),
                kind: work.kind(),
                task,
                state: RunState::Busy,
                errored: false,
                delivered: false,
                piped_after_delivery: false,
                killed: false,
                spawned: self.now,
                background,
                idle_since: None,
                deadlines: [None; 6],
            },
        );
        self.on_spawned(run, work.kind());
        Ok(())
    }

    /// The work of a spawn is the group's front job, with its own payload,
    /// or its unread messages when no job is queued, or its front
    /// background task when neither is (B16). Returns the task id and
    /// whether it is a background task.
    fn take_work(
        &mut self,
        run: RunId,
        group: &K,
        work: &Work<T, P>,
    ) -> Result<(Option<T>, bool), super::Violation<K>> {
        let fail =
            |c: &Self, property, detail: String| c.fail(property, Some(group), Some(run), detail);
        let step = self.step + 1;
        let g = self.group_mut(group);
        let background = match work {
            Work::Task { id, .. } => g.background.iter().any(|(queued, _)| queued == id),
            _ => false,
        };
        if let (true, Work::Task { id, payload }) = (background, work) {
            // Deadlines fire in order within a timeout: a retry firing
            // after the spawn made the messages unread only then.
            let unread = g.unread && g.retry_fired != step;
            if unread || !g.jobs.is_empty() {
                let detail = format!("background task {id:?} started before the conversation");
                return self.fail(Property::Background, Some(group), Some(run), detail);
            }
            if g.background.front().map(|(front, _)| front) != Some(id) {
                let detail = format!("background task {id:?} started out of FIFO order");
                return self.fail(Property::JobOrder, Some(group), Some(run), detail);
            }
            let (id, queued) = g.background.pop_front().expect("its front");
            g.queued.remove(&id);
            if queued != *payload {
                let detail = format!("task {id:?} started with another payload");
                return self.fail(Property::NothingLostOrTwice, Some(group), Some(run), detail);
            }
            return Ok((Some(id), true));
        }
        let task = match (work, g.jobs.front()) {
            (
                Work::Task { id, payload },
                Some(JobAccount::Task {
                    id: front,
                    payload: queued,
                }),
            ) if front == id => {
                if payload != queued {
                    fail(
                        self,
                        Property::NothingLostOrTwice,
                        format!("task {id:?} started with another payload"),
                    )
                } else {
                    g.pop_front();
                    Ok(Some(id.clone()))
                }
            }
            (Work::Task { id, .. }, _) if g.queued.contains(id) => fail(
                self,
                Property::JobOrder,
                format!("task {id:?} started out of FIFO order"),
            ),
            (Work::Task { id, .. }, _) => fail(
                self,
                Property::NothingLostOrTwice,
                format!("task {id:?} started but not queued"),
            ),
            (Work::Compact, Some(JobAccount::Compact)) => {
                g.pop_front();
                Ok(None)
            }
            (Work::Compact, _) => fail(
                self,
                Property::CompactAfterExit,
                "compact started without a compact owed by an exited run, or out of order".into(),
            ),
            (Work::Messages, Some(_)) => fail(
                self,
                Property::JobOrder,
                "messages started before queued jobs".into(),
            ),
            (Work::Messages, None) if !g.unread => fail(
                self,
                Property::NothingLostOrTwice,
                "Messages run started without unread messages".into(),
            ),
            (Work::Messages, None) if g.debounce.is_some() => {
                let detail = format!("messages run started while debouncing: {:?}", g.debounce);
                fail(self, Property::Debounce, detail)
            }
            (Work::Messages, None) => {
                g.unread = false;
                // The run reads the rolled-back messages: no retry left.
                if let Some(at) = g.retry_at.take() {
                    self.retries.remove(&at);
                }
                Ok(None)
            }
        };
        task.map(|task| (task, false))
    }

    /// Fair policy: a group that waited with a conversation and `W`
    /// conversations ahead starts within `W + 1` slot releases, plus one
    /// for each background run started meanwhile (B16: aging). A group
    /// that waited with background work only: `check_background_wait`.
    fn check_fair_wait(&mut self, run: RunId, group: &K) -> Verdict<K> {
        let (fair, releases) = (self.rules.fair, self.releases);
        let g = self.group_mut(group);
        let background = g.waits_background;
        let Some((order, ahead, since)) = g.starved.take() else {
            return Ok(());
        };
        if background {
            self.starved_background.remove(&order);
            return self.check_background_wait(run, group, ahead, since.0);
        }
        self.starved.remove(&order);
        let passed_by = self.background_starts - since.1;
        if fair && releases - since.0 > ahead as u64 + 1 + passed_by {
            let detail = format!(
                "waited {} releases with {ahead} groups ahead and {passed_by} background starts",
                releases - since.0
            );
            return self.fail(Property::Fairness, Some(group), Some(run), detail);
        }
        Ok(())
    }
}
