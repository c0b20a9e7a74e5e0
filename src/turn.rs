//! B5: what a turn reported, and the compaction trigger.
//!
//! The trigger only marks the group "compact pending". Nothing starts here:
//! the compact job is queued when the triggering run exits (B6, in
//! `exit.rs`) and starts through the same queue as any job, so the compact
//! turn can never overlap the turn that triggered it (P11). This is the fix
//! for the original race, where `/compact` was dispatched from the output
//! callback while the primary turn still ran.

use std::hash::{BuildHasher, Hash};

use crate::error::Error;
use crate::group::RunState;
use crate::input::{CompactionTrigger, RunId, TurnOutput, TurnStatus};
use crate::machine::Machine;
use crate::output::{Command, Notice, Pending, Record, WorkKind};
use crate::time::Time;
use crate::timers::{self, TimerKind};

impl<K, T, P, S> Machine<K, T, P, S>
where
    K: Clone + Eq + Hash,
    T: Clone + Eq + Hash,
    S: BuildHasher + Clone,
{
    /// B5, accepted for any live run. The notices and the auto-compact
    /// trigger apply to Messages runs only: a compact run reaching the
    /// threshold must not queue another compact (that could loop forever).
    pub(crate) fn on_turn_output(
        &mut self,
        now: Time,
        run: RunId,
        output: TurnOutput,
    ) -> Result<(), Error> {
        let g = self.live_group(run)?;
        let config = &self.config;
        let (notices, warn, auto) = (
            config.notices(),
            config.warn_percent(),
            config.auto_compact_percent(),
        );
        let idle_at = now.saturating_add(config.idle_timeout());
        let group = self.groups[g as usize].as_mut().expect("group slot in use");
        let r = self.lives.get_mut(group.live).expect("live run");
        let success = output.status == TurnStatus::Success;
        let is_messages = r.kind == WorkKind::Messages;
        if !success {
            r.errored = true;
        }
        r.delivered |= output.delivered;
        // A reply re-arms the idle deadline; a closing run needs none.
        let arm_idle = output.replied && r.state != RunState::Closing;
        if let Some(context) = output.context {
            let i = g as usize;
            if self.contexts.len() <= i {
                self.contexts.resize(i + 1, None);
            }
            self.contexts[i] = Some(context);
        }
        let percent = output.context.and_then(|c| c.effective_percent());
        let recommended = output.context.is_some_and(|c| c.compact_recommended);
        let over_auto = percent.is_some_and(|p| p >= u32::from(auto)) || recommended;
        let mut trigger = false;
        if output.compaction.is_some() {
            group.compact_pending = false;
        } else if is_messages && over_auto && !group.compact_pending && !group.compact_queued {
            group.compact_pending = true;
            trigger = true;
        }
        if arm_idle {
            self.timers.set(timers::key(g, TimerKind::Idle), idle_at);
        }
        if notices && success && output.replied && is_messages {
            if let Some(percent) = percent.filter(|&p| p >= u32::from(warn)) {
                self.command(Command::Notify {
                    group: self.group(g).key.clone(),
                    notice: Notice::ContextWarning { percent },
                });
            }
            if let Some(c) = output
                .compaction
                .filter(|c| c.trigger == CompactionTrigger::Auto)
            {
                self.command(Command::Notify {
                    group: self.group(g).key.clone(),
                    notice: Notice::AutoCompacted {
                        tokens_before: c.tokens_before,
                    },
                });
            }
        }
        if output.compaction.is_some() {
            self.command(Command::RecordCompaction {
                group: self.group(g).key.clone(),
            });
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
