//! P13: the same configuration and inputs give the same outputs, byte for
//! byte, whatever the hasher seeds. Three machines with string keys (so
//! hashing is real work) get the same generated sequence; each machine's
//! maps draw their own `RandomState` keys (one of them on another thread,
//! whose keys are drawn afresh), so anything that depended on hash order
//! would differ. Every answer and every output, and the final state, must
//! render identically with `{:?}`.
//!
//! 1,000 cases by default (`PROPTEST_CASES` overrides).

mod support;

use groupq::{Input, Machine, Output, Response, RunId, Steppable, Time, Work};
use proptest::prelude::*;

use support::gen::{self, Harness, In};

type StrInput = Input<String, String, String>;

/// The generated input with string keys, ids and payloads.
fn stringly(input: &In) -> StrInput {
    input.map(
        |g| format!("chat-{g}"),
        |id| format!("task-{id}"),
        |payload| format!("payload-{payload}"),
    )
}

/// Handles one input and renders the answer and every output.
fn step(
    q: &mut Machine<String, String, String>,
    at: Time,
    input: StrInput,
) -> (String, Vec<RunId>, bool) {
    let mut rendered = String::new();
    let mut spawned = Vec::new();
    let answer = q.step(at, input, |o| {
        rendered.push_str(&format!("\n{o:?}"));
        if let Output::Command(groupq::Command::Spawn { run, .. }) = o {
            spawned.push(run);
        }
    });
    let accepted = answer.is_ok();
    (format!("{answer:?}{rendered}"), spawned, accepted)
}

fn state(q: &Machine<String, String, String>, groups: u8) -> String {
    let explained: Vec<_> = (0..groups)
        .map(|g| q.explain(&format!("chat-{g}")))
        .collect();
    format!("{q:?}\n{explained:?}\n{:?}", q.stats())
}

proptest! {
    #![proptest_config(gen::proptest_config(1_000))]

    /// P13 over random configurations and sequences.
    #[test]
    fn outputs_are_byte_identical_whatever_the_hasher_seed(
        config in gen::config(),
        steps in gen::steps(6, 2, 300),
    ) {
        let mut a = Machine::new(config.clone()).unwrap();
        let mut b = Machine::new(config.clone()).unwrap();
        let mut c = std::thread::spawn(move || Machine::new(config).unwrap()).join().unwrap();
        let mut h = Harness::new();
        for (i, s) in steps.iter().enumerate() {
            let (at, input) = h.resolve(s, a.next_deadline());
            let (ra, spawned, accepted) = step(&mut a, at, stringly(&input));
            let (rb, _, _) = step(&mut b, at, stringly(&input));
            let (rc, _, _) = step(&mut c, at, stringly(&input));
            prop_assert_eq!(&ra, &rb, "step {}: two RandomState seeds differ", i);
            prop_assert_eq!(&ra, &rc, "step {}: machines built on two threads differ", i);
            // Feed the harness what it needs to pick live runs next time.
            if accepted {
                let outputs: Vec<gen::Out> = spawned
                    .iter()
                    .map(|&run| {
                        Output::Command(groupq::Command::Spawn { run, group: 0, work: Work::Messages })
                    })
                    .collect();
                h.observe(at, &input, &Ok(Response::Accepted), &outputs);
            }
        }
        prop_assert_eq!(state(&a, 6), state(&b, 6));
        prop_assert_eq!(state(&a, 6), state(&c, 6));
    }
}
