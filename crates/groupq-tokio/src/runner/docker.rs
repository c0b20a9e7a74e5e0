//! [`DockerRunner`]: each run is a Docker container, created, watched,
//! killed and removed through the Docker Engine API (`bollard`), by name.
//! A run's report is the container's real life: its lines are the
//! container's own log, its exit the engine's wait result, and nothing the
//! connection to the daemon does is taken for an exit.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bollard::container::LogOutput;
use bollard::errors::Error as EngineError;
use bollard::models::{ContainerCreateBody, ContainerStateStatusEnum, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, KillContainerOptionsBuilder, ListContainersOptionsBuilder,
    LogsOptionsBuilder, RemoveContainerOptionsBuilder, WaitContainerOptionsBuilder,
};
use bollard::Docker;
use futures_util::StreamExt;
use groupq::RunId;
use groupq_host::{RunExit, RunSpec};
use tokio::sync::{mpsc, OnceCell};

use super::ipc::{Layout, RunDir, WorkLock};
use super::lines::{self, Lines};
use super::live::{Live, Lives};
use super::{Believed, Found, Recovering, Recovery, RestartPolicy, RunEvent, RunEvents, Runner};

/// The label every container of this runner carries, with its owner's name
/// as the value: what a reaper filters on.
pub const OWNER_LABEL: &str = "io.groupq.owner";
/// The label that names the work directory a container's run belongs to:
/// how a restarted driver finds its own containers and no one else's.
pub const ROOT_LABEL: &str = "io.groupq.root";
/// The label with the container's run id.
pub const RUN_LABEL: &str = "io.groupq.run";
/// The label with the run's name (unique across restarts and states).
pub const NAME_LABEL: &str = "io.groupq.name";
/// The label with the group the run serves: the engine's list then shows
/// how many containers each group has.
pub const GROUP_LABEL: &str = "io.groupq.group";

/// The longest wait between two tries of a call the daemon did not answer.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Runs every run as a container of `image`, through the Docker Engine API
/// on the daemon's socket (`DOCKER_HOST` if set, else the local default).
///
/// - **Create and start by name** (`groupq-<run name>`), labelled with the
///   owner, the run id, the run's name and the work directory, with
///   `--network none`, `--init`, the run directory bind-mounted at `/ipc`
///   and the group's at `/group`. Not `--rm`: the container, and its log,
///   stay until the driver has handled the run's exit; then the runner
///   removes it.
/// - **Lines** are the container's own log (its stdout), followed; stderr
///   lines are `warn` events. A reader that loses the stream re-reads the
///   log and skips what it already reported, so no line is lost or read
///   twice; a line's position is its number in the log.
/// - **The exit** is the engine's wait result for the container (`137`
///   for a kill). A broken connection, a daemon restart or a failed call is
///   never an exit: the runner reconnects with backoff (at most
///   5 s apart), inspects the container, and re-attaches or reports the
///   exit the engine reports (`Gone` if the container was removed by
///   someone else). Until then the run stays live and holds its slot; each
///   such trouble is a `warn` event and a
///   [`RunEvent::Trouble`] the application hears.
/// - **Kill** is the engine's kill (`SIGKILL`) by name, retried until the
///   engine confirms; the exit follows when the engine says the container
///   stopped.
/// - A container the engine cannot create or start (no such image, a bad
///   mount) is a run that never started ([`RunExit::NotStarted`]).
///
/// Dropping the runner kills and removes every container still running.
pub struct DockerRunner {
    layout: Layout,
    engine: Engine,
    image: String,
    args: Vec<String>,
    owner: String,
    runs: Lives<()>,
    /// Containers released and being removed: the drop waits for them.
    removing: Arc<Mutex<HashSet<String>>>,
    /// The driver detached: dropping the runner leaves the runs running.
    detached: bool,
    _lock: WorkLock,
}

/// The engine's client, its API version agreed with the daemon on first
/// use (an older daemon answers an older version).
#[derive(Clone)]
struct Engine {
    base: Docker,
    agreed: Arc<OnceCell<Docker>>,
}

