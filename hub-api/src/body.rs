//! JSON request bodies of the write endpoints, validated by hand.
//!
//! MeshCore Hub answers a bad body with FastAPI's 422 list (docs/contract/api-2.md section 0.2): one entry
//! per failing field with an exact `type`, `loc`, `msg`, `input` and `ctx`, lax coercion of
//! ints and bools, unknown keys ignored. poem-openapi's `Json<T>` has its own error shape and
//! would also parse the body before the handler's auth checks, while the contract checks
//! auth first (section 0.1). So a write takes a [`JsonBody<T>`]: the OpenAPI document shows
//! `T` as the `application/json` request schema, but extraction only reads the bytes and never
//! fails; the handler checks auth, then calls [`JsonBody::object`] and validates the fields
//! with a [`Fields`] validator, which collects the errors in field order like Pydantic.

use crate::error::ApiError;
use poem::{Request, RequestBody};
use poem_openapi::registry::{MetaMediaType, MetaRequest, Registry};
use poem_openapi::types::Type;
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};
use serde_json::{Map, Value, json};
use std::marker::PhantomData;

/// An error with a text: `{"detail": "<text>"}`.
#[derive(Debug, Clone, poem_openapi::Object)]
pub struct ErrorText {
    /// What went wrong.
    pub detail: String,
}

/// One entry of a body validation 422, as FastAPI writes it.
#[derive(Debug, Clone, poem_openapi::Object)]
pub struct BodyIssue {
    /// The error kind, e.g. `missing`, `string_too_long`, `literal_error`, `value_error`.
    #[oai(rename = "type")]
    pub kind: String,
    /// Where: `["body"]`, `["body", "<field>"]` or `["body", <char offset>]` for bad JSON.
    pub loc: Vec<Value>,
    /// What is wrong, for a person.
    pub msg: String,
    /// The rejected value (the whole body for a missing field).
    pub input: Value,
    /// Limits or causes, e.g. `{"max_length": 100}`; absent for some kinds.
    #[oai(nullable)]
    pub ctx: Option<Value>,
}

/// A body validation 422: `{"detail": [...]}`.
#[derive(Debug, Clone, poem_openapi::Object)]
pub struct BodyErrors {
    /// One entry per failing field, in field order.
    pub detail: Vec<BodyIssue>,
}

/// Largest JSON write body accepted (1 MiB); the largest real one, a route with its
/// patterns, is a few kilobytes.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The raw body of a JSON write, documented in OpenAPI as `T`.
pub struct JsonBody<T> {
    content_type: Option<String>,
    bytes: Vec<u8>,
    _schema: PhantomData<T>,
}

impl<T> JsonBody<T> {
    /// A body as received (for unit tests).
    pub fn new(content_type: Option<&str>, bytes: impl Into<Vec<u8>>) -> Self {
        JsonBody {
            content_type: content_type.map(str::to_string),
            bytes: bytes.into(),
            _schema: PhantomData,
        }
    }

    /// The body as a JSON object, or the 422 FastAPI gives for it.
    ///
    /// Like FastAPI: a body without a content type, or with `application/json` or
    /// `application/*+json`, is parsed as JSON; any other content type leaves it as text,
    /// which then is not an object. An empty body or `null` is a missing body.
    pub fn object(&self) -> Result<Map<String, Value>, ApiError> {
        if self.bytes.is_empty() {
            return Err(body_error(json!({
                "type": "missing", "loc": ["body"], "msg": "Field required", "input": null
            })));
        }
        let value = if self.content_type.as_deref().is_none_or(is_json_type) {
            parse_json(&self.bytes)?
        } else {
            Value::String(String::from_utf8_lossy(&self.bytes).into_owned())
        };
        match value {
            Value::Object(map) => match nul_location(&map) {
                // PostgreSQL cannot store a NUL in text (SQLite can): refused on both alike.
                Some((loc, input)) => Err(body_error(json!({
                    "type": crate::input_guard::NUL_KIND,
                    "loc": loc,
                    "msg": crate::input_guard::NUL_MESSAGE,
                    "input": input,
                }))),
                None => Ok(map),
            },
            Value::Null => Err(body_error(json!({
                "type": "missing", "loc": ["body"], "msg": "Field required", "input": null
            }))),
            other => Err(body_error(json!({
                "type": "model_attributes_type",
                "loc": ["body"],
                "msg": "Input should be a valid dictionary or object to extract fields from",
                "input": other,
            }))),
        }
    }
}

