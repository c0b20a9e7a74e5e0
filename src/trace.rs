//! Replayable traces: a plain-text, line-per-input record of what a machine
//! was told, with its [`Config`].
//!
//! A trace is pleasant to write by hand, to diff and to commit: one input per
//! line, the time first, group keys, task ids and payloads as strings.
//!
//! ```text
//! # A comment. Blank lines are ignored too.
//! config max_active=2 policy=fair retry_base=5000ms idle_timeout=1800000ms
//! 0ms message chat-a
//! 0ms task chat-a t1 "weekly report"
//! 10ms pipe chat-a
//! 15ms idle run#1
//! 20ms output run#1 ok replied delivered percent=80 tokens=1600 limit=2000
//! 30ms exited run#1 clean      # a comment may also end a line
//! 5030ms timeout
//! 6000ms shutdown
//! ```
//!
//! # Syntax
//!
//! - **Lines** are separated by `\n` (a `\r` before it is ignored). Words
//!   are separated by whitespace. A word starting with `#` (outside quotes)
//!   starts a comment that runs to the end of the line.
//! - **Config line**: `config key=value ...`, at most once, before the first
//!   step. Keys (any subset, in any order; missing keys keep
//!   [`Config::default`]): `max_active`, `policy` (`fair` or `legacy`),
//!   `retry_base`, `max_retries`, `idle_timeout`, `warn_percent`,
//!   `auto_compact_percent`, `notices` (`on` or `off`), `records` (`on` or
//!   `off`). Without a config line the trace uses [`Config::default`]. The
//!   config is not validated here: replaying an invalid one fails instead.
//! - **Times and durations**: whole or fractional milliseconds or seconds,
//!   as [`Time`]'s `Display` prints them: `1500ms`, `1500.000250ms`, `1.5s`
//!   (at most nanosecond precision).
//! - **Steps**: `<time> <input> <arguments>`:
//!
//!   | line | input |
//!   |---|---|
//!   | `5ms message <group>` | [`Input::Message`] |
//!   | `5ms task <group> <id> [<payload>]` | [`Input::Task`] (payload defaults to empty) |
//!   | `5ms pipe <group>` | [`Input::Pipe`] |
//!   | `5ms idle run#<n>` | [`Input::Idle`] |
//!   | `5ms output run#<n> <attributes>` | [`Input::TurnOutput`] |
//!   | `5ms exited run#<n> clean` (or `failed`) | [`Input::Exited`] |
//!   | `5ms timeout` | [`Input::Timeout`] |
//!   | `5ms shutdown` | [`Input::Shutdown`] |
//!
//!   Turn output attributes, in any order: the status `ok` or `error`
//!   (required); flags `replied`, `delivered`; context statistics
//!   `percent=<n>`, `tokens=<n>`, `limit=<n>`, flag `compact_recommended`
//!   (any of them makes the context present; the bare flag `context` marks
//!   statistics that are present but empty); `compaction=auto` or
//!   `compaction=manual`, optionally with the tokens before it:
//!   `compaction=auto:150000`.
//! - **Strings** (groups, ids, payloads) are written bare when they are
//!   non-empty, contain no whitespace, control character, `"` or `\`, and
//!   do not start with `#`. Otherwise they are quoted: `"two words"`, `""`,
//!   with the escapes `\"`, `\\`, `\n`, `\r`, `\t` and `\u{1f600}` (one to
//!   six hex digits). Any string round-trips. Quoting only groups
//!   characters: `"0ms" "timeout"` means `0ms timeout`.
//!
//! The printer ([`Trace`]'s `Display`) writes the full config line and one
//! canonical line per step, so `Trace::parse(&trace.to_string())` gives the
//! trace back for every trace. Comments are not kept.
//!
//! # Example
//!
//! ```
//! use groupq::trace::Trace;
//! use groupq::{Config, Input, Time};
//!
//! let trace = Trace::parse(
//!     "config max_active=1\n\
//!      0ms message \"chat a\"\n\
//!      1.5ms task \"chat a\" t1 \"say \\\"hi\\\"\"\n",
//! )?;
//! assert_eq!(trace.config, Config::default().with_max_active(1));
//! assert_eq!(trace.steps[1].now, Time::from_nanos(1_500_000));
//! assert_eq!(
//!     trace.steps[1].input,
//!     Input::Task {
//!         group: "chat a".to_string(),
//!         id: "t1".to_string(),
//!         payload: "say \"hi\"".to_string(),
//!     }
//! );
//! // Printing gives canonical text that parses back to the same trace.
//! let text = trace.to_string();
//! assert!(text.contains("1.500000ms task \"chat a\" t1 \"say \\\"hi\\\"\""));
//! assert_eq!(Trace::parse(&text)?, trace);
//!
//! // Replay through the machine and the invariant checker.
//! let mut transcript = String::new();
//! groupq::trace::replay(&trace, &mut transcript)?;
//! assert!(transcript.contains("spawn run#1 \"chat a\" messages"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt::{self, Write as _};
use std::time::Duration;

use thiserror::Error;

use crate::check::{Checker, Violation};
use crate::config::{Config, Policy};
use crate::error::Error;
use crate::group::RunState;
use crate::input::{
    Compaction, CompactionTrigger, ContextStats, Exit, Input, Response, RunId, TurnOutput,
    TurnStatus,
};
use crate::machine::Machine;
use crate::output::{CloseReason, Command, Dropped, Notice, Output, Pending, Record, Work};
use crate::report::ShutdownReport;
use crate::time::Time;

/// A parsed trace: the configuration and the inputs, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trace {
    /// The machine's configuration (the `config` line, or the default).
    pub config: Config,
    /// The inputs, one per step line.
    pub steps: Vec<Step>,
}

/// One input of a trace, with its time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// When the input happened.
    pub now: Time,
    /// The input; group keys, task ids and payloads are strings.
    pub input: Input<String, String, String>,
}

