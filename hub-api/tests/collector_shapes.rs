//! Hex filters on rows shaped as MeshCore Hub's collector writes them in LetsMesh mode
//! (docs/contract/api-notes.md, "Hex columns"): 12-character UPPERCASE sender prefixes in
//! `raw_packets.source_pubkey_prefix` and `messages.pubkey_prefix`, full keys UPPERCASE in
//! `advertisements.public_key` and `telemetry.node_public_key`, the packet hash as LetsMesh
//! sent it (uppercase), node keys lowercase. The fixture database and MeshCore Hub's e2e seed
//! store every one of them lowercase, which hid filters that lowercased the caller's value
//! and compared it to the uppercase column.
//!
//! Every filter must find these rows whichever case the caller used, on SQLite and on
//! PostgreSQL.

use crate::common;

use common::*;
use hub_api::query::filters::{hex_equals, hex_prefix};
use hub_core::entity::*;
use hub_core::test_support::PostgresServer;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, QueryFilter, QueryTrait,
    Statement, TransactionTrait,
};
use serde_json::Value;

/// The sender prefix of the collector-shaped packet, as the collector stores it.
const SOURCE: &str = "C0FFEE0000AB";
/// Its packet hash, as LetsMesh sends it.
const HASH: &str = "D00DFEED0000000000000000000000AB";
/// Alpha Node's (`a1fa…`) sender prefix, as the collector stores it for a LetsMesh message.
const SENDER: &str = "A1FA00000000";

/// Node keys at the edges of prefix ranges (`9` to `a`, `f` to `g`, all `f`), one stored
/// uppercase and one not hex.
const EDGE_KEYS: [&str; 7] = ["a9", "a9f", "af", "b0", "9f", "AB", "ag"];

/// One collector-shaped row in each table with a hex filter, received an hour ago, and nodes
/// keyed at the edges of prefix ranges.
async fn insert_collector_rows(app: &TestApp) {
    let t = ago(0, 1);
    for (n, stem) in EDGE_KEYS.iter().enumerate() {
        insert_node(app, &format!("edge-{n}"), &pk(stem), None, None).await;
    }
    insert_node(app, "edge-f", &"f".repeat(64), None, None).await;
    let alpha = pk("a1fa");
    let alpha_upper = alpha.to_ascii_uppercase();
    let observer = format!("(SELECT id FROM nodes WHERE public_key = '{}')", pk("aa01"));
    let node = format!("(SELECT id FROM nodes WHERE public_key = '{alpha}')");
    app.exec(&format!(
        "INSERT INTO raw_packets (id, observer_node_id, packet_hash, raw_hex, packet_type, \
         payload_type, event_type, channel_idx, source_pubkey_prefix, route_type, path_len, snr, \
         decoded, received_at, created_at, updated_at, path_hash_bytes) VALUES ('cs-packet', \
         {observer}, '{HASH}', '0200', 2, 2, 'contact_msg_recv', NULL, '{SOURCE}', 'flood', 1, \
         2.5, NULL, '{t}', '{t}', '{t}', 1)"
    ))
    .await;
    app.exec(&format!(
        "INSERT INTO messages (id, observer_node_id, message_type, pubkey_prefix, channel_idx, \
         text, received_at, created_at, updated_at) VALUES ('cs-message', NULL, 'contact', \
         '{SENDER}', NULL, 'collector-shaped', '{t}', '{t}', '{t}')"
    ))
    .await;
    app.exec(&format!(
        "INSERT INTO advertisements (id, observer_node_id, node_id, public_key, name, adv_type, \
         received_at, created_at, updated_at, route_type) VALUES ('cs-advert', NULL, {node}, \
         '{alpha_upper}', 'Alpha Node', 'chat', '{t}', '{t}', '{t}', 'flood')"
    ))
    .await;
    app.exec(&format!(
        "INSERT INTO telemetry (id, observer_node_id, node_id, node_public_key, parsed_data, \
         received_at, created_at, updated_at) VALUES ('cs-telemetry', NULL, {node}, \
         '{alpha_upper}', '{{\"battery\": 4.1}}', '{t}', '{t}', '{t}')"
    ))
    .await;
}

/// The `field` of each item `uri` lists (first page of 100); lists without an `id` are told
/// apart by another field.
async fn listed(app: &TestApp, uri: &str, field: &str) -> Vec<String> {
    let sep = if uri.contains('?') { '&' } else { '?' };
    let body = app.json(&format!("{uri}{sep}limit=100")).await;
    body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{uri}: {body}"))
        .iter()
        .map(|item| item[field].as_str().expect(field).to_string())
        .collect()
}

