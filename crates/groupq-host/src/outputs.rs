//! What the core's outputs mean outside: each command becomes effects for
//! the runner and events for the application; the records the host needs
//! (retries, failed tasks) become events and counts.

use groupq::{CloseReason, Command, Output, Record, RunId, Time, Work};

use crate::effect::{Effect, RunSpec};
use crate::error::HostError;
use crate::event::HostEvent;
use crate::host::{Host, HostCore};
use crate::runs::LiveRun;
use crate::status::Note;

impl<D> Host<D>
where
    D: HostCore,
    HostError: From<D::Error>,
{
    /// Decides every output the last core step left, in order.
    pub(crate) fn decide_outputs(&mut self, now: Time) {
        let mut outputs = std::mem::take(&mut self.outputs);
        for output in outputs.drain(..) {
            match output {
                Output::Command(command) => self.command(now, command),
                Output::Record(record) => self.record(record),
                _ => {}
            }
        }
        self.outputs = outputs;
    }

    fn command(&mut self, now: Time, command: Command<String, String, String>) {
        match command {
            Command::Spawn { run, group, work } => self.spawn(now, run, group, work),
            Command::CloseInput { run, reason } => {
                self.effects.push_back(Effect::CloseInput { run });
                self.counters.closes += 1;
                if reason == CloseReason::Evicted {
                    self.counters.evictions += 1;
                }
                let group = self.group_of(run);
                self.tell(HostEvent::Closed { group, run, reason });
            }
            Command::Kill { run } => {
                self.effects.push_back(Effect::Kill { run });
                self.counters.kills += 1;
                let group = self.group_of(run);
                self.tell(HostEvent::Killed { group, run });
            }
            Command::Notify { group, notice } => self.tell(HostEvent::Notice { group, notice }),
            Command::RollbackCursor { group } => {
                let messages = self.mailboxes.roll_back(&group);
                self.tell(HostEvent::RolledBack { group, messages });
            }
            Command::RecordCompaction { group } => self.tell(HostEvent::Compacted { group }),
            Command::TerminalFailure { group } => {
                let unread = self.mailboxes.unread(&group);
                self.counters.terminal_failures += 1;
                self.tell(HostEvent::TerminalFailure { group, unread });
            }
            Command::BreakerOpened { until, cooldown } => {
                self.counters.breaker_openings += 1;
                self.tell(HostEvent::BreakerOpened { until, cooldown });
            }
            Command::BreakerClosed => self.tell(HostEvent::BreakerClosed),
            // A command this host does not know changes nothing outside.
            _ => {}
        }
    }

    /// A run starts: a messages run is handed every unread message; its
    /// wait is since its oldest message arrived, or its task was submitted.
    fn spawn(&mut self, now: Time, run: RunId, group: String, work: Work<String, String>) {
        let (messages, since) = match &work {
            Work::Messages => {
                let since = self.mailboxes.oldest_unread(&group);
                (self.mailboxes.start_run(&group), since)
            }
            Work::Task { id, .. } => (Vec::new(), self.queued.remove(&(group.clone(), id.clone()))),
            Work::Compact => (Vec::new(), None),
        };
        let kind = work.kind();
        let (task, payload) = match &work {
            Work::Task { id, payload } => (Some(id.clone()), Some(payload.clone())),
            _ => (None, None),
        };
        let name = format!("{:016x}-{}", self.instance, run.get());
        self.counters.spawns += 1;
        self.tell(HostEvent::Spawned {
            group: group.clone(),
            run,
            name: name.clone(),
            kind,
            task: task.clone(),
            messages: messages.len(),
            waited: since.map(|at| now.saturating_duration_since(at)),
        });
        self.runs.insert(
            run,
            LiveRun {
                group: group.clone(),
                kind,
                task,
                payload,
                name: name.clone(),
                spawned_at: now,
                read_to: 0,
                delivered: messages.len() as u64,
                last_turn_ok: None,
                failure: None,
            },
        );
        self.effects.push_back(Effect::Spawn(RunSpec {
            run,
            name,
            group,
            work,
            messages,
        }));
    }

    fn record(&mut self, record: Record<String, String>) {
        match record {
            Record::RetryScheduled { group, attempt, at } => {
                self.counters.retries += 1;
                self.tell(HostEvent::RetryScheduled { group, attempt, at });
            }
            Record::TaskFailed { group, id, .. } => {
                self.task_failed = true;
                self.tell(HostEvent::TaskFailed { group, id });
            }
            _ => {}
        }
    }

    /// A line of the run was applied: its output is read up to `read_to`.
    pub(crate) fn read_to(&mut self, now: Time, run: RunId, read_to: u64) {
        if let Some(live) = self.runs.get_mut(run) {
            live.read_to = live.read_to.max(read_to);
            let group = live.group.clone();
            self.note(&group).last_output = Some(now);
        }
    }

    pub(crate) fn note(&mut self, group: &str) -> &mut Note {
        if !self.notes.contains_key(group) {
            self.notes.insert(group.to_string(), Note::default());
        }
        self.notes.get_mut(group).expect("inserted above")
    }

    /// Notes are kept only for groups the core or the store still holds
    /// something for: dropped in a sweep once they are twice as many as
    /// those could be, so a sweep costs O(1) per entry, amortized.
    pub(crate) fn prune_notes(&mut self) {
        let held = self.machine().stats().tracked_groups + self.mailboxes.len();
        if self.notes.len() <= 2 * held + 16 {
            return;
        }
        let (machine, mailboxes) = (self.core.machine(), &self.mailboxes);
        self.notes.retain(|group, _| {
            machine.explain(group).is_some()
                || mailboxes.unread(group) + mailboxes.unanswered(group) > 0
        });
    }

    fn group_of(&self, run: RunId) -> String {
        self.runs
            .get(run)
            .map_or_else(String::new, |l| l.group.clone())
    }
}
