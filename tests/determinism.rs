//! P13: the same configuration and inputs give the same outputs, byte for
//! byte, whatever the hasher and its seed. Three machines with string keys
//! (so hashing is real work) get the same generated sequence: two with
//! `RandomState::new()` (two random seeds) and one with a seeded hasher of
//! our own; every answer and every output, and the final state, must render
//! identically with `{:?}`.
//!
//! 1,000 cases by default (`PROPTEST_CASES` overrides).

mod support;

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

use groupq::{Input, Machine, Output, Response, RunId, Time, Work};
use proptest::prelude::*;

use support::gen::{self, Harness, In, Seeded};

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
fn step<S: BuildHasher + Clone>(
    q: &mut Machine<String, String, String, S>,
    at: Time,
    input: StrInput,
) -> (String, Vec<RunId>, bool) {
    let answer = q.handle(at, input);
    let accepted = answer.is_ok();
    let mut rendered = format!("{answer:?}");
    let mut spawned = Vec::new();
    loop {
        let o = q.poll();
        rendered.push_str(&format!("\n{o:?}"));
        match o {
            Output::WakeAt(_) => return (rendered, spawned, accepted),
            Output::Command(groupq::Command::Spawn { run, .. }) => spawned.push(run),
            _ => {}
        }
    }
}

fn state<S: BuildHasher + Clone>(q: &Machine<String, String, String, S>, groups: u8) -> String {
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
        seed in any::<u64>(),
        steps in gen::steps(6, 2, 300),
    ) {
        let mut a = Machine::with_hasher(config.clone(), RandomState::new()).unwrap();
        let mut b = Machine::with_hasher(config.clone(), RandomState::new()).unwrap();
        let mut c = Machine::with_hasher(config, Seeded(seed)).unwrap();
        let mut h = Harness::new();
        for (i, s) in steps.iter().enumerate() {
            let (at, input) = h.resolve(s, a.next_deadline());
            let (ra, spawned, accepted) = step(&mut a, at, stringly(&input));
            let (rb, _, _) = step(&mut b, at, stringly(&input));
            let (rc, _, _) = step(&mut c, at, stringly(&input));
            prop_assert_eq!(&ra, &rb, "step {}: two RandomState seeds differ", i);
            prop_assert_eq!(&ra, &rc, "step {}: RandomState and the seeded hasher differ", i);
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
