//! The parser: words into config and inputs.

use std::time::Duration;

use groupq::{
    Background, Breaker, Compaction, CompactionTrigger, Config, ContextStats, Debounce, Exit,
    Input, Limits, Policy, RunId, TurnReport, TurnStatus, Work,
};

use super::excerpt;
use super::lex::{Located, Word};
use super::ParseErrorKind;

/// The words of one line after the first, consumed in order.
pub(super) struct Args<'a> {
    words: &'a [Word],
    next: usize,
    end: usize,
}

impl<'a> Args<'a> {
    /// The words of a line, the first (time or `config`) already taken.
    pub(super) fn new(words: &'a [Word], end: usize) -> Self {
        Args {
            words,
            next: 1,
            end,
        }
    }

    fn next(&mut self, what: &'static str) -> Located<&'a Word> {
        let word = self
            .words
            .get(self.next)
            .ok_or((self.end, ParseErrorKind::MissingArgument(what)))?;
        self.next += 1;
        Ok(word)
    }

    fn optional(&mut self) -> Option<&'a Word> {
        let word = self.words.get(self.next)?;
        self.next += 1;
        Some(word)
    }

    fn rest(&mut self) -> &'a [Word] {
        let rest = self.words.get(self.next..).unwrap_or(&[]);
        self.next = self.words.len();
        rest
    }

    fn finish(&self) -> Located<()> {
        match self.words.get(self.next) {
            Some(w) => Err((
                w.column,
                ParseErrorKind::UnexpectedArgument(excerpt(&w.text)),
            )),
            None => Ok(()),
        }
    }
}

pub(super) fn input(args: &mut Args<'_>) -> Located<Input<String, String, String>> {
    const GROUP: &str = "a group";
    const RUN: &str = "a run id like run#1";
    let name = args.next("an input")?;
    let input = match name.text.as_str() {
        "message" => Input::Message {
            group: args.next(GROUP)?.text.clone(),
        },
        "task" => Input::Task {
            group: args.next(GROUP)?.text.clone(),
            id: args.next("a task id")?.text.clone(),
            payload: args.optional().map(|w| w.text.clone()).unwrap_or_default(),
        },
        background @ ("background" | "background-skip") => Input::BackgroundTask {
            group: args.next(GROUP)?.text.clone(),
            id: args.next("a task id")?.text.clone(),
            payload: args.optional().map(|w| w.text.clone()).unwrap_or_default(),
            skip_if_active: background == "background-skip",
        },
        "pipe" => Input::Pipe {
            group: args.next(GROUP)?.text.clone(),
        },
        "cancel" => Input::Cancel {
            group: args.next(GROUP)?.text.clone(),
            id: args.next("a task id")?.text.clone(),
        },
        "pause" => Input::Pause {
            group: args.next(GROUP)?.text.clone(),
        },
        "resume" => Input::Resume {
            group: args.next(GROUP)?.text.clone(),
        },
        "close" => Input::CloseRun {
            group: args.next(GROUP)?.text.clone(),
        },
        "heartbeat" => Input::Heartbeat {
            run: parse_run(args.next(RUN)?)?,
        },
        "idle" => Input::Idle {
            run: parse_run(args.next(RUN)?)?,
        },
        "turn" => Input::Turn {
            run: parse_run(args.next(RUN)?)?,
            report: parse_turn_report(args)?,
        },
        "exited" => Input::Exited {
            run: parse_run(args.next(RUN)?)?,
            exit: {
                let w = args
                    .next("how the run exited: clean, failed, fatal or retry_after=<duration>")?;
                match w.text.as_str() {
                    "clean" => Exit::Clean,
                    "failed" => Exit::Failed,
                    "fatal" => Exit::Fatal,
                    text => match text.strip_prefix("retry_after=").and_then(parse_duration) {
                        Some(after) => Exit::RetryAfter(after),
                        None => return Err(invalid(w, "exit", &w.text)),
                    },
                }
            },
        },
        "never-launched" => Input::NeverLaunched {
            run: parse_run(args.next(RUN)?)?,
            work: {
                let w = args.next("the work: messages, task <id> [<payload>] or compact")?;
                match w.text.as_str() {
                    "messages" => Work::Messages,
                    "compact" => Work::Compact,
                    "task" => Work::Task {
                        id: args.next("a task id")?.text.clone(),
                        payload: args.optional().map(|w| w.text.clone()).unwrap_or_default(),
                    },
                    _ => return Err(invalid(w, "work", &w.text)),
                }
            },
        },
        "limits" => Input::SetLimits {
            limits: parse_limits(args)?,
        },
        "timeout" => Input::Timeout,
        "shutdown" => Input::Shutdown,
        _ => {
            return Err((
                name.column,
                ParseErrorKind::UnknownInput(excerpt(&name.text)),
            ))
        }
    };
    args.finish()?;
    Ok(input)
}

