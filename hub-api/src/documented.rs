//! Parameters and body fields whose accepted values the OpenAPI document states, while the
//! handler keeps checking them itself.
//!
//! A plain `Query<Option<String>>` documents "any string", yet a boolean or datetime parameter
//! refuses most strings: the document would allow requests the handler rejects. poem-openapi's
//! validators would state the format, but they reject a value before the handler runs, with
//! their own 422 text instead of the contract's (`bool_parsing`, `datetime_parsing`, ...). A
//! [`Documented<F>`] parameter is a string that always parses (the handler still reports
//! a bad value with its own 422), whose schema carries `F`'s pattern or format.
//!
//! Write bodies are validated by hand like Pydantic's lax mode (`body.rs`), which takes
//! `"yes"` or `1` for a boolean and `"12"` or `12.0` for an integer. Their schema types
//! ([`LaxBool`], [`LaxInt`]) state those forms too, so a value the handler accepts is never
//! "schema-invalid" and one the schema allows is never refused.

use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{ParseFromJSON, ParseFromParameter, ParseResult, ToJSON, Type};
use serde_json::Value;
use std::borrow::Cow;
use std::marker::PhantomData;
use std::ops::Deref;

/// The accepted values of a [`Documented`] parameter, as the OpenAPI schema states them.
pub trait TextFormat: Send + Sync + 'static {
    /// The schema's name, unique per format.
    const NAME: &'static str;
    /// The string schema: a `pattern` (ECMA-262) or a `format`.
    fn schema() -> MetaSchema;
}

/// A query parameter's raw text, documented with `F`'s schema. Derefs to `str`.
pub struct Documented<F> {
    text: String,
    // `fn() -> F`: a marker that keeps the type Send + Sync; no `F` is stored.
    _format: PhantomData<fn() -> F>,
}

impl<F> Documented<F> {
    /// The text as received.
    pub fn new(text: impl Into<String>) -> Self {
        Documented {
            text: text.into(),
            _format: PhantomData,
        }
    }
}

impl<F> Deref for Documented<F> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.text
    }
}

impl<F> std::fmt::Debug for Documented<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.text.fmt(f)
    }
}

impl<F: TextFormat> Type for Documented<F> {
    const IS_REQUIRED: bool = true;
    type RawValueType = String;
    type RawElementValueType = String;

    fn name() -> Cow<'static, str> {
        format!("string_{}", F::NAME).into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(F::schema()))
    }

    fn as_raw_value(&self) -> Option<&String> {
        Some(&self.text)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a String> + 'a> {
        Box::new(std::iter::once(&self.text))
    }
}

impl<F: TextFormat> ParseFromParameter for Documented<F> {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        Ok(Documented::new(value))
    }
}

/// What `str::trim` removes around a value, as a pattern. `\s` would not do: schemathesis
/// (Python's `re`) reads it as more characters than Rust trims.
const SPACES: &str = r"[\t\n\x0B\x0C\r ]*";

/// A string schema holding `pattern` between optional [`SPACES`].
fn trimmed_pattern(pattern: &str) -> MetaSchema {
    MetaSchema {
        pattern: Some(format!("^{SPACES}{pattern}{SPACES}$")),
        ..MetaSchema::new("string")
    }
}

/// A boolean as `params::parse_bool` reads it: true/false/t/f/yes/no/y/n/on/off/1/0 in any
/// case, surrounding spaces ignored.
pub struct BoolText;

impl TextFormat for BoolText {
    const NAME: &'static str = "bool";

    fn schema() -> MetaSchema {
        trimmed_pattern(
            "([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|[Yy][Ee][Ss]|[Nn][Oo]|[Oo][Nn]|[Oo][Ff][Ff]|[TtFfYyNn01])",
        )
    }
}

/// A comma list of integers (`packets`' `packet_type`): blank items are skipped. At most 18
/// digits, so every value the pattern allows fits an `i64`.
pub struct IntegerListText;

