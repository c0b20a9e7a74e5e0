//! The checker's own account of pacing: each group's debounce (B14) and
//! the crash-loop breaker (B15), from the inputs, the spawns and the
//! checker's own arithmetic.

use std::collections::VecDeque;
use std::fmt;
use std::hash::Hash;
use std::time::Duration;

use groupq::{Command, Output, RunId, RunState, Time};

use super::account::RunAccount;
use super::{nanos, Checker, Property, Verdict};

/// Where the breaker stands, by the checker's account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum BreakerPhase {
    Closed,
    /// No spawn until `until`.
    Open {
        until: Time,
        cooldown: u64,
    },
    /// One spawn may be the probe; it must live until `probe.1`.
    HalfOpen {
        cooldown: u64,
        probe: Option<(RunId, Time)>,
    },
}

/// The breaker's account.
#[derive(Clone, Debug)]
pub(super) struct BreakerAccount<K> {
    pub(super) phase: BreakerPhase,
    /// Fast failures while closed, one per group: (when, group).
    recent: VecDeque<(Time, K)>,
}

impl<K> Default for BreakerAccount<K> {
    fn default() -> Self {
        BreakerAccount {
            phase: BreakerPhase::Closed,
            recent: VecDeque::new(),
        }
    }
}

/// The breaker commands a step owes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct BreakerOwed {
    /// `(until, cooldown)` of the `BreakerOpened` owed.
    pub(super) opened: Option<(Time, Duration)>,
    pub(super) closed: bool,
}

fn at(now: Time, after: u64) -> Time {
    Time::from_nanos(now.as_nanos().saturating_add(after))
}

