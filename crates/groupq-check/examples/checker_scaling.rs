//! How replaying a trace through the checker scales with the size of the
//! state it tracks: per-step cost must stay flat (O(log n)), so a
//! production-sized recording can be checked.
//!
//! ```text
//! cargo run --release -p groupq-check --example checker_scaling [-- 20000 40000 80000]
//! ```
//!
//! Two traces per size `n`:
//! - `live`: `max_active = n`, one message to each of `n` groups (n live
//!   runs), a reply from each, then every run exits;
//! - `pending`: `max_active = 1`, `n` tasks queued in one group, then each
//!   run exits and the next task starts.
//!
//! Prints the replay time and nanoseconds per step for each.

use std::fmt;
use std::time::Instant;

use groupq::{Config, Exit, Input, RunId, Time, TurnReport};
use groupq_check::replay;
use groupq_check::trace::{Step, Trace};

struct Sink;

impl fmt::Write for Sink {
    fn write_str(&mut self, _: &str) -> fmt::Result {
        Ok(())
    }
}

fn step(ms: u64, input: Input<String, String, String>) -> Step {
    Step {
        now: Time::from_millis(ms),
        input,
    }
}

/// Runs 1 to `n` exit cleanly at `ms`.
fn exit_all(steps: &mut Vec<Step>, ms: u64, n: usize) {
    for r in 1..=n as u64 {
        let (run, exit) = (RunId::new(r), Exit::Clean);
        steps.push(step(ms, Input::Exited { run, exit }));
    }
}

fn live(n: usize) -> Trace {
    let mut steps = Vec::new();
    for g in 0..n {
        steps.push(step(
            0,
            Input::Message {
                group: format!("g{g}"),
            },
        ));
    }
    for r in 1..=n as u64 {
        let report = TurnReport::delivered_reply();
        steps.push(step(
            1,
            Input::Turn {
                run: RunId::new(r),
                report,
            },
        ));
    }
    exit_all(&mut steps, 2, n);
    Trace {
        config: Config::default().with_max_active(n),
        steps,
    }
}

fn pending(n: usize) -> Trace {
    let mut steps = Vec::new();
    for id in 0..n {
        let (group, id, payload) = ("g".to_string(), format!("t{id}"), String::new());
        steps.push(step(0, Input::Task { group, id, payload }));
    }
    exit_all(&mut steps, 1, n);
    Trace {
        config: Config::default().with_max_active(1),
        steps,
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sizes: Vec<usize> = match std::env::args().skip(1).map(|a| a.parse()).collect() {
        Ok(sizes) if !Vec::<usize>::is_empty(&sizes) => sizes,
        Ok(_) => vec![20_000, 40_000, 80_000],
        Err(e) => return Err(format!("sizes must be whole numbers: {e}").into()),
    };
    for n in sizes {
        for (name, trace) in [("live", live(n)), ("pending", pending(n))] {
            let t = Instant::now();
            let machine = replay(&trace, &mut Sink)?;
            let elapsed = t.elapsed();
            assert!(
                machine.is_quiescent(),
                "{name} {n}: the trace leaves work behind"
            );
            println!(
                "checker_scaling trace={name} n={n} steps={} seconds={:.3} ns_per_step={:.0}",
                trace.steps.len(),
                elapsed.as_secs_f64(),
                elapsed.as_nanos() as f64 / trace.steps.len() as f64
            );
        }
    }
    Ok(())
}
