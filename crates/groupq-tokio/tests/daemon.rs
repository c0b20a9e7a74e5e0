//! The Docker daemon restarts under a live run, on a daemon of the test's
//! own. Judged from the engine's list of containers and the agents' own
//! logs: a lost connection is never taken for an exit, so a group never
//! gets a second container while its first may still run, and no line is
//! lost or read twice.

mod support;

use std::path::PathBuf;
use std::time::Duration;

use groupq::Config;
use groupq_tokio::{Delivery, DockerRunner, HostEvent, RunExit};

use support::daemon::Daemon;
use support::{evidence, say, Scratch, IMAGE, TURN_MS};

/// A short directory for the daemon: its socket's path must be short.
fn daemon_dir(tag: &str) -> PathBuf {
    PathBuf::from(format!("/tmp/gqd-{tag}-{}", std::process::id()))
}

fn runner(dir: &Scratch, daemon: &Daemon, owner: &str, turn_ms: &str) -> DockerRunner {
    DockerRunner::new(&dir.0, IMAGE)
        .unwrap()
        .with_docker_host(&daemon.host())
        .unwrap()
        .with_args(["--turn-ms", turn_ms])
        .with_owner(owner)
        .keep_run_dirs(true)
}

/// With live restore the container outlives the daemon's restart: the
/// runner re-attaches, a follow-up written after the restart is answered
/// by the same agent, every reply arrives once, and the run's exit is
/// reported once, when the engine says the container stopped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_run_survives_a_daemon_restart_with_live_restore() {
    let test = "a_live_run_survives_a_daemon_restart_with_live_restore";
    if !support::docker_ready(test) {
        return;
    }
    let Some(mut daemon) = Daemon::start(&daemon_dir("live"), true, test) else {
        return;
    };
    let dir = Scratch::new("daemon-live");
    let owner = "groupq-daemon-live";
    let config = Config::default().with_idle_timeout(Duration::from_secs(60));
    let (driver, handle, mut host) =
        support::start_checked(config, runner(&dir, &daemon, owner, TURN_MS));
    handle.message("g", "before").await.unwrap();
    let (run, first) = host.reply().await;
    assert!(first.contains("before"), "{first}");
    daemon.down();
    // While the daemon is down the run is still live: no exit was invented.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(handle.stats().await.unwrap().core.live_runs, 1);
    daemon.up();
    assert_eq!(
        daemon.running(owner).len(),
        1,
        "the container outlived the restart"
    );
    assert_eq!(
        handle.message("g", "after").await.unwrap(),
        Delivery::Piped(run)
    );
    let (again, second) = host.reply().await;
    assert_eq!(again, run);
    assert!(second.contains("after"), "{second}");
    handle.shutdown().await.unwrap();
    driver.await.unwrap().unwrap();
    host.drain();
    let replies = host
        .seen
        .iter()
        .filter(|e| matches!(e, HostEvent::Reply { .. }))
        .count();
    assert_eq!(
        replies, 2,
        "a reply was lost or read twice: {:#?}",
        host.seen
    );
    let exits: Vec<&RunExit> = host
        .seen
        .iter()
        .filter_map(|e| match e {
            HostEvent::Exited { exit, .. } => Some(exit),
            _ => None,
        })
        .collect();
    assert_eq!(exits, [&RunExit::Code(0)]);
    let spans = evidence(&dir.0);
    assert_eq!(spans.len(), 1, "one agent: {spans:#?}");
    assert_eq!(spans[0].answered, ["before", "after"]);
    say("daemon restart with live restore: one container, re-attached, 2 replies, 1 exit");
}

