//! Parsing of query parameter values that poem-openapi's types do not cover exactly.
//!
//! Each function names the parameter in its 422 so the client knows what to fix.

use crate::error::ApiError;
use chrono::NaiveDateTime;

/// Sort direction; anything other than `asc` is descending (docs/contract/api.md section 0).
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

/// Earliest year a datetime parameter may name.
///
/// Years 1..=9999 are what every layer handles: RFC 3339 and SQLite's text form have four
/// year digits, PostgreSQL's timestamps span 4713 BC..294276 AD, and chrono's own limit
/// (year 262142) is close enough that a microsecond's rounding overflows it.
pub const MIN_DATETIME_YEAR: i32 = 1;
/// Latest year a datetime parameter may name (see [`MIN_DATETIME_YEAR`]).
pub const MAX_DATETIME_YEAR: i32 = 9999;

/// A datetime parameter in any form [`hub_core::time::parse_datetime_param`] accepts, in UTC
/// years [`MIN_DATETIME_YEAR`]..=[`MAX_DATETIME_YEAR`].
///
/// ```
/// use hub_api::params::parse_datetime;
/// assert!(parse_datetime("since", Some("2026-11-26T05:00:00Z")).unwrap().is_some());
/// assert!(parse_datetime("since", Some("+262142-12-31T23:59:59.9999999")).is_err());
/// assert!(parse_datetime("until", Some("0001-01-01T00:00:00+01:00")).is_err());
/// ```
pub fn parse_datetime(
    name: &'static str,
    value: Option<&str>,
) -> Result<Option<NaiveDateTime>, ApiError> {
    use chrono::Datelike;
    let Some(value) = value else { return Ok(None) };
    let Some(dt) = hub_core::time::parse_datetime_param(value) else {
        return Err(ApiError::invalid_query(
            name,
            format!(
                "Input should be a valid datetime (RFC 3339, e.g. 2026-11-26T05:00:00Z), got {value:?}"
            ),
            "datetime_parsing",
        ));
    };
    if !(MIN_DATETIME_YEAR..=MAX_DATETIME_YEAR).contains(&dt.year()) {
        return Err(ApiError::invalid_query(
            name,
            format!(
                "Input should be a datetime in the years {MIN_DATETIME_YEAR} to {MAX_DATETIME_YEAR} (UTC), got {value:?}"
            ),
            "datetime_out_of_range",
        ));
    }
    Ok(Some(dt))
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

/// `LOWER(expr) LIKE ? ESCAPE '\'`: `expr` contains a lowercase [`contains_pattern`], in any
/// case. On SQLite that is `expr LIKE ?`: its LIKE ignores case in the ASCII range and its
/// LOWER changes nothing outside it, so LOWER() adds only a function call per row (a third
/// of a search's time counting 160,000 adverts).
///
/// ```
/// use hub_api::params::lower_like;
/// use sea_orm::DbBackend;
/// assert_eq!(lower_like(DbBackend::Sqlite, "m.text"), r"m.text LIKE ? ESCAPE '\'");
/// assert_eq!(lower_like(DbBackend::Postgres, "m.text"), r"LOWER(m.text) LIKE ? ESCAPE '\'");
/// ```
pub fn lower_like(backend: sea_orm::DbBackend, expr: &str) -> String {
    match backend {
        sea_orm::DbBackend::Sqlite => format!("{expr} LIKE ? ESCAPE '\\'"),
        _ => format!("LOWER({expr}) LIKE ? ESCAPE '\\'"),
    }
}

/// A `LIKE` pattern matching values that start with `text`, escaped like [`contains_pattern`].
pub fn prefix_pattern(text: &str) -> String {
    let mut pattern = contains_pattern(text);
    pattern.remove(0);
    pattern
}

/// Most distinct values a repeatable or comma-list parameter may carry.
///
/// Each value becomes one bound SQL parameter; without a cap a long query string could pass
/// SQLite's parameter limit and turn a client mistake into a 500.
pub const MAX_LIST_VALUES: usize = 100;

/// A 422 when a list parameter carries more than [`MAX_LIST_VALUES`] non-blank items.
///
/// Counted on the raw items, before any trimming, lowercasing or de-duplication, so that
/// the refusal of a huge list costs one pass over its text and nothing else.
pub fn check_list_count(
    name: &'static str,
    items: impl IntoIterator<Item = impl AsRef<str>>,
) -> Result<(), ApiError> {
    let count = items
        .into_iter()
        .filter(|item| !item.as_ref().trim().is_empty())
        .count();
    if count > MAX_LIST_VALUES {
        return Err(ApiError::invalid_query(
            name,
            format!("List should have at most {MAX_LIST_VALUES} items, not {count}"),
            "too_long",
        ));
    }
    Ok(())
}

/// Values of a repeatable or comma-list parameter, each passed through `normalize` (`None`
/// drops it), duplicates removed (first occurrence kept, in linear time). More than
/// [`MAX_LIST_VALUES`] non-blank items is a 422 (see [`check_list_count`]).
pub fn distinct_list<S: AsRef<str>>(
    name: &'static str,
    values: impl IntoIterator<Item = S> + Clone,
    normalize: impl Fn(&str) -> Option<String>,
) -> Result<Vec<String>, ApiError> {
    check_list_count(name, values.clone())?;
    let mut seen = std::collections::HashSet::new();
    Ok(values
        .into_iter()
        .filter_map(|value| normalize(value.as_ref()))
        .filter(|value| seen.insert(value.clone()))
        .collect())
}

/// Values of a repeatable or comma-list parameter: trimmed, lowercased, blanks dropped,
/// duplicates removed (first occurrence kept). More than [`MAX_LIST_VALUES`] is a 422.
pub fn lowercase_list<S: AsRef<str>>(
    name: &'static str,
    values: impl IntoIterator<Item = S> + Clone,
) -> Result<Vec<String>, ApiError> {
    distinct_list(name, values, |value| lowercase(Some(value)))
}

/// Which end of an inclusive range a datetime parameter bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// `column >= value` (`since`).
    Lower,
    /// `column <= value` (`until`).
    Upper,
}

