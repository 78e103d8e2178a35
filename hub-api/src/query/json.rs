//! JSON columns (`decoded`, `parsed_data`, `path_hashes`, `snr_values`) read as their stored
//! text and checked for shape (docs/contract/api-2.md section 0.6, correction 8).

use sea_orm::sea_query::Expr;
use serde_json::Value;

/// `CAST(table.column AS TEXT)`: a JSON column's stored text on SQLite and PostgreSQL (whose
/// `json` type keeps the text, and with it the key order, as written).
pub fn json_text(table: &str, column: &str) -> Expr {
    Expr::cust(format!("CAST({table}.{column} AS TEXT)"))
}

/// Parses a JSON column's stored text. Python's `json.dumps` writes `NaN`, `Infinity` and
/// `-Infinity` for non-finite floats, which are not JSON; they are read as `null`. Text that
/// still does not parse is logged and read as absent.
pub fn parse_json_text(text: Option<&str>, field: &'static str) -> Option<Value> {
    let text = text?;
    match serde_json::from_str(&non_finite_as_null(text)) {
        Ok(value) => Some(value),
        Err(err) => {
            tracing::warn!(field, error = %err, "stored JSON does not parse; served as null");
            None
        }
    }
}

/// `text` with every `NaN`, `Infinity` and `-Infinity` outside string literals replaced by
/// `null`.
fn non_finite_as_null(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains("NaN") && !text.contains("Infinity") {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut in_string = false;
    let mut escaped = false;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            rest = &rest[c.len_utf8()..];
            continue;
        }
        if let Some(token) = ["-Infinity", "Infinity", "NaN"]
            .into_iter()
            .find(|t| rest.starts_with(t))
        {
            out.push_str("null");
            rest = &rest[token.len()..];
            continue;
        }
        if c == '"' {
            in_string = true;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    std::borrow::Cow::Owned(out)
}

/// A JSON column that must hold an object (`decoded`, `parsed_data`); any other stored
/// shape is logged and served as null.
pub fn json_object(text: Option<&str>, field: &'static str) -> Option<Value> {
    match parse_json_text(text, field)? {
        value @ Value::Object(_) => Some(value),
        // The JSON text `null` is how MeshCore Hub stores "nothing decoded".
        Value::Null => None,
        _ => {
            tracing::warn!(field, "stored JSON is not an object; served as null");
            None
        }
    }
}

/// A JSON column that must hold a list of strings (`path_hashes`).
pub fn json_string_list(text: Option<&str>, field: &'static str) -> Option<Vec<String>> {
    match parse_json_text(text, field)? {
        Value::Null => None,
        Value::Array(items) => {
            let list: Option<Vec<String>> = items
                .into_iter()
                .map(|item| match item {
                    Value::String(s) => Some(s),
                    _ => None,
                })
                .collect();
            if list.is_none() {
                tracing::warn!(field, "stored JSON list holds a non-string; served as null");
            }
            list
        }
        _ => {
            tracing::warn!(field, "stored JSON is not a list; served as null");
            None
        }
    }
}

/// A JSON column that must hold a list of numbers (`snr_values`). Non-finite values, which
/// Python writes as `NaN`/`Infinity`, are null items.
pub fn json_number_list(text: Option<&str>, field: &'static str) -> Option<Vec<Option<f64>>> {
    match parse_json_text(text, field)? {
        Value::Null => None,
        Value::Array(items) => {
            let list: Option<Vec<Option<f64>>> = items
                .into_iter()
                .map(|item| match item {
                    Value::Number(n) => n.as_f64().map(Some),
                    Value::Null => Some(None),
                    _ => None,
                })
                .collect();
            if list.is_none() {
                tracing::warn!(field, "stored JSON list holds a non-number; served as null");
            }
            list
        }
        _ => {
            tracing::warn!(field, "stored JSON is not a list; served as null");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_floats_outside_strings_become_null() {
        assert_eq!(
            non_finite_as_null(r#"{"a": NaN, "b": [Infinity, -Infinity], "c": "NaN -Infinity"}"#),
            r#"{"a": null, "b": [null, null], "c": "NaN -Infinity"}"#
        );
        assert_eq!(non_finite_as_null(r#"{"q\"NaN": 1}"#), r#"{"q\"NaN": 1}"#);
    }

    #[test]
    fn json_columns_check_their_shape() {
        let obj = json_object(Some(r#"{"z": 1, "a": NaN}"#), "decoded").unwrap();
        assert_eq!(obj.to_string(), r#"{"z":1,"a":null}"#);
        assert_eq!(json_object(Some("null"), "decoded"), None);
        assert_eq!(json_object(Some("[1]"), "decoded"), None);
        assert_eq!(json_object(Some("{oops"), "decoded"), None);
        assert_eq!(
            json_string_list(Some(r#"["A1", "B2"]"#), "path_hashes"),
            Some(vec!["A1".to_string(), "B2".to_string()])
        );
        assert_eq!(json_string_list(Some("[1]"), "path_hashes"), None);
        assert_eq!(
            json_number_list(Some("[1, 2.5, NaN]"), "snr_values"),
            Some(vec![Some(1.0), Some(2.5), None])
        );
        assert_eq!(json_number_list(Some(r#"["x"]"#), "snr_values"), None);
        assert_eq!(json_number_list(Some("{}"), "snr_values"), None);
    }
}
