//! The crate's own notion of time.
//!
//! The core never reads a clock. Every input carries a [`Time`] chosen by the
//! adapter: nanoseconds since an epoch the adapter picks (its start, the Unix
//! epoch, zero in a test). A plain number, unlike `std::time::Instant`, can be
//! written into a trace and replayed.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};
use std::time::{Duration, Instant};

/// A point in time: nanoseconds since an adapter-chosen epoch.
///
/// Arithmetic saturates instead of overflowing, so no input can make the core
/// panic through time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Time(u64);

impl Time {
    /// The epoch.
    pub const ZERO: Time = Time(0);
    /// The latest representable time (about 584 years after the epoch).
    pub const MAX: Time = Time(u64::MAX);

    /// `nanos` nanoseconds after the epoch.
    pub const fn from_nanos(nanos: u64) -> Time {
        Time(nanos)
    }

    /// `millis` milliseconds after the epoch (saturating).
    pub const fn from_millis(millis: u64) -> Time {
        Time(millis.saturating_mul(1_000_000))
    }

    /// `secs` seconds after the epoch (saturating).
    pub const fn from_secs(secs: u64) -> Time {
        Time(secs.saturating_mul(1_000_000_000))
    }

    /// `since_epoch` after the epoch (saturating at [`Time::MAX`]).
    pub fn from_duration(since_epoch: Duration) -> Time {
        Time(u64::try_from(since_epoch.as_nanos()).unwrap_or(u64::MAX))
    }

    /// Nanoseconds since the epoch.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Whole milliseconds since the epoch.
    pub const fn as_millis(self) -> u64 {
        self.0 / 1_000_000
    }

    /// The time since the epoch as a [`Duration`].
    pub const fn since_epoch(self) -> Duration {
        Duration::from_nanos(self.0)
    }

    /// `self + d`, saturating at [`Time::MAX`].
    pub fn saturating_add(self, d: Duration) -> Time {
        let d = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        Time(self.0.saturating_add(d))
    }

    /// `self - earlier`, or zero if `earlier` is later.
    pub const fn saturating_duration_since(self, earlier: Time) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

/// `time + duration`, saturating at [`Time::MAX`].
impl Add<Duration> for Time {
    type Output = Time;
    fn add(self, d: Duration) -> Time {
        self.saturating_add(d)
    }
}

/// `time += duration`, saturating at [`Time::MAX`].
impl AddAssign<Duration> for Time {
    fn add_assign(&mut self, d: Duration) {
        *self = self.saturating_add(d);
    }
}

/// `later - earlier`: the duration between two times, zero if `earlier` is
/// in fact later.
impl Sub<Time> for Time {
    type Output = Duration;
    fn sub(self, earlier: Time) -> Duration {
        self.saturating_duration_since(earlier)
    }
}

/// Maps [`std::time::Instant`] to [`Time`] and back, for adapters that keep
/// real time: pick the epoch once (usually `Instant::now()` at start-up),
/// then stamp every input with `epoch.time(Instant::now())` and sleep until
/// `epoch.instant(deadline)`.
///
/// The core itself never reads a clock: the adapter hands the instants in.
///
/// ```
/// use groupq::{Epoch, Time};
/// use std::time::{Duration, Instant};
///
/// let start = Instant::now();
/// let epoch = Epoch::new(start);
/// assert_eq!(epoch.time(start + Duration::from_millis(1500)), Time::from_millis(1500));
/// assert_eq!(epoch.instant(Time::from_secs(2)), start + Duration::from_secs(2));
/// // Instants before the epoch map to the epoch.
/// assert_eq!(epoch.time(start.checked_sub(Duration::from_secs(1)).unwrap_or(start)), Time::ZERO);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Epoch(Instant);

impl Epoch {
    /// An epoch at `start`: [`Time::ZERO`] is `start`.
    pub fn new(start: Instant) -> Epoch {
        Epoch(start)
    }

    /// The instant [`Time::ZERO`] stands for.
    pub fn start(self) -> Instant {
        self.0
    }

    /// The [`Time`] of `at`: zero for an instant before the epoch,
    /// saturating at [`Time::MAX`].
    pub fn time(self, at: Instant) -> Time {
        Time::from_duration(at.saturating_duration_since(self.0))
    }

    /// The instant of `time`. A time too far in the future for the
    /// platform's `Instant` maps to the latest instant it can represent
    /// that is found by halving the remaining distance, so a far deadline
    /// (such as [`Time::MAX`]) is "never" rather than a panic.
    pub fn instant(self, time: Time) -> Instant {
        let mut d = time.since_epoch();
        loop {
            if let Some(at) = self.0.checked_add(d) {
                return at;
            }
            d /= 2;
        }
    }
}

impl fmt::Display for Time {
    /// Milliseconds, with a fraction only when the time is not a whole
    /// millisecond: `1500ms`, `1500.000250ms`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (ms, rest) = (self.0 / 1_000_000, self.0 % 1_000_000);
        if rest == 0 {
            write!(f, "{ms}ms")
        } else {
            write!(f, "{ms}.{rest:06}ms")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        assert_eq!(Time::MAX.saturating_add(Duration::from_secs(1)), Time::MAX);
        assert_eq!(Time::from_millis(u64::MAX), Time::MAX);
        assert_eq!(
            Time::ZERO.saturating_duration_since(Time::from_secs(1)),
            Duration::ZERO
        );
        assert_eq!(Time::from_duration(Duration::MAX), Time::MAX);
    }

    #[test]
    fn operators_saturate_like_the_methods() {
        let t = Time::from_secs(1);
        assert_eq!(t + Duration::from_millis(500), Time::from_millis(1500));
        assert_eq!(Time::MAX + Duration::from_secs(1), Time::MAX);
        let mut u = t;
        u += Duration::from_secs(1);
        assert_eq!(u, Time::from_secs(2));
        assert_eq!(u - t, Duration::from_secs(1));
        assert_eq!(t - u, Duration::ZERO);
    }

    #[test]
    fn epoch_round_trips_and_never_panics_on_far_times() {
        let start = Instant::now();
        let epoch = Epoch::new(start);
        let t = Time::from_nanos(123_456_789);
        assert_eq!(epoch.time(epoch.instant(t)), t);
        assert!(epoch.instant(Time::MAX) >= start);
    }

    #[test]
    fn display_is_milliseconds() {
        assert_eq!(Time::from_millis(1500).to_string(), "1500ms");
        assert_eq!(Time::from_nanos(1_500_000_250).to_string(), "1500.000250ms");
    }
}
