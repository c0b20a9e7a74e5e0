//! The harness of the runtime tests: which runtime, a scratch directory,
//! the host's side of the event stream, and the evidence the agents wrote
//! about themselves (their own wall-clock start, end and alive times).

#![allow(dead_code)]

pub mod fake;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use groupq_tokio::{CommandLine, DockerRuntime, HostEvent, HostEvents, ProcessRuntime, Runtime};

/// The image the Docker tests run (built by `docker/build-image.sh`).
pub const IMAGE: &str = "groupq-agent:dev";
/// Every agent turn takes this long.
pub const TURN_MS: &str = "50";

/// The two runtimes every scenario runs on.
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

/// The runtime of `kind`, keeping run directories for their evidence.
pub fn runtime(kind: Kind, dir: &Path) -> Box<dyn Runtime> {
    match kind {
        Kind::Process => Box::new(
            ProcessRuntime::new(
                dir,
                CommandLine::new(env!("CARGO_BIN_EXE_groupq-agent"))
                    .arg("--turn-ms")
                    .arg(TURN_MS),
            )
            .unwrap()
            .keep_run_dirs(true),
        ),
        Kind::Docker => Box::new(
            DockerRuntime::new(dir, IMAGE)
                .unwrap()
                .with_args(["--turn-ms", TURN_MS])
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

    /// Takes every event left after the driver ended.
    pub fn drain(&mut self) {
        while let Ok(event) = self.events.try_recv() {
            self.seen.push(event);
        }
    }
}

/// One agent's life by its own clock.
#[derive(Clone, Debug)]
pub struct Span {
    pub group: String,
    pub run: u64,
    pub start: u128,
    /// Its `end` line, or a killed agent's last sign of life.
    pub end: u128,
    /// It wrote no `end` line: it was killed.
    pub killed: bool,
    /// Messages each of its turns answered.
    pub turns: Vec<u64>,
}

/// Every agent's `agent.log` under `dir/runs/`.
pub fn evidence(dir: &Path) -> Vec<Span> {
    let mut spans = Vec::new();
    let Ok(runs) = fs::read_dir(dir.join("runs")) else {
        return spans;
    };
    for entry in runs {
        let log = entry.unwrap().path().join("agent.log");
        let Ok(text) = fs::read_to_string(&log) else {
            continue;
        };
        let mut span = Span {
            group: String::new(),
            run: 0,
            start: 0,
            end: 0,
            killed: true,
            turns: Vec::new(),
        };
        for line in text.lines() {
            let field = |key: &str| {
                line.split_whitespace()
                    .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
                    .unwrap_or("")
                    .to_string()
            };
            let nanos: u128 = field("unix_nanos").parse().unwrap();
            span.group = field("group");
            span.run = field("run").parse().unwrap();
            match field("event").as_str() {
                "start" => {
                    span.start = nanos;
                    span.end = nanos;
                }
                "turn" => {
                    span.turns.push(field("messages").parse().unwrap());
                    span.end = nanos;
                }
                "alive" => span.end = nanos,
                "end" => {
                    span.end = nanos;
                    span.killed = false;
                }
                other => panic!("unknown event {other:?} in {}", log.display()),
            }
        }
        spans.push(span);
    }
    spans.sort_by_key(|s| s.run);
    spans
}

/// Most agents alive at one instant, overall and within one group, by the
/// agents' own clocks. At equal times an end counts before a start.
pub fn max_alive(spans: &[Span]) -> (usize, usize) {
    let mut events: Vec<(u128, bool, &str)> = Vec::new();
    for s in spans {
        events.push((s.start, true, &s.group));
        events.push((s.end, false, &s.group));
    }
    events.sort();
    let (mut alive, mut max, mut max_in_group) = (0usize, 0usize, 0usize);
    let mut in_group: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, is_start, group) in events {
        let n = in_group.entry(group).or_default();
        if is_start {
            alive += 1;
            *n += 1;
        } else {
            alive -= 1;
            *n -= 1;
        }
        max = max.max(alive);
        max_in_group = max_in_group.max(*n);
    }
    (max, max_in_group)
}
