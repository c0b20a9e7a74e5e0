//! The lexer: a line into words, with quoting and escapes.

use super::{excerpt, ParseErrorKind};

/// A word of a line, unquoted and unescaped.
pub(super) struct Word {
    pub(super) text: String,
    /// Column of its first character, from 1.
    pub(super) column: usize,
}

pub(super) type Located<T> = Result<T, (usize, ParseErrorKind)>;

/// Splits a line into words; returns them and the column just past the
/// last one (where a missing argument is reported).
pub(super) fn lex(line: &str) -> Located<(Vec<Word>, usize)> {
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
    let bad = |s: &str| ParseErrorKind::InvalidEscape(excerpt(&format!("\\{s}")));
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
