//! The machine the driver owns, with the invariant checker on or off: the
//! one switch ([`Builder::checked`](crate::Builder::checked)).

use groupq::{Config, Drive, Event, Machine, Output, Time};
use groupq_check::{CheckError, Checked};

use crate::error::DriverError;

/// The core's key, task id and payload types in the driver: text, because
/// they cross the wire to agents as text.
pub(crate) type Queue = Machine<String, String, String>;
pub(crate) type QueueOutput = Output<String, String, String>;

// Both boxed: a machine is hundreds of bytes, and the driver moves into its task.
pub(crate) enum Core {
    Plain(Box<Queue>),
    Checked(Box<Checked<String, String, String>>),
}

impl Core {
    pub(crate) fn new(config: Config, checked: bool) -> Result<Core, groupq::Error> {
        Ok(if checked {
            Core::Checked(Box::new(Checked::new(config)?))
        } else {
            Core::Plain(Box::new(Machine::new(config)?))
        })
    }

    /// Handles `event` at `now`, appending its outputs to `outputs`.
    pub(crate) fn step<E>(
        &mut self,
        now: Time,
        event: E,
        outputs: &mut Vec<QueueOutput>,
    ) -> Result<E::Answer, DriverError>
    where
        E: Event<String, String, String> + Clone,
    {
        match self {
            Core::Plain(machine) => Ok(machine.step(now, event, |o| outputs.push(o))?.answer),
            Core::Checked(checked) => match checked.step(now, event, |o| outputs.push(o)) {
                Ok(stepped) => Ok(stepped.answer),
                Err(CheckError::Rejected(e)) => Err(DriverError::Rejected(e)),
                Err(CheckError::Violation(v)) => Err(DriverError::Violation(v.to_string())),
            },
        }
    }

    pub(crate) fn machine(&self) -> &Queue {
        match self {
            Core::Plain(machine) => machine,
            Core::Checked(checked) => checked,
        }
    }
}
