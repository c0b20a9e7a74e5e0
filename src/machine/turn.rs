//! [`Turn`](crate::Turn): what a turn reported, and the compaction trigger.
//!
//! The trigger only marks the group "compact pending". Nothing starts here:
//! the compact job is queued when the triggering run exits (`exit.rs`) and
//! starts through the same queue as any job, so the compact turn can never
//! overlap the turn that triggered it. This is the fix for the original
//! race, where `/compact` was dispatched from the output callback while the
//! primary turn still ran.

use std::hash::Hash;

use crate::error::Error;
use crate::machine::Machine;
use crate::output::{Command, Notice, Pending, Record};
use crate::state::timers::RunTimer;
use crate::turn_report::{CompactionTrigger, TurnReport, TurnStatus};
use crate::work::{RunId, RunState, WorkKind};

impl<K, T, P> Machine<K, T, P>
where
    K: Clone + Eq + Hash,
    T: Clone + Eq + Hash,
{
    /// Accepted for any live run. The notices and the auto-compact trigger
    /// apply to Messages runs only: a compact run reaching the threshold
    /// must not queue another compact (that could loop forever).
    pub(crate) fn on_turn(&mut self, run: RunId, report: TurnReport) -> Result<(), Error> {
        let g = self.runs.group_of(run)?;
        let config = &self.config;
        let group = self.groups.get(g);
        let r = self.runs.get(group.live).ok_or(Error::StaleRun(run))?;
        let success = report.status == TurnStatus::Success;
        let messages = r.kind == WorkKind::Messages;
        let percent = report.context.and_then(|c| c.effective_percent());
        let recommended = report.context.is_some_and(|c| c.compact_recommended);
        let over_auto = percent.is_some_and(|p| p >= u32::from(config.auto_compact_percent()));
        let trigger = report.compaction.is_none()
            & messages
            & (over_auto | recommended)
            & !group.compact_pending
            & !group.jobs.has_compact();
        let notify = config.notices() & success & report.replied & messages;
        let warning = percent
            .filter(|&p| notify && p >= u32::from(config.warn_percent()))
            .map(|percent| Notice::ContextWarning {
                percent,
                tokens: report.context.and_then(|c| c.tokens),
                limit: report.context.and_then(|c| c.limit),
            });
        let auto_compacted = report
            .compaction
            .filter(|c| notify && c.trigger == CompactionTrigger::Auto)
            .map(|c| Notice::AutoCompacted {
                tokens_before: c.tokens_before,
            });
        // Commands name the group: clone its key before changing anything.
        let mut commands: [Option<Command<K, T, P>>; 3] = [
            warning.map(|notice| Command::Notify {
                group: group.key.clone(),
                notice,
            }),
            auto_compacted.map(|notice| Command::Notify {
                group: group.key.clone(),
                notice,
            }),
            report.compaction.map(|_| Command::RecordCompaction {
                group: group.key.clone(),
            }),
        ];
        // A reply from an idle run pushes its idle deadline out; a busy run
        // that reports is making progress (its stall watch starts again).
        let (was_idle, busy) = (r.state == RunState::IdleWaiting, r.state == RunState::Busy);

        let live = group.live;
        let r = self.runs.get_mut(live).ok_or(Error::StaleRun(run))?;
        r.errored |= !success;
        r.delivered |= report.delivered;
        if report.delivered {
            // The reply answered the follow-ups piped before it.
            r.piped_after_delivery = false;
        }
        if let Some(context) = report.context {
            self.groups.set_context(g, context);
        }
        let group = self.groups.get_mut(g);
        if report.compaction.is_some() {
            group.compact_pending = false;
        } else if trigger {
            group.compact_pending = true;
        }
        if busy {
            self.arm_stall(live);
        }
        if report.replied & was_idle {
            self.arm(live, RunTimer::Idle, self.durations.idle);
        }
        for command in commands.iter_mut().filter_map(Option::take) {
            self.command(command);
        }
        if trigger {
            self.record(g, |group| Record::Queued {
                group,
                what: Pending::Compact,
            });
        }
        if success {
            self.become_idle(g);
        }
        Ok(())
    }
}
