//! The crash-loop breaker's state (B15): the recent fast failures, one per
//! group, and where the breaker stands.
//!
//! Invariant: `recent` holds at most `groups − 1` entries, oldest first,
//! of distinct groups, each within the window of the latest; it is empty
//! unless the breaker is closed. The breaker timer is armed exactly while
//! the breaker is open (its cooldown's end) or half-open with a probe live
//! (the probe has lived `fast_failure`).

use std::collections::VecDeque;
use std::time::Duration;

use crate::time::Time;
use crate::work::RunId;

/// Where the breaker stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) enum Phase {
    /// Runs start as usual.
    Closed,
    /// No run starts until the breaker timer fires; `cooldown` is how long
    /// it was set for.
    Open { cooldown: Duration },
    /// One run may start as the probe; while it lives nothing else starts.
    HalfOpen {
        cooldown: Duration,
        probe: Option<RunId>,
    },
}

/// See the module docs.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) struct BreakerState<K> {
    /// Fast failures while closed: (when, group), oldest first.
    pub(crate) recent: VecDeque<(Time, K)>,
    /// Read through [`BreakerState::phase`], changed through
    /// [`BreakerState::set`], which keeps `admits` in step.
    phase: Phase,
    /// Whether a run may start now: the one bit the scheduler's hot path
    /// reads.
    #[cfg_attr(feature = "serde", serde(skip, default = "yes"))]
    admits: bool,
}

#[cfg(feature = "serde")]
fn yes() -> bool {
    true
}

impl<K> Default for BreakerState<K> {
    fn default() -> Self {
        BreakerState {
            recent: VecDeque::new(),
            phase: Phase::Closed,
            admits: true,
        }
    }
}

impl<K: Eq> BreakerState<K> {
    /// Whether a run may start now: closed, or half-open with no probe
    /// yet.
    #[inline]
    pub(crate) fn admits(&self) -> bool {
        self.admits
    }

    /// Where the breaker stands.
    #[inline]
    pub(crate) fn phase(&self) -> Phase {
        self.phase
    }

    /// Moves the breaker to `phase`.
    pub(crate) fn set(&mut self, phase: Phase) {
        self.phase = phase;
        self.admits = match phase {
            Phase::Closed => true,
            Phase::HalfOpen { probe, .. } => probe.is_none(),
            Phase::Open { .. } => false,
        };
    }

    /// After a restore: `admits` follows the phase.
    #[cfg(feature = "serde")]
    pub(crate) fn restore(&mut self) {
        self.set(self.phase);
    }

    /// A fast failure of `group` at `now` while closed: returns how many
    /// distinct groups failed fast within `window`, this one included.
    pub(crate) fn note(&mut self, now: Time, group: K, window: Duration) -> usize {
        self.recent
            .retain(|(at, g)| *g != group && now - *at < window);
        self.recent.push_back((now, group));
        self.recent.len()
    }

    /// Whether the breaker state fits its settings: for restoring, after
    /// [`BreakerState::restore`]. Its timer is armed exactly while it holds
    /// starts back.
    #[cfg(feature = "serde")]
    pub(crate) fn check(&self, groups: usize, armed: bool) -> Result<(), &'static str> {
        if armed == self.admits {
            return Err("the breaker and its timer disagree");
        }
        if self.recent.len() >= groups.max(1)
            || (self.phase != Phase::Closed && !self.recent.is_empty())
        {
            return Err("the breaker holds more fast failures than its threshold");
        }
        Ok(())
    }
}