/// Whether a content type is JSON for FastAPI: `application/json` or `application/*+json`.
fn is_json_type(content_type: &str) -> bool {
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match mime.split_once('/') {
        Some(("application", sub)) => sub == "json" || sub.ends_with("+json"),
        _ => false,
    }
}

/// Parses JSON text, mapping a syntax error to FastAPI's `json_invalid` entry.
///
/// The position is the character offset where the parser stopped, and the message the
/// nearest Python `json` message for serde_json's error category (best effort: both parsers
/// stop at the same place for the usual mistakes, but their wording differs).
fn parse_json(bytes: &[u8]) -> Result<Value, ApiError> {
    let text = String::from_utf8_lossy(bytes);
    serde_json::from_str::<Value>(&text).map_err(|err| {
        let offset = char_offset(&text, err.line(), err.column());
        let description = err.to_string();
        let message = if description.starts_with("trailing characters") {
            "Extra data"
        } else if description.starts_with("key must be a string") {
            "Expecting property name enclosed in double quotes"
        } else if description.starts_with("expected `:`") {
            "Expecting ':' delimiter"
        } else if description.starts_with("expected `,`") {
            "Expecting ',' delimiter"
        } else if description.starts_with("EOF while parsing a string") {
            "Unterminated string starting at"
        } else {
            "Expecting value"
        };
        body_error(json!({
            "type": "json_invalid",
            "loc": ["body", offset],
            "msg": "JSON decode error",
            "input": {},
            "ctx": {"error": message},
        }))
    })
}

/// 0-based character offset of serde_json's 1-based (line, column) position.
fn char_offset(text: &str, line: usize, column: usize) -> usize {
    let mut offset = 0;
    for (index, content) in text.split('\n').enumerate() {
        if index + 1 == line {
            return offset + column.saturating_sub(1).min(content.chars().count());
        }
        offset += content.chars().count() + 1;
    }
    text.chars().count()
}

/// Where the first NUL character of `map` is (in a key or in a string at any depth), as a
/// `loc` starting with `body`, and the value holding it.
fn nul_location(map: &Map<String, Value>) -> Option<(Vec<Value>, Value)> {
    fn in_value(value: &Value, loc: &mut Vec<Value>) -> Option<Value> {
        match value {
            Value::String(text) => text.contains('\0').then(|| value.clone()),
            Value::Array(items) => items.iter().enumerate().find_map(|(index, item)| {
                loc.push(index.into());
                let found = in_value(item, loc);
                if found.is_none() {
                    loc.pop();
                }
                found
            }),
            Value::Object(map) => in_map(map, loc),
            _ => None,
        }
    }
    fn in_map(map: &Map<String, Value>, loc: &mut Vec<Value>) -> Option<Value> {
        map.iter().find_map(|(key, item)| {
            loc.push(key.clone().into());
            if key.contains('\0') {
                return Some(Value::String(key.clone()));
            }
            let found = in_value(item, loc);
            if found.is_none() {
                loc.pop();
            }
            found
        })
    }
    let mut loc = vec![Value::from("body")];
    let input = in_map(map, &mut loc)?;
    Some((loc, input))
}

/// A 422 with one entry.
fn body_error(entry: Value) -> ApiError {
    ApiError::Body(vec![entry])
}

impl<'a, T: Type> ApiExtractor<'a> for JsonBody<T> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn request_meta() -> Option<MetaRequest> {
        Some(MetaRequest {
            description: None,
            content: vec![MetaMediaType {
                content_type: "application/json",
                schema: T::schema_ref(),
            }],
            required: true,
        })
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        let bytes = match body.take() {
            // A 413 past the limit: without it, one request could make the server buffer
            // as much memory as the client cares to send.
            Ok(body) => body.into_bytes_limit(MAX_BODY_BYTES).await?.to_vec(),
            Err(_) => Vec::new(),
        };
        Ok(JsonBody {
            content_type: request
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            bytes,
            _schema: PhantomData,
        })
    }
}

/// A field's state in the body: absent, an explicit `null`, or a valid value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field<T> {
    /// The key is not in the body (or its value was invalid; the request then fails anyway).
    Absent,
    /// The key is present with `null`.
    Null,
    /// The key is present with a valid value.
    Value(T),
}

impl<T> Field<T> {
    /// The value, if any (absent and null both give `None`).
    pub fn value(self) -> Option<T> {
        match self {
            Field::Value(v) => Some(v),
            _ => None,
        }
    }

    /// Whether the key was in the body.
    pub fn is_present(&self) -> bool {
        !matches!(self, Field::Absent)
    }
}

