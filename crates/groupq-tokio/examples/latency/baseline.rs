//! The runner designs before this round, kept as baselines to measure the
//! current ones against in the same process: a process whose stdout is a
//! pipe the runner reads (no file: its output dies with its reader), and a
//! container run by an attached `docker run -i --rm` client.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use groupq::RunId;
use groupq_protocol::{
    write_atomic, write_message, AgentLine, AssignedWork, Assignment, CLOSE_SENTINEL, INPUT_DIR,
    RUN_FILE,
};
use groupq_tokio::{RunEvent, RunEvents, RunExit, RunSpec, RunWork, Runner};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// How a baseline starts its runs.
#[derive(Clone)]
pub enum Launch {
    /// A local process: `program args`.
    Process(PathBuf, Vec<String>),
    /// `docker run -i --rm` of this image with these arguments.
    DockerCli(String, Vec<String>),
}

/// A runner of the design before this round.
pub struct Baseline {
    root: PathBuf,
    launch: Launch,
    runs: HashMap<RunId, (PathBuf, u64)>,
}

impl Baseline {
    pub fn new(root: &Path, launch: Launch) -> Baseline {
        std::fs::create_dir_all(root.join("runs")).expect("work dir");
        Baseline {
            root: root.canonicalize().expect("work dir"),
            launch,
            runs: HashMap::new(),
        }
    }

    fn start(&mut self, spec: &RunSpec, events: RunEvents) -> io::Result<()> {
        let dir = self.root.join("runs").join(&spec.name);
        let group = self.root.join("groups").join(&spec.name);
        std::fs::create_dir_all(dir.join(INPUT_DIR))?;
        std::fs::create_dir_all(&group)?;
        let work = match &spec.work {
            RunWork::Task { id, payload } => AssignedWork::Task {
                task_id: id.clone(),
                prompt: payload.clone(),
            },
            RunWork::Compact => AssignedWork::Compact,
            _ => AssignedWork::Messages,
        };
        let assignment = Assignment {
            run: spec.run.get(),
            group: spec.group.clone(),
            work,
        };
        write_atomic(&dir, RUN_FILE, &serde_json::to_vec(&assignment)?)?;
        for (n, text) in spec.messages.iter().enumerate() {
            write_message(&dir.join(INPUT_DIR), n as u64 + 1, text)?;
        }
        // The launch marker, as the design before wrote it.
        std::fs::create_dir_all(self.root.join("launches"))?;
        std::fs::write(self.root.join("launches").join(&spec.name), b"")?;
        let mut command = match &self.launch {
            Launch::Process(program, args) => {
                let mut command = Command::new(program);
                command
                    .args(args)
                    .env("GROUPQ_IPC", &dir)
                    .env("GROUPQ_GROUP_DIR", &group)
                    .process_group(0);
                command
            }
            Launch::DockerCli(image, args) => {
                let mut command = Command::new("docker");
                command
                    .args(["run", "-i", "--rm", "--init", "--network", "none", "-v"])
                    .arg(format!("{}:/ipc", dir.display()))
                    .arg("-v")
                    .arg(format!("{}:/group", group.display()))
                    .arg(image)
                    .args(args);
                command
            }
        };
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        let stdout = child.stdout.take().expect("piped");
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            let mut read_to = 0;
            while let Ok(Some(line)) = lines.next_line().await {
                read_to += line.len() as u64 + 1;
                if let Ok(line) = serde_json::from_str::<AgentLine>(&line) {
                    events.send(RunEvent::Line { line, read_to });
                }
            }
            let exit = match child.wait().await {
                Ok(status) => RunExit::Code(status.code().unwrap_or(-1)),
                Err(e) => RunExit::NotStarted(e.to_string()),
            };
            events.send(RunEvent::Exited(exit));
        });
        self.runs
            .insert(spec.run, (dir, spec.messages.len() as u64));
        Ok(())
    }
}

impl Runner for Baseline {
    fn spawn(&mut self, spec: RunSpec, events: RunEvents) {
        if let Err(e) = self.start(&spec, events.clone()) {
            events.send(RunEvent::Exited(RunExit::NotStarted(e.to_string())));
        }
    }

    fn deliver(&mut self, run: RunId, message: &str) -> io::Result<()> {
        match self.runs.get_mut(&run) {
            Some((dir, seq)) => {
                *seq += 1;
                write_message(&dir.join(INPUT_DIR), *seq, message)
            }
            None => Ok(()),
        }
    }

    fn close_input(&mut self, run: RunId) -> io::Result<()> {
        match self.runs.get(&run) {
            Some((dir, _)) => write_atomic(&dir.join(INPUT_DIR), CLOSE_SENTINEL, b""),
            None => Ok(()),
        }
    }

    fn kill(&mut self, _run: RunId) {}

    fn release(&mut self, run: RunId) {
        if let Some((dir, _)) = self.runs.remove(&run) {
            if let Some(name) = dir.file_name() {
                let _ = std::fs::remove_file(self.root.join("launches").join(name));
            }
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
