//! What the run amounted to: the adapter's tally, the evidence the processes
//! wrote about themselves, and the final summary.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::Path;

use groupq::{Config, WorkKind};

/// Counts kept by the adapter while it runs.
#[derive(Default)]
pub struct Tally {
    /// Runs started, per group.
    pub runs: BTreeMap<String, u32>,
    /// Runs started, per kind: messages, task, compact.
    pub kinds: [u32; 3],
    live: usize,
    live_in_group: BTreeMap<String, u32>,
    /// Most processes alive at once (spawned, exit not yet handled).
    pub max_live: usize,
    /// Most processes of one group alive at once.
    pub max_live_in_group: u32,
    pub compactions: u32,
    pub retries: u32,
    pub rollbacks: u32,
    pub piped: u32,
    pub deduplicated: u32,
    pub terminal_failures: u32,
    /// Agents killed after their close.
    pub kills: u32,
}

impl Tally {
    pub fn process_started(&mut self, group: &str, kind: WorkKind) {
        *self.runs.entry(group.to_string()).or_default() += 1;
        self.kinds[match kind {
            WorkKind::Messages => 0,
            WorkKind::Task => 1,
            WorkKind::Compact => 2,
        }] += 1;
        self.live += 1;
        self.max_live = self.max_live.max(self.live);
        let in_group = self.live_in_group.entry(group.to_string()).or_default();
        *in_group += 1;
        self.max_live_in_group = self.max_live_in_group.max(*in_group);
    }

    pub fn process_ended(&mut self, group: &str) {
        self.live -= 1;
        if let Some(n) = self.live_in_group.get_mut(group) {
            *n -= 1;
        }
    }
}

/// One process's life by its own clock: `unix_nanos` at start and at end.
pub struct Span {
    pub group: String,
    pub run: u64,
    pub start: u128,
    /// Its `end` line, or for a killed agent its last `alive` line.
    pub end: Option<u128>,
    /// The last `alive` line of a hung agent.
    pub last_alive: Option<u128>,
}

/// The start and end timestamps every agent process wrote to its log.
pub struct Evidence {
    pub spans: Vec<Span>,
}

impl Evidence {
    /// Reads every `run-*.log` in `dir`.
    pub fn read(dir: &Path) -> io::Result<Evidence> {
        let mut spans = Vec::new();
        for entry in fs::read_dir(dir)? {
            let path = entry?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if !(name.starts_with("run-") && name.ends_with(".log")) {
                continue;
            }
            let mut span = Span {
                group: String::new(),
                run: 0,
                start: 0,
                end: None,
                last_alive: None,
            };
            for line in fs::read_to_string(&path)?.lines() {
                let field = |key: &str| {
                    line.split_whitespace()
                        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
                        .unwrap_or("")
                        .to_string()
                };
                let nanos = field("unix_nanos").parse().unwrap_or(0);
                span.group = field("group");
                span.run = field("run").parse().unwrap_or(0);
                match field("event").as_str() {
                    "start" => span.start = nanos,
                    "end" => span.end = Some(nanos),
                    // A killed agent writes no end: its last sign of life
                    // is the latest it can have ended before.
                    "alive" => {
                        span.last_alive = Some(nanos);
                    }
                    _ => {}
                }
            }
            if span.end.is_none() {
                span.end = span.last_alive;
            }
            spans.push(span);
        }
        spans.sort_by_key(|s| s.run);
        Ok(Evidence { spans })
    }

    /// Most processes alive at the same instant, overall and within one
    /// group. At equal timestamps an end counts before a start: the adapter
    /// only starts a process after it saw the previous one exit.
    pub fn max_alive(&self) -> (usize, usize) {
        let mut events: Vec<(u128, bool, &str)> = Vec::new();
        for s in &self.spans {
            events.push((s.start, true, &s.group));
            events.push((s.end.unwrap_or(u128::MAX), false, &s.group));
        }
        events.sort();
        let (mut alive, mut max) = (0usize, 0usize);
        let mut in_group: BTreeMap<&str, usize> = BTreeMap::new();
        let mut max_in_group = 0;
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

    /// Fails unless every process logged its end, no two processes of a
    /// group overlapped, and at most `max_active` were alive at once.
    pub fn verify(&self, max_active: usize) -> Result<(), String> {
        if let Some(s) = self.spans.iter().find(|s| s.end.is_none()) {
            return Err(format!("run {} never logged its end", s.run));
        }
        match self.max_alive() {
            (_, in_group) if in_group > 1 => {
                Err(format!("{in_group} processes of one group overlapped"))
            }
            (alive, _) if alive > max_active => Err(format!(
                "{alive} processes alive at once, max_active is {max_active}"
            )),
            _ => Ok(()),
        }
    }
}

/// The final summary.
pub fn print_summary(tally: &Tally, evidence: &Evidence, config: &Config, inputs: u64) {
    let per_group: Vec<String> = tally.runs.iter().map(|(g, n)| format!("{g} {n}")).collect();
    let [messages, tasks, compacts] = tally.kinds;
    let (alive, alive_in_group) = evidence.max_alive();
    println!("summary");
    println!("  runs per group        {}", per_group.join(", "));
    println!("  runs by kind          messages {messages}, task {tasks}, compact {compacts}");
    println!(
        "  max live runs seen    {} (max_active {})",
        tally.max_live,
        config.max_active()
    );
    println!("  max live per group    {}", tally.max_live_in_group);
    println!("  compactions           {}", tally.compactions);
    println!(
        "  retries               {} ({} cursor rollbacks, {} terminal failures)",
        tally.retries, tally.rollbacks, tally.terminal_failures
    );
    println!("  hung agents killed    {}", tally.kills);
    println!(
        "  follow-ups piped      {}; tasks deduplicated {}",
        tally.piped, tally.deduplicated
    );
    println!(
        "  process clocks        {} processes; at most {alive} alive at once, at most {alive_in_group} per group",
        evidence.spans.len()
    );
    println!("  invariant checker     {inputs} inputs checked, no violation");
}
