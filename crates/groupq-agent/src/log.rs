//! The reference agent's evidence: `agent.log` in its run directory, one
//! line per event with the agent's own wall clock, and the reader that
//! tests and the demo judge the promises on.
//!
//! `event=start|turn|alive|end group=G run=N unix_nanos=T` (a `turn` line
//! adds `messages=N`, and for a successful turn that answered messages
//! `answered=T1,T2` with each text percent-encoded ([`answered_field`]); an
//! `end` line adds `code=N`). Group names in this log must not contain
//! whitespace (the reference agent is for tests and demos).

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// The log's file name in the run directory.
pub const LOG_FILE: &str = "agent.log";

/// Appends one event line to `dir/agent.log`, stamped now.
pub fn append(dir: &Path, event: &str, group: &str, run: u64, extra: &str) -> io::Result<()> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(io::Error::other)?
        .as_nanos();
    let mut log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(LOG_FILE))?;
    writeln!(
        log,
        "event={event} group={group} run={run} unix_nanos={nanos}{extra}"
    )
}

/// The ` answered=…` field of a turn line for these message texts (empty
/// for none): each text percent-encoded but for ASCII letters, digits and
/// `-._~`, joined by commas.
pub fn answered_field(texts: &[String]) -> String {
    if texts.is_empty() {
        return String::new();
    }
    let encoded: Vec<String> = texts
        .iter()
        .map(|text| {
            text.bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                        char::from(b).to_string()
                    }
                    _ => format!("%{b:02X}"),
                })
                .collect()
        })
        .collect();
    format!(" answered={}", encoded.join(","))
}

/// Decodes one percent-encoded text; `None` if it is not one.
fn decode(text: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let [first, tail @ ..] = rest {
        if *first == b'%' {
            let hex = std::str::from_utf8(tail.get(..2)?).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            rest = &tail[2..];
        } else {
            bytes.push(*first);
            rest = tail;
        }
    }
    String::from_utf8(bytes).ok()
}

/// One agent's life by its own clock (nanoseconds since the Unix epoch).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span {
    /// The group it served.
    pub group: String,
    /// Its run id.
    pub run: u64,
    /// When it started.
    pub start: u128,
    /// Its `end` line, or for an agent that wrote none (killed) its last
    /// sign of life.
    pub end: u128,
    /// It wrote no `end` line: it was killed.
    pub killed: bool,
    /// How many messages each of its turns answered.
    pub turns: Vec<u64>,
    /// The texts its successful turns answered, in order.
    pub answered: Vec<String>,
    /// Its run directory (empty for a log parsed on its own).
    pub dir: std::path::PathBuf,
}

/// Reads `runs/*/agent.log` (one directory per run; a run whose agent never
/// started has no log and no span). Spans are sorted by run id. A line that
/// is not the format above is an `InvalidData` error naming file and line.
pub fn read_runs(runs: &Path) -> io::Result<Vec<Span>> {
    let mut spans = Vec::new();
    for entry in fs::read_dir(runs).map_err(|e| at(runs, e))? {
        let dir = entry?.path();
        let log = dir.join(LOG_FILE);
        match fs::read_to_string(&log) {
            Ok(text) => {
                let mut span = parse(&log, &text)?;
                span.dir = dir;
                spans.push(span);
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(at(&log, e)),
        }
    }
    spans.sort_by_key(|s| s.run);
    Ok(spans)
}

fn at(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// Parses one `agent.log`'s text; `path` only names it in errors.
pub fn parse(path: &Path, text: &str) -> io::Result<Span> {
    let mut span = Span {
        group: String::new(),
        run: 0,
        start: 0,
        end: 0,
        killed: true,
        turns: Vec::new(),
        answered: Vec::new(),
        dir: std::path::PathBuf::new(),
    };
    for (n, line) in text.lines().enumerate() {
        let bad = |what: &str| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}:{}: {what}: {line:?}", path.display(), n + 1),
            )
        };
        let field = |key: &str| {
            line.split_whitespace()
                .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
                .ok_or_else(|| bad(&format!("no {key}=")))
        };
        let nanos: u128 = field("unix_nanos")?
            .parse()
            .map_err(|_| bad("bad unix_nanos"))?;
        span.group = field("group")?.to_string();
        span.run = field("run")?.parse().map_err(|_| bad("bad run"))?;
        match field("event")? {
            "start" => {
                span.start = nanos;
                span.end = nanos;
            }
            "turn" => {
                let messages = field("messages")?
                    .parse()
                    .map_err(|_| bad("bad messages"))?;
                span.turns.push(messages);
                if let Ok(answered) = field("answered") {
                    for text in answered.split(',') {
                        span.answered
                            .push(decode(text).ok_or_else(|| bad("bad answered"))?);
                    }
                }
                span.end = nanos;
            }
            "alive" => span.end = nanos,
            "end" => {
                span.end = nanos;
                span.killed = false;
            }
            _ => return Err(bad("unknown event")),
        }
    }
    Ok(span)
}

