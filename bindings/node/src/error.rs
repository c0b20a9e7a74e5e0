//! Why a call was refused: the core's errors and bad arguments, each with
//! a code (returned negated) and its details (written to the buffer). The
//! TypeScript layer turns them into typed JavaScript errors.

use std::fmt;

use groupq::{ConfigError, Error};

use crate::args::millis;

/// A refused call.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Refusal {
    /// The core's error.
    Core(Error),
    /// Argument `n` (0 is `now`) is not a number this call takes.
    BadArgument(u8),
    /// `now` is not a time: NaN, negative, infinite or past what the core
    /// holds.
    BadTime,
    /// Configuration slot `n` holds a value the setting cannot take.
    BadSetting(u8),
}

impl From<Error> for Refusal {
    fn from(e: Error) -> Refusal {
        Refusal::Core(e)
    }
}

impl Refusal {
    /// The code, positive (a call returns it negated).
    pub fn code(&self) -> u8 {
        match self {
            Refusal::Core(Error::UnknownRun(_)) => 1,
            Refusal::Core(Error::StaleRun(_)) => 2,
            Refusal::Core(Error::ShutDown) => 3,
            Refusal::Core(Error::TimeWentBackwards { .. }) => 4,
            Refusal::Core(Error::WorkMismatch(_)) => 5,
            Refusal::Core(Error::InvalidConfig(_)) => 6,
            Refusal::BadTime => 7,
            Refusal::BadArgument(_) => 8,
            Refusal::BadSetting(_) => 9,
            // An error of a later core: the TypeScript layer reports it
            // by its message.
            Refusal::Core(_) => 10,
        }
    }

    /// The details, as buffer words: the run (1, 2, 5), now and last in
    /// milliseconds (4), the configuration error's kind, the field (0
    /// warn, 1 auto-compact) and the value (6), the argument or slot (8,
    /// 9).
    pub fn details(&self, out: &mut Vec<f64>) {
        match self {
            Refusal::Core(Error::UnknownRun(r) | Error::StaleRun(r) | Error::WorkMismatch(r)) => {
                out.push(r.get() as f64)
            }
            Refusal::Core(Error::TimeWentBackwards { now, last }) => {
                out.extend([millis(*now), millis(*last)])
            }
            Refusal::Core(Error::InvalidConfig(c)) => out.extend(config_details(c)),
            Refusal::BadArgument(n) | Refusal::BadSetting(n) => out.push(f64::from(*n)),
            _ => {}
        }
    }
}

fn config_details(c: &ConfigError) -> [f64; 3] {
    match c {
        ConfigError::ZeroMaxActive => [1.0, 0.0, 0.0],
        ConfigError::ZeroRetryBase => [2.0, 0.0, 0.0],
        ConfigError::PercentOutOfRange { field, value } => {
            let field = if *field == "warn_percent" { 0.0 } else { 1.0 };
            [3.0, field, f64::from(*value)]
        }
        ConfigError::InvalidDebounce(_) => [4.0, 0.0, 0.0],
        ConfigError::InvalidBreaker(_) => [5.0, 0.0, 0.0],
        ConfigError::InvalidBackground(_) => [6.0, 0.0, 0.0],
        _ => [0.0, 0.0, 0.0],
    }
}

/// `"<code>:<details, comma-separated>:<message>"`: how a constructor
/// throws.
impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut details = Vec::new();
        self.details(&mut details);
        // Integers only (slot numbers, kinds, percentages): no float formatting.
        let details: Vec<String> = details.iter().map(|d| (*d as i64).to_string()).collect();
        let message = match self {
            Refusal::Core(e) => e.to_string(),
            Refusal::BadArgument(n) => format!("argument {n} is not a valid number"),
            Refusal::BadTime => "not a time".to_string(),
            Refusal::BadSetting(n) => format!("setting {n} holds an invalid value"),
        };
        write!(f, "{}:{}:{message}", self.code(), details.join(","))
    }
}