/// A trace that could not be parsed: where, and why.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("line {line}, column {column}: {kind}")]
pub struct ParseError {
    /// The line, from 1.
    pub line: usize,
    /// The column, from 1, counted in Unicode scalar values (`char`s).
    pub column: usize,
    /// What is wrong.
    pub kind: ParseErrorKind,
}

/// Why a trace could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// A quoted string has no closing `"` on its line.
    #[error("unterminated string")]
    UnterminatedString,
    /// An unknown or malformed escape in a quoted string.
    #[error("invalid escape `{0}` (use \\\", \\\\, \\n, \\r, \\t or \\u{{hex}})")]
    InvalidEscape(String),
    /// A `"` in the middle of an unquoted word.
    #[error("a quote inside an unquoted word (quote the whole string)")]
    StrayQuote,
    /// A closing `"` is followed by something other than whitespace.
    #[error("expected whitespace after the closing quote")]
    MissingSpace,
    /// Not a time such as `15ms`, `15.5ms` or `2s`, or too large.
    #[error("invalid time `{0}` (expected e.g. 15ms, 15.000250ms or 2s)")]
    InvalidTime(String),
    /// The word after the time names no input.
    #[error("unknown input `{0}` (expected message, task, pipe, idle, output, exited, timeout or shutdown)")]
    UnknownInput(String),
    /// The line ended where an argument was expected.
    #[error("missing {0}")]
    MissingArgument(&'static str),
    /// A word after the last argument of the input.
    #[error("unexpected argument `{0}`")]
    UnexpectedArgument(String),
    /// Not a run id such as `run#3`.
    #[error("invalid run id `{0}` (expected e.g. run#3)")]
    InvalidRun(String),
    /// A config key or turn output attribute that does not exist.
    #[error("unknown key `{0}`")]
    UnknownKey(String),
    /// A config key or turn output attribute given twice.
    #[error("`{0}` given twice")]
    DuplicateKey(&'static str),
    /// A value that does not fit its key.
    #[error("invalid value `{value}` for `{key}`")]
    InvalidValue {
        /// The key.
        key: &'static str,
        /// The value as written (empty when it was missing).
        value: String,
    },
    /// A second `config` line.
    #[error("a second config line")]
    DuplicateConfig,
    /// A `config` line after the first step.
    #[error("the config line must come before the first step")]
    ConfigAfterSteps,
}

impl Trace {
    /// Parses a trace. Never panics, whatever the text.
    pub fn parse(text: &str) -> Result<Trace, ParseError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut config: Option<Config> = None;
        let mut steps = Vec::new();
        for (index, raw) in text.split('\n').enumerate() {
            let line = index + 1;
            let raw = raw.strip_suffix('\r').unwrap_or(raw);
            let at = |(column, kind)| ParseError { line, column, kind };
            let (words, end) = lex(raw).map_err(at)?;
            let Some(first) = words.first() else {
                continue;
            };
            let mut args = Args {
                words: &words,
                next: 1,
                end,
            };
            if first.text == "config" {
                if config.is_some() {
                    return Err(at((first.column, ParseErrorKind::DuplicateConfig)));
                }
                if !steps.is_empty() {
                    return Err(at((first.column, ParseErrorKind::ConfigAfterSteps)));
                }
                config = Some(parse_config(&mut args).map_err(at)?);
            } else {
                let now = parse_time(&first.text)
                    .and_then(|n| u64::try_from(n).ok())
                    .map(Time::from_nanos)
                    .ok_or_else(|| {
                        at((
                            first.column,
                            ParseErrorKind::InvalidTime(first.text.clone()),
                        ))
                    })?;
                let input = parse_input(&mut args).map_err(at)?;
                steps.push(Step { now, input });
            }
        }
        Ok(Trace {
            config: config.unwrap_or_default(),
            steps,
        })
    }
}

impl Step {
    /// A step from an input with any key, id and payload types that print
    /// with `Display`: how a recorded or fuzzed input sequence becomes a
    /// trace. The replay behaves the same as long as distinct values print
    /// differently (as integers and strings do).
    ///
    /// ```
    /// use groupq::trace::{Step, Trace};
    /// use groupq::{Config, Input, Time};
    ///
    /// let recorded: Vec<(Time, Input<u8, u32, u16>)> = vec![
    ///     (Time::ZERO, Input::Message { group: 3 }),
    ///     (Time::from_millis(5), Input::Task { group: 3, id: 7, payload: 42 }),
    /// ];
    /// let trace = Trace {
    ///     config: Config::default(),
    ///     steps: recorded.iter().map(|(now, i)| Step::from_input(*now, i)).collect(),
    /// };
    /// assert!(trace.to_string().ends_with("0ms message 3\n5ms task 3 7 42\n"));
    /// ```
    pub fn from_input<K, T, P>(now: Time, input: &Input<K, T, P>) -> Step
    where
        K: fmt::Display,
        T: fmt::Display,
        P: fmt::Display,
    {
        let input = input.map(
            ToString::to_string,
            ToString::to_string,
            ToString::to_string,
        );
        Step { now, input }
    }
}

impl std::str::FromStr for Trace {
    type Err = ParseError;
    fn from_str(text: &str) -> Result<Trace, ParseError> {
        Trace::parse(text)
    }
}

/// Prints the full config line, then one canonical line per step.
impl fmt::Display for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        writeln!(
            f,
            "config max_active={} policy={} retry_base={} max_retries={} idle_timeout={} \
             warn_percent={} auto_compact_percent={} notices={} records={}",
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
        )?;
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
            Input::Pipe { group } => write!(f, "pipe {}", Str(group)),
            Input::Idle { run } => write!(f, "idle {run}"),
            Input::TurnOutput { run, output } => {
                write!(f, "output {run}")?;
                write_turn_output(f, output)
            }
            Input::Exited { run, exit } => write!(
                f,
                "exited {run} {}",
                match exit {
                    Exit::Clean => "clean",
                    Exit::Failed => "failed",
                }
            ),
            Input::Timeout => write!(f, "timeout"),
            Input::Shutdown => write!(f, "shutdown"),
        }
    }
}

