//! The bodies of the route writes and the preview (docs/contract/api-2.md sections 5.2, 5.5, 5.7),
//! validated like Pydantic: field errors in field order, then (only when every field is
//! valid) the model validator, whose error has loc `["body"]`.

use crate::body::{Field, Fields};
use crate::documented::{LaxBool, LaxI32, LaxInt};
use crate::error::ApiError;
use hub_core::route_matching::MatchSettings;
use poem_openapi::Object;
use serde_json::{Map, Value, json};

/// The bounds of `match_width`: bytes of each key matched against hop hashes. Each bound
/// below is both checked by the parsers and stated by the schema types, so they cannot drift.
const MATCH_WIDTH: (i64, i64) = (1, 3);
/// The bounds of `window_hours`.
const WINDOW_HOURS: (i64, i64) = (1, 720);
/// The bounds of `packet_count_threshold`.
const PACKET_COUNT_THRESHOLD: (i64, i64) = (1, 10000);
/// The least `max_path_length`.
const MIN_PATH_LENGTH: i64 = 1;

/// `match_width` as the schema states it.
type MatchWidth = LaxInt<{ MATCH_WIDTH.0 }, { MATCH_WIDTH.1 }>;
/// `window_hours` as the schema states it.
type WindowHours = LaxInt<{ WINDOW_HOURS.0 }, { WINDOW_HOURS.1 }>;
/// `packet_count_threshold` as the schema states it.
type PacketCountThreshold = LaxInt<{ PACKET_COUNT_THRESHOLD.0 }, { PACKET_COUNT_THRESHOLD.1 }>;
/// `max_path_length` as the schema states it.
type MaxPathLength = LaxInt<MIN_PATH_LENGTH, { i32::MAX as i64 }>;

/// The visibility names a route may have.
pub const VISIBILITIES: [&str; 4] = ["community", "member", "operator", "admin"];

/// Body of `POST /routes`.
#[derive(Debug, Clone, Object)]
pub struct RouteCreate {
    /// 1-255 characters, not trimmed.
    #[oai(validator(min_length = 1, max_length = 255))]
    pub from_label: String,
    /// 1-255 characters, not trimmed.
    #[oai(validator(min_length = 1, max_length = 255))]
    pub to_label: String,
    /// Free text.
    #[oai(nullable)]
    pub description: Option<String>,
    /// community (default), member, operator or admin; at most the caller's own role.
    #[oai(validator(pattern = "^(community|member|operator|admin)$"))]
    pub visibility: Option<String>,
    /// 1-3 (default 1).
    pub match_width: Option<MatchWidth>,
    /// 1-720 (default 48).
    pub window_hours: Option<WindowHours>,
    /// 1-10000 (default 5).
    pub packet_count_threshold: Option<PacketCountThreshold>,
    /// Greater than `packet_count_threshold` when given.
    #[oai(nullable)]
    pub clear_threshold: Option<LaxI32>,
    /// Default 8 when omitted; an explicit null is unlimited.
    #[oai(nullable)]
    pub max_hop_span: Option<LaxI32>,
    /// At least 1; null is unlimited.
    #[oai(nullable)]
    pub max_path_length: Option<MaxPathLength>,
    /// Default true.
    pub enabled: Option<LaxBool>,
    /// Default true.
    pub reversible: Option<LaxBool>,
    /// Public keys of the path nodes, in order: at least 2, distinct ignoring case.
    #[oai(validator(min_items = 2, unique_items))]
    pub node_public_keys: Vec<String>,
    /// Public keys of the observers; null or empty means every observer.
    #[oai(nullable)]
    pub observer_public_keys: Option<Vec<String>>,
}

