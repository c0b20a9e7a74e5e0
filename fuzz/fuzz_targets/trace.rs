//! Arbitrary bytes into the trace parser: it returns a typed error or a
//! trace, never panics, and a parsed trace prints back to text that parses
//! to the same trace.

#![no_main]

use groupq_check::trace::Trace;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(trace) = Trace::parse(text) else {
        return;
    };
    let printed = trace.to_string();
    match Trace::parse(&printed) {
        Ok(again) => assert_eq!(again, trace, "round trip changed the trace:\n{printed}"),
        Err(e) => panic!("printed trace does not parse: {e}\n{printed}"),
    }
});
