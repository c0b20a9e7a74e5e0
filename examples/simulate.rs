//! Workload W (defined in `benches/workload/w.rs`) driven end to end, with the invariant
//! checker on by default.
//!
//! ```text
//! cargo run --release --example simulate -- [--groups 10,1000] [--events N]
//!     [--seed S] [--policy fair|legacy|both] [--no-check]
//!     [--max-group-tasks N] [--max-queued-tasks N] [--debounce-ms MS]
//!     [--breaker] [--background]
//! ```
//!
//! The caps are off by default (W as in the README); on, the tasks over a
//! cap are answered `Refused` and W goes on.
//!
//! Prints one line per group count and policy:
//!
//! ```text
//! workload=W policy=fair groups=100000 events=1000000 ns_per_event=41.3 floor_ns_per_event=29.8 ratio=1.39 spawns=300123 allocs_per_event=0.000 bytes_per_waiting_group=88
//! ```
//!
//! - `ns_per_event`: the W loop over a machine that already ran W once and
//!   was drained (so its buffers have grown): the steady state. The fastest
//!   of three timed passes.
//! - `floor_ns_per_event`: the floor loop (`w::Floor`) over the same events,
//!   same warm-up, its three passes interleaved with the machine's so that
//!   both see the same load; `ratio` is the first over the second.
//! - `spawns`: `Spawn` commands in one pass.
//! - `allocs_per_event`: heap allocations during the timed passes, per event,
//!   counted by the global allocator below (with the checker on, its own
//!   allocations are counted too).
//! - `bytes_per_waiting_group`: live heap bytes with `G` groups waiting for
//!   one slot (`max_active` 1, each group sent one message), minus the live
//!   bytes before, divided by `G`. After all of them ran and exited the
//!   example checks that the machine tracks no group (a group with nothing
//!   pending holds nothing) and exits with an error otherwise.

#[path = "../benches/workload/w.rs"]
mod w;

use std::process::ExitCode;
use std::time::Instant;

use groupq::{
    Background, Breaker, Command, Config, Debounce, Exit, Exited, Machine, Message, Output, Policy,
    RunId, Steppable, Time,
};
use groupq_check::Checked;
use w::{Driver, Floor, WEvent};

#[path = "../benches/support/counting.rs"]
mod counting;

#[global_allocator]
static GLOBAL: counting::Counting = counting::Counting;

struct Args {
    groups: Vec<u32>,
    events: usize,
    seed: u64,
    policies: Vec<Policy>,
    check: bool,
    max_group_tasks: Option<usize>,
    max_queued_tasks: Option<usize>,
    /// Debounce a burst: quiet `MS`, at most four times that in all.
    debounce_ms: Option<u64>,
    /// The breaker with its defaults.
    breaker: bool,
    /// Half of W's tasks as background tasks (ids 4 to 7; id 7 skipped
    /// while its group is active), at most two background runs, a 1 s
    /// skip window.
    background: bool,
}

const USAGE: &str = "usage: simulate [--groups G[,G...]]... [--events N] [--seed S] \
                     [--policy fair|legacy|both] [--no-check] \
                     [--max-group-tasks N] [--max-queued-tasks N] [--debounce-ms MS] [--breaker] [--background]";

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        groups: Vec::new(),
        events: w::EVENTS,
        seed: w::SEED,
        policies: vec![Policy::Fair, Policy::Legacy],
        check: true,
        max_group_tasks: None,
        debounce_ms: None,
        breaker: false,
        background: false,
        max_queued_tasks: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--groups" => {
                for g in value()?.split(',') {
                    let g: u32 = g.trim().parse().map_err(|e| format!("--groups {g}: {e}"))?;
                    if g == 0 {
                        return Err("--groups must be at least 1".into());
                    }
                    args.groups.push(g);
                }
            }
            "--events" => args.events = value()?.parse().map_err(|e| format!("--events: {e}"))?,
            "--seed" => args.seed = value()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--policy" => {
                args.policies = match value()?.as_str() {
                    "fair" => vec![Policy::Fair],
                    "legacy" => vec![Policy::Legacy],
                    "both" => vec![Policy::Fair, Policy::Legacy],
                    other => return Err(format!("--policy {other}: fair, legacy or both")),
                }
            }
            "--no-check" => args.check = false,
            "--max-group-tasks" => {
                let n = value()?
                    .parse()
                    .map_err(|e| format!("--max-group-tasks: {e}"))?;
                args.max_group_tasks = Some(n);
            }
            "--max-queued-tasks" => {
                let n = value()?
                    .parse()
                    .map_err(|e| format!("--max-queued-tasks: {e}"))?;
                args.max_queued_tasks = Some(n);
            }
            "--debounce-ms" => {
                let n: u64 = value()?
                    .parse()
                    .map_err(|e| format!("--debounce-ms: {e}"))?;
                args.debounce_ms = Some(n);
            }
            "--breaker" => args.breaker = true,
            "--background" => args.background = true,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    if args.events == 0 {
        return Err("--events must be at least 1".into());
    }
    if args.groups.is_empty() {
        args.groups = w::GROUPS.to_vec();
    }
    Ok(args)
}

/// One timed pass, in nanoseconds.
fn timed(f: impl FnOnce()) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_nanos() as f64
}

/// Timed passes per measurement; the fastest is kept.
const PASSES: usize = 3;

/// What [`drive`] measured.
struct Measured {
    /// Fastest machine pass, ns.
    ns: f64,
    /// Fastest floor pass, ns.
    floor_ns: f64,
    /// `Spawn`s in one pass (every pass spawns the same).
    spawns: u64,
    /// Allocations during the timed machine passes.
    allocs: u64,
}

