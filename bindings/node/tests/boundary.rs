//! The boundary's Rust side, natively: every argument JavaScript can pass
//! is checked, a refused call leaves the machine as it was, and the words
//! a call writes are the core's answer and outputs.

use groupq_wasm::Core;

fn core(slots: &[f64]) -> Core {
    Core::new(slots).unwrap_or_else(|_| panic!("valid slots {slots:?}"))
}

#[test]
fn a_message_spawns_and_the_words_say_so() {
    let mut c = core(&[1.0]);
    let n = c.message(5.0, 7.0);
    assert_eq!(n, 10.0);
    // Four answer words, then Spawn: opcode 1, run 1, group 7, messages.
    assert_eq!(&c.out()[4..], &[1.0, 1.0, 7.0, 0.0, 0.0, 0.0]);
    assert_eq!(c.exited(6.0, 1.0, 0.0, 0.0), 4.0);
    assert!(c.machine().is_quiescent());
}

#[test]
fn bad_numbers_are_refused_with_their_argument_and_change_nothing() {
    let mut c = core(&[]);
    c.message(10.0, 1.0);
    let before = format!("{:?}", c.machine());
    let refused: [(f64, &str); 13] = [
        (c.message(f64::NAN, 1.0), "NaN time"),
        (c.message(-1.0, 1.0), "negative time"),
        (c.message(f64::INFINITY, 1.0), "infinite time"),
        (c.message(1e30, 1.0), "time beyond the core"),
        (c.message(20.0, 1.5), "fractional key"),
        (c.message(20.0, -1.0), "negative key"),
        (c.message(20.0, 5e9), "key beyond u32"),
        (c.idle(20.0, 0.0), "run zero"),
        (c.exited(20.0, 1.0, 7.0, 0.0), "unknown exit"),
        (c.exited(20.0, 1.0, 3.0, -5.0), "negative retry-after"),
        (c.set_limits(20.0, 0.0, -1.0, -1.0), "zero slots"),
        (c.set_limits(20.0, 2.0, -2.0, -1.0), "a bad total cap"),
        (c.set_limits(20.0, 2.0, -1.0, 0.5), "a fractional group cap"),
    ];
    for (code, what) in refused {
        assert!(code < 0.0, "{what} was accepted");
    }
    assert_eq!(c.message(5.0, 1.0), -4.0, "time going back");
    assert_eq!(&c.out()[..2], &[5.0, 10.0]);
    assert_eq!(c.idle(20.0, 9.0), -1.0, "an unissued run");
    assert_eq!(format!("{:?}", c.machine()), before);
}

#[test]
fn a_task_over_a_cap_is_refused_with_its_cap_in_the_answer() {
    let mut c = core(&[
        1.0,
        f64::NAN,
        f64::NAN,
        f64::NAN,
        f64::NAN,
        f64::NAN,
        f64::NAN,
        f64::NAN,
        f64::NAN,
        f64::NAN,
        f64::NAN,
        f64::NAN,
        f64::NAN,
        f64::NAN,
        f64::NAN,
        f64::NAN,
        f64::NAN,
        -1.0,
        1.0,
    ]);
    c.message(0.0, 1.0);
    assert_eq!(c.task(0.0, 1.0, 1.0, 1.0), 4.0);
    assert_eq!(c.out()[0], 0.0, "queued");
    let before = format!("{:?}", c.machine());
    assert_eq!(c.task(0.0, 1.0, 2.0, 2.0), 4.0);
    assert_eq!(&c.out()[..2], &[2.0, 1.0], "refused: the group's cap of 1");
    assert_eq!(format!("{:?}", c.machine()), before);
    // A fatal exit (code 2): no retry; the queued task starts.
    assert!(c.exited(1.0, 1.0, 2.0, 0.0) > 0.0);
    assert_eq!(c.machine().stats().live_runs, 1, "the task starts");
}