impl TextFormat for IntegerListText {
    const NAME: &'static str = "integer_list";

    fn schema() -> MetaSchema {
        let item = format!("{SPACES}(-?[0-9]{{1,18}})?{SPACES}");
        MetaSchema {
            pattern: Some(format!("^{item}(,{item})*$")),
            ..MetaSchema::new("string")
        }
    }
}

/// A datetime as `params::parse_datetime` reads it. The schema states RFC 3339
/// (`format: date-time`), which is always accepted; the handler also accepts a space for
/// `T`, no offset (UTC) and a bare date.
pub struct DateTimeText;

impl TextFormat for DateTimeText {
    const NAME: &'static str = "datetime";

    fn schema() -> MetaSchema {
        MetaSchema::new_with_format("string", "date-time")
    }
}

/// A boolean query parameter.
pub type BoolParam = Documented<BoolText>;
/// A datetime query parameter.
pub type DateTimeParam = Documented<DateTimeText>;
/// A comma list of integers.
pub type IntegerListParam = Documented<IntegerListText>;

/// The schema of a write-body field that the handler validates itself.
pub trait BodySchema: Send + Sync + 'static {
    /// The schema's name, unique per schema.
    fn name() -> String;
    /// The schema.
    fn schema() -> MetaSchema;
}

/// A write-body field documented with `S`'s schema. Bodies are read by
/// [`crate::body::JsonBody`], which uses the body type only for the document, so this holds
/// the JSON value as sent.
pub struct BodyValue<S> {
    value: Value,
    _schema: PhantomData<fn() -> S>,
}

impl<S> std::fmt::Debug for BodyValue<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.value.fmt(f)
    }
}

impl<S> Clone for BodyValue<S> {
    fn clone(&self) -> Self {
        BodyValue {
            value: self.value.clone(),
            _schema: PhantomData,
        }
    }
}

impl<S: BodySchema> Type for BodyValue<S> {
    const IS_REQUIRED: bool = true;
    type RawValueType = Value;
    type RawElementValueType = Value;

    fn name() -> Cow<'static, str> {
        S::name().into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(S::schema()))
    }

    fn as_raw_value(&self) -> Option<&Value> {
        Some(&self.value)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Value> + 'a> {
        Box::new(std::iter::once(&self.value))
    }
}

impl<S: BodySchema> ParseFromJSON for BodyValue<S> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        Ok(BodyValue {
            value: value.unwrap_or_default(),
            _schema: PhantomData,
        })
    }
}

impl<S: BodySchema> ToJSON for BodyValue<S> {
    fn to_json(&self) -> Option<Value> {
        Some(self.value.clone())
    }
}

fn any_of(branches: Vec<MetaSchema>) -> MetaSchema {
    MetaSchema {
        any_of: branches
            .into_iter()
            .map(|b| MetaSchemaRef::Inline(Box::new(b)))
            .collect(),
        ..MetaSchema::ANY
    }
}

fn with_enum(mut schema: MetaSchema, values: &[Value]) -> MetaSchema {
    schema.enum_items = values.to_vec();
    schema
}

/// Pydantic's lax boolean, as `body.rs` reads it: `true`/`false`, the numbers 0 and 1, and
/// the words true/false/t/f/yes/no/y/n/on/off/1/0 in any case.
pub struct LaxBoolSchema;

impl BodySchema for LaxBoolSchema {
    fn name() -> String {
        "lax_bool".into()
    }

    fn schema() -> MetaSchema {
        any_of(vec![
            MetaSchema::new("boolean"),
            with_enum(MetaSchema::new("number"), &[0.into(), 1.into()]),
            MetaSchema {
                pattern: Some(
                    "^([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|[Yy][Ee][Ss]|[Nn][Oo]|[Oo][Nn]|[Oo][Ff][Ff]|[TtFfYyNn01])$"
                        .into(),
                ),
                ..MetaSchema::new("string")
            },
        ])
    }
}

