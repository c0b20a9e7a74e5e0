//! Crash test: the orchestrator (a durable driver on real processes) runs
//! as a child process and is killed with SIGKILL at seeded random moments,
//! then restarted from its state directory each time. At the end, the
//! agents' own logs and run files must show: no group ever had two agents
//! alive, across restarts too; at most `max_active` alive at once; every
//! task's agent started exactly once, or never with the task reported
//! failed (a crash between its launch marker and its start: the launch may
//! have begun, so it is not run again); no task started twice; every
//! message answered by some agent's successful turn (messages are at least
//! once); and the final incarnation shut down with nothing pending.
//!
//! The same harness runs on Docker when a daemon is there (and must, with
//! `GROUPQ_REQUIRE_DOCKER=1`); otherwise that half says loudly it skipped.
//!
//! Each incarnation syncs every input or by group commit, and snapshots
//! every 5, 25 or 1,000 inputs, drawn from the seed: a restart may change
//! the policy.
//!
//! `GROUPQ_CRASH_POINTS` (default 20 on processes, 10 on Docker) and
//! `GROUPQ_CRASH_SEED` (default 7) set the crash points and their times.

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use groupq::Config;
use groupq_protocol::{AssignedWork, Assignment};
use groupq_tokio::{
    CommandLine, DockerRunner, Driver, Durability, HostEvent, ProcessRunner, Runner, SyncPolicy,
};

const GROUPS: usize = 4;
const PER_GROUP: usize = 4;
const MAX_ACTIVE: usize = 2;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The orchestrator's body, run in the child process.
#[test]
#[ignore = "the crash test's child: run by `a_crashing_orchestrator_keeps_its_promises`"]
fn crash_child() {
    let (Ok(state), Ok(work)) = (std::env::var("CRASH_STATE"), std::env::var("CRASH_WORK")) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let runtime: Box<dyn Runner> = if std::env::var_os("CRASH_DOCKER").is_some() {
            Box::new(
                DockerRunner::new(Path::new(&work), support::IMAGE)
                    .unwrap()
                    .with_args(["--turn-ms", "120"])
                    .with_owner(support::owner(Path::new(&work)))
                    .keep_run_dirs(true),
            )
        } else {
            let agent = CommandLine::new(support::agent_bin())
                .arg("--turn-ms")
                .arg("120");
            Box::new(
                ProcessRunner::new(Path::new(&work), agent)
                    .unwrap()
                    .keep_run_dirs(true),
            )
        };
        let config = Config::default()
            .with_max_active(MAX_ACTIVE)
            .with_idle_timeout(Duration::from_millis(60))
            .with_retry_base(Duration::from_millis(20))
            // Every crash fails the runs it cuts off: enough retries that
            // none of the test's groups runs out of them.
            .with_max_retries(1000);
        // Each incarnation may sync and snapshot differently: a restart
        // may change the policy, and every pairing gets crashed into.
        let sync = if std::env::var_os("CRASH_SYNC_EVERY_INPUT").is_some() {
            SyncPolicy::EveryInput
        } else {
            SyncPolicy::Group {
                max_delay: Duration::from_millis(2),
                max_inputs: 32,
            }
        };
        let snapshot_every = env_or("CRASH_SNAPSHOT_EVERY", 25);
        let durability = Durability::new(&state)
            .sync(sync)
            .snapshot_every(snapshot_every);
        let (driver, handle, mut events) = Driver::builder(config)
            .durable(durability)
            .build(runtime)
            .unwrap();
        let first = driver
            .restored()
            .is_some_and(|r| r.replayed == 0 && !r.snapshot);
        let running = tokio::spawn(driver.run());
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                if let HostEvent::TaskFailed { id, .. } = event {
                    println!("FAILED {id}");
                }
            }
        });
        if first {
            for g in 0..GROUPS {
                for i in 0..PER_GROUP {
                    handle
                        .message(format!("g{g}"), format!("m{g}-{i}"))
                        .await
                        .unwrap();
                    handle
                        .task(
                            format!("g{g}"),
                            format!("t{g}-{i}"),
                            format!("task {g}-{i}"),
                        )
                        .await
                        .unwrap();
                }
            }
        }
        println!("SUBMITTED");
        // Done when no group holds anything.
        loop {
            let mut busy = false;
            for g in 0..GROUPS {
                match handle.status(format!("g{g}")).await {
                    Ok(explained) => busy |= explained.is_some(),
                    // A state restored shut down with nothing live: the
                    // loop has ended already.
                    Err(_) => {
                        println!("REPORT already shut down");
                        println!("DONE");
                        return;
                    }
                }
            }
            if !busy {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        match handle.shutdown().await {
            Ok(report) => println!(
                "REPORT {} {}",
                report.tasks.len() + report.messages.len(),
                report.live_runs.len()
            ),
            // An earlier incarnation shut down and was killed after.
            Err(groupq_tokio::DriverError::Rejected(groupq::Error::ShutDown)) => {
                println!("REPORT already shut down")
            }
            Err(e) => panic!("{e}"),
        }
        drop(handle);
        running.await.unwrap().unwrap();
        println!("DONE");
    });
}

