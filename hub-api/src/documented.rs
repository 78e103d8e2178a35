//! Query parameters whose accepted values the OpenAPI document states, while the handler
//! keeps checking them itself.
//!
//! A plain `Query<Option<String>>` documents "any string", yet a boolean or datetime parameter
//! refuses most strings: the document would allow requests the handler rejects. poem-openapi's
//! validators would state the format, but they reject a value before the handler runs, with
//! their own 422 text instead of the contract's (`bool_parsing`, `datetime_parsing`, ...). A
//! [`Documented<F>`] parameter is a string that always parses (the handler still reports
//! a bad value with its own 422), whose schema carries `F`'s pattern or format.

use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{ParseFromParameter, ParseResult, Type};
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

/// A boolean as `params::parse_bool` reads it: true/false/t/f/yes/no/y/n/on/off/1/0 in any
/// case, surrounding spaces ignored.
pub struct BoolText;

impl TextFormat for BoolText {
    const NAME: &'static str = "bool";

    fn schema() -> MetaSchema {
        MetaSchema {
            pattern: Some(
                r"^\s*([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|[Yy][Ee][Ss]|[Nn][Oo]|[Oo][Nn]|[Oo][Ff][Ff]|[TtFfYyNn01])\s*$"
                    .into(),
            ),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Each word `params::parse_bool` accepts matches the pattern, and each it refuses does
    /// not.
    #[test]
    fn the_bool_pattern_states_what_parse_bool_accepts() {
        let pattern = BoolText::schema().pattern.unwrap();
        let regex = regex::Regex::new(&pattern).unwrap();
        for text in ["true", "FALSE", " Yes ", "n", "0", "1", "On", "oFF", "t", "Y"] {
            assert!(regex.is_match(text), "{text:?}");
            assert!(crate::params::parse_bool("x", Some(text)).is_ok(), "{text:?}");
        }
        for text in ["", " ", "2", "tru", "yess", "null", "true false"] {
            assert!(!regex.is_match(text), "{text:?}");
            assert!(crate::params::parse_bool("x", Some(text)).is_err(), "{text:?}");
        }
    }
}
