//! Configuration of a [`Machine`](crate::Machine), validated once at construction.

use std::time::Duration;

use thiserror::Error;

mod background;
mod pacing;
pub use background::Background;
pub use pacing::{Breaker, Debounce};

/// How a freed slot is shared between groups (B8).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Policy {
    /// The group that just finished goes to the back of the waiting line and
    /// the slot goes to the head: a group waiting behind `W` others gets a
    /// slot within `W + 1` slot releases.
    #[default]
    Fair,
    /// The order of the TypeScript `GroupQueue`: the finishing group drains
    /// its own backlog first. A busy group can starve the others.
    Legacy,
}

/// The limits an operator may change while the machine runs
/// ([`SetLimits`](crate::SetLimits)): the global slot budget and the caps on
/// queued tasks. A machine's starting limits are its [`Config`]'s.
///
/// ```
/// use groupq::{Config, Limits};
/// let limits = Limits::new(3).with_max_queued_tasks(Some(100)).with_max_group_tasks(Some(10));
/// let config = Config::default().with_limits(limits);
/// assert_eq!(config.limits(), limits);
/// assert_eq!(config.max_active(), 3);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct Limits {
    /// At most this many runs live at once (at least 1).
    pub max_active: usize,
    /// At most this many tasks queued across all groups (`None`: no cap).
    pub max_queued_tasks: Option<usize>,
    /// At most this many tasks queued in one group (`None`: no cap).
    pub max_group_tasks: Option<usize>,
}

impl Limits {
    /// `max_active` slots and no caps on queued tasks.
    pub fn new(max_active: usize) -> Limits {
        Limits {
            max_active,
            max_queued_tasks: None,
            max_group_tasks: None,
        }
    }
    /// With `max_active` slots.
    pub fn with_max_active(mut self, max_active: usize) -> Limits {
        self.max_active = max_active;
        self
    }
    /// See [`Config::with_max_queued_tasks`].
    pub fn with_max_queued_tasks(mut self, cap: Option<usize>) -> Limits {
        self.max_queued_tasks = cap;
        self
    }
    /// See [`Config::with_max_group_tasks`].
    pub fn with_max_group_tasks(mut self, cap: Option<usize>) -> Limits {
        self.max_group_tasks = cap;
        self
    }
    /// `max_active` must allow one live run; caps may be zero (no task is
    /// taken).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_active == 0 {
            return Err(ConfigError::ZeroMaxActive);
        }
        Ok(())
    }
}

