//! [`DockerRunner`]: each run is a Docker container, started and watched
//! through the `docker` command-line client.

use std::ffi::OsString;
use std::io;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use groupq::RunId;
use tokio::process::Command;

use super::ipc::{Layout, RunDir};
use super::local::{LocalRuns, Started};
use groupq_host::{RunExit, RunSpec};

use super::{Recovering, RunEvents, Runner};

/// The label every container of this runtime carries, with its owner's name
/// as the value: what a reaper filters on.
pub const OWNER_LABEL: &str = "io.groupq.owner";
/// The label that names the work directory a container's run belongs to:
/// how a restarted driver finds its own containers and no one else's.
pub const ROOT_LABEL: &str = "io.groupq.root";
/// The label with the container's run id.
pub const RUN_LABEL: &str = "io.groupq.run";
/// The label naming the driver instance that started the container.
pub const INSTANCE_LABEL: &str = "io.groupq.instance";

/// `docker run` exits 125 when the daemon could not create or start the
/// container (no such image, bad mount): the run never started.
const DOCKER_RUN_FAILED: i32 = 125;

/// Runs every run as a container:
///
/// `docker run -i --rm --init --network none --name groupq-<instance>-<run>
/// --label io.groupq.owner=<owner> --label io.groupq.run=<run> --label
/// io.groupq.instance=<instance> --label io.groupq.root=<work dir>
/// -v <run dir>:/ipc -v <group dir>:/group <image> <args>`
///
/// - The container's stdout is the protocol's lines (the `docker run`
///   client stays attached); its exit status is the run's.
/// - Follow-ups and the close sentinel are files in the bind-mounted run
///   directory, exactly as for processes.
/// - `--init` gives the agent an init process as PID 1, so `docker stop`'s
///   SIGTERM reaches an agent that does not handle signals itself.
/// - Kill is `docker kill <name>`, retried until the container is gone (a
///   kill can arrive while the container is still being created).
/// - Containers are labelled with the owner, run id, driver instance and
///   work directory, so orphans can be found by label
///   ([`containers`](Self::containers)); a restarted durable driver removes
///   its work directory's containers ([`Runner::recover`]).
///
/// The `docker` client was chosen over the Docker API crates: it is what
/// operators already run, `docker run`'s exit status and attached stdout are
/// exactly the run's exit and lines, and it adds no dependency tree (a
/// client crate would bring an HTTP stack for the same three calls).
///
/// Dropping the runtime kills every container still running.
pub struct DockerRunner {
    runs: LocalRuns,
    containers: Containers,
}

/// How this runtime's containers are made and named.
struct Containers {
    image: String,
    args: Vec<OsString>,
    owner: String,
    instance: String,
}

impl DockerRunner {
    /// Runs `image` for every run, with run and group directories under
    /// `work_dir` (created if missing). Owner label `groupq`.
    pub fn new(work_dir: &Path, image: impl Into<String>) -> io::Result<DockerRunner> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        Ok(DockerRunner {
            runs: LocalRuns::new(Layout::new(work_dir)?),
            containers: Containers {
                image: image.into(),
                args: Vec::new(),
                owner: "groupq".into(),
                instance: format!("{}-{}", std::process::id(), nanos % 1_000_000_000_000),
            },
        })
    }

    /// Arguments after the image (the agent's command line).
    pub fn with_args<I, A>(mut self, args: I) -> DockerRunner
    where
        I: IntoIterator<Item = A>,
        A: Into<OsString>,
    {
        self.containers.args = args.into_iter().map(Into::into).collect();
        self
    }

    /// The value of the owner label: one per installation, so a reaper
    /// never touches another installation's containers.
    pub fn with_owner(mut self, owner: impl Into<String>) -> DockerRunner {
        self.containers.owner = owner.into();
        self
    }

    /// Keeps run directories after the runs end (for their logs).
    pub fn keep_run_dirs(mut self, keep: bool) -> DockerRunner {
        self.runs.layout.keep_runs(keep);
        self
    }

    /// The names of the containers, running or not, that carry `owner`'s
    /// label: what is left behind after a crash.
    pub async fn containers(owner: &str) -> io::Result<Vec<String>> {
        let out = Command::new("docker")
            .args(["ps", "-a", "--format", "{{.Names}}", "--filter"])
            .arg(format!("label={OWNER_LABEL}={owner}"))
            .output()
            .await?;
        ps_lines(&out)
    }
}

/// The lines `docker ps` printed, or its failure as an error.
fn ps_lines(out: &std::process::Output) -> io::Result<Vec<String>> {
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "docker ps: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect())
}

impl Containers {
    fn name(run_name: &str) -> String {
        format!("groupq-{run_name}")
    }

