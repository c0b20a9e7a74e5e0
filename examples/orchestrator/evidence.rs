//! What the agents wrote about themselves: each run directory's `agent.log`
//! with the agent's own wall-clock start, turn, alive and end times.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::Path;

/// One agent's life by its own clock (nanoseconds since the Unix epoch).
pub struct Span {
    pub group: String,
    pub start: u128,
    /// Its `end` line, or a killed agent's last sign of life.
    pub end: u128,
    /// It wrote no `end` line: it was killed.
    pub killed: bool,
}

/// Every agent's span.
pub struct Evidence {
    pub spans: Vec<Span>,
}

impl Evidence {
    /// Reads `dir/runs/*/agent.log`.
    pub fn read(dir: &Path) -> io::Result<Evidence> {
        let mut spans = Vec::new();
        let runs = dir.join("runs");
        for entry in fs::read_dir(&runs)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", runs.display())))?
        {
            let log = entry?.path().join("agent.log");
            let Ok(text) = fs::read_to_string(&log) else {
                continue; // a run whose agent never started
            };
            let mut span = Span {
                group: String::new(),
                start: 0,
                end: 0,
                killed: true,
            };
            for line in text.lines() {
                let field = |key: &str| {
                    line.split_whitespace()
                        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
                        .unwrap_or("")
                        .to_string()
                };
                let nanos = field("unix_nanos").parse().unwrap_or(0);
                span.group = field("group");
                match field("event").as_str() {
                    "start" => span.start = nanos,
                    "end" => {
                        span.end = nanos;
                        span.killed = false;
                    }
                    _ => span.end = span.end.max(nanos),
                }
            }
            spans.push(span);
        }
        Ok(Evidence { spans })
    }

    /// Most agents alive at one instant, overall and within one group. At
    /// equal times an end counts before a start.
    pub fn max_alive(&self) -> (usize, usize) {
        let mut events: Vec<(u128, bool, &str)> = Vec::new();
        for s in &self.spans {
            events.push((s.start, true, &s.group));
            events.push((s.end, false, &s.group));
        }
        events.sort();
        let (mut alive, mut max, mut max_in_group) = (0usize, 0usize, 0usize);
        let mut in_group: BTreeMap<&str, usize> = BTreeMap::new();
        for (_, is_start, group) in events {
            let n = in_group.entry(group).or_default();
            if is_start {
                alive += 1;
                *n += 1;
            } else {
                alive -= 1;
                *n -= 1;
            }
            max = max.max(alive);
            max_in_group = max_in_group.max(*n);
        }
        (max, max_in_group)
    }

    /// Fails unless no two agents of a group overlapped and at most
    /// `max_active` were alive at once.
    pub fn verify(&self, max_active: usize) -> Result<(), String> {
        match self.max_alive() {
            (_, in_group) if in_group > 1 => {
                Err(format!("{in_group} agents of one group overlapped"))
            }
            (alive, _) if alive > max_active => Err(format!(
                "{alive} agents alive at once, max_active is {max_active}"
            )),
            _ => Ok(()),
        }
    }
}