/// Why a [`Config`] was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `max_active` must allow at least one live run.
    #[error("max_active must be at least 1")]
    ZeroMaxActive,
    /// A zero base delay would retry a failing group in a tight loop.
    #[error("retry base delay must be greater than zero")]
    ZeroRetryBase,
    /// A threshold is a percentage.
    #[error("{field} must be within 0..=100, got {value}")]
    PercentOutOfRange {
        /// Which threshold.
        field: &'static str,
        /// The value given.
        value: u8,
    },
    /// The debounce settings do not make sense ([`Debounce::validate`]).
    #[error("invalid debounce: {0}")]
    InvalidDebounce(&'static str),
    /// The breaker settings do not make sense ([`Breaker::validate`]).
    #[error("invalid breaker: {0}")]
    InvalidBreaker(&'static str),
    /// The background settings do not make sense ([`Background::validate`]).
    #[error("invalid background settings: {0}")]
    InvalidBackground(&'static str),
}

/// Settings of the core. Build with [`Config::default`] and the `with_*`
/// methods; [`Machine::new`](crate::Machine::new) validates it.
///
/// ```
/// use groupq::{Config, Policy};
/// use std::time::Duration;
/// let config = Config::default()
///     .with_max_active(3)
///     .with_retry_base(Duration::from_secs(2))
///     .with_policy(Policy::Legacy);
/// assert_eq!(config.max_active(), 3);
/// assert!(config.validate().is_ok());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
// A setting missing from a stored config (written before it existed) is
// its default: what that config meant.
#[cfg_attr(feature = "serde", serde(default))]
pub struct Config {
    max_active: usize,
    retry_base: Duration,
    max_retries: u32,
    idle_timeout: Duration,
    warn_percent: u8,
    auto_compact_percent: u8,
    notices: bool,
    policy: Policy,
    records: bool,
    kill_grace: Duration,
    max_turn_time: Duration,
    max_compact_time: Duration,
    max_run_time: Option<Duration>,
    stall_timeout: Option<Duration>,
    start_grace: Duration,
    shutdown_grace: Duration,
    evict_idle: bool,
    max_queued_tasks: Option<usize>,
    max_group_tasks: Option<usize>,
    debounce: Option<Debounce>,
    breaker: Option<Breaker>,
    background: Background,
}

impl Default for Config {
    /// `max_active` 5, retries after 5 s doubling up to 5 times, idle timeout
    /// 30 min, warn at 70 %, auto-compact at 75 %, notices on, fair policy,
    /// records off; kill grace 30 s, turn and compact deadlines 30 min, no
    /// run-time cap, no stall timeout (and no start grace), shutdown grace
    /// 60 s, idle eviction on, no caps on queued tasks, no debounce, no
    /// breaker, [`Background::default`].
    fn default() -> Self {
        Config {
            max_active: 5,
            retry_base: Duration::from_secs(5),
            max_retries: 5,
            idle_timeout: Duration::from_secs(30 * 60),
            warn_percent: 70,
            auto_compact_percent: 75,
            notices: true,
            policy: Policy::Fair,
            records: false,
            kill_grace: Duration::from_secs(30),
            max_turn_time: Duration::from_secs(30 * 60),
            max_compact_time: Duration::from_secs(30 * 60),
            max_run_time: None,
            stall_timeout: None,
            start_grace: Duration::ZERO,
            shutdown_grace: Duration::from_secs(60),
            evict_idle: true,
            max_queued_tasks: None,
            max_group_tasks: None,
            debounce: None,
            breaker: None,
            background: Background::default(),
        }
    }
}

impl Config {
    /// At most this many runs are live at once (the global slot budget).
    pub fn with_max_active(mut self, max_active: usize) -> Self {
        self.max_active = max_active;
        self
    }
    /// Delay before the first retry of a failed Messages run; attempt `n`
    /// waits `base · 2^(n−1)` (B7).
    pub fn with_retry_base(mut self, base: Duration) -> Self {
        self.retry_base = base;
        self
    }
    /// Retries before `TerminalFailure` (B7).
    pub fn with_max_retries(mut self, max_retries: u32) -> Self {
        self.max_retries = max_retries;
        self
    }
    /// How long a run may stay idle before its input is closed (B4, B10).
    /// The deadline runs from the moment the run went idle (its `Idle`, or
    /// a successful turn); a reply while idle pushes it out, a second
    /// `Idle` does not.
    pub fn with_idle_timeout(mut self, idle_timeout: Duration) -> Self {
        self.idle_timeout = idle_timeout;
        self
    }
    /// Context percent at or above which a successful reply gives a
    /// context warning notice (B5). May exceed the auto-compact threshold.
    pub fn with_warn_percent(mut self, percent: u8) -> Self {
        self.warn_percent = percent;
        self
    }
    /// Context percent at or above which a compact turn is queued (B5).
    pub fn with_auto_compact_percent(mut self, percent: u8) -> Self {
        self.auto_compact_percent = percent;
        self
    }
    /// Whether `Notify` commands are emitted (B5).
    pub fn with_notices(mut self, notices: bool) -> Self {
        self.notices = notices;
        self
    }
    /// How freed slots are shared (B8).
    pub fn with_policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }
    /// Whether observability [`Record`](crate::Record)s are emitted. Off by
    /// default: they cost a key clone each, and no adapter needs them.
    pub fn with_records(mut self, records: bool) -> Self {
        self.records = records;
        self
    }

    /// How long a run whose input was closed (for any reason) may take to
    /// exit before the core asks for it to be killed ([`Command::Kill`](crate::Command::Kill)).
    pub fn with_kill_grace(mut self, grace: Duration) -> Self {
        self.kill_grace = grace;
        self
    }
    /// How long a busy Messages or task run may take to finish its turn
    /// (from its spawn, or from the follow-up piped into it while idle)
    /// before its input is closed. Turn reports and heartbeats do not extend
    /// it.
    pub fn with_max_turn_time(mut self, limit: Duration) -> Self {
        self.max_turn_time = limit;
        self
    }
    /// The same deadline for compact runs.
    pub fn with_max_compact_time(mut self, limit: Duration) -> Self {
        self.max_compact_time = limit;
        self
    }
    /// A cap on a run's whole life, from its spawn (`None`: no cap, the
    /// default), for hosts that recycle containers.
    pub fn with_max_run_time(mut self, limit: Option<Duration>) -> Self {
        self.max_run_time = limit;
        self
    }
    /// How long a busy run may send neither a turn report nor a heartbeat
    /// before its input is closed (`None`: no stall detection, the default).
    pub fn with_stall_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.stall_timeout = timeout;
        self
    }
    /// Extra time the stall watch gives a run before its first sign of
    /// life (a turn report, a heartbeat or `Idle` since its spawn): its first
    /// stall window is `stall_timeout + grace`, every later one
    /// `stall_timeout`. A slow start (pulling an image, loading a model) is
    /// then not a stall. Zero by default; nothing without a stall timeout.
    /// The turn deadline is not extended.
    pub fn with_start_grace(mut self, grace: Duration) -> Self {
        self.start_grace = grace;
        self
    }
    /// How long a run busy at shutdown may take to finish its turn before
    /// its input is closed.
    pub fn with_shutdown_grace(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace;
        self
    }

    /// Whether a group that has to wait for a slot gets one by closing the
    /// longest-idle run of another group (on by default; off keeps idle runs
    /// until their idle timeout).
    pub fn with_evict_idle(mut self, evict: bool) -> Self {
        self.evict_idle = evict;
        self
    }

    /// A cap on the tasks queued across all groups (`None`: no cap, the
    /// default). A task that would exceed it is answered
    /// [`TaskAnswer::Refused`](crate::TaskAnswer::Refused) and changes
    /// nothing; a running task is not queued.
    pub fn with_max_queued_tasks(mut self, cap: Option<usize>) -> Self {
        self.max_queued_tasks = cap;
        self
    }
    /// A cap on the tasks queued in one group (`None`: no cap, the
    /// default), answered like [`Config::with_max_queued_tasks`].
    pub fn with_max_group_tasks(mut self, cap: Option<usize>) -> Self {
        self.max_group_tasks = cap;
        self
    }
    /// Debounce a group's messages before its messages run starts (`None`:
    /// start at once, the default). See [`Debounce`]; tasks and retries are
    /// never debounced.
    pub fn with_debounce(mut self, debounce: Option<Debounce>) -> Self {
        self.debounce = debounce;
        self
    }
    /// The crash-loop breaker (`None`: off, the default). See [`Breaker`].
    pub fn with_breaker(mut self, breaker: Option<Breaker>) -> Self {
        self.breaker = breaker;
        self
    }
    /// How background tasks give way to the conversation. See
    /// [`Background`]; without background tasks it changes nothing.
    pub fn with_background(mut self, background: Background) -> Self {
        self.background = background;
        self
    }
    /// All of [`Limits`] at once.
    pub fn with_limits(self, limits: Limits) -> Self {
        self.with_max_active(limits.max_active)
            .with_max_queued_tasks(limits.max_queued_tasks)
            .with_max_group_tasks(limits.max_group_tasks)
    }

    /// See [`Config::with_max_active`].
    pub fn max_active(&self) -> usize {
        self.max_active
    }
    /// See [`Config::with_retry_base`].
    pub fn retry_base(&self) -> Duration {
        self.retry_base
    }
    /// See [`Config::with_max_retries`].
    pub fn max_retries(&self) -> u32 {
        self.max_retries
    }
    /// See [`Config::with_idle_timeout`].
    pub fn idle_timeout(&self) -> Duration {
        self.idle_timeout
    }
    /// See [`Config::with_warn_percent`].
    pub fn warn_percent(&self) -> u8 {
        self.warn_percent
    }
    /// See [`Config::with_auto_compact_percent`].
    pub fn auto_compact_percent(&self) -> u8 {
        self.auto_compact_percent
    }
    /// See [`Config::with_notices`].
    pub fn notices(&self) -> bool {
        self.notices
    }
    /// See [`Config::with_policy`].
    pub fn policy(&self) -> Policy {
        self.policy
    }
    /// See [`Config::with_records`].
    pub fn records(&self) -> bool {
        self.records
    }
    /// See [`Config::with_kill_grace`].
    pub fn kill_grace(&self) -> Duration {
        self.kill_grace
    }
    /// See [`Config::with_max_turn_time`].
    pub fn max_turn_time(&self) -> Duration {
        self.max_turn_time
    }
    /// See [`Config::with_max_compact_time`].
    pub fn max_compact_time(&self) -> Duration {
        self.max_compact_time
    }
    /// See [`Config::with_max_run_time`].
    pub fn max_run_time(&self) -> Option<Duration> {
        self.max_run_time
    }
    /// See [`Config::with_stall_timeout`].
    pub fn stall_timeout(&self) -> Option<Duration> {
        self.stall_timeout
    }
    /// See [`Config::with_start_grace`].
    pub fn start_grace(&self) -> Duration {
        self.start_grace
    }
    /// See [`Config::with_shutdown_grace`].
    pub fn shutdown_grace(&self) -> Duration {
        self.shutdown_grace
    }
    /// See [`Config::with_evict_idle`].
    pub fn evict_idle(&self) -> bool {
        self.evict_idle
    }
    /// See [`Config::with_max_queued_tasks`].
    pub fn max_queued_tasks(&self) -> Option<usize> {
        self.max_queued_tasks
    }
    /// See [`Config::with_max_group_tasks`].
    pub fn max_group_tasks(&self) -> Option<usize> {
        self.max_group_tasks
    }
    /// See [`Config::with_debounce`].
    pub fn debounce(&self) -> Option<Debounce> {
        self.debounce
    }
    /// See [`Config::with_breaker`].
    pub fn breaker(&self) -> Option<Breaker> {
        self.breaker
    }
    /// See [`Config::with_background`].
    pub fn background(&self) -> Background {
        self.background
    }
    /// The debounce by reference: the hot paths test it without a copy.
    #[inline]
    pub(crate) fn debounce_ref(&self) -> Option<&Debounce> {
        self.debounce.as_ref()
    }
    /// The background settings by reference, likewise.
    #[inline]
    pub(crate) fn background_ref(&self) -> &Background {
        &self.background
    }
    /// The breaker by reference, likewise.
    #[inline]
    pub(crate) fn breaker_ref(&self) -> Option<&Breaker> {
        self.breaker.as_ref()
    }
    /// Whether the two configurations are the same but for their
    /// [`Limits`], which a running machine may change: what an adapter
    /// restoring a machine under a new configuration compares.
    pub fn same_but_limits(&self, other: &Config) -> bool {
        self.clone().with_limits(other.limits()) == *other
    }
    /// The limits [`SetLimits`](crate::SetLimits) may change.
    pub fn limits(&self) -> Limits {
        Limits {
            max_active: self.max_active,
            max_queued_tasks: self.max_queued_tasks,
            max_group_tasks: self.max_group_tasks,
        }
    }

    /// The delay before retry `attempt` (1-based): `base · 2^(attempt−1)`,
    /// exact while it fits a [`Duration`], then saturating at
    /// [`Duration::MAX`]. Attempt 0 is treated as attempt 1.
    pub fn retry_delay(&self, attempt: u32) -> Duration {
        let shift = attempt.saturating_sub(1);
        // In nanoseconds as u128: `Duration::checked_mul` takes a u32 factor
        // and would saturate from attempt 33 whatever the base.
        let base = self.retry_base.as_nanos();
        let nanos = if shift >= 128 || base > u128::MAX >> shift {
            u128::MAX
        } else {
            base << shift
        };
        const NANOS_PER_SEC: u128 = 1_000_000_000;
        match u64::try_from(nanos / NANOS_PER_SEC) {
            Ok(secs) => Duration::new(secs, (nanos % NANOS_PER_SEC) as u32),
            Err(_) => Duration::MAX,
        }
    }

    /// Checks the settings; the same check runs in `Machine::new`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.limits().validate()?;
        if self.retry_base.is_zero() {
            return Err(ConfigError::ZeroRetryBase);
        }
        for (field, value) in [
            ("warn_percent", self.warn_percent),
            ("auto_compact_percent", self.auto_compact_percent),
        ] {
            if value > 100 {
                return Err(ConfigError::PercentOutOfRange { field, value });
            }
        }
        if let Some(debounce) = &self.debounce {
            debounce.validate()?;
        }
        if let Some(breaker) = &self.breaker {
            breaker.validate()?;
        }
        self.background.validate()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delay_doubles_and_saturates() {
        let c = Config::default();
        let secs: Vec<u64> = (1..=5).map(|n| c.retry_delay(n).as_secs()).collect();
        assert_eq!(secs, [5, 10, 20, 40, 80]);
        assert_eq!(c.retry_delay(0), Duration::from_secs(5));
        // 5 s · 2^39 still fits a Duration; 5 s · 2^80 does not.
        assert_eq!(c.retry_delay(40), Duration::from_secs(5 << 39));
        assert_eq!(c.retry_delay(82), Duration::MAX);
        assert_eq!(c.retry_delay(u32::MAX), Duration::MAX);
    }

    #[test]
    fn retry_delay_is_exact_past_attempt_32() {
        let c = Config::default().with_retry_base(Duration::from_nanos(1));
        assert_eq!(c.retry_delay(32), Duration::from_nanos(1 << 31));
        assert_eq!(c.retry_delay(33), Duration::from_nanos(1 << 32));
        assert_eq!(c.retry_delay(64), Duration::from_nanos(1 << 63));
        assert_eq!(c.retry_delay(65).as_nanos(), 1u128 << 64);
    }
}
