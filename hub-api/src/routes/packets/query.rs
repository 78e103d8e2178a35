//! SQL of `/api/v1/packets`, and the JSON-column decoding that packets, packet groups,
//! telemetry and trace paths share (API-2.md section 0.6, correction 8).

use crate::error::ApiError;
use crate::params::{Bound, Order, datetime_bound, sql};
use hub_core::entity::raw_packets;
use hub_core::time::Timestamp;
use sea_orm::sea_query::{Expr, NullOrdering};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, DbBackend, EntityTrait, FromQueryResult,
    PaginatorTrait, QueryFilter, QuerySelect, QueryTrait, Select,
};
use serde_json::Value;
use std::collections::BTreeSet;

/// A `raw_packets` row as the packet endpoints read it: `decoded` as its stored text, so a
/// value the JSON parser rejects becomes `null` for that field instead of a failed query.
#[derive(Debug, Clone, FromQueryResult)]
pub(crate) struct PacketRow {
    pub id: String,
    pub observer_node_id: Option<String>,
    pub packet_hash: Option<String>,
    pub raw_hex: Option<String>,
    pub packet_type: Option<i32>,
    pub payload_type: Option<i32>,
    pub event_type: Option<String>,
    pub channel_idx: Option<i32>,
    pub source_pubkey_prefix: Option<String>,
    pub route_type: Option<String>,
    pub path_len: Option<i32>,
    pub snr: Option<f64>,
    pub decoded: Option<String>,
    pub received_at: Timestamp,
    pub created_at: Timestamp,
}

/// The `raw_packets` columns of [`PacketRow`], selected from `select`.
pub(crate) fn packet_columns(select: Select<raw_packets::Entity>) -> Select<raw_packets::Entity> {
    use raw_packets::Column as C;
    select
        .select_only()
        .columns([
            C::Id,
            C::ObserverNodeId,
            C::PacketHash,
            C::RawHex,
            C::PacketType,
            C::PayloadType,
            C::EventType,
            C::ChannelIdx,
            C::SourcePubkeyPrefix,
            C::RouteType,
            C::PathLen,
            C::Snr,
        ])
        .column_as(json_text("raw_packets", "decoded"), "decoded")
        .columns([C::ReceivedAt, C::CreatedAt])
}

/// Rows a caller who may read the channel indices `visible` sees redacted: a channel index
/// that is set and not visible. `visible` always holds Public (17), so `NOT IN` is never empty.
pub(crate) fn redacted_rows(visible: &BTreeSet<i32>) -> Condition {
    Condition::all()
        .add(raw_packets::Column::ChannelIdx.is_not_null())
        .add(raw_packets::Column::ChannelIdx.is_not_in(visible.iter().copied()))
}

/// The complement of [`redacted_rows`]; a NULL channel index is never redacted.
pub(crate) fn unredacted_rows(visible: &BTreeSet<i32>) -> Condition {
    Condition::any()
        .add(raw_packets::Column::ChannelIdx.is_null())
        .add(raw_packets::Column::ChannelIdx.is_in(visible.iter().copied()))
}

/// Whether a row with `channel_idx` is redacted for the caller who may read `visible`.
pub(crate) fn is_redacted(channel_idx: Option<i32>, visible: &BTreeSet<i32>) -> bool {
    channel_idx.is_some_and(|idx| !visible.contains(&idx))
}

/// Filters of the packet list, already parsed and validated.
#[derive(Debug, Default)]
pub(super) struct PacketFilters {
    /// Lowercased search text; matches hash, raw hex (visible rows only), observer name or key.
    pub search: Option<String>,
    pub event_types: Vec<String>,
    pub packet_types: Vec<i64>,
    pub packet_hash: Option<String>,
    pub channel_idx: Option<i64>,
    pub route_types: Vec<String>,
    pub source_prefix: Option<String>,
    /// Observer public keys; an empty string is a key like any other (it matches nothing).
    pub observed_by: Vec<String>,
    pub decryptable: Option<bool>,
    pub min_snr: Option<f64>,
    pub max_snr: Option<f64>,
    pub min_path_len: Option<i64>,
    pub max_path_len: Option<i64>,
    pub redacted: Option<bool>,
    pub since: Option<chrono::NaiveDateTime>,
    pub until: Option<chrono::NaiveDateTime>,
}

