//! The driver on real runs: every scenario runs on processes and on Docker
//! containers with the same body, and is judged from what the agents wrote
//! about themselves (their own start, turn, alive and end times), not from
//! the driver's bookkeeping. Without Docker, the Docker half says loudly
//! that it skipped (and fails under `GROUPQ_REQUIRE_DOCKER=1`).

mod support;

use std::time::Duration;

use groupq::{CloseReason, Config};
use groupq_tokio::{Delivery, DockerRunner, HostEvent, RunExit, Submitted};

use support::{evidence, max_alive, owner, runner, say, unix_nanos, Host, Kind, Scratch};

const MS: u128 = 1_000_000;

/// Starts a checked driver on `kind`'s runtime in `dir`.
fn start(kind: Kind, dir: &Scratch, config: Config) -> support::Running {
    support::start_checked(config, runner(kind, &dir.0))
}

/// After a Docker scenario: how many containers it started (the CI log
/// shows it), and none of the tests' containers is left behind.
async fn docker_after(kind: Kind, dir: &Scratch, test: &str, spawns: u64) {
    let owner = owner(&dir.0);
    if kind == Kind::Docker {
        say(&format!("docker: {test} asked for {spawns} containers"));
        // `--rm` removes a container just after `docker run` returns.
        for _ in 0..200 {
            if DockerRunner::containers(&owner).await.unwrap().is_empty() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "containers left behind: {:?}",
            DockerRunner::containers(&owner).await
        );
    }
}

