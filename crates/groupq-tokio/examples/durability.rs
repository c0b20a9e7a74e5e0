//! What durability costs, measured on the state directory's filesystem:
//!
//! 1. **Journal cost per input**: messages to 1,000 groups (`max_active`
//!    8) through a no-op runtime, with no journal, with a sync after every
//!    input, and with group commit (2 ms or 64 inputs). One caller awaiting
//!    each call (its round trip: p50 and p99, and what the journal adds to
//!    the p99), and 64 concurrent callers (inputs per second).
//! 2. **Restore time** of a state directory holding workload W (defined in
//!    `benches/workload/w.rs`: messages, tasks with repeating ids, idles,
//!    exits in random order) driven through the driver: from the journal
//!    alone, and from a snapshot of the same state. Then the snapshot's
//!    size per tracked group.
//!
//! `cargo run --release -p groupq-tokio --example durability -- [--inputs N]
//! [--w-events N] [--groups G,G] [--dir DIR]` (defaults: 20,000 inputs,
//! 1,000,000 W events (0: only part 1), G = 1,000 and 100,000, a directory
//! under the system's temporary directory).

use std::collections::HashMap;
use std::error::Error;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use groupq::{Config, RunId};
use groupq_protocol::{AgentLine, Status, TurnLine};
use groupq_tokio::{Driver, Durability, RunEvent, RunEvents, RunExit, RunSpec, Runner, SyncPolicy};

/// Live runs in spawn order, each with its group and its event sender.
#[derive(Default)]
struct Live {
    runs: Vec<(RunId, String)>,
    by_group: HashMap<String, RunId>,
    events: HashMap<RunId, RunEvents>,
}

/// A runtime whose runs do nothing until the workload makes them speak.
#[derive(Clone, Default)]
struct Scripted(Arc<Mutex<Live>>);

impl Scripted {
    fn live(&self) -> std::sync::MutexGuard<'_, Live> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Runner for Scripted {
    fn spawn(&mut self, spec: RunSpec, events: RunEvents) {
        let mut live = self.live();
        live.runs.push((spec.run, spec.group.clone()));
        live.by_group.insert(spec.group, spec.run);
        live.events.insert(spec.run, events);
    }
    fn deliver(&mut self, _: RunId, _: &str) -> io::Result<()> {
        Ok(())
    }
    fn close_input(&mut self, _: RunId) -> io::Result<()> {
        Ok(())
    }
    fn kill(&mut self, _: RunId) {}
    fn release(&mut self, run: RunId) {
        let mut live = self.live();
        live.events.remove(&run);
        live.runs.retain(|(r, _)| *r != run);
        live.by_group.retain(|_, r| *r != run);
    }
}

/// The command line.
struct Args {
    inputs: usize,
    events: usize,
    groups: Vec<usize>,
    dir: PathBuf,
}

