//! `/api/v1/telemetry` and `/api/v1/trace-paths`: filters, order, bounds, observers,
//! JSON columns, item shape, 404s. The fixture has no rows in either table, so each test
//! inserts its own.

use crate::common;

use common::*;
use serde_json::{Value, json};

const TELEMETRY: &str = "/api/v1/telemetry";
const TRACES: &str = "/api/v1/trace-paths";
/// Observer node ids of the fixture: aa01, bb01, aa02.
const AA01_ID: &str = "2efec766-82ed-43b7-946d-56d004101145";
const BB01_ID: &str = "b82f6538-b4ed-4230-bfe8-067b7a59849b";
const AA02_ID: &str = "6c562a43-a9e8-40bf-86b9-42202939f7c9";

fn keys(value: &Value) -> Vec<&str> {
    value
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect()
}

fn items(body: &Value) -> &Vec<Value> {
    body["items"].as_array().expect("items")
}

fn total(body: &Value) -> u64 {
    body["total"].as_u64().expect("total")
}

/// An `event_observers` row: `observer` heard event `hash` of `event_type` at `at`.
async fn insert_observation(
    app: &TestApp,
    id: &str,
    event_type: &str,
    hash: &str,
    observer: &str,
    at: &str,
) {
    app.exec(&format!(
        "INSERT INTO event_observers (id, event_type, event_hash, observer_node_id, snr, observed_at, \
         created_at, updated_at, path_len) VALUES ('{id}', '{event_type}', '{hash}', '{observer}', 4.5, \
         '{at}', '{at}', '{at}', 2)"
    ))
    .await;
}

/// A telemetry row; `parsed_data` and `event_hash` are SQL literals.
async fn insert_telemetry(
    app: &TestApp,
    id: &str,
    node_public_key: &str,
    parsed_data: &str,
    event_hash: &str,
    received_at: &str,
) {
    app.exec(&format!(
        "INSERT INTO telemetry (id, observer_node_id, node_id, node_public_key, lpp_data, parsed_data, \
         received_at, created_at, updated_at, event_hash) VALUES ('{id}', '{AA01_ID}', NULL, \
         '{node_public_key}', X'0102', {parsed_data}, '{received_at}', '{received_at}', '{received_at}', \
         {event_hash})"
    ))
    .await;
}

/// A trace path row; the JSON columns and `event_hash` are SQL literals.
async fn insert_trace(
    app: &TestApp,
    id: &str,
    path_hashes: &str,
    snr_values: &str,
    event_hash: &str,
    received_at: &str,
) {
    app.exec(&format!(
        "INSERT INTO trace_paths (id, observer_node_id, initiator_tag, path_len, flags, auth, path_hashes, \
         snr_values, hop_count, received_at, created_at, updated_at, event_hash) VALUES ('{id}', NULL, \
         4294967296, 2, 0, 7, {path_hashes}, {snr_values}, 2, '{received_at}', '{received_at}', \
         '{received_at}', {event_hash})"
    ))
    .await;
}

/// Three telemetry rows: t1 (node a1fa, heard by aa01 and bb01), t2 (node b2b0, heard by
/// bb01 only as a trace, which must not count), t3 (node a1fa, no event hash).
async fn telemetry_app() -> TestApp {
    let app = fixture_app().await;
    insert_telemetry(
        &app,
        "t1",
        &pk("a1fa"),
        r#"'{"temperature": 21.5, "battery": 3.9}'"#,
        "'e1'",
        "2026-11-26 01:00:00",
    )
    .await;
    insert_telemetry(
        &app,
        "t2",
        &pk("b2b0"),
        "'[1]'",
        "'e2'",
        "2026-11-26 02:00:00",
    )
    .await;
    insert_telemetry(
        &app,
        "t3",
        &pk("a1fa"),
        "NULL",
        "NULL",
        "2026-11-26 03:00:00",
    )
    .await;
    insert_observation(
        &app,
        "o1",
        "telemetry",
        "e1",
        BB01_ID,
        "2026-11-26 01:00:05",
    )
    .await;
    insert_observation(
        &app,
        "o2",
        "telemetry",
        "e1",
        AA01_ID,
        "2026-11-26 01:00:01",
    )
    .await;
    insert_observation(&app, "o3", "trace", "e2", BB01_ID, "2026-11-26 02:00:01").await;
    app
}

fn node_keys(body: &Value) -> Vec<String> {
    items(body)
        .iter()
        .map(|i| i["received_at"].as_str().unwrap()[11..13].to_string())
        .collect()
}