/// Four groups, three messages and a task each, two slots: no group ever
/// has two agents alive, at most two agents are alive at once, and every
/// message and task is answered.
async fn limits_hold(kind: Kind) {
    let dir = Scratch::new("limits");
    let config = Config::default()
        .with_max_active(2)
        .with_idle_timeout(Duration::from_millis(200));
    let (driver, handle, mut host) = start(kind, &dir, config);
    let groups = ["g0", "g1", "g2", "g3"];
    let mut texts = Vec::new();
    for round in 0..3 {
        for group in groups {
            let text = format!("{group}-m{round}");
            handle.message(group, text.clone()).await.unwrap();
            texts.push(text);
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    for group in groups {
        let queued = handle
            .task(group, "t", format!("{group}-task"))
            .await
            .unwrap();
        assert!(queued.is_queued());
    }
    let mut replies = Vec::new();
    let mut tasks_done = 0;
    while tasks_done < groups.len()
        || !texts
            .iter()
            .all(|t| replies.iter().any(|r: &String| r.contains(t.as_str())))
    {
        let (text, task) = host
            .until(|e| match e {
                HostEvent::Reply { text, task, .. } => Some((text.clone(), task.is_some())),
                _ => None,
            })
            .await;
        tasks_done += usize::from(task);
        replies.push(text);
    }
    handle.shutdown().await.unwrap();
    driver.await.unwrap().unwrap();
    host.drain();
    let spans = evidence(&dir.0);
    let (alive, in_group) = max_alive(&spans);
    assert!(
        in_group <= 1,
        "{in_group} agents of one group alive at once: {spans:#?}"
    );
    assert!(
        alive <= 2,
        "{alive} agents alive at once with max_active 2: {spans:#?}"
    );
    assert!(
        spans.len() >= 8,
        "{} runs for 4 groups' messages and tasks",
        spans.len()
    );
    assert!(
        spans.iter().all(|s| !s.killed),
        "an agent was killed: {spans:#?}"
    );
    docker_after(kind, &dir, "limits_hold", handle_spawns(&host)).await;
}

/// A hung agent (it answers nothing and ignores its close) is closed at
/// its turn deadline and killed after the kill grace: by its own clock it
/// was alive until about then, and not after.
async fn hung_agent_is_killed_after_its_deadline(kind: Kind) {
    let dir = Scratch::new("hung");
    let config = Config::default()
        .with_max_turn_time(Duration::from_millis(600))
        .with_kill_grace(Duration::from_millis(300))
        .with_max_retries(0);
    let (driver, handle, mut host) = start(kind, &dir, config);
    let sent = unix_nanos();
    handle.message("stuck", "#hang").await.unwrap();
    let reason = host.closed().await;
    assert_eq!(reason, CloseReason::TurnTimeout);
    host.killed().await;
    let exit = host.exited().await;
    // SIGKILL: the process's signal, or `docker run`'s 128 + 9.
    assert!(
        exit == RunExit::Signal(9) || exit == RunExit::Code(137),
        "a killed agent exited with {exit}"
    );
    handle.shutdown().await.unwrap();
    driver.await.unwrap().unwrap();
    host.drain();
    let spans = evidence(&dir.0);
    let hung = spans
        .iter()
        .find(|s| s.group == "stuck")
        .expect("the hung agent's log");
    assert!(hung.killed, "the hung agent logged an end: {hung:?}");
    // Kill at (spawn + 600 ms + 300 ms); its alive ticks are 20 ms apart.
    let kill_at = sent + 900 * MS;
    assert!(
        hung.end >= kill_at - 40 * MS,
        "it stopped ticking {} ms before the kill was due",
        (kill_at - hung.end) / MS
    );
    assert!(
        hung.end <= kill_at + 1500 * MS,
        "it ticked {} ms after the kill was due",
        (hung.end - kill_at) / MS
    );
    docker_after(
        kind,
        &dir,
        "hung_agent_is_killed_after_its_deadline",
        handle_spawns(&host),
    )
    .await;
}

/// Shutdown closes an idle agent at once; a busy, hung one is closed when
/// the shutdown grace ends and killed a kill grace later, by the agents'
/// own clocks.
async fn shutdown_closes_idle_at_once_and_kills_the_rest_after_the_grace(kind: Kind) {
    let dir = Scratch::new("shutdown");
    let config = Config::default()
        .with_idle_timeout(Duration::from_secs(60))
        .with_max_turn_time(Duration::from_secs(60))
        .with_shutdown_grace(Duration::from_millis(800))
        .with_kill_grace(Duration::from_millis(300));
    let (driver, handle, mut host) = start(kind, &dir, config);
    handle.message("idle", "hello").await.unwrap();
    handle.message("stuck", "#hang").await.unwrap();
    host.until(|e| matches!(e, HostEvent::Reply { .. }).then_some(()))
        .await;
    // Let the hung agent start ticking.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let shut = unix_nanos();
    let report = handle.shutdown().await.unwrap();
    assert_eq!(report.live_runs.len(), 2, "{report:?}");
    driver.await.unwrap().unwrap();
    host.drain();
    let spans = evidence(&dir.0);
    let idle = spans
        .iter()
        .find(|s| s.group == "idle")
        .expect("the idle agent's log");
    let stuck = spans
        .iter()
        .find(|s| s.group == "stuck")
        .expect("the hung agent's log");
    assert!(!idle.killed, "the idle agent was killed: {idle:?}");
    assert!(
        idle.end <= shut + 500 * MS,
        "the idle agent ended {} ms after shutdown",
        (idle.end - shut) / MS
    );
    assert!(stuck.killed, "the hung agent logged an end: {stuck:?}");
    let kill_at = shut + (800 + 300) * MS;
    assert!(
        stuck.end >= kill_at - 40 * MS,
        "the hung agent stopped {} ms before the grace ended",
        (kill_at - stuck.end) / MS
    );
    assert!(
        stuck.end <= kill_at + 1500 * MS,
        "the hung agent ticked {} ms after the grace",
        (stuck.end - kill_at) / MS
    );
    let closed: Vec<CloseReason> = host
        .seen
        .iter()
        .filter_map(|e| match e {
            HostEvent::Closed { reason, .. } => Some(*reason),
            _ => None,
        })
        .collect();
    assert_eq!(closed, [CloseReason::Shutdown, CloseReason::Shutdown]);
    assert!(host
        .seen
        .iter()
        .any(|e| matches!(e, HostEvent::Killed { .. })));
    docker_after(
        kind,
        &dir,
        "shutdown_closes_idle_at_once_and_kills_the_rest_after_the_grace",
        handle_spawns(&host),
    )
    .await;
}

/// A follow-up written into a live agent is answered by that agent.
async fn a_follow_up_is_answered_by_the_live_agent(kind: Kind) {
    let dir = Scratch::new("follow-up");
    let config = Config::default().with_idle_timeout(Duration::from_secs(60));
    let (driver, handle, mut host) = start(kind, &dir, config);
    assert_eq!(
        handle.message("chat", "first").await.unwrap(),
        Delivery::Queued
    );
    let first = host.reply().await;
    assert_eq!(first.1, "re: first");
    // The agent is alive and its input open: the follow-up goes into it.
    let delivery = handle.message("chat", "second").await.unwrap();
    assert_eq!(delivery, Delivery::Piped(first.0));
    let second = host.reply().await;
    assert_eq!(second, (first.0, "re: second".to_string()));
    handle.shutdown().await.unwrap();
    driver.await.unwrap().unwrap();
    host.drain();
    let spans = evidence(&dir.0);
    assert_eq!(spans.len(), 1, "one agent: {spans:#?}");
    assert_eq!(
        spans[0].turns,
        [1, 1],
        "its own log: two turns of one message each"
    );
    assert!(!spans[0].killed);
    docker_after(
        kind,
        &dir,
        "a_follow_up_is_answered_by_the_live_agent",
        handle_spawns(&host),
    )
    .await;
}

/// A run that cannot start (no such program, no such image) is reported
/// as never started, and the core retries its messages.
async fn a_run_that_cannot_start_is_reported_as_never_started(kind: Kind) {
    let dir = Scratch::new("never-started");
    let runtime: Box<dyn groupq_tokio::Runner> = match kind {
        Kind::Process => Box::new(
            groupq_tokio::ProcessRunner::new(
                &dir.0,
                groupq_tokio::CommandLine::new("/nonexistent/groupq-agent"),
            )
            .unwrap(),
        ),
        Kind::Docker => Box::new(
            DockerRunner::new(&dir.0, "groupq-no-such-image:none")
                .unwrap()
                .with_owner(owner(&dir.0)),
        ),
    };
    let config = Config::default()
        .with_retry_base(Duration::from_millis(10))
        .with_max_retries(1);
    let (running, handle, mut host) = support::start_checked(config, runtime);
    handle.message("a", "hello").await.unwrap();
    let exit = host.exited().await;
    assert!(matches!(exit, RunExit::NotStarted(_)), "{exit}");
    host.until(|e| matches!(e, HostEvent::RolledBack { .. }).then_some(()))
        .await;
    // The retry cannot start either: the retries end, the message stays unread.
    let unread = host
        .until(|e| match e {
            HostEvent::TerminalFailure { unread, .. } => Some(*unread),
            _ => None,
        })
        .await;
    assert_eq!(unread, 1);
    handle.shutdown().await.unwrap();
    running.await.unwrap().unwrap();
    docker_after(
        kind,
        &dir,
        "a_run_that_cannot_start_is_reported_as_never_started",
        handle_spawns(&host),
    )
    .await;
}

/// An agent says how its failure is retried: `#fatal` is a terminal
/// failure at once (one agent), `#ratelimit` is retried after the 300 ms
/// its turn line asked for, not on the 60 s backoff (the test would time
/// out), and then ends in a terminal failure too. Judged from the agents'
/// own logs: one agent of the fatal group, two of the rate-limited one at
/// least 300 ms apart.
async fn an_agent_says_how_its_failure_is_retried(kind: Kind) {
    let dir = Scratch::new("failure-class");
    let config = Config::default()
        .with_retry_base(Duration::from_secs(60))
        .with_max_retries(1);
    let (driver, handle, mut host) = start(kind, &dir, config);
    handle.message("fatal", "#fatal x").await.unwrap();
    handle.message("limited", "#ratelimit y").await.unwrap();
    let mut terminal = Vec::new();
    while terminal.len() < 2 {
        let group = host
            .until(|e| match e {
                HostEvent::TerminalFailure { group, unread: 1 } => Some(group.clone()),
                _ => None,
            })
            .await;
        terminal.push(group);
    }
    terminal.sort();
    assert_eq!(terminal, ["fatal", "limited"]);
    handle.shutdown().await.unwrap();
    driver.await.unwrap().unwrap();
    host.drain();
    let spans = evidence(&dir.0);
    let of = |group: &str| {
        spans
            .iter()
            .filter(|s| s.group == group)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        of("fatal").len(),
        1,
        "a fatal failure is not retried: {spans:#?}"
    );
    let limited = of("limited");
    assert_eq!(limited.len(), 2, "one retry: {spans:#?}");
    let gap = limited[1].start.saturating_sub(limited[0].end);
    assert!(gap >= 300 * MS, "retried {} ms after the exit", gap / MS);
    docker_after(
        kind,
        &dir,
        "an_agent_says_how_its_failure_is_retried",
        handle_spawns(&host),
    )
    .await;
}

/// Agents that fail at once in two groups open the crash-loop breaker: a
/// third group's agent starts only after the cooldown, as the one probe,
/// and a fourth only once the probe has lived long enough to close it.
/// Judged from the agents' own start and end times.
async fn a_crash_loop_opens_the_breaker_and_one_probe_closes_it(kind: Kind) {
    let dir = Scratch::new("breaker");
    let breaker = groupq::Breaker::default()
        .with_fast_failure(Duration::from_secs(2))
        .with_threshold(2, Duration::from_secs(60))
        .with_cooldown(Duration::from_secs(1), Duration::from_secs(4));
    let config = Config::default()
        .with_retry_base(Duration::from_secs(60))
        .with_breaker(Some(breaker));
    let (driver, handle, mut host) = start(kind, &dir, config);
    handle.message("a", "#fail crash").await.unwrap();
    handle.message("b", "#fail crash").await.unwrap();
    host.until(|e| matches!(e, HostEvent::BreakerOpened { .. }).then_some(()))
        .await;
    handle.message("c", "hello").await.unwrap();
    host.until(|e| matches!(e, HostEvent::BreakerClosed).then_some(()))
        .await;
    handle.message("d", "hello").await.unwrap();
    host.reply_to("d").await;
    handle.shutdown().await.unwrap();
    driver.await.unwrap().unwrap();
    host.drain();
    let spans = evidence(&dir.0);
    let of = |group: &str| only_agent(&spans, group);
    let crashed = of("a").end.max(of("b").end);
    let (probe, after) = (of("c"), of("d"));
    assert!(
        probe.start >= crashed + 1_000 * MS,
        "the probe started {} ms after the crash loop, within the 1 s cooldown",
        (probe.start - crashed) / MS
    );
    // The probe's agent starts up to a launch after its spawn, from which
    // its 2 s count: half a second covers a container's start.
    assert!(
        after.start + 500 * MS >= probe.start + 2_000 * MS,
        "a run started {} ms after the probe, before it lived 2 s",
        (after.start - probe.start) / MS
    );
    let opened = host
        .seen
        .iter()
        .filter(|e| matches!(e, HostEvent::BreakerOpened { .. }))
        .count();
    assert_eq!(opened, 1, "{:#?}", host.seen);
    docker_after(
        kind,
        &dir,
        "a_crash_loop_opens_the_breaker_and_one_probe_closes_it",
        handle_spawns(&host),
    )
    .await;
}

/// A background task gives way to the conversation: one slot, held by a
/// conversation's idle run, which background work never closes; a
/// heartbeat that asked to be skipped while the conversation is live is
/// answered `Skipped`; the other starts only once the conversation's run
/// ended. Judged from the agents' own start and end times.
async fn a_background_task_waits_for_the_conversation(kind: Kind) {
    let dir = Scratch::new("background");
    let config = Config::default()
        .with_max_active(1)
        .with_idle_timeout(Duration::from_secs(60));
    let (driver, handle, mut host) = start(kind, &dir, config);
    handle.message("a", "hello").await.unwrap();
    host.reply_to("a").await;
    let skipped = handle
        .background_task("a", "beat", "heartbeat", true)
        .await
        .unwrap();
    assert_eq!(skipped, Submitted::Skipped);
    let queued = handle
        .background_task("h", "beat", "heartbeat", false)
        .await
        .unwrap();
    assert_eq!(queued, Submitted::Queued);
    // The idle conversation keeps its slot: nothing is closed for it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    host.drain();
    assert!(
        !host.seen.iter().any(|e| match e {
            HostEvent::Closed { .. } => true,
            HostEvent::Spawned { group, .. } => group == "h",
            _ => false,
        }),
        "background work closed a run or started: {:#?}",
        host.seen
    );
    let metrics = handle.prometheus();
    assert!(
        metrics.contains("groupq_waiting_background 1\n"),
        "{metrics}"
    );
    handle.close_run("a").await.unwrap();
    host.reply_to("h").await;
    handle.shutdown().await.unwrap();
    driver.await.unwrap().unwrap();
    host.drain();
    let spans = evidence(&dir.0);
    let (conversation, heartbeat) = (only_agent(&spans, "a"), only_agent(&spans, "h"));
    assert!(
        heartbeat.start >= conversation.end,
        "the heartbeat's agent started {} ms before the conversation's ended",
        (conversation.end - heartbeat.start) / MS
    );
    docker_after(
        kind,
        &dir,
        "a_background_task_waits_for_the_conversation",
        handle_spawns(&host),
    )
    .await;
}

/// The one agent `group` had, by its own log; a test fails if it had none
/// or a second.
fn only_agent<'a>(spans: &'a [support::Span], group: &str) -> &'a support::Span {
    let mut runs = spans.iter().filter(|s| s.group == group);
    let span = runs
        .next()
        .unwrap_or_else(|| panic!("no agent for {group}: {spans:#?}"));
    assert!(
        runs.next().is_none(),
        "a second agent for {group}: {spans:#?}"
    );
    span
}

