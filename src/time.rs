//! The crate's own notion of time.
//!
//! The core never reads a clock. Every input carries a [`Time`] chosen by the
//! adapter: nanoseconds since an epoch the adapter picks (its start, the Unix
//! epoch, zero in a test). A plain number, unlike `std::time::Instant`, can be
//! written into a trace and replayed.

use std::fmt;
use std::time::Duration;

/// A point in time: nanoseconds since an adapter-chosen epoch.
///
/// Arithmetic saturates instead of overflowing, so no input can make the core
/// panic through time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
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
    fn display_is_milliseconds() {
        assert_eq!(Time::from_millis(1500).to_string(), "1500ms");
        assert_eq!(Time::from_nanos(1_500_000_250).to_string(), "1500.000250ms");
    }
}