#[tokio::test]
async fn telemetry_lists_newest_first_with_observers() {
    let app = telemetry_app().await;
    // The newest row has the id that sorts first: the list is in time order, not id order
    // (the collector's ids are random UUIDs).
    insert_telemetry(
        &app,
        "0-newest",
        &pk("b2b0"),
        "NULL",
        "NULL",
        "2026-11-26 04:00:00",
    )
    .await;
    let body = app.json(TELEMETRY).await;
    assert_eq!(keys(&body), ["items", "total", "limit", "offset"]);
    assert_eq!(total(&body), 4);
    assert_eq!(node_keys(&body), ["04", "03", "02", "01"]);
    let body = app.json(&format!("{TELEMETRY}?offset=1")).await;
    assert_eq!(node_keys(&body), ["03", "02", "01"]);
    let t1 = &items(&body)[2];
    assert_eq!(
        keys(t1),
        [
            "observed_by",
            "node_public_key",
            "parsed_data",
            "received_at",
            "created_at",
            "observers"
        ]
    );
    assert_eq!(t1["observed_by"], pk("aa01"));
    assert_eq!(t1["node_public_key"], pk("a1fa"));
    assert_eq!(keys(&t1["parsed_data"]), ["temperature", "battery"]);
    assert_eq!(t1["received_at"], "2026-11-26T01:00:00Z");
    let observers = t1["observers"].as_array().unwrap();
    assert_eq!(
        keys(&observers[0]),
        [
            "node_id",
            "public_key",
            "name",
            "tag_name",
            "snr",
            "path_len",
            "observed_at"
        ]
    );
    // Oldest observation first.
    assert_eq!(observers[0]["public_key"], pk("aa01"));
    assert_eq!(observers[0]["name"], "North Observer 1");
    assert_eq!(observers[1]["public_key"], pk("bb01"));
    // A list where an object belongs is served as null; a trace observation is not telemetry's.
    let t2 = &items(&body)[1];
    assert_eq!(t2["parsed_data"], Value::Null);
    assert_eq!(t2["observers"], json!([]));
    assert_eq!(items(&body)[0]["observers"], json!([]));
}