/// Runs spawned, from the host's events.
fn handle_spawns(host: &Host) -> u64 {
    host.seen
        .iter()
        .filter(|e| matches!(e, HostEvent::Spawned { .. }))
        .count() as u64
}

/// One test per scenario and runtime.
macro_rules! on_both_runtimes {
    ($($scenario:ident),* $(,)?) => {
        mod processes {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::$scenario(super::Kind::Process).await;
                }
            )*
        }
        mod docker {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    if super::support::docker_ready(stringify!($scenario)) {
                        super::$scenario(super::Kind::Docker).await;
                    }
                }
            )*
        }
    };
}

/// An agent whose reader goes away keeps running: the driver detaches
/// while the agent works on its message, the agent writes its reply while
/// nothing reads its output, and the next driver on the state adopts the
/// run, reads its output from where the journal stopped, and delivers the
/// reply once. Judged from the agent's own log (one agent, never killed,
/// its turn after the first driver left) and from the engine's list or
/// `/proc` (alive between the drivers).
async fn a_run_outlives_its_reader_and_is_adopted(kind: Kind) {
    let dir = Scratch::new("adopt");
    let config = Config::default().with_idle_timeout(Duration::from_secs(60));
    let durability = groupq_tokio::Durability::new(dir.0.join("state"));
    let start = |config: Config| {
        let (driver, handle, events) = groupq_tokio::Driver::builder(config)
            .durable(durability.clone())
            .build(support::runner_with_turn(kind, &dir.0, "700"))
            .expect("the state restores");
        (tokio::spawn(driver.run()), handle, Host::new(events))
    };
    let (first, handle, mut host) = start(config.clone());
    handle.message("a", "hello").await.unwrap();
    host.spawned().await;
    // Detach once the agent runs (its own log says so): a container the
    // driver left between create and start is not running yet (the next
    // driver starts it: `an_adopted_container_that_never_started_is_started`).
    let runs = dir.0.join("runs");
    for _ in 0..600 {
        if groupq_agent::log::read_runs(&runs).is_ok_and(|s| !s.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let left = handle.detach().await.unwrap();
    assert_eq!(left.live_runs.len(), 1);
    first.await.unwrap().unwrap();
    let detached_at = unix_nanos();
    // Nothing reads the agent now, and it goes on.
    tokio::time::sleep(Duration::from_millis(300)).await;
    match kind {
        Kind::Process => {
            let prefix = format!(
                "GROUPQ_IPC={}",
                dir.0.join("runs").canonicalize().unwrap().display()
            );
            let alive = std::fs::read_dir("/proc").unwrap().flatten().any(|p| {
                std::fs::read(p.path().join("environ")).is_ok_and(|env| {
                    env.split(|&b| b == 0)
                        .any(|v| v.starts_with(prefix.as_bytes()))
                })
            });
            assert!(alive, "the agent died with its reader");
        }
        Kind::Docker => {
            let listed = DockerRunner::list_at(None, &owner(&dir.0)).await.unwrap();
            assert_eq!(listed.iter().filter(|c| c.running).count(), 1, "{listed:?}");
        }
    }
    let (second, handle, mut host) = start(config);
    let (_, text) = host.reply().await;
    assert_eq!(text, "re: hello");
    handle.shutdown().await.unwrap();
    second.await.unwrap().unwrap();
    host.drain();
    let replies = host
        .seen
        .iter()
        .filter(|e| matches!(e, HostEvent::Reply { .. }))
        .count();
    assert_eq!(replies, 1, "a line was read twice: {:#?}", host.seen);
    let spans = evidence(&dir.0);
    assert_eq!(spans.len(), 1, "one agent: {spans:#?}");
    assert!(!spans[0].killed, "{spans:#?}");
    assert_eq!(spans[0].answered, ["hello"]);
    assert!(
        spans[0].end > detached_at,
        "it went on after its reader left"
    );
    docker_after(kind, &dir, "a_run_outlives_its_reader_and_is_adopted", 1).await;
}

/// A driver that dies between a container's create and its start leaves
/// it created; the engine's wait answers `0` at once for a container that
/// never ran. The next driver starts it rather than take that for a
/// successful exit: the task runs, by the agent's own log, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_adopted_container_that_never_started_is_started() {
    if !support::docker_ready("an_adopted_container_that_never_started_is_started") {
        return;
    }
    let dir = Scratch::new("adopt-created");
    let durability = groupq_tokio::Durability::new(dir.0.join("state"));
    let start = || {
        let (driver, handle, events) = groupq_tokio::Driver::builder(Config::default())
            .durable(durability.clone())
            .build(support::runner_with_turn(Kind::Docker, &dir.0, "400"))
            .expect("the state restores");
        (tokio::spawn(driver.run()), handle, Host::new(events))
    };
    let (first, handle, mut host) = start();
    handle.task("a", "t1", "once").await.unwrap();
    host.spawned().await;
    let left = handle.detach().await.unwrap();
    assert_eq!(left.live_runs.len(), 1);
    first.await.unwrap().unwrap();
    // Put the container back as a dying driver leaves it: created, with
    // the same name, labels and mounts, never started.
    let docker = bollard::Docker::connect_with_local_defaults()
        .unwrap()
        .negotiate_version()
        .await
        .unwrap();
    // Spawned is said when the launch is asked for: wait for the engine.
    let mut listed = Vec::new();
    for _ in 0..100 {
        listed = DockerRunner::list_at(None, &owner(&dir.0)).await.unwrap();
        if listed.len() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(listed.len(), 1, "{listed:?}");
    let name = listed[0].name.clone();
    let inspected = docker
        .inspect_container(&name, None)
        .await
        .unwrap_or_else(|e| panic!("inspect {name}: {e}; listed {listed:?}"));
    let config = inspected.config.unwrap();
    docker
        .remove_container(
            &name,
            Some(
                bollard::query_parameters::RemoveContainerOptionsBuilder::new()
                    .force(true)
                    .build(),
            ),
        )
        .await
        .unwrap();
    let run_dir = dir
        .0
        .join("runs")
        .join(listed[0].run_name.as_ref().unwrap());
    // The first agent's log, if it got so far: the evidence is the second's.
    match std::fs::remove_file(run_dir.join(groupq_agent::log::LOG_FILE)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => panic!("{e}"),
        _ => {}
    }
    let body = bollard::models::ContainerCreateBody {
        image: config.image,
        cmd: config.cmd,
        labels: config.labels,
        host_config: inspected.host_config,
        ..Default::default()
    };
    let options = bollard::query_parameters::CreateContainerOptionsBuilder::new()
        .name(&name)
        .build();
    docker.create_container(Some(options), body).await.unwrap();
    let adopted_at = unix_nanos();

    let (second, handle, mut host) = start();
    let (_, text) = host.reply().await;
    assert_eq!(text, "done: once");
    assert_eq!(host.exited().await, RunExit::Code(0));
    handle.shutdown().await.unwrap();
    second.await.unwrap().unwrap();
    let spans = evidence(&dir.0);
    assert_eq!(spans.len(), 1, "one agent: {spans:#?}");
    assert!(spans[0].start > adopted_at, "{spans:#?}");
    docker_after(
        Kind::Docker,
        &dir,
        "an_adopted_container_that_never_started_is_started",
        1,
    )
    .await;
}

on_both_runtimes!(
    a_run_outlives_its_reader_and_is_adopted,
    limits_hold,
    hung_agent_is_killed_after_its_deadline,
    shutdown_closes_idle_at_once_and_kills_the_rest_after_the_grace,
    a_follow_up_is_answered_by_the_live_agent,
    a_run_that_cannot_start_is_reported_as_never_started,
    an_agent_says_how_its_failure_is_retried,
    a_crash_loop_opens_the_breaker_and_one_probe_closes_it,
    a_background_task_waits_for_the_conversation,
);

/// Kill is SIGKILL of the run's whole process group: a helper the agent
/// started dies with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_kill_takes_the_agents_helpers_with_it() {
    let dir = Scratch::new("process-group");
    // An agent that starts a helper, records its pid, and answers nothing.
    let agent = groupq_tokio::CommandLine::new("/bin/sh")
        .arg("-c")
        .arg("sleep 30 & echo $! > \"$GROUPQ_IPC/helper.pid\"; wait");
    let runtime = groupq_tokio::ProcessRunner::new(&dir.0, agent)
        .unwrap()
        .keep_run_dirs(true);
    let config = Config::default()
        .with_max_turn_time(Duration::from_millis(300))
        .with_kill_grace(Duration::from_millis(100))
        .with_max_retries(0);
    let (running, handle, mut host) = support::start_checked(config, runtime);
    handle.message("a", "hello").await.unwrap();
    let name = host
        .until(|e| match e {
            HostEvent::Spawned { name, .. } => Some(name.clone()),
            _ => None,
        })
        .await;
    host.killed().await;
    let pid_file = dir.0.join("runs").join(name).join("helper.pid");
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    let stat = std::path::PathBuf::from(format!("/proc/{}/stat", pid.trim()));
    // The helper would live 30 s; killed with its group it is gone (or a
    // zombie awaiting init) at once. Its stdout is the agent's, so the run's
    // exit also waits for it.
    let mut gone = false;
    for _ in 0..100 {
        gone = std::fs::read_to_string(&stat)
            .map_or(true, |stat| stat.split_whitespace().nth(2) == Some("Z"));
        if gone {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        gone,
        "the helper {} outlived the kill of its agent",
        pid.trim()
    );
    host.exited().await;
    handle.shutdown().await.unwrap();
    running.await.unwrap().unwrap();
}

/// An agent (`/bin/sh`) that starts a helper in its own process group
/// which logs its own end after `helper_secs`, records its exit time, and
/// exits 0 at once.
fn agent_with_helper(helper_secs: &str) -> groupq_tokio::CommandLine {
    let script = format!(
        "(sleep {helper_secs}; date +%s%N > \"$GROUPQ_IPC/helper.end\") & \
         echo $! > \"$GROUPQ_IPC/helper.pid\"; date +%s%N > \"$GROUPQ_IPC/agent.end\"; exit 0"
    );
    groupq_tokio::CommandLine::new("/bin/sh")
        .arg("-c")
        .arg(script)
}

/// Runs one message through `agent`; returns the run directory and the
/// wall clock when the exit was reported.
async fn run_once(dir: &Scratch, agent: groupq_tokio::CommandLine) -> (std::path::PathBuf, u128) {
    let runner = groupq_tokio::ProcessRunner::new(&dir.0, agent)
        .unwrap()
        .helper_grace(Duration::from_millis(300))
        .keep_run_dirs(true);
    let config = Config::default().with_max_retries(0);
    let (running, handle, mut host) = support::start_checked(config, runner);
    handle.message("a", "hello").await.unwrap();
    let name = host
        .until(|e| match e {
            HostEvent::Spawned { name, .. } => Some(name.clone()),
            _ => None,
        })
        .await;
    host.exited().await;
    let reported = unix_nanos();
    handle.shutdown().await.unwrap();
    running.await.unwrap().unwrap();
    (dir.0.join("runs").join(name), reported)
}

fn nanos_in(path: &std::path::Path) -> Option<u128> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// A run is its process group. An agent that exits leaving a helper that
/// lingers is reported exited only after the helper grace, once the
/// helper was killed; one whose helper ends by itself within the grace is
/// reported exited once the helper is gone, the helper not killed. Judged
/// from `/proc` and the processes' own clocks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_run_ends_when_nothing_of_its_group_is_left() {
    let dir = Scratch::new("group-linger");
    let (run_dir, reported) = run_once(&dir, agent_with_helper("30")).await;
    let agent_end = nanos_in(&run_dir.join("agent.end")).expect("the agent's end");
    let pid = std::fs::read_to_string(run_dir.join("helper.pid")).unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid.trim()));
    assert!(
        stat.map_or(true, |s| s.split_whitespace().nth(2) == Some("Z")),
        "the lingering helper {} was alive when the exit was reported",
        pid.trim()
    );
    assert!(
        reported >= agent_end + 280 * MS,
        "the exit came {} ms after the agent's, before the helper grace",
        (reported - agent_end) / MS
    );
    assert!(
        nanos_in(&run_dir.join("helper.end")).is_none(),
        "the helper was not killed"
    );

    let dir = Scratch::new("group-short");
    let (run_dir, reported) = run_once(&dir, agent_with_helper("0.1")).await;
    let agent_end = nanos_in(&run_dir.join("agent.end")).expect("the agent's end");
    let helper_end = nanos_in(&run_dir.join("helper.end")).expect("the helper ended by itself");
    assert!(helper_end > agent_end);
    assert!(
        reported >= helper_end,
        "the exit was reported before the helper ended"
    );
}

