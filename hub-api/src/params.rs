//! Parsing of query parameter values that poem-openapi's types do not cover exactly.
//!
//! Each function names the parameter in its 422 so the client knows what to fix.

use crate::error::ApiError;
use chrono::NaiveDateTime;

/// Sort direction; anything other than `asc` is descending (API.md section 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Ascending.
    Asc,
    /// Descending (the default).
    Desc,
}

impl Order {
    /// `asc` (any case) is ascending; everything else, including absence, is descending.
    pub fn parse(value: Option<&str>) -> Order {
        match value {
            Some(v) if v.trim().eq_ignore_ascii_case("asc") => Order::Asc,
            _ => Order::Desc,
        }
    }

    /// The sea-query order.
    pub fn sea(self) -> sea_orm::Order {
        match self {
            Order::Asc => sea_orm::Order::Asc,
            Order::Desc => sea_orm::Order::Desc,
        }
    }
}

/// A boolean parameter: `true/false/1/0/yes/no/on/off` (any case), as Pydantic accepts.
pub fn parse_bool(name: &'static str, value: Option<&str>) -> Result<Option<bool>, ApiError> {
    let Some(value) = value else { return Ok(None) };
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" | "t" | "y" => Ok(Some(true)),
        "false" | "0" | "no" | "off" | "f" | "n" => Ok(Some(false)),
        _ => Err(ApiError::invalid_query(
            name,
            format!("Input should be a valid boolean, unable to interpret input {value:?}"),
            "bool_parsing",
        )),
    }
}

/// A datetime parameter in any form [`hub_core::time::parse_datetime_param`] accepts.
pub fn parse_datetime(
    name: &'static str,
    value: Option<&str>,
) -> Result<Option<NaiveDateTime>, ApiError> {
    let Some(value) = value else { return Ok(None) };
    hub_core::time::parse_datetime_param(value)
        .map(Some)
        .ok_or_else(|| {
            ApiError::invalid_query(
                name,
                format!("Input should be a valid datetime (RFC 3339, e.g. 2026-11-26T05:00:00Z), got {value:?}"),
                "datetime_parsing",
            )
        })
}

/// A trimmed, lowercased, non-empty text; `None` for absent or blank values.
pub fn lowercase(value: Option<&str>) -> Option<String> {
    value
        .map(|v| v.trim().to_ascii_lowercase())
        .filter(|v| !v.is_empty())
}

/// A trimmed, non-empty text; `None` for absent or blank values.
pub fn non_blank(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// A `LIKE` pattern matching `text` anywhere, with `%`, `_` and `\` escaped (use `ESCAPE '\'`).
pub fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// A `LIKE` pattern matching values that start with `text`, escaped like [`contains_pattern`].
pub fn prefix_pattern(text: &str) -> String {
    let mut pattern = contains_pattern(text);
    pattern.remove(0);
    pattern
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bools_accept_the_pydantic_words() {
        for (text, want) in [
            ("true", true),
            ("On", true),
            ("1", true),
            ("no", false),
            ("OFF", false),
        ] {
            assert_eq!(
                parse_bool("observer", Some(text)).unwrap(),
                Some(want),
                "{text}"
            );
        }
        assert!(parse_bool("observer", Some("maybe")).is_err());
        assert_eq!(parse_bool("observer", None).unwrap(), None);
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(contains_pattern("a%b_c\\"), "%a\\%b\\_c\\\\%");
        assert_eq!(prefix_pattern("ab"), "ab%");
    }

    #[test]
    fn order_defaults_to_desc() {
        assert_eq!(Order::parse(Some("ASC")), Order::Asc);
        assert_eq!(Order::parse(Some("up")), Order::Desc);
        assert_eq!(Order::parse(None), Order::Desc);
    }
}
