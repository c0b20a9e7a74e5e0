//! Message-to-first-output latency and start rate on real runs, through the
//! driver and bare, on processes and (when a daemon answers) Docker.
//!
//! `cargo run --release -p groupq-tokio --example latency [-- --runs N] [--tasks N] [--image TAG]`
//!
//! - **latency**: the time from a message handed to the driver to its reply
//!   (the agent's first output line) arriving back, one group at a time
//!   (each message starts a new agent), median and p99 over `--runs`
//!   (default 50). The floor beside it: the same agent started bare (its
//!   run directory written, the process or `docker run` spawned, its first
//!   stdout line read), without the driver; bare and driven starts
//!   alternate, so both see the same machine.
//! - **start rate**: `--tasks` (default 64) task runs to as many groups at
//!   once with `max_active` 8: runs started and ended per second.
//!
//! The agent answers at once (`--turn-ms 0`). Docker needs the image built
//! by `docker/build-image.sh`. Runs of this example re-execute it as the
//! agent for the process runtime.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use groupq::Config;
use groupq_protocol::{write_atomic, write_message, CLOSE_SENTINEL, INPUT_DIR, RUN_FILE};
use groupq_tokio::{CommandLine, DockerRunner, Driver, HostEvent, ProcessRunner, Runner};
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

fn runtime(kind: Kind, dir: &Path, image: &str) -> Box<dyn Runner> {
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

/// Through the driver (message in, reply out, one new agent each time),
/// interleaved with bare starts so that both see the same machine state:
/// `(bare, driven)` samples.
async fn samples(kind: Kind, dir: &Path, options: &Options) -> (Vec<Duration>, Vec<Duration>) {
    let config = Config::default()
        .with_max_active(8)
        .with_idle_timeout(Duration::from_millis(10));
    let (driver, handle, mut events) = Driver::builder(config)
        .build(runtime(kind, dir, &options.image))
        .expect("config");
    let running = tokio::spawn(driver.run());
    let (mut bare, mut driven) = (Vec::new(), Vec::new());
    for i in 0..options.runs {
        bare.push(bare_one(kind, &dir.join("bare"), i, options).await);
        let group = format!("g{i}");
        let start = Instant::now();
        handle
            .message(group.clone(), "ping")
            .await
            .expect("accepted");
        loop {
            match events.recv().await.expect("driver") {
                HostEvent::Reply { group: g, .. } if g == group => {
                    driven.push(start.elapsed());
                }
                // The next agent starts once this one is gone, as bare.
                HostEvent::Exited { group: g, .. } if g == group => break,
                _ => {}
            }
        }
    }
    handle.shutdown().await.expect("shutdown");
    running.await.expect("join").expect("driver");
    (bare, driven)
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
async fn start_rate(kind: Kind, dir: &Path, options: &Options) -> f64 {
    let config = Config::default().with_max_active(8);
    let (driver, handle, mut events) = Driver::builder(config)
        .build(runtime(kind, dir, &options.image))
        .expect("config");
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
        "message -> first output line, {} runs each (ms), and task runs started/s with max_active 8 ({} tasks)",
        options.runs, options.tasks
    );
    println!(
        "{:<8} {:>12} {:>9} {:>12} {:>9} {:>10} {:>10}",
        "runtime", "bare median", "bare p99", "driven med.", "driven p99", "added", "runs/s"
    );
    for (kind, name) in kinds {
        let dir = scratch.join(name);
        let (mut bare, mut driven, rate) = runtime.block_on(async {
            let (bare, driven) = samples(kind, &dir, &options).await;
            let rate = start_rate(kind, &dir.join("rate"), &options).await;
            (bare, driven, rate)
        });
        let (bare_median, bare_p99) = (percentile(&mut bare, 0.5), percentile(&mut bare, 0.99));
        let (median, p99) = (percentile(&mut driven, 0.5), percentile(&mut driven, 0.99));
        println!(
            "{name:<8} {bare_median:>12.2} {bare_p99:>9.2} {median:>12.2} {p99:>9.2} {:>9.1}% {rate:>10.1}",
            (median - bare_median) / bare_median * 100.0
        );
    }
    let _ = std::fs::remove_dir_all(&scratch);
}
