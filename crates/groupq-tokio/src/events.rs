//! [`HostEvents`]: the application's end of the driver's event stream, and
//! the driver's bounded sending end.
//!
//! The stream is bounded ([`Builder::event_buffer`](crate::Builder::event_buffer)),
//! so an application that stops reading cannot make the driver's memory
//! grow. The loop never waits for it: a reply is only counted delivered
//! when room for it was reserved as its line was read (otherwise its
//! messages are read again by a later run, as for a reply that failed to
//! reach the user), and any other event that finds the stream full is
//! dropped and counted ([`HostEvents::lagged`]).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use groupq_host::HostEvent;
use tokio::sync::mpsc::{self, error::TrySendError, OwnedPermit};
use tracing::warn;

/// The application's end of the driver's event stream.
#[derive(Debug)]
pub struct HostEvents {
    receiver: mpsc::Receiver<HostEvent>,
    lagged: Arc<AtomicU64>,
}

impl HostEvents {
    /// The next event; `None` once the driver has ended and every event was
    /// taken.
    pub async fn recv(&mut self) -> Option<HostEvent> {
        self.receiver.recv().await
    }

    /// The next event if one is waiting, without waiting.
    pub fn try_recv(&mut self) -> Option<HostEvent> {
        self.receiver.try_recv().ok()
    }

    /// Events dropped so far because the stream was full (replies are never
    /// among them: a reply that finds no room is not delivered, and its
    /// messages are retried).
    pub fn lagged(&self) -> u64 {
        self.lagged.load(Relaxed)
    }

    pub(crate) fn lagged_counter(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.lagged)
    }
}

/// The driver's end.
#[derive(Debug)]
pub(crate) struct EventSender {
    sender: mpsc::Sender<HostEvent>,
    lagged: Arc<AtomicU64>,
}

pub(crate) fn channel(capacity: usize) -> (EventSender, HostEvents) {
    let (sender, receiver) = mpsc::channel(capacity.max(1));
    let lagged = Arc::new(AtomicU64::new(0));
    (
        EventSender {
            sender,
            lagged: Arc::clone(&lagged),
        },
        HostEvents { receiver, lagged },
    )
}

/// Room for one event, reserved: a reply's delivery.
pub(crate) type Reserved = OwnedPermit<HostEvent>;

impl EventSender {
    /// Reserves room for a reply; `None` if the stream is full or its
    /// receiver is gone.
    pub(crate) fn reserve(&self) -> Option<Reserved> {
        self.sender.clone().try_reserve_owned().ok()
    }

    /// Sends an event if there is room; counts it lagged if not.
    pub(crate) fn send(&self, event: HostEvent) {
        match self.sender.try_send(event) {
            Ok(()) | Err(TrySendError::Closed(_)) => {}
            Err(TrySendError::Full(event)) => {
                let lagged = self.lagged.fetch_add(1, Relaxed) + 1;
                warn!(lagged, "the event stream is full: dropped {event:?}");
            }
        }
    }
}
