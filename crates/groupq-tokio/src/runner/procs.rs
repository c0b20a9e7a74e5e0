//! Local processes and their groups: is anything of a group left, kill it,
//! and find a work directory's agents by their environment (`/proc`).

use std::time::Duration;

use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;

/// SIGKILL to the process group `pgid` (an agent leads its own).
pub(crate) fn kill_group(pgid: Option<i32>) {
    if let Some(pgid) = pgid.filter(|&p| p > 1) {
        let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
    }
}

/// Whether any process of group `pgid` is still alive (zombies, which only
/// wait for their parent to reap them, do not count).
pub(crate) fn group_alive(pgid: i32) -> bool {
    if pgid <= 1 || killpg(Pid::from_raw(pgid), None).is_err() {
        return false;
    }
    if !std::path::Path::new("/proc/self/stat").exists() {
        // No /proc to tell zombies apart: the signal's answer stands.
        return true;
    }
    processes().any(|(pid, stat)| pid != 0 && stat.pgrp == pgid && stat.state != 'Z')
}

/// A process's state and group, from `/proc/<pid>/stat`.
struct Stat {
    state: char,
    pgrp: i32,
}

fn stat(text: &str) -> Option<Stat> {
    // `pid (comm) state ppid pgrp ...`; comm may hold spaces and parens.
    let rest = text.rsplit_once(')')?.1;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let _ppid = fields.next()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some(Stat { state, pgrp })
}

/// Every process with its stat.
fn processes() -> impl Iterator<Item = (u32, Stat)> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let text = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            Some((pid, stat(&text)?))
        })
}

/// Processes whose `GROUPQ_IPC` starts with `prefix`, with the rest of it
/// (their run's name).
pub(crate) fn with_ipc_prefix(prefix: &str) -> Vec<(u32, String)> {
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

/// Whether process `pid` is alive (a zombie is not).
pub(crate) fn alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(text) => stat(&text).is_some_and(|s| s.state != 'Z'),
        // No /proc (not Linux): a signal 0 tells whether it exists.
        Err(_) if !std::path::Path::new("/proc/self/stat").exists() => {
            kill(Pid::from_raw(pid), None).is_ok()
        }
        Err(_) => false,
    }
}

/// After a restart: the processes whose `GROUPQ_IPC` starts with `prefix`
/// are found; those of runs named in `keep` are left alive, every other is
/// killed with its group and waited for. Returns, by run name, the leader
/// (the agent, which leads its process group) of each kept run still alive.
/// Blocks: run it off the loop.
pub(crate) fn settle(prefix: &str, keep: &[String]) -> std::collections::HashMap<String, i32> {
    let found = with_ipc_prefix(prefix);
    let (kept, strays): (Vec<_>, Vec<_>) =
        found.into_iter().partition(|(_, name)| keep.contains(name));
    kill_and_wait(&strays);
    let mut leaders = std::collections::HashMap::new();
    for (pid, name) in kept {
        let Ok(pid) = i32::try_from(pid) else {
            continue;
        };
        let leads = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|t| stat(&t))
            .is_some_and(|s| s.pgrp == pid && s.state != 'Z');
        if leads {
            leaders.insert(name, pid);
        }
    }
    leaders
}

fn kill_and_wait(found: &[(u32, String)]) {
    for &(pid, _) in found {
        if let Ok(pid) = i32::try_from(pid) {
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
    for &(pid, _) in found {
        wait_gone(pid);
    }
}

/// Waits (up to 10 s) until `pid` is gone or a zombie: an orphan is reaped
/// by init, not by us.
fn wait_gone(pid: u32) {
    for _ in 0..1000 {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => return,
            Ok(text) if stat(&text).map_or(true, |s| s.state == 'Z') => return,
            Ok(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    tracing::warn!(
        pid,
        "an agent of the previous driver did not die within 10 s"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stat_line_is_read_whatever_the_command_name() {
        let s = stat("42 (a (weird) name) S 1 4242 4242 0 -1").unwrap();
        assert_eq!((s.state, s.pgrp), ('S', 4242));
        assert!(stat("garbage").is_none());
        assert!(stat("1 (x) ").is_none());
    }

    #[test]
    fn no_group_is_alive_for_pids_that_cannot_lead_one() {
        assert!(!group_alive(0));
        assert!(!group_alive(1));
        assert!(!group_alive(-5));
    }
}