#[test]
fn a_bad_turn_is_refused_whole() {
    let mut c = core(&[]);
    c.message(0.0, 1.0);
    let before = format!("{:?}", c.machine());
    assert_eq!(
        c.turn(1.0, 1.0, 2.0, 0.0, f64::NAN, f64::NAN, f64::NAN, f64::NAN),
        -8.0
    );
    assert_eq!(
        c.turn(1.0, 1.0, 0.0, 64.0, f64::NAN, f64::NAN, f64::NAN, f64::NAN),
        -8.0
    );
    assert_eq!(
        c.turn(1.0, 1.0, 0.0, 4.0, -3.0, f64::NAN, f64::NAN, f64::NAN),
        -8.0
    );
    assert_eq!(format!("{:?}", c.machine()), before);
    // Context and a warning notice: opcode 4 with percent, tokens, limit.
    assert!(c.turn(1.0, 1.0, 0.0, 7.0, 900.0, 1000.0, f64::NAN, f64::NAN) > 0.0);
    assert_eq!(&c.out()[4..9], &[4.0, 1.0, 90.0, 900.0, 1000.0]);
}

#[test]
fn bad_settings_are_refused_with_their_slot() {
    use groupq_wasm::config::from_slots;
    use groupq_wasm::error::Refusal;
    let nan = f64::NAN;
    for (slots, code) in [
        (vec![1.5], "9:0:"),
        (vec![nan, -2.0], "9:1:"),
        (vec![nan, nan, nan, nan, nan, nan, nan, 2.0], "9:7:"),
        (
            vec![
                nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, -5.0,
            ],
            "9:12:",
        ),
    ] {
        let refused = from_slots(&slots).expect_err("refused");
        assert!(
            refused.to_string().starts_with(code),
            "{slots:?}: {refused}"
        );
    }
    // The core's own refusals come through with their kind.
    let zero = groupq::Machine::<u32, u32, u32>::new(from_slots(&[0.0]).unwrap()).unwrap_err();
    assert!(Refusal::from(zero).to_string().starts_with("6:1,0,0:"));
    // Off and forever are settings too.
    let c = from_slots(&[
        nan,
        nan,
        nan,
        f64::INFINITY,
        nan,
        nan,
        0.0,
        1.0,
        nan,
        nan,
        nan,
        nan,
        -1.0,
    ])
    .unwrap();
    assert!(!c.notices());
    assert_eq!(c.idle_timeout(), std::time::Duration::MAX);
    assert_eq!(c.max_run_time(), None);
}

/// Slots `26..29` (background aging, max running, skip window), then
/// `BackgroundTask`: skipped (answer 4) while the conversation is live,
/// else queued behind it; a bad skip flag is refused and changes nothing;
/// stats words 10 and 11 count the waiting background groups and the
/// background runs.
#[test]
fn a_background_task_is_skipped_or_waits_and_the_stats_count_it() {
    let nan = f64::NAN;
    let mut slots = vec![nan; 29];
    slots[0] = 1.0;
    slots[26] = 2.0;
    slots[27] = 1.0;
    slots[28] = 1000.0;
    let mut c = core(&slots);
    c.message(0.0, 1.0);
    assert_eq!(c.background_task(0.0, 1.0, 1.0, 1.0, 1.0), 4.0);
    assert_eq!(c.out()[0], 4.0, "skipped");
    let before = format!("{:?}", c.machine());
    assert!(
        c.background_task(0.0, 2.0, 1.0, 2.0, 2.0) < 0.0,
        "skip is 0 or 1"
    );
    assert_eq!(format!("{:?}", c.machine()), before);
    assert_eq!(c.background_task(0.0, 2.0, 1.0, 2.0, 0.0), 4.0);
    assert_eq!(c.out()[0], 0.0, "queued");
    assert_eq!(c.stats(), 12.0);
    assert_eq!(&c.out()[10..12], &[1.0, 0.0], "one waiting, none running");
    // The conversation's run ends: the background task starts.
    assert!(c.exited(1.0, 1.0, 0.0, 0.0) > 4.0);
    assert_eq!(c.stats(), 12.0);
    assert_eq!(&c.out()[10..12], &[0.0, 1.0]);
    for (slot, v) in [(26, 1.5), (27, -2.0), (28, -5.0)] {
        let mut bad = vec![nan; 29];
        bad[slot] = v;
        let refused = groupq_wasm::config::from_slots(&bad).expect_err("refused");
        assert!(
            refused.to_string().starts_with(&format!("9:{slot}:")),
            "{refused}"
        );
    }
    let mut zero = vec![nan; 29];
    zero[26] = 0.0;
    let config = groupq_wasm::config::from_slots(&zero).expect("a number");
    assert!(
        groupq_wasm::Queue::new(config).is_err(),
        "aging 0 is an invalid setting"
    );
}