/// Without live restore the daemon stops its containers when it goes
/// down: the exit is the engine's (it stopped the container), and the
/// group's retry waits for the daemon; by the engine's list and the
/// agents' own clocks the group never had two containers running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_that_stops_its_containers_reports_their_exit_itself() {
    let test = "a_daemon_that_stops_its_containers_reports_their_exit_itself";
    if !support::docker_ready(test) {
        return;
    }
    let Some(mut daemon) = Daemon::start(&daemon_dir("stop"), false, test) else {
        return;
    };
    let dir = Scratch::new("daemon-stop");
    let owner = "groupq-daemon-stop";
    let (driver, handle, mut host) =
        support::start_checked(config(), runner(&dir, &daemon, owner, "1500"));
    handle.message("g", "hello").await.unwrap();
    let first = host.spawned().await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    daemon.down();
    tokio::time::sleep(Duration::from_millis(500)).await;
    daemon.up();
    let exit = host.exited().await;
    assert!(
        matches!(exit, RunExit::Code(code) if code != 0),
        "the engine's exit of a stopped container: {exit:?}"
    );
    finish_with_one_container_at_a_time(&dir, &daemon, owner, first, handle, host, driver).await;
    say("daemon stop without live restore: the engine's exit, one container at a time");
}

/// A daemon that crashes (SIGKILL) says nothing: the run's exit is not
/// known until it is back, so until then the run stays live and holds its
/// slot (the application hears of the trouble); then the exit is the one
/// the engine reports.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_daemon_is_trouble_never_an_exit() {
    let test = "a_crashed_daemon_is_trouble_never_an_exit";
    if !support::docker_ready(test) {
        return;
    }
    let Some(mut daemon) = Daemon::start(&daemon_dir("crash"), false, test) else {
        return;
    };
    let dir = Scratch::new("daemon-crash");
    let owner = "groupq-daemon-crash";
    let (driver, handle, mut host) =
        support::start_checked(config(), runner(&dir, &daemon, owner, "1500"));
    handle.message("g", "hello").await.unwrap();
    let first = host.spawned().await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    daemon.crash();
    let trouble = host
        .until(|e| match e {
            HostEvent::RunnerTrouble { run, .. } => Some(*run),
            HostEvent::Exited { .. } => panic!("an exit while the daemon was down: {e:?}"),
            _ => None,
        })
        .await;
    assert_eq!(trouble, first);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        handle.stats().await.unwrap().core.live_runs,
        1,
        "the slot is held"
    );
    daemon.up();
    let exit = host.exited().await;
    assert!(
        matches!(exit, RunExit::Code(_)),
        "the engine's exit: {exit:?}"
    );
    finish_with_one_container_at_a_time(&dir, &daemon, owner, first, handle, host, driver).await;
    say(
        "daemon crash: trouble while it was down, the engine's exit after, one container at a time",
    );
}

fn config() -> Config {
    Config::default()
        .with_retry_base(Duration::from_millis(100))
        .with_idle_timeout(Duration::from_secs(60))
}

/// After the first run's exit: the retry answers, the driver shuts down,
/// no container is left, and the agents never overlapped.
async fn finish_with_one_container_at_a_time(
    dir: &Scratch,
    daemon: &Daemon,
    owner: &str,
    first: groupq::RunId,
    handle: groupq_tokio::Handle,
    mut host: support::Host,
    driver: tokio::task::JoinHandle<Result<(), groupq_tokio::DriverError>>,
) {
    let retry = loop {
        let run = host.spawned().await;
        if run != first {
            break run;
        }
    };
    assert!(daemon.running(owner).len() <= 1, "two containers running");
    let (run, text) = host.reply().await;
    assert_eq!(run, retry);
    assert!(text.contains("hello"), "{text}");
    handle.shutdown().await.unwrap();
    driver.await.unwrap().unwrap();
    let spans = evidence(&dir.0);
    assert!(spans.len() >= 2, "{spans:#?}");
    let (_, in_group) = support::max_alive(&spans);
    assert_eq!(
        in_group, 1,
        "two agents of the group overlapped: {spans:#?}"
    );
    let left = DockerRunner::containers_at(Some(&daemon.host()), owner)
        .await
        .unwrap();
    assert!(left.is_empty(), "containers left: {left:?}");
}
