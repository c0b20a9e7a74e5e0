//! [`ProcessRunner`]: each run is a local process, the embedded default
//! that needs no daemon.

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use groupq::{RunId, WorkKind};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::process::Command;

use super::ipc::{Layout, RunDir};
use super::local::{LocalRuns, Started};
use groupq_host::RunSpec;

use super::{Recovering, RunEvents, Runner};

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
///   `groupq_agent`) and `GROUPQ_GROUP_DIR` in its environment, stdin from
///   `/dev/null`, and its stdout and stderr read by the runtime.
/// - Follow-ups are message files renamed into `<run dir>/in/`; close is the
///   `in/_close` sentinel.
/// - Kill is SIGKILL of the process group, so helpers the agent started die
///   with it.
/// - Run directories live under `work_dir/runs/` and are removed once the
///   driver has handled the run's exit (unless [`keep_run_dirs`](Self::keep_run_dirs)).
///
/// Dropping the runtime kills every process still running.
pub struct ProcessRunner {
    runs: LocalRuns,
    commands: [CommandLine; 3],
}

impl ProcessRunner {
    /// Runs `command` for every kind of work, with run and group directories
    /// under `work_dir` (created if missing).
    pub fn new(work_dir: &Path, command: CommandLine) -> io::Result<ProcessRunner> {
        Ok(ProcessRunner {
            runs: LocalRuns::new(Layout::new(work_dir)?),
            commands: [command.clone(), command.clone(), command],
        })
    }

    /// Runs `command` for runs of `kind` instead.
    pub fn with_command(mut self, kind: WorkKind, command: CommandLine) -> ProcessRunner {
        self.commands[kind_index(kind)] = command;
        self
    }

    /// Keeps run directories after the runs end (for their logs).
    pub fn keep_run_dirs(mut self, keep: bool) -> ProcessRunner {
        self.runs.layout.keep_runs(keep);
        self
    }
}

/// Starts `line` in `dir` as the leader of a new process group.
fn start(line: &CommandLine, layout: &Layout, dir: &RunDir, group: &str) -> io::Result<Started> {
    let child = Command::new(&line.program)
        .args(&line.args)
        .env("GROUPQ_IPC", &dir.path)
        .env("GROUPQ_GROUP_DIR", layout.group_dir(group))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", line.program.display())))?;
    let killer = Box::new(|pid: Option<u32>| {
        // The child leads its own process group (process_group(0)).
        if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
        }
    });
    Ok(Started {
        child,
        killer,
        exit_of_run: std::convert::identity,
    })
}

fn kind_index(kind: WorkKind) -> usize {
    match kind {
        WorkKind::Messages => 0,
        WorkKind::Task => 1,
        _ => 2,
    }
}

impl Runner for ProcessRunner {
    fn spawn(&mut self, spec: RunSpec, events: RunEvents) {
        let line = &self.commands[kind_index(spec.work.kind())];
        self.runs.spawn(&spec, events, |layout, dir| {
            start(line, layout, dir, &spec.group)
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

    /// A scan of `/proc` for processes whose `GROUPQ_IPC` names a run
    /// directory of this work directory: every agent still alive is killed
    /// with its process group. The launch markers in `<work dir>/launches/`
    /// and the agents found name the runs launched.
    fn recover(&mut self) -> Recovering<'_> {
        Box::pin(self.runs.recover())
    }
}

impl Drop for ProcessRunner {
    fn drop(&mut self) {
        self.runs.kill_all();
    }
}