fn invalid(w: &Word, key: &'static str, value: &str) -> (usize, ParseErrorKind) {
    (
        w.column,
        ParseErrorKind::InvalidValue {
            key,
            value: excerpt(value),
        },
    )
}

fn parse_run(w: &Word) -> Located<RunId> {
    w.text
        .strip_prefix("run#")
        .and_then(parse_uint::<u64>)
        .map(RunId::new)
        .ok_or_else(|| (w.column, ParseErrorKind::InvalidRun(excerpt(&w.text))))
}

/// A `key` or `key=value` word.
struct Attr<'a> {
    word: &'a Word,
    key: &'a str,
    value: Option<&'a str>,
}

impl<'a> Attr<'a> {
    fn of(word: &'a Word) -> Attr<'a> {
        match word.text.split_once('=') {
            Some((key, value)) => Attr {
                word,
                key,
                value: Some(value),
            },
            None => Attr {
                word,
                key: &word.text,
                value: None,
            },
        }
    }

    /// Sets `slot` once; a second time is [`ParseErrorKind::DuplicateKey`].
    fn set<V>(&self, slot: &mut Option<V>, name: &'static str, value: V) -> Located<()> {
        if slot.is_some() {
            return Err((self.word.column, ParseErrorKind::DuplicateKey(name)));
        }
        *slot = Some(value);
        Ok(())
    }

    /// A flag: no value allowed.
    fn flag(&self, slot: &mut Option<bool>, name: &'static str) -> Located<()> {
        if let Some(v) = self.value {
            return Err(invalid(self.word, name, v));
        }
        self.set(slot, name, true)
    }

    /// A `key=value`, the value read by `read`.
    fn valued<V>(
        &self,
        slot: &mut Option<V>,
        name: &'static str,
        read: impl FnOnce(&str) -> Option<V>,
    ) -> Located<()> {
        let value = self.value.unwrap_or("");
        let v = self
            .value
            .and_then(read)
            .ok_or_else(|| invalid(self.word, name, value))?;
        self.set(slot, name, v)
    }
}

fn parse_turn_report(args: &mut Args<'_>) -> Located<TurnReport> {
    let (mut status, mut replied, mut delivered) = (None, None, None);
    let (mut percent, mut tokens, mut limit) = (None, None, None);
    let (mut recommended, mut context, mut compaction) = (None, None, None);
    for word in args.rest() {
        let a = Attr::of(word);
        match a.key {
            "ok" | "error" => {
                if let Some(v) = a.value {
                    return Err(invalid(word, "status", v));
                }
                let s = if a.key == "ok" {
                    TurnStatus::Success
                } else {
                    TurnStatus::Error
                };
                a.set(&mut status, "status", s)?;
            }
            "replied" => a.flag(&mut replied, "replied")?,
            "delivered" => a.flag(&mut delivered, "delivered")?,
            "compact_recommended" => a.flag(&mut recommended, "compact_recommended")?,
            "context" => a.flag(&mut context, "context")?,
            "percent" => a.valued(&mut percent, "percent", parse_uint::<u32>)?,
            "tokens" => a.valued(&mut tokens, "tokens", parse_uint::<u64>)?,
            "limit" => a.valued(&mut limit, "limit", parse_uint::<u64>)?,
            "compaction" => a.valued(&mut compaction, "compaction", parse_compaction)?,
            key => return Err((word.column, ParseErrorKind::UnknownKey(excerpt(key)))),
        }
    }
    let status = status.ok_or((
        args.end,
        ParseErrorKind::MissingArgument("a turn status, ok or error"),
    ))?;
    let has_context = context.is_some()
        || percent.is_some()
        || tokens.is_some()
        || limit.is_some()
        || recommended.is_some();
    Ok(TurnReport {
        status,
        replied: replied.is_some(),
        delivered: delivered.is_some(),
        context: has_context.then_some(ContextStats {
            tokens,
            limit,
            percent,
            compact_recommended: recommended.is_some(),
        }),
        compaction,
    })
}

/// `max_active=N [max_queued_tasks=N] [max_group_tasks=N]`: a cap left
/// out is off.
fn parse_limits(args: &mut Args<'_>) -> Located<Limits> {
    let (mut max_active, mut total, mut group) = (None, None, None);
    for word in args.rest() {
        let a = Attr::of(word);
        match a.key {
            "max_active" => a.valued(&mut max_active, "max_active", parse_uint::<usize>)?,
            "max_queued_tasks" => a.valued(&mut total, "max_queued_tasks", parse_uint::<usize>)?,
            "max_group_tasks" => a.valued(&mut group, "max_group_tasks", parse_uint::<usize>)?,
            key => return Err((word.column, ParseErrorKind::UnknownKey(excerpt(key)))),
        }
    }
    let max_active = max_active.ok_or((
        args.end,
        ParseErrorKind::MissingArgument("max_active=<slots>"),
    ))?;
    Ok(Limits::new(max_active)
        .with_max_queued_tasks(total)
        .with_max_group_tasks(group))
}

fn parse_compaction(s: &str) -> Option<Compaction> {
    let (trigger, tokens) = match s.split_once(':') {
        Some((t, n)) => (t, Some(parse_uint::<u64>(n)?)),
        None => (s, None),
    };
    let trigger = match trigger {
        "auto" => CompactionTrigger::Auto,
        "manual" => CompactionTrigger::Manual,
        _ => return None,
    };
    Some(Compaction {
        trigger,
        tokens_before: tokens,
    })
}

pub(super) fn config(args: &mut Args<'_>) -> Located<Config> {
    let (mut max_active, mut policy, mut retry_base, mut max_retries) = (None, None, None, None);
    let (mut idle_timeout, mut warn, mut auto) = (None, None, None);
    let (mut notices, mut records) = (None, None);
    let (mut kill_grace, mut max_turn, mut max_compact) = (None, None, None);
    let (mut max_run, mut stall, mut shutdown_grace) = (None, None, None);
    let (mut start_grace, mut evict_idle) = (None, None);
    let (mut max_queued_tasks, mut max_group_tasks) = (None, None);
    let (mut quiet, mut max_wait) = (None, None);
    let (mut fast_failure, mut breaker_groups, mut window) = (None, None, None);
    let (mut cooldown, mut max_cooldown) = (None, None);
    let (mut aging, mut max_background, mut skip_window) = (None, None, None);
    let optional = |v: &str| match v {
        "off" => Some(None),
        v => parse_duration(v).map(Some),
    };
    for word in args.rest() {
        let a = Attr::of(word);
        match a.key {
            "max_active" => a.valued(&mut max_active, "max_active", parse_uint::<usize>)?,
            "policy" => a.valued(&mut policy, "policy", |v| match v {
                "fair" => Some(Policy::Fair),
                "legacy" => Some(Policy::Legacy),
                _ => None,
            })?,
            "retry_base" => a.valued(&mut retry_base, "retry_base", parse_duration)?,
            "max_retries" => a.valued(&mut max_retries, "max_retries", parse_uint::<u32>)?,
            "idle_timeout" => a.valued(&mut idle_timeout, "idle_timeout", parse_duration)?,
            "warn_percent" => a.valued(&mut warn, "warn_percent", parse_uint::<u8>)?,
            "auto_compact_percent" => {
                a.valued(&mut auto, "auto_compact_percent", parse_uint::<u8>)?
            }
            "notices" => a.valued(&mut notices, "notices", parse_on_off)?,
            "records" => a.valued(&mut records, "records", parse_on_off)?,
            "kill_grace" => a.valued(&mut kill_grace, "kill_grace", parse_duration)?,
            "max_turn_time" => a.valued(&mut max_turn, "max_turn_time", parse_duration)?,
            "max_compact_time" => a.valued(&mut max_compact, "max_compact_time", parse_duration)?,
            "max_run_time" => a.valued(&mut max_run, "max_run_time", optional)?,
            "stall_timeout" => a.valued(&mut stall, "stall_timeout", optional)?,
            "shutdown_grace" => a.valued(&mut shutdown_grace, "shutdown_grace", parse_duration)?,
            "start_grace" => a.valued(&mut start_grace, "start_grace", parse_duration)?,
            "evict_idle" => a.valued(&mut evict_idle, "evict_idle", parse_on_off)?,
            "max_queued_tasks" => a.valued(
                &mut max_queued_tasks,
                "max_queued_tasks",
                parse_uint::<usize>,
            )?,
            "max_group_tasks" => {
                a.valued(&mut max_group_tasks, "max_group_tasks", parse_uint::<usize>)?
            }
            "debounce_quiet" => a.valued(&mut quiet, "debounce_quiet", parse_duration)?,
            "debounce_max_wait" => a.valued(&mut max_wait, "debounce_max_wait", parse_duration)?,
            "breaker_fast_failure" => {
                a.valued(&mut fast_failure, "breaker_fast_failure", parse_duration)?
            }
            "breaker_groups" => {
                a.valued(&mut breaker_groups, "breaker_groups", parse_uint::<usize>)?
            }
            "breaker_window" => a.valued(&mut window, "breaker_window", parse_duration)?,
            "breaker_cooldown" => a.valued(&mut cooldown, "breaker_cooldown", parse_duration)?,
            "breaker_max_cooldown" => {
                a.valued(&mut max_cooldown, "breaker_max_cooldown", parse_duration)?
            }
            "background_aging" => a.valued(&mut aging, "background_aging", parse_uint::<u32>)?,
            "background_max_running" => a.valued(
                &mut max_background,
                "background_max_running",
                parse_uint::<usize>,
            )?,
            "background_skip_window" => {
                a.valued(&mut skip_window, "background_skip_window", parse_duration)?
            }
            key => return Err((word.column, ParseErrorKind::UnknownKey(excerpt(key)))),
        }
    }
    let mut c = Config::default();
    if let Some(v) = max_active {
        c = c.with_max_active(v);
    }
    if let Some(v) = policy {
        c = c.with_policy(v);
    }
    if let Some(v) = retry_base {
        c = c.with_retry_base(v);
    }
    if let Some(v) = max_retries {
        c = c.with_max_retries(v);
    }
    if let Some(v) = idle_timeout {
        c = c.with_idle_timeout(v);
    }
    if let Some(v) = warn {
        c = c.with_warn_percent(v);
    }
    if let Some(v) = auto {
        c = c.with_auto_compact_percent(v);
    }
    if let Some(v) = notices {
        c = c.with_notices(v);
    }
    if let Some(v) = records {
        c = c.with_records(v);
    }
    if let Some(v) = kill_grace {
        c = c.with_kill_grace(v);
    }
    if let Some(v) = max_turn {
        c = c.with_max_turn_time(v);
    }
    if let Some(v) = max_compact {
        c = c.with_max_compact_time(v);
    }
    if let Some(v) = max_run {
        c = c.with_max_run_time(v);
    }
    if let Some(v) = stall {
        c = c.with_stall_timeout(v);
    }
    if let Some(v) = shutdown_grace {
        c = c.with_shutdown_grace(v);
    }
    if let Some(v) = start_grace {
        c = c.with_start_grace(v);
    }
    if let Some(v) = evict_idle {
        c = c.with_evict_idle(v);
    }
    c = c
        .with_max_queued_tasks(max_queued_tasks)
        .with_max_group_tasks(max_group_tasks);
    // Debounce: the quiet period alone also caps the wait at it.
    if let Some(quiet) = quiet {
        c = c.with_debounce(Some(Debounce::new(quiet, max_wait.unwrap_or(quiet))));
    }
    // Breaker: on when any of its keys is given; the rest its defaults.
    if [fast_failure, window, cooldown, max_cooldown]
        .iter()
        .any(Option::is_some)
        || breaker_groups.is_some()
    {
        let d = Breaker::default();
        c = c.with_breaker(Some(
            d.with_fast_failure(fast_failure.unwrap_or(d.fast_failure))
                .with_threshold(
                    breaker_groups.unwrap_or(d.groups),
                    window.unwrap_or(d.window),
                )
                .with_cooldown(
                    cooldown.unwrap_or(d.cooldown),
                    max_cooldown.unwrap_or(d.max_cooldown),
                ),
        ));
    }
    let d = Background::default();
    c = c.with_background(
        d.with_aging(aging.unwrap_or(d.aging))
            .with_max_running(max_background)
            .with_skip_window(skip_window),
    );
    Ok(c)
}

fn parse_on_off(s: &str) -> Option<bool> {
    match s {
        "on" => Some(true),
        "off" => Some(false),
        _ => None,
    }
}

/// Decimal digits only (no sign, no spaces), within the type's range.
fn parse_uint<N: std::str::FromStr>(s: &str) -> Option<N> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `15ms`, `15.000250ms`, `2s`, `2.5s` → nanoseconds.
pub(super) fn time(s: &str) -> Option<u128> {
    let (number, unit, max_fraction) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1_000_000u128, 6)
    } else {
        (s.strip_suffix('s')?, 1_000_000_000u128, 9)
    };
    let (whole, fraction) = match number.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (number, None),
    };
    let mut nanos = parse_uint::<u128>(whole)?.checked_mul(unit)?;
    if let Some(fraction) = fraction {
        if fraction.is_empty() || fraction.len() > max_fraction {
            return None;
        }
        let digits = parse_uint::<u128>(fraction)?;
        let scale = 10u128.pow(u32::try_from(max_fraction - fraction.len()).ok()?);
        // 9 fraction digits of seconds or 6 of milliseconds are nanoseconds.
        nanos = nanos.checked_add(digits * scale)?;
    }
    Some(nanos)
}

fn parse_duration(s: &str) -> Option<Duration> {
    let nanos = time(s)?;
    let secs = u64::try_from(nanos / 1_000_000_000).ok()?;
    let sub = u32::try_from(nanos % 1_000_000_000).ok()?;
    Some(Duration::new(secs, sub))
}
