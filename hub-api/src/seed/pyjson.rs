//! JSON text exactly as MeshCore Hub's collector stores it on SQLite: Python's `json.dumps`
//! defaults, i.e. `", "` and `": "` separators and `ensure_ascii` (every non-ASCII character
//! as a `\uXXXX` escape, UTF-16 surrogate pairs beyond the BMP).
//!
//! The API parses these columns (docs/contract/api-2.md §0.6) and the `decryptable` filter matches on the
//! text (`"decrypted": null`), so the seed must write the same spelling as the collector.

use serde_json::Value;
use std::fmt::Write;

/// `value` as Python's `json.dumps(value)` writes it. Object keys keep their order (serde_json
/// has `preserve_order`). Floats are written by serde_json, which agrees with Python's `repr`
/// for the plain decimal values the seed draws (whole floats as `21.0`, no exponents).
pub fn dumps(value: &Value) -> String {
    let mut out = String::with_capacity(128);
    write_value(&mut out, value);
    out
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_string(out, key);
                out.push_str(": ");
                write_value(out, item);
            }
            out.push('}');
        }
    }
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn writes_what_python_json_dumps_writes() {
        // Expected texts from CPython 3.12 `json.dumps`.
        let value = json!({
            "b": 1,
            "a": [1.5, 21.0, -3, null, true],
            "text": "Zoë says \"hi\" 📡\n",
            "nested": {"decrypted": null}
        });
        assert_eq!(
            dumps(&value),
            r#"{"b": 1, "a": [1.5, 21.0, -3, null, true], "text": "Zo\u00eb says \"hi\" \ud83d\udce1\n", "nested": {"decrypted": null}}"#
        );
        assert_eq!(dumps(&Value::Null), "null");
        assert_eq!(dumps(&json!([])), "[]");
        assert_eq!(dumps(&json!({})), "{}");
        // The text parses back to the same value.
        assert_eq!(
            serde_json::from_str::<Value>(&dumps(&value)).unwrap(),
            value
        );
    }
}
