//! [`ProcessRunner`]: each run is a local process, the embedded default
//! that needs no daemon. A run is its process group: it has ended when its
//! agent has exited and nothing of its group is left.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use groupq::{RunId, WorkKind};
use groupq_host::{RunExit, RunSpec};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::ipc::{Layout, WorkLock, STDERR_FILE, STDOUT_FILE};
use super::lines;
use super::live::{Live, Lives};
use super::output::{Tail, Wakeup, Watch};
use super::procs;
use super::{Believed, Found, Recovering, Recovery, RestartPolicy, RunEvent, RunEvents, Runner};

/// A program and its arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandLine {
    /// The program to run.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<OsString>,
}

impl CommandLine {
    /// `program` with no arguments.
    pub fn new(program: impl Into<PathBuf>) -> CommandLine {
        CommandLine {
            program: program.into(),
            args: Vec::new(),
        }
    }

    /// Adds an argument.
    pub fn arg(mut self, arg: impl Into<OsString>) -> CommandLine {
        self.args.push(arg.into());
        self
    }
}

/// Runs every run as a process of its own, in its own process group.
///
/// - The process gets `GROUPQ_IPC` (its run directory, see the protocol in
///   `groupq_protocol`) and `GROUPQ_GROUP_DIR` in its environment, stdin
///   from `/dev/null`.
/// - **Its output outlives its reader.** Its stdout and stderr are the
///   files `stdout` and `stderr` of its run directory, appended to by the
///   agent and read by the runner (woken by inotify on Linux, as each line
///   is written). Nothing of the agent depends on the driver's process: if
///   the driver dies, the agent keeps running and keeps writing, and no
///   line is lost.
/// - **A run is its process group.** The agent leads a process group of
///   its own (not the driver's, so a signal to the driver's group does not
///   reach it). Its exit is reported once the agent has exited and nothing
///   of its group is left: helpers still alive at the agent's exit get
///   [`helper_grace`](Self::helper_grace) (default 500 ms) to exit, then
///   the group is killed, and the exit is reported once they are gone.
///   Helpers that leave the group (`setsid`, a daemon) are not the run's.
/// - Follow-ups are message files renamed into `<run dir>/in/`; close is the
///   `in/_close` sentinel. Kill is SIGKILL of the process group.
/// - Run directories live under `work_dir/runs/` and are removed once the
///   driver has handled the run's exit (unless [`keep_run_dirs`](Self::keep_run_dirs)).
///
/// Dropping the runner kills every process group still running.
pub struct ProcessRunner {
    layout: Layout,
    _lock: WorkLock,
    /// The driver detached: dropping the runner leaves the runs alive.
    detached: bool,
    commands: [CommandLine; 3],
    helper_grace: Duration,
    /// Started with the first run (it needs the tokio runtime).
    wakeup: Option<Wakeup>,
    /// Each live run's process group is its `extra`.
    runs: Lives<Option<i32>>,
}

impl ProcessRunner {
    /// Runs `command` for every kind of work, with run and group directories
    /// under `work_dir` (created if missing).
    pub fn new(work_dir: &Path, command: CommandLine) -> io::Result<ProcessRunner> {
        let layout = Layout::new(work_dir)?;
        Ok(ProcessRunner {
            _lock: layout.lock()?,
            detached: false,
            layout,
            commands: [command.clone(), command.clone(), command],
            helper_grace: Duration::from_millis(500),
            wakeup: None,
            runs: Lives::default(),
        })
    }

    /// Runs `command` for runs of `kind` instead.
    pub fn with_command(mut self, kind: WorkKind, command: CommandLine) -> ProcessRunner {
        self.commands[kind_index(kind)] = command;
        self
    }

    /// Keeps run directories after the runs end (for their logs).
    pub fn keep_run_dirs(mut self, keep: bool) -> ProcessRunner {
        self.layout.keep_runs(keep);
        self
    }

    /// How long helpers still in the run's process group at the agent's
    /// exit get before the group is killed.
    pub fn helper_grace(mut self, grace: Duration) -> ProcessRunner {
        self.helper_grace = grace;
        self
    }

