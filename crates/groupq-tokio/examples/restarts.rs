//! What a restart of a durable driver costs:
//!
//! 1. **After a clean shutdown with work left**: 1,000 groups, each with 5
//!    queued tasks and 5 unread messages (10,000 items, `max_active` 8),
//!    shut down cleanly; the time from building the next driver on the
//!    same state to its first answered call, with every item put back
//!    (checked from its stats). Runs here close at once (no agents).
//! 2. **Adopting live runs**: `--live` (default 100) agents, real processes
//!    of the reference agent, each alive and idle in a group of its own;
//!    the driver detaches, and the next one on the state adopts them: the
//!    time from building it to its first answered call, with every run
//!    adopted (its stats count them live), then a message to each group
//!    answered by its adopted agent (checked from the replies).
//!
//! `cargo run --release -p groupq-tokio --example restarts -- [--groups N]
//! [--live N] [--rounds N]`. Each figure is the median of `--rounds`
//! (default 5) restarts. Runs of this example re-execute it as the agent.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use groupq::{Config, RunId};
use groupq_tokio::{
    CommandLine, Driver, Durability, Handle, HostEvent, HostEvents, ProcessRunner, RunEvent,
    RunEvents, RunExit, RunSpec, Runner,
};

/// Runs that end as soon as their input is closed, as an agent with
/// nothing to do would.
#[derive(Clone, Default)]
struct Obedient(Arc<Mutex<Vec<(RunId, RunEvents)>>>);

impl Runner for Obedient {
    fn spawn(&mut self, spec: RunSpec, events: RunEvents) {
        self.0.lock().unwrap().push((spec.run, events));
    }
    fn deliver(&mut self, _: RunId, _: &str) -> io::Result<()> {
        Ok(())
    }
    fn close_input(&mut self, run: RunId) -> io::Result<()> {
        self.end(run, RunExit::Code(0));
        Ok(())
    }
    fn kill(&mut self, run: RunId) {
        self.end(run, RunExit::Signal(9));
    }
    fn release(&mut self, _: RunId) {}
}

impl Obedient {
    fn end(&self, run: RunId, exit: RunExit) {
        let mut live = self.0.lock().unwrap();
        if let Some(at) = live.iter().position(|(r, _)| *r == run) {
            let (_, events) = live.swap_remove(at);
            events.send(RunEvent::Exited(exit));
        }
    }
}

