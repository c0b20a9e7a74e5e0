//! The core the driver's host owns: a plain machine, or with the `checked`
//! feature a checked one ([`Builder::checked`](crate::Builder::checked)).
//! One type, so the loop is the same either way.

use groupq::{Event, Output, Steppable};
use groupq_host::{HostCore, HostError, Queue};

type Out = Output<String, String, String>;

// Boxed: a machine is hundreds of bytes, and the driver moves into its task.
pub(crate) enum Core {
    Plain(Box<Queue>),
    #[cfg(feature = "checked")]
    Checked(Box<groupq_check::Checked<String, String, String>>),
}

impl Steppable<String, String, String> for Core {
    type Error = HostError;

    fn handle<E: Event<String, String, String> + Clone>(
        &mut self,
        now: groupq::Time,
        event: E,
    ) -> Result<E::Answer, HostError> {
        match self {
            Core::Plain(machine) => Ok(machine.handle(now, event)?),
            #[cfg(feature = "checked")]
            Core::Checked(checked) => {
                Steppable::handle(&mut **checked, now, event).map_err(|e| match e {
                    groupq_check::CheckError::Rejected(e) => HostError::Rejected(e),
                    groupq_check::CheckError::Violation(v) => HostError::Violation(v.to_string()),
                })
            }
        }
    }

    fn poll(&mut self) -> Option<Out> {
        match self {
            Core::Plain(machine) => machine.poll(),
            #[cfg(feature = "checked")]
            Core::Checked(checked) => Steppable::poll(&mut **checked),
        }
    }

    fn machine(&self) -> &Queue {
        match self {
            Core::Plain(machine) => machine,
            #[cfg(feature = "checked")]
            Core::Checked(checked) => Steppable::machine(&**checked),
        }
    }
}

/// A new epoch's core is a plain one: a checked driver is never durable,
/// so it never starts a new epoch.
impl HostCore for Core {
    fn renewed(
        config: groupq::Config,
        last: groupq::RunId,
        now: groupq::Time,
    ) -> Result<Core, groupq::Error> {
        Ok(Core::Plain(Box::new(Queue::renewed(config, last, now)?)))
    }
}