fn args() -> Result<Args, Box<dyn Error>> {
    let mut parsed = Args {
        inputs: 20_000,
        events: 1_000_000,
        groups: vec![1_000, 100_000],
        dir: std::env::temp_dir().join(format!("groupq-durability-{}", std::process::id())),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--inputs" => parsed.inputs = value()?.parse()?,
            "--w-events" => parsed.events = value()?.parse()?,
            "--groups" => {
                parsed.groups = value()?
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<_, _>>()?
            }
            "--dir" => parsed.dir = PathBuf::from(value()?),
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    Ok(parsed)
}

fn main() -> Result<(), Box<dyn Error>> {
    let Args {
        inputs,
        events,
        groups,
        dir,
    } = args()?;
    std::fs::create_dir_all(&dir)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    println!("state directory: {}", dir.display());
    println!("1. journal cost: {inputs} messages to 1,000 groups, no-op runtime");
    println!(
        "{:<26} {:>12} {:>10} {:>10} {:>14} {:>16}",
        "durability", "1 caller/s", "p50 us", "p99 us", "p99 added us", "64 callers/s"
    );
    let mut memory_p99 = None;
    for (name, sync) in [
        ("none (in memory)", None),
        ("sync every input", Some(SyncPolicy::EveryInput)),
        (
            "group commit 2 ms / 64",
            Some(SyncPolicy::Group {
                max_delay: Duration::from_millis(2),
                max_inputs: 64,
            }),
        ),
    ] {
        let state = dir.join(format!("cost-{}", name.split(' ').next().unwrap_or("x")));
        let _ = std::fs::remove_dir_all(&state);
        let (per_second, p50, p99) = runtime.block_on(journal_cost(&state, sync, inputs, 1))?;
        let _ = std::fs::remove_dir_all(&state);
        let (concurrent, _, _) = runtime.block_on(journal_cost(&state, sync, inputs, 64))?;
        let _ = std::fs::remove_dir_all(&state);
        let base = *memory_p99.get_or_insert(p99);
        println!(
            "{name:<26} {per_second:>12.0} {:>10.1} {:>10.1} {:>14.1} {concurrent:>16.0}",
            p50.as_secs_f64() * 1e6,
            p99.as_secs_f64() * 1e6,
            p99.saturating_sub(base).as_secs_f64() * 1e6,
        );
    }
    if events == 0 {
        return Ok(());
    }
    println!();
    println!("2. restore of workload W ({events} events, max_active 5) through the driver");
    println!(
        "{:>9} {:>9} {:>12} {:>14} {:>14} {:>14} {:>9} {:>16}",
        "G",
        "records",
        "journal MB",
        "from journal s",
        "from snapshot s",
        "snapshot bytes",
        "tracked",
        "bytes per group"
    );
    for g in groups {
        let state = dir.join(format!("w-{g}"));
        let _ = std::fs::remove_dir_all(&state);
        let figures = runtime.block_on(restore_figures(&state, g, events))?;
        println!(
            "{g:>9} {:>9} {:>12.1} {:>14.3} {:>14.3} {:>14} {:>9} {:>16.0}",
            figures.records,
            figures.journal_bytes as f64 / 1e6,
            figures.from_journal.as_secs_f64(),
            figures.from_snapshot.as_secs_f64(),
            figures.snapshot_bytes,
            figures.tracked,
            figures.per_group,
        );
        let _ = std::fs::remove_dir_all(&state);
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Messages from `callers` concurrent callers; returns inputs per second
/// and the p50 and p99 of one call's round trip.
async fn journal_cost(
    state: &Path,
    sync: Option<SyncPolicy>,
    inputs: usize,
    callers: usize,
) -> Result<(f64, Duration, Duration), Box<dyn Error>> {
    let mut builder = Driver::builder(Config::default().with_max_active(8));
    if let Some(sync) = sync {
        builder = builder.durable(Durability::new(state).sync(sync));
    }
    let (driver, handle, events) = builder.build(Scripted::default())?;
    drop(events);
    let running = tokio::spawn(driver.run());
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..callers {
        let handle = handle.clone();
        tasks.push(tokio::spawn(async move {
            let mut took = Vec::new();
            for i in (c..inputs).step_by(callers) {
                let at = Instant::now();
                handle.message(format!("g{}", i % 1_000), "hello").await?;
                took.push(at.elapsed());
            }
            Ok::<_, groupq_tokio::DriverError>(took)
        }));
    }
    let mut took = Vec::new();
    for task in tasks {
        took.extend(task.await??);
    }
    let seconds = start.elapsed().as_secs_f64();
    drop(handle);
    running.abort();
    let _ = running.await;
    took.sort();
    let at = |q: f64| took[((took.len() - 1) as f64 * q) as usize];
    Ok((inputs as f64 / seconds, at(0.5), at(0.99)))
}

struct RestoreFigures {
    records: u64,
    journal_bytes: u64,
    from_journal: Duration,
    from_snapshot: Duration,
    snapshot_bytes: u64,
    tracked: usize,
    per_group: f64,
}

/// splitmix64, as workload W (`benches/workload/w.rs`) draws its numbers.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn config() -> Config {
    Config::default().with_max_active(5)
}

/// Drives W(`groups`, `events`) into a durable driver at `state` (no
/// snapshot) and stops it as a crash would; then restores it,
/// snapshots that state, and restores again.
async fn restore_figures(
    state: &Path,
    groups: usize,
    events: usize,
) -> Result<RestoreFigures, Box<dyn Error>> {
    // Synced after every input: an awaited call under group commit would
    // wait for its group's delay. The restore does not depend on it.
    let durability = |snapshot_every| Durability::new(state).snapshot_every(snapshot_every);
    let runtime = Scripted::default();
    let (driver, handle, mut host) = Driver::builder(config())
        .durable(durability(u64::MAX))
        .build(runtime.clone())?;
    // The host reads its events, as a real one would.
    tokio::spawn(async move { while host.recv().await.is_some() {} });
    let running = tokio::spawn(driver.run());
    let mut seed = 42;
    let draws: Vec<(u64, u64)> = (0..events)
        .map(|_| {
            (
                splitmix(&mut seed) & 0xFFFF_FFFF,
                splitmix(&mut seed) & 0xFFFF_FFFF,
            )
        })
        .collect();
    // One event at a time, each call awaited: the next event sees the runs
    // the last one started, as W wants.
    for (a, x) in draws {
        let r = a % 100;
        let group = format!("g{}", x % groups as u64);
        if r < 50 {
            handle.message(group, "m").await?;
        } else if r < 65 {
            let id = ((x >> 16) % 8).to_string();
            handle.task(group, id, "").await?;
        } else if r < 70 {
            let live = runtime.live();
            if let Some(events) = live.by_group.get(&group).and_then(|r| live.events.get(r)) {
                events.send(RunEvent::Line {
                    line: AgentLine::Idle,
                    read_to: 0,
                });
            }
        } else {
            let mut live = runtime.live();
            if !live.runs.is_empty() {
                let at = (x % live.runs.len() as u64) as usize;
                let (run, group) = live.runs.swap_remove(at);
                live.by_group.remove(&group);
                if let Some(events) = live.events.get(&run) {
                    // The run answers what it was handed, then exits 0.
                    let line = AgentLine::Turn(TurnLine {
                        status: Status::Success,
                        reply: Some("done".into()),
                        error: None,
                        messages: None,
                        tokens: None,
                        context_limit: None,
                        compacted_from: None,
                        fatal: false,
                        retry_after_ms: None,
                    });
                    events.send(RunEvent::Line { line, read_to: 0 });
                    events.send(RunEvent::Exited(RunExit::Code(0)));
                }
            }
        }
    }
    // Every input answered and journaled: stop as a crash would.
    handle.stats().await?;
    running.abort();
    let _ = running.await;
    let journal_bytes = std::fs::metadata(state.join("journal"))?.len();

    let start = Instant::now();
    let (driver, _, _) = Driver::builder(config())
        .durable(durability(u64::MAX))
        .build(Scripted::default())?;
    let from_journal = start.elapsed();
    let records = driver.restored().map_or(0, |r| r.replayed as u64);
    drop(driver);

    // The same state, written as a snapshot; then restored from it.
    let (snapshot_bytes, tracked) = snapshot_now(durability(1)).await?;
    let start = Instant::now();
    let (driver, _, _) = Driver::builder(config())
        .durable(durability(u64::MAX))
        .build(Scripted::default())?;
    let from_snapshot = start.elapsed();
    if !driver.restored().is_some_and(|r| r.snapshot) {
        return Err("the restore did not start from the snapshot".into());
    }

    // The snapshot of an empty driver, to take off before dividing.
    let empty = state.with_extension("empty");
    let _ = std::fs::remove_dir_all(&empty);
    let (empty_bytes, _) = snapshot_now(Durability::new(&empty).snapshot_every(1)).await?;
    let _ = std::fs::remove_dir_all(&empty);
    Ok(RestoreFigures {
        records,
        journal_bytes,
        from_journal,
        from_snapshot,
        snapshot_bytes,
        tracked,
        per_group: (snapshot_bytes.saturating_sub(empty_bytes)) as f64 / tracked.max(1) as f64,
    })
}

/// Restores the state of `durability` (a snapshot due after every input)
/// and gives it one input, so that it is written as a snapshot; returns
/// the snapshot's size and the groups the core tracks.
async fn snapshot_now(durability: Durability) -> Result<(u64, usize), Box<dyn Error>> {
    let path = durability.dir().join("snapshot");
    let (driver, handle, _host) = Driver::builder(config())
        .durable(durability)
        .build(Scripted::default())?;
    let running = tokio::spawn(driver.run());
    handle.pause("snapshot-now").await?;
    let stats = handle.stats().await?;
    running.abort();
    let _ = running.await;
    Ok((std::fs::metadata(path)?.len(), stats.core.tracked_groups))
}