/// A warm-up pass of the machine and of the floor, then [`PASSES`] timed
/// passes of each, interleaved so that both see the same load from the
/// rest of the system. The machine is drained (every group forgotten,
/// buffers kept) before each pass, the floor's map cleared.
fn drive<D>(
    d: &mut Driver<D>,
    floor: &mut Floor,
    events: &[WEvent],
    groups: u32,
) -> Result<Measured, String>
where
    D: Steppable<u32, u32, ()>,
    D::Error: std::fmt::Display,
{
    d.run(events);
    let spawns = d.spawns;
    d.drain();
    floor.run(events, groups);
    let mut m = Measured {
        ns: f64::INFINITY,
        floor_ns: f64::INFINITY,
        spawns,
        allocs: 0,
    };
    for _ in 0..PASSES {
        floor.clear();
        m.floor_ns = m.floor_ns.min(timed(|| {
            floor.run(events, groups);
        }));
        d.spawns = 0;
        let before = counting::allocs();
        m.ns = m.ns.min(timed(|| d.run(events)));
        m.allocs += counting::allocs() - before;
        if d.spawns != spawns {
            return Err(format!("pass spawned {} runs, warm-up {spawns}", d.spawns));
        }
        d.drain();
    }
    if let Some(first) = &d.first_error {
        return Err(format!("{} inputs failed; the first {first}", d.rejected));
    }
    let stats = d.machine.machine().stats();
    if stats.tracked_groups != 0 {
        return Err(format!("drained machine still tracks {stats:?}"));
    }
    Ok(m)
}

/// Live heap bytes per group with `groups` groups waiting for one slot;
/// also checks that every group is forgotten once its work is done.
fn waiting_bytes(policy: Policy, groups: u32) -> Result<f64, String> {
    let config = w::config(policy).with_max_active(1);
    let mut q: Machine<u32, u32, ()> = Machine::new(config).map_err(|e| e.to_string())?;
    let mut live = None;
    fn spawned(live: &mut Option<RunId>) -> impl FnMut(Output<u32, u32, ()>) + '_ {
        move |o| {
            if let Output::Command(Command::Spawn { run, .. }) = o {
                *live = Some(run);
            }
        }
    }
    let base = counting::live();
    for group in 0..groups {
        q.step(Time::ZERO, Message { group }, spawned(&mut live))
            .map_err(|e| e.to_string())?;
    }
    let held = counting::live().saturating_sub(base);
    let stats = q.stats();
    if stats.waiting_groups + stats.live_runs != groups as usize {
        return Err(format!(
            "expected {groups} groups waiting or live: {stats:?}"
        ));
    }
    let mut now = Time::ZERO;
    while let Some(run) = live.take() {
        now = now.saturating_add(std::time::Duration::from_millis(1));
        let exit = Exit::Clean;
        q.step(now, Exited { run, exit }, spawned(&mut live))
            .map_err(|e| e.to_string())?;
    }
    if q.stats().tracked_groups != 0 || (0..groups).any(|g| q.explain(&g).is_some()) {
        return Err(format!(
            "groups with nothing pending still held: {:?}",
            q.stats()
        ));
    }
    Ok(held as f64 / f64::from(groups))
}

fn measure(args: &Args, events: &[WEvent], groups: u32, policy: Policy) -> Result<String, String> {
    let n = events.len() as f64;
    let config: Config = w::config(policy)
        .with_max_group_tasks(args.max_group_tasks)
        .with_max_queued_tasks(args.max_queued_tasks)
        .with_debounce(args.debounce_ms.map(|ms| {
            let quiet = std::time::Duration::from_millis(ms);
            Debounce::new(quiet, quiet * 4)
        }))
        .with_breaker(args.breaker.then(Breaker::default));
    let config = match args.background {
        true => config.with_background(
            Background::default()
                .with_max_running(Some(2))
                .with_skip_window(Some(std::time::Duration::from_secs(1))),
        ),
        false => config,
    };
    let mut floor = Floor::default();
    // The same driver and loop either way: only the machine differs.
    let m = if args.check {
        let checked = Checked::new(config).map_err(|e| e.to_string())?;
        let mut d = Driver::over(checked, groups);
        d.background = args.background;
        drive(&mut d, &mut floor, events, groups)?
    } else {
        let mut d = Driver::new(config, groups);
        d.background = args.background;
        drive(&mut d, &mut floor, events, groups)?
    };
    drop(floor);
    let bytes = waiting_bytes(policy, groups)?;
    let name = match policy {
        Policy::Fair => "fair",
        _ => "legacy",
    };
    let (ns, floor_ns) = (m.ns / n, m.floor_ns / n);
    Ok(format!(
        "workload=W policy={name} groups={groups} events={} ns_per_event={ns:.1} \
         floor_ns_per_event={floor_ns:.1} ratio={:.2} spawns={} \
         allocs_per_event={:.3} bytes_per_waiting_group={bytes:.0}",
        events.len(),
        ns / floor_ns,
        m.spawns,
        m.allocs as f64 / (PASSES as f64 * n),
    ))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let events = w::events(args.events, args.seed);
    for &groups in &args.groups {
        for &policy in &args.policies {
            match measure(&args, &events, groups, policy) {
                Ok(line) => println!("{line}"),
                Err(e) => {
                    eprintln!("groups={groups} policy={policy:?}: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
    }
    ExitCode::SUCCESS
}
