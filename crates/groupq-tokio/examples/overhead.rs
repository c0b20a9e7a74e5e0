//! Driver overhead per input, with a runtime that does nothing: how many
//! handle calls per second the run loop answers, and what one costs.
//!
//! `cargo run --release -p groupq-tokio --example overhead [-- INPUTS]`
//! (default 200,000). Messages go to 1,000 groups with `max_active` 8: the
//! first message of a group with a free slot spawns a (silent) run, later
//! ones are piped into it, the rest queue. Measured sequentially (each call
//! awaited: the round trip) and from 8 concurrent callers (throughput),
//! on a current-thread and a two-worker tokio runtime, with the checker off
//! and on.

use std::collections::HashSet;
use std::io;
use std::time::Instant;

use groupq::{Config, RunId};
use groupq_tokio::{Driver, Handle, RunEvents, RunSpec, Runner};

/// Runs never answer and never end; every command is accepted and ignored.
#[derive(Default)]
struct Noop {
    live: HashSet<RunId>,
}

impl Runner for Noop {
    fn spawn(&mut self, spec: RunSpec, _events: RunEvents) {
        self.live.insert(spec.run);
    }
    fn deliver(&mut self, _run: RunId, _message: &str) -> io::Result<()> {
        Ok(())
    }
    fn close_input(&mut self, _run: RunId) -> io::Result<()> {
        Ok(())
    }
    fn kill(&mut self, _run: RunId) {}
    fn release(&mut self, run: RunId) {
        self.live.remove(&run);
    }
}

const GROUPS: usize = 1_000;

async fn sequential(handle: &Handle, inputs: usize) -> f64 {
    let start = Instant::now();
    for i in 0..inputs {
        handle
            .message(format!("g{}", i % GROUPS), "hello")
            .await
            .expect("accepted");
    }
    start.elapsed().as_secs_f64()
}

async fn concurrent(handle: &Handle, inputs: usize, callers: usize) -> f64 {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..callers {
        let handle = handle.clone();
        tasks.push(tokio::spawn(async move {
            for i in (c..inputs).step_by(callers) {
                handle
                    .message(format!("g{}", i % GROUPS), "hello")
                    .await
                    .expect("accepted");
            }
        }));
    }
    for task in tasks {
        task.await.expect("caller");
    }
    start.elapsed().as_secs_f64()
}

fn main() {
    let inputs: usize = std::env::args()
        .nth(1)
        .map_or(200_000, |n| n.parse().expect("INPUTS is a number"));
    println!("driver overhead, no-op runtime, {inputs} messages to {GROUPS} groups, max_active 8");
    println!(
        "{:<16} {:<8} {:<8} {:>12} {:>10}",
        "tokio", "checker", "callers", "inputs/s", "ns/input"
    );
    for (flavor, callers, checked) in [
        ("current_thread", 1, false),
        ("current_thread", 8, false),
        ("multi_thread(2)", 1, false),
        ("multi_thread(2)", 8, false),
        ("current_thread", 1, true),
        ("current_thread", 8, true),
    ] {
        let runtime = if flavor == "current_thread" {
            tokio::runtime::Builder::new_current_thread()
        } else {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(2);
            builder
        }
        .enable_all()
        .build()
        .expect("tokio");
        {
            let seconds = runtime.block_on(async {
                let config = Config::default().with_max_active(8);
                let (driver, handle, events) = Driver::builder(config)
                    .checked(checked)
                    .build(Noop::default())
                    .expect("config");
                drop(events);
                let running = tokio::spawn(driver.run());
                let seconds = if callers == 1 {
                    sequential(&handle, inputs).await
                } else {
                    concurrent(&handle, inputs, callers).await
                };
                drop(handle);
                running.abort();
                seconds
            });
            println!(
                "{flavor:<16} {:<8} {callers:<8} {:>12.0} {:>10.0}",
                if checked { "on" } else { "off" },
                inputs as f64 / seconds,
                seconds * 1e9 / inputs as f64
            );
        }
    }
}
