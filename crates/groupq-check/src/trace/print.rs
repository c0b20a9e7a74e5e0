//! The printer: a trace's canonical text.

use std::fmt::{self, Write as _};
use std::time::Duration;

use groupq::{CompactionTrigger, ContextStats, Exit, Input, Policy, TurnReport, TurnStatus, Work};

use super::{Step, Trace};

/// Prints the full config line, then one canonical line per step.
impl fmt::Display for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        write!(
            f,
            "config max_active={} policy={} retry_base={} max_retries={} idle_timeout={} \
             warn_percent={} auto_compact_percent={} notices={} records={} kill_grace={} \
             max_turn_time={} max_compact_time={} max_run_time={} stall_timeout={} \
             shutdown_grace={}",
            c.max_active(),
            match c.policy() {
                Policy::Fair => "fair",
                Policy::Legacy => "legacy",
            },
            Dur(c.retry_base()),
            c.max_retries(),
            Dur(c.idle_timeout()),
            c.warn_percent(),
            c.auto_compact_percent(),
            on_off(c.notices()),
            on_off(c.records()),
            Dur(c.kill_grace()),
            Dur(c.max_turn_time()),
            Dur(c.max_compact_time()),
            OptDur(c.max_run_time()),
            OptDur(c.stall_timeout()),
            Dur(c.shutdown_grace()),
        )?;
        // Settings added later are printed only when not at their default:
        // traces written before them read and print the same.
        if !c.start_grace().is_zero() {
            write!(f, " start_grace={}", Dur(c.start_grace()))?;
        }
        if !c.evict_idle() {
            f.write_str(" evict_idle=off")?;
        }
        write_caps(f, c.max_queued_tasks(), c.max_group_tasks())?;
        if let Some(d) = c.debounce() {
            write!(
                f,
                " debounce_quiet={} debounce_max_wait={}",
                Dur(d.quiet),
                Dur(d.max_wait)
            )?;
        }
        if let Some(b) = c.breaker() {
            write!(
                f,
                " breaker_fast_failure={} breaker_groups={} breaker_window={} \
                 breaker_cooldown={} breaker_max_cooldown={}",
                Dur(b.fast_failure),
                b.groups,
                Dur(b.window),
                Dur(b.cooldown),
                Dur(b.max_cooldown)
            )?;
        }
        let b = c.background();
        let d = groupq::Background::default();
        if b.aging != d.aging {
            write!(f, " background_aging={}", b.aging)?;
        }
        if let Some(max) = b.max_running {
            write!(f, " background_max_running={max}")?;
        }
        if let Some(window) = b.skip_window {
            write!(f, " background_skip_window={}", Dur(window))?;
        }
        f.write_char('\n')?;
        for step in &self.steps {
            writeln!(f, "{step}")?;
        }
        Ok(())
    }
}

/// Prints the step as its canonical trace line, without a newline.
impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ", self.now)?;
        match &self.input {
            Input::Message { group } => write!(f, "message {}", Str(group)),
            Input::Task { group, id, payload } => {
                write!(f, "task {} {} {}", Str(group), Str(id), Str(payload))
            }
            Input::BackgroundTask {
                group,
                id,
                payload,
                skip_if_active,
            } => write!(
                f,
                "{} {} {} {}",
                if *skip_if_active {
                    "background-skip"
                } else {
                    "background"
                },
                Str(group),
                Str(id),
                Str(payload)
            ),
            Input::Pipe { group } => write!(f, "pipe {}", Str(group)),
            Input::Idle { run } => write!(f, "idle {run}"),
            Input::Heartbeat { run } => write!(f, "heartbeat {run}"),
            Input::Cancel { group, id } => write!(f, "cancel {} {}", Str(group), Str(id)),
            Input::Pause { group } => write!(f, "pause {}", Str(group)),
            Input::Resume { group } => write!(f, "resume {}", Str(group)),
            Input::CloseRun { group } => write!(f, "close {}", Str(group)),
            Input::Turn { run, report } => {
                write!(f, "turn {run}")?;
                write_turn_report(f, report)
            }
            Input::Exited { run, exit } => match exit {
                Exit::RetryAfter(after) => write!(f, "exited {run} retry_after={}", Dur(*after)),
                exit => write!(
                    f,
                    "exited {run} {}",
                    match exit {
                        Exit::Clean => "clean",
                        Exit::Fatal => "fatal",
                        _ => "failed",
                    }
                ),
            },
            Input::NeverLaunched { run, work } => match work {
                Work::Messages => write!(f, "never-launched {run} messages"),
                Work::Task { id, payload } => {
                    write!(f, "never-launched {run} task {} {}", Str(id), Str(payload))
                }
                Work::Compact => write!(f, "never-launched {run} compact"),
            },
            Input::SetLimits { limits } => {
                write!(f, "limits max_active={}", limits.max_active)?;
                write_caps(f, limits.max_queued_tasks, limits.max_group_tasks)
            }
            Input::Timeout => write!(f, "timeout"),
            Input::Shutdown => write!(f, "shutdown"),
            other => write!(f, "# an input this format does not know: {other:?}"),
        }
    }
}

