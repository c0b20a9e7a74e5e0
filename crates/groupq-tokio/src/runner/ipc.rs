//! Run directories: the files side of the agent protocol (`run.json`, the
//! input directory, message files, the close sentinel), shared by every
//! runtime that speaks it.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use groupq::RunId;
use groupq_protocol::{
    message_body, message_name, write_atomic, write_message, AssignedWork, Assignment,
    CLOSE_SENTINEL, INPUT_DIR, RUN_FILE,
};
use nix::fcntl::Flock;

use groupq_host::{RunSpec, RunWork};

/// The file an agent's stdout goes to, in its run directory (processes).
pub(crate) const STDOUT_FILE: &str = "stdout";
/// The file an agent's stderr goes to, in its run directory (processes).
pub(crate) const STDERR_FILE: &str = "stderr";

/// The work directory's layout: `runs/<name>/` per run (the IPC
/// directory, named by the run's unique name), `launches/<name>` per
/// launched run (holding its id), `groups/<group>/` per group (kept across
/// runs).
#[derive(Clone, Debug)]
pub(crate) struct Layout {
    root: PathBuf,
    keep_runs: bool,
}

impl Layout {
    /// `root` is created if missing and made absolute (containers mount
    /// paths under it).
    pub(crate) fn new(root: &Path) -> io::Result<Layout> {
        fs::create_dir_all(root.join("runs"))?;
        fs::create_dir_all(root.join("launches"))?;
        fs::create_dir_all(root.join("groups"))?;
        Ok(Layout {
            root: root.canonicalize()?,
            keep_runs: false,
        })
    }

    /// Locks the work directory for one runner: a second runner on it (in
    /// this process or another) is refused while the first lives.
    pub(crate) fn lock(&self) -> io::Result<WorkLock> {
        let dir = fs::File::open(&self.root)?;
        crate::durable::flock_waiting(dir)
            .map(WorkLock)
            .map_err(|errno| match errno {
                nix::errno::Errno::EWOULDBLOCK => io::Error::new(
                    io::ErrorKind::WouldBlock,
                    format!(
                        "{}: another runner uses this work directory",
                        self.root.display()
                    ),
                ),
                errno => io::Error::from(errno),
            })
    }

    /// The run's directory, which exists already: an adopted run's. Its
    /// next message file is numbered after the `delivered` written so far.
    pub(crate) fn existing(&self, name: &str, delivered: u64) -> RunDir {
        let path = self.run_dir(name);
        RunDir {
            input: path.join(INPUT_DIR),
            path,
            next_seq: delivered,
        }
    }

    /// The work directory, absolute (containers are labelled with it).
    #[cfg(feature = "docker")]
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    pub(crate) fn keep_runs(&mut self, keep: bool) {
        self.keep_runs = keep;
    }

    /// Creates the run's IPC directory with its assignment and its first
    /// messages, and the group's directory if missing.
    pub(crate) fn prepare(&self, spec: &RunSpec) -> io::Result<RunDir> {
        let path = self.run_dir(&spec.name);
        let input = path.join(INPUT_DIR);
        // A new directory, never one that exists: what is in it reaches
        // the run's agent, so no earlier run's files may be there.
        fs::create_dir(&path).map_err(|e| match e.kind() {
            io::ErrorKind::AlreadyExists => io::Error::new(
                e.kind(),
                format!("{}: the run's directory already exists", path.display()),
            ),
            _ => e,
        })?;
        fs::create_dir(&input)?;
        fs::create_dir_all(self.group_dir(&spec.group))?;
        let assignment = Assignment {
            run: spec.run.get(),
            group: spec.group.clone(),
            work: match &spec.work {
                RunWork::Messages => AssignedWork::Messages,
                RunWork::Task { id, payload } => AssignedWork::Task {
                    task_id: id.clone(),
                    prompt: payload.clone(),
                },
                _ => AssignedWork::Compact,
            },
        };
        // No agent reads the directory before it starts: the first files
        // need no rename to be whole.
        fs::write(path.join(RUN_FILE), serde_json::to_vec(&assignment)?)?;
        for (seq, text) in (1..).zip(&spec.messages) {
            fs::write(input.join(message_name(seq)), message_body(text)?)?;
        }
        Ok(RunDir {
            next_seq: spec.messages.len() as u64,
            path,
            input,
        })
    }