/// Body of `PUT /routes/{route_id}`: null or absent leaves a field unchanged.
#[derive(Debug, Clone, Object)]
pub struct RouteUpdate {
    /// 1-255 characters.
    #[oai(validator(min_length = 1, max_length = 255))]
    #[oai(nullable)]
    pub from_label: Option<String>,
    /// 1-255 characters.
    #[oai(validator(min_length = 1, max_length = 255))]
    #[oai(nullable)]
    pub to_label: Option<String>,
    /// Free text.
    #[oai(nullable)]
    pub description: Option<String>,
    /// community, member, operator or admin; at most the caller's own role.
    #[oai(validator(pattern = "^(community|member|operator|admin)$"))]
    #[oai(nullable)]
    pub visibility: Option<String>,
    /// 1-3.
    #[oai(nullable)]
    pub match_width: Option<MatchWidth>,
    /// 1-720.
    #[oai(nullable)]
    pub window_hours: Option<WindowHours>,
    /// 1-10000.
    #[oai(nullable)]
    pub packet_count_threshold: Option<PacketCountThreshold>,
    /// Checked against `packet_count_threshold` only when both are given.
    #[oai(nullable)]
    pub clear_threshold: Option<LaxI32>,
    /// Most positions between the first and last matched hop.
    #[oai(nullable)]
    pub max_hop_span: Option<LaxI32>,
    /// At least 1.
    #[oai(nullable)]
    pub max_path_length: Option<MaxPathLength>,
    /// Whether the route is evaluated.
    #[oai(nullable)]
    pub enabled: Option<LaxBool>,
    /// Whether the path may also be heard in reverse.
    #[oai(nullable)]
    pub reversible: Option<LaxBool>,
    /// Replaces the path nodes: at least 2, distinct ignoring case.
    #[oai(validator(min_items = 2, unique_items))]
    #[oai(nullable)]
    pub node_public_keys: Option<Vec<String>>,
    /// Replaces the observers; `[]` clears them.
    #[oai(nullable)]
    pub observer_public_keys: Option<Vec<String>>,
}

/// Body of `POST /routes/preview`.
#[derive(Debug, Clone, Object)]
pub struct RoutePreviewRequest {
    /// Public keys of the path nodes, in order: at least 2, distinct ignoring case.
    #[oai(validator(min_items = 2, unique_items))]
    pub node_public_keys: Vec<String>,
    /// 1-3 (default 1).
    pub match_width: Option<MatchWidth>,
    /// 1-720 (default 48).
    pub window_hours: Option<WindowHours>,
    /// 1-10000 (default 5).
    pub packet_count_threshold: Option<PacketCountThreshold>,
    /// Not checked against the threshold; null or 0 means 3 x the threshold.
    #[oai(nullable)]
    pub clear_threshold: Option<LaxI32>,
    /// Default 8 when omitted; null is unlimited.
    #[oai(nullable)]
    pub max_hop_span: Option<LaxI32>,
    /// At least 1; null is unlimited.
    #[oai(nullable)]
    pub max_path_length: Option<MaxPathLength>,
    /// Public keys of the observers; null or empty means every observer.
    #[oai(nullable)]
    pub observer_public_keys: Option<Vec<String>>,
    /// Default true.
    pub reversible: Option<LaxBool>,
}

/// A valid `RouteCreate`.
#[derive(Debug, Clone)]
pub struct NewRoute {
    /// Label of the start site.
    pub from_label: String,
    /// Label of the end site.
    pub to_label: String,
    /// Free text.
    pub description: Option<String>,
    /// community, member, operator or admin.
    pub visibility: String,
    /// What the route is matched and judged by.
    pub settings: MatchSettings,
    /// Whether the route is evaluated.
    pub enabled: bool,
    /// Path node keys as sent (resolved later).
    pub node_public_keys: Vec<String>,
    /// Observer keys as sent (resolved later); empty means every observer.
    pub observer_public_keys: Vec<String>,
}

/// A valid `RouteUpdate`: `None` leaves a field unchanged.
#[derive(Debug, Clone, Default)]
pub struct RouteChanges {
    /// New value; None leaves it unchanged. Label of the start site.
    pub from_label: Option<String>,
    /// New value; None leaves it unchanged. Label of the end site.
    pub to_label: Option<String>,
    /// New value; None leaves it unchanged. Free text.
    pub description: Option<String>,
    /// New value; None leaves it unchanged. community, member, operator or admin.
    pub visibility: Option<String>,
    /// New value; None leaves it unchanged. Bytes of each key matched against hop hashes, 1-3.
    pub match_width: Option<i32>,
    /// New value; None leaves it unchanged. Length of the evaluation window, in hours.
    pub window_hours: Option<i32>,
    /// New value; None leaves it unchanged. Distinct matching packets needed to be healthy.
    pub packet_count_threshold: Option<i32>,
    /// New value; None leaves it unchanged. Distinct matching packets for `clear`; null or 0 means 3 x the threshold.
    pub clear_threshold: Option<i32>,
    /// New value; None leaves it unchanged. Most positions between the first and last matched hop; null is unlimited.
    pub max_hop_span: Option<i32>,
    /// New value; None leaves it unchanged. Packets with a longer path never match; null is unlimited.
    pub max_path_length: Option<i32>,
    /// New value; None leaves it unchanged. Whether the route is evaluated.
    pub enabled: Option<bool>,
    /// New value; None leaves it unchanged. Whether the path may match in reverse.
    pub reversible: Option<bool>,
    /// New value; None leaves it unchanged. Path node keys as sent (resolved later).
    pub node_public_keys: Option<Vec<String>>,
    /// New value; None leaves it unchanged. Observer keys as sent (resolved later); empty means every observer.
    pub observer_public_keys: Option<Vec<String>>,
}