/// Pydantic's length message: `at least 1 character`, `at most 100 characters`.
fn characters(n: usize) -> String {
    if n == 1 {
        "1 character".to_string()
    } else {
        format!("{n} characters")
    }
}

/// Field-by-field validation of a body object, collecting Pydantic-style errors.
pub struct Fields<'a> {
    body: &'a Map<String, Value>,
    errors: Vec<Value>,
}

impl<'a> Fields<'a> {
    /// A validator over `body`.
    pub fn new(body: &'a Map<String, Value>) -> Self {
        Fields {
            body,
            errors: Vec::new(),
        }
    }

    /// Records an error at `["body", name]`.
    pub fn error(&mut self, name: &str, kind: &str, msg: &str, input: &Value, ctx: Option<Value>) {
        let mut entry = json!({ "type": kind, "loc": ["body", name], "msg": msg, "input": input });
        if let Some(ctx) = ctx {
            entry["ctx"] = ctx;
        }
        self.errors.push(entry);
    }

    /// Records a field validator's failure: `Value error, <text>`.
    pub fn value_error(&mut self, name: &str, text: &str, input: &Value) {
        self.error(
            name,
            "value_error",
            &format!("Value error, {text}"),
            input,
            Some(json!({"error": {}})),
        );
    }

    /// A required field's value: records `missing` (input = the whole body) when absent.
    fn required(&mut self, name: &str) -> Option<&'a Value> {
        let value = self.body.get(name);
        if value.is_none() {
            let body = Value::Object(self.body.clone());
            self.error(name, "missing", "Field required", &body, None);
        }
        value
    }

    /// A required string of `min..=max` characters (`null` is a `string_type` error).
    pub fn required_str(&mut self, name: &str, min: usize, max: usize) -> Option<String> {
        let value = self.required(name)?;
        self.check_str(name, value, min, max)
    }

    /// An optional string of `min..=max` characters; `nullable` allows an explicit `null`.
    pub fn optional_str(
        &mut self,
        name: &str,
        min: usize,
        max: usize,
        nullable: bool,
    ) -> Field<String> {
        match self.body.get(name) {
            None => Field::Absent,
            Some(Value::Null) if nullable => Field::Null,
            Some(value) => self
                .check_str(name, value, min, max)
                .map_or(Field::Absent, Field::Value),
        }
    }

    fn check_str(&mut self, name: &str, value: &Value, min: usize, max: usize) -> Option<String> {
        let Value::String(text) = value else {
            self.error(
                name,
                "string_type",
                "Input should be a valid string",
                value,
                None,
            );
            return None;
        };
        let length = text.chars().count();
        if length < min {
            self.error(
                name,
                "string_too_short",
                &format!("String should have at least {}", characters(min)),
                value,
                Some(json!({ "min_length": min })),
            );
            return None;
        }
        if length > max {
            self.error(
                name,
                "string_too_long",
                &format!("String should have at most {}", characters(max)),
                value,
                Some(json!({ "max_length": max })),
            );
            return None;
        }
        Some(text.clone())
    }

    /// A literal (one of `allowed`); absent gives `default`, `null` is allowed when `nullable`.
    pub fn literal(
        &mut self,
        name: &str,
        allowed: &[&str],
        default: Option<&str>,
        nullable: bool,
    ) -> Field<String> {
        let value = match self.body.get(name) {
            None => return default.map_or(Field::Absent, |d| Field::Value(d.to_string())),
            Some(Value::Null) if nullable => return Field::Null,
            Some(value) => value,
        };
        if let Some(text) = value.as_str().filter(|t| allowed.contains(t)) {
            return Field::Value(text.to_string());
        }
        let expected = literal_list(allowed);
        self.error(
            name,
            "literal_error",
            &format!("Input should be {expected}"),
            value,
            Some(json!({ "expected": expected })),
        );
        Field::Absent
    }

    /// A lax bool: `true/false`, `0/1` and the usual words; absent gives `default`.
    pub fn bool(&mut self, name: &str, default: Option<bool>, nullable: bool) -> Field<bool> {
        let value = match self.body.get(name) {
            None => return default.map_or(Field::Absent, Field::Value),
            Some(Value::Null) if nullable => return Field::Null,
            Some(value) => value,
        };
        match lax_bool(value) {
            Ok(b) => Field::Value(b),
            Err(kind) => {
                let msg = if kind == "bool_type" {
                    "Input should be a valid boolean"
                } else {
                    "Input should be a valid boolean, unable to interpret input"
                };
                self.error(name, kind, msg, value, None);
                Field::Absent
            }
        }
    }

    /// The 422 of every recorded error, or `Ok` when there is none.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Body(self.errors))
        }
    }
}

