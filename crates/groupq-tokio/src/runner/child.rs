//! Watching a run's local child process (the agent itself, or the `docker
//! run` client attached to the container): its stdout lines become
//! [`RunEvent::Line`]s, its stderr becomes log events, its end becomes the
//! single [`RunEvent::Exited`], and a kill request is carried out while the
//! child is still unreaped (so its pid cannot have been reused).

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use groupq_protocol::AgentLine;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout};
use tokio::sync::oneshot;

use groupq_host::RunExit;

use super::{RunEvent, RunEvents};

/// How to kill a child's run, given the child's pid.
pub(crate) type Killer = Box<dyn FnOnce(Option<u32>) + Send>;

/// The runtime's side of a watched child: ask for a kill.
#[derive(Debug)]
pub(crate) struct Watched {
    kill: Option<oneshot::Sender<()>>,
}

impl Watched {
    /// Asks the watcher to kill the run (once; later asks do nothing).
    pub(crate) fn kill(&mut self) {
        if let Some(kill) = self.kill.take() {
            let _ = kill.send(());
        }
    }
}

/// Starts watching `child`: its lines and exit go to `events` (the exit
/// through `exit_of_run`, for a client whose status can mean "never
/// started"), and [`Watched::kill`] runs `killer`.
pub(crate) fn watch(
    mut child: Child,
    events: RunEvents,
    killer: Killer,
    exit_of_run: fn(RunExit) -> RunExit,
) -> Watched {
    let (kill, mut killed) = oneshot::channel::<()>();
    if let Some(stderr) = child.stderr.take() {
        let run = events.run();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                tracing::warn!(run = run.get(), "agent stderr: {line}");
            }
        });
    }
    tokio::spawn(async move {
        let pid = child.id();
        let mut lines = child.stdout.take().map(|out| BufReader::new(out).lines());
        let mut killer = Some(killer);
        // Bytes of stdout read so far: each line's position.
        let mut read_to = 0u64;
        let exit = loop {
            tokio::select! {
                line = next_line(&mut lines) => match line {
                    Some(line) => {
                        read_to += line.len() as u64 + 1;
                        forward(&events, &line, read_to);
                    }
                    // End of stdout (or a read error): only the exit is left.
                    None => lines = None,
                },
                // The exit is reported once stdout is drained, after every line.
                status = child.wait(), if lines.is_none() => break match status {
                    Ok(status) => exit_of_run(exit_of(status)),
                    Err(e) => RunExit::NotStarted(format!("cannot wait for the process: {e}")),
                },
                // Asked to kill, or the runtime let go of the run: either way
                // this branch is done (a finished receiver must not be polled).
                asked = &mut killed, if killer.is_some() => {
                    if let (Some(kill), Ok(())) = (killer.take(), asked) {
                        kill(pid);
                    }
                }
            }
        };
        events.send(RunEvent::Exited(exit));
    });
    Watched { kill: Some(kill) }
}

/// The next stdout line; never, once stdout is done.
async fn next_line(lines: &mut Option<Lines<BufReader<ChildStdout>>>) -> Option<String> {
    match lines {
        Some(lines) => lines.next_line().await.ok().flatten(),
        None => std::future::pending().await,
    }
}

/// One stdout line: a protocol line is forwarded, anything else logged.
fn forward(events: &RunEvents, line: &str, read_to: u64) {
    match serde_json::from_str::<AgentLine>(line) {
        Ok(line) => {
            events.send(RunEvent::Line { line, read_to });
        }
        Err(e) => tracing::warn!(
            run = events.run().get(),
            "not a protocol line ({e}): {line:?}"
        ),
    }
}

fn exit_of(status: ExitStatus) -> RunExit {
    match (status.code(), status.signal()) {
        (Some(code), _) => RunExit::Code(code),
        (None, Some(signal)) => RunExit::Signal(signal),
        (None, None) => RunExit::Code(-1),
    }
}