    /// `docker run` for `spec` in `dir`.
    fn start(&self, spec: &RunSpec, layout: &Layout, dir: &RunDir) -> io::Result<Started> {
        let name = Containers::name(&spec.name);
        let mount = |from: &Path, to: &str| {
            let mut arg = OsString::from(from);
            arg.push(":");
            arg.push(to);
            arg
        };
        let child = Command::new("docker")
            .args([
                "run",
                "-i",
                "--rm",
                "--init",
                "--network",
                "none",
                "--name",
                &name,
            ])
            .arg("--label")
            .arg(format!("{OWNER_LABEL}={}", self.owner))
            .arg("--label")
            .arg(format!("{RUN_LABEL}={}", spec.run.get()))
            .arg("--label")
            .arg(format!("{INSTANCE_LABEL}={}", self.instance))
            .arg("--label")
            .arg(format!("{ROOT_LABEL}={}", layout.root().display()))
            .arg("-v")
            .arg(mount(&dir.path, "/ipc"))
            .arg("-v")
            .arg(mount(&layout.group_dir(&spec.group), "/group"))
            .arg(&self.image)
            .args(&self.args)
            // Not passed into the container: it names the client as this
            // run's, for a restarted driver's `/proc` scan.
            .env("GROUPQ_IPC", &dir.path)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("docker: {e}")))?;
        let killer = Box::new(move |_pid: Option<u32>| {
            tokio::spawn(kill_container(name));
        });
        Ok(Started {
            child,
            killer,
            exit_of_run: docker_exit,
        })
    }
}

/// `docker kill`, retried while the container may still be being created.
async fn kill_container(name: String) {
    for _ in 0..50 {
        let killed = Command::new("docker")
            .args(["kill", &name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await;
        if killed.is_ok_and(|s| s.success()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tracing::error!(container = %name, "docker kill kept failing");
}

impl Runner for DockerRunner {
    fn spawn(&mut self, spec: RunSpec, events: RunEvents) {
        let containers = &self.containers;
        self.runs.spawn(&spec, events, |layout, dir| {
            containers.start(&spec, layout, dir)
        });
    }

    fn deliver(&mut self, run: RunId, message: &str) -> io::Result<()> {
        self.runs.deliver(run, message)
    }

    fn close_input(&mut self, run: RunId) -> io::Result<()> {
        self.runs.close_input(run)
    }

    fn kill(&mut self, run: RunId) {
        self.runs.kill(run);
    }

    fn release(&mut self, run: RunId) {
        self.runs.release(run);
    }

    /// First the old driver's `docker run` clients are killed (found like
    /// agent processes, see [`ProcessRunner`](super::ProcessRunner)), so
    /// none can create a container after the listing; then the containers
    /// labelled with this work directory are removed (`docker rm -f`, which
    /// kills and waits). The launch markers, the clients and the
    /// containers found name the runs launched.
    fn recover(&mut self) -> Recovering<'_> {
        Box::pin(async move {
            let mut runs = self.runs.recover().await?;
            let root = self.runs.layout.root().to_path_buf();
            let found = tokio::task::spawn_blocking(move || remove_containers(&root))
                .await
                .map_err(io::Error::other)??;
            runs.extend(found);
            runs.sort();
            runs.dedup();
            Ok(runs)
        })
    }
}

/// Removes the containers labelled with the work directory `root`
/// (`docker rm -f`, which kills and waits); returns their runs.
fn remove_containers(root: &Path) -> io::Result<Vec<RunId>> {
    let mut runs = Vec::new();
    {
        let label = format!("label={ROOT_LABEL}={}", root.display());
        let listed = std::process::Command::new("docker")
            .args(["ps", "-a", "--filter", &label, "--format"])
            .arg(format!("{{{{.ID}}}} {{{{.Label \"{RUN_LABEL}\"}}}}"))
            .output()?;
        let mut ids = Vec::new();
        for line in ps_lines(&listed)? {
            let mut words = line.split_whitespace();
            if let Some(id) = words.next() {
                ids.push(id.to_string());
            }
            if let Some(run) = words.next().and_then(|r| r.parse().ok()) {
                runs.push(RunId::new(run));
            }
        }
        if !ids.is_empty() {
            let removed = std::process::Command::new("docker")
                .args(["rm", "-f"])
                .args(&ids)
                .stdout(Stdio::null())
                .status()?;
            if !removed.success() {
                return Err(io::Error::other("docker rm -f failed"));
            }
        }
    }
    Ok(runs)
}

/// Maps `docker run`'s own failure to a run that never started.
fn docker_exit(exit: RunExit) -> RunExit {
    match exit {
        RunExit::Code(DOCKER_RUN_FAILED) => RunExit::NotStarted(
            "docker could not create or start the container (status 125)".into(),
        ),
        other => other,
    }
}

impl Drop for DockerRunner {
    fn drop(&mut self) {
        // No executor may be left to run `docker kill` tasks: kill here.
        let names: Vec<String> = self
            .runs
            .live_names()
            .map(Containers::name)
            .collect();
        if !names.is_empty() {
            let _ = std::process::Command::new("docker")
                .arg("kill")
                .args(&names)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}
