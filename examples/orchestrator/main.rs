//! # The orchestrator demo: groupq driven by `groupq-tokio`
//!
//! `cargo run --example orchestrator [-- OPTIONS]` (`--help` lists them).
//!
//! A scripted workload (`workload.rs`) talks to a `groupq_tokio::Driver`
//! through its `Handle`: bursts of messages to six groups, tasks (some
//! submitted twice), an agent that fails twice before it succeeds, one that
//! hangs and is killed, a conversation that grows until it is compacted,
//! idle agents evicted for waiting groups, and a shutdown once the queued
//! work is done. Every run is the reference agent: this binary re-executed
//! as `orchestrator agent` (processes, the default), or the
//! `groupq-agent:dev` image (`--docker`). `timeline.rs` prints what the
//! host hears; `evidence.rs` reads what the agents wrote about themselves
//! and checks the promises on it. The invariant checker runs over every
//! input. `--metrics ADDR` serves the operator surface (`operator.rs`).
//! Exits non-zero on a violation or if the agents' clocks disagree.

mod engine;
mod evidence;
mod operator;
mod timeline;
mod workload;

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use groupq::{Config, RunState};
use groupq_tokio::{CommandLine, DockerRunner, Driver, Handle, ProcessRunner, Runner};

const USAGE: &str = "\
usage: orchestrator [--docker] [--image TAG] [--quick] [--max-active N] [--work-dir DIR]
                    [--metrics ADDR]

Runs a scripted chat workload through groupq with real agents and prints
what happens. Options:
  --docker        run each agent as a Docker container (default: a process)
  --image TAG     the agent image to build and run for --docker (default
                  groupq-agent:dev, built by docker/build-image.sh)
  --quick         the same script, about two and a half times faster
  --max-active N  the global limit of live agents (default 3; 6 groups)
  --work-dir DIR  keep the run and group directories (with each agent's
                  agent.log) in DIR, which must be missing or empty
                  (default: a temporary directory, removed at the end)
  --metrics ADDR  serve GET /metrics (Prometheus) and GET /status (JSON:
                  every tracked group) on ADDR, e.g. 127.0.0.1:9464 (port
                  0 picks a free one; the address is printed)
  -h, --help      this text";

/// The owner label of the demo's containers.
const OWNER: &str = "groupq-orchestrator-demo";