/// Sort column of the packet list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PacketSort {
    Time,
    EventType,
    PacketType,
    Snr,
    PathLen,
}

impl PacketSort {
    /// The known names; anything else sorts by time.
    pub fn parse(value: Option<&str>) -> PacketSort {
        match value.map(str::trim) {
            Some("event_type") => PacketSort::EventType,
            Some("packet_type") => PacketSort::PacketType,
            Some("snr") => PacketSort::Snr,
            Some("path_len") => PacketSort::PathLen,
            _ => PacketSort::Time,
        }
    }
}

/// `CAST(table.column AS TEXT)`: a JSON column's stored text on SQLite and PostgreSQL (whose
/// `json` type keeps the text, and with it the key order, as written).
pub(crate) fn json_text(table: &str, column: &str) -> Expr {
    Expr::cust(format!("CAST({table}.{column} AS TEXT)"))
}

/// `column` for ORDER BY: byte order on PostgreSQL (`COLLATE "C"`), as SQLite compares text.
pub(crate) fn text_order(backend: DbBackend, column: &str) -> Expr {
    match backend {
        DbBackend::Postgres => Expr::cust(format!("{column} COLLATE \"C\"")),
        _ => Expr::cust(column.to_string()),
    }
}

/// Explicit NULL placement matching SQLite's default: first when ascending, last when not.
pub(crate) fn sqlite_nulls(order: Order) -> NullOrdering {
    match order {
        Order::Asc => NullOrdering::First,
        Order::Desc => NullOrdering::Last,
    }
}

/// `LOWER(text) LIKE` pattern for `search`: `%` and `_` stay wildcards, as MeshCore Hub's
/// packet search leaves them; only the escape character itself is escaped, so that the
/// pattern means the same on PostgreSQL (whose LIKE escapes with `\`) as on SQLite.
fn wildcard_contains(search: &str) -> String {
    format!("%{}%", search.replace('\\', "\\\\"))
}

/// The observer node id of a row is one whose `nodes` column matches `condition_sql`.
fn observer_where(backend: DbBackend, condition_sql: &str, values: Vec<String>) -> Expr {
    sql(
        backend,
        &format!(
            "raw_packets.observer_node_id IN (SELECT obs.id FROM nodes obs WHERE {condition_sql})"
        ),
        values,
    )
}

/// SQL of "the stored `decoded` text says it was decrypted": it names a `decrypted` key
/// whose value is not `null` (a text match, as MeshCore Hub does it).
const DECRYPTED_SQL: &str = "(LOWER(CAST(raw_packets.decoded AS TEXT)) LIKE ? \
     AND NOT LOWER(CAST(raw_packets.decoded AS TEXT)) LIKE ?)";

