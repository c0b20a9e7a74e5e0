//! Output that outlives its reader: an agent's stdout is a file in its run
//! directory, appended to by the agent and read by the driver from a
//! position ([`Tail`]). A reader that goes away (the driver's crash) loses
//! nothing: the next one reads on from the position its journal recorded.
//!
//! [`Wakeup`] tells readers when a file grew: one inotify instance per
//! runner on Linux (a line is read the moment it is written), a short poll
//! elsewhere or when inotify cannot be had.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};
use tokio::io::unix::AsyncFd;
use tokio::sync::Notify;

use super::lines::Lines;

/// How long a reader sleeps between looks without inotify.
const POLL: Duration = Duration::from_millis(2);
/// How long a reader sleeps between looks with inotify: only a safety net.
const SAFETY: Duration = Duration::from_millis(200);

/// A file read from a position on, in complete lines.
#[derive(Debug)]
pub(crate) struct Tail {
    file: File,
    lines: Lines,
    buffer: Vec<u8>,
}

impl Tail {
    /// Reads `path` from byte `from` on.
    pub(crate) fn open(path: &Path, from: u64) -> io::Result<Tail> {
        let mut file = File::open(path)?;
        file.seek(SeekFrom::Start(from))?;
        Ok(Tail {
            file,
            lines: Lines::at(from),
            buffer: Vec::new(),
        })
    }

    /// Every complete line written since the last read, each with the byte
    /// position just after it.
    pub(crate) fn read(&mut self) -> io::Result<Vec<(Vec<u8>, u64)>> {
        // Reads what is there into spare capacity (no zeroing), reused.
        self.buffer.clear();
        self.file.read_to_end(&mut self.buffer)?;
        Ok(self.lines.push(&self.buffer))
    }
}

struct InotifyFd(Inotify);

impl AsRawFd for InotifyFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

struct Shared {
    fd: AsyncFd<InotifyFd>,
    waiting: Mutex<HashMap<WatchDescriptor, Arc<Notify>>>,
    /// The runner is gone: the reading task ends.
    stop: Notify,
}

/// Wakes the readers of output files when the files change.
#[derive(Default)]
pub(crate) struct Wakeup {
    shared: Option<Arc<Shared>>,
}

impl Drop for Wakeup {
    fn drop(&mut self) {
        if let Some(shared) = &self.shared {
            shared.stop.notify_one();
        }
    }
}

/// One file's wake-ups; the watch goes when it is dropped.
pub(crate) struct Watch {
    notify: Arc<Notify>,
    registered: Option<(Arc<Shared>, WatchDescriptor)>,
}

impl Wakeup {
    /// Inotify, read by a task of the current tokio runtime; without it
    /// (not Linux, or out of inotify instances) readers poll.
    pub(crate) fn start() -> Wakeup {
        let Ok(inotify) = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC) else {
            tracing::warn!("no inotify: agents' output is polled every {POLL:?}");
            return Wakeup::default();
        };
        // Sound here: the descriptor is owned by the value registered (an
        // `OwnedFd` inside `Inotify`) and closed only when it is dropped,
        // after its registration; `register`, the replacement, is unsafe.
        #[allow(deprecated)]
        let Ok(fd) = AsyncFd::new(InotifyFd(inotify)) else {
            return Wakeup::default();
        };
        let shared = Arc::new(Shared {
            fd,
            waiting: Mutex::new(HashMap::new()),
            stop: Notify::new(),
        });
        let reader = Arc::clone(&shared);
        tokio::spawn(async move {
            let shared = reader;
            loop {
                let mut ready = tokio::select! {
                    ready = shared.fd.readable() => match ready {
                        Ok(ready) => ready,
                        Err(_) => return,
                    },
                    () = shared.stop.notified() => return,
                };
                match shared.fd.get_ref().0.read_events() {
                    Ok(events) => {
                        let waiting = shared.waiting.lock().unwrap_or_else(|e| e.into_inner());
                        for event in events {
                            if let Some(notify) = waiting.get(&event.wd) {
                                notify.notify_one();
                            }
                        }
                    }
                    Err(nix::errno::Errno::EAGAIN) => ready.clear_ready(),
                    Err(_) => return,
                }
            }
        });
        Wakeup {
            shared: Some(shared),
        }
    }

    /// Wake-ups for `path`, which must exist.
    pub(crate) fn watch(&self, path: &Path) -> Watch {
        let notify = Arc::new(Notify::new());
        let registered = self.shared.as_ref().and_then(|shared| {
            let flags = AddWatchFlags::IN_MODIFY | AddWatchFlags::IN_CLOSE_WRITE;
            let wd = shared.fd.get_ref().0.add_watch(path, flags).ok()?;
            shared
                .waiting
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(wd, Arc::clone(&notify));
            Some((Arc::clone(shared), wd))
        });
        Watch { notify, registered }
    }
}

impl Watch {
    /// Returns when the file may have grown.
    pub(crate) async fn changed(&self) {
        let wait = if self.registered.is_some() {
            SAFETY
        } else {
            POLL
        };
        let _ = tokio::time::timeout(wait, self.notify.notified()).await;
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        if let Some((shared, wd)) = self.registered.take() {
            shared
                .waiting
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&wd);
            let _ = shared.fd.get_ref().0.rm_watch(wd);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[tokio::test]
    async fn a_tail_reads_what_is_appended_from_its_position_on() {
        let dir = std::env::temp_dir().join(format!("groupq-tail-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("out");
        let mut out = File::create(&path).unwrap();
        out.write_all(b"one\ntw").unwrap();
        let wakeup = Wakeup::start();
        let watch = wakeup.watch(&path);
        let mut tail = Tail::open(&path, 0).unwrap();
        assert_eq!(tail.read().unwrap(), [(b"one".to_vec(), 4)]);
        out.write_all(b"o\nthree\n").unwrap();
        watch.changed().await;
        assert_eq!(
            tail.read().unwrap(),
            [(b"two".to_vec(), 8), (b"three".to_vec(), 14)]
        );
        // A second reader from a recorded position reads only what is after.
        let mut again = Tail::open(&path, 8).unwrap();
        assert_eq!(again.read().unwrap(), [(b"three".to_vec(), 14)]);
        drop(watch);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
