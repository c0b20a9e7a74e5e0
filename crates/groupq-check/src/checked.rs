//! [`Checked`]: a machine whose every input goes through a [`Checker`],
//! driven exactly like a [`Machine`] (it implements [`Steppable`]).

use std::collections::VecDeque;
use std::fmt;
use std::hash::Hash;

use groupq::{Config, Error, Event, Input, Machine, Output, Steppable, Time};

use crate::checker::{Checker, Violation};

/// Why a [`Checked`] step failed.
#[derive(Debug, PartialEq, Eq)]
pub enum CheckError<K> {
    /// The machine rejected the input, and the checker agreed it should.
    Rejected(Error),
    /// The machine broke a promise.
    Violation(Box<Violation<K>>),
}

impl<K> From<Error> for CheckError<K> {
    fn from(e: Error) -> Self {
        CheckError::Rejected(e)
    }
}

impl<K: fmt::Debug> fmt::Display for CheckError<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckError::Rejected(e) => write!(f, "rejected: {e}"),
            CheckError::Violation(v) => v.fmt(f),
        }
    }
}

impl<K: fmt::Debug> std::error::Error for CheckError<K> {}

/// A [`Machine`] whose every input, answer, output and next deadline is
/// checked. Swap it in for a `Machine` wherever the loop is written against
/// [`Steppable`]:
///
/// ```
/// use groupq::{Config, Steppable, Machine, Message, Time};
/// use groupq_check::Checked;
///
/// fn run<D: Steppable<&'static str, u32, ()>>(q: &mut D) -> Result<usize, D::Error> {
///     let mut spawned = 0;
///     q.step(Time::ZERO, Message { group: "chat-a" }, |_output| spawned += 1)?;
///     Ok(spawned)
/// }
///
/// let mut plain: Machine<&str, u32, ()> = Machine::new(Config::default())?;
/// let mut checked: Checked<&str, u32, ()> = Checked::new(Config::default())?;
/// assert_eq!(run(&mut plain)?, 1);
/// assert_eq!(run(&mut checked)?, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Checked<K, T, P> {
    machine: Machine<K, T, P>,
    checker: Checker<K, T, P>,
    /// Outputs checked and not yet polled.
    outputs: VecDeque<Output<K, T, P>>,
    /// The outputs of the input being checked.
    step: Vec<Output<K, T, P>>,
}

impl<K, T, P> Checked<K, T, P>
where
    K: Clone + Eq + Hash + fmt::Debug,
    T: Clone + Eq + Hash + fmt::Debug,
    P: Clone + PartialEq,
{
    /// A checked machine. Fails on an invalid [`Config`].
    pub fn new(config: Config) -> Result<Self, Error> {
        Ok(Checked {
            checker: Checker::new(&config),
            machine: Machine::new(config)?,
            outputs: VecDeque::new(),
            step: Vec::new(),
        })
    }

    /// The machine, giving up the checking.
    pub fn into_machine(self) -> Machine<K, T, P> {
        self.machine
    }

    /// The checker, to read.
    pub fn checker(&self) -> &Checker<K, T, P> {
        &self.checker
    }
}

/// Read access to the machine (`explain`, `stats`, `next_deadline`, a
/// clone to compare with). There is no mutable access: every input goes
/// through the checker.
impl<K, T, P> std::ops::Deref for Checked<K, T, P> {
    type Target = Machine<K, T, P>;
    fn deref(&self) -> &Machine<K, T, P> {
        &self.machine
    }
}

impl<K, T, P> Steppable<K, T, P> for Checked<K, T, P>
where
    K: Clone + Eq + Hash + fmt::Debug,
    T: Clone + Eq + Hash + fmt::Debug,
    P: Clone + PartialEq,
{
    type Error = CheckError<K>;

    /// Handles the event on the machine (through the same typed path as an
    /// unchecked machine), then checks the input, the answer, every output
    /// and the next deadline before handing anything back.
    fn handle<E: Event<K, T, P> + Clone>(
        &mut self,
        now: Time,
        event: E,
    ) -> Result<E::Answer, CheckError<K>> {
        let input: Input<K, T, P> = event.clone().into();
        let result = self.machine.handle(now, event);
        let response = result.as_ref().map(E::response).map_err(|e| *e);
        self.step.clear();
        self.step.extend(self.machine.drain());
        let wake_at = self.machine.next_deadline();
        let verdict = self
            .checker
            .step(now, &input, &response, &self.step, wake_at);
        // Kept even after a violation, to show what the step produced.
        self.outputs.extend(self.step.drain(..));
        verdict.map_err(|v| CheckError::Violation(Box::new(v)))?;
        Ok(result?)
    }

    fn poll(&mut self) -> Option<Output<K, T, P>> {
        self.outputs.pop_front()
    }

    fn machine(&self) -> &Machine<K, T, P> {
        &self.machine
    }
}
