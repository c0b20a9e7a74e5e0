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
//! 20ms turn run#1 ok replied delivered percent=80 tokens=1600 limit=2000
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
//!   `off`), `kill_grace`, `max_turn_time`, `max_compact_time`,
//!   `max_run_time` and `stall_timeout` (a duration or `off`),
//!   `shutdown_grace`, `start_grace`, `evict_idle` (`on` or `off`; the
//!   printer writes these two only when not at their default). Without a config line the trace uses [`Config::default`]. The
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
//!   | `5ms heartbeat run#<n>` | [`Input::Heartbeat`] |
//!   | `5ms cancel <group> <id>` | [`Input::Cancel`] |
//!   | `5ms pause <group>` / `5ms resume <group>` | [`Input::Pause`], [`Input::Resume`] |
//!   | `5ms close <group>` | [`Input::CloseRun`] |
//!   | `5ms turn run#<n> <attributes>` | [`Input::Turn`] |
//!   | `5ms exited run#<n> clean` (or `failed`, `fatal`, `retry_after=<duration>`) | [`Input::Exited`] |
//!   | `5ms never-launched run#<n> messages` (or `task <id> [<payload>]`, `compact`) | [`Input::NeverLaunched`] |
//!   | `5ms timeout` | [`Input::Timeout`] |
//!   | `5ms shutdown` | [`Input::Shutdown`] |
//!
//!   Turn report attributes, in any order: the status `ok` or `error`
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
//! use groupq_check::trace::Trace;
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
//! groupq_check::replay(&trace, &mut transcript)?;
//! assert!(transcript.contains("spawn run#1 \"chat a\" messages"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

use thiserror::Error;

use groupq::{Config, Input, Time};

mod lex;
mod parse;
mod print;
#[cfg(test)]
mod tests;

pub(crate) use print::{Dur, Str};

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
    #[error("unknown input `{0}` (expected message, task, pipe, idle, heartbeat, turn, exited, timeout, shutdown, cancel, pause, resume or close)")]
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
    /// A config key or turn report attribute that does not exist.
    #[error("unknown key `{0}`")]
    UnknownKey(String),
    /// A config key or turn report attribute given twice.
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
            let (words, end) = lex::lex(raw).map_err(at)?;
            let Some(first) = words.first() else {
                continue;
            };
            let mut args = parse::Args::new(&words, end);
            if first.text == "config" {
                if config.is_some() {
                    return Err(at((first.column, ParseErrorKind::DuplicateConfig)));
                }
                if !steps.is_empty() {
                    return Err(at((first.column, ParseErrorKind::ConfigAfterSteps)));
                }
                config = Some(parse::config(&mut args).map_err(at)?);
            } else {
                let now = parse::time(&first.text)
                    .and_then(|n| u64::try_from(n).ok())
                    .map(Time::from_nanos)
                    .ok_or_else(|| {
                        at((
                            first.column,
                            ParseErrorKind::InvalidTime(excerpt(&first.text)),
                        ))
                    })?;
                let input = parse::input(&mut args).map_err(at)?;
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
    /// use groupq_check::trace::{Step, Trace};
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

/// A token as quoted in a [`ParseError`]: whole when short, else its first
/// 40 characters and `…`, so that a huge bad token does not come back whole.
pub(crate) fn excerpt(token: &str) -> String {
    const MAX: usize = 40;
    match token.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &token[..cut]),
        None => token.to_string(),
    }
}