/// Command-line options.
pub struct Options {
    docker: bool,
    image: String,
    quick: bool,
    max_active: usize,
    work_dir: Option<PathBuf>,
    metrics: Option<SocketAddr>,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options, String> {
        let mut options = Options {
            docker: false,
            image: "groupq-agent:dev".into(),
            quick: false,
            max_active: 3,
            work_dir: None,
            metrics: None,
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
            match arg.as_str() {
                "--docker" => options.docker = true,
                "--quick" => options.quick = true,
                "--image" => options.image = value("--image")?.clone(),
                "--max-active" => {
                    let n = value("--max-active")?;
                    options.max_active =
                        n.parse().map_err(|e| format!("--max-active {n:?}: {e}"))?;
                    if options.max_active == 0 {
                        return Err("--max-active must be at least 1".into());
                    }
                }
                "--work-dir" => options.work_dir = Some(value("--work-dir")?.into()),
                "--metrics" => {
                    let addr = value("--metrics")?;
                    options.metrics = Some(
                        addr.parse()
                            .map_err(|e| format!("--metrics {addr:?}: {e}"))?,
                    );
                }
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        if let Some(dir) = &options.work_dir {
            check_work_dir(dir)?;
        }
        Ok(options)
    }
}

/// A work directory must be missing or an empty directory.
fn check_work_dir(dir: &Path) -> Result<(), String> {
    match fs::read_dir(dir) {
        Ok(mut entries) => match entries.next() {
            None => Ok(()),
            Some(_) => Err(format!("--work-dir {}: not empty", dir.display())),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("--work-dir {}: {e}", dir.display())),
    }
}

/// How fast things happen.
pub struct Pace {
    pub turn: Duration,
    pub script_scale: f64,
    pub config: Config,
}

impl Pace {
    fn new(options: &Options) -> Pace {
        let (turn, max_turn, kill_grace, retry_base, scale) = if options.quick {
            (60, 600, 300, 100, 0.4)
        } else {
            (150, 1200, 500, 200, 1.0)
        };
        // A container's start counts toward its first turn's deadline.
        let max_turn = if options.docker {
            max_turn + 1500
        } else {
            max_turn
        };
        let ms = Duration::from_millis;
        Pace {
            turn: ms(turn),
            script_scale: scale,
            config: Config::default()
                .with_max_active(options.max_active)
                .with_idle_timeout(Duration::from_secs(5))
                .with_retry_base(ms(retry_base))
                .with_max_turn_time(ms(max_turn))
                .with_max_compact_time(ms(max_turn))
                .with_kill_grace(ms(kill_grace))
                .with_shutdown_grace(ms(max_turn)),
        }
    }
}

/// The work directory; a temporary one is removed when dropped.
struct WorkDir {
    path: PathBuf,
    temporary: bool,
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if self.temporary {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "agent") {
        return groupq_agent::agent::main(&args[1..]);
    }
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let options = match Options::parse(&args) {
        Ok(options) => options,
        Err(e) => {
            eprintln!("orchestrator: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("orchestrator: cannot start tokio: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("orchestrator: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Any error that stops the demo.
pub type Fatal = Box<dyn std::error::Error + Send + Sync>;

async fn run(options: &Options) -> Result<(), Fatal> {
    let pace = Pace::new(options);
    let work = match &options.work_dir {
        Some(dir) => WorkDir {
            path: dir.clone(),
            temporary: false,
        },
        None => {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            WorkDir {
                path: std::env::temp_dir().join(format!(
                    "groupq-orchestrator-{}-{nanos}",
                    std::process::id()
                )),
                temporary: true,
            }
        }
    };
    fs::create_dir_all(&work.path).map_err(|e| format!("{}: {e}", work.path.display()))?;
    let runtime = runtime(options, &pace, &work.path)?;
    let config = pace.config.clone();
    let (driver, handle, events) = Driver::builder(config.clone())
        .checked(true)
        .build(runtime)?;
    println!(
        "groupq orchestrator: {} agents, max_active {}, idle timeout {:?}, retry base {:?}",
        if options.docker { "Docker" } else { "process" },
        config.max_active(),
        config.idle_timeout(),
        config.retry_base(),
    );
    let _server = match options.metrics {
        Some(addr) => {
            let (bound, server) = operator::serve(addr, handle.clone()).await?;
            println!("operator surface: http://{bound}/metrics and http://{bound}/status");
            Some(server)
        }
        None => None,
    };
    let sampler = options.docker.then(|| engine::Sampler::start(OWNER));
    let driver = tokio::spawn(driver.run());
    let timeline = tokio::spawn(timeline::print(events));
    tokio::select! {
        played = play_then_shut_down(&handle, &pace, &work.path) => played?,
        _ = tokio::signal::ctrl_c() => {
            println!("interrupted: shutting down");
            handle.shutdown().await?;
        }
    }
    driver.await??;
    let metrics = handle.metrics();
    let tally = timeline.await?;
    let evidence = evidence::Evidence::read(&work.path)?;
    let engine = match sampler {
        Some(sampler) => Some(sampler.finish().await?),
        None => None,
    };
    timeline::summary(&tally, &metrics, &evidence, engine.as_ref(), &config);
    evidence.verify(config.max_active())?;
    if let Some(engine) = &engine {
        engine.verify(config.max_active())?;
    }
    Ok(())
}

/// The runtime: processes re-executing this binary, or Docker containers.
fn runtime(options: &Options, pace: &Pace, dir: &Path) -> Result<Box<dyn Runner>, Fatal> {
    let turn_ms = pace.turn.as_millis().to_string();
    if options.docker {
        ensure_image(&options.image)?;
        let runtime = DockerRunner::new(dir, options.image.clone())?
            .with_args(["--turn-ms", &turn_ms])
            .with_owner(OWNER)
            .keep_run_dirs(true);
        Ok(Box::new(runtime))
    } else {
        let agent = CommandLine::new(std::env::current_exe()?)
            .arg("agent")
            .arg("--turn-ms")
            .arg(turn_ms);
        Ok(Box::new(
            ProcessRunner::new(dir, agent)?.keep_run_dirs(true),
        ))
    }
}

/// Builds the agent image from this source tree.
fn ensure_image(image: &str) -> Result<(), Fatal> {
    let docker = |args: &[&str]| std::process::Command::new("docker").args(args).output();
    let info = docker(&["info", "--format", "{{.ServerVersion}}"])
        .map_err(|e| format!("--docker: cannot run the docker client: {e}"))?;
    if !info.status.success() {
        return Err(format!(
            "--docker: no Docker daemon: {}",
            String::from_utf8_lossy(&info.stderr).trim()
        )
        .into());
    }
    // Always (re)built from this source tree: cheap when up to date, and
    // an image left from older sources would run an older agent.
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("docker/build-image.sh");
    let built = std::process::Command::new("bash")
        .arg(&script)
        .arg(image)
        .status()?;
    if !built.success() {
        return Err(format!("{}: {built}", script.display()).into());
    }
    Ok(())
}

/// Plays the script, waits until no work is left, then shuts down.
async fn play_then_shut_down(handle: &Handle, pace: &Pace, dir: &Path) -> Result<(), Fatal> {
    workload::play(handle, pace.script_scale).await?;
    println!("script over: shutting down once the queued work is done");
    while work_left(handle).await? {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The host's own clock, for the evidence: idle agents end at once.
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    fs::write(
        dir.join("host.log"),
        format!("event=shutdown unix_nanos={nanos}\n"),
    )?;
    let report = handle.shutdown().await?;
    println!(
        "shutdown: {} task(s) and {} group(s) with messages left, {} live run(s) to close",
        report.tasks.len(),
        report.messages.len(),
        report.live_runs.len()
    );
    Ok(())
}

/// Whether any group still has work queued, a retry scheduled, a compact
/// owed, or a run that is not idle.
async fn work_left(handle: &Handle) -> Result<bool, Fatal> {
    let stats = handle.stats().await?.core;
    if stats.waiting_groups > 0 || stats.queued_jobs > 0 {
        return Ok(true);
    }
    for group in workload::GROUPS {
        if let Some(e) = handle.status(group).await?.and_then(|s| s.core) {
            if e.unread_messages
                || e.retry_at.is_some()
                || e.compact_pending
                || e.run.is_some_and(|r| r.state != RunState::IdleWaiting)
            {
                return Ok(true);
            }
        }
    }
    Ok(false)
}
