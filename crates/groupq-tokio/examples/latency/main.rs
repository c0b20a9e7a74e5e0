//! Message-to-first-output latency and start rate on real runs, through the
//! driver and bare, on processes and (when a daemon answers) Docker, each
//! against the runner design before this round in the same process.
//!
//! `cargo run --release -p groupq-tokio --example latency [-- --runs N] [--tasks N] [--image TAG]`
//!
//! - **latency**: the time from a message handed to the driver to its reply
//!   (the agent's first output line) arriving back, one group at a time
//!   (each message starts a new agent), median and p99 over `--runs`
//!   (default 50). Three ways alternate, run by run, so all see the same
//!   machine: the agent started bare (its run directory written, the
//!   process or `docker run` spawned, its first stdout line read from a
//!   pipe, no driver); through the driver with this round's runner (stdout
//!   to a file read by position; the Docker Engine API); and through the
//!   driver with the design before it (`baseline.rs`: stdout a pipe; an
//!   attached `docker run -i --rm` client).
//! - **start rate**: `--tasks` (default 64) task runs to as many groups at
//!   once with `max_active` 8: runs started and ended per second, this
//!   round's runner and the baseline alternating.
//!
//! The agent answers at once (`--turn-ms 0`). Docker needs the image built
//! by `docker/build-image.sh`. Runs of this example re-execute it as the
//! agent for processes.

mod baseline;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use baseline::{Baseline, Launch};
use groupq::Config;
use groupq_protocol::{write_atomic, write_message, CLOSE_SENTINEL, INPUT_DIR, RUN_FILE};
use groupq_tokio::{
    CommandLine, DockerRunner, Driver, Handle, HostEvent, HostEvents, ProcessRunner, Runner,
};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Process,
    Docker,
}

struct Options {
    runs: usize,
    tasks: usize,
    image: String,
}

fn agent_command() -> CommandLine {
    CommandLine::new(std::env::current_exe().expect("own path"))
        .arg("agent")
        .arg("--turn-ms")
        .arg("0")
}

/// This round's runner of `kind`.
fn current(kind: Kind, dir: &Path, image: &str) -> Box<dyn Runner> {
    match kind {
        Kind::Process => Box::new(ProcessRunner::new(dir, agent_command()).expect("work dir")),
        Kind::Docker => Box::new(
            DockerRunner::new(dir, image)
                .expect("work dir")
                .with_args(["--turn-ms", "0"])
                .with_owner("groupq-latency"),
        ),
    }
}

/// The design before this round, of `kind`.
fn before(kind: Kind, dir: &Path, image: &str) -> Box<dyn Runner> {
    let args = vec!["--turn-ms".to_string(), "0".to_string()];
    let launch = match kind {
        Kind::Process => {
            let mut with_agent = vec!["agent".to_string()];
            with_agent.extend(args);
            Launch::Process(std::env::current_exe().expect("own path"), with_agent)
        }
        Kind::Docker => Launch::DockerCli(image.to_string(), args),
    };
    Box::new(Baseline::new(dir, launch))
}

fn driver(runner: Box<dyn Runner>) -> (tokio::task::JoinHandle<()>, Handle, HostEvents) {
    let config = Config::default()
        .with_max_active(8)
        .with_idle_timeout(Duration::from_millis(10));
    let (driver, handle, events) = Driver::builder(config).build(runner).expect("config");
    let running = tokio::spawn(async move {
        driver.run().await.expect("driver");
    });
    (running, handle, events)
}

/// One message through a driver: the time to its reply; returns once the
/// run has exited, so that the next one starts on a quiet machine.
async fn driven_one(handle: &Handle, events: &mut HostEvents, group: String) -> Duration {
    let start = Instant::now();
    handle
        .message(group.clone(), "ping")
        .await
        .expect("accepted");
    let mut took = None;
    loop {
        match events.recv().await.expect("driver") {
            HostEvent::Reply { group: g, .. } if g == group => took = Some(start.elapsed()),
            HostEvent::Exited { group: g, .. } if g == group => break,
            _ => {}
        }
    }
    took.expect("a reply before the exit")
}

/// `(bare, current, before)` samples, alternating run by run.
async fn samples(kind: Kind, dir: &Path, options: &Options) -> [Vec<Duration>; 3] {
    let (a, current_handle, mut current_events) =
        driver(current(kind, &dir.join("current"), &options.image));
    let (b, before_handle, mut before_events) =
        driver(before(kind, &dir.join("before"), &options.image));
    let mut out = [Vec::new(), Vec::new(), Vec::new()];
    for i in 0..options.runs {
        out[0].push(bare_one(kind, &dir.join("bare"), i, options).await);
        out[1].push(driven_one(&current_handle, &mut current_events, format!("g{i}")).await);
        out[2].push(driven_one(&before_handle, &mut before_events, format!("g{i}")).await);
    }
    for (handle, running) in [(current_handle, a), (before_handle, b)] {
        handle.shutdown().await.expect("shutdown");
        running.await.expect("join");
    }
    out
}

