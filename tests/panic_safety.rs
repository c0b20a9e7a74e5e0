//! A group key whose `Clone` panics (a bug in the host's type) must never
//! leave a half-started run behind: the core clones before it starts a run,
//! so a panic there leaves no live run without a `Spawn`, and the group's
//! work is still pending and starts on its next wake-up.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};

use groupq::{Command, Config, Exit, Exited, Machine, Message, Output, RunId, Steppable, Time};

thread_local! {
    static PANIC_ON_CLONE: Cell<bool> = const { Cell::new(false) };
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Fragile(&'static str);

impl Clone for Fragile {
    fn clone(&self) -> Self {
        if PANIC_ON_CLONE.with(Cell::get) {
            panic!("the host's Clone failed");
        }
        Fragile(self.0)
    }
}

type Q = Machine<Fragile, u32, ()>;

fn spawned(
    q: &mut Q,
    now: Time,
    event: impl groupq::Event<Fragile, u32, ()> + Clone,
) -> Vec<RunId> {
    let mut runs = Vec::new();
    q.step(now, event, |o| {
        if let Output::Command(Command::Spawn { run, .. }) = o {
            runs.push(run);
        }
    })
    .expect("accepted");
    runs
}

#[test]
fn a_panicking_key_clone_leaves_no_phantom_run_and_the_work_still_starts() {
    let mut q: Q = Machine::new(Config::default().with_max_active(1)).unwrap();
    let t = Time::ZERO;
    let x = spawned(
        &mut q,
        t,
        Message {
            group: Fragile("x"),
        },
    )[0];
    assert!(
        spawned(
            &mut q,
            t,
            Message {
                group: Fragile("a")
            }
        )
        .is_empty(),
        "a waits"
    );

    // x exits; the freed slot goes to "a", whose key clone panics.
    PANIC_ON_CLONE.with(|p| p.set(true));
    let exited = Exited {
        run: x,
        exit: Exit::Clean,
    };
    let outcome = catch_unwind(AssertUnwindSafe(|| q.handle(t, exited)));
    PANIC_ON_CLONE.with(|p| p.set(false));
    assert!(outcome.is_err(), "the clone panicked");

    let a = q.explain(&Fragile("a")).expect("a still holds its work");
    assert_eq!(a.run, None, "no live run without a Spawn");
    assert!(a.unread_messages, "its messages are still unread");
    assert_eq!(q.stats().live_runs, 0, "the slot is not held by a phantom");

    // The next message for "a" starts it.
    let started = spawned(
        &mut q,
        t,
        Message {
            group: Fragile("a"),
        },
    );
    assert_eq!(started.len(), 1, "a starts");
}
