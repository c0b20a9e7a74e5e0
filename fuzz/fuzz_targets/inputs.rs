//! Arbitrary configuration and inputs (legal and illegal) drive a checked
//! machine. Any invariant violation or panic is a crash.

#![no_main]

use groupq::check::{Checked, StepError};
use groupq_fuzz::{Driver, Scenario};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|scenario: Scenario| {
    let Ok(mut q) = Checked::<u8, u8, u16>::new(scenario.config.config()) else {
        return; // invalid configuration, refused with a typed error
    };
    let mut driver = Driver::default();
    for &(clock, op) in &scenario.steps {
        let (now, input) = driver.input(clock, op, q.machine().next_deadline());
        let seen = input.clone();
        match q.handle(now, input) {
            Ok(outputs) => driver.observe(now, &seen, outputs),
            Err(StepError::Rejected(_)) => {}
            Err(StepError::Violation(v)) => panic!("{v}"),
        }
    }
});
