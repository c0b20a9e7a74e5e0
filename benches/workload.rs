//! Criterion benches for workload W (defined in `benches/workload/w.rs`) and
//! three stress cases.
//!
//! - `W/G=<G>`: W at G = 10, 1,000, 100,000 and 1,000,000 with N =
//!   1,000,000 events, both policies, and the floor loop over the same
//!   events in the same group, so that the ratio to the floor is read off
//!   one run. Every timed pass starts from a machine that already ran W and
//!   was drained (the steady state: buffers have grown, no group is held).
//! - `pending_tasks`: one group with 100 or 100,000 pending tasks; per
//!   iteration one new task, one duplicate, one exit that starts the next
//!   task. Flat across depths: dedup and drain are O(1).
//! - `waiting_line`: 10 or 100,000 groups waiting on `max_active` 1; per
//!   iteration the live run exits (the head of the line gets the slot) and
//!   its group sends a message again (back of the line).
//! - `retry_storm`: W at G = 1,000 where every exit fails, so every Messages
//!   run rolls back and schedules a retry, and retry deadlines keep firing.
//!
//! `cargo bench --bench workload`; filter with e.g. `-- 'W/G=1000/'`.

#[path = "workload/w.rs"]
mod w;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use groupq::{
    Command, Config, Event, Exit, Exited, Machine, Message, Output, Policy, RunId, Steppable, Task,
    TaskAnswer, Time,
};
use w::{Driver, Floor, WEvent};

/// Times `iters` passes of W over a warm driver, draining (untimed) before
/// each pass.
fn w_passes(d: &mut Driver, events: &[WEvent], iters: u64) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        d.drain();
        let t = Instant::now();
        d.run(events);
        total += t.elapsed();
    }
    total
}

fn workload_w(c: &mut Criterion) {
    let events = w::events(w::EVENTS, w::SEED);
    for groups in w::GROUPS {
        let mut g = c.benchmark_group(format!("W/G={groups}"));
        g.throughput(Throughput::Elements(events.len() as u64))
            .sample_size(10)
            .sampling_mode(SamplingMode::Flat)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3));
        g.bench_function("floor", |b| {
            let mut floor = Floor::default();
            floor.run(&events, groups);
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    floor.clear();
                    let t = Instant::now();
                    black_box(floor.run(&events, groups));
                    total += t.elapsed();
                }
                total
            })
        });
        for (name, policy) in [("fair", Policy::Fair), ("legacy", Policy::Legacy)] {
            g.bench_function(name, |b| {
                let mut d = Driver::new(w::config(policy), groups);
                d.run(&events);
                b.iter_custom(|iters| w_passes(&mut d, &events, iters))
            });
        }
        g.finish();
    }
}

/// One input through the shared loop; returns its answer and the last run
/// it spawned.
fn step<E: Event<u32, u32, ()> + Clone>(
    q: &mut Machine<u32, u32, ()>,
    now: Time,
    event: E,
) -> (E::Answer, Option<RunId>) {
    let mut last = None;
    let stepped = q
        .step(now, event, |o| {
            if let Output::Command(Command::Spawn { run, .. }) = o {
                last = Some(run);
            }
        })
        .expect("accepted");
    (stepped.answer, last)
}

fn task(id: u32) -> Task<u32, u32, ()> {
    Task {
        group: 0,
        id,
        payload: (),
    }
}

fn pending_tasks(c: &mut Criterion) {
    let mut g = c.benchmark_group("pending_tasks");
    g.throughput(Throughput::Elements(1))
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    for depth in [100u32, 100_000] {
        g.bench_with_input(BenchmarkId::from_parameter(depth), &depth, |b, &depth| {
            let config = Config::default().with_max_active(1);
            let mut q: Machine<u32, u32, ()> = Machine::new(config).expect("valid config");
            let mut now = Time::ZERO;
            // Task 0 runs; tasks 1..=depth wait behind it.
            let mut live = step(&mut q, now, task(0)).1.expect("task 0 started");
            for id in 1..=depth {
                step(&mut q, now, task(id));
            }
            let mut next = depth + 1;
            b.iter(|| {
                now = Time::from_nanos(now.as_nanos() + 1);
                // A new task joins the back of the group's queue...
                assert_eq!(step(&mut q, now, task(next)).0, TaskAnswer::Queued);
                // ...a duplicate of a pending one is refused...
                let duplicate = task(next - depth / 2);
                assert_eq!(step(&mut q, now, duplicate).0, TaskAnswer::Duplicate);
                next += 1;
                // ...and the live task exits, starting the next one.
                let exited = Exited {
                    run: live,
                    exit: Exit::Clean,
                };
                live = step(&mut q, now, exited).1.expect("next task started");
            });
            assert_eq!(q.stats().queued_jobs, depth as usize);
        });
    }
    g.finish();
}

fn waiting_line(c: &mut Criterion) {
    let mut g = c.benchmark_group("waiting_line");
    g.throughput(Throughput::Elements(1))
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    for groups in [10u32, 100_000] {
        g.bench_with_input(
            BenchmarkId::from_parameter(groups),
            &groups,
            |b, &groups| {
                let config = Config::default().with_max_active(1);
                let mut q: Machine<u32, u32, ()> = Machine::new(config).expect("valid config");
                let mut now = Time::ZERO;
                let mut live = None;
                for group in 0..groups {
                    live = step(&mut q, now, Message { group }).1.or(live);
                }
                let mut live = live.expect("group 0 started");
                let mut running = 0;
                b.iter(|| {
                    now = Time::from_nanos(now.as_nanos() + 1);
                    // The head of the line gets the slot; the group that ran is
                    // forgotten, then sends a message and goes to the back.
                    let exited = Exited {
                        run: live,
                        exit: Exit::Clean,
                    };
                    live = step(&mut q, now, exited)
                        .1
                        .expect("head of the line started");
                    step(&mut q, now, Message { group: running });
                    running = (running + 1) % groups;
                });
                assert_eq!(q.stats().waiting_groups, groups as usize - 1);
            },
        );
    }
    g.finish();
}

fn retry_storm(c: &mut Criterion) {
    const N: usize = 100_000;
    let events = w::events(N, w::SEED);
    let mut g = c.benchmark_group("retry_storm");
    g.throughput(Throughput::Elements(N as u64))
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    g.bench_function("G=1000", |b| {
        let mut d = Driver::new(w::config(Policy::Fair), 1_000);
        d.exit = Exit::Failed;
        d.run(&events);
        b.iter_custom(|iters| w_passes(&mut d, &events, iters))
    });
    g.finish();
}

criterion_group!(
    benches,
    workload_w,
    pending_tasks,
    waiting_line,
    retry_storm
);
criterion_main!(benches);