/// Pydantic's lax integer in `MIN..=MAX`, as `mesh_routes/body.rs` reads it: an integer, a
/// whole number, a decimal string (spaces around it are ignored), or a boolean as 0/1.
pub struct LaxIntSchema<const MIN: i64, const MAX: i64>;

impl<const MIN: i64, const MAX: i64> BodySchema for LaxIntSchema<MIN, MAX> {
    fn name() -> String {
        format!("lax_int_{MIN}_{MAX}").replace('-', "minus")
    }

    fn schema() -> MetaSchema {
        let bounded = |ty: &'static str| MetaSchema {
            minimum: Some(MIN as f64),
            maximum: Some(MAX as f64),
            ..MetaSchema::new(ty)
        };
        let mut decimal = Vec::new();
        if MAX >= 0 {
            decimal.push(format!(
                "\\+?{}",
                range_pattern(MIN.max(0) as u64, MAX as u64)
            ));
        }
        if MIN < 0 {
            decimal.push(format!(
                "-{}",
                range_pattern(MAX.min(-1).unsigned_abs(), MIN.unsigned_abs())
            ));
        }
        let mut branches = vec![
            bounded("integer"),
            MetaSchema {
                multiple_of: Some(1.0),
                ..bounded("number")
            },
            MetaSchema {
                pattern: Some(format!("^{SPACES}(?:{}){SPACES}$", decimal.join("|"))),
                ..MetaSchema::new("string")
            },
        ];
        let booleans: Vec<Value> = [false, true]
            .into_iter()
            .filter(|b| (MIN..=MAX).contains(&i64::from(*b)))
            .map(Value::from)
            .collect();
        if !booleans.is_empty() {
            branches.push(with_enum(MetaSchema::new("boolean"), &booleans));
        }
        any_of(branches)
    }
}

/// A pattern matching exactly the decimal numbers `low..=high` written without a sign or
/// leading zeros. `low` may be above `high` only for a negative range's magnitudes, where
/// the pair is swapped.
pub fn range_pattern(low: u64, high: u64) -> String {
    let (low, high) = if low <= high {
        (low, high)
    } else {
        (high, low)
    };
    let mut parts = Vec::new();
    let mut start = low;
    // One part per digit count: 0-9, 10-99, 100-999, ...
    while start <= high {
        let digits = start.to_string().len() as u32;
        let top = 10u64
            .checked_pow(digits)
            .map_or(u64::MAX, |p| p - 1)
            .min(high);
        parts.push(same_length(&start.to_string(), &top.to_string()));
        match top.checked_add(1) {
            Some(next) => start = next,
            None => break,
        }
    }
    format!("(?:{})", parts.join("|"))
}

/// A pattern for the numbers `low..=high`, both written with the same number of digits.
fn same_length(low: &str, high: &str) -> String {
    let (Some(l), Some(h)) = (low.chars().next(), high.chars().next()) else {
        return String::new();
    };
    let rest = low.len() - 1;
    if l == h {
        return format!("{l}{}", same_length(&low[1..], &high[1..]));
    }
    if low[1..].chars().all(|c| c == '0') && high[1..].chars().all(|c| c == '9') {
        return format!("[{l}-{h}]{}", any_digits(rest));
    }
    let mut parts = vec![format!("{l}{}", same_length(&low[1..], &"9".repeat(rest)))];
    let (next, last) = (char::from(l as u8 + 1), char::from(h as u8 - 1));
    if next <= last {
        parts.push(format!("[{next}-{last}]{}", any_digits(rest)));
    }
    parts.push(format!("{h}{}", same_length(&"0".repeat(rest), &high[1..])));
    format!("(?:{})", parts.join("|"))
}

fn any_digits(count: usize) -> String {
    match count {
        0 => String::new(),
        1 => "[0-9]".into(),
        n => format!("[0-9]{{{n}}}"),
    }
}