    fn start(&mut self, spec: &RunSpec, events: &RunEvents) -> io::Result<Live<Option<i32>>> {
        let line = &self.commands[kind_index(spec.work.kind())];
        let dir = self.layout.prepare(spec)?;
        let open = |name: &str| -> io::Result<File> {
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.path.join(name))
        };
        let (stdout, stderr) = (open(STDOUT_FILE)?, open(STDERR_FILE)?);
        // Marked just before the launch: a restarted driver that finds the
        // marker knows the run may have started. Marked after the run
        // directory is ready, so that a crash while preparing it leaves no
        // marker and the run counts as never launched.
        self.layout.mark(&spec.name, spec.run)?;
        let child = Command::new(&line.program)
            .args(&line.args)
            .env("GROUPQ_IPC", &dir.path)
            .env("GROUPQ_GROUP_DIR", self.layout.group_dir(&spec.group))
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .process_group(0)
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", line.program.display())))?;
        let pgid = child.id().and_then(|p| i32::try_from(p).ok());
        let wakeup = self.wakeup.get_or_insert_with(Wakeup::start);
        let out = Output {
            stdout: Tail::open(&dir.path.join(STDOUT_FILE), 0)?,
            stderr: Tail::open(&dir.path.join(STDERR_FILE), 0)?,
            watches: [
                wakeup.watch(&dir.path.join(STDOUT_FILE)),
                wakeup.watch(&dir.path.join(STDERR_FILE)),
            ],
        };
        let (kill, killed) = mpsc::unbounded_channel();
        tokio::spawn(supervise(
            child,
            pgid,
            out,
            events.clone(),
            killed,
            self.helper_grace,
        ));
        Ok(Live {
            name: spec.name.clone(),
            dir,
            kill,
            extra: pgid,
        })
    }
}

fn kind_index(kind: WorkKind) -> usize {
    match kind {
        WorkKind::Messages => 0,
        WorkKind::Task => 1,
        _ => 2,
    }
}

/// A run's output files and their wake-ups.
struct Output {
    stdout: Tail,
    stderr: Tail,
    watches: [Watch; 2],
}

impl Output {
    /// Reports every complete stdout line since the last look, and logs
    /// stderr's.
    fn forward(&mut self, events: &RunEvents) {
        let run = events.run();
        match self.stdout.read() {
            Ok(read) => {
                for (line, read_to) in read {
                    if let Some(line) = lines::parse(run, &line) {
                        events.send(RunEvent::Line { line, read_to });
                    }
                }
            }
            Err(e) => tracing::warn!(run = run.get(), "cannot read the agent's stdout: {e}"),
        }
        if let Ok(read) = self.stderr.read() {
            for (line, _) in read {
                let line = String::from_utf8_lossy(&line);
                tracing::warn!(run = run.get(), "agent stderr: {line}");
            }
        }
    }

    async fn changed(&self) {
        tokio::select! {
            () = self.watches[0].changed() => {},
            () = self.watches[1].changed() => {},
        }
    }
}

/// Watches one run: forwards its lines as they are written, kills its
/// group when asked, and reports its exit once the agent and everything of
/// its group are gone, after every line.
async fn supervise(
    mut child: Child,
    pgid: Option<i32>,
    mut out: Output,
    events: RunEvents,
    mut kill: mpsc::UnboundedReceiver<()>,
    grace: Duration,
) {
    let mut killed = false;
    let status = loop {
        out.forward(&events);
        tokio::select! {
            biased;
            status = child.wait() => break status,
            Some(()) = kill.recv(), if !killed => {
                killed = true;
                procs::kill_group(pgid);
            }
            () = out.changed() => {}
        }
    };
    let exit = match status {
        Ok(status) => exit_of(status),
        Err(e) => RunExit::Gone(format!("cannot wait for the agent: {e}")),
    };
    finish(pgid, out, events, kill, grace, killed, exit).await;
}

/// Watches a run adopted after a restart: its agent is not this process's
/// child, so its end is seen in `/proc`, and its exit status went to its
/// new parent: the exit is reported as [`RunExit::Gone`].
async fn supervise_adopted(
    leader: Option<i32>,
    mut out: Output,
    events: RunEvents,
    mut kill: mpsc::UnboundedReceiver<()>,
    grace: Duration,
) {
    let mut killed = false;
    while leader.is_some_and(procs::alive) {
        out.forward(&events);
        tokio::select! {
            Some(()) = kill.recv(), if !killed => {
                killed = true;
                procs::kill_group(leader);
            }
            () = out.changed() => {}
            // Not its parent: nothing wakes this task when the agent ends.
            () = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
    }
    let exit =
        RunExit::Gone("adopted after a restart: its exit status went to its new parent".into());
    finish(leader, out, events, kill, grace, killed, exit).await;
}

/// The agent has exited: helpers of its group get the grace, then die;
/// the exit is reported once nothing of the group is left, after every
/// line.
async fn finish(
    pgid: Option<i32>,
    mut out: Output,
    events: RunEvents,
    mut kill: mpsc::UnboundedReceiver<()>,
    grace: Duration,
    mut killed: bool,
    exit: RunExit,
) {
    let run = events.run();
    if let Some(pgid) = pgid.filter(|&g| procs::group_alive(g)) {
        let until = Instant::now() + grace;
        while procs::group_alive(pgid) && !killed && Instant::now() < until {
            out.forward(&events);
            tokio::select! {
                Some(()) = kill.recv() => killed = true,
                () = tokio::time::sleep(Duration::from_millis(10)) => {}
            }
        }
        if procs::group_alive(pgid) {
            tracing::warn!(
                run = run.get(),
                "helpers of the agent outlived it by {grace:?}: killing its process group"
            );
            procs::kill_group(Some(pgid));
            let mut looks = 0u64;
            while procs::group_alive(pgid) {
                // The run's slot stays held until its group is gone.
                out.forward(&events);
                tokio::time::sleep(Duration::from_millis(10)).await;
                looks += 1;
                if looks % 1000 == 0 {
                    tracing::warn!(run = run.get(), "its process group survives SIGKILL");
                    procs::kill_group(Some(pgid));
                }
            }
        }
    }
    out.forward(&events);
    events.send(RunEvent::Exited(exit));
}

fn exit_of(status: ExitStatus) -> RunExit {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => RunExit::Code(code),
        (None, Some(signal)) => RunExit::Signal(signal),
        (None, None) => RunExit::Gone("no exit status".into()),
    }
}

