//! Crash test: the orchestrator (a durable driver on real processes, or
//! Docker containers) runs as a child process and is stopped at seeded
//! random moments, then started again on its state directory each time.
//! A stop is a SIGKILL (most of them), a clean shutdown, or a detach; each
//! incarnation draws its restart policy (adopt or kill), its sync policy
//! (every input or group commit) and its snapshot interval (5, 25 or
//! 1,000 inputs). The work is submitted once, by the first incarnation:
//! what a clean shutdown leaves, the next start puts back by itself.
//!
//! At the end, judged from the agents' own logs and run files (and the
//! engine's list on Docker): no group ever had two agents alive, across
//! restarts too; at most `max_active` were alive at once; every message
//! was answered by some agent's successful turn (messages are at least
//! once); every task ran at most once, and the state of record knows each
//! (resubmitted, each is a duplicate that ran: succeeded, and its agent
//! started once; or failed, its agent started at most once: a task whose
//! launch may have begun is never run again); and the final incarnation
//! shut down with nothing left.
//!
//! `GROUPQ_CRASH_POINTS` (default 20 on processes, 10 on Docker) and
//! `GROUPQ_CRASH_SEED` (default 7) set the stops and their times.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use groupq::Config;
use groupq_protocol::{AssignedWork, Assignment};
use groupq_tokio::{
    CommandLine, DockerRunner, Driver, Duplicate, Durability, ProcessRunner, RestartPolicy, Runner,
    Submitted, SyncPolicy,
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

fn task_ids() -> Vec<(String, String)> {
    (0..GROUPS)
        .flat_map(|g| (0..PER_GROUP).map(move |i| (format!("g{g}"), format!("t{g}-{i}"))))
        .collect()
}

/// The orchestrator's body, run in the child process.
#[test]
#[ignore = "the crash test's child: run by `a_crashing_orchestrator_keeps_its_promises`"]
fn crash_child() {
    let (Ok(state), Ok(work), Ok(ctl)) = (
        std::env::var("CRASH_STATE"),
        std::env::var("CRASH_WORK"),
        std::env::var("CRASH_CTL"),
    ) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let runner: Box<dyn Runner> = if std::env::var_os("CRASH_DOCKER").is_some() {
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
            .with_shutdown_grace(Duration::from_millis(400))
            .with_kill_grace(Duration::from_millis(300))
            // Every crash fails the runs it cuts off: enough retries that
            // none of the test's groups runs out of them.
            .with_max_retries(1000);
        let sync = if std::env::var_os("CRASH_SYNC_EVERY_INPUT").is_some() {
            SyncPolicy::EveryInput
        } else {
            SyncPolicy::Group {
                max_delay: Duration::from_millis(2),
                max_inputs: 32,
            }
        };
        let policy = if std::env::var_os("CRASH_KILL_POLICY").is_some() {
            RestartPolicy::Kill
        } else {
            RestartPolicy::Adopt
        };
        let durability = Durability::new(&state)
            .sync(sync)
            .snapshot_every(env_or("CRASH_SNAPSHOT_EVERY", 25))
            .on_restart(policy);
        let (driver, handle, mut events) = Driver::builder(config)
            .durable(durability)
            .build(runner)
            .unwrap();
        let first = driver
            .restored()
            .is_some_and(|r| r.replayed == 0 && !r.snapshot);
        let running = tokio::spawn(driver.run());
        tokio::spawn(async move { while events.recv().await.is_some() {} });
        if first {
            for g in 0..GROUPS {
                for i in 0..PER_GROUP {
                    let group = format!("g{g}");
                    handle.message(&group, format!("m{g}-{i}")).await.unwrap();
                    handle
                        .task(&group, format!("t{g}-{i}"), format!("task {g}-{i}"))
                        .await
                        .unwrap();
                }
            }
        }
        println!("SUBMITTED");
        loop {
            // The parent asks for a clean stop through a file.
            if let Ok(ask) = std::fs::read_to_string(&ctl) {
                let _ = std::fs::remove_file(&ctl);
                match ask.trim() {
                    "detach" => drop(handle.detach().await.unwrap()),
                    _ => drop(handle.shutdown().await.unwrap()),
                }
                drop(handle);
                running.await.unwrap().unwrap();
                println!("STOPPED {}", ask.trim());
                return;
            }
            let mut busy = false;
            for g in 0..GROUPS {
                busy |= handle.status(format!("g{g}")).await.unwrap().is_some();
            }
            if !busy {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Nothing left: the state of record knows every task.
        for (group, id) in task_ids() {
            let answer = match handle.task(&group, &id, "again").await.unwrap() {
                Submitted::Duplicate(Duplicate::Ran(o)) if o.succeeded => "succeeded",
                Submitted::Duplicate(Duplicate::Ran(_)) => "failed",
                Submitted::Queued => "queued",
                _ => "waiting",
            };
            println!("TASK {id} {answer}");
        }
        let left = handle.shutdown().await.unwrap();
        println!(
            "REPORT {} {} {}",
            left.tasks.len(),
            left.messages.len(),
            left.live_runs.len()
        );
        drop(handle);
        running.await.unwrap().unwrap();
        println!("DONE");
    });
}

/// A child orchestrator, with its stdout lines sent to `lines`; `draw`
/// (seeded) picks its sync policy, snapshot interval and restart policy.
fn start(base: &Path, docker: bool, draw: u64, lines: &mpsc::Sender<String>) -> Child {
    let mut command = Command::new(std::env::current_exe().unwrap());
    if docker {
        command.env("CRASH_DOCKER", "1");
    }
    if draw % 2 == 0 {
        command.env("CRASH_SYNC_EVERY_INPUT", "1");
    }
    if draw / 6 % 3 == 0 {
        command.env("CRASH_KILL_POLICY", "1");
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
        .env("CRASH_STATE", base.join("state"))
        .env("CRASH_WORK", base.join("work"))
        .env("CRASH_CTL", base.join("ctl"))
        .env("GROUPQ_AGENT_BIN", support::agent_bin())
        .stdout(Stdio::piped())
        // Kept for a failure's diagnosis: the base is left behind then.
        .stderr(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(base.join("children.stderr"))
                .unwrap(),
        )
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

/// How the orchestrator was stopped, each time.
#[derive(Default, Debug)]
struct Stops {
    killed: usize,
    shut_down: usize,
    detached: usize,
}

fn crash_test(docker: bool, points: u64) {
    let mut seed = env_or("GROUPQ_CRASH_SEED", 7);
    let kind = if docker { "docker" } else { "processes" };
    let base = std::env::temp_dir().join(format!("groupq-crash-{kind}-{}", std::process::id()));
    let work = base.join("work");
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).unwrap();
    let (tx, rx) = mpsc::channel();
    let mut seen = Vec::new();
    let mut stops = Stops::default();
    let mut child = start(&base, docker, seed, &tx);
    wait_for(&rx, "SUBMITTED", Duration::from_secs(60), &mut seen);
    // Containers start slower than processes: stops spread wider.
    let spread = if docker { 1500 } else { 180 };
    for _ in 0..points {
        // xorshift: reproducible stop times and kinds from the seed.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(20 + seed % spread));
        match seed % 10 {
            0 | 1 => {
                let ask = if seed % 10 == 0 { "shutdown" } else { "detach" };
                std::fs::write(base.join("ctl"), ask).unwrap();
                // It may have finished everything meanwhile.
                let end = Instant::now() + Duration::from_secs(60);
                let mut stopped = false;
                while let Ok(line) = rx.recv_timeout(end.saturating_duration_since(Instant::now()))
                {
                    let done = line.contains("STOPPED") || line.contains("DONE");
                    stopped |= line.contains("STOPPED");
                    seen.push(line);
                    if done {
                        break;
                    }
                }
                child.wait().unwrap();
                let _ = std::fs::remove_file(base.join("ctl"));
                if stopped {
                    match ask {
                        "shutdown" => stops.shut_down += 1,
                        _ => stops.detached += 1,
                    }
                }
            }
            _ => {
                child.kill().unwrap();
                child.wait().unwrap();
                stops.killed += 1;
            }
        }
        child = start(&base, docker, seed >> 20, &tx);
        wait_for(&rx, "SUBMITTED", Duration::from_secs(60), &mut seen);
    }
    wait_for(&rx, "DONE", Duration::from_secs(300), &mut seen);
    child.wait().unwrap();
    let report = seen
        .iter()
        .rev()
        .find(|l| l.starts_with("REPORT"))
        .expect("a report");
    assert_eq!(report, "REPORT 0 0 0", "the final shutdown left work");

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
        let assignment: Assignment =
            serde_json::from_slice(&std::fs::read(span.dir.join("run.json")).unwrap()).unwrap();
        if let AssignedWork::Task { task_id, .. } = assignment.work {
            *launches.entry(task_id).or_default() += 1;
        }
    }
    let outcomes: BTreeMap<&str, &str> = seen
        .iter()
        .filter_map(|l| l.strip_prefix("TASK "))
        .filter_map(|l| l.split_once(' '))
        .collect();
    let mut failed = 0;
    for (_, id) in task_ids() {
        let launched = launches.get(&id).copied().unwrap_or(0);
        match outcomes.get(id.as_str()).copied() {
            Some("succeeded") => assert_eq!(
                launched, 1,
                "task {id} succeeded, launched {launched} times"
            ),
            Some("failed") => {
                failed += 1;
                assert!(launched <= 1, "task {id} failed, launched {launched} times");
            }
            other => panic!("task {id}: the state of record says {other:?} (launched {launched})"),
        }
    }
    // Every message was answered by a successful turn, by the agents' own
    // logs (at least once: a crash may cut a run off after its answer).
    let answered: BTreeSet<&str> = spans
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
    if docker {
        let owner = support::owner(&work);
        let left = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(DockerRunner::containers(&owner))
            .unwrap();
        assert!(left.is_empty(), "containers left: {left:?}");
    }
    support::say(&format!(
        "crash test on {kind}: {points} stops ({} SIGKILL, {} clean shutdowns, {} detaches), {} runs with an agent ({killed} cut off), {} tasks, {failed} reported failed, 0 violations",
        stops.killed,
        stops.shut_down,
        stops.detached,
        spans.len(),
        GROUPS * PER_GROUP
    ));
    let _ = std::fs::remove_dir_all(PathBuf::from(&base));
}
