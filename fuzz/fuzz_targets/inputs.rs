//! Arbitrary configuration and inputs (legal and illegal) drive a checked
//! machine. Any invariant violation or panic is a crash.
//!
//! Bytes that parse as a trace are replayed as written: the seed corpus is
//! the committed regression traces, and most mutations of a trace are still
//! a meaningful scenario. Anything else is decoded as a [`Scenario`].

#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use groupq::Steppable;
use groupq_check::{CheckError, Checked};
use groupq_fuzz::{replay_trace, Driver, Scenario};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if replay_trace(data) {
        return;
    }
    let Ok(scenario) = Scenario::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let Ok(mut q) = Checked::<u8, u8, u16>::new(scenario.config.config()) else {
        return; // invalid configuration, refused with a typed error
    };
    let mut driver = Driver::default();
    for &(clock, op) in &scenario.steps {
        let (now, input) = driver.input(clock, op, q.machine().next_deadline());
        let seen = input.clone();
        let mut outputs = Vec::new();
        match q.step(now, input, |o| outputs.push(o)) {
            Ok(_) => driver.observe(now, &seen, &outputs),
            Err(CheckError::Rejected(_)) => {}
            Err(CheckError::Violation(v)) => panic!("{v}"),
        }
    }
});
