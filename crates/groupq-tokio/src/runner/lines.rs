//! An agent's output as protocol lines: bytes in whatever pieces they
//! arrive, complete lines out, each a protocol line or a warning.

use groupq::RunId;
use groupq_protocol::AgentLine;

/// The longest line kept whole; a longer one is not a protocol line and is
/// skipped to its end, so an agent cannot make the driver hold unbounded
/// memory.
const MAX_LINE: usize = 1 << 20;

/// Bytes of output split into lines, the last one kept until complete.
#[derive(Debug, Default)]
pub(crate) struct Lines {
    partial: Vec<u8>,
    /// Bytes of the line being read so far (kept or not).
    current: u64,
    /// Where the last complete line ends.
    position: u64,
    /// The line being read is longer than `MAX_LINE`: drop it to its end.
    overlong: bool,
}

impl Lines {
    /// Lines of output read from byte `position` on.
    pub(crate) fn at(position: u64) -> Lines {
        Lines {
            position,
            ..Lines::default()
        }
    }

    /// Appends `bytes`; returns the lines they complete (without their
    /// `\n`, a `\r` before it removed too), each with the byte position
    /// just after it.
    pub(crate) fn push(&mut self, bytes: &[u8]) -> Vec<(Vec<u8>, u64)> {
        let mut lines = Vec::new();
        let mut rest = bytes;
        while let Some(at) = rest.iter().position(|&b| b == b'\n') {
            let (line, tail) = rest.split_at(at);
            self.position += self.current + at as u64 + 1;
            self.current = 0;
            if !self.overlong {
                self.partial.extend_from_slice(line);
                let mut whole = std::mem::take(&mut self.partial);
                if whole.last() == Some(&b'\r') {
                    whole.pop();
                }
                lines.push((whole, self.position));
            } else {
                // The end of an overlong line: counted, with nothing in it.
                lines.push((Vec::new(), self.position));
            }
            self.overlong = false;
            rest = &tail[1..];
        }
        self.current += rest.len() as u64;
        if !self.overlong {
            self.partial.extend_from_slice(rest);
            if self.partial.len() > MAX_LINE {
                self.partial = Vec::new();
                self.overlong = true;
            }
        }
        lines
    }
}

/// One complete line: a protocol line, or `None` after a warning naming the
/// run.
pub(crate) fn parse(run: RunId, line: &[u8]) -> Option<AgentLine> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    match serde_json::from_slice::<AgentLine>(line) {
        Ok(line) => Some(line),
        Err(e) => {
            let shown = String::from_utf8_lossy(&line[..line.len().min(200)]);
            tracing::warn!(run = run.get(), "not a protocol line ({e}): {shown:?}");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_become_whole_lines_whatever_the_cuts() {
        let text = b"{\"type\":\"idle\"}\r\nsecond\n\nthird";
        for cut in 0..text.len() {
            let mut lines = Lines::at(100);
            let mut got = lines.push(&text[..cut]);
            got.extend(lines.push(&text[cut..]));
            assert_eq!(
                got,
                [
                    (b"{\"type\":\"idle\"}".to_vec(), 117),
                    (b"second".to_vec(), 124),
                    (Vec::new(), 125)
                ],
                "cut at {cut}"
            );
            assert_eq!(lines.push(b"\n"), [(b"third".to_vec(), 131)]);
        }
    }

    #[test]
    fn an_overlong_line_is_dropped_to_its_end_and_still_counted() {
        let mut lines = Lines::default();
        assert!(lines.push(&vec![b'x'; MAX_LINE + 1]).is_empty());
        assert!(lines.push(b"more").is_empty());
        let end = MAX_LINE as u64 + 1 + 4 + 2;
        assert_eq!(
            lines.push(b"x\nok\n"),
            [(Vec::new(), end), (b"ok".to_vec(), end + 3)]
        );
    }

    #[test]
    fn only_protocol_lines_parse() {
        let run = RunId::new(1);
        assert_eq!(parse(run, b"{\"type\":\"idle\"}"), Some(AgentLine::Idle));
        assert_eq!(parse(run, b"hello"), None);
        assert_eq!(parse(run, b"  "), None);
        assert_eq!(parse(run, &[0xff, 0xfe]), None);
    }
}
