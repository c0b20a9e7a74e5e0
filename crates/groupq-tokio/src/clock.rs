//! The driver's clock: core time is the time since the driver was built,
//! plus the core time a restored state had reached (time stops while the
//! driver is down).

use groupq::{Epoch, Time};
use tokio::time::Instant;

#[derive(Clone, Copy, Debug)]
pub(crate) struct Clock {
    epoch: Epoch,
    /// Nanoseconds added to the epoch's clock.
    offset: u64,
}

impl Clock {
    /// A clock starting now at core time `from`.
    pub(crate) fn starting_at(from: Time) -> Clock {
        Clock {
            epoch: Epoch::new(Instant::now().into_std()),
            offset: from.as_nanos(),
        }
    }

    /// The core time now.
    pub(crate) fn now(&self) -> Time {
        Time::from_nanos(
            self.epoch
                .time(Instant::now().into_std())
                .as_nanos()
                .saturating_add(self.offset),
        )
    }

    /// The instant a core time falls at.
    pub(crate) fn instant(&self, at: Time) -> Instant {
        let at = Time::from_nanos(at.as_nanos().saturating_sub(self.offset));
        Instant::from_std(self.epoch.instant(at))
    }
}
