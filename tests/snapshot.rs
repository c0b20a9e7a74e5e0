//! Snapshots (feature `serde`): a machine snapshotted at any step and
//! restored, then given the rest of the inputs, equals (`==`) the machine
//! that never stopped, answers and outputs included; equal machines
//! serialize to the same bytes whatever their hasher seeds; and a snapshot
//! whose links disagree is refused with a typed error, never a panic.
//!
//! 500 cases by default (`PROPTEST_CASES` overrides).

mod support;

use groupq::Machine;
use proptest::prelude::*;

use support::gen::{self, Harness, Q};

fn snapshot(q: &Q) -> String {
    serde_json::to_string(q).expect("a machine between steps serializes")
}

fn restore(json: &str) -> Q {
    serde_json::from_str(json).expect("a snapshot restores")
}

proptest! {
    #![proptest_config(gen::proptest_config(500))]

    /// Snapshot after step `cut`, restore, replay the rest: equal machines,
    /// answers and outputs at every later step.
    #[test]
    fn snapshot_at_any_step_then_replay_equals_never_stopping(
        config in gen::config(),
        steps in gen::steps(6, 2, 200),
        cut in any::<prop::sample::Index>(),
    ) {
        let cut = cut.index(steps.len() + 1);
        let mut never = Q::new(config).unwrap();
        let mut h = Harness::new();
        let mut restored: Option<Q> = None;
        for (i, s) in steps.iter().enumerate() {
            if i == cut {
                let json = snapshot(&never);
                let back = restore(&json);
                prop_assert!(back == never, "the restored machine differs at step {}", i);
                prop_assert_eq!(snapshot(&back), json, "a restored machine re-serializes differently");
                restored = Some(back);
            }
            let (at, input) = h.resolve(s, never.next_deadline());
            let (answer, outputs) = gen::run_step(&mut never, at, input.clone());
            if let Some(r) = restored.as_mut() {
                let (r_answer, r_outputs) = gen::run_step(r, at, input.clone());
                prop_assert_eq!(&r_answer, &answer, "answers differ at step {}", i);
                prop_assert_eq!(&r_outputs, &outputs, "outputs differ at step {}", i);
                prop_assert!(*r == never, "machines differ after step {}", i);
            }
            h.observe(at, &input, &answer, &outputs);
        }
        let last = restored.unwrap_or_else(|| restore(&snapshot(&never)));
        prop_assert!(last == never);
    }

    /// A snapshot with one number changed anywhere is either refused with
    /// an error or restores into a machine that passes its own checks: the
    /// restore never panics, and a restored machine takes inputs without
    /// panicking.
    #[test]
    fn a_snapshot_with_a_changed_number_is_refused_or_consistent(
        config in gen::config(),
        steps in gen::steps(6, 2, 120),
        which in any::<prop::sample::Index>(),
        value in prop_oneof![Just(0u64), Just(1), Just(2), Just(4_294_967_295), 0u64..40],
        more in gen::steps(6, 2, 40),
    ) {
        let mut q = Q::new(config).unwrap();
        let mut h = Harness::new();
        for s in &steps {
            let (at, input) = h.resolve(s, q.next_deadline());
            let (answer, outputs) = gen::run_step(&mut q, at, input.clone());
            h.observe(at, &input, &answer, &outputs);
        }
        let json = snapshot(&q);
        let numbers: Vec<(usize, usize)> = number_spans(&json);
        prop_assume!(!numbers.is_empty());
        let (start, end) = numbers[which.index(numbers.len())];
        let forged = format!("{}{}{}", &json[..start], value, &json[end..]);
        if let Ok(mut back) = serde_json::from_str::<Q>(&forged) {
            for s in &more {
                let (at, input) = h.resolve(s, back.next_deadline());
                let (answer, outputs) = gen::run_step(&mut back, at, input.clone());
                h.observe(at, &input, &answer, &outputs);
            }
        }
    }
}

/// The byte ranges of the unsigned integers in `json`.
fn number_spans(json: &str) -> Vec<(usize, usize)> {
    let bytes = json.as_bytes();
    let mut spans = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric()) {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            spans.push((start, i));
        } else {
            i += 1;
        }
    }
    spans
}

#[test]
fn outputs_not_yet_polled_make_the_snapshot_fail() {
    let mut q: Machine<u8, u8, u32> = Machine::new(groupq::Config::default()).unwrap();
    q.handle(groupq::Time::ZERO, groupq::Message { group: 1 })
        .unwrap();
    let err = serde_json::to_string(&q).unwrap_err();
    assert!(err.to_string().contains("not yet polled"), "{err}");
}

#[test]
fn a_snapshot_with_a_broken_link_is_refused_with_its_reason() {
    let mut q: Machine<u8, u8, u32> = Machine::new(groupq::Config::default()).unwrap();
    for g in 0..3 {
        q.handle(groupq::Time::ZERO, groupq::Message { group: g })
            .unwrap();
    }
    while q.poll().is_some() {}
    let json = serde_json::to_string(&q).unwrap();
    let good: Machine<u8, u8, u32> = serde_json::from_str(&json).unwrap();
    assert!(good == q);
    // The first group's live run index pointed at the second's run.
    let forged = json.replacen("\"live\":0", "\"live\":1", 1);
    assert_ne!(forged, json);
    let err = serde_json::from_str::<Machine<u8, u8, u32>>(&forged).unwrap_err();
    assert!(err.to_string().contains("inconsistent"), "{err}");
}

/// A snapshot written before the debounce (timer key layout 0: a retry was
/// `g << 1`, no `layout` field) restores with every deadline kept: the
/// same machine as one that never stopped.
#[test]
fn a_snapshot_of_the_old_timer_layout_restores_with_its_deadlines() {
    use groupq::{Config, Exit, Input, Time};
    use std::time::Duration;
    let mut q = Q::new(Config::default().with_retry_base(Duration::from_secs(1))).unwrap();
    for group in 0..3u8 {
        q.handle(Time::ZERO, Input::Message { group }).unwrap();
    }
    let runs: Vec<_> = q
        .drain()
        .filter_map(|o| match o.command() {
            Some(groupq::Command::Spawn { run, .. }) => Some(*run),
            _ => None,
        })
        .collect();
    // Two retries scheduled (groups 0 and 2), one run left live.
    for &run in [runs[0], runs[2]].iter() {
        q.handle(
            Time::from_millis(5),
            Input::Exited {
                run,
                exit: Exit::Failed,
            },
        )
        .unwrap();
    }
    q.drain().for_each(drop);
    let mut json: serde_json::Value = serde_json::from_str(&snapshot(&q)).unwrap();
    let timers = &mut json["timers"];
    let layout = timers.as_object_mut().unwrap().remove("layout");
    assert_eq!(layout, Some(serde_json::json!(1)));
    let mut keys = Vec::new();
    for entry in timers["heap"].as_array_mut().unwrap() {
        let key = entry["key"].as_u64().unwrap();
        let old = if key % 2 == 0 { key / 2 } else { key };
        entry["key"] = old.into();
        keys.push(old);
    }
    let mut pos = vec![u32::MAX; *keys.iter().max().unwrap() as usize + 1];
    for (i, &k) in keys.iter().enumerate() {
        pos[k as usize] = i as u32;
    }
    timers["pos"] = serde_json::to_value(pos).unwrap();
    let restored = restore(&json.to_string());
    assert!(restored == q, "the upgraded machine is the one snapshotted");
    assert_eq!(
        restored.explain(&0).unwrap().retry_at,
        Some(Time::from_millis(1_005))
    );
}
