//! The harness of the runtime tests: which runtime, a scratch directory,
//! the host's side of the event stream, and the evidence the agents wrote
//! about themselves (their own wall-clock start, end and alive times).

#![allow(dead_code)]

pub mod daemon;
pub mod fake;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use groupq::RunId;
#[allow(unused_imports)] // each test file uses its part
pub use groupq_agent::log::{max_alive, Span};
use groupq_tokio::{CommandLine, DockerRunner, HostEvent, HostEvents, ProcessRunner, Runner};

/// The image the Docker tests run (built by `docker/build-image.sh`).
pub const IMAGE: &str = "groupq-agent:dev";
/// Every agent turn takes this long.
pub const TURN_MS: &str = "50";

/// A running checked driver: its task, its handle, and the host's side.
pub type Running = (
    tokio::task::JoinHandle<Result<(), groupq_tokio::DriverError>>,
    groupq_tokio::Handle,
    Host,
);

/// The reference agent's binary (package `groupq-agent`), built once per
/// test binary: a package's tests only get its own binaries from cargo.
pub fn agent_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(path) = std::env::var_os("GROUPQ_AGENT_BIN") {
            return PathBuf::from(path);
        }
        let out = Command::new(env!("CARGO"))
            .args([
                "build",
                "--quiet",
                "-p",
                "groupq-agent",
                "--bin",
                "groupq-agent",
            ])
            .arg("--message-format=json")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stderr(std::process::Stdio::inherit())
            .output()
            .expect("cargo runs");
        assert!(out.status.success(), "cannot build the reference agent");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .find_map(|v| {
                let executable = v.get("executable")?.as_str()?;
                (v["target"]["name"] == "groupq-agent").then(|| PathBuf::from(executable))
            })
            .expect("cargo names the agent's binary")
    })
    .clone()
}

/// Starts a checked driver with `config` on `runner`.
pub fn start_checked(config: groupq::Config, runner: impl Runner) -> Running {
    let (driver, handle, events) = groupq_tokio::Driver::builder(config)
        .checked(true)
        .build(runner)
        .expect("a valid config");
    (tokio::spawn(driver.run()), handle, Host::new(events))
}

/// The two runners every scenario runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Process,
    Docker,
}

/// Wall-clock nanoseconds since the Unix epoch, the agents' clock.
pub fn unix_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// Writes straight to the terminal: libtest captures `eprintln!`, and a
/// skipped test must be seen.
pub fn say(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
}

/// Whether the Docker tests can run here; builds the image once per test
/// binary. With `GROUPQ_REQUIRE_DOCKER=1` (CI, after starting the daemon)
/// a missing Docker fails the test instead of skipping it.
pub fn docker_ready(test: &str) -> bool {
    static READY: Mutex<Option<Result<(), String>>> = Mutex::new(None);
    let mut ready = READY.lock().unwrap_or_else(|e| e.into_inner());
    let verdict = ready.get_or_insert_with(check_docker).clone();
    match verdict {
        Ok(()) => true,
        Err(why) if std::env::var("GROUPQ_REQUIRE_DOCKER").as_deref() == Ok("1") => {
            panic!("GROUPQ_REQUIRE_DOCKER=1 but Docker cannot run: {why}")
        }
        Err(why) => {
            say(&format!("SKIPPED {test} on Docker: {why}"));
            false
        }
    }
}

fn check_docker() -> Result<(), String> {
    let info = Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output()
        .map_err(|e| format!("no docker client: {e}"))?;
    if !info.status.success() {
        return Err(format!(
            "no Docker daemon: {}",
            String::from_utf8_lossy(&info.stderr).trim()
        ));
    }
    // Built from this source tree every time (cheap when up to date): an
    // image of older sources would test an older agent.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let built = Command::new("bash")
        .arg(root.join("docker/build-image.sh"))
        .arg(IMAGE)
        .output()
        .map_err(|e| e.to_string())?;
    if built.status.success() {
        Ok(())
    } else {
        Err(format!(
            "cannot build {IMAGE}: {}",
            String::from_utf8_lossy(&built.stderr).trim()
        ))
    }
}

