//! The same inputs through the real machine and the reference model
//! (`tests/support/model.rs`, written from the design contract): any
//! difference in answers, commands or next deadline is a crash.

#![no_main]

use std::fmt::Debug;
use std::hash::Hash;

use arbitrary::{Arbitrary, Unstructured};
use groupq::{Command, Config, Error, Input, Machine, Output, Response, Steppable, Time};
use groupq_check::trace::Trace;
use groupq_fuzz::{Driver, Scenario};
use libfuzzer_sys::fuzz_target;

#[path = "../../tests/support/model.rs"]
mod model;

use model::Model;

/// A machine and the model, side by side.
struct Pair<K, T, P> {
    machine: Machine<K, T, P>,
    model: Model<K, T, P>,
    outputs: Vec<Output<K, T, P>>,
}

/// The contract fixes what a shutdown report holds, not the order of its
/// groups (the determinism test pins the machine's order): compare sorted.
fn normalized<K: Ord, T, P>(
    mut r: Result<Response<K, T, P>, Error>,
) -> Result<Response<K, T, P>, Error> {
    if let Ok(Response::ShutDown(report)) = &mut r {
        report.groups.sort_by(|a, b| a.group.cmp(&b.group));
    }
    r
}

impl<K, T, P> Pair<K, T, P>
where
    K: Clone + Ord + Hash + Debug,
    T: Clone + Eq + Hash + Debug,
    P: Clone + PartialEq + Debug,
{
    fn new(config: Config) -> Option<Self> {
        Some(Pair {
            machine: Machine::new(config.clone()).ok()?,
            model: Model::new(config),
            outputs: Vec::new(),
        })
    }

    /// Feeds one input to both and panics on any difference. Returns the
    /// machine's outputs when it accepted the input.
    fn step(&mut self, now: Time, input: Input<K, T, P>) -> Option<&[Output<K, T, P>]> {
        let seen = format!("{input:?} at {now}");
        self.outputs.clear();
        let outputs = &mut self.outputs;
        let result = self
            .machine
            .step(now, input.clone(), |o| outputs.push(o))
            .map(|s| s.answer);
        // Records are observability; the model has none.
        let commands: Vec<Command<K, T, P>> = self
            .outputs
            .iter()
            .filter_map(Output::command)
            .cloned()
            .collect();
        let (expected, expected_commands) = self.model.handle(now, input);
        let accepted = result.is_ok();
        assert_eq!(
            normalized(result),
            normalized(expected),
            "answers differ for {seen}"
        );
        assert_eq!(commands, expected_commands, "commands differ for {seen}");
        assert_eq!(
            self.machine.next_deadline(),
            self.model.next_deadline(),
            "next deadlines differ after {seen}"
        );
        accepted.then_some(&self.outputs[..])
    }
}

fuzz_target!(|data: &[u8]| {
    // A trace (the seed corpus) is replayed as written.
    if let Some(trace) = std::str::from_utf8(data)
        .ok()
        .and_then(|t| Trace::parse(t).ok())
    {
        if let Some(mut pair) = Pair::<String, String, String>::new(trace.config.clone()) {
            for step in trace.steps {
                pair.step(step.now, step.input);
            }
        }
        return;
    }
    let Ok(scenario) = Scenario::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let Some(mut pair) = Pair::<u8, u8, u16>::new(scenario.config.config()) else {
        return;
    };
    let mut driver = Driver::default();
    for &(clock, op) in &scenario.steps {
        let (now, input) = driver.input(clock, op, pair.machine.next_deadline());
        let seen = input.clone();
        if let Some(outputs) = pair.step(now, input) {
            driver.observe(now, &seen, outputs);
        }
    }
});