/// Most agents alive at one instant, overall and within one group. At
/// equal times an end counts before a start: a driver starts a group's next
/// agent only after it saw the previous one exit.
pub fn max_alive(spans: &[Span]) -> (usize, usize) {
    // (time, order, start?, group): at equal times ends come first (order
    // 0), except the end of an agent killed the instant it started, which
    // must follow its own start (order 2).
    let mut events: Vec<(u128, u8, bool, &str)> = Vec::new();
    for s in spans {
        events.push((s.start, 1, true, &s.group));
        let order = if s.end <= s.start { 2 } else { 0 };
        events.push((s.end.max(s.start), order, false, &s.group));
    }
    events.sort();
    let (mut alive, mut max, mut max_in_group) = (0usize, 0usize, 0usize);
    let mut in_group: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, _, is_start, group) in events {
        let n = in_group.entry(group).or_default();
        if is_start {
            alive += 1;
            *n += 1;
        } else {
            alive = alive.saturating_sub(1);
            *n = n.saturating_sub(1);
        }
        max = max.max(alive);
        max_in_group = max_in_group.max(*n);
    }
    (max, max_in_group)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_reads_back_and_a_bad_line_names_its_place() {
        let path = Path::new("runs/run-1/agent.log");
        let span = parse(
            path,
            "event=start group=a run=1 unix_nanos=10\n\
             event=turn group=a run=1 unix_nanos=20 messages=2\n\
             event=alive group=a run=1 unix_nanos=30\n",
        )
        .unwrap();
        assert_eq!(
            (span.start, span.end, span.killed, span.turns),
            (10, 30, true, vec![2])
        );
        let e = parse(path, "event=start group=a run=x unix_nanos=1\n").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert!(
            e.to_string().starts_with("runs/run-1/agent.log:1: bad run"),
            "{e}"
        );
        assert!(parse(path, "garbage").is_err());
    }

    #[test]
    fn answered_texts_read_back_whatever_they_hold() {
        let texts: Vec<String> = ["m0-1", "hello, world = 100%", "", "é\n"]
            .map(String::from)
            .into();
        let line = format!(
            "event=turn group=a run=1 unix_nanos=5 messages=4{}",
            answered_field(&texts)
        );
        let span = parse(Path::new("agent.log"), &line).unwrap();
        assert_eq!(span.answered, texts);
        assert_eq!(answered_field(&[]), "");
        let bad = "event=turn group=a run=1 unix_nanos=5 messages=1 answered=%G1";
        assert!(parse(Path::new("agent.log"), bad).is_err());
    }

    #[test]
    fn overlaps_are_counted_per_group_and_overall() {
        let span = |group: &str, start, end| Span {
            group: group.into(),
            run: 0,
            start,
            end,
            killed: false,
            turns: vec![],
            answered: vec![],
            dir: Default::default(),
        };
        let spans = [span("a", 0, 10), span("a", 10, 20), span("b", 5, 15)];
        assert_eq!(max_alive(&spans), (2, 1));
        assert_eq!(max_alive(&[span("a", 0, 10), span("a", 9, 20)]), (2, 2));
    }
}
