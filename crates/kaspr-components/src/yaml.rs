//! YAML text of a definition document, written so that PyYAML (YAML 1.1, what the Kaspr
//! runtime reads definitions with) loads exactly the document: a string is written plain only
//! when YAML 1.1 cannot read it as anything else (`counter-processor`, not `yes`, `1e3` or
//! `=`), multi-line text as a literal block with an explicit indentation, anything else
//! double-quoted with every character PyYAML would not take escaped. serde_yaml writes YAML 1.2
//! and leaves `=` or `1e3` plain, which PyYAML reads as a tag or a string of another type.

use std::fmt::Write;

use serde_json::{Map, Value};

/// The document as YAML text (block style, keys in the map's order).
pub fn to_string(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => mapping(&mut out, map, 0, false),
        Value::Array(items) if !items.is_empty() => sequence(&mut out, items, 0),
        other => {
            out.push_str(&scalar(other, 0));
            out.push('\n');
        }
    }
    out
}

fn pad(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

/// A block mapping at column `indent`; `inline_first`: its first key follows a `- ` already
/// written.
fn mapping(out: &mut String, map: &Map<String, Value>, indent: usize, inline_first: bool) {
    for (i, (key, value)) in map.iter().enumerate() {
        if !(inline_first && i == 0) {
            pad(out, indent);
        }
        out.push_str(&text(key, indent));
        out.push(':');
        match value {
            Value::Object(m) if !m.is_empty() => {
                out.push('\n');
                mapping(out, m, indent + 2, false);
            }
            // As PyYAML writes them: a sequence in a mapping at the mapping's column.
            Value::Array(items) if !items.is_empty() => {
                out.push('\n');
                sequence(out, items, indent);
            }
            other => {
                out.push(' ');
                out.push_str(&scalar(other, indent));
                out.push('\n');
            }
        }
    }
}

fn sequence(out: &mut String, items: &[Value], indent: usize) {
    for item in items {
        pad(out, indent);
        match item {
            Value::Object(m) if !m.is_empty() => {
                out.push_str("- ");
                mapping(out, m, indent + 2, true);
            }
            Value::Array(inner) if !inner.is_empty() => {
                out.push_str("-\n");
                sequence(out, inner, indent + 2);
            }
            other => {
                out.push_str("- ");
                out.push_str(&scalar(other, indent));
                out.push('\n');
            }
        }
    }
}

/// A scalar (or an empty collection) in a node at column `indent`.
fn scalar(value: &Value, indent: usize) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => text(s, indent),
        Value::Array(_) => "[]".to_owned(),
        Value::Object(_) => "{}".to_owned(),
    }
}

/// Words YAML 1.1 reads as booleans or null.
const YAML11_WORDS: [&str; 12] = [
    "y", "n", "yes", "no", "on", "off", "true", "false", "null", "~", "yaml", "=",
];

fn text(s: &str, indent: usize) -> String {
    let plain = s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !YAML11_WORDS.contains(&s.to_ascii_lowercase().as_str());
    if plain {
        return s.to_owned();
    }
    if s.contains('\n') && s.chars().all(literal_safe) {
        return literal(s, indent);
    }
    double_quoted(s)
}

/// What a literal block can hold as it is: printable characters, tabs and `\n` (no `\r` and
/// no other line break: PyYAML would turn those into `\n`).
fn literal_safe(c: char) -> bool {
    c == '\n' || c == '\t' || (printable(c) && !matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}'))
}

/// PyYAML's printable set (its reader refuses anything else in a stream).
fn printable(c: char) -> bool {
    matches!(c, '\u{20}'..='\u{7E}' | '\u{85}' | '\u{A0}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
        && c != '\u{FEFF}'
}

/// `|2`, `|2-` or `|2+` (by the trailing line breaks), each line indented two more than the
/// node: the explicit indentation keeps a first line that starts with spaces.
fn literal(s: &str, indent: usize) -> String {
    let body = s.trim_end_matches('\n');
    let trailing = s.len() - body.len();
    let chomp = match trailing {
        0 => "-",
        1 => "",
        _ => "+",
    };
    let mut out = format!("|2{chomp}");
    for line in s.strip_suffix('\n').unwrap_or(s).split('\n') {
        out.push('\n');
        if !line.is_empty() {
            pad(&mut out, indent + 2);
            out.push_str(line);
        }
    }
    out
}

/// A double-quoted scalar, escaping what PyYAML would not read back as itself.
fn double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if printable(c) && !matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}') => out.push(c),
            c if (c as u32) <= 0xFFFF => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08X}", c as u32);
            }
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_unambiguous_words_are_plain() {
        assert_eq!(text("counter-processor", 0), "counter-processor");
        assert_eq!(text("yes", 0), "\"yes\"");
        assert_eq!(text("1e3", 0), "\"1e3\"");
        assert_eq!(text("=", 0), "\"=\"");
        assert_eq!(text("", 0), "\"\"");
        assert_eq!(text("a\u{2028}b", 0), "\"a\\u2028b\"");
    }

    #[test]
    fn multi_line_text_is_a_literal_block() {
        let doc = json!({"a": [{"python": "  x\ny\n"}]});
        assert_eq!(to_string(&doc), "a:\n- python: |2\n      x\n    y\n");
    }
}