fn write_turn_output(f: &mut fmt::Formatter<'_>, o: &TurnOutput) -> fmt::Result {
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
struct Dur(Duration);

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

/// A string, bare when it can be, else quoted with escapes.
struct Str<'a>(&'a str);

impl Str<'_> {
    fn is_bare(s: &str) -> bool {
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

// ---- lexing ------------------------------------------------------------

/// A word of a line, unquoted and unescaped.
struct Word {
    text: String,
    /// Column of its first character, from 1.
    column: usize,
}

type Located<T> = Result<T, (usize, ParseErrorKind)>;

/// Splits a line into words; returns them and the column just past the
/// last one (where a missing argument is reported).
fn lex(line: &str) -> Located<(Vec<Word>, usize)> {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    let mut column = 0; // column of the last char taken
    let mut end = 1;
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            column += 1;
            continue;
        }
        if c == '#' {
            break; // a comment runs to the end of the line
        }
        let start = column + 1;
        let mut text = String::new();
        if c == '"' {
            chars.next();
            column += 1;
            loop {
                let Some(c) = chars.next() else {
                    return Err((start, ParseErrorKind::UnterminatedString));
                };
                column += 1;
                match c {
                    '"' => break,
                    '\\' => {
                        let escape_at = column;
                        let (c, width) = unescape(&mut chars).map_err(|e| (escape_at, e))?;
                        column += width;
                        text.push(c);
                    }
                    c => text.push(c),
                }
            }
            if chars.peek().is_some_and(|c| !c.is_whitespace()) {
                return Err((column + 1, ParseErrorKind::MissingSpace));
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                chars.next();
                column += 1;
                if c == '"' {
                    return Err((column, ParseErrorKind::StrayQuote));
                }
                text.push(c);
            }
        }
        end = column + 1;
        words.push(Word {
            text,
            column: start,
        });
    }
    Ok((words, end))
}

/// Reads an escape after its backslash; returns the char and how many
/// chars the escape took after the backslash.
fn unescape(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
) -> Result<(char, usize), ParseErrorKind> {
    let bad = |s: &str| ParseErrorKind::InvalidEscape(format!("\\{s}"));
    let Some(c) = chars.next() else {
        return Err(bad(""));
    };
    let simple = match c {
        '"' => Some('"'),
        '\\' => Some('\\'),
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        _ => None,
    };
    if let Some(s) = simple {
        return Ok((s, 1));
    }
    if c != 'u' {
        return Err(bad(&c.to_string()));
    }
    let mut seen = String::from("u");
    if chars.peek() != Some(&'{') {
        return Err(bad(&seen));
    }
    chars.next();
    seen.push('{');
    let mut hex = String::new();
    loop {
        match chars.next() {
            Some('}') => {
                seen.push('}');
                break;
            }
            Some(c) if c.is_ascii_hexdigit() && hex.len() < 6 => {
                hex.push(c);
                seen.push(c);
            }
            Some(c) => {
                seen.push(c);
                return Err(bad(&seen));
            }
            None => return Err(bad(&seen)),
        }
    }
    u32::from_str_radix(&hex, 16)
        .ok()
        .and_then(char::from_u32)
        .map(|c| (c, seen.chars().count()))
        .ok_or_else(|| bad(&seen))
}

// ---- parsing -----------------------------------------------------------

/// The words of one line after the first, consumed in order.
struct Args<'a> {
    words: &'a [Word],
    next: usize,
    end: usize,
}

impl<'a> Args<'a> {
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
            Some(w) => Err((w.column, ParseErrorKind::UnexpectedArgument(w.text.clone()))),
            None => Ok(()),
        }
    }
}

fn parse_input(args: &mut Args<'_>) -> Located<Input<String, String, String>> {
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
        "pipe" => Input::Pipe {
            group: args.next(GROUP)?.text.clone(),
        },
        "idle" => Input::Idle {
            run: parse_run(args.next(RUN)?)?,
        },
        "output" => Input::TurnOutput {
            run: parse_run(args.next(RUN)?)?,
            output: parse_turn_output(args)?,
        },
        "exited" => Input::Exited {
            run: parse_run(args.next(RUN)?)?,
            exit: {
                let w = args.next("how the run exited, clean or failed")?;
                match w.text.as_str() {
                    "clean" => Exit::Clean,
                    "failed" => Exit::Failed,
                    _ => return Err(invalid(w, "exit", &w.text)),
                }
            },
        },
        "timeout" => Input::Timeout,
        "shutdown" => Input::Shutdown,
        _ => return Err((name.column, ParseErrorKind::UnknownInput(name.text.clone()))),
    };
    args.finish()?;
    Ok(input)
}

fn invalid(w: &Word, key: &'static str, value: &str) -> (usize, ParseErrorKind) {
    (
        w.column,
        ParseErrorKind::InvalidValue {
            key,
            value: value.to_string(),
        },
    )
}