/// A state directory reset (emptied) while the work directory is kept:
/// the new state names its runs afresh, so no run directory of the old
/// state is reused, and one group's messages never reach another's agent.
/// Judged from the run directories and the agents' own logs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_directories_are_never_reused_across_state_resets() {
    let dir = Scratch::new("reset");
    let state = dir.0.join("state");
    for (group, text) in [("a", "only for a"), ("b", "only for b")] {
        let (driver, handle, events) = groupq_tokio::Driver::builder(Config::default())
            .durable(groupq_tokio::Durability::new(&state))
            .build(runner(Kind::Process, &dir.0))
            .unwrap();
        let running = tokio::spawn(driver.run());
        let mut host = Host::new(events);
        handle.message(group, text).await.unwrap();
        host.reply().await;
        handle.shutdown().await.unwrap();
        running.await.unwrap().unwrap();
        host.drain();
        // Every run started: none found its directory taken.
        assert!(
            !host.seen.iter().any(|e| matches!(
                e,
                HostEvent::Exited {
                    exit: RunExit::NotStarted(_),
                    ..
                }
            )),
            "{:#?}",
            host.seen
        );
        // The reset: the state goes, the work directory stays.
        std::fs::remove_dir_all(&state).unwrap();
    }
    let spans = evidence(&dir.0);
    assert_eq!(spans.len(), 2, "{spans:#?}");
    assert_ne!(spans[0].dir, spans[1].dir, "a run directory was reused");
    for span in &spans {
        assert_eq!(
            span.answered,
            [format!("only for {}", span.group)],
            "{span:#?}"
        );
    }
}