#[tokio::test]
async fn telemetry_filters_and_bounds() {
    let app = telemetry_app().await;
    let count = |query: String| {
        let app = &app;
        async move { total(&app.json(&format!("{TELEMETRY}?{query}")).await) }
    };
    assert_eq!(count(format!("node_public_key={}", pk("a1fa"))).await, 2);
    assert_eq!(count(format!("node_public_key={}", pk("A1FA"))).await, 2);
    assert_eq!(count(format!("observed_by={}", pk("bb01"))).await, 1);
    assert_eq!(count(format!("observed_by={}", pk("aa02"))).await, 0);
    // Repeated: any of them. The primary observer alone does not count (t3 has no hash).
    assert_eq!(
        count(format!(
            "observed_by={}&observed_by={}",
            pk("aa02"),
            pk("aa01")
        ))
        .await,
        1
    );
    assert_eq!(count("since=2026-11-26T02:00:00Z".into()).await, 2);
    assert_eq!(count("until=2026-11-26T02:00:00Z".into()).await, 2);
    let page = app.json(&format!("{TELEMETRY}?limit=1&offset=1")).await;
    assert_eq!(node_keys(&page), ["02"]);
    assert_eq!(
        (page["limit"].as_i64(), page["offset"].as_i64()),
        (Some(1), Some(1))
    );
    for (query, name) in [
        ("since=soon", "since"),
        ("until=x", "until"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("offset=-1", "offset"),
    ] {
        assert_422(app.get(&format!("{TELEMETRY}?{query}")).await, name).await;
    }
}

#[tokio::test]
async fn telemetry_detail_and_404() {
    let app = telemetry_app().await;
    let list = app.json(TELEMETRY).await;
    assert_eq!(app.json(&format!("{TELEMETRY}/t1")).await, items(&list)[2]);
    let resp = app.get(&format!("{TELEMETRY}/missing")).await;
    resp.assert_status(poem::http::StatusCode::NOT_FOUND);
    resp.assert_json(json!({"detail": "Telemetry record not found"}))
        .await;
}

/// Traces: r1 (heard by aa02 as a trace), r2 (NaN and integer SNRs; heard by aa01 but as
/// telemetry), r3 (wrong shapes, no hash).
async fn trace_app() -> TestApp {
    let app = fixture_app().await;
    insert_trace(
        &app,
        "r1",
        r#"'["A1", "B2B0"]'"#,
        "'[1.5, -2.25]'",
        "'h1'",
        "2026-11-26 01:00:00",
    )
    .await;
    insert_trace(
        &app,
        "r2",
        "'[]'",
        "'[3, NaN, 4.0]'",
        "'h2'",
        "2026-11-26 02:00:00",
    )
    .await;
    insert_trace(
        &app,
        "r3",
        r#"'{"a": 1}'"#,
        r#"'["x"]'"#,
        "NULL",
        "2026-11-26 03:00:00",
    )
    .await;
    insert_observation(&app, "o1", "trace", "h1", AA02_ID, "2026-11-26 01:00:02").await;
    insert_observation(
        &app,
        "o2",
        "telemetry",
        "h2",
        AA01_ID,
        "2026-11-26 02:00:02",
    )
    .await;
    app
}

#[tokio::test]
async fn trace_paths_list_with_json_columns_and_observers() {
    let app = trace_app().await;
    // In time order, not id order (see the telemetry list).
    insert_trace(
        &app,
        "0-newest",
        "'[]'",
        "'[]'",
        "NULL",
        "2026-11-26 04:00:00",
    )
    .await;
    let body = app.json(TRACES).await;
    assert_eq!(total(&body), 4);
    assert_eq!(node_keys(&body), ["04", "03", "02", "01"]);
    let body = app.json(&format!("{TRACES}?offset=1")).await;
    let r1 = &items(&body)[2];
    assert_eq!(
        keys(r1),
        [
            "observed_by",
            "initiator_tag",
            "path_len",
            "flags",
            "auth",
            "path_hashes",
            "snr_values",
            "hop_count",
            "received_at",
            "created_at",
            "observers"
        ]
    );
    assert_eq!(r1["observed_by"], Value::Null);
    assert_eq!(r1["initiator_tag"], 4294967296_i64);
    assert_eq!(
        (
            r1["path_len"].as_i64(),
            r1["flags"].as_i64(),
            r1["auth"].as_i64()
        ),
        (Some(2), Some(0), Some(7))
    );
    assert_eq!(r1["path_hashes"], json!(["A1", "B2B0"]));
    assert_eq!(r1["snr_values"], json!([1.5, -2.25]));
    assert_eq!(r1["hop_count"], 2);
    assert_eq!(r1["observers"][0]["public_key"], pk("aa02"));
    assert_eq!(r1["observers"][0]["snr"], 4.5);

    // Integers come out as floats, NaN as null.
    let raw = app.get(&format!("{TRACES}/r2")).await;
    raw.assert_status_is_ok();
    let text = raw.0.into_body().into_string().await.unwrap();
    assert!(text.contains(r#""snr_values":[3.0,null,4.0]"#), "{text}");
    assert!(text.contains(r#""path_hashes":[]"#), "{text}");
    let r2 = app.json(&format!("{TRACES}/r2")).await;
    assert_eq!(r2["observers"], json!([]));

    let r3 = &items(&body)[0];
    assert_eq!(
        (r3["path_hashes"].clone(), r3["snr_values"].clone()),
        (Value::Null, Value::Null)
    );
}

#[tokio::test]
async fn trace_paths_filters_bounds_and_404() {
    let app = trace_app().await;
    let count = |query: String| {
        let app = &app;
        async move { total(&app.json(&format!("{TRACES}?{query}")).await) }
    };
    assert_eq!(count(format!("observed_by={}", pk("aa02"))).await, 1);
    // aa01 heard h2 as telemetry, not as a trace.
    assert_eq!(count(format!("observed_by={}", pk("aa01"))).await, 0);
    assert_eq!(
        count(format!("observed_by={}&observed_by=zz", pk("AA02"))).await,
        1
    );
    assert_eq!(count("since=2026-11-26T01:30:00Z".into()).await, 2);
    assert_eq!(count("until=2026-11-26T01:00:00Z".into()).await, 1);
    assert_eq!(count("limit=100&offset=2".into()).await, 3);
    for (query, name) in [
        ("since=later", "since"),
        ("limit=abc", "limit"),
        ("offset=-1", "offset"),
    ] {
        assert_422(app.get(&format!("{TRACES}?{query}")).await, name).await;
    }
    let resp = app.get(&format!("{TRACES}/missing")).await;
    resp.assert_status(poem::http::StatusCode::NOT_FOUND);
    resp.assert_json(json!({"detail": "Trace path not found"}))
        .await;
    let uncached = app.get(TRACES).await;
    assert!(uncached.0.headers().get("x-cache").is_none());
}