impl Engine {
    async fn client(&self) -> Docker {
        match self
            .agreed
            .get_or_try_init(|| self.base.clone().negotiate_version())
            .await
        {
            Ok(client) => client.clone(),
            // No daemon yet: the calls fail and are retried.
            Err(_) => self.base.clone(),
        }
    }
}

/// Whether the engine answered (a definite refusal) rather than the call
/// failing on the way.
fn status_of(e: &EngineError) -> Option<u16> {
    match e {
        EngineError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

fn container_name(run_name: &str) -> String {
    format!("groupq-{run_name}")
}

impl DockerRunner {
    /// Runs `image` for every run, with run and group directories under
    /// `work_dir` (created if missing). Owner label `groupq`. Fails only if
    /// the daemon's address cannot be parsed; a daemon that is not up yet
    /// is waited for by each run.
    pub fn new(work_dir: &Path, image: impl Into<String>) -> io::Result<DockerRunner> {
        let base = Docker::connect_with_defaults().map_err(io::Error::other)?;
        let layout = Layout::new(work_dir)?;
        Ok(DockerRunner {
            _lock: layout.lock()?,
            detached: false,
            layout,
            engine: Engine {
                base,
                agreed: Default::default(),
            },
            image: image.into(),
            args: Vec::new(),
            owner: "groupq".into(),
            runs: Lives::default(),
            removing: Arc::default(),
        })
    }

    /// Talks to the daemon at `host` (as `DOCKER_HOST` would name it:
    /// `unix:///path`, `tcp://host:port`) instead of the default.
    pub fn with_docker_host(mut self, host: &str) -> io::Result<DockerRunner> {
        self.engine = Engine {
            base: Docker::connect_with_host(host).map_err(io::Error::other)?,
            agreed: Default::default(),
        };
        Ok(self)
    }

    /// Arguments after the image (the agent's command line).
    pub fn with_args<I, A>(mut self, args: I) -> DockerRunner
    where
        I: IntoIterator<Item = A>,
        A: Into<String>,
    {
        self.args = args.into_iter().map(Into::into).collect();
        self
    }

    /// The value of the owner label: one per installation, so a reaper
    /// never touches another installation's containers.
    pub fn with_owner(mut self, owner: impl Into<String>) -> DockerRunner {
        self.owner = owner.into();
        self
    }

    /// Keeps run directories after the runs end (for their logs).
    pub fn keep_run_dirs(mut self, keep: bool) -> DockerRunner {
        self.layout.keep_runs(keep);
        self
    }

    /// The names of the containers, running or not, that carry `owner`'s
    /// label, from the engine: what is left behind.
    pub async fn containers(owner: &str) -> io::Result<Vec<String>> {
        Self::containers_at(None, owner).await
    }

    /// [`containers`](Self::containers) of the daemon at `host` (`None`:
    /// the default).
    pub async fn containers_at(host: Option<&str>, owner: &str) -> io::Result<Vec<String>> {
        let listed = Self::list_at(host, owner).await?;
        Ok(listed.into_iter().map(|c| c.name).collect())
    }

    /// Every container, running or not, that carries `owner`'s label, as
    /// the engine of the daemon at `host` (`None`: the default) lists it:
    /// evidence that does not come from the driver.
    pub async fn list_at(host: Option<&str>, owner: &str) -> io::Result<Vec<Container>> {
        let docker = match host {
            Some(host) => Docker::connect_with_host(host),
            None => Docker::connect_with_defaults(),
        }
        .map_err(io::Error::other)?;
        let docker = docker.negotiate_version().await.map_err(io::Error::other)?;
        list(&docker, OWNER_LABEL, owner)
            .await
            .map_err(io::Error::other)
    }

    fn create_body(&self, spec: &RunSpec, dir: &RunDir) -> ContainerCreateBody {
        let mount = |from: &Path, to: &str| format!("{}:{to}", from.display());
        let labels = HashMap::from([
            (OWNER_LABEL.to_string(), self.owner.clone()),
            (RUN_LABEL.to_string(), spec.run.get().to_string()),
            (NAME_LABEL.to_string(), spec.name.clone()),
            (GROUP_LABEL.to_string(), spec.group.clone()),
            (
                ROOT_LABEL.to_string(),
                self.layout.root().display().to_string(),
            ),
        ]);
        ContainerCreateBody {
            image: Some(self.image.clone()),
            cmd: (!self.args.is_empty()).then(|| self.args.clone()),
            labels: Some(labels),
            attach_stdin: Some(false),
            host_config: Some(HostConfig {
                binds: Some(vec![
                    mount(&dir.path, "/ipc"),
                    mount(&self.layout.group_dir(&spec.group), "/group"),
                ]),
                network_mode: Some("none".into()),
                init: Some(true),
                auto_remove: Some(false),
                ..HostConfig::default()
            }),
            ..ContainerCreateBody::default()
        }
    }
}

impl Runner for DockerRunner {
    fn spawn(&mut self, spec: RunSpec, events: RunEvents) {
        let prepared = self.layout.prepare(&spec).and_then(|dir| {
            // Marked just before the launch: a restarted driver that finds
            // the marker knows the container may exist.
            self.layout.mark(&spec.name, spec.run)?;
            Ok(dir)
        });
        let dir = match prepared {
            Ok(dir) => dir,
            Err(e) => {
                events.send(RunEvent::Exited(RunExit::NotStarted(e.to_string())));
                return;
            }
        };
        let body = self.create_body(&spec, &dir);
        let (kill, killed) = mpsc::unbounded_channel();
        let container = container_name(&spec.name);
        tokio::spawn(supervise(
            self.engine.clone(),
            container,
            body,
            events,
            killed,
        ));
        self.runs.insert(
            spec.run,
            Live {
                name: spec.name,
                dir,
                kill,
                extra: (),
            },
        );
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

    /// Removes the container (its exit is handled) in the background, then
    /// the run directory (unless kept) and the launch marker.
    fn release(&mut self, run: RunId) {
        let Some(name) = self.runs.release(run) else {
            return;
        };
        let (engine, layout) = (self.engine.clone(), self.layout.clone());
        let container = container_name(&name);
        let removing = Arc::clone(&self.removing);
        lock(&removing).insert(container.clone());
        tokio::spawn(async move {
            let docker = engine.client().await;
            remove_until_gone(&docker, &container).await;
            layout.remove(&name);
            lock(&removing).remove(&container);
        });
    }

    /// The engine lists the containers labelled with this work directory;
    /// with the launch markers they name the runs launched. Killed and
    /// removed, and waited for until the engine no longer knows them ("no
    /// such container" and "removal already in progress" count as done):
    /// every one under [`RestartPolicy::Kill`], and under
    /// [`RestartPolicy::Adopt`] those of runs not believed live. Adopted:
    /// each believed run that was launched; its container, if the engine
    /// still has it, is attached to again, its log read on from the line
    /// the journal stopped at, its exit the engine's wait result.
    fn recover(&mut self, recovery: Recovery) -> Recovering<'_> {
        Box::pin(async move {
            let docker = self.engine.client().await;
            let root = self.layout.root().display().to_string();
            let listed = with_retries("list containers", || list(&docker, ROOT_LABEL, &root)).await;
            let mut launched: BTreeMap<RunId, String> = self.layout.marked()?.into_iter().collect();
            let mut strays = Vec::new();
            for container in &listed {
                match (container.run, &container.run_name) {
                    (Some(run), Some(name)) => {
                        launched.entry(run).or_insert_with(|| name.clone());
                    }
                    _ => strays.push(container.name.clone()),
                }
            }
            let mut believed: HashMap<String, Believed> = match recovery.policy {
                RestartPolicy::Kill => HashMap::new(),
                _ => recovery
                    .believed
                    .into_iter()
                    .map(|b| (b.name.clone(), b))
                    .collect(),
            };
            let mut found = Vec::new();
            for (run, name) in launched {
                match believed.remove(&name).filter(|b| b.run == run) {
                    Some(b) => {
                        self.adopt(b);
                        found.push((run, Found::Adopted));
                    }
                    None => {
                        remove_until_gone(&docker, &container_name(&name)).await;
                        self.runs.recovered(run, name);
                        found.push((run, Found::Launched));
                    }
                }
            }
            for stray in strays {
                remove_until_gone(&docker, &stray).await;
            }
            Ok(found)
        })
    }

    fn detach(&mut self) {
        self.detached = true;
    }
}

impl DockerRunner {
    /// Takes over a run the driver before left: its container is watched
    /// on by name from the line the journal stopped at.
    fn adopt(&mut self, b: Believed) {
        let (kill, killed) = mpsc::unbounded_channel();
        let container = container_name(&b.name);
        tracing::info!(run = b.run.get(), container = %container, "adopted");
        tokio::spawn(supervise_adopted(
            self.engine.clone(),
            container,
            b.events,
            killed,
            b.read_to,
        ));
        let dir = self.layout.existing(&b.name, b.delivered);
        self.runs.insert(
            b.run,
            Live {
                name: b.name,
                dir,
                kill,
                extra: (),
            },
        );
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A container as the engine lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Container {
    /// Its name.
    pub name: String,
    /// Its run, by its label.
    pub run: Option<RunId>,
    /// Its run's name, by its label.
    pub run_name: Option<String>,
    /// Its group, by its label.
    pub group: Option<String>,
    /// The engine says it is running.
    pub running: bool,
}

async fn list(docker: &Docker, label: &str, value: &str) -> Result<Vec<Container>, EngineError> {
    let filters = HashMap::from([("label", vec![format!("{label}={value}")])]);
    let options = ListContainersOptionsBuilder::new()
        .all(true)
        .filters(&filters)
        .build();
    let listed = docker.list_containers(Some(options)).await?;
    Ok(listed
        .into_iter()
        .filter_map(|c| {
            let name = c
                .names?
                .into_iter()
                .next()?
                .trim_start_matches('/')
                .to_string();
            let labels = c.labels.unwrap_or_default();
            let run = labels
                .get(RUN_LABEL)
                .and_then(|r| r.parse().ok())
                .map(RunId::new);
            let run_name = labels.get(NAME_LABEL).cloned();
            let group = labels.get(GROUP_LABEL).cloned();
            let running = c.state.is_some_and(|s| s.to_string() == "running");
            Some(Container {
                name,
                run,
                run_name,
                group,
                running,
            })
        })
        .collect())
}

/// Retries `call` with backoff until the engine answers it.
async fn with_retries<T, F, Fut>(what: &str, mut call: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, EngineError>>,
{
    let mut backoff = Backoff::default();
    loop {
        match call().await {
            Ok(answer) => return answer,
            Err(e) => {
                tracing::warn!("docker: {what}: {e}; retrying");
                backoff.wait().await;
            }
        }
    }
}

/// Kills and removes a container, and waits until the engine no longer
/// knows it. "No such container" and "removal in progress" are done too.
async fn remove_until_gone(docker: &Docker, container: &str) {
    let mut backoff = Backoff::default();
    loop {
        let options = RemoveContainerOptionsBuilder::new().force(true).build();
        match docker.remove_container(container, Some(options)).await {
            Ok(()) => {}
            Err(e) if matches!(status_of(&e), Some(404 | 409)) => {}
            Err(e) => {
                tracing::warn!(
                    container,
                    "docker: cannot remove the container: {e}; retrying"
                );
                backoff.wait().await;
                continue;
            }
        }
        match docker.inspect_container(container, None).await {
            Err(e) if status_of(&e) == Some(404) => return,
            // Still there (removal in progress) or no answer: look again.
            _ => backoff.wait().await,
        }
    }
}

/// Exponential backoff from 50 ms to [`MAX_BACKOFF`].
struct Backoff(Duration);

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff(Duration::from_millis(50))
    }
}

impl Backoff {
    async fn wait(&mut self) {
        tokio::time::sleep(self.0).await;
        self.0 = (self.0 * 2).min(MAX_BACKOFF);
    }

    fn reset(&mut self) {
        *self = Backoff::default();
    }
}

/// Watches one run's container from its creation to its end.
async fn supervise(
    engine: Engine,
    container: String,
    body: ContainerCreateBody,
    events: RunEvents,
    mut kill: mpsc::UnboundedReceiver<()>,
) {
    let mut watch = Watch {
        docker: engine.client().await,
        engine,
        container,
        events,
        consumed: 0,
        kill_asked: false,
        unkillable: false,
        backoff: Backoff::default(),
    };
    let exit = match watch.create_and_start(body, &mut kill).await {
        Ok(()) => watch.until_exit(&mut kill).await,
        Err(never) => never,
    };
    watch.events.send(RunEvent::Exited(exit));
}

/// Watches an adopted run's container, from line `consumed` of its log.
async fn supervise_adopted(
    engine: Engine,
    container: String,
    events: RunEvents,
    mut kill: mpsc::UnboundedReceiver<()>,
    consumed: u64,
) {
    let mut watch = Watch {
        docker: engine.client().await,
        engine,
        container,
        events,
        consumed,
        kill_asked: false,
        unkillable: false,
        backoff: Backoff::default(),
    };
    let exit = match watch.start_if_created(&mut kill).await {
        Ok(()) => watch.until_exit(&mut kill).await,
        Err(never) => never,
    };
    watch.events.send(RunEvent::Exited(exit));
}

/// One run's container as its supervisor knows it.
struct Watch {
    engine: Engine,
    docker: Docker,
    container: String,
    events: RunEvents,
    /// Stdout lines of the log already reported.
    consumed: u64,
    kill_asked: bool,
    /// The kill channel closed: no kill can come.
    unkillable: bool,
    backoff: Backoff,
}

impl Watch {
    /// The connection failed: say so (the application hears it), wait,
    /// and get a client again.
    async fn trouble(&mut self, what: &str, e: &EngineError) {
        let run = self.events.run();
        let error = format!("docker: {what} of {}: {e}", self.container);
        tracing::warn!(
            run = run.get(),
            "{error}; the run stays live until the engine answers"
        );
        self.events.send(RunEvent::Trouble(error));
        self.backoff.wait().await;
        self.docker = self.engine.client().await;
    }

    /// Creates (idempotent by name) and starts the container; `Err` is the
    /// exit of a run that never started.
    async fn create_and_start(
        &mut self,
        body: ContainerCreateBody,
        kill: &mut mpsc::UnboundedReceiver<()>,
    ) -> Result<(), RunExit> {
        loop {
            let options = CreateContainerOptionsBuilder::new()
                .name(&self.container)
                .build();
            match self
                .docker
                .create_container(Some(options), body.clone())
                .await
            {
                Ok(_) => break,
                // An earlier try created it and its answer was lost.
                Err(e) if status_of(&e) == Some(409) => break,
                Err(e) if status_of(&e).is_some() => {
                    return Err(RunExit::NotStarted(format!(
                        "docker could not create the container: {e}"
                    )))
                }
                Err(e) => self.trouble("create", &e).await,
            }
        }
        self.backoff.reset();
        self.start(kill).await
    }

    /// Makes sure an adopted run's container was started: a driver that
    /// died between create and start left it created, and the engine's
    /// wait answers `0` at once for a container that never ran. `Err` is
    /// the exit of a run whose container is gone or never started.
    async fn start_if_created(
        &mut self,
        kill: &mut mpsc::UnboundedReceiver<()>,
    ) -> Result<(), RunExit> {
        loop {
            match self.docker.inspect_container(&self.container, None).await {
                Ok(inspected) => {
                    let status = inspected.state.and_then(|s| s.status);
                    if status == Some(ContainerStateStatusEnum::CREATED) {
                        tracing::info!(container = %self.container, "adopted before its start: starting it");
                        return self.start(kill).await;
                    }
                    return Ok(());
                }
                Err(e) if status_of(&e) == Some(404) => {
                    return Err(RunExit::Gone("the container was removed".into()))
                }
                Err(e) => self.trouble("inspect", &e).await,
            }
        }
    }

    /// Starts the created container, unless a kill came first (then it
    /// never ran); `Err` is the exit of a run that never started.
    async fn start(&mut self, kill: &mut mpsc::UnboundedReceiver<()>) -> Result<(), RunExit> {
        if kill.try_recv().is_ok() {
            // Killed before it started: it never ran.
            remove_until_gone(&self.docker, &self.container).await;
            return Err(RunExit::NotStarted(
                "killed before its container started".into(),
            ));
        }
        loop {
            match self.docker.start_container(&self.container, None).await {
                Ok(()) => return Ok(()),
                Err(e) if status_of(&e) == Some(304) => return Ok(()),
                Err(e) if status_of(&e).is_some() => {
                    remove_until_gone(&self.docker, &self.container).await;
                    return Err(RunExit::NotStarted(format!(
                        "docker could not start the container: {e}"
                    )));
                }
                Err(e) => {
                    self.trouble("start", &e).await;
                    // The start may have reached the engine: it says.
                    if let Ok(inspected) =
                        self.docker.inspect_container(&self.container, None).await
                    {
                        let state = inspected.state.unwrap_or_default();
                        if state.running == Some(true)
                            || state.finished_at.is_some_and(|f| !f.starts_with("0001"))
                        {
                            return Ok(());
                        }
                    }
                }
            }
        }
    }

    /// Follows the log and waits for the container's end; through any
    /// trouble with the daemon, until the engine reports the exit.
    async fn until_exit(&mut self, kill: &mut mpsc::UnboundedReceiver<()>) -> RunExit {
        loop {
            match self.attach(kill).await {
                Attached::Exited(code) => return RunExit::Code(code),
                Attached::Gone => return RunExit::Gone("the container was removed".into()),
                Attached::Lost => {}
            }
            // Reconnect: the engine says what became of the container.
            loop {
                match self.docker.inspect_container(&self.container, None).await {
                    Ok(inspected) => {
                        let state = inspected.state.unwrap_or_default();
                        if state.running == Some(true) {
                            break;
                        }
                        // It ended: read what it wrote since, then report.
                        self.read_rest().await;
                        let code = state.exit_code.unwrap_or(-1);
                        return RunExit::Code(i32::try_from(code).unwrap_or(-1));
                    }
                    Err(e) if status_of(&e) == Some(404) => {
                        return RunExit::Gone("the container was removed".into())
                    }
                    Err(e) => self.trouble("inspect", &e).await,
                }
            }
        }
    }

    /// One attachment: the followed log and the wait, together.
    async fn attach(&mut self, kill: &mut mpsc::UnboundedReceiver<()>) -> Attached {
        let logs_options = LogsOptionsBuilder::new()
            .follow(true)
            .stdout(true)
            .stderr(true)
            .tail("all")
            .build();
        let wait_options = WaitContainerOptionsBuilder::new()
            .condition("not-running")
            .build();
        let docker = self.docker.clone();
        let mut logs = docker.logs(&self.container, Some(logs_options));
        let mut wait = docker.wait_container(&self.container, Some(wait_options));
        let (mut stdout, mut stderr) = (Lines::default(), Lines::default());
        let mut seen = 0u64;
        let mut logs_done = false;
        let mut exit: Option<i32> = None;
        if self.kill_asked {
            self.send_kill().await;
        }
        loop {
            if logs_done {
                if let Some(code) = exit {
                    self.backoff.reset();
                    return Attached::Exited(code);
                }
            }
            tokio::select! {
                item = logs.next(), if !logs_done => match item {
                    Some(Ok(LogOutput::StdOut { message })) => {
                        for (line, _) in stdout.push(&message) {
                            seen += 1;
                            if seen > self.consumed {
                                self.consumed = seen;
                                self.report(&line);
                            }
                        }
                    }
                    Some(Ok(LogOutput::StdErr { message })) => {
                        for (line, _) in stderr.push(&message) {
                            let line = String::from_utf8_lossy(&line);
                            tracing::warn!(run = self.events.run().get(), "agent stderr: {line}");
                        }
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) if status_of(&e) == Some(404) => return Attached::Gone,
                    Some(Err(e)) => {
                        self.trouble("reading the log", &e).await;
                        return Attached::Lost;
                    }
                    // The log ends when the container stops (or the
                    // connection closed: the wait tells which).
                    None => logs_done = true,
                },
                answer = wait.next(), if exit.is_none() => match answer {
                    Some(Ok(answer)) => exit = Some(i32::try_from(answer.status_code).unwrap_or(-1)),
                    Some(Err(EngineError::DockerContainerWaitError { code, .. })) => {
                        exit = Some(i32::try_from(code).unwrap_or(-1))
                    }
                    Some(Err(e)) if status_of(&e) == Some(404) => return Attached::Gone,
                    Some(Err(e)) => {
                        self.trouble("waiting", &e).await;
                        return Attached::Lost;
                    }
                    None => return Attached::Lost,
                },
                asked = kill.recv(), if !self.kill_asked && !self.unkillable => {
                    match asked {
                        Some(()) => {
                            self.kill_asked = true;
                            self.send_kill().await;
                        }
                        // The runner is gone (detached): nobody can ask
                        // any more, and a closed channel answers at once.
                        None => self.unkillable = true,
                    }
                }
                // The exit is known and the log is still open: give it a
                // moment, then read the rest from the start.
                () = tokio::time::sleep(Duration::from_secs(5)), if exit.is_some() => {
                    return Attached::Lost;
                }
            }
        }
    }

    /// Reads the log of a stopped container to its end, reporting what was
    /// not reported yet.
    async fn read_rest(&mut self) {
        let options = LogsOptionsBuilder::new()
            .follow(false)
            .stdout(true)
            .stderr(false)
            .tail("all")
            .build();
        let docker = self.docker.clone();
        let mut logs = docker.logs(&self.container, Some(options));
        let mut stdout = Lines::default();
        let mut seen = 0u64;
        while let Some(Ok(item)) = logs.next().await {
            if let LogOutput::StdOut { message } = item {
                for (line, _) in stdout.push(&message) {
                    seen += 1;
                    if seen > self.consumed {
                        self.consumed = seen;
                        self.report(&line);
                    }
                }
            }
        }
    }

    fn report(&self, line: &[u8]) {
        if let Some(line) = lines::parse(self.events.run(), line) {
            self.events.send(RunEvent::Line {
                line,
                read_to: self.consumed,
            });
        }
    }

    /// The engine's kill, retried until it is confirmed or the container
    /// is not running anyway.
    async fn send_kill(&mut self) {
        let mut backoff = Backoff::default();
        for _ in 0..20 {
            let options = KillContainerOptionsBuilder::new().signal("KILL").build();
            match self
                .docker
                .kill_container(&self.container, Some(options))
                .await
            {
                Ok(()) => return,
                Err(e) if matches!(status_of(&e), Some(404 | 409)) => return,
                Err(e) => {
                    tracing::warn!(container = %self.container, "docker: kill: {e}; retrying");
                    backoff.wait().await;
                }
            }
        }
        // Still unconfirmed: asked again at the next attachment.
    }
}

/// How one attachment ended.
enum Attached {
    /// The engine reported the exit, and the log was read to its end.
    Exited(i32),
    /// The engine no longer knows the container.
    Gone,
    /// The connection failed: reconnect and ask the engine.
    Lost,
}

impl Drop for DockerRunner {
    /// No executor may be left to remove containers: a thread of its own
    /// does, with a runtime of its own, and the drop waits for it.
    fn drop(&mut self) {
        let mut names: Vec<String> = Vec::new();
        if !self.detached {
            names.extend(self.runs.live().map(|live| container_name(&live.name)));
        }
        // Released containers are removed whatever: their exits are handled.
        names.extend(lock(&self.removing).drain());
        if names.is_empty() {
            return;
        }
        let base = self.engine.base.clone();
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                let Ok(docker) = base.negotiate_version().await else {
                    return;
                };
                for name in names {
                    let options = RemoveContainerOptionsBuilder::new().force(true).build();
                    let _ = tokio::time::timeout(
                        Duration::from_secs(10),
                        docker.remove_container(&name, Some(options)),
                    )
                    .await;
                }
            });
        })
        .join();
    }
}
