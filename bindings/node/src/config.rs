//! The configuration from JavaScript: a `Float64Array` of slots in this
//! order, a missing slot or NaN leaving the core's default. Durations are
//! milliseconds (`Infinity`: never); the optional ones take -1 for off.
//!
//! | slot | setting |
//! |---|---|
//! | 0 | `max_active` |
//! | 1 | `retry_base` |
//! | 2 | `max_retries` |
//! | 3 | `idle_timeout` |
//! | 4 | `warn_percent` |
//! | 5 | `auto_compact_percent` |
//! | 6 | `notices` (0 or 1) |
//! | 7 | `policy` (0 fair, 1 legacy) |
//! | 8 | `records` (0 or 1) |
//! | 9 | `kill_grace` |
//! | 10 | `max_turn_time` |
//! | 11 | `max_compact_time` |
//! | 12 | `max_run_time` (-1 off) |
//! | 13 | `stall_timeout` (-1 off) |
//! | 14 | `start_grace` |
//! | 15 | `shutdown_grace` |
//! | 16 | `evict_idle` (0 or 1) |
//! | 17 | `max_queued_tasks` (-1 off) |
//! | 18 | `max_group_tasks` (-1 off) |
//! | 19, 20 | debounce `quiet`, `max_wait` (-1 in 19: off) |
//! | 21–25 | breaker `fast_failure`, `groups`, `window`, `cooldown`, `max_cooldown` (-1 in 21: off) |
//! | 26–28 | background `aging`, `max_running` (-1 off), `skip_window` (-1 off) |

use std::time::Duration;

use groupq::{Background, Breaker, Config, Debounce, Policy};

use crate::args::duration;
use crate::error::Refusal;

/// How many slots this build reads.
pub const SLOTS: usize = 29;

/// A cap on queued tasks: -1 off, else a whole number.
pub fn cap(v: f64) -> Option<Option<usize>> {
    if v == -1.0 {
        return Some(None);
    }
    (v.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&v)).then_some(Some(v as usize))
}

/// The configuration the slots describe; a slot whose value the setting
/// cannot take is refused with its number.
pub fn from_slots(slots: &[f64]) -> Result<Config, Refusal> {
    let mut c = Config::default();
    for (i, &v) in slots.iter().enumerate().take(19) {
        if v.is_nan() {
            continue;
        }
        let bad = Refusal::BadSetting(i as u8);
        let int = |max: f64| (v.fract() == 0.0 && (0.0..=max).contains(&v)).then_some(v);
        let flag = || match int(1.0) {
            Some(b) => Ok(b == 1.0),
            None => Err(bad),
        };
        let dur = || duration(v).ok_or(bad);
        let opt = || -> Result<Option<Duration>, Refusal> {
            if v == -1.0 {
                Ok(None)
            } else {
                dur().map(Some)
            }
        };
        c = match i {
            0 => c.with_max_active(int(u32::MAX as f64).ok_or(bad)? as usize),
            1 => c.with_retry_base(dur()?),
            2 => c.with_max_retries(int(u32::MAX as f64).ok_or(bad)? as u32),
            3 => c.with_idle_timeout(dur()?),
            4 => c.with_warn_percent(int(255.0).ok_or(bad)? as u8),
            5 => c.with_auto_compact_percent(int(255.0).ok_or(bad)? as u8),
            6 => c.with_notices(flag()?),
            7 => c.with_policy(match int(1.0).ok_or(bad)? {
                0.0 => Policy::Fair,
                _ => Policy::Legacy,
            }),
            8 => c.with_records(flag()?),
            9 => c.with_kill_grace(dur()?),
            10 => c.with_max_turn_time(dur()?),
            11 => c.with_max_compact_time(dur()?),
            12 => c.with_max_run_time(opt()?),
            13 => c.with_stall_timeout(opt()?),
            14 => c.with_start_grace(dur()?),
            15 => c.with_shutdown_grace(dur()?),
            16 => c.with_evict_idle(flag()?),
            17 => c.with_max_queued_tasks(cap(v).ok_or(bad)?),
            _ => c.with_max_group_tasks(cap(v).ok_or(bad)?),
        };
    }
    let slot = |i: usize| slots.get(i).copied().filter(|v| !v.is_nan());
    let dur = |i: usize, default: Duration| match slot(i) {
        None => Ok(default),
        Some(v) => duration(v).ok_or(Refusal::BadSetting(i as u8)),
    };
    match slot(19) {
        None => {}
        Some(-1.0) => c = c.with_debounce(None),
        Some(_) => {
            let quiet = dur(19, Duration::ZERO)?;
            let max_wait = dur(20, quiet)?;
            c = c.with_debounce(Some(Debounce::new(quiet, max_wait)));
        }
    }
    match slot(21) {
        None => {}
        Some(-1.0) => c = c.with_breaker(None),
        Some(_) => {
            let d = Breaker::default();
            let groups = match slot(22) {
                None => d.groups,
                Some(v) if v.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&v) => {
                    v as usize
                }
                Some(_) => return Err(Refusal::BadSetting(22)),
            };
            let breaker = d
                .with_fast_failure(dur(21, d.fast_failure)?)
                .with_threshold(groups, dur(23, d.window)?)
                .with_cooldown(dur(24, d.cooldown)?, dur(25, d.max_cooldown)?);
            c = c.with_breaker(Some(breaker));
        }
    }
    let d = Background::default();
    let aging = match slot(26) {
        None => d.aging,
        Some(v) if v.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&v) => v as u32,
        Some(_) => return Err(Refusal::BadSetting(26)),
    };
    let max_running = match slot(27) {
        None => d.max_running,
        Some(v) => cap(v).ok_or(Refusal::BadSetting(27))?,
    };
    let skip_window = match slot(28) {
        None | Some(-1.0) => None,
        Some(_) => Some(dur(28, Duration::ZERO)?),
    };
    c = c.with_background(
        d.with_aging(aging)
            .with_max_running(max_running)
            .with_skip_window(skip_window),
    );
    Ok(c)
}