impl Runner for ProcessRunner {
    fn spawn(&mut self, spec: RunSpec, events: RunEvents) {
        match self.start(&spec, &events) {
            Ok(live) => {
                self.runs.insert(spec.run, live);
            }
            Err(e) => {
                events.send(RunEvent::Exited(RunExit::NotStarted(e.to_string())));
            }
        }
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
        if let Some(name) = self.runs.release(run) {
            self.layout.remove(&name);
        }
    }

    /// A scan of `/proc` finds the agents of this work directory by their
    /// `GROUPQ_IPC`; the launch markers in `<work dir>/launches/` name the
    /// runs launched. Killed (and waited for, off the loop's thread): every
    /// agent under [`RestartPolicy::Kill`], and under
    /// [`RestartPolicy::Adopt`] those of runs not believed live. Adopted:
    /// each believed run that was launched, alive or ended.
    fn recover(&mut self, recovery: Recovery) -> Recovering<'_> {
        Box::pin(async move {
            let marked = self.layout.marked()?;
            let prefix = self.layout.ipc_env_prefix();
            let mut believed: HashMap<String, Believed> = match recovery.policy {
                RestartPolicy::Kill => HashMap::new(),
                _ => recovery
                    .believed
                    .into_iter()
                    .map(|b| (b.name.clone(), b))
                    .collect(),
            };
            let keep: Vec<String> = believed.keys().cloned().collect();
            let leaders = tokio::task::spawn_blocking(move || procs::settle(&prefix, &keep))
                .await
                .map_err(io::Error::other)?;
            let mut found = Vec::new();
            for (run, name) in marked {
                match believed.remove(&name).filter(|b| b.run == run) {
                    Some(b) => {
                        let leader = leaders.get(&name).copied();
                        self.adopt(b, leader)?;
                        found.push((run, Found::Adopted));
                    }
                    None => {
                        found.push((run, Found::Launched));
                        self.runs.recovered(run, name);
                    }
                }
            }
            Ok(found)
        })
    }

    fn detach(&mut self) {
        self.detached = true;
    }
}

impl ProcessRunner {
    /// Takes over a run the driver before left: its agent (if `leader`
    /// still lives) is watched on, its output read from where the journal
    /// stopped.
    fn adopt(&mut self, b: Believed, leader: Option<i32>) -> io::Result<()> {
        let dir = self.layout.existing(&b.name, b.delivered);
        let stdout = dir.path.join(STDOUT_FILE);
        let stderr = dir.path.join(STDERR_FILE);
        // Its stderr from where it is now: what it wrote before was logged.
        let stderr_end = std::fs::metadata(&stderr).map_or(0, |m| m.len());
        let wakeup = self.wakeup.get_or_insert_with(Wakeup::start);
        let out = Output {
            stdout: Tail::open(&stdout, b.read_to)?,
            stderr: Tail::open(&stderr, stderr_end)?,
            watches: [wakeup.watch(&stdout), wakeup.watch(&stderr)],
        };
        let (kill, killed) = mpsc::unbounded_channel();
        tracing::info!(run = b.run.get(), alive = leader.is_some(), "adopted");
        tokio::spawn(supervise_adopted(
            leader,
            out,
            b.events,
            killed,
            self.helper_grace,
        ));
        self.runs.insert(
            b.run,
            Live {
                name: b.name,
                dir,
                kill,
                extra: leader,
            },
        );
        Ok(())
    }
}

impl Drop for ProcessRunner {
    fn drop(&mut self) {
        if self.detached {
            return;
        }
        for live in self.runs.live() {
            procs::kill_group(live.extra);
        }
    }
}
