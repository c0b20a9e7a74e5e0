//! What the process and Docker runtimes share: runs that are a local child
//! process (the agent, or the `docker run` client attached to it) with a
//! run directory, fed and closed through files, killed through the watcher.

use std::collections::HashMap;
use std::io;

use groupq::RunId;
use tokio::process::Child;

use super::child::{self, Killer, Watched};
use super::ipc::{Layout, RunDir};
use groupq_host::{RunExit, RunSpec};

use super::{RunEvent, RunEvents};

/// A started child: the process, how to kill its run, and how to read its
/// exit status.
pub(crate) struct Started {
    pub(crate) child: Child,
    pub(crate) killer: Killer,
    pub(crate) exit_of_run: fn(RunExit) -> RunExit,
}

/// The live runs of a local runtime, by id.
pub(crate) struct LocalRuns {
    pub(crate) layout: Layout,
    /// Runs of an earlier driver found by recovery, until released.
    recovered: HashMap<RunId, String>,
    runs: HashMap<RunId, (String, RunDir, Watched)>,
}

impl LocalRuns {
    pub(crate) fn new(layout: Layout) -> LocalRuns {
        LocalRuns {
            layout,
            recovered: HashMap::new(),
            runs: HashMap::new(),
        }
    }

    /// Prepares the run directory, then `start`s the child in it; a failure
    /// of either is the run's exit ([`RunExit::NotStarted`]).
    pub(crate) fn spawn(
        &mut self,
        spec: &RunSpec,
        events: RunEvents,
        start: impl FnOnce(&Layout, &RunDir) -> io::Result<Started>,
    ) {
        // Marked just before the launch: a restarted driver that finds the
        // marker knows the run may have started. Marked after the run
        // directory is ready, so that a crash while preparing it leaves no
        // marker and the run counts as never launched.
        let started = self.layout.prepare(spec).and_then(|dir| {
            self.layout.mark(&spec.name, spec.run)?;
            start(&self.layout, &dir).map(|started| (dir, started))
        });
        match started {
            Ok((dir, started)) => {
                let watched =
                    child::watch(started.child, events, started.killer, started.exit_of_run);
                self.runs.insert(spec.run, (spec.name.clone(), dir, watched));
            }
            Err(e) => {
                events.send(RunEvent::Exited(RunExit::NotStarted(e.to_string())));
            }
        }
    }

    pub(crate) fn deliver(&mut self, run: RunId, message: &str) -> io::Result<()> {
        match self.runs.get_mut(&run) {
            Some((_, dir, _)) => dir.deliver(message),
            None => Ok(()),
        }
    }

    pub(crate) fn close_input(&mut self, run: RunId) -> io::Result<()> {
        match self.runs.get(&run) {
            Some((_, dir, _)) => dir.close(),
            None => Ok(()),
        }
    }

    pub(crate) fn kill(&mut self, run: RunId) {
        if let Some((_, _, watched)) = self.runs.get_mut(&run) {
            watched.kill();
        }
    }

    pub(crate) fn release(&mut self, run: RunId) {
        if let Some((name, _, _)) = self.runs.remove(&run) {
            self.layout.remove(&name);
        } else if let Some(name) = self.recovered.remove(&run) {
            self.layout.remove(&name);
        }
    }

    /// The names of the runs not yet released.
    pub(crate) fn live_names(&self) -> impl Iterator<Item = &str> + '_ {
        self.runs.values().map(|(name, _, _)| name.as_str())
    }

    /// After a restart: kills every agent process of this layout still
    /// alive (found by a scan of `/proc` for its `GROUPQ_IPC`, which names
    /// its run directory, so a reused pid is never taken for an agent),
    /// waits until they are gone, and returns every run that was marked or
    /// found. The markers stay until each run is released.
    pub(crate) async fn recover(&mut self) -> io::Result<Vec<RunId>> {
        let marked = self.layout.marked()?;
        let prefix = self.layout.ipc_env_prefix();
        // The scan, the kills and the waits block: off the loop's thread.
        tokio::task::spawn_blocking(move || {
            let found = proc_scan(&prefix);
            for &(pid, _) in &found {
                kill_group(pid);
            }
            for &(pid, _) in &found {
                wait_gone(pid);
            }
        })
        .await
        .map_err(io::Error::other)?;
        let mut runs = Vec::new();
        for (run, name) in marked {
            runs.push(run);
            self.recovered.insert(run, name);
        }
        Ok(runs)
    }

    /// Asks every watcher to kill its run.
    pub(crate) fn kill_all(&mut self) {
        for (_, _, watched) in self.runs.values_mut() {
            watched.kill();
        }
    }
}

/// Processes whose `GROUPQ_IPC` starts with `prefix`, with the rest of it
/// (their run's name).
fn proc_scan(prefix: &str) -> Vec<(u32, String)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(env) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        for var in env.split(|&b| b == 0) {
            let name = std::str::from_utf8(var)
                .ok()
                .and_then(|v| v.strip_prefix(prefix));
            if let Some(name) = name {
                found.push((pid, name.to_string()));
            }
        }
    }
    found
}

/// SIGKILL to the process group `pid` leads (agents lead their own), and
/// to `pid` itself in case it does not.
fn kill_group(pid: u32) {
    use nix::sys::signal::{kill, killpg, Signal};
    use nix::unistd::Pid;
    if let Ok(pid) = i32::try_from(pid) {
        let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
}

/// Waits (up to 10 s) until `pid` is gone or a zombie: an orphan is reaped
/// by init, not by us.
fn wait_gone(pid: u32) {
    for _ in 0..1000 {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => return,
            Ok(stat)
                if stat
                    .rsplit(')')
                    .next()
                    .is_some_and(|rest| rest.trim_start().starts_with('Z')) =>
            {
                return
            }
            Ok(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
        }
    }
    tracing::warn!(
        pid,
        "an agent of the previous driver did not die within 10 s"
    );
}
