//! [`ProcessRuntime`]: each run is a local process, the embedded default
//! that needs no daemon.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use groupq::{RunId, WorkKind};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::process::Command;

use super::child::{self, Watched};
use super::ipc::{Layout, RunDir};
use super::{RunEvent, RunEvents, RunExit, RunSpec, Runtime};

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
pub struct ProcessRuntime {
    layout: Layout,
    commands: [CommandLine; 3],
    runs: HashMap<RunId, (RunDir, Watched)>,
}

impl ProcessRuntime {
    /// Runs `command` for every kind of work, with run and group directories
    /// under `work_dir` (created if missing).
    pub fn new(work_dir: &Path, command: CommandLine) -> io::Result<ProcessRuntime> {
        Ok(ProcessRuntime {
            layout: Layout::new(work_dir)?,
            commands: [command.clone(), command.clone(), command],
            runs: HashMap::new(),
        })
    }

    /// Runs `command` for runs of `kind` instead.
    pub fn with_command(mut self, kind: WorkKind, command: CommandLine) -> ProcessRuntime {
        self.commands[kind_index(kind)] = command;
        self
    }

    /// Keeps run directories after the runs end (for their logs).
    pub fn keep_run_dirs(mut self, keep: bool) -> ProcessRuntime {
        self.layout.keep_runs(keep);
        self
    }

    fn start(&mut self, spec: &RunSpec, events: &RunEvents) -> io::Result<(RunDir, Watched)> {
        let dir = self.layout.prepare(spec)?;
        let line = &self.commands[kind_index(spec.work.kind())];
        let child = Command::new(&line.program)
            .args(&line.args)
            .env("GROUPQ_IPC", &dir.path)
            .env("GROUPQ_GROUP_DIR", self.layout.group_dir(&spec.group))
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
        Ok((
            dir,
            child::watch(child, events.clone(), killer, std::convert::identity),
        ))
    }
}

fn kind_index(kind: WorkKind) -> usize {
    match kind {
        WorkKind::Messages => 0,
        WorkKind::Task => 1,
        _ => 2,
    }
}

impl Runtime for ProcessRuntime {
    fn spawn(&mut self, spec: RunSpec, events: RunEvents) {
        match self.start(&spec, &events) {
            Ok(started) => {
                self.runs.insert(spec.run, started);
            }
            Err(e) => {
                events.send(RunEvent::Exited(RunExit::NotStarted(e.to_string())));
            }
        }
    }

    fn deliver(&mut self, run: RunId, message: &str) -> io::Result<()> {
        match self.runs.get_mut(&run) {
            Some((dir, _)) => dir.deliver(message),
            None => Ok(()),
        }
    }

    fn close(&mut self, run: RunId) -> io::Result<()> {
        match self.runs.get(&run) {
            Some((dir, _)) => dir.close(),
            None => Ok(()),
        }
    }

    fn kill(&mut self, run: RunId) {
        if let Some((_, watched)) = self.runs.get_mut(&run) {
            watched.kill();
        }
    }

    fn release(&mut self, run: RunId) {
        self.runs.remove(&run);
        self.layout.remove(run);
    }
}

impl Drop for ProcessRuntime {
    fn drop(&mut self) {
        for (_, watched) in self.runs.values_mut() {
            watched.kill();
        }
    }
}
