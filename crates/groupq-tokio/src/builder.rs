//! [`Builder`]: a driver's settings, and building it (restoring its state
//! directory when durable).

use std::sync::Arc;

use groupq::Config;
use groupq_host::{Counters, Host};
use tokio::sync::mpsc;

use crate::clock::Clock;
use crate::core::Core;
use crate::driver::Driver;
use crate::durable::{self, Durability};
use crate::error::DriverError;
use crate::events::{self, HostEvents};
use crate::handle::Handle;
use crate::metrics::Shared;
use crate::runner::Runner;

/// Builds a [`Driver`].
#[derive(Clone, Debug)]
pub struct Builder {
    config: Config,
    #[cfg(feature = "checked")]
    checked: bool,
    queue_depth: usize,
    event_buffer: usize,
    durability: Option<Durability>,
}

impl Driver<()> {
    /// A builder with the core's `config`.
    pub fn builder(config: Config) -> Builder {
        Builder {
            config,
            #[cfg(feature = "checked")]
            checked: false,
            queue_depth: 1024,
            event_buffer: 4096,
            durability: None,
        }
    }
}

impl Builder {
    /// Runs the invariant checker over every input and output (default
    /// off; the `checked` feature). A violation stops the driver with
    /// [`DriverError::Violation`]. It costs about a microsecond per input.
    /// Not with [`durable`](Builder::durable).
    #[cfg(feature = "checked")]
    pub fn checked(mut self, on: bool) -> Builder {
        self.checked = on;
        self
    }

    /// How many handle requests may wait for the run loop before callers
    /// wait too (default 1,024): the back-pressure bound.
    pub fn request_queue(mut self, depth: usize) -> Builder {
        self.queue_depth = depth.max(1);
        self
    }

    /// How many events may wait in the application's [`HostEvents`]
    /// (default 4,096). The loop never waits for a slow reader: a reply
    /// that finds no room is not delivered (its messages are read again by
    /// a later run) and other events are dropped and counted
    /// ([`HostEvents::lagged`]).
    pub fn event_buffer(mut self, events: usize) -> Builder {
        self.event_buffer = events.max(1);
        self
    }

    /// Journals every accepted input in a state directory before its
    /// outputs are carried out, snapshots it, and restores from it on the
    /// next build: see the crate docs' "Durability".
    pub fn durable(mut self, durability: Durability) -> Builder {
        self.durability = Some(durability);
        self
    }

    /// The driver, a handle to it, and the application's event stream.
    /// Fails on an invalid [`Config`], or on a state directory that cannot
    /// be used ([`DriverError::State`]): then nothing in it was changed.
    pub fn build<R: Runner>(
        self,
        runner: R,
    ) -> Result<(Driver<R>, Handle, HostEvents), DriverError> {
        let config = self.config.with_records(true);
        config.validate().map_err(groupq::Error::from)?;
        let (requests_tx, requests) = mpsc::channel(self.queue_depth);
        let (run_events_tx, run_events) = mpsc::unbounded_channel();
        let (events, host_events) = events::channel(self.event_buffer);
        let shared = Arc::new(Shared::new(host_events.lagged_counter()));
        let handle = Handle::new(requests_tx, Arc::clone(&shared));
        #[cfg(feature = "checked")]
        let checked = self.checked;
        #[cfg(not(feature = "checked"))]
        let checked = false;
        let (host, journal, restored) = match &self.durability {
            Some(_) if checked => return Err(crate::StateError::Checked.into()),
            Some(durability) => {
                let opened = durable::open(durability, &config)?;
                let host = opened.host.map_core(|m| Core::Plain(Box::new(m)));
                (host, Some(opened.journal), Some(opened.restored))
            }
            None => (new_host(config.clone(), checked)?, None, None),
        };
        let clock = Clock::starting_at(host.machine().now());
        let driver = Driver {
            config: config.clone(),
            durability: self.durability.clone(),
            detached: false,
            host,
            runner,
            clock,
            requests,
            requests_open: true,
            run_events_tx,
            run_events,
            events,
            shared,
            published: Counters::default(),
            held: Vec::new(),
            journal,
            restored,
        };
        // The gauges show the restored state from the start.
        driver.shared.update(
            &Counters::default(),
            &Counters::default(),
            &driver.host.stats(),
        );
        Ok((driver, handle, host_events))
    }
}

/// A host with a new core, checked or not, for a driver without state.
fn new_host(config: Config, checked: bool) -> Result<Host<Core>, DriverError> {
    let instance = durable::new_state_id();
    #[cfg(feature = "checked")]
    if checked {
        let core = Core::Checked(Box::new(groupq_check::Checked::new(config)?));
        return Ok(Host::with_core(core, instance));
    }
    let _ = checked;
    let core = Core::Plain(Box::new(groupq::Machine::new(config)?));
    Ok(Host::with_core(core, instance))
}
