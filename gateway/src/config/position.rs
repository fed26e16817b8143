//! Where in the TOML text an error is: line, column and the dotted key,
//! e.g. `accounts[2].cash`.
//!
//! The TOML reader reports a byte span and a message, but not the key path
//! when it has a span. The key is told here from the table headers above the
//! span and the assignments on its line, so an error says which entry of
//! which array is wrong.

use std::collections::BTreeMap;

use super::ConfigError;

/// A [`ConfigError::Parse`] from the TOML reader's error, with the line,
/// column and key of its position in `text`.
pub(super) fn parse_error(text: &str, error: &toml::de::Error) -> ConfigError {
    let message = plain_types(&error.message().trim().replace('\n', "; "));
    let Some(span) = error.span() else {
        return ConfigError::Parse {
            line: None,
            column: None,
            key: None,
            message,
        };
    };
    error_at(text, span.start, message)
}

/// `message` with the reader's Rust type names (`expected u32`) said as
/// what a value must be (`expected a whole number from 0 to 4294967295`):
/// the key's own range is CONFIG.md's, and checked once the file reads.
fn plain_types(message: &str) -> String {
    let most = |rust: &str| -> Option<u64> {
        Some(match rust {
            "u8" => u8::MAX.into(),
            "u16" => u16::MAX.into(),
            "u32" => u32::MAX.into(),
            "u64" => u64::MAX,
            "usize" => usize::MAX as u64,
            _ => return None,
        })
    };
    let mut plain = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find("expected ") {
        let (before, after) = rest.split_at(at + "expected ".len());
        plain.push_str(before);
        let end = after
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(after.len());
        let (word, tail) = after.split_at(end);
        match most(word) {
            Some(most) => plain.push_str(&format!("a whole number from 0 to {most}")),
            None => plain.push_str(word),
        }
        rest = tail;
    }
    plain.push_str(rest);
    plain
}

/// A [`ConfigError::Parse`] saying `message` about the value at byte `at`
/// of `text`, with its line, column and key.
pub(super) fn error_at(text: &str, at: usize, message: String) -> ConfigError {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = &text[..at];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    ConfigError::Parse {
        line: Some(before.matches('\n').count() + 1),
        column: Some(before[line_start..].chars().count() + 1),
        key: key_at(text, at),
        message,
    }
}

/// The dotted path of the key at byte `at` of a TOML text, e.g.
/// `accounts[1].throttle.burst`, told from the table headers above it and
/// the assignments on its line. Best effort, for error messages only: it
/// reads headers and keys line by line, so a multi-line string that looks
/// like a header can mislead it.
fn key_at(text: &str, at: usize) -> Option<String> {
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[at..].find('\n').map_or(text.len(), |i| at + i);
    let mut arrays: BTreeMap<String, usize> = BTreeMap::new();
    let mut table = String::new();
    let mut assigned: Option<String> = None;
    for line in text[..line_start].lines() {
        if let Some(header) = header(line, &mut arrays) {
            table = header;
            assigned = None;
        } else if let Some(key) = leading_key(line) {
            assigned = Some(key);
        }
    }
    let line = &text[line_start..line_end];
    if let Some(header) = header(line, &mut arrays) {
        return Some(header);
    }
    let mut path = inline_path(&text[line_start..at]);
    // An error at a key itself (an unknown field) names that key.
    let rest = &text[at..line_end];
    if let Some(key) = leading_key(rest) {
        path.push(key);
    }
    if path.is_empty() {
        // A continuation line of a multi-line array belongs to the last key
        // assigned above it.
        path.extend(assigned);
    }
    let path = path.join(".");
    match (table.is_empty(), path.is_empty()) {
        (true, true) => None,
        (true, false) => Some(path),
        (false, true) => Some(table),
        (false, false) => Some(format!("{table}.{path}")),
    }
}

/// The path of a table header line, `[a.b]` → `a.b`, `[[a]]` → `a[n]` with
/// `n` counting the earlier `[[a]]` headers; a header under an array of
/// tables names the array's current entry.
fn header(line: &str, arrays: &mut BTreeMap<String, usize>) -> Option<String> {
    let line = line.trim_start();
    let (name, array) = if let Some(rest) = line.strip_prefix("[[") {
        (rest.split("]]").next()?, true)
    } else if let Some(rest) = line.strip_prefix('[') {
        (rest.split(']').next()?, false)
    } else {
        return None;
    };
    let name: String = name.split('.').map(str::trim).collect::<Vec<_>>().join(".");
    let mut path = String::new();
    let parts: Vec<&str> = name.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(part);
        let prefix = parts[..=i].join(".");
        let last = i + 1 == parts.len();
        if array && last {
            let n = arrays.entry(prefix).or_insert(0);
            path.push_str(&format!("[{n}]"));
            *n += 1;
        } else if let Some(&n) = arrays.get(&prefix) {
            path.push_str(&format!("[{}]", n.saturating_sub(1)));
        }
    }
    Some(path)
}

/// The key of a `key = value` line, if the line starts with one.
fn leading_key(line: &str) -> Option<String> {
    let line = line.trim_start();
    let end = line.find('=')?;
    let key = line[..end].trim();
    let bare = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '"');
    (!key.is_empty() && key.chars().all(bare)).then(|| key.replace('"', ""))
}

/// The keys of the inline tables open at the end of `prefix` (the start of
/// a line up to the error), ending with the key whose value it is in.
fn inline_path(prefix: &str) -> Vec<String> {
    let mut open: Vec<Option<String>> = Vec::new();
    let mut pending: Option<String> = None;
    let mut token = String::new();
    let mut chars = prefix.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' | '\'' => {
                token.clear();
                let mut escaped = false;
                for s in chars.by_ref() {
                    if s == c && !escaped {
                        break;
                    }
                    escaped = c == '"' && s == '\\' && !escaped;
                    token.push(s);
                }
            }
            '=' => pending = Some(std::mem::take(&mut token)),
            '{' | '[' => {
                open.push(pending.take());
                token.clear();
            }
            '}' | ']' => {
                open.pop();
                token.clear();
            }
            ',' => {
                pending = None;
                token.clear();
            }
            '#' => break,
            // Spaces may stand between a key and its `=`: keep the token.
            c if c.is_whitespace() => {}
            c if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') => token.push(c),
            _ => token.clear(),
        }
    }
    open.into_iter().flatten().chain(pending).collect()
}
