//! The views that are not on the hot path, as JSON the TypeScript layer
//! parses: a group's `explain` and the shutdown report. Written by hand:
//! every value is a number, a boolean, null or a fixed word, so no string
//! needs escaping, and the module carries no JSON library.

use std::fmt::Write as _;

use groupq::{Explain, JobInfo, RunState, ShutdownReport, Time, WorkKind};

/// A time as integer nanoseconds (the TypeScript layer divides by 1e6):
/// no float formatting in the module.
fn time(out: &mut String, t: Option<Time>) {
    match t {
        Some(t) => {
            let _ = write!(out, "{}", t.as_nanos());
        }
        None => out.push_str("null"),
    }
}

fn opt(out: &mut String, v: Option<u64>) {
    match v {
        Some(v) => {
            let _ = write!(out, "{v}");
        }
        None => out.push_str("null"),
    }
}

fn kind(k: WorkKind) -> &'static str {
    match k {
        WorkKind::Messages => "messages",
        WorkKind::Task => "task",
        _ => "compact",
    }
}

fn state(s: RunState) -> &'static str {
    match s {
        RunState::Busy => "busy",
        RunState::IdleWaiting => "idle",
        _ => "closing",
    }
}

/// `{"run": {...} | null, "jobs": [...], ...}` with camelCase keys; task
/// ids as the numbers the TypeScript layer issued; times in nanoseconds.
pub fn explain_json(e: &Explain<u32>) -> String {
    let mut s = String::with_capacity(256);
    s.push_str("{\"run\":");
    match &e.run {
        Some(r) => {
            let _ = write!(
                s,
                "{{\"run\":{},\"kind\":\"{}\",\"state\":\"{}\",\"killed\":{},\"background\":{}",
                r.run.get(),
                kind(r.kind),
                state(r.state),
                r.killed,
                r.background
            );
            for (name, at) in [
                ("idleDeadline", r.idle_deadline),
                ("turnDeadline", r.turn_deadline),
                ("lifeDeadline", r.life_deadline),
                ("stallDeadline", r.stall_deadline),
                ("graceDeadline", r.grace_deadline),
                ("killDeadline", r.kill_deadline),
            ] {
                let _ = write!(s, ",\"{name}\":");
                time(&mut s, at);
            }
            s.push('}');
        }
        None => s.push_str("null"),
    }
    s.push_str(",\"jobs\":[");
    for (i, job) in e.jobs.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        match job {
            JobInfo::Task(id) => {
                let _ = write!(s, "{{\"kind\":\"task\",\"id\":{id}}}");
            }
            JobInfo::Compact => s.push_str("{\"kind\":\"compact\"}"),
        }
    }
    s.push_str("],\"backgroundTasks\":[");
    for (i, id) in e.background_tasks.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{id}");
    }
    let _ = write!(
        s,
        "],\"unreadMessages\":{},\"waitingBehind\":",
        e.unread_messages
    );
    opt(&mut s, e.waiting_behind.map(|w| w as u64));
    let _ = write!(s, ",\"failures\":{},\"retryAt\":", e.failures);
    time(&mut s, e.retry_at);
    s.push_str(",\"debouncedUntil\":");
    time(&mut s, e.debounced_until);
    let _ = write!(
        s,
        ",\"compactPending\":{},\"paused\":{},\"lastContext\":",
        e.compact_pending, e.paused
    );
    match e.last_context {
        Some(c) => {
            s.push_str("{\"tokens\":");
            opt(&mut s, c.tokens);
            s.push_str(",\"limit\":");
            opt(&mut s, c.limit);
            s.push_str(",\"percent\":");
            opt(&mut s, c.percent.map(u64::from));
            let _ = write!(s, ",\"compactRecommended\":{}}}", c.compact_recommended);
        }
        None => s.push_str("null"),
    }
    s.push('}');
    s
}

/// `{"groups": [...], "liveRuns": [...]}`: keys, task ids and payloads as
/// the numbers the TypeScript layer issued; times in nanoseconds.
pub fn report_json(r: &ShutdownReport<u32, u32, u32>) -> String {
    let mut s = String::from("{\"groups\":[");
    for (i, g) in r.groups.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{{\"group\":{},\"jobs\":[", g.group);
        for (j, job) in g.jobs.iter().enumerate() {
            if j > 0 {
                s.push(',');
            }
            match job {
                groupq::Work::Task { id, payload } => {
                    let _ = write!(s, "{{\"kind\":\"task\",\"id\":{id},\"payload\":{payload}}}");
                }
                groupq::Work::Messages => s.push_str("{\"kind\":\"messages\"}"),
                groupq::Work::Compact => s.push_str("{\"kind\":\"compact\"}"),
            }
        }
        let _ = write!(s, "],\"unreadMessages\":{},\"retry\":", g.unread_messages);
        match g.retry {
            Some((attempt, at)) => {
                let _ = write!(s, "{{\"attempt\":{attempt},\"at\":{}}}", at.as_nanos());
            }
            None => s.push_str("null"),
        }
        let _ = write!(
            s,
            ",\"compactPending\":{},\"backgroundTasks\":[",
            g.compact_pending
        );
        for (j, (id, payload)) in g.background_tasks.iter().enumerate() {
            if j > 0 {
                s.push(',');
            }
            let _ = write!(s, "{{\"id\":{id},\"payload\":{payload}}}");
        }
        s.push_str("]}");
    }
    s.push_str("],\"liveRuns\":[");
    for (i, run) in r.live_runs.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(
            s,
            "{{\"run\":{},\"group\":{},\"kind\":\"{}\",\"state\":\"{}\"}}",
            run.run.get(),
            run.group,
            kind(run.kind),
            state(run.state)
        );
    }
    s.push_str("]}");
    s
}