/// `dt` as the value to compare a DATETIME column with, inclusively at `bound`.
///
/// PostgreSQL compares timestamps, so it gets the datetime itself. SQLite stores the naive
/// UTC text and compares text: rows written by MeshCore Hub carry six fraction digits
/// (`2026-11-26 05:00:00.000000`) while SQL defaults write none (`2026-11-26 05:00:00`), and
/// the driver's own encoding (`%.f`: 0, 3, 6 or 9 digits) would compare wrongly with one or
/// the other at an exact match. So the text is chosen per bound: a lower bound drops a zero
/// fraction (the shortest text of that instant sorts first), an upper bound always has six
/// digits (the longest text of that instant sorts last). Sub-microsecond parts, which no row
/// stores, are rounded inwards.
pub fn datetime_bound(
    backend: sea_orm::DbBackend,
    dt: NaiveDateTime,
    bound: Bound,
) -> sea_orm::Value {
    use chrono::{Duration, Timelike};
    let truncated = dt
        .with_nanosecond(dt.nanosecond() / 1_000 * 1_000)
        .unwrap_or(dt);
    let dt = if bound == Bound::Lower && truncated != dt {
        truncated + Duration::microseconds(1)
    } else {
        truncated
    };
    if backend == sea_orm::DbBackend::Sqlite && bound == Bound::Lower && dt.nanosecond() == 0 {
        return dt.format("%Y-%m-%d %H:%M:%S").to_string().into();
    }
    hub_core::time::db_time(backend, hub_core::time::Timestamp(dt))
}

/// A custom SQL expression with `?` placeholders bound to `values`, for `backend`.
///
/// sea-query's `Expr::cust_with_values` only recognises the backend's own placeholder: `?`
/// on SQLite, but `$1, $2, ...` on PostgreSQL, where a `?` is passed through literally and
/// the statement fails. Templates here use `?` throughout; for PostgreSQL each `?` outside a
/// quoted literal becomes `$n` (in order) and a literal `$` becomes `$$`.
///
/// ```
/// use sea_orm::DbBackend;
/// use sea_orm::sea_query::{PostgresQueryBuilder, Query, SqliteQueryBuilder};
/// let select = |backend| {
///     Query::select()
///         .expr(hub_api::params::sql(backend, "LOWER(?) LIKE ? ESCAPE '\\'", ["A", "a%"]))
///         .to_owned()
/// };
/// assert_eq!(
///     select(DbBackend::Sqlite).to_string(SqliteQueryBuilder),
///     r"SELECT LOWER('A') LIKE 'a%' ESCAPE '\'"
/// );
/// assert_eq!(
///     select(DbBackend::Postgres).to_string(PostgresQueryBuilder),
///     r"SELECT LOWER('A') LIKE 'a%' ESCAPE '\'"
/// );
/// ```
pub fn sql<V: Into<sea_orm::Value>>(
    backend: sea_orm::DbBackend,
    template: &str,
    values: impl IntoIterator<Item = V>,
) -> sea_orm::sea_query::Expr {
    sea_orm::sea_query::Expr::cust_with_values(placeholders(backend, template), values)
}

