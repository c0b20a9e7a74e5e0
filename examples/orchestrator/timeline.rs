//! What the host hears, printed as a timeline, and counted for the summary.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::sync::OnceLock;
use std::time::Instant;

use groupq::{Config, RunId};
use groupq_tokio::{HostEvent, HostEvents, Metrics};

use crate::engine::EngineView;
use crate::evidence::Evidence;

/// The demo's start, for the timeline's clock.
fn start() -> Instant {
    static START: OnceLock<Instant> = OnceLock::new();
    *START.get_or_init(Instant::now)
}

/// One timeline line: time, group, run, what happened.
pub fn line(group: &str, run: Option<RunId>, what: impl Display) {
    let run = run.map_or_else(|| "-".to_string(), |r| r.to_string());
    println!(
        "{:>7.3}s  {group:<8} {run:<7} {what}",
        start().elapsed().as_secs_f64()
    );
}

/// Counts for the summary.
#[derive(Default)]
pub struct Tally {
    runs: BTreeMap<String, u32>,
    replies: u32,
    rollbacks: u32,
    compactions: u32,
}

/// Prints every host event until the driver ends; returns the counts.
pub async fn print(mut events: HostEvents) -> Tally {
    start();
    let mut tally = Tally::default();
    while let Some(event) = events.recv().await {
        match event {
            HostEvent::Spawned {
                group,
                run,
                kind,
                task,
                messages,
                ..
            } => {
                *tally.runs.entry(group.clone()).or_default() += 1;
                let what = match task {
                    Some(id) => format!("spawn: task {id}"),
                    None => format!("spawn: {kind:?} ({messages} message(s))"),
                };
                line(&group, Some(run), what);
            }
            HostEvent::Piped { group, run } => {
                line(&group, Some(run), "follow-up piped into the live agent")
            }
            HostEvent::Reply {
                group, run, text, ..
            } => {
                tally.replies += 1;
                line(&group, Some(run), format!("reply {text:?}"));
            }
            HostEvent::TurnFailed { group, run, error } => {
                line(&group, Some(run), format!("turn failed: {error}"))
            }
            HostEvent::Compacted { group } => {
                tally.compactions += 1;
                line(&group, None, "context compacted");
            }
            HostEvent::Closed { group, run, reason } => {
                line(&group, Some(run), format!("close input: {reason:?}"))
            }
            HostEvent::Killed { group, run } => {
                line(&group, Some(run), "killed: no exit within the kill grace")
            }
            HostEvent::Exited {
                group, run, exit, ..
            } => line(&group, Some(run), format!("exited ({exit})")),
            HostEvent::Notice { group, notice } => {
                line(&group, None, format!("notice to the user: {notice:?}"))
            }
            HostEvent::RolledBack { group, messages } => {
                tally.rollbacks += 1;
                line(
                    &group,
                    None,
                    format!("cursor rolled back: {messages} message(s) will be read again"),
                );
            }
            HostEvent::RetryScheduled { group, attempt, at } => line(
                &group,
                None,
                format!("retry {attempt} at {:.3}s", at.since_epoch().as_secs_f64()),
            ),
            HostEvent::TerminalFailure { group, unread } => line(
                &group,
                None,
                format!("retries exhausted; {unread} message(s) left unread"),
            ),
            HostEvent::TaskFailed { group, id } => line(&group, None, format!("task {id} failed")),
            other => line("-", None, format!("{other:?}")),
        }
    }
    tally
}

/// The final summary.
pub fn summary(
    tally: &Tally,
    metrics: &Metrics,
    evidence: &Evidence,
    engine: Option<&EngineView>,
    config: &Config,
) {
    let per_group: Vec<String> = tally.runs.iter().map(|(g, n)| format!("{g} {n}")).collect();
    let (alive, alive_in_group) = evidence.max_alive();
    println!("summary");
    println!("  runs per group        {}", per_group.join(", "));
    println!(
        "  driver counters       {} inputs, {} spawns, {} closes ({} evictions), {} kills, {} retries, {} terminal failures, {} follow-ups piped",
        metrics.inputs, metrics.spawns, metrics.closes, metrics.evictions, metrics.kills, metrics.retries, metrics.terminal_failures, metrics.piped
    );
    println!(
        "  host                  {} replies, {} rollbacks, {} compactions",
        tally.replies, tally.rollbacks, tally.compactions
    );
    println!(
        "  agents' own clocks    {} agents; at most {alive} alive at once (max_active {}), at most {alive_in_group} per group; {} killed",
        evidence.spans.len(),
        config.max_active(),
        evidence.spans.iter().filter(|s| s.killed).count()
    );
    if let Some(engine) = engine {
        println!(
            "  engine's own list     at most {} containers running at once, at most {} per group ({} samples); {} left",
            engine.max_running, engine.max_in_group, engine.samples, engine.left
        );
    }
    println!("  invariant checker     every input checked, no violation");
}