/// A valid `RoutePreviewRequest`.
#[derive(Debug, Clone)]
pub struct PreviewConfig {
    /// Path node keys as sent (resolved later).
    pub node_public_keys: Vec<String>,
    /// What the unsaved route would be matched and judged by.
    pub settings: MatchSettings,
    /// Observer keys as sent (resolved later); empty means every observer.
    pub observer_public_keys: Vec<String>,
}

/// The matching fields every route body carries, in body order, as parsed.
struct MatchingFields {
    match_width: Field<i32>,
    window_hours: Field<i32>,
    packet_count_threshold: Field<i32>,
    clear_threshold: Field<i32>,
    max_hop_span: Field<i32>,
    max_path_length: Field<i32>,
}

/// What an absent matching field means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WhenAbsent {
    /// The default of a new route (create, preview); the NOT NULL columns refuse `null`.
    Default,
    /// The stored value stays (update); `null` also leaves any field unchanged.
    Unchanged,
}

impl MatchingFields {
    /// The settings of a new route or a preview; `None` when a required field was invalid
    /// (its error is recorded).
    fn settle(self, reversible: Field<bool>) -> Option<MatchSettings> {
        let (
            Field::Value(match_width),
            Field::Value(window_hours),
            Field::Value(packet_count_threshold),
            Field::Value(reversible),
        ) = (
            self.match_width,
            self.window_hours,
            self.packet_count_threshold,
            reversible,
        )
        else {
            return None;
        };
        Some(MatchSettings {
            match_width,
            window_hours,
            packet_count_threshold,
            clear_threshold: self.clear_threshold.value(),
            max_hop_span: self.max_hop_span.value(),
            max_path_length: self.max_path_length.value(),
            reversible,
        })
    }
}

/// Collects errors in field order; each check runs its own [`Fields`] (for the kinds it
/// knows) or writes the entry itself (ints, lists).
struct Checks<'a> {
    body: &'a Map<String, Value>,
    errors: Vec<Value>,
}

impl<'a> Checks<'a> {
    fn new(body: &'a Map<String, Value>) -> Self {
        Checks {
            body,
            errors: Vec::new(),
        }
    }