/// The caps on queued tasks that are on.
fn write_caps(
    f: &mut fmt::Formatter<'_>,
    total: Option<usize>,
    group: Option<usize>,
) -> fmt::Result {
    if let Some(cap) = total {
        write!(f, " max_queued_tasks={cap}")?;
    }
    if let Some(cap) = group {
        write!(f, " max_group_tasks={cap}")?;
    }
    Ok(())
}

fn write_turn_report(f: &mut fmt::Formatter<'_>, o: &TurnReport) -> fmt::Result {
    f.write_str(match o.status {
        TurnStatus::Success => " ok",
        TurnStatus::Error => " error",
    })?;
    if o.replied {
        f.write_str(" replied")?;
    }
    if o.delivered {
        f.write_str(" delivered")?;
    }
    if let Some(c) = &o.context {
        if *c == ContextStats::default() {
            f.write_str(" context")?;
        }
        if let Some(p) = c.percent {
            write!(f, " percent={p}")?;
        }
        if let Some(t) = c.tokens {
            write!(f, " tokens={t}")?;
        }
        if let Some(l) = c.limit {
            write!(f, " limit={l}")?;
        }
        if c.compact_recommended {
            f.write_str(" compact_recommended")?;
        }
    }
    if let Some(c) = &o.compaction {
        f.write_str(match c.trigger {
            CompactionTrigger::Auto => " compaction=auto",
            CompactionTrigger::Manual => " compaction=manual",
        })?;
        if let Some(t) = c.tokens_before {
            write!(f, ":{t}")?;
        }
    }
    Ok(())
}

fn on_off(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}

/// A duration printed like [`Time`]: `5000ms`, `0.000001ms`.
pub(crate) struct Dur(pub(crate) Duration);

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.0.as_nanos();
        let (ms, rest) = (nanos / 1_000_000, nanos % 1_000_000);
        if rest == 0 {
            write!(f, "{ms}ms")
        } else {
            write!(f, "{ms}.{rest:06}ms")
        }
    }
}

/// An optional duration: `off`, or as [`Dur`].
struct OptDur(Option<Duration>);

impl fmt::Display for OptDur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(d) => Dur(d).fmt(f),
            None => f.write_str("off"),
        }
    }
}

/// A string, bare when it can be, else quoted with escapes.
pub(crate) struct Str<'a>(pub(crate) &'a str);

impl Str<'_> {
    pub(super) fn is_bare(s: &str) -> bool {
        !s.is_empty()
            && !s.starts_with('#')
            && s.chars()
                .all(|c| !c.is_whitespace() && !c.is_control() && c != '"' && c != '\\')
    }
}

impl fmt::Display for Str<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if Str::is_bare(self.0) {
            return f.write_str(self.0);
        }
        f.write_char('"')?;
        for c in self.0.chars() {
            match c {
                '"' => f.write_str("\\\"")?,
                '\\' => f.write_str("\\\\")?,
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                c if c.is_control() => write!(f, "\\u{{{:x}}}", u32::from(c))?,
                c => f.write_char(c)?,
            }
        }
        f.write_char('"')
    }
}
