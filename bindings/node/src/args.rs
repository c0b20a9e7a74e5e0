//! Arguments from JavaScript, checked: every number is an `f64` there, so
//! each is refused unless it is exactly what the core takes.

use std::time::Duration;

use groupq::{Compaction, CompactionTrigger, ContextStats, RunId, Time, TurnReport, TurnStatus};

use crate::error::Refusal;

/// The largest time in milliseconds the core holds (`u64` nanoseconds).
const MAX_MS: f64 = u64::MAX as f64 / 1e6;

/// A time in milliseconds from the host's epoch: finite, not negative,
/// within the core's range.
pub fn time(ms: f64) -> Result<Time, Refusal> {
    if !(0.0..MAX_MS).contains(&ms) {
        return Err(Refusal::BadTime);
    }
    Ok(Time::from_nanos((ms * 1e6).round() as u64))
}

/// A time in milliseconds.
pub fn millis(t: Time) -> f64 {
    t.as_nanos() as f64 / 1e6
}

/// A duration in milliseconds: finite and not negative, or `+Infinity`
/// (never).
pub fn duration(ms: f64) -> Option<Duration> {
    if ms == f64::INFINITY {
        return Some(Duration::MAX);
    }
    (ms.is_finite() && ms >= 0.0).then(|| Duration::from_nanos((ms * 1e6).round() as u64))
}

/// An id the TypeScript layer issued (a key, a task id, a payload):
/// an integer in `u32`. `arg` names the argument in the refusal.
pub fn id(v: f64, arg: u8) -> Result<u32, Refusal> {
    if v.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&v) {
        Ok(v as u32)
    } else {
        Err(Refusal::BadArgument(arg))
    }
}

/// A run id: an integer from 1, exactly representable.
pub fn run(v: f64, arg: u8) -> Result<RunId, Refusal> {
    if v.fract() == 0.0 && (1.0..=9_007_199_254_740_991.0).contains(&v) {
        Ok(RunId::new(v as u64))
    } else {
        Err(Refusal::BadArgument(arg))
    }
}

/// A small code (an enum's discriminant).
pub fn code(v: f64, arg: u8) -> Result<u8, Refusal> {
    if v.fract() == 0.0 && (0.0..=255.0).contains(&v) {
        Ok(v as u8)
    } else {
        Err(Refusal::BadArgument(arg))
    }
}

/// An optional count: NaN is none.
fn count(v: f64, arg: u8) -> Result<Option<u64>, Refusal> {
    if v.is_nan() {
        return Ok(None);
    }
    if v.fract() == 0.0 && (0.0..=9_007_199_254_740_991.0).contains(&v) {
        Ok(Some(v as u64))
    } else {
        Err(Refusal::BadArgument(arg))
    }
}

/// Flags of a flattened turn report.
pub mod flag {
    /// A reply was produced.
    pub const REPLIED: u32 = 1;
    /// The reply reached the user.
    pub const DELIVERED: u32 = 2;
    /// Context statistics are present (tokens, limit, percent).
    pub const CONTEXT: u32 = 4;
    /// The agent recommends compaction.
    pub const COMPACT_RECOMMENDED: u32 = 8;
    /// The turn compacted the context.
    pub const COMPACTION: u32 = 16;
    /// The compaction was asked for by the user (else automatic).
    pub const MANUAL: u32 = 32;
}

/// A turn report from its flattened form: `status` 0 success, 1 error;
/// `flags` from [`flag`]; the counts NaN when unknown. Arguments are
/// numbered from 2 (after `now` and the run).
pub fn turn_report(
    status: f64,
    flags: f64,
    tokens: f64,
    limit: f64,
    percent: f64,
    tokens_before: f64,
) -> Result<TurnReport, Refusal> {
    let status = match code(status, 2)? {
        0 => TurnStatus::Success,
        1 => TurnStatus::Error,
        _ => return Err(Refusal::BadArgument(2)),
    };
    let flags = match id(flags, 3)? {
        f if f < 64 => f,
        _ => return Err(Refusal::BadArgument(3)),
    };
    let has = |f: u32| flags & f != 0;
    let context = has(flag::CONTEXT).then_some(()).map(|()| ContextStats {
        tokens: None,
        limit: None,
        percent: None,
        compact_recommended: has(flag::COMPACT_RECOMMENDED),
    });
    let context = match context {
        Some(mut c) => {
            c.tokens = count(tokens, 4)?;
            c.limit = count(limit, 5)?;
            c.percent = match count(percent, 6)? {
                Some(p) => Some(u32::try_from(p).map_err(|_| Refusal::BadArgument(6))?),
                None => None,
            };
            Some(c)
        }
        None => None,
    };
    let compaction = if has(flag::COMPACTION) {
        Some(Compaction {
            trigger: if has(flag::MANUAL) {
                CompactionTrigger::Manual
            } else {
                CompactionTrigger::Auto
            },
            tokens_before: count(tokens_before, 7)?,
        })
    } else {
        None
    };
    Ok(TurnReport {
        status,
        replied: has(flag::REPLIED),
        delivered: has(flag::DELIVERED),
        context,
        compaction,
    })
}