fn parse_run(w: &Word) -> Located<RunId> {
    w.text
        .strip_prefix("run#")
        .and_then(parse_uint::<u64>)
        .map(RunId::new)
        .ok_or_else(|| (w.column, ParseErrorKind::InvalidRun(w.text.clone())))
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

fn parse_turn_output(args: &mut Args<'_>) -> Located<TurnOutput> {
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
            key => return Err((word.column, ParseErrorKind::UnknownKey(key.to_string()))),
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
    Ok(TurnOutput {
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

fn parse_config(args: &mut Args<'_>) -> Located<Config> {
    let (mut max_active, mut policy, mut retry_base, mut max_retries) = (None, None, None, None);
    let (mut idle_timeout, mut warn, mut auto) = (None, None, None);
    let (mut notices, mut records) = (None, None);
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
            key => return Err((word.column, ParseErrorKind::UnknownKey(key.to_string()))),
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
fn parse_time(s: &str) -> Option<u128> {
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
    let nanos = parse_time(s)?;
    let secs = u64::try_from(nanos / 1_000_000_000).ok()?;
    let sub = u32::try_from(nanos % 1_000_000_000).ok()?;
    Some(Duration::new(secs, sub))
}

// ---- replay ------------------------------------------------------------

/// Why [`replay`] stopped.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// The trace's configuration is invalid; no machine could be built.
    #[error("cannot build the machine: {0}")]
    Config(#[source] Error),
    /// The machine broke an invariant; the transcript ends with the step.
    #[error("`{step}` broke an invariant: {violation}")]
    Violation {
        /// Index of the step in [`Trace::steps`], from 0.
        index: usize,
        /// The step.
        step: Step,
        /// What the checker found.
        violation: Box<Violation<String, String>>,
    },
    /// The transcript could not be written.
    #[error("writing the transcript failed")]
    Write(#[from] fmt::Error),
}

/// Replays `trace` through a [`Machine`] and the invariant
/// [`Checker`], writing a transcript to `out`, and
/// returns the machine as the trace left it.
///
/// For each step the transcript has the step's line, then indented: the
/// machine's answer (`accepted`, `deduplicated`, `piped run#1`, the
/// shutdown report, or `rejected: <error>`), every command and record in
/// order, and the next deadline (`wake-at 5030ms` or `wake-at none`). A
/// rejected input is not a failure: traces may hold illegal inputs, and the
/// checker verifies that the rejection was right and changed nothing. The
/// transcript is deterministic, so it can be committed as a golden file.
pub fn replay<W: fmt::Write>(
    trace: &Trace,
    out: &mut W,
) -> Result<Machine<String, String, String>, ReplayError> {
    let mut machine = Machine::new(trace.config.clone()).map_err(ReplayError::Config)?;
    let mut checker = Checker::new(&trace.config);
    let mut outputs = Vec::new();
    for (index, step) in trace.steps.iter().enumerate() {
        writeln!(out, "{step}")?;
        let result = machine.handle(step.now, step.input.clone());
        outputs.clear();
        let wake_at = loop {
            match machine.poll() {
                Output::WakeAt(at) => break at,
                o => outputs.push(o),
            }
        };
        match &result {
            Ok(response) => write_response(out, response)?,
            Err(e) => writeln!(out, "  rejected: {e}")?,
        }
        for o in &outputs {
            writeln!(out, "  {}", ShowOutput(o))?;
        }
        match wake_at {
            Some(at) => writeln!(out, "  wake-at {at}")?,
            None => writeln!(out, "  wake-at none")?,
        }
        if let Err(violation) = checker.step(step.now, &step.input, &result, &outputs) {
            return Err(ReplayError::Violation {
                index,
                step: step.clone(),
                violation: Box::new(violation),
            });
        }
    }
    Ok(machine)
}

fn write_response<W: fmt::Write>(
    out: &mut W,
    response: &Response<String, String, String>,
) -> fmt::Result {
    match response {
        Response::Accepted => writeln!(out, "  accepted"),
        Response::Deduplicated => writeln!(out, "  deduplicated"),
        Response::Piped(run) => writeln!(out, "  piped {run}"),
        Response::ShutDown(report) => write_report(out, report),
    }
}

fn write_report<W: fmt::Write>(
    out: &mut W,
    report: &ShutdownReport<String, String, String>,
) -> fmt::Result {
    writeln!(out, "  shut-down")?;
    for g in &report.groups {
        let group = Str(&g.group);
        for job in &g.jobs {
            writeln!(out, "    pending {group} {}", ShowWork(job))?;
        }
        if g.message_check {
            writeln!(out, "    pending {group} message-check")?;
        }
        if let Some((attempt, at)) = g.retry {
            writeln!(out, "    pending {group} retry attempt={attempt} at={at}")?;
        }
        if g.compact_pending {
            writeln!(out, "    pending {group} compact-pending")?;
        }
    }
    for r in &report.live_runs {
        let state = match r.state {
            RunState::Busy => "busy",
            RunState::IdleWaiting => "idle-waiting",
            RunState::Closing => "closing",
        };
        let kind = match r.kind {
            crate::output::WorkKind::Messages => "messages",
            crate::output::WorkKind::Task => "task",
            crate::output::WorkKind::Compact => "compact",
        };
        writeln!(out, "    live {} {} {kind} {state}", r.run, Str(&r.group))?;
    }
    Ok(())
}

struct ShowWork<'a>(&'a Work<String, String>);

impl fmt::Display for ShowWork<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Work::Messages => f.write_str("messages"),
            Work::Task { id, payload } => write!(f, "task {} {}", Str(id), Str(payload)),
            Work::Compact => f.write_str("compact"),
        }
    }
}

struct ShowOutput<'a>(&'a Output<String, String, String>);

impl fmt::Display for ShowOutput<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Output::Command(c) => match c {
                Command::Spawn { run, group, work } => {
                    write!(f, "spawn {run} {} {}", Str(group), ShowWork(work))
                }
                Command::CloseInput { run, reason } => write!(
                    f,
                    "close {run} {}",
                    match reason {
                        CloseReason::Preempt => "preempt",
                        CloseReason::IdleTimeout => "idle-timeout",
                    }
                ),
                Command::Notify { group, notice } => {
                    write!(f, "notify {} ", Str(group))?;
                    match notice {
                        Notice::ContextWarning { percent } => {
                            write!(f, "context-warning percent={percent}")
                        }
                        Notice::AutoCompacted {
                            tokens_before: Some(t),
                        } => write!(f, "auto-compacted tokens_before={t}"),
                        Notice::AutoCompacted {
                            tokens_before: None,
                        } => write!(f, "auto-compacted"),
                    }
                }
                Command::RollbackCursor { group } => write!(f, "rollback-cursor {}", Str(group)),
                Command::RecordCompaction { group } => {
                    write!(f, "record-compaction {}", Str(group))
                }
                Command::TerminalFailure { group } => {
                    write!(f, "terminal-failure {}", Str(group))
                }
            },
            Output::Record(r) => {
                f.write_str("record ")?;
                match r {
                    Record::Queued { group, what } => {
                        write!(f, "queued {} ", Str(group))?;
                        match what {
                            Pending::MessageCheck => f.write_str("message-check"),
                            Pending::Task(id) => write!(f, "task {}", Str(id)),
                            Pending::Compact => f.write_str("compact"),
                        }
                    }
                    Record::Deduplicated { group, id } => {
                        write!(f, "deduplicated {} {}", Str(group), Str(id))
                    }
                    Record::Waiting { group, ahead } => {
                        write!(f, "waiting {} ahead={ahead}", Str(group))
                    }
                    Record::Drained { group, run } => write!(f, "drained {} {run}", Str(group)),
                    Record::RetryScheduled { group, attempt, at } => write!(
                        f,
                        "retry-scheduled {} attempt={attempt} at={at}",
                        Str(group)
                    ),
                    Record::RetriesExhausted { group } => {
                        write!(f, "retries-exhausted {}", Str(group))
                    }
                    Record::TaskFailed { group, run, id } => {
                        write!(f, "task-failed {} {run} {}", Str(group), Str(id))
                    }
                    Record::Dropped { group, what } => write!(
                        f,
                        "dropped {} {}",
                        Str(group),
                        match what {
                            Dropped::Retry => "retry",
                            Dropped::Compact => "compact",
                        }
                    ),
                }
            }
            Output::WakeAt(Some(at)) => write!(f, "wake-at {at}"),
            Output::WakeAt(None) => f.write_str("wake-at none"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn step(ms: u64, input: Input<String, String, String>) -> Step {
        Step {
            now: Time::from_millis(ms),
            input,
        }
    }

    fn s(x: &str) -> String {
        x.to_string()
    }

    fn round_trip(trace: &Trace) -> Trace {
        let text = trace.to_string();
        Trace::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    const AWKWARD: &[&str] = &[
        "",
        " ",
        "two words",
        "\"",
        "say \"hi\"",
        "\\",
        "C:\\path",
        "#",
        "#general",
        "a#b",
        "run#1",
        "config",
        "ok",
        "x=y",
        "é日本🎉",
        "\n\r\t",
        "\u{0}\u{1b}\u{7f}\u{85}",
        "\u{a0}nbsp",
        "line\u{2028}sep",
        "\u{feff}bom",
        "\\u{41}",
        " lead and trail ",
    ];

    #[test]
    fn awkward_strings_round_trip_in_every_position() {
        for &a in AWKWARD {
            let trace = Trace {
                config: Config::default(),
                steps: vec![
                    step(0, Input::Message { group: s(a) }),
                    step(
                        1,
                        Input::Task {
                            group: s(a),
                            id: s(a),
                            payload: s(a),
                        },
                    ),
                    step(2, Input::Pipe { group: s(a) }),
                ],
            };
            assert_eq!(round_trip(&trace), trace, "string {a:?}");
        }
    }

    #[test]
    fn plain_strings_print_bare_and_others_quoted() {
        assert_eq!(Str("chat-a").to_string(), "chat-a");
        assert_eq!(Str("a#b").to_string(), "a#b");
        assert_eq!(Str("é日本").to_string(), "é日本");
        assert_eq!(Str("").to_string(), "\"\"");
        assert_eq!(Str("#x").to_string(), "\"#x\"");
        assert_eq!(Str("a b").to_string(), "\"a b\"");
        assert_eq!(Str("q\"\\").to_string(), r#""q\"\\""#);
        assert_eq!(Str("\n\t\r\u{1b}").to_string(), r#""\n\t\r\u{1b}""#);
    }

    #[test]
    fn printer_writes_the_full_config_and_canonical_steps() {
        let trace = Trace {
            config: Config::default()
                .with_max_active(2)
                .with_retry_base(Duration::from_nanos(5_000_000_250)),
            steps: vec![
                step(0, Input::Message { group: s("chat-a") }),
                step(
                    0,
                    Input::Task {
                        group: s("chat-a"),
                        id: s("t1"),
                        payload: s(""),
                    },
                ),
                step(10, Input::Pipe { group: s("chat-a") }),
                step(15, Input::Idle { run: RunId::new(1) }),
                step(
                    20,
                    Input::TurnOutput {
                        run: RunId::new(1),
                        output: TurnOutput::delivered_reply()
                            .with_context(ContextStats {
                                tokens: Some(1600),
                                limit: Some(2000),
                                percent: Some(80),
                                compact_recommended: true,
                            })
                            .with_compaction(Compaction {
                                trigger: CompactionTrigger::Auto,
                                tokens_before: Some(1500),
                            }),
                    },
                ),
                step(
                    21,
                    Input::TurnOutput {
                        run: RunId::new(1),
                        output: TurnOutput::error().with_context(ContextStats::default()),
                    },
                ),
                step(
                    22,
                    Input::TurnOutput {
                        run: RunId::new(1),
                        output: TurnOutput::error().with_compaction(Compaction {
                            trigger: CompactionTrigger::Manual,
                            tokens_before: None,
                        }),
                    },
                ),
                step(
                    30,
                    Input::Exited {
                        run: RunId::new(1),
                        exit: Exit::Failed,
                    },
                ),
                Step {
                    now: Time::from_nanos(5_030_000_250),
                    input: Input::Timeout,
                },
                step(6000, Input::Shutdown),
            ],
        };
        let expected = "\
config max_active=2 policy=fair retry_base=5000.000250ms max_retries=5 idle_timeout=1800000ms warn_percent=70 auto_compact_percent=75 notices=on records=off
0ms message chat-a
0ms task chat-a t1 \"\"
10ms pipe chat-a
15ms idle run#1
20ms output run#1 ok replied delivered percent=80 tokens=1600 limit=2000 compact_recommended compaction=auto:1500
21ms output run#1 error context
22ms output run#1 error compaction=manual
30ms exited run#1 failed
5030.000250ms timeout
6000ms shutdown
";
        assert_eq!(trace.to_string(), expected);
        assert_eq!(Trace::parse(expected).unwrap(), trace);
    }

    #[test]
    fn hand_written_forms_parse() {
        let text = "\u{feff}# a comment\r\n\
                    \r\n\
                    config   records=on\tmax_active=3  # trailing comment\r\n\
                    \t1.5s message chat-a\n\
                    2s task chat-a t1\n\
                    2.000001ms output run#1 delivered percent=5 replied ok\n\
                    3ms exited run#1 clean#not-a-comment\n";
        let err = Trace::parse(text).unwrap_err();
        // `clean#not-a-comment` is one word: `#` starts a comment only at
        // the start of a word.
        assert_eq!(err.line, 7);
        assert_eq!(err.column, 18);
        let text = text.replace("clean#not-a-comment", "clean #a comment");
        let trace = Trace::parse(&text).unwrap();
        assert_eq!(
            trace.config,
            Config::default().with_records(true).with_max_active(3)
        );
        assert_eq!(
            trace.steps,
            vec![
                step(1500, Input::Message { group: s("chat-a") }),
                step(
                    2000,
                    Input::Task {
                        group: s("chat-a"),
                        id: s("t1"),
                        payload: s(""),
                    }
                ),
                Step {
                    now: Time::from_nanos(2_000_001),
                    input: Input::TurnOutput {
                        run: RunId::new(1),
                        output: TurnOutput::delivered_reply().with_context(ContextStats {
                            percent: Some(5),
                            ..ContextStats::default()
                        }),
                    },
                },
                step(
                    3,
                    Input::Exited {
                        run: RunId::new(1),
                        exit: Exit::Clean,
                    }
                ),
            ]
        );
    }

    #[test]
    fn quoting_never_changes_meaning() {
        assert_eq!(
            Trace::parse("\"0ms\" \"task\" g \"t1\" \"run#1\"").unwrap(),
            Trace::parse("0ms task g t1 run#1").unwrap()
        );
    }

    #[test]
    fn empty_text_is_the_default_config_without_steps() {
        assert_eq!(Trace::parse("").unwrap(), Trace::default());
        assert_eq!(
            Trace::parse("\n# only comments\n\n").unwrap(),
            Trace::default()
        );
        assert_eq!(Trace::parse("config").unwrap(), Trace::default());
    }

    #[test]
    fn times_parse_exactly_to_the_nanosecond_and_no_further() {
        for (text, nanos) in [
            ("0ms", 0),
            ("1500ms", 1_500_000_000),
            ("1500.000250ms", 1_500_000_250),
            ("1500.5ms", 1_500_500_000),
            ("0.000001ms", 1),
            ("2s", 2_000_000_000),
            ("2.000000001s", 2_000_000_001),
            ("007ms", 7_000_000),
            ("18446744073709.551615ms", u64::MAX),
        ] {
            let t = Trace::parse(&format!("{text} timeout")).unwrap();
            assert_eq!(t.steps[0].now, Time::from_nanos(nanos), "{text}");
        }
        for bad in [
            "1",
            "ms",
            "s",
            "1.ms",
            ".5ms",
            "1.0000001ms",
            "1.0000000001s",
            "+1ms",
            "-1ms",
            "1_000ms",
            "1e3ms",
            "1msx",
            "1 ms",
            "18446744073709.551616ms",
            "1min",
        ] {
            let err = Trace::parse(&format!("{bad} timeout")).unwrap_err();
            let word = bad.split(' ').next().unwrap();
            assert_eq!(err.kind, ParseErrorKind::InvalidTime(s(word)), "{bad}");
            assert_eq!((err.line, err.column), (1, 1));
        }
        let max = Time::MAX.to_string();
        let t = Trace::parse(&format!("{max} timeout")).unwrap();
        assert_eq!(t.steps[0].now, Time::MAX);
    }

    #[test]
    fn durations_round_trip_up_to_duration_max() {
        for d in [
            Duration::ZERO,
            Duration::from_nanos(1),
            Duration::from_millis(5000),
            Duration::new(u64::MAX, 999_999_999),
        ] {
            let trace = Trace {
                config: Config::default().with_retry_base(d).with_idle_timeout(d),
                steps: vec![],
            };
            assert_eq!(round_trip(&trace), trace, "{d:?}");
        }
        let err = Trace::parse("config retry_base=18446744073709551616s").unwrap_err();
        assert_eq!(
            err.kind,
            ParseErrorKind::InvalidValue {
                key: "retry_base",
                value: s("18446744073709551616s")
            }
        );
    }

    #[test]
    fn every_parse_error_kind_reports_its_line_and_column() {
        use ParseErrorKind as K;
        let cases: Vec<(&str, usize, usize, ParseErrorKind)> = vec![
            ("0ms message \"abc", 1, 13, K::UnterminatedString),
            ("0ms message \"a\\qb\"", 1, 15, K::InvalidEscape(s("\\q"))),
            ("0ms message \"a\\", 1, 15, K::InvalidEscape(s("\\"))),
            (
                "0ms message \"\\u{110000}\"",
                1,
                14,
                K::InvalidEscape(s("\\u{110000}")),
            ),
            (
                "0ms message \"\\u{1234567}\"",
                1,
                14,
                K::InvalidEscape(s("\\u{1234567")),
            ),
            ("0ms message \"\\u41\"", 1, 14, K::InvalidEscape(s("\\u"))),
            ("0ms message \"\\u{}\"", 1, 14, K::InvalidEscape(s("\\u{}"))),
            (
                "0ms message \"\\u{4x}\"",
                1,
                14,
                K::InvalidEscape(s("\\u{4x")),
            ),
            ("0ms message a\"b", 1, 14, K::StrayQuote),
            ("0ms message \"a\"b", 1, 16, K::MissingSpace),
            ("5 message a", 1, 1, K::InvalidTime(s("5"))),
            ("0ms frob a", 1, 5, K::UnknownInput(s("frob"))),
            ("0ms", 1, 4, K::MissingArgument("an input")),
            ("0ms message", 1, 12, K::MissingArgument("a group")),
            ("0ms task g", 1, 11, K::MissingArgument("a task id")),
            ("0ms idle", 1, 9, K::MissingArgument("a run id like run#1")),
            (
                "0ms exited run#1  ",
                1,
                17,
                K::MissingArgument("how the run exited, clean or failed"),
            ),
            (
                "0ms output run#1 replied",
                1,
                25,
                K::MissingArgument("a turn status, ok or error"),
            ),
            ("0ms timeout now", 1, 13, K::UnexpectedArgument(s("now"))),
            (
                "0ms task g t p extra",
                1,
                16,
                K::UnexpectedArgument(s("extra")),
            ),
            ("0ms idle 3", 1, 10, K::InvalidRun(s("3"))),
            ("0ms idle run#", 1, 10, K::InvalidRun(s("run#"))),
            ("0ms idle run#-1", 1, 10, K::InvalidRun(s("run#-1"))),
            (
                "0ms idle run#18446744073709551616",
                1,
                10,
                K::InvalidRun(s("run#18446744073709551616")),
            ),
            (
                "0ms output run#1 ok happy",
                1,
                21,
                K::UnknownKey(s("happy")),
            ),
            ("config speed=3", 1, 8, K::UnknownKey(s("speed"))),
            (
                "config max_active=2 max_active=3",
                1,
                21,
                K::DuplicateKey("max_active"),
            ),
            (
                "0ms output run#1 ok error",
                1,
                21,
                K::DuplicateKey("status"),
            ),
            (
                "0ms output run#1 ok replied replied",
                1,
                29,
                K::DuplicateKey("replied"),
            ),
            (
                "0ms output run#1 ok percent=high",
                1,
                21,
                K::InvalidValue {
                    key: "percent",
                    value: s("high"),
                },
            ),
            (
                "0ms output run#1 ok=1",
                1,
                18,
                K::InvalidValue {
                    key: "status",
                    value: s("1"),
                },
            ),
            (
                "0ms output run#1 ok replied=yes",
                1,
                21,
                K::InvalidValue {
                    key: "replied",
                    value: s("yes"),
                },
            ),
            (
                "0ms output run#1 ok compaction=later",
                1,
                21,
                K::InvalidValue {
                    key: "compaction",
                    value: s("later"),
                },
            ),
            (
                "0ms output run#1 ok compaction=auto:",
                1,
                21,
                K::InvalidValue {
                    key: "compaction",
                    value: s("auto:"),
                },
            ),
            (
                "0ms exited run#1 maybe",
                1,
                18,
                K::InvalidValue {
                    key: "exit",
                    value: s("maybe"),
                },
            ),
            (
                "config max_active",
                1,
                8,
                K::InvalidValue {
                    key: "max_active",
                    value: s(""),
                },
            ),
            (
                "config warn_percent=256",
                1,
                8,
                K::InvalidValue {
                    key: "warn_percent",
                    value: s("256"),
                },
            ),
            (
                "config policy=random",
                1,
                8,
                K::InvalidValue {
                    key: "policy",
                    value: s("random"),
                },
            ),
            (
                "config notices=yes",
                1,
                8,
                K::InvalidValue {
                    key: "notices",
                    value: s("yes"),
                },
            ),
            ("config\nconfig", 2, 1, K::DuplicateConfig),
            ("0ms timeout\n  config", 2, 3, K::ConfigAfterSteps),
            ("# c\n\n\t0ms  frob", 3, 7, K::UnknownInput(s("frob"))),
            (
                "0ms message \"日本\" x",
                1,
                18,
                K::UnexpectedArgument(s("x")),
            ),
            (
                "0ms timeout\r\n0ms frob\r\n",
                2,
                5,
                K::UnknownInput(s("frob")),
            ),
        ];
        for (text, line, column, kind) in cases {
            let err = Trace::parse(text).unwrap_err();
            assert_eq!(
                err,
                ParseError { line, column, kind },
                "text {text:?} gave {err}"
            );
        }
    }

    #[test]
    fn parse_errors_display_their_position() {
        let err = Trace::parse("0ms timeout\n0ms frob").unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 2, column 5: unknown input `frob` (expected message, task, pipe, idle, \
             output, exited, timeout or shutdown)"
        );
    }

    #[test]
    fn replay_writes_answers_commands_and_deadlines() {
        let trace = Trace::parse(
            "config max_active=1 records=on\n\
             0ms message a\n\
             1ms task \"b c\" t1 payload\n\
             2ms idle run#9\n\
             3ms output run#1 ok replied delivered\n\
             4ms exited run#1 clean\n",
        )
        .unwrap();
        let mut out = String::new();
        let machine = replay(&trace, &mut out).unwrap();
        let expected = "\
0ms message a
  accepted
  record queued a message-check
  spawn run#1 a messages
  wake-at none
1ms task \"b c\" t1 payload
  accepted
  record queued \"b c\" task t1
  record waiting \"b c\" ahead=0
  wake-at none
2ms idle run#9
  rejected: run#9 was never issued
  wake-at none
3ms output run#1 ok replied delivered
  accepted
  wake-at 1800003ms
4ms exited run#1 clean
  accepted
  spawn run#2 \"b c\" task t1 payload
  record drained \"b c\" run#2
  wake-at none
";
        assert_eq!(out, expected);
        assert_eq!(machine.stats().live_runs, 1);
    }

    #[test]
    fn replay_refuses_an_invalid_config() {
        let trace = Trace::parse("config max_active=0\n0ms message a").unwrap();
        let err = replay(&trace, &mut String::new()).unwrap_err();
        assert!(
            matches!(err, ReplayError::Config(Error::InvalidConfig(_))),
            "{err}"
        );
    }

    // ---- properties ----------------------------------------------------

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[a-c #\"\\\\=\n\r\t\u{0}é🎉\u{a0}\u{feff}]{0,6}",
            proptest::sample::select(AWKWARD).prop_map(s),
        ]
    }

    fn run() -> impl Strategy<Value = RunId> {
        any::<u64>().prop_map(RunId::new)
    }

    fn duration() -> impl Strategy<Value = Duration> {
        prop_oneof![
            (0u64..100_000).prop_map(Duration::from_millis),
            (any::<u64>(), 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
        ]
    }

    fn config() -> impl Strategy<Value = Config> {
        (
            (any::<usize>(), any::<bool>(), duration(), any::<u32>()),
            (
                duration(),
                any::<u8>(),
                any::<u8>(),
                any::<bool>(),
                any::<bool>(),
            ),
        )
            .prop_map(
                |((max_active, legacy, base, retries), (idle, warn, auto, notices, records))| {
                    Config::default()
                        .with_max_active(max_active)
                        .with_policy(if legacy { Policy::Legacy } else { Policy::Fair })
                        .with_retry_base(base)
                        .with_max_retries(retries)
                        .with_idle_timeout(idle)
                        .with_warn_percent(warn)
                        .with_auto_compact_percent(auto)
                        .with_notices(notices)
                        .with_records(records)
                },
            )
    }

    fn turn_output() -> impl Strategy<Value = TurnOutput> {
        let context = proptest::option::of(
            (
                proptest::option::of(any::<u64>()),
                proptest::option::of(any::<u64>()),
                proptest::option::of(any::<u32>()),
                any::<bool>(),
            )
                .prop_map(|(tokens, limit, percent, compact_recommended)| {
                    ContextStats {
                        tokens,
                        limit,
                        percent,
                        compact_recommended,
                    }
                }),
        );
        let compaction = proptest::option::of(
            (any::<bool>(), proptest::option::of(any::<u64>())).prop_map(|(auto, tokens)| {
                Compaction {
                    trigger: if auto {
                        CompactionTrigger::Auto
                    } else {
                        CompactionTrigger::Manual
                    },
                    tokens_before: tokens,
                }
            }),
        );
        (
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            context,
            compaction,
        )
            .prop_map(|(ok, replied, delivered, context, compaction)| TurnOutput {
                status: if ok {
                    TurnStatus::Success
                } else {
                    TurnStatus::Error
                },
                replied,
                delivered,
                context,
                compaction,
            })
    }

    fn input() -> impl Strategy<Value = Input<String, String, String>> {
        prop_oneof![
            text().prop_map(|group| Input::Message { group }),
            (text(), text(), text()).prop_map(|(group, id, payload)| Input::Task {
                group,
                id,
                payload
            }),
            text().prop_map(|group| Input::Pipe { group }),
            run().prop_map(|run| Input::Idle { run }),
            (run(), turn_output()).prop_map(|(run, output)| Input::TurnOutput { run, output }),
            (run(), any::<bool>()).prop_map(|(run, clean)| Input::Exited {
                run,
                exit: if clean { Exit::Clean } else { Exit::Failed },
            }),
            Just(Input::Timeout),
            Just(Input::Shutdown),
        ]
    }

    fn trace() -> impl Strategy<Value = Trace> {
        let step = (any::<u64>(), input()).prop_map(|(nanos, input)| Step {
            now: Time::from_nanos(nanos),
            input,
        });
        (config(), proptest::collection::vec(step, 0..12))
            .prop_map(|(config, steps)| Trace { config, steps })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn printed_traces_parse_back_to_themselves(t in trace()) {
            let text = t.to_string();
            let back = Trace::parse(&text);
            prop_assert_eq!(back.as_ref(), Ok(&t), "text:\n{}", text);
        }

        /// What the `trace` fuzz target checks: any text gives a typed
        /// error or a trace, and a trace prints to text giving it back.
        #[test]
        fn any_text_parses_or_errs_and_parsed_traces_round_trip(
            text in prop_oneof![
                any::<String>(),
                // A valid trace with one character inserted or removed.
                (trace(), any::<prop::sample::Index>(), any::<char>(), any::<bool>()).prop_map(
                    |(t, at, c, insert)| {
                        let mut chars: Vec<char> = t.to_string().chars().collect();
                        let i = at.index(chars.len());
                        if insert {
                            chars.insert(i, c);
                        } else {
                            chars.remove(i);
                        }
                        chars.into_iter().collect::<String>()
                    }
                ),
                "([0-9.ms]{1,6}|config|#)?( (message|task|idle|output|exited|ok|run#1|\
                  \"|\\\\u\\{41\\}|\\\\|[a-z=:0-9]{1,5}|[ \t\r\n#]))*",
            ]
        ) {
            if let Ok(t) = Trace::parse(&text) {
                let printed = t.to_string();
                prop_assert_eq!(Trace::parse(&printed), Ok(t), "printed:\n{}", printed);
            }
        }
    }
}