/// `uri` with `value` in upper- and lowercase lists the same items, among them one whose
/// `field` is `wanted`; returns their `field`s.
async fn finds_in_either_case(
    app: &TestApp,
    uri: &str,
    value: &str,
    field: &str,
    wanted: &str,
) -> Vec<String> {
    let upper = listed(app, &format!("{uri}{}", value.to_ascii_uppercase()), field).await;
    let lower = listed(app, &format!("{uri}{}", value.to_ascii_lowercase()), field).await;
    assert!(upper.iter().any(|i| i == wanted), "{uri}{value}: {upper:?}");
    assert_eq!(upper, lower, "{uri}{value}: the case changed the answer");
    upper
}

/// Every hex filter finds the collector-shaped rows in either case.
async fn assert_filters_match_either_case(app: &TestApp) {
    for param in ["public_key", "pubkey_prefix"] {
        let found = finds_in_either_case(
            app,
            &format!("/api/v1/packets?{param}="),
            SOURCE,
            "id",
            "cs-packet",
        )
        .await;
        assert_eq!(found, ["cs-packet"], "{param}");
    }
    let found =
        finds_in_either_case(app, "/api/v1/packets?packet_hash=", HASH, "id", "cs-packet").await;
    assert_eq!(found, ["cs-packet"]);
    for hash in [HASH.to_ascii_lowercase(), HASH.to_string()] {
        let group = app.json(&format!("/api/v1/packet-groups/{hash}")).await;
        assert_eq!(group["packet_hash"], HASH, "{hash}: {group}");
        assert_eq!(group["reception_count"], 1, "{hash}: {group}");
    }

    // The fixture's own messages from Alpha Node store the prefix lowercase: both spellings
    // are listed, whatever case the caller used.
    let found = finds_in_either_case(
        app,
        "/api/v1/messages?pubkey_prefix=",
        SENDER,
        "text",
        "collector-shaped",
    )
    .await;
    assert!(found.len() > 1, "{found:?}");
    let messages = app.json("/api/v1/messages?limit=100").await;
    let message = messages["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["text"] == "collector-shaped")
        .expect("the collector-shaped message is listed");
    assert_eq!(message["pubkey_prefix"], SENDER);
    assert_eq!(message["sender_name"], "Alpha Node");
    assert_eq!(message["sender_tag_name"], "Alpha Node");

    let alpha = pk("a1fa");
    let found = finds_in_either_case(
        app,
        "/api/v1/advertisements?route_type=all&public_key=",
        &alpha,
        "public_key",
        &alpha.to_ascii_uppercase(),
    )
    .await;
    assert!(
        found.len() > 1,
        "the fixture's lowercase adverts too: {found:?}"
    );
    let found = finds_in_either_case(
        app,
        "/api/v1/telemetry?node_public_key=",
        &alpha,
        "node_public_key",
        &alpha.to_ascii_uppercase(),
    )
    .await;
    assert_eq!(found, [alpha.to_ascii_uppercase()]);

    // Node prefixes (read as index ranges) mean "starts with, in either case".
    let nodes = app.json("/api/v1/nodes?limit=500").await;
    let keys: Vec<String> = nodes["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["public_key"].as_str().unwrap().to_ascii_lowercase())
        .collect();
    assert_eq!(keys.len() as u64, nodes["total"].as_u64().unwrap());
    for prefix in [
        "a9", "A9", "a9f", "af", "AF", "f", "ff", "FFF", "9", "9f", "ab", "aB", "b", "0", "zz",
        "a1fa0",
    ] {
        let wanted = keys
            .iter()
            .filter(|k| k.starts_with(&prefix.to_ascii_lowercase()))
            .count();
        let body = app
            .json(&format!("/api/v1/nodes?limit=500&pubkey_prefix={prefix}"))
            .await;
        assert_eq!(body["total"], wanted, "pubkey_prefix={prefix}");
        let first = keys
            .iter()
            .filter(|k| k.starts_with(&prefix.to_ascii_lowercase()))
            .min();
        let found = app.get(&format!("/api/v1/nodes/prefix/{prefix}")).await;
        match first {
            Some(key) => {
                found.assert_status_is_ok();
                let node: Value = found.json().await.value().deserialize();
                assert_eq!(
                    node["public_key"].as_str().unwrap().to_ascii_lowercase(),
                    *key,
                    "prefix/{prefix}"
                );
            }
            None => found.assert_status(poem::http::StatusCode::NOT_FOUND),
        }
    }

    // Node keys are stored lowercase: the node paths find Alpha Node from either case.
    let upper = alpha.to_ascii_uppercase();
    for uri in [
        format!("/api/v1/nodes/{upper}"),
        format!("/api/v1/nodes/{alpha}"),
        "/api/v1/nodes/prefix/A1FA".to_string(),
        "/api/v1/nodes/prefix/a1fa".to_string(),
    ] {
        let node = app.json(&uri).await;
        assert_eq!(node["public_key"], Value::from(alpha.clone()), "{uri}");
    }
}

#[tokio::test]
async fn hex_filters_find_collector_shaped_rows_in_either_case_on_sqlite() {
    let app = fixture_app().await;
    insert_collector_rows(&app).await;
    assert_filters_match_either_case(&app).await;
}

#[tokio::test]
async fn hex_filters_find_collector_shaped_rows_in_either_case_on_postgres() {
    let sqlite = fixture_app().await;
    insert_collector_rows(&sqlite).await;
    let pg = PostgresServer::start();
    let db = hub_core::db::connect(&pg.url())
        .await
        .expect("connect to PostgreSQL");
    hub_core::db::prepare_schema(&db).await.unwrap();
    copy_rows::<nodes::Entity>(&sqlite.db, &db).await;
    copy_rows::<node_tags::Entity>(&sqlite.db, &db).await;
    copy_rows::<advertisements::Entity>(&sqlite.db, &db).await;
    copy_rows::<messages::Entity>(&sqlite.db, &db).await;
    copy_rows::<channels::Entity>(&sqlite.db, &db).await;
    copy_rows::<event_observers::Entity>(&sqlite.db, &db).await;
    copy_rows::<raw_packets::Entity>(&sqlite.db, &db).await;
    copy_rows::<telemetry::Entity>(&sqlite.db, &db).await;
    assert_filters_match_either_case(&app_over(db)).await;
}

/// Each either-case filter as the lists write it ([`hex_equals`], [`hex_prefix`]), on
/// `backend`.
fn hex_filter_queries(backend: DbBackend) -> Vec<(&'static str, Statement)> {
    let value = "c0ffee0000ab";
    vec![
        (
            "nodes.public_key prefix",
            nodes::Entity::find()
                .filter(hex_prefix(backend, "nodes.public_key", "a1f"))
                .build(backend),
        ),
        (
            "raw_packets.source_pubkey_prefix",
            raw_packets::Entity::find()
                .filter(hex_equals(raw_packets::Column::SourcePubkeyPrefix, value))
                .build(backend),
        ),
        (
            "raw_packets.packet_hash",
            raw_packets::Entity::find()
                .filter(hex_equals(raw_packets::Column::PacketHash, value))
                .build(backend),
        ),
        (
            "messages.pubkey_prefix",
            messages::Entity::find()
                .filter(hex_equals(messages::Column::PubkeyPrefix, value))
                .build(backend),
        ),
        (
            "advertisements.public_key",
            advertisements::Entity::find()
                .filter(hex_equals(advertisements::Column::PublicKey, value))
                .build(backend),
        ),
        (
            "telemetry.node_public_key",
            telemetry::Entity::find()
                .filter(hex_equals(telemetry::Column::NodePublicKey, value))
                .build(backend),
        ),
    ]
}

/// The plan of `statement` prefixed with `explain`, one line per row (the last column).
async fn plan(db: &impl ConnectionTrait, explain: &str, statement: &Statement) -> String {
    let text = Statement::from_sql_and_values(
        statement.db_backend,
        format!("{explain} {}", statement.sql),
        statement.values.clone().map(|v| v.0).unwrap_or_default(),
    );
    let rows = db.query_all_raw(text).await.expect("explain");
    rows.iter()
        .map(|row| {
            let last = if statement.db_backend == DbBackend::Sqlite {
                3
            } else {
                0
            };
            row.try_get_by_index::<String>(last).expect("plan text")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// "Either case" costs index probes, not a scan: SQLite searches the column's index, and
/// PostgreSQL, told to avoid sequential scans when it can, reads it through an index (as it
/// could not for `LOWER(column) = ?`, which the last check shows).
#[tokio::test]
async fn either_case_filters_are_served_by_the_columns_index() {
    let sqlite = fixture_app().await;
    for (column, statement) in hex_filter_queries(DbBackend::Sqlite) {
        let plan = plan(&sqlite.db, "EXPLAIN QUERY PLAN", &statement).await;
        assert!(
            plan.contains("USING INDEX") || plan.contains("USING COVERING INDEX"),
            "{column}: {plan}"
        );
        assert!(!plan.contains("SCAN"), "{column}: {plan}");
    }

    let pg = PostgresServer::start();
    let db: DatabaseConnection = hub_core::db::connect(&pg.url())
        .await
        .expect("connect to PostgreSQL");
    hub_core::db::prepare_schema(&db).await.unwrap();
    let txn = db.begin().await.unwrap();
    txn.execute_unprepared("SET LOCAL enable_seqscan = off")
        .await
        .unwrap();
    for (column, statement) in hex_filter_queries(DbBackend::Postgres) {
        let plan = plan(&txn, "EXPLAIN", &statement).await;
        assert!(plan.contains("Index"), "{column}: {plan}");
        assert!(!plan.contains("Seq Scan"), "{column}: {plan}");
    }
    let lower = Statement::from_string(
        DbBackend::Postgres,
        "SELECT id FROM raw_packets WHERE LOWER(source_pubkey_prefix) = 'c0ffee0000ab'",
    );
    let plan = plan(&txn, "EXPLAIN", &lower).await;
    assert!(plan.contains("Seq Scan"), "LOWER(): {plan}");
    txn.rollback().await.unwrap();
}