    fn with_fields<T>(&mut self, check: impl FnOnce(&mut Fields<'a>) -> T) -> T {
        let mut fields = Fields::new(self.body);
        let out = check(&mut fields);
        if let Err(ApiError::Body(entries)) = fields.finish() {
            self.errors.extend(entries);
        }
        out
    }

    fn push(&mut self, kind: &str, loc: Value, msg: &str, input: &Value, ctx: Option<Value>) {
        let mut entry = json!({"type": kind, "loc": loc, "msg": msg, "input": input});
        if let Some(ctx) = ctx {
            entry["ctx"] = ctx;
        }
        self.errors.push(entry);
    }

    fn missing(&mut self, name: &str) {
        let body = Value::Object(self.body.clone());
        self.push(
            "missing",
            json!(["body", name]),
            "Field required",
            &body,
            None,
        );
    }

    /// A lax int in `min..=max` (either bound optional); absent gives `default`.
    fn int(
        &mut self,
        name: &str,
        default: Field<i32>,
        min: Option<i64>,
        max: Option<i64>,
        nullable: bool,
    ) -> Field<i32> {
        let value = match self.body.get(name) {
            None => return default,
            Some(Value::Null) if nullable => return Field::Null,
            Some(value) => value,
        };
        let loc = json!(["body", name]);
        let number = match lax_int(value) {
            Ok(n) => n,
            Err((kind, msg)) => {
                self.push(kind, loc, msg, value, None);
                return Field::Absent;
            }
        };
        // Columns are 32-bit: values outside that range are refused at its bounds.
        let low = min.unwrap_or(i64::from(i32::MIN));
        let high = max.unwrap_or(i64::from(i32::MAX));
        if number < low {
            self.push(
                "greater_than_equal",
                loc,
                &format!("Input should be greater than or equal to {low}"),
                value,
                Some(json!({"ge": low})),
            );
            return Field::Absent;
        }
        if number > high {
            self.push(
                "less_than_equal",
                loc,
                &format!("Input should be less than or equal to {high}"),
                value,
                Some(json!({"le": high})),
            );
            return Field::Absent;
        }
        i32::try_from(number).map_or(Field::Absent, Field::Value)
    }

    /// A list of strings; `required` records `missing` when absent, `null` is allowed
    /// only when not required.
    fn str_list(&mut self, name: &str, required: bool) -> Field<Vec<String>> {
        let value = match self.body.get(name) {
            None => {
                if required {
                    self.missing(name);
                }
                return Field::Absent;
            }
            Some(Value::Null) if !required => return Field::Null,
            Some(value) => value,
        };
        let Value::Array(items) = value else {
            self.push(
                "list_type",
                json!(["body", name]),
                "Input should be a valid list",
                value,
                None,
            );
            return Field::Absent;
        };
        let mut out = Vec::with_capacity(items.len());
        let mut valid = true;
        for (index, item) in items.iter().enumerate() {
            match item {
                Value::String(text) => out.push(text.clone()),
                other => {
                    valid = false;
                    self.push(
                        "string_type",
                        json!(["body", name, index]),
                        "Input should be a valid string",
                        other,
                        None,
                    );
                }
            }
        }
        if valid {
            Field::Value(out)
        } else {
            Field::Absent
        }
    }

    /// The matching fields, in body order, with their bounds.
    fn matching_fields(&mut self, when_absent: WhenAbsent) -> MatchingFields {
        let defaults = when_absent == WhenAbsent::Default;
        let absent = |default: Field<i32>| if defaults { default } else { Field::Absent };
        let bounded = |checks: &mut Self, name: &str, default: i32, (min, max): (i64, i64)| {
            checks.int(
                name,
                absent(Field::Value(default)),
                Some(min),
                Some(max),
                !defaults,
            )
        };
        MatchingFields {
            match_width: bounded(self, "match_width", 1, MATCH_WIDTH),
            window_hours: bounded(self, "window_hours", 48, WINDOW_HOURS),
            packet_count_threshold: bounded(
                self,
                "packet_count_threshold",
                5,
                PACKET_COUNT_THRESHOLD,
            ),
            clear_threshold: self.int("clear_threshold", absent(Field::Null), None, None, true),
            max_hop_span: self.int("max_hop_span", absent(Field::Value(8)), None, None, true),
            max_path_length: self.int(
                "max_path_length",
                absent(Field::Null),
                Some(MIN_PATH_LENGTH),
                None,
                true,
            ),
        }
    }

    /// The body's errors so far, as the 422 to answer with, or `Ok` when there are none.
    fn fields_valid(&mut self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Body(std::mem::take(&mut self.errors)))
        }
    }

    /// A model validator's failure (loc `["body"]`, input = the whole body).
    fn model_error(&mut self, text: &str) {
        let body = Value::Object(self.body.clone());
        self.push(
            "value_error",
            json!(["body"]),
            &format!("Value error, {text}"),
            &body,
            Some(json!({"error": {}})),
        );
    }

    fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Body(self.errors))
        }
    }
}

/// Pydantic's lax int: ints, whole floats, numeric strings (and bools as 0/1).
fn lax_int(value: &Value) -> Result<i64, (&'static str, &'static str)> {
    const PARSING: (&str, &str) = (
        "int_parsing",
        "Input should be a valid integer, unable to parse string as an integer",
    );
    const FRACTION: (&str, &str) = (
        "int_from_float",
        "Input should be a valid integer, got a number with a fractional part",
    );
    const TOO_BIG: (&str, &str) = (
        "int_parsing_size",
        "Unable to parse input string as an integer, exceeded maximum size",
    );
    match value {
        Value::Bool(b) => Ok(i64::from(*b)),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                return Ok(i);
            }
            let f = n.as_f64().unwrap_or(f64::NAN);
            if f.fract() != 0.0 {
                Err(FRACTION)
            } else if f.abs() < 9.2e18 {
                Ok(f as i64)
            } else {
                Err(TOO_BIG)
            }
        }
        Value::String(s) => {
            let s = s.trim();
            if let Ok(i) = s.parse::<i64>() {
                return Ok(i);
            }
            if !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_digit() || b == b'-' || b == b'+')
            {
                return Err(TOO_BIG);
            }
            Err(PARSING)
        }
        _ => Err(("int_type", "Input should be a valid integer")),
    }
}