/// A lax boolean body field.
pub type LaxBool = BodyValue<LaxBoolSchema>;
/// A lax integer body field in `MIN..=MAX`.
pub type LaxInt<const MIN: i64, const MAX: i64> = BodyValue<LaxIntSchema<MIN, MAX>>;
/// A lax integer body field anywhere in a 32-bit column's range.
pub type LaxI32 = LaxInt<{ i32::MIN as i64 }, { i32::MAX as i64 }>;

#[cfg(test)]
mod tests {
    use super::*;

    fn regex<F: TextFormat>() -> regex::Regex {
        regex::Regex::new(&F::schema().pattern.expect("a pattern")).expect("a valid pattern")
    }

    /// Each word `params::parse_bool` accepts matches the pattern, and each it refuses does
    /// not.
    #[test]
    fn the_bool_pattern_states_what_parse_bool_accepts() {
        let regex = regex::<BoolText>();
        for text in [
            "true", "FALSE", " Yes ", "n", "0", "1", "On", "oFF", "t", "Y", "\ttrue\n",
        ] {
            assert!(regex.is_match(text), "{text:?}");
            assert!(
                crate::params::parse_bool("x", Some(text)).is_ok(),
                "{text:?}"
            );
        }
        for text in [
            "",
            " ",
            "2",
            "tru",
            "yess",
            "null",
            "true false",
            "\u{1c}true",
        ] {
            assert!(!regex.is_match(text), "{text:?}");
            assert!(
                crate::params::parse_bool("x", Some(text)).is_err(),
                "{text:?}"
            );
        }
    }

    #[test]
    fn the_integer_list_pattern_allows_signed_integers_and_blank_items() {
        let regex = regex::<IntegerListText>();
        for text in ["", "4", "-1,2", " 1 , ,3 ", ",", "999999999999999999"] {
            assert!(regex.is_match(text), "{text:?}");
        }
        for text in ["a", "1.5", "-", "+1", "1 2", "9999999999999999999"] {
            assert!(!regex.is_match(text), "{text:?}");
        }
    }

    #[test]
    fn range_patterns_match_exactly_their_range() {
        for (low, high) in [
            (0, 9),
            (1, 3),
            (1, 720),
            (1, 10000),
            (0, 1),
            (7, 7),
            (95, 1203),
        ] {
            let regex = regex::Regex::new(&format!("^{}$", range_pattern(low, high))).unwrap();
            for n in 0..=12000u64 {
                assert_eq!(
                    regex.is_match(&n.to_string()),
                    (low..=high).contains(&n),
                    "{n} in {low}..={high}"
                );
            }
            assert!(!regex.is_match(&format!("0{low}")), "leading zero");
        }
        let full = regex::Regex::new(&format!("^{}$", range_pattern(1, i32::MAX as u64))).unwrap();
        for n in ["1", "2147483647", "999999999", "2147483639"] {
            assert!(full.is_match(n), "{n}");
        }
        for n in ["0", "2147483648", "9999999999", "21474836470"] {
            assert!(!full.is_match(n), "{n}");
        }
    }

    #[test]
    fn lax_int_strings_follow_the_bounds_and_signs() {
        let pattern = |schema: MetaSchema| match &schema.any_of[2] {
            MetaSchemaRef::Inline(s) => regex::Regex::new(s.pattern.as_ref().unwrap()).unwrap(),
            MetaSchemaRef::Reference(_) => unreachable!(),
        };
        let width = pattern(LaxIntSchema::<1, 3>::schema());
        for text in ["1", " +3 ", "2"] {
            assert!(width.is_match(text), "{text:?}");
        }
        for text in ["0", "4", "-1", "1.0", ""] {
            assert!(!width.is_match(text), "{text:?}");
        }
        let any = pattern(LaxIntSchema::<{ i32::MIN as i64 }, { i32::MAX as i64 }>::schema());
        for text in ["0", "-2147483648", "2147483647", "-5"] {
            assert!(any.is_match(text), "{text:?}");
        }
        for text in ["-2147483649", "2147483648", "--1"] {
            assert!(!any.is_match(text), "{text:?}");
        }
    }
}
