//! The run loop, written once: [`Steppable`] is what a loop drives (a
//! [`Machine`], or a checked machine from the companion checker crate), and
//! [`Steppable::step`] is steps 1 and 2 of the loop in one call.

use std::hash::Hash;

use crate::error::Error;
use crate::event::Event;
use crate::machine::Machine;
use crate::output::Output;
use crate::time::Time;

/// The outcome of one [`Steppable::step`]: the input's answer, and when to wake
/// up next if nothing else happens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stepped<A> {
    /// The input's typed answer.
    pub answer: A,
    /// The next deadline: sleep until then, then hand in
    /// [`Timeout`](crate::Timeout); `None` means no deadline is armed.
    pub wake_at: Option<Time>,
}

/// Something the run loop drives: the same methods and answers as
/// [`Machine`], so turning the invariant checker on or off changes one
/// constructor, not the loop.
pub trait Steppable<K, T, P> {
    /// A rejected input ([`Error`]) or, for a checked machine, also a
    /// broken invariant.
    type Error: From<Error>;

    /// See [`Machine::handle`]. Events must be `Clone` so that a checked
    /// machine can keep a copy for its checker.
    fn handle<E: Event<K, T, P> + Clone>(
        &mut self,
        now: Time,
        event: E,
    ) -> Result<E::Answer, Self::Error>;

    /// See [`Machine::poll`].
    fn poll(&mut self) -> Option<Output<K, T, P>>;

    /// The machine, to read (`explain`, `stats`, `next_deadline`).
    fn machine(&self) -> &Machine<K, T, P>;

    /// Handles `event`, hands every output to `carry_out` in order, and
    /// returns the answer with the next deadline: the whole of steps 1 and
    /// 2 of the run loop. A rejected input produces no output.
    #[inline]
    fn step<E: Event<K, T, P> + Clone>(
        &mut self,
        now: Time,
        event: E,
        mut carry_out: impl FnMut(Output<K, T, P>),
    ) -> Result<Stepped<E::Answer>, Self::Error> {
        let answer = self.handle(now, event)?;
        while let Some(output) = self.poll() {
            carry_out(output);
        }
        Ok(Stepped {
            answer,
            wake_at: self.machine().next_deadline(),
        })
    }
}

impl<K, T, P> Steppable<K, T, P> for Machine<K, T, P>
where
    K: Clone + Eq + Hash,
    T: Clone + Eq + Hash,
{
    type Error = Error;

    #[inline]
    fn handle<E: Event<K, T, P> + Clone>(
        &mut self,
        now: Time,
        event: E,
    ) -> Result<E::Answer, Error> {
        Machine::handle(self, now, event)
    }

    #[inline]
    fn poll(&mut self) -> Option<Output<K, T, P>> {
        Machine::poll(self)
    }

    fn machine(&self) -> &Machine<K, T, P> {
        self
    }
}