/// The path-node rules shared by every body: at least 2, distinct ignoring case (untrimmed).
fn check_path_nodes(checks: &mut Checks<'_>, keys: &[String]) -> bool {
    if keys.len() < 2 {
        checks.model_error("At least 2 path nodes are required");
        return false;
    }
    let lowered: std::collections::HashSet<String> =
        keys.iter().map(|k| k.to_lowercase()).collect();
    if lowered.len() != keys.len() {
        checks.model_error("Path nodes must be distinct");
        return false;
    }
    true
}

/// The model validator's threshold rule, once both thresholds are known and the path is valid.
fn check_clear_threshold(checks: &mut Checks<'_>, clear: Option<i32>, threshold: Option<i32>) {
    if let (Some(clear), Some(threshold)) = (clear, threshold)
        && clear <= threshold
    {
        checks.model_error("clear_threshold must be > packet_count_threshold");
    }
}

/// Validates a `RouteCreate`.
pub fn parse_create(body: &Map<String, Value>) -> Result<NewRoute, ApiError> {
    let mut c = Checks::new(body);
    let from_label = c.with_fields(|f| f.required_str("from_label", 1, 255));
    let to_label = c.with_fields(|f| f.required_str("to_label", 1, 255));
    let description = c.with_fields(|f| f.optional_str("description", 0, usize::MAX, true));
    let visibility =
        c.with_fields(|f| f.literal("visibility", &VISIBILITIES, Some("community"), false));
    let matching = c.matching_fields(WhenAbsent::Default);
    let enabled = c.with_fields(|f| f.bool("enabled", Some(true), false));
    let reversible = c.with_fields(|f| f.bool("reversible", Some(true), false));
    let nodes = c.str_list("node_public_keys", true);
    let observers = c.str_list("observer_public_keys", false);
    c.fields_valid()?;
    let (
        Some(from_label),
        Some(to_label),
        Field::Value(visibility),
        Some(settings),
        Field::Value(enabled),
        Field::Value(node_public_keys),
    ) = (
        from_label,
        to_label,
        visibility,
        matching.settle(reversible),
        enabled,
        nodes,
    )
    else {
        // Every invalid field recorded an error above.
        return Err(ApiError::unprocessable("Invalid route"));
    };
    if check_path_nodes(&mut c, &node_public_keys) {
        check_clear_threshold(
            &mut c,
            settings.clear_threshold,
            Some(settings.packet_count_threshold),
        );
    }
    c.finish()?;
    Ok(NewRoute {
        from_label,
        to_label,
        description: description.value(),
        visibility,
        settings,
        enabled,
        node_public_keys,
        observer_public_keys: observers.value().unwrap_or_default(),
    })
}

/// Validates a `RouteUpdate` (every field optional; null is unchanged).
pub fn parse_update(body: &Map<String, Value>) -> Result<RouteChanges, ApiError> {
    let mut c = Checks::new(body);
    let from_label = c.with_fields(|f| f.optional_str("from_label", 1, 255, true));
    let to_label = c.with_fields(|f| f.optional_str("to_label", 1, 255, true));
    let description = c.with_fields(|f| f.optional_str("description", 0, usize::MAX, true));
    let visibility = c.with_fields(|f| f.literal("visibility", &VISIBILITIES, None, true));
    let matching = c.matching_fields(WhenAbsent::Unchanged);
    let enabled = c.with_fields(|f| f.bool("enabled", None, true));
    let reversible = c.with_fields(|f| f.bool("reversible", None, true));
    let nodes = c.str_list("node_public_keys", false);
    let observers = c.str_list("observer_public_keys", false);
    c.fields_valid()?;
    let changes = RouteChanges {
        from_label: from_label.value(),
        to_label: to_label.value(),
        description: description.value(),
        visibility: visibility.value(),
        match_width: matching.match_width.value(),
        window_hours: matching.window_hours.value(),
        packet_count_threshold: matching.packet_count_threshold.value(),
        clear_threshold: matching.clear_threshold.value(),
        max_hop_span: matching.max_hop_span.value(),
        max_path_length: matching.max_path_length.value(),
        enabled: enabled.value(),
        reversible: reversible.value(),
        node_public_keys: nodes.value(),
        observer_public_keys: observers.value(),
    };
    let nodes_ok = changes
        .node_public_keys
        .as_deref()
        .is_none_or(|keys| check_path_nodes(&mut c, keys));
    if nodes_ok {
        check_clear_threshold(
            &mut c,
            changes.clear_threshold,
            changes.packet_count_threshold,
        );
    }
    c.finish()?;
    Ok(changes)
}