/// A scratch directory, removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!(
            "groupq-tokio-test-{tag}-{}-{}",
            std::process::id(),
            unix_nanos()
        ));
        fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// The owner label of the containers of the test whose scratch is `dir`:
/// one per test, so tests running side by side do not see each other's.
pub fn owner(dir: &Path) -> String {
    let name = dir.file_name().unwrap().to_string_lossy();
    format!("groupq-tests-{name}")
}

/// The runner of `kind`, keeping run directories for their evidence.
pub fn runner(kind: Kind, dir: &Path) -> Box<dyn Runner> {
    runner_with_turn(kind, dir, TURN_MS)
}

/// The runner of `kind` whose agents take `turn_ms` per turn.
pub fn runner_with_turn(kind: Kind, dir: &Path, turn_ms: &str) -> Box<dyn Runner> {
    match kind {
        Kind::Process => Box::new(
            ProcessRunner::new(
                dir,
                CommandLine::new(agent_bin()).arg("--turn-ms").arg(turn_ms),
            )
            .unwrap()
            .keep_run_dirs(true),
        ),
        Kind::Docker => Box::new(
            DockerRunner::new(dir, IMAGE)
                .unwrap()
                .with_args(["--turn-ms", turn_ms])
                .with_owner(owner(dir))
                .keep_run_dirs(true),
        ),
    }
}

/// The host's side: every event seen, and waiting for the next one that
/// matters.
pub struct Host {
    events: HostEvents,
    pub seen: Vec<HostEvent>,
}

impl Host {
    pub fn new(events: HostEvents) -> Host {
        Host {
            events,
            seen: Vec::new(),
        }
    }

    /// Waits (at most 30 s) for an event `pick` accepts, and returns what it
    /// picked.
    pub async fn until<A>(&mut self, mut pick: impl FnMut(&HostEvent) -> Option<A>) -> A {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let event = tokio::time::timeout_at(deadline, self.events.recv())
                .await
                .unwrap_or_else(|_| panic!("no such event within 30 s; seen: {:#?}", self.seen))
                .expect("the driver ended");
            let picked = pick(&event);
            self.seen.push(event);
            if let Some(picked) = picked {
                return picked;
            }
        }
    }

    /// Waits for the next run started: its id.
    pub async fn spawned(&mut self) -> RunId {
        self.until(|e| match e {
            HostEvent::Spawned { run, .. } => Some(*run),
            _ => None,
        })
        .await
    }

    /// Waits for the next reply: its run and text.
    pub async fn reply(&mut self) -> (RunId, String) {
        self.until(|e| match e {
            HostEvent::Reply { run, text, .. } => Some((*run, text.clone())),
            _ => None,
        })
        .await
    }

    /// Waits for the next reply to `group`.
    pub async fn reply_to(&mut self, group: &str) {
        self.until(|e| match e {
            HostEvent::Reply { group: g, .. } if g == group => Some(()),
            _ => None,
        })
        .await
    }

    /// Waits for the next close of a run's input: its reason.
    pub async fn closed(&mut self) -> groupq::CloseReason {
        self.until(|e| match e {
            HostEvent::Closed { reason, .. } => Some(*reason),
            _ => None,
        })
        .await
    }

    /// Waits for the next kill.
    pub async fn killed(&mut self) {
        self.until(|e| matches!(e, HostEvent::Killed { .. }).then_some(()))
            .await;
    }

    /// Waits for the next run's exit: how it ended.
    pub async fn exited(&mut self) -> groupq_tokio::RunExit {
        self.until(|e| match e {
            HostEvent::Exited { exit, .. } => Some(exit.clone()),
            _ => None,
        })
        .await
    }

    /// Takes every event left after the driver ended.
    pub fn drain(&mut self) {
        while let Some(event) = self.events.try_recv() {
            self.seen.push(event);
        }
    }
}

/// Every agent's life by its own clock, from `dir/runs/*/agent.log`.
pub fn evidence(dir: &Path) -> Vec<Span> {
    groupq_agent::log::read_runs(&dir.join("runs")).expect("the agents' logs")
}
