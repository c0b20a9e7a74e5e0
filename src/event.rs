//! The one way in: [`Machine::handle`] takes any [`Event`] (an input
//! struct, or the [`Input`] enum) and gives that event's typed answer.

use std::hash::Hash;

use crate::error::Error;
use crate::input::{
    BackgroundTask, Cancel, CancelAnswer, CloseAnswer, CloseRun, Exited, Heartbeat, Idle, Input,
    Message, NeverLaunched, Pause, Pipe, PipeAnswer, Requeue, Response, Resume, SetLimits,
    Shutdown, Task, TaskAnswer, Timeout, Turn,
};
use crate::machine::Machine;
use crate::time::Time;
use crate::view::ShutdownReport;

mod sealed {
    pub trait Sealed<K, T, P> {}
}

/// An input the machine can handle, and the type of its answer.
///
/// Implemented by the input structs ([`Message`], [`Task`], [`Pipe`],
/// [`Idle`], [`Heartbeat`], [`Turn`], [`Exited`], [`NeverLaunched`], [`Timeout`],
/// [`Shutdown`], [`Cancel`], [`Pause`], [`Resume`], [`CloseRun`],
/// [`SetLimits`]) and by
/// [`Input`], whose answer is a [`Response`]. Sealed: the set of inputs is
/// the contract.
pub trait Event<K, T, P>: Into<Input<K, T, P>> + sealed::Sealed<K, T, P> {
    /// What [`Machine::handle`] answers on success.
    type Answer;

    /// Applies the event. Called by [`Machine::handle`], which checks the
    /// clock first; not meant to be called directly.
    #[doc(hidden)]
    fn apply(self, q: &mut Machine<K, T, P>, now: Time) -> Result<Self::Answer, Error>;

    /// The answer as a [`Response`], for code that records answers of any
    /// input (the checker, traces).
    fn response(answer: &Self::Answer) -> Response<K, T, P>
    where
        K: Clone,
        T: Clone,
        P: Clone;
}

impl<K, T, P> Machine<K, T, P>
where
    K: Clone + Eq + Hash,
    T: Clone + Eq + Hash,
{
    /// Applies one input at time `now` and gives its answer.
    ///
    /// On `Err` nothing changed: not the state, not the buffered outputs,
    /// not the clock. On `Ok`, drain [`poll`](Machine::poll) and carry out
    /// the commands before sleeping until
    /// [`next_deadline`](Machine::next_deadline).
    ///
    /// ```
    /// use groupq::{Config, Machine, Message, Task, TaskAnswer, Time};
    /// let mut q: Machine<&str, u32, &str> = Machine::new(Config::default())?;
    /// q.handle(Time::ZERO, Message { group: "chat-a" })?;
    /// let answer = q.handle(Time::ZERO, Task { group: "chat-a", id: 1, payload: "report" })?;
    /// assert_eq!(answer, TaskAnswer::Queued);
    /// # Ok::<(), groupq::Error>(())
    /// ```
    #[inline]
    pub fn handle<E: Event<K, T, P>>(&mut self, now: Time, event: E) -> Result<E::Answer, Error> {
        self.at(now, |q| event.apply(q, now))
    }
}

macro_rules! event {
    ($ty:ty, $answer:ty, |$e:ident, $q:ident, $now:ident| $apply:expr) => {
        impl<K, T, P> sealed::Sealed<K, T, P> for $ty {}
        impl<K, T, P> Event<K, T, P> for $ty
        where
            K: Clone + Eq + Hash,
            T: Clone + Eq + Hash,
        {
            type Answer = $answer;
            #[inline]
            fn apply(self, $q: &mut Machine<K, T, P>, $now: Time) -> Result<$answer, Error> {
                let $e = self;
                $apply
            }
            fn response(answer: &$answer) -> Response<K, T, P>
            where
                K: Clone,
                T: Clone,
                P: Clone,
            {
                answer.clone().into()
            }
        }
    };
}

event!(Message<K>, (), |e, q, _now| q.on_message(e.group));
event!(Task<K, T, P>, TaskAnswer, |e, q, _now| q.on_task(e.group, e.id, e.payload));
event!(BackgroundTask<K, T, P>, TaskAnswer, |e, q, _now| q.on_background_task(e));
event!(Pipe<K>, PipeAnswer, |e, q, _now| Ok(q.on_pipe(&e.group)));
event!(Idle, (), |e, q, _now| q.on_idle(e.run));
event!(Heartbeat, (), |e, q, _now| q.on_heartbeat(e.run));
event!(Turn, (), |e, q, _now| q.on_turn(e.run, e.report));
event!(Exited, (), |e, q, now| q.on_exited(now, e.run, e.exit));
event!(Timeout, (), |_e, q, now| {
    q.on_timeout(now);
    Ok(())
});
event!(Shutdown, ShutdownReport<K, T, P>, |_e, q, _now| q.on_shutdown());
event!(Cancel<K, T>, CancelAnswer<P>, |e, q, _now| Ok(q.on_cancel(&e.group, &e.id)));
event!(Pause<K>, (), |e, q, _now| q.on_pause(e.group));
event!(Resume<K>, (), |e, q, _now| q.on_resume(&e.group));
event!(CloseRun<K>, CloseAnswer, |e, q, _now| Ok(
    q.on_close(&e.group)
));
event!(NeverLaunched<T, P>, Requeue<T, P>, |e, q, _now| q.on_never_launched(e.run, e.work));
event!(SetLimits, (), |e, q, _now| q.on_set_limits(e.limits));

impl<K, T, P> sealed::Sealed<K, T, P> for Input<K, T, P> {}
impl<K, T, P> Event<K, T, P> for Input<K, T, P>
where
    K: Clone + Eq + Hash,
    T: Clone + Eq + Hash,
{
    type Answer = Response<K, T, P>;

    fn apply(self, q: &mut Machine<K, T, P>, now: Time) -> Result<Response<K, T, P>, Error> {
        Ok(match self {
            Input::Message { group } => Message { group }.apply(q, now)?.into(),
            Input::Task { group, id, payload } => Task { group, id, payload }.apply(q, now)?.into(),
            Input::Pipe { group } => Pipe { group }.apply(q, now)?.into(),
            Input::BackgroundTask {
                group,
                id,
                payload,
                skip_if_active,
            } => BackgroundTask {
                group,
                id,
                payload,
                skip_if_active,
            }
            .apply(q, now)?
            .into(),
            Input::Idle { run } => Idle { run }.apply(q, now)?.into(),
            Input::Heartbeat { run } => Heartbeat { run }.apply(q, now)?.into(),
            Input::Turn { run, report } => Turn { run, report }.apply(q, now)?.into(),
            Input::Exited { run, exit } => Exited { run, exit }.apply(q, now)?.into(),
            Input::Timeout => Timeout.apply(q, now)?.into(),
            Input::Shutdown => Shutdown.apply(q, now)?.into(),
            Input::Cancel { group, id } => Cancel { group, id }.apply(q, now)?.into(),
            Input::Pause { group } => Pause { group }.apply(q, now)?.into(),
            Input::Resume { group } => Resume { group }.apply(q, now)?.into(),
            Input::CloseRun { group } => CloseRun { group }.apply(q, now)?.into(),
            Input::NeverLaunched { run, work } => NeverLaunched { run, work }.apply(q, now)?.into(),
            Input::SetLimits { limits } => SetLimits { limits }.apply(q, now)?.into(),
        })
    }

    fn response(answer: &Response<K, T, P>) -> Response<K, T, P>
    where
        K: Clone,
        T: Clone,
        P: Clone,
    {
        answer.clone()
    }
}