/// Validates a `RoutePreviewRequest`.
pub fn parse_preview(body: &Map<String, Value>) -> Result<PreviewConfig, ApiError> {
    let mut c = Checks::new(body);
    let nodes = c.str_list("node_public_keys", true);
    let matching = c.matching_fields(WhenAbsent::Default);
    let observers = c.str_list("observer_public_keys", false);
    let reversible = c.with_fields(|f| f.bool("reversible", Some(true), false));
    c.fields_valid()?;
    let (Field::Value(node_public_keys), Some(settings)) = (nodes, matching.settle(reversible))
    else {
        return Err(ApiError::unprocessable("Invalid preview"));
    };
    check_path_nodes(&mut c, &node_public_keys);
    c.finish()?;
    Ok(PreviewConfig {
        node_public_keys,
        settings,
        observer_public_keys: observers.value().unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(result: Result<impl std::fmt::Debug, ApiError>) -> Vec<Value> {
        match result {
            Err(ApiError::Body(list)) => list,
            other => panic!("expected a body error, got {other:?}"),
        }
    }

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn ints_are_lax_and_bounded() {
        assert_eq!(lax_int(&json!("2")), Ok(2));
        assert_eq!(lax_int(&json!(2.0)), Ok(2));
        assert_eq!(lax_int(&json!(2.5)).map_err(|e| e.0), Err("int_from_float"));
        assert_eq!(lax_int(&json!("x")).map_err(|e| e.0), Err("int_parsing"));
        let list = errors(parse_create(&obj(json!({
            "from_label": "a", "to_label": "b", "match_width": 4,
            "node_public_keys": ["a", "b"]
        }))));
        assert_eq!(list[0]["type"], "less_than_equal");
        assert_eq!(list[0]["ctx"], json!({"le": 3}));
    }

    #[test]
    fn model_validator_runs_only_after_fields() {
        let list = errors(parse_create(&obj(json!({
            "from_label": "", "to_label": "b", "node_public_keys": ["a"]
        }))));
        assert_eq!(list.len(), 1);
        assert_eq!(list[0]["type"], "string_too_short");
        let list = errors(parse_create(&obj(json!({
            "from_label": "a", "to_label": "b", "node_public_keys": ["A", "a"]
        }))));
        assert_eq!(list[0]["msg"], "Value error, Path nodes must be distinct");
        assert_eq!(list[0]["loc"], json!(["body"]));
    }

    #[test]
    fn update_checks_clear_only_with_both() {
        assert!(parse_update(&obj(json!({"clear_threshold": 3}))).is_ok());
        let list = errors(parse_update(&obj(json!({
            "clear_threshold": 3, "packet_count_threshold": 5
        }))));
        assert_eq!(
            list[0]["msg"],
            "Value error, clear_threshold must be > packet_count_threshold"
        );
    }

    #[test]
    fn create_and_preview_take_the_same_defaults_and_preview_skips_the_clear_rule() {
        let defaults = MatchSettings {
            match_width: 1,
            window_hours: 48,
            packet_count_threshold: 5,
            clear_threshold: None,
            max_hop_span: Some(8),
            max_path_length: None,
            reversible: true,
        };
        let nodes = json!({"node_public_keys": ["a", "b"]});
        let preview = parse_preview(&obj(nodes.clone())).expect("a valid preview");
        assert_eq!(preview.settings, defaults);
        let mut create = obj(nodes);
        create.insert("from_label".into(), json!("a"));
        create.insert("to_label".into(), json!("b"));
        assert_eq!(
            parse_create(&create).expect("a valid route").settings,
            defaults
        );
        let low_clear = obj(json!({"node_public_keys": ["a", "b"], "clear_threshold": 1}));
        assert_eq!(
            parse_preview(&low_clear)
                .expect("not checked")
                .settings
                .clear_threshold,
            Some(1)
        );
        create.insert("clear_threshold".into(), json!(1));
        assert_eq!(
            errors(parse_create(&create))[0]["msg"],
            "Value error, clear_threshold must be > packet_count_threshold"
        );
    }
}
