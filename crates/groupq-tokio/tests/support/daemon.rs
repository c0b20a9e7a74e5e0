//! A Docker daemon of a test's own, on a socket of its own, that the test
//! may stop and start again: the daemon restarts of the runner tests, which
//! must not touch the daemon the other tests use.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{say, IMAGE};

/// A private `dockerd`, stopped (and its containers removed) when dropped.
pub struct Daemon {
    dir: PathBuf,
    live_restore: bool,
    child: Option<Child>,
}

impl Daemon {
    /// Starts one in `dir`, with `--live-restore` or not, and loads the
    /// agent image into it from the main daemon. `None` (said loudly) when
    /// this machine cannot run a second daemon (no `dockerd`, not root).
    pub fn start(dir: &Path, live_restore: bool, test: &str) -> Option<Daemon> {
        let runnable = Command::new("dockerd")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        // Root: `/proc/self/status`'s effective uid is 0.
        let root = std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2))
                == Some("0")
        });
        if !(runnable && root) {
            let why = "a private dockerd needs the dockerd binary and root";
            if std::env::var("GROUPQ_REQUIRE_DOCKER").as_deref() == Ok("1") {
                panic!("GROUPQ_REQUIRE_DOCKER=1 but {why}");
            }
            say(&format!("SKIPPED {test}: {why}"));
            return None;
        }
        // Short: a unix socket's path is at most about 100 bytes.
        std::fs::create_dir_all(dir).unwrap();
        let mut daemon = Daemon {
            dir: dir.to_path_buf(),
            live_restore,
            child: None,
        };
        daemon.up();
        let mut image = Command::new("docker")
            .args(["save", IMAGE])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let loaded = Command::new("docker")
            .args(["-H", &daemon.host(), "load", "-q"])
            .stdin(image.stdout.take().unwrap())
            .output()
            .unwrap();
        assert!(
            image.wait().unwrap().success(),
            "docker save {IMAGE} failed"
        );
        assert!(loaded.status.success(), "cannot load {IMAGE}: {loaded:?}");
        Some(daemon)
    }

    /// Its address, as `DOCKER_HOST` would name it.
    pub fn host(&self) -> String {
        format!("unix://{}", self.dir.join("sock").display())
    }

    /// Starts the daemon and waits until it answers.
    pub fn up(&mut self) {
        let d = &self.dir;
        let mut command = Command::new("dockerd");
        command
            .arg("--data-root")
            .arg(d.join("root"))
            .arg("--exec-root")
            .arg(d.join("exec"))
            .arg("--pidfile")
            .arg(d.join("pid"))
            .args(["-H", &self.host(), "--iptables=false", "--bridge=none"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(d.join("log")).unwrap());
        if self.live_restore {
            command.arg("--live-restore");
        }
        self.child = Some(command.spawn().unwrap());
        let end = Instant::now() + Duration::from_secs(30);
        while !self.answers() {
            assert!(Instant::now() < end, "the private daemon did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the daemon (SIGTERM, as a service manager would) and waits
    /// until it is gone. Without live restore, it stops its containers.
    pub fn down(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let _ = child.wait();
        }
    }

    /// Kills the daemon and its containerd (SIGKILL, a crash of the
    /// engine): they stop nothing on their way, the containers' shims keep
    /// them running. Their stale pid files go, as a service manager's
    /// restart would have it.
    pub fn crash(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let containerd = self.dir.join("exec/containerd/containerd.pid");
        if let Some(pid) = std::fs::read_to_string(&containerd)
            .ok()
            .and_then(|p| p.trim().parse::<i32>().ok())
        {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = std::fs::remove_file(&containerd);
        let _ = std::fs::remove_file(self.dir.join("pid"));
    }

    /// Whether the daemon answers.
    pub fn answers(&self) -> bool {
        Command::new("docker")
            .args(["-H", &self.host(), "info", "--format", "{{.ServerVersion}}"])
            .output()
            .is_ok_and(|o| o.status.success())
    }

    /// The engine's list: the containers of `owner` that are running.
    pub fn running(&self, owner: &str) -> Vec<String> {
        let out = Command::new("docker")
            .args(["-H", &self.host(), "ps", "-q", "--filter"])
            .arg(format!("label=io.groupq.owner={owner}"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.child.is_some() {
            let all = Command::new("docker")
                .args(["-H", &self.host(), "ps", "-aq"])
                .output();
            if let Ok(all) = all {
                for id in String::from_utf8_lossy(&all.stdout).lines() {
                    let _ = Command::new("docker")
                        .args(["-H", &self.host(), "rm", "-f", id])
                        .output();
                }
            }
        }
        self.down();
        // dockerd leaves its data root mounted on itself.
        let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
        let mut under: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1))
            .filter(|m| Path::new(m).starts_with(&self.dir))
            .collect();
        under.sort_by(|a, b| b.cmp(a));
        for mount in under {
            let _ = Command::new("umount").arg(mount).output();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
