//! Settings that pace when runs start: the debounce of a group's messages
//! and the crash-loop breaker. Both are off in [`Config::default`](crate::Config::default).

use std::time::Duration;

use crate::config::ConfigError;

/// Wait for a burst of messages to end before a group's messages run
/// starts ([`Config::with_debounce`](crate::Config::with_debounce), B14).
///
/// A message for a group with no run starts a quiet period; each further
/// message restarts it; the run starts when the quiet period passes with no
/// message, or `max_wait` after the first message, whichever is first.
///
/// ```
/// use groupq::{Config, Debounce};
/// use std::time::Duration;
/// let debounce = Debounce::new(Duration::from_millis(800), Duration::from_secs(3));
/// let config = Config::default().with_debounce(Some(debounce));
/// assert!(config.validate().is_ok());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct Debounce {
    /// How long no new message must arrive (more than zero).
    pub quiet: Duration,
    /// The longest a burst may hold the run back, from its first message
    /// (at least `quiet`).
    pub max_wait: Duration,
}

impl Debounce {
    /// A quiet period of `quiet`, never longer than `max_wait` in all.
    pub fn new(quiet: Duration, max_wait: Duration) -> Debounce {
        Debounce { quiet, max_wait }
    }

    /// `quiet` must be more than zero and at most `max_wait`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.quiet.is_zero() {
            return Err(ConfigError::InvalidDebounce("quiet must be more than zero"));
        }
        if self.max_wait < self.quiet {
            return Err(ConfigError::InvalidDebounce(
                "max_wait must be at least quiet",
            ));
        }
        Ok(())
    }
}

/// Stop starting runs while they crash at once, across groups
/// ([`Config::with_breaker`](crate::Config::with_breaker), B15).
///
/// A *fast failure* is a run that exits failed (a failed exit or an error
/// turn) within `fast_failure` of its spawn, without its input having been
/// closed. When fast failures of `groups` distinct groups fall within
/// `window`, the breaker opens: no run starts for `cooldown`, then one run
/// starts as a probe. A probe that fails fast opens the breaker again for
/// twice as long (up to `max_cooldown`); one that lives `fast_failure` or
/// exits otherwise closes it. Work keeps queueing meanwhile; nothing is
/// dropped.
///
/// ```
/// use groupq::{Breaker, Config};
/// let config = Config::default().with_breaker(Some(Breaker::default()));
/// assert!(config.validate().is_ok());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct Breaker {
    /// A failed run that lived less than this failed fast.
    pub fast_failure: Duration,
    /// Fast failures of this many distinct groups open the breaker (at
    /// least 1).
    pub groups: usize,
    /// ... when they all fall within this window.
    pub window: Duration,
    /// How long the breaker first stays open (more than zero).
    pub cooldown: Duration,
    /// The cap of the doubling cooldown (at least `cooldown`).
    pub max_cooldown: Duration,
}

impl Default for Breaker {
    /// Fast failures (under 10 s) of 3 groups within 60 s open it for 30 s,
    /// doubling up to 10 min.
    fn default() -> Self {
        Breaker {
            fast_failure: Duration::from_secs(10),
            groups: 3,
            window: Duration::from_secs(60),
            cooldown: Duration::from_secs(30),
            max_cooldown: Duration::from_secs(600),
        }
    }
}

impl Breaker {
    /// With this fast-failure bound.
    pub fn with_fast_failure(mut self, fast_failure: Duration) -> Breaker {
        self.fast_failure = fast_failure;
        self
    }
    /// Opens on fast failures of this many distinct groups within `window`.
    pub fn with_threshold(mut self, groups: usize, window: Duration) -> Breaker {
        self.groups = groups;
        self.window = window;
        self
    }
    /// Open for `cooldown` first, doubling up to `max_cooldown`.
    pub fn with_cooldown(mut self, cooldown: Duration, max_cooldown: Duration) -> Breaker {
        self.cooldown = cooldown;
        self.max_cooldown = max_cooldown;
        self
    }

    /// Every duration more than zero, at least one group, `max_cooldown`
    /// at least `cooldown`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let why = if self.groups == 0 {
            "groups must be at least 1"
        } else if self.fast_failure.is_zero() || self.window.is_zero() {
            "fast_failure and window must be more than zero"
        } else if self.cooldown.is_zero() {
            "cooldown must be more than zero"
        } else if self.max_cooldown < self.cooldown {
            "max_cooldown must be at least cooldown"
        } else {
            return Ok(());
        };
        Err(ConfigError::InvalidBreaker(why))
    }
}