/// `template` with each `?` outside a quoted literal written as `backend`'s placeholder
/// (see [`sql`]), for a whole statement.
pub fn placeholders(backend: sea_orm::DbBackend, template: &str) -> String {
    if backend != sea_orm::DbBackend::Postgres {
        return template.to_string();
    }
    let mut text = String::with_capacity(template.len() + 8);
    let mut quoted = false;
    let mut n = 0;
    for c in template.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                text.push(c);
            }
            '?' if !quoted => {
                n += 1;
                text.push_str(&format!("${n}"));
            }
            '$' if !quoted => text.push_str("$$"),
            _ => text.push(c),
        }
    }
    text
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
    #[test]
    fn lists_are_lowercased_deduplicated_and_capped() {
        assert_eq!(
            lowercase_list("observed_by", [" AB ", "ab", "", "cd"]).unwrap(),
            vec!["ab".to_string(), "cd".to_string()]
        );
        let many: Vec<String> = (0..=MAX_LIST_VALUES).map(|i| i.to_string()).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert!(lowercase_list("observed_by", many.iter().copied()).is_err());
        assert!(lowercase_list("observed_by", many[1..].iter().copied()).is_ok());
        // Counted before de-duplication: the refusal never depends on the items' values.
        assert!(lowercase_list("observed_by", vec!["a"; MAX_LIST_VALUES + 1]).is_err());
    }

    #[test]
    fn sqlite_datetime_bounds_match_both_stored_shapes() {
        use sea_orm::{DbBackend, Value};
        let at = |text: &str| hub_core::time::parse_datetime_param(text).unwrap();
        let text = |v: Value| match v {
            Value::String(Some(s)) => s.to_string(),
            other => panic!("not text: {other:?}"),
        };
        let lower = |t| text(datetime_bound(DbBackend::Sqlite, at(t), Bound::Lower));
        let upper = |t| text(datetime_bound(DbBackend::Sqlite, at(t), Bound::Upper));
        assert_eq!(lower("2026-11-26T05:00:00Z"), "2026-11-26 05:00:00");
        assert_eq!(upper("2026-11-26T05:00:00Z"), "2026-11-26 05:00:00.000000");
        assert_eq!(
            lower("2026-11-26T05:00:00.5Z"),
            "2026-11-26 05:00:00.500000"
        );
        assert_eq!(
            upper("2026-11-26T05:00:00.5Z"),
            "2026-11-26 05:00:00.500000"
        );
        // Rounded inwards: never admits a row outside the range.
        assert_eq!(
            lower("2026-11-26T05:00:00.0000001Z"),
            "2026-11-26 05:00:00.000001"
        );
        assert_eq!(
            upper("2026-11-26T05:00:00.0000019Z"),
            "2026-11-26 05:00:00.000001"
        );
        // Both stored shapes of the same instant fall inside [lower, upper].
        for stored in ["2026-11-26 05:00:00", "2026-11-26 05:00:00.000000"] {
            assert!(stored >= lower("2026-11-26T05:00:00Z").as_str());
            assert!(stored <= upper("2026-11-26T05:00:00Z").as_str());
        }
        assert!(matches!(
            datetime_bound(
                DbBackend::Postgres,
                at("2026-11-26T05:00:00Z"),
                Bound::Lower
            ),
            Value::ChronoDateTime(_)
        ));
    }
    #[test]
    fn custom_sql_binds_in_order_on_both_backends() {
        use sea_orm::DbBackend;
        use sea_orm::sea_query::{PostgresQueryBuilder, Query, SqliteQueryBuilder};
        let template = "(x = ? AND y IN (?, ?) AND z = '?' AND w LIKE ? ESCAPE '\\')";
        let values = ["a", "b", "c", "d%"];
        let want = r"SELECT (x = 'a' AND y IN ('b', 'c') AND z = '?' AND w LIKE 'd%' ESCAPE '\')";
        let pg = Query::select()
            .expr(sql(DbBackend::Postgres, template, values))
            .to_owned();
        assert_eq!(pg.to_string(PostgresQueryBuilder), want);
        let (text, bound) = pg.build(PostgresQueryBuilder);
        assert!(text.contains("$1") && text.contains("$4"), "{text}");
        assert_eq!(bound.0.len(), 4);
        let lite = Query::select()
            .expr(sql(DbBackend::Sqlite, template, values))
            .to_owned();
        assert_eq!(lite.to_string(SqliteQueryBuilder), want);
    }
}