impl<K, T, P> Checker<K, T, P>
where
    K: Clone + Eq + Hash + fmt::Debug,
    T: Clone + Eq + Hash + fmt::Debug,
    P: Clone + PartialEq,
{
    // ---- debounce ----------------------------------------------------------

    /// A message for `group`: with debounce on, a group with no run that
    /// is not waiting, not paused and has nothing pending (or is already
    /// debouncing) waits for the burst to end.
    pub(super) fn debounce_message(&mut self, group: &K) {
        let Some((quiet, max_wait)) = self.rules.debounce else {
            return;
        };
        let now = self.now;
        let g = self.group_mut(group);
        let starts = g.debounce.is_some()
            || (g.run.is_none() && g.starved.is_none() && !g.has_pending() && !g.paused);
        if !starts {
            return;
        }
        let latest = g.debounce.map_or(at(now, max_wait), |(latest, _)| latest);
        self.end_debounce(group);
        self.seq += 1;
        let key = (at(now, quiet).min(latest), self.seq);
        self.debounces.insert(key, group.clone());
        self.group_mut(group).debounce = Some((latest, key));
    }

    /// The group wakes for another reason, or its debounce passed.
    pub(super) fn end_debounce(&mut self, group: &K) {
        if let Some((_, key)) = self.groups.get_mut(group).and_then(|g| g.debounce.take()) {
            self.debounces.remove(&key);
        }
    }

    /// The earliest debounce deadline, for the wake-up check.
    pub(super) fn first_debounce(&self) -> Option<(Time, &K)> {
        self.debounces.iter().next().map(|(&(at, _), k)| (at, k))
    }

    // ---- breaker -----------------------------------------------------------

    /// Whether a spawn may happen now, by the breaker.
    pub(super) fn breaker_admits(&self) -> bool {
        match self.breaker.phase {
            BreakerPhase::Closed => true,
            BreakerPhase::HalfOpen { probe, .. } => probe.is_none(),
            BreakerPhase::Open { .. } => false,
        }
    }

    /// How many waiting groups the free slots can serve now: none while
    /// open, one probe while half-open.
    pub(super) fn slots_wanted(&self, waiting: usize) -> usize {
        match self.breaker.phase {
            BreakerPhase::Closed => waiting,
            BreakerPhase::HalfOpen { probe: None, .. } => waiting.min(1),
            _ => 0,
        }
    }

    /// A spawn: never while open; in half-open it is the probe.
    pub(super) fn breaker_spawn(&mut self, run: RunId, group: &K) -> Verdict<K> {
        if !self.breaker_admits() {
            let detail = format!("Spawn while the breaker is {:?}", self.breaker.phase);
            return self.fail(Property::Breaker, Some(group), Some(run), detail);
        }
        if let BreakerPhase::HalfOpen { cooldown, .. } = self.breaker.phase {
            let (fast, ..) = self.rules.breaker.expect("half-open only with a breaker");
            self.breaker.phase = BreakerPhase::HalfOpen {
                cooldown,
                probe: Some((run, at(self.now, fast))),
            };
        }
        Ok(())
    }

    /// Run `r` left (its account before the exit), `failed` or not:
    /// fast failures of distinct groups open the breaker; the probe's end
    /// decides it.
    pub(super) fn breaker_exit(&mut self, run: RunId, r: &RunAccount<K, T>, failed: bool) {
        let Some((fast_nanos, groups, window, cooldown, max_cooldown)) = self.rules.breaker else {
            return;
        };
        if self.shut_down {
            return;
        }
        let now = self.now;
        let fast = failed
            && !r.killed
            && r.state != RunState::Closing
            && now.as_nanos() - r.spawned.as_nanos() < fast_nanos;
        match self.breaker.phase {
            BreakerPhase::HalfOpen {
                cooldown: last,
                probe: Some((probe, _)),
            } if probe == run => {
                if fast {
                    self.open_breaker(last.saturating_mul(2).min(max_cooldown));
                } else {
                    self.close_breaker();
                }
            }
            BreakerPhase::Closed if fast => {
                let recent = &mut self.breaker.recent;
                recent.retain(|(t, g)| *g != r.group && now.as_nanos() - t.as_nanos() < window);
                recent.push_back((now, r.group.clone()));
                if recent.len() >= groups {
                    self.open_breaker(cooldown);
                }
            }
            _ => {}
        }
    }

    /// A run that never launched is no probe.
    pub(super) fn breaker_never_launched(&mut self, run: RunId) {
        if let BreakerPhase::HalfOpen {
            cooldown,
            probe: Some((probe, _)),
        } = self.breaker.phase
        {
            if probe == run {
                self.breaker.phase = BreakerPhase::HalfOpen {
                    cooldown,
                    probe: None,
                };
            }
        }
    }

    /// A timeout: an open breaker's cooldown ends; a probe that lived long
    /// enough closes it.
    pub(super) fn breaker_due(&mut self, now: Time) {
        match self.breaker.phase {
            BreakerPhase::Open { until, cooldown } if until <= now => {
                self.breaker.phase = BreakerPhase::HalfOpen {
                    cooldown,
                    probe: None,
                };
            }
            BreakerPhase::HalfOpen {
                probe: Some((_, lived)),
                ..
            } if lived <= now => self.close_breaker(),
            _ => {}
        }
    }

    /// The breaker's deadline, for the wake-up check.
    pub(super) fn breaker_deadline(&self) -> Option<Time> {
        match self.breaker.phase {
            BreakerPhase::Open { until, .. } => Some(until),
            BreakerPhase::HalfOpen {
                probe: Some((_, lived)),
                ..
            } => Some(lived),
            _ => None,
        }
    }

    /// At shutdown the breaker ends, silently.
    pub(super) fn end_breaker(&mut self) {
        self.breaker = BreakerAccount::default();
    }

    fn open_breaker(&mut self, cooldown: u64) {
        let until = at(self.now, cooldown);
        self.breaker.recent.clear();
        self.breaker.phase = BreakerPhase::Open { until, cooldown };
        self.breaker_owed.opened = Some((until, Duration::from_nanos(cooldown)));
    }

    fn close_breaker(&mut self) {
        self.breaker.phase = BreakerPhase::Closed;
        self.breaker_owed.closed = true;
    }

    /// The breaker commands of this step are exactly the ones owed.
    pub(super) fn check_breaker_commands(&mut self, outputs: &[Output<K, T, P>]) -> Verdict<K> {
        let owed = std::mem::take(&mut self.breaker_owed);
        let mut seen = BreakerOwed::default();
        for command in outputs.iter().filter_map(Output::command) {
            match command {
                Command::BreakerOpened { until, cooldown } => {
                    seen.opened = Some((*until, *cooldown));
                }
                Command::BreakerClosed => seen.closed = true,
                _ => {}
            }
        }
        if seen != owed {
            let detail = format!("breaker commands {seen:?}, owed {owed:?}");
            return self.fail(Property::Breaker, None, None, detail);
        }
        Ok(())
    }
}

/// The breaker's settings in nanoseconds: (fast failure, groups, window,
/// cooldown, max cooldown).
pub(super) fn breaker_rules(b: groupq::Breaker) -> (u64, usize, u64, u64, u64) {
    (
        nanos(b.fast_failure),
        b.groups,
        nanos(b.window),
        nanos(b.cooldown),
        nanos(b.max_cooldown),
    )
}