/// A child orchestrator, with its stdout lines sent to `lines`; `draw`
/// (seeded) picks its sync policy and snapshot interval.
fn start(
    state: &Path,
    work: &Path,
    docker: bool,
    draw: u64,
    lines: &mpsc::Sender<String>,
) -> Child {
    let mut command = Command::new(std::env::current_exe().unwrap());
    if docker {
        command.env("CRASH_DOCKER", "1");
    }
    if draw % 2 == 0 {
        command.env("CRASH_SYNC_EVERY_INPUT", "1");
    }
    command.env(
        "CRASH_SNAPSHOT_EVERY",
        [5, 25, 1000][(draw / 2 % 3) as usize].to_string(),
    );
    let mut child = command
        .args([
            "--ignored",
            "--exact",
            "crash_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("CRASH_STATE", state)
        .env("GROUPQ_AGENT_BIN", support::agent_bin())
        .env("CRASH_WORK", work)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let lines = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    child
}

fn wait_for(lines: &mpsc::Receiver<String>, what: &str, within: Duration, seen: &mut Vec<String>) {
    let end = Instant::now() + within;
    while let Ok(line) = lines.recv_timeout(end.saturating_duration_since(Instant::now())) {
        let hit = line.contains(what);
        seen.push(line);
        if hit {
            return;
        }
    }
    panic!("no {what} line within {within:?}; saw {seen:?}");
}

#[test]
fn a_crashing_orchestrator_keeps_its_promises() {
    crash_test(false, env_or("GROUPQ_CRASH_POINTS", 20));
}

#[test]
fn a_crashing_orchestrator_keeps_its_promises_on_docker() {
    if support::docker_ready("a_crashing_orchestrator_keeps_its_promises") {
        crash_test(true, env_or("GROUPQ_CRASH_POINTS", 10));
    }
}

fn crash_test(docker: bool, points: u64) {
    let mut seed = env_or("GROUPQ_CRASH_SEED", 7);
    let kind = if docker { "docker" } else { "processes" };
    let base = std::env::temp_dir().join(format!("groupq-crash-{kind}-{}", std::process::id()));
    let (state, work) = (base.join("state"), base.join("work"));
    let _ = std::fs::remove_dir_all(&base);
    let (tx, rx) = mpsc::channel();
    let mut seen = Vec::new();
    let mut child = start(&state, &work, docker, seed, &tx);
    wait_for(&rx, "SUBMITTED", Duration::from_secs(60), &mut seen);
    // Containers start slower than processes: crashes spread wider.
    let spread = if docker { 1500 } else { 180 };
    for _ in 0..points {
        // xorshift: reproducible crash times from the seed.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(20 + seed % spread));
        child.kill().unwrap();
        child.wait().unwrap();
        child = start(&state, &work, docker, seed >> 20, &tx);
        wait_for(&rx, "SUBMITTED", Duration::from_secs(60), &mut seen);
    }
    wait_for(&rx, "DONE", Duration::from_secs(300), &mut seen);
    child.wait().unwrap();
    for report in seen.iter().filter(|l| l.contains("REPORT")) {
        assert!(
            report.ends_with("REPORT 0 0") || report.ends_with("already shut down"),
            "the final shutdown left work: {report}"
        );
    }

    let spans = groupq_agent::log::read_runs(&work.join("runs")).unwrap();
    let (max, max_in_group) = groupq_agent::log::max_alive(&spans);
    let overlaps: Vec<_> = spans
        .iter()
        .flat_map(|a| spans.iter().map(move |b| (a, b)))
        .filter(|(a, b)| a.run < b.run && a.group == b.group && b.start < a.end && a.start < b.end)
        .collect();
    assert!(
        max_in_group <= 1,
        "a group had {max_in_group} agents alive at once: {overlaps:?}"
    );
    assert!(max <= MAX_ACTIVE, "{max} agents alive at once");

    // A task was launched when its agent started: it wrote its log.
    let mut launches: BTreeMap<String, u32> = BTreeMap::new();
    for span in &spans {
        let file = span.dir.join("run.json");
        let assignment: Assignment =
            serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        if let AssignedWork::Task { task_id, .. } = assignment.work {
            *launches.entry(task_id).or_default() += 1;
        }
    }
    let failed: Vec<&str> = seen
        .iter()
        .filter_map(|l| l.strip_prefix("FAILED "))
        .collect();
    for g in 0..GROUPS {
        for i in 0..PER_GROUP {
            let id = format!("t{g}-{i}");
            match launches.get(&id) {
                Some(1) => {}
                // A crash between the launch marker and the start: the
                // launch may have begun, so the task is failed, not re-run.
                None if failed.contains(&id.as_str()) => {}
                n => panic!(
                    "task {id} launched {n:?} times, reported failed: {}",
                    failed.contains(&id.as_str())
                ),
            }
        }
    }
    // Every message was answered by a successful turn, by the agents' own
    // logs (at least once: a crash may cut a run off after its answer).
    let answered: std::collections::BTreeSet<&str> = spans
        .iter()
        .flat_map(|s| s.answered.iter().map(String::as_str))
        .collect();
    for g in 0..GROUPS {
        for i in 0..PER_GROUP {
            let text = format!("m{g}-{i}");
            assert!(
                answered.contains(text.as_str()),
                "message {text} was answered by no agent"
            );
        }
    }
    let killed = spans.iter().filter(|s| s.killed).count();
    let failed = failed.len();
    if docker {
        // `--rm` removes a container just after its `docker run` returns.
        let listed = || {
            std::process::Command::new("docker")
                .args(["ps", "-aq", "--filter"])
                .arg(format!("label=io.groupq.owner={}", support::owner(&work)))
                .output()
                .unwrap()
                .stdout
        };
        let end = Instant::now() + Duration::from_secs(10);
        while !listed().is_empty() && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(100));
        }
        let left = String::from_utf8_lossy(&listed()).into_owned();
        assert!(left.is_empty(), "containers left: {left}");
    }
    support::say(&format!(
        "crash test on {kind}: {points} crash points, {} restarts, {} runs with an agent ({killed} cut off), {} tasks, {failed} reported failed, 0 violations",
        points,
        spans.len(),
        GROUPS * PER_GROUP
    ));
    let _ = std::fs::remove_dir_all(PathBuf::from(&base));
}