fn start(
    config: Config,
    durability: Durability,
    runner: Box<dyn Runner>,
) -> (tokio::task::JoinHandle<()>, Handle, HostEvents) {
    let (driver, handle, events) = Driver::builder(config)
        .durable(durability)
        .build(runner)
        .expect("the state restores");
    let running = tokio::spawn(async move { driver.run().await.expect("the driver runs") });
    (running, handle, events)
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Part 1: the time to start again after a clean shutdown with `groups` ×
/// 10 items left.
async fn after_shutdown(dir: &Path, groups: usize) -> Duration {
    let _ = std::fs::remove_dir_all(dir);
    let config = Config::default()
        .with_max_active(8)
        .with_shutdown_grace(Duration::ZERO)
        .with_kill_grace(Duration::from_millis(10));
    let durability = Durability::new(dir.join("state"));
    let (running, handle, _events) = start(
        config.clone(),
        durability.clone(),
        Box::new(Obedient::default()),
    );
    for g in 0..groups {
        for i in 0..5 {
            handle
                .task(format!("g{g}"), format!("t{i}"), "work")
                .await
                .expect("queued");
            handle
                .message(format!("g{g}"), format!("m{i}"))
                .await
                .expect("stored");
        }
    }
    let left = handle.shutdown().await.expect("shut down");
    running.await.expect("joined");
    let items = left.tasks.len() + left.messages.iter().map(|m| m.texts.len()).sum::<usize>();

    let began = Instant::now();
    let (running, handle, _events) = start(config, durability, Box::new(Obedient::default()));
    let stats = handle.stats().await.expect("answered");
    let took = began.elapsed();
    // Put back: the unread messages in the host, the tasks in the core
    // (eight groups' work went to runs again at once).
    let back = stats.unread_messages + stats.core.queued_jobs + stats.core.live_runs;
    assert!(
        back >= items * 9 / 10 && items >= groups * 9,
        "{items} items left, {back} put back ({stats:?})"
    );
    handle.shutdown().await.expect("shut down");
    running.await.expect("joined");
    took
}

/// Part 2: the time to adopt `live` idle agents after a detach; every
/// adopted agent then answers a message.
async fn adoption(dir: &Path, live: usize) -> Duration {
    let _ = std::fs::remove_dir_all(dir);
    let config = Config::default()
        .with_max_active(live)
        .with_idle_timeout(Duration::from_secs(600));
    let durability = Durability::new(dir.join("state"));
    let runner = || -> Box<dyn Runner> {
        let agent = CommandLine::new(std::env::current_exe().expect("own path"))
            .arg("agent")
            .arg("--turn-ms")
            .arg("0");
        Box::new(ProcessRunner::new(&dir.join("work"), agent).expect("work dir"))
    };
    let (running, handle, mut events) = start(config.clone(), durability.clone(), runner());
    for g in 0..live {
        handle
            .message(format!("g{g}"), "hello")
            .await
            .expect("sent");
    }
    replies(&mut events, live).await;
    let detached = handle.detach().await.expect("detached");
    assert_eq!(detached.live_runs.len(), live);
    running.await.expect("joined");

    let began = Instant::now();
    let (running, handle, mut events) = start(config, durability, runner());
    let stats = handle.stats().await.expect("answered");
    let took = began.elapsed();
    assert_eq!(stats.core.live_runs, live, "every run adopted");
    for g in 0..live {
        handle
            .message(format!("g{g}"), "again")
            .await
            .expect("sent");
    }
    replies(&mut events, live).await;
    handle.shutdown().await.expect("shut down");
    running.await.expect("joined");
    took
}

async fn replies(events: &mut HostEvents, n: usize) {
    let mut seen = 0;
    while seen < n {
        match tokio::time::timeout(Duration::from_secs(60), events.recv()).await {
            Ok(Some(HostEvent::Reply { .. })) => seen += 1,
            Ok(Some(_)) => {}
            Ok(None) => panic!("the driver stopped"),
            Err(_) => panic!("{seen} replies of {n} after a minute"),
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "agent") {
        std::process::exit(i32::from(
            groupq_agent::agent::main(&args[1..]) != std::process::ExitCode::SUCCESS,
        ));
    }
    let (mut groups, mut live, mut rounds) = (1_000, 100, 5);
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let value: usize = args
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{arg} needs a number"));
        match arg.as_str() {
            "--groups" => groups = value,
            "--live" => live = value,
            "--rounds" => rounds = value.max(1),
            other => panic!("unknown argument {other:?}"),
        }
    }
    let scratch: PathBuf =
        std::env::temp_dir().join(format!("groupq-restarts-{}", std::process::id()));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio");
    runtime.block_on(async {
        let mut shutdown = Vec::new();
        let mut adopt = Vec::new();
        for _ in 0..rounds {
            shutdown.push(after_shutdown(&scratch.join("shutdown"), groups).await);
            adopt.push(adoption(&scratch.join("adopt"), live).await);
        }
        println!(
            "restart after a clean shutdown with {} items left: {:.1} ms to the first answer, every item put back (median of {rounds})",
            groups * 10,
            median(shutdown).as_secs_f64() * 1e3
        );
        println!(
            "restart adopting {live} live agents (processes): {:.1} ms to the first answer, each adopted agent answering after (median of {rounds})",
            median(adopt).as_secs_f64() * 1e3
        );
    });
    let _ = std::fs::remove_dir_all(&scratch);
}
