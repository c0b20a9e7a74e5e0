//! The run deadlines, by the checker's own account: when each is armed and
//! cleared, what a due one obliges, and which closes and kills it
//! justifies.
//!
//! - Busy (spawned, or piped into while idle): the turn deadline, the stall
//!   watch (re-armed by turn reports and heartbeats; from a spawn to the
//!   run's first sign of life it adds the start grace), and from the spawn
//!   the life cap.
//! - Idle: the idle deadline (re-armed by a reply).
//! - Closed (any reason): only the kill deadline, `kill_grace` later.
//! - Shutdown: idle runs closed at once, busy runs get the grace deadline.

use std::fmt;
use std::hash::Hash;

use groupq::{CloseReason, RunId, RunState, Time, WorkKind};

use super::account::RunAccount;
use super::{Checker, Property, Verdict};

/// A run's deadlines, as indices into `RunAccount::deadlines`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) enum Deadline {
    Idle = 0,
    Turn = 1,
    Life = 2,
    Stall = 3,
    Kill = 4,
    Grace = 5,
}

/// Every deadline of a run.
const ALL: [Deadline; 6] = [
    Deadline::Idle,
    Deadline::Turn,
    Deadline::Life,
    Deadline::Stall,
    Deadline::Kill,
    Deadline::Grace,
];

/// The deadlines a close drops (all but the kill).
const CLOSED_BY_CLOSE: [Deadline; 5] = [
    Deadline::Idle,
    Deadline::Turn,
    Deadline::Life,
    Deadline::Stall,
    Deadline::Grace,
];