/// The WHERE condition of `filters` for a caller who may read `visible`.
pub(super) fn packet_condition(
    backend: DbBackend,
    filters: &PacketFilters,
    visible: &BTreeSet<i32>,
) -> Condition {
    use raw_packets::Column as C;
    let mut cond = Condition::all();
    if let Some(search) = &filters.search {
        let pattern = wildcard_contains(search);
        let like = |column: &str| {
            sql(
                backend,
                &format!("LOWER({column}) LIKE ? ESCAPE '\\'"),
                [pattern.clone()],
            )
        };
        cond = cond.add(
            Condition::any()
                .add(like("raw_packets.packet_hash"))
                // Redacted rows' raw hex is not the caller's to search.
                .add(
                    Condition::all()
                        .add(unredacted_rows(visible))
                        .add(like("raw_packets.raw_hex")),
                )
                .add(observer_where(
                    backend,
                    "LOWER(obs.name) LIKE ? ESCAPE '\\' OR LOWER(obs.public_key) LIKE ? ESCAPE '\\'",
                    vec![pattern.clone(), pattern.clone()],
                )),
        );
    }
    if !filters.event_types.is_empty() {
        cond = cond.add(C::EventType.is_in(filters.event_types.iter().cloned()));
    }
    if !filters.packet_types.is_empty() {
        cond = cond.add(C::PacketType.is_in(filters.packet_types.iter().copied()));
    }
    if let Some(hash) = &filters.packet_hash {
        cond = cond.add(C::PacketHash.eq(hash.clone()));
    }
    if let Some(idx) = filters.channel_idx {
        cond = cond.add(C::ChannelIdx.eq(idx));
    }
    if !filters.route_types.is_empty() {
        cond = cond.add(C::RouteType.is_in(filters.route_types.iter().cloned()));
    }
    if let Some(prefix) = &filters.source_prefix {
        cond = cond.add(C::SourcePubkeyPrefix.eq(prefix.clone()));
    }
    if !filters.observed_by.is_empty() {
        let placeholders = vec!["?"; filters.observed_by.len()].join(", ");
        cond = cond.add(observer_where(
            backend,
            &format!("obs.public_key IN ({placeholders})"),
            filters.observed_by.clone(),
        ));
    }
    if let Some(decryptable) = filters.decryptable {
        let decrypted = sql(
            backend,
            DECRYPTED_SQL,
            ["%\"decrypted\":%", "%\"decrypted\": null%"],
        );
        // NULL `decoded` matches neither value (three-valued logic, as upstream).
        cond = cond.add(C::Decoded.is_not_null()).add(if decryptable {
            Condition::all().add(decrypted)
        } else {
            Condition::all().add(decrypted).not()
        });
    }
    if let Some(v) = filters.min_snr {
        cond = cond.add(C::Snr.gte(v));
    }
    if let Some(v) = filters.max_snr {
        cond = cond.add(C::Snr.lte(v));
    }
    if let Some(v) = filters.min_path_len {
        cond = cond.add(C::PathLen.gte(v));
    }
    if let Some(v) = filters.max_path_len {
        cond = cond.add(C::PathLen.lte(v));
    }
    match filters.redacted {
        Some(true) => cond = cond.add(redacted_rows(visible)),
        Some(false) => cond = cond.add(unredacted_rows(visible)),
        None => {}
    }
    if let Some(since) = filters.since {
        cond = cond.add(C::ReceivedAt.gte(datetime_bound(backend, since, Bound::Lower)));
    }
    if let Some(until) = filters.until {
        cond = cond.add(C::ReceivedAt.lte(datetime_bound(backend, until, Bound::Upper)));
    }
    cond
}

/// One page of packets matching `filters`, and the number of matching rows.
pub(super) async fn list_packets(
    db: &DatabaseConnection,
    filters: &PacketFilters,
    visible: &BTreeSet<i32>,
    sort: PacketSort,
    order: Order,
    limit: u64,
    offset: u64,
) -> Result<(Vec<PacketRow>, u64), ApiError> {
    let backend = db.get_database_backend();
    let query = raw_packets::Entity::find().filter(packet_condition(backend, filters, visible));
    let total = query.clone().count(db).await?;

    let mut select = packet_columns(query).limit(limit).offset(offset);
    let column = match sort {
        PacketSort::Time => "raw_packets.received_at",
        PacketSort::EventType => "raw_packets.event_type",
        PacketSort::PacketType => "raw_packets.packet_type",
        PacketSort::Snr => "raw_packets.snr",
        PacketSort::PathLen => "raw_packets.path_len",
    };
    let key = if sort == PacketSort::EventType {
        text_order(backend, column)
    } else {
        Expr::cust(column.to_string())
    };
    QueryTrait::query(&mut select)
        .order_by_expr_with_nulls(key, order.sea(), sqlite_nulls(order))
        .order_by_expr(text_order(backend, "raw_packets.id"), order.sea());
    let rows = select.into_model::<PacketRow>().all(db).await?;
    Ok((rows, total))
}

/// The packet with this id, if any.
pub(super) async fn packet_by_id(
    db: &DatabaseConnection,
    id: &str,
) -> Result<Option<PacketRow>, ApiError> {
    Ok(
        packet_columns(raw_packets::Entity::find().filter(raw_packets::Column::Id.eq(id)))
            .into_model::<PacketRow>()
            .one(db)
            .await?,
    )
}

/// Parses a JSON column's stored text. Python's `json.dumps` writes `NaN`, `Infinity` and
/// `-Infinity` for non-finite floats, which are not JSON; they are read as `null`. Text that
/// still does not parse is logged and read as absent.
pub(crate) fn parse_json_text(text: Option<&str>, field: &'static str) -> Option<Value> {
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
pub(crate) fn json_object(text: Option<&str>, field: &'static str) -> Option<Value> {
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
pub(crate) fn json_string_list(text: Option<&str>, field: &'static str) -> Option<Vec<String>> {
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
pub(crate) fn json_number_list(
    text: Option<&str>,
    field: &'static str,
) -> Option<Vec<Option<f64>>> {
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