/// Bare: write the run directory, start the agent, read its first line.
async fn bare_one(kind: Kind, dir: &Path, i: usize, options: &Options) -> Duration {
    let run_dir = dir.join(format!("bare-{i}"));
    let group_dir = dir.join(format!("bare-group-{i}"));
    let start = Instant::now();
    let input = run_dir.join(INPUT_DIR);
    std::fs::create_dir_all(&input).expect("run dir");
    std::fs::create_dir_all(&group_dir).expect("group dir");
    let assignment = format!(r#"{{"run":{i},"group":"g{i}","work":"messages"}}"#);
    write_atomic(&run_dir, RUN_FILE, assignment.as_bytes()).expect("run file");
    write_message(&input, 1, "ping").expect("message");
    let mut command = match kind {
        Kind::Process => {
            let line = agent_command();
            let mut command = Command::new(line.program);
            command
                .args(line.args)
                .env("GROUPQ_IPC", &run_dir)
                .env("GROUPQ_GROUP_DIR", &group_dir);
            command
        }
        Kind::Docker => {
            let mut command = Command::new("docker");
            command
                .args(["run", "-i", "--rm", "--init", "--network", "none", "-v"])
                .arg(format!("{}:/ipc", run_dir.display()))
                .arg("-v")
                .arg(format!("{}:/group", group_dir.display()))
                .arg(&options.image)
                .args(["--turn-ms", "0"]);
            command
        }
    };
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    lines
        .next_line()
        .await
        .expect("read")
        .expect("a first line");
    let sample = start.elapsed();
    write_atomic(&input, CLOSE_SENTINEL, b"").expect("close");
    while lines.next_line().await.expect("read").is_some() {}
    child.wait().await.expect("exit");
    sample
}

/// `tasks` task runs at once, `max_active` 8: runs per second.
async fn start_rate(runner: Box<dyn Runner>, options: &Options) -> f64 {
    let config = Config::default().with_max_active(8);
    let (driver, handle, mut events) = Driver::builder(config).build(runner).expect("config");
    let running = tokio::spawn(driver.run());
    let start = Instant::now();
    for i in 0..options.tasks {
        handle
            .task(format!("t{i}"), "job", "work")
            .await
            .expect("queued");
    }
    let mut exited = 0;
    while exited < options.tasks {
        if let HostEvent::Exited { exit, .. } = events.recv().await.expect("driver") {
            assert!(exit.is_clean(), "a task run failed: {exit}");
            exited += 1;
        }
    }
    let rate = options.tasks as f64 / start.elapsed().as_secs_f64();
    handle.shutdown().await.expect("shutdown");
    running.await.expect("join").expect("driver");
    rate
}

fn percentile(samples: &mut [Duration], p: f64) -> f64 {
    samples.sort();
    let index = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[index].as_secs_f64() * 1000.0
}

fn docker_ready(image: &str) -> Result<(), String> {
    let inspect = std::process::Command::new("docker")
        .args(["image", "inspect", image])
        .output()
        .map_err(|e| format!("no docker client: {e}"))?;
    if inspect.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&inspect.stderr).trim().to_string())
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "agent") {
        std::process::exit(i32::from(
            groupq_agent::agent::main(&args[1..]) != std::process::ExitCode::SUCCESS,
        ));
    }
    let mut options = Options {
        runs: 50,
        tasks: 64,
        image: "groupq-agent:dev".into(),
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let value = args.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--runs" => options.runs = value.parse().expect("--runs N"),
            "--tasks" => options.tasks = value.parse().expect("--tasks N"),
            "--image" => options.image = value.clone(),
            other => panic!("unknown argument {other:?}"),
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio");
    let scratch: PathBuf =
        std::env::temp_dir().join(format!("groupq-latency-{}", std::process::id()));
    let mut kinds = vec![(Kind::Process, "process")];
    match docker_ready(&options.image) {
        Ok(()) => kinds.push((Kind::Docker, "docker")),
        Err(why) => println!("SKIPPED docker: {why}"),
    }
    println!(
        "message -> first output line, {} runs each (ms); task runs started and ended per second with max_active 8 ({} tasks)",
        options.runs, options.tasks
    );
    println!(
        "{:<8} {:<34} {:>8} {:>8} {:>8}",
        "runner", "way", "median", "p99", "runs/s"
    );
    for (kind, name) in kinds {
        let dir = scratch.join(name);
        let (mut samples, rates) = runtime.block_on(async {
            let samples = samples(kind, &dir, &options).await;
            // The two runners' start rates, alternating, twice each.
            let mut rates = [0.0f64; 2];
            for round in 0..2 {
                let at = dir.join(format!("rate-{round}"));
                rates[0] +=
                    start_rate(current(kind, &at.join("current"), &options.image), &options).await
                        / 2.0;
                rates[1] += start_rate(before(kind, &at.join("before"), &options.image), &options)
                    .await
                    / 2.0;
            }
            (samples, rates)
        });
        let ways = match kind {
            Kind::Process => [
                "bare (pipe, no driver)",
                "driven, stdout a file (this round)",
                "driven, stdout a pipe (before)",
            ],
            Kind::Docker => [
                "bare docker run",
                "driven, Engine API (this round)",
                "driven, docker run client (before)",
            ],
        };
        for (i, way) in ways.iter().enumerate() {
            let rate = match i {
                0 => String::new(),
                n => format!("{:.1}", rates[n - 1]),
            };
            let (median, p99) = (
                percentile(&mut samples[i], 0.5),
                percentile(&mut samples[i], 0.99),
            );
            println!("{name:<8} {way:<34} {median:>8.2} {p99:>8.2} {rate:>8}");
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
}