impl<K, T, P> Checker<K, T, P>
where
    K: Clone + Eq + Hash + fmt::Debug,
    T: Clone + Eq + Hash + fmt::Debug,
    P: Clone + PartialEq,
{
    /// Sets (or clears) one deadline of a live run, keeping the index.
    pub(super) fn set_deadline(&mut self, run: RunId, which: Deadline, at: Option<Time>) {
        let Some(r) = self.runs.get_mut(&run) else {
            return;
        };
        if let Some(old) = std::mem::replace(&mut r.deadlines[which as usize], at) {
            self.deadlines.remove(&(old, run, which));
        }
        if let Some(at) = at {
            self.deadlines.insert((at, run, which));
        }
    }

    fn after(&self, nanos: Option<u64>) -> Option<Time> {
        nanos.map(|n| Time::from_nanos(self.now.as_nanos().saturating_add(n)))
    }

    /// A run spawned: busy, with its turn, life and stall deadlines.
    pub(super) fn on_spawned(&mut self, run: RunId, kind: WorkKind) {
        let turn = match kind {
            WorkKind::Compact => self.rules.max_compact_nanos,
            _ => self.rules.max_turn_nanos,
        };
        self.set_deadline(run, Deadline::Turn, self.after(Some(turn)));
        self.set_deadline(run, Deadline::Life, self.after(self.rules.max_run_nanos));
        let first_stall = self.after(self.rules.first_stall_nanos);
        self.set_deadline(run, Deadline::Stall, first_stall);
    }

    /// An idle run took a follow-up: a new turn.
    pub(super) fn on_busy_again(&mut self, run: RunId) {
        self.leave_idle(run);
        self.set_deadline(run, Deadline::Idle, None);
        self.set_deadline(
            run,
            Deadline::Turn,
            self.after(Some(self.rules.max_turn_nanos)),
        );
        self.set_deadline(run, Deadline::Stall, self.after(self.rules.stall_nanos));
    }

    /// A busy run reported, or sent a heartbeat: its stall watch restarts.
    pub(super) fn on_progress(&mut self, run: RunId) {
        self.set_deadline(run, Deadline::Stall, self.after(self.rules.stall_nanos));
    }

    /// A busy run finished its turn.
    pub(super) fn on_idle(&mut self, run: RunId) {
        for d in [Deadline::Turn, Deadline::Stall, Deadline::Grace] {
            self.set_deadline(run, d, None);
        }
        self.rearm_idle(run);
        self.seq += 1;
        let seq = self.seq;
        if let Some(r) = self.runs.get_mut(&run) {
            r.idle_since = Some(seq);
            self.idle_order.insert(seq, run);
        }
    }

    /// The run is no longer idle (piped into, closed, or exited).
    pub(super) fn leave_idle(&mut self, run: RunId) {
        if let Some(since) = self.runs.get_mut(&run).and_then(|r| r.idle_since.take()) {
            self.idle_order.remove(&since);
        }
    }

    pub(super) fn rearm_idle(&mut self, run: RunId) {
        self.set_deadline(
            run,
            Deadline::Idle,
            self.after(Some(self.rules.idle_timeout_nanos)),
        );
    }

    /// A run's input was closed: only its kill deadline is left.
    pub(super) fn on_closed(&mut self, run: RunId) {
        self.leave_idle(run);
        self.closing += 1;
        for d in CLOSED_BY_CLOSE {
            self.set_deadline(run, d, None);
        }
        self.set_deadline(
            run,
            Deadline::Kill,
            self.after(Some(self.rules.kill_grace_nanos)),
        );
    }

    /// The run exited: none of its deadlines is left, it is no longer idle,
    /// and no longer counts as closing.
    pub(super) fn on_gone(&mut self, run: RunId) {
        for which in ALL {
            self.set_deadline(run, which, None);
        }
        self.leave_idle(run);
        if self
            .runs
            .get(&run)
            .is_some_and(|r| r.state == RunState::Closing)
        {
            self.closing -= 1;
        }
    }

    /// Shutdown: busy runs get the grace deadline (idle ones must be closed
    /// in the same step, see `check_settled`).
    pub(super) fn on_shutdown_runs(&mut self) {
        let mut busy: Vec<RunId> = self
            .runs
            .iter()
            .filter(|(_, r)| r.state == RunState::Busy)
            .map(|(&id, _)| id)
            .collect();
        busy.sort();
        for run in busy {
            self.set_deadline(
                run,
                Deadline::Grace,
                self.after(Some(self.rules.shutdown_grace_nanos)),
            );
        }
    }

    fn due(&self, r: &RunAccount<K, T>, which: Deadline, timeout: bool) -> bool {
        timeout && r.deadlines[which as usize].is_some_and(|at| at <= self.now)
    }

    /// Whether a close for `reason` has its cause.
    /// `waiting` is the number of groups waiting for a slot right now.
    pub(super) fn close_justified(
        &self,
        run: RunId,
        r: &RunAccount<K, T>,
        reason: CloseReason,
        timeout: bool,
        waiting: usize,
    ) -> bool {
        let due = |which| self.due(r, which, timeout);
        match reason {
            // Normal jobs wait, or messages behind a background run (B16).
            CloseReason::Preempt => {
                r.state == RunState::IdleWaiting
                    && !self.groups.get(&r.group).is_some_and(|g| g.paused)
                    && self
                        .groups
                        .get(&r.group)
                        .is_some_and(|g| !g.jobs.is_empty() || (r.background && g.unread))
            }
            CloseReason::IdleTimeout => due(Deadline::Idle),
            CloseReason::TurnTimeout => due(Deadline::Turn),
            CloseReason::RunTimeLimit => due(Deadline::Life),
            CloseReason::Stalled => due(Deadline::Stall),
            CloseReason::Shutdown => {
                self.shut_down && (r.state == RunState::IdleWaiting || due(Deadline::Grace))
            }
            CloseReason::Evicted => {
                let longest = self.idle_order.values().next() == Some(&run);
                self.rules.evict_idle
                    && !self.shut_down
                    && longest
                    && self.slots_wanted(waiting) > self.slots_coming()
            }
            CloseReason::LimitLowered => {
                let longest = self.idle_order.values().next() == Some(&run);
                !self.shut_down && longest && self.open_runs() > self.rules.max_active
            }
            _ => false,
        }
    }

    /// A `Kill` is due: a timeout found the kill deadline of a live run
    /// passed, and it was not killed before.
    pub(super) fn kill_justified(&self, r: &RunAccount<K, T>, timeout: bool) -> bool {
        !r.killed && self.due(r, Deadline::Kill, timeout)
    }

    /// After a timeout no deadline may be left overdue: every due close and
    /// kill happened.
    pub(super) fn check_nothing_overdue(&self, timeout: bool) -> Verdict<K> {
        if !timeout {
            return Ok(());
        }
        let overdue = self
            .deadlines
            .range(..=(self.now, RunId::new(u64::MAX), Deadline::Grace))
            .next();
        if let Some(&(at, run, which)) = overdue {
            let group = self.runs.get(&run).map(|r| r.group.clone());
            let detail = format!(
                "{which:?} deadline at {at} passed, and the run was not {}",
                match which {
                    Deadline::Kill => "killed",
                    _ => "closed",
                }
            );
            return self.fail(Property::Deadline, group.as_ref(), Some(run), detail);
        }
        Ok(())
    }

    /// The earliest deadline of any live run, for the wake-up check.
    pub(super) fn first_deadline(&self) -> Option<(Time, Option<&K>, Option<RunId>)> {
        let &(at, run, _) = self.deadlines.iter().next()?;
        Some((at, self.runs.get(&run).map(|r| &r.group), Some(run)))
    }
}
