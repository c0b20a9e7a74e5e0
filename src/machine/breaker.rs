//! The crash-loop breaker (B15): fast failures of distinct groups open it,
//! a cooldown that doubles holds every start back, one probe closes it.
//! Work keeps queueing while it is open: the waiting line only grows.

use std::hash::Hash;

use crate::machine::Machine;
use crate::output::Command;
use crate::state::breaker::{BreakerState, Phase};
use crate::state::runs::Run;
use crate::state::timers::BREAKER_KEY;
use crate::state::GroupIdx;
use crate::view::BreakerStatus;
use crate::work::{RunId, RunState};

impl<K, T, P> Machine<K, T, P>
where
    K: Clone + Eq + Hash,
    T: Clone + Eq + Hash,
{
    /// Run `r` of group `g` ended, `failed` or not. Called before its slot
    /// is handed on, so that a breaker it opens holds that slot back too.
    #[inline]
    pub(super) fn breaker_on_exit(&mut self, g: GroupIdx, r: &Run<T>, failed: bool) {
        let Some(&settings) = self.config.breaker_ref() else {
            return;
        };
        if self.shut_down {
            return;
        }
        // Only a run that failed on its own counts: not one whose input
        // was closed, nor one killed.
        let fast = failed
            & !r.killed
            & (r.state != RunState::Closing)
            & r.spawned
                .is_some_and(|at| self.now - at < settings.fast_failure);
        match self.breaker.phase() {
            Phase::HalfOpen {
                cooldown,
                probe: Some(probe),
            } if probe == r.id => match fast {
                true => self.open_breaker(cooldown.saturating_mul(2).min(settings.max_cooldown)),
                false => self.close_breaker(),
            },
            Phase::Closed if fast => {
                let key = self.groups.get(g).key.clone();
                let failing = self.breaker.note(self.now, key, settings.window);
                if failing >= settings.groups {
                    self.open_breaker(settings.cooldown);
                }
            }
            _ => {}
        }
    }

    /// A run that never launched is no probe: the next run to start is.
    pub(super) fn breaker_on_never_launched(&mut self, run: RunId) {
        if let Phase::HalfOpen {
            cooldown,
            probe: Some(probe),
        } = self.breaker.phase()
        {
            if probe == run {
                self.timers.cancel(BREAKER_KEY);
                self.breaker.set(Phase::HalfOpen {
                    cooldown,
                    probe: None,
                });
            }
        }
    }

    /// A run starts: in half-open, it is the probe, and must live
    /// `fast_failure` to close the breaker.
    #[inline]
    pub(super) fn breaker_on_start(&mut self, run: RunId) {
        if let Phase::HalfOpen {
            cooldown,
            probe: None,
        } = self.breaker.phase()
        {
            let Some(&settings) = self.config.breaker_ref() else {
                return;
            };
            self.breaker.set(Phase::HalfOpen {
                cooldown,
                probe: Some(run),
            });
            self.timers
                .set(BREAKER_KEY, self.now + settings.fast_failure);
        }
    }

    /// The breaker timer fired: an open breaker's cooldown is over (one
    /// probe may start), or the probe lived long enough (it closes).
    pub(super) fn on_breaker_due(&mut self) {
        match self.breaker.phase() {
            Phase::Open { cooldown } => {
                self.breaker.set(Phase::HalfOpen {
                    cooldown,
                    probe: None,
                });
                self.drain_line();
                self.evict_for_waiting();
            }
            Phase::HalfOpen { probe: Some(_), .. } => self.close_breaker(),
            _ => {}
        }
    }

    fn open_breaker(&mut self, cooldown: std::time::Duration) {
        self.breaker.recent.clear();
        self.breaker.set(Phase::Open { cooldown });
        let until = self.now + cooldown;
        self.timers.set(BREAKER_KEY, until);
        self.command(Command::BreakerOpened { until, cooldown });
    }

    /// Closes the breaker and gives the slots it held back to the line.
    fn close_breaker(&mut self) {
        self.breaker.set(Phase::Closed);
        self.timers.cancel(BREAKER_KEY);
        self.command(Command::BreakerClosed);
        self.drain_line();
        self.evict_for_waiting();
    }

    /// At shutdown nothing starts any more: the breaker ends, silently.
    pub(super) fn end_breaker(&mut self) {
        self.timers.cancel(BREAKER_KEY);
        self.breaker = BreakerState::default();
    }

    /// The breaker as [`Stats`](crate::Stats) shows it.
    pub(super) fn breaker_status(&self) -> BreakerStatus {
        match self.breaker.phase() {
            Phase::Closed => BreakerStatus::Closed,
            Phase::Open { .. } => BreakerStatus::Open {
                until: self.timers.get(BREAKER_KEY).unwrap_or(self.now),
            },
            Phase::HalfOpen { probe, .. } => BreakerStatus::Probing { probe },
        }
    }

    /// How many slots the waiting line can use now: none while the breaker
    /// is open, one for the probe while it is half-open.
    #[inline]
    pub(super) fn slots_wanted(&self) -> usize {
        if !self.breaker.admits() {
            return 0;
        }
        match self.breaker.phase() {
            Phase::HalfOpen { .. } => self.line.conversations().min(1),
            _ => self.line.conversations(),
        }
    }
}
