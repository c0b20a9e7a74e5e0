//! What the task window costs: 1,000,000 tasks (1,000 groups × 1,000 ids)
//! run through a [`Host`] and end, with the window on (24 h) and off; the
//! difference in live heap is the memory per remembered id. Then the time
//! of one lookup ([`Host::task_outcome`]) at that size, of a remembered id
//! and of an unknown one, and of a resubmission answered `Duplicate`
//! through [`Host::apply`]. Hits and misses alternate in one loop.
//!
//! `cargo run --release -p groupq-host --example task_window -- [IDS]`
//! (default 1,000,000; a multiple of 1,000).

#[path = "../../../benches/support/counting.rs"]
mod counting;

use std::error::Error;
use std::hint::black_box;
use std::time::{Duration, Instant};

use groupq::{Config, Time};
use groupq_host::{Answer, Effect, Entry, ExitRecord, Host, Submitted};

#[global_allocator]
static GLOBAL: counting::Counting = counting::Counting;

const GROUPS: usize = 1_000;

fn group(g: usize) -> String {
    format!("group-{g:04}")
}

fn task_id(i: usize) -> String {
    format!("task-{i:07}")
}

/// A host that ran `ids` tasks to their end, remembering them or not.
fn host_after(ids: usize, window: Option<Duration>) -> Result<Host, Box<dyn Error>> {
    let config = Config::default().with_max_active(GROUPS);
    let mut host = Host::new(config, 1)?;
    let window_ms = window.map(|w| w.as_millis() as u64);
    host.apply(Time::ZERO, Entry::TaskWindow { window_ms })?;
    for round in 0..ids / GROUPS {
        let now = Time::from_millis(round as u64 + 1);
        for g in 0..GROUPS {
            let entry = Entry::Task {
                group: group(g),
                id: task_id(round * GROUPS + g),
                payload: String::new(),
            };
            host.apply(now, entry)?;
        }
        let mut spawned = Vec::new();
        while let Some(effect) = host.poll() {
            if let Effect::Spawn(spec) = effect {
                spawned.push(spec.run.get());
            }
        }
        for run in spawned {
            let exit = ExitRecord::Code { code: 0 };
            host.apply(now, Entry::Exited { run, exit })?;
        }
        host.discard_effects();
    }
    Ok(host)
}

fn main() -> Result<(), Box<dyn Error>> {
    let ids: usize = match std::env::args().nth(1) {
        Some(n) => n.parse()?,
        None => 1_000_000,
    };
    if ids == 0 || ids % GROUPS != 0 {
        return Err(format!("IDS must be a positive multiple of {GROUPS}").into());
    }
    let base = counting::live();
    let started = Instant::now();
    let without = host_after(ids, None)?;
    let plain = counting::live() - base;
    let fill_off = started.elapsed();
    drop(without);
    let base = counting::live();
    let started = Instant::now();
    let mut host = host_after(ids, Some(Duration::from_secs(24 * 3600)))?;
    let remembering = counting::live() - base;
    let fill_on = started.elapsed();
    assert_eq!(host.remembered_tasks(), ids);
    println!(
        "task window, {ids} ids in {GROUPS} groups: host heap {:.1} MB with the window, {:.1} MB without: {:.0} bytes per remembered id",
        remembering as f64 / 1e6,
        plain as f64 / 1e6,
        (remembering - plain) as f64 / ids as f64
    );
    println!(
        "  running them through the host: {:.2} s with the window, {:.2} s without",
        fill_on.as_secs_f64(),
        fill_off.as_secs_f64()
    );

    // Lookups: a remembered id and an unknown one, alternating.
    let probes = 1_000_000;
    let asks: Vec<(String, String)> = (0..1024)
        .map(|k| {
            let i = (k * 7919) % ids;
            (group(i % GROUPS), task_id(i))
        })
        .collect();
    let unknown: Vec<(String, String)> = (0..1024)
        .map(|k| (group(k % GROUPS), format!("never-{k}")))
        .collect();
    let (mut hit, mut miss) = (Duration::ZERO, Duration::ZERO);
    for round in 0..probes / 1024 {
        let t = Instant::now();
        for (g, id) in &asks {
            black_box(host.task_outcome(g, id)).expect("remembered");
        }
        let t2 = Instant::now();
        for (g, id) in &unknown {
            assert!(black_box(host.task_outcome(g, id)).is_none());
        }
        let t3 = Instant::now();
        if round > 0 {
            hit += t2 - t;
            miss += t3 - t2;
        }
    }
    let n = (probes / 1024 - 1) as f64 * 1024.0;
    println!(
        "  lookup at {ids} ids: {:.0} ns remembered, {:.0} ns unknown",
        hit.as_nanos() as f64 / n,
        miss.as_nanos() as f64 / n
    );

    // A resubmission of a task that ran: answered Duplicate, nothing runs.
    let now = Time::from_millis((ids / GROUPS) as u64 + 1);
    let rounds = 100_000;
    let t = Instant::now();
    for k in 0..rounds {
        let (g, id) = &asks[k % asks.len()];
        let entry = Entry::Task {
            group: g.clone(),
            id: id.clone(),
            payload: String::new(),
        };
        match host.apply(now, entry)? {
            Answer::Task(Submitted::Duplicate(_)) => {}
            other => return Err(format!("a remembered task was {other:?}").into()),
        }
    }
    println!(
        "  a resubmitted task answered Duplicate through Host::apply: {:.0} ns (building the entry included)",
        t.elapsed().as_nanos() as f64 / rounds as f64
    );
    Ok(())
}