    /// The run's IPC directory.
    pub(crate) fn run_dir(&self, name: &str) -> PathBuf {
        self.root.join("runs").join(name)
    }

    /// The group's persistent directory. The name is the group's with every
    /// byte outside `[A-Za-z0-9_-]` written `%XX`, so any group name is one
    /// safe path component.
    pub(crate) fn group_dir(&self, group: &str) -> PathBuf {
        let mut name = String::with_capacity(group.len() + 1);
        name.push('g');
        for byte in group.bytes() {
            match byte {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' => name.push(byte as char),
                other => name.push_str(&format!("%{other:02X}")),
            }
        }
        self.root.join("groups").join(name)
    }

    /// Removes a finished run's directory, unless runs are kept, and its
    /// launch marker.
    pub(crate) fn remove(&self, name: &str) {
        let _ = fs::remove_file(self.marker(name));
        if !self.keep_runs {
            let _ = fs::remove_dir_all(self.run_dir(name));
        }
    }

    fn marker(&self, name: &str) -> PathBuf {
        self.root.join("launches").join(name)
    }

    /// Marks the run's launch as begun: how a restarted driver knows the
    /// run may have started, even if no process of it is left.
    pub(crate) fn mark(&self, name: &str, run: RunId) -> io::Result<()> {
        fs::write(self.marker(name), run.get().to_string())
    }

    /// Every run whose launch began and that was not released, with its
    /// name.
    pub(crate) fn marked(&self) -> io::Result<Vec<(RunId, String)>> {
        let mut marked = Vec::new();
        for entry in fs::read_dir(self.root.join("launches"))? {
            let entry = entry?;
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            let run = fs::read_to_string(entry.path())
                .ok()
                .and_then(|n| n.trim().parse().ok());
            if let Some(run) = run {
                marked.push((RunId::new(run), name));
            }
        }
        marked.sort();
        Ok(marked)
    }

    /// The prefix every agent of this layout has in its `GROUPQ_IPC`.
    pub(crate) fn ipc_env_prefix(&self) -> String {
        format!("GROUPQ_IPC={}/", self.root.join("runs").display())
    }
}

/// A work directory's lock, held by its runner (an `flock` on the
/// directory itself, released when dropped).
#[derive(Debug)]
pub(crate) struct WorkLock(#[allow(dead_code)] Flock<fs::File>); // held, never read

/// One run's IPC directory.
#[derive(Debug)]
pub(crate) struct RunDir {
    pub(crate) path: PathBuf,
    input: PathBuf,
    next_seq: u64,
}

impl RunDir {
    /// Writes a message into the run's input, after the ones before it.
    pub(crate) fn deliver(&mut self, text: &str) -> io::Result<()> {
        self.next_seq += 1;
        write_message(&self.input, self.next_seq, text)
    }

    /// Writes the close sentinel.
    pub(crate) fn close(&self) -> io::Result<()> {
        write_atomic(&self.input, CLOSE_SENTINEL, b"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_directory_that_exists_is_refused_never_reused() {
        let root = std::env::temp_dir().join(format!("groupq-ipc-{}", std::process::id()));
        let layout = Layout::new(&root).unwrap();
        let spec = RunSpec::new(RunId::new(1), "same-name", "g", RunWork::Messages)
            .with_messages(vec!["for the first".into()]);
        layout.prepare(&spec).unwrap();
        let again = layout.prepare(&spec).unwrap_err();
        assert_eq!(again.kind(), io::ErrorKind::AlreadyExists);
        assert!(again.to_string().contains("already exists"), "{again}");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn group_names_become_one_safe_path_component() {
        let layout = Layout {
            root: PathBuf::from("/w"),
            keep_runs: false,
        };
        assert_eq!(
            layout.group_dir("alpha-1"),
            PathBuf::from("/w/groups/galpha-1")
        );
        assert_eq!(
            layout.group_dir("../x y"),
            PathBuf::from("/w/groups/g%2E%2E%2Fx%20y")
        );
        assert_eq!(layout.group_dir(""), PathBuf::from("/w/groups/g"));
    }
}