/// `'a', 'b' or 'c'`, as Pydantic lists a literal's values.
fn literal_list(allowed: &[&str]) -> String {
    let quoted: Vec<String> = allowed.iter().map(|a| format!("'{a}'")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        Some((last, _)) => last.clone(),
        None => String::new(),
    }
}

/// Pydantic's lax bool, or the error type.
fn lax_bool(value: &Value) -> Result<bool, &'static str> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::Number(n) => match n.as_f64() {
            Some(0.0) => Ok(false),
            Some(1.0) => Ok(true),
            _ => Err("bool_parsing"),
        },
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "0" | "off" | "f" | "false" | "n" | "no" => Ok(false),
            "1" | "on" | "t" | "true" | "y" | "yes" => Ok(true),
            _ => Err("bool_parsing"),
        },
        _ => Err("bool_type"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(result: Result<Map<String, Value>, ApiError>) -> Vec<Value> {
        match result {
            Err(ApiError::Body(list)) => list,
            other => panic!("expected a body error, got {other:?}"),
        }
    }

    #[test]
    fn body_shapes() {
        let empty = JsonBody::<()>::new(Some("application/json"), "");
        assert_eq!(errors(empty.object())[0]["type"], "missing");
        let null = JsonBody::<()>::new(None, "null");
        assert_eq!(errors(null.object())[0]["loc"], json!(["body"]));
        let list = JsonBody::<()>::new(Some("application/json"), "[1]");
        assert_eq!(errors(list.object())[0]["type"], "model_attributes_type");
        let text = JsonBody::<()>::new(Some("text/plain"), "{\"a\":1}");
        assert_eq!(errors(text.object())[0]["input"], "{\"a\":1}");
        let vendor = JsonBody::<()>::new(Some("application/vnd.x+json; charset=utf-8"), "{}");
        assert!(vendor.object().is_ok());
        let broken = JsonBody::<()>::new(Some("application/json"), "{\"a\": }");
        let entry = &errors(broken.object())[0];
        assert_eq!(entry["type"], "json_invalid");
        assert_eq!(entry["loc"], json!(["body", 6]));
        assert_eq!(entry["ctx"]["error"], "Expecting value");
    }

    #[test]
    fn nul_characters_are_refused_where_they_are() {
        let nested = JsonBody::<()>::new(None, r#"{"a": "ok", "b": [{"c": "x\u0000"}]}"#);
        let entry = &errors(nested.object())[0];
        assert_eq!(entry["type"], "string_nul");
        assert_eq!(entry["loc"], json!(["body", "b", 0, "c"]));
        assert_eq!(entry["input"], "x\u{0}");
        let key = JsonBody::<()>::new(None, r#"{"k\u0000": 1}"#);
        assert_eq!(errors(key.object())[0]["loc"], json!(["body", "k\u{0}"]));
        assert!(
            JsonBody::<()>::new(None, r#"{"a": "\\u0000"}"#)
                .object()
                .is_ok()
        );
    }

    #[test]
    fn lax_bools_and_literals() {
        assert_eq!(lax_bool(&json!("Yes")), Ok(true));
        assert_eq!(lax_bool(&json!(0)), Ok(false));
        assert_eq!(lax_bool(&json!(2)), Err("bool_parsing"));
        assert_eq!(lax_bool(&json!([])), Err("bool_type"));
        assert_eq!(
            literal_list(&["string", "number", "boolean"]),
            "'string', 'number' or 'boolean'"
        );
        assert_eq!(literal_list(&["one"]), "'one'");
    }

    #[test]
    fn string_errors_follow_pydantic() {
        let body = json!({"a": "", "b": 5, "c": "toolong"});
        let body = body.as_object().unwrap();
        let mut fields = Fields::new(body);
        assert_eq!(fields.required_str("a", 1, 10), None);
        assert_eq!(fields.required_str("b", 1, 10), None);
        assert_eq!(fields.optional_str("c", 0, 3, true), Field::Absent);
        assert_eq!(fields.required_str("d", 1, 10), None);
        let Err(ApiError::Body(list)) = fields.finish() else {
            panic!("errors expected")
        };
        assert_eq!(list[0]["msg"], "String should have at least 1 character");
        assert_eq!(list[1]["type"], "string_type");
        assert_eq!(list[2]["msg"], "String should have at most 3 characters");
        assert_eq!(list[3]["type"], "missing");
        assert_eq!(list[3]["input"], json!(body));
    }
}
