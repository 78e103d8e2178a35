//! `/api/v1/packet-groups`: group windowing and counts, sorts, redaction by the oldest row,
//! detail receptions (the fixture is described in `support/raw_packets.rs`), and, in `fast`,
//! the page and total read without grouping the whole window.

mod fast;

use crate::common;
use crate::raw_packets::*;

use common::*;
use serde_json::Value;
use std::time::Duration;

fn hashes(body: &Value) -> Vec<String> {
    items(body)
        .iter()
        .map(|i| i["packet_hash"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn groups_list_counts_filtered_rows_in_contract_shape() {
    let app = fixture_app().await;
    let body = app.json(&format!("{GROUPS}?{FIXTURE_SINCE}")).await;
    assert_eq!(total(&body), 10);
    let first = &items(&body)[0];
    assert_eq!(
        keys(first),
        [
            "packet_hash",
            "event_type",
            "channel_idx",
            "packet_type",
            "payload_type",
            "route_type",
            "source_pubkey_prefix",
            "reception_count",
            "observer_count",
            "path_hash_bytes",
            "receptions",
            "first_seen",
            "redacted",
            "raw_hex",
            "decoded"
        ]
    );
    assert_eq!(first["packet_hash"], CE01);
    assert_eq!(first["event_type"], "channel_msg_recv");
    assert_eq!(first["channel_idx"], 17);
    assert_eq!(first["source_pubkey_prefix"], "a1fa00000000");
    assert_eq!(
        (
            first["reception_count"].as_i64(),
            first["observer_count"].as_i64()
        ),
        (Some(2), Some(2))
    );
    assert_eq!(first["path_hash_bytes"], 2);
    assert_eq!(first["receptions"], serde_json::json!([]));
    assert_eq!(first["first_seen"], "2026-11-26T05:11:39.884966Z");
    assert_eq!(first["redacted"], false);
    assert_eq!(
        (first["raw_hex"].clone(), first["decoded"].clone()),
        (Value::Null, Value::Null)
    );

    // Counts and first_seen cover only the matching rows.
    let north = app
        .json(&format!(
            "{GROUPS}?{FIXTURE_SINCE}&search=NORTH%20observer%201"
        ))
        .await;
    assert_eq!(total(&north), 10);
    for item in items(&north) {
        assert_eq!(
            (
                item["reception_count"].as_i64(),
                item["observer_count"].as_i64()
            ),
            (Some(1), Some(1))
        );
    }
    let south = app
        .json(&format!(
            "{GROUPS}?{FIXTURE_SINCE}&search=south%20observer%201"
        ))
        .await;
    assert_eq!(
        items(&south)[0]["first_seen"],
        "2026-11-26T05:11:42.884966Z"
    );
    // No raw hex or observer key match; `_` is literal.
    assert_eq!(
        total(
            &app.json(&format!("{GROUPS}?{FIXTURE_SINCE}&search={}", pk("aa01")))
                .await
        ),
        0
    );
    assert_eq!(
        total(
            &app.json(&format!("{GROUPS}?{FIXTURE_SINCE}&search=ce0_"))
                .await
        ),
        0
    );
    assert_eq!(
        total(
            &app.json(&format!("{GROUPS}?{FIXTURE_SINCE}&search=CE0"))
                .await
        ),
        4
    );

    // Single event type, no comma splitting.
    assert_eq!(
        total(
            &app.json(&format!(
                "{GROUPS}?{FIXTURE_SINCE}&event_type=advertisement"
            ))
            .await
        ),
        6
    );
    assert_eq!(
        total(
            &app.json(&format!(
                "{GROUPS}?{FIXTURE_SINCE}&event_type=advertisement,channel_msg_recv"
            ))
            .await
        ),
        0
    );
    assert_eq!(
        total(
            &app.json(&format!("{GROUPS}?{FIXTURE_SINCE}&channel_idx=17"))
                .await
        ),
        2
    );
    assert_eq!(
        total(
            &app.json(&format!("{GROUPS}?{FIXTURE_SINCE}&path_hash_bytes=2"))
                .await
        ),
        10
    );
    assert_eq!(
        total(
            &app.json(&format!("{GROUPS}?{FIXTURE_SINCE}&path_hash_bytes=3"))
                .await
        ),
        0
    );
    assert_eq!(
        total(
            &app.json(&format!(
                "{GROUPS}?{FIXTURE_SINCE}&until=2026-11-26T03:30:00Z"
            ))
            .await
        ),
        2
    );
    let page = app
        .json(&format!("{GROUPS}?{FIXTURE_SINCE}&limit=3&offset=9"))
        .await;
    assert_eq!((items(&page).len(), total(&page)), (1, 10));
    let empty = app
        .json(&format!("{GROUPS}?{FIXTURE_SINCE}&offset=50"))
        .await;
    assert_eq!((items(&empty).len(), total(&empty)), (0, 10));
}

#[tokio::test]
async fn groups_window_defaults_to_seven_days_and_display_fields_come_from_the_oldest_row() {
    let app = fixture_app().await;
    insert_packet(
        &app,
        "g-old",
        Some("old0"),
        "01",
        "old_type",
        None,
        None,
        "NULL",
        &ago(10, 0),
    )
    .await;
    let old_time = ago(20, 0);
    insert_packet(
        &app,
        "g-mixed-old",
        Some("mix0"),
        "02",
        "first_type",
        None,
        None,
        "NULL",
        &old_time,
    )
    .await;
    let new_time = ago(1, 0);
    insert_packet(
        &app,
        "g-mixed-new",
        Some("mix0"),
        "03",
        "second_type",
        Some(17),
        None,
        "NULL",
        &new_time,
    )
    .await;
    insert_packet(
        &app,
        "g-nohash",
        None,
        "04",
        "raw",
        None,
        None,
        "NULL",
        &ago(1, 0),
    )
    .await;

    let recent = app.json(&format!("{GROUPS}?limit=100")).await;
    let listed = hashes(&recent);
    assert!(!listed.contains(&"old0".to_string()), "{listed:?}");
    let mixed = items(&recent)
        .iter()
        .find(|g| g["packet_hash"] == "mix0")
        .expect("mix0 listed");
    assert_eq!(mixed["reception_count"], 1);
    assert_eq!(mixed["event_type"], "first_type");
    assert_eq!(mixed["channel_idx"], Value::Null);
    assert_eq!(
        mixed["first_seen"],
        format!("{}Z", new_time.replace(' ', "T"))
    );

    let since = ago(30, 0).replace(' ', "T");
    let all = app.json(&format!("{GROUPS}?since={since}&limit=100")).await;
    let listed = hashes(&all);
    assert!(listed.contains(&"old0".to_string()));
    let mixed = items(&all)
        .iter()
        .find(|g| g["packet_hash"] == "mix0")
        .unwrap();
    assert_eq!(mixed["reception_count"], 2);
    assert_eq!(
        mixed["first_seen"],
        format!("{}Z", old_time.replace(' ', "T"))
    );
}

#[tokio::test]
async fn groups_sort_with_a_packet_hash_tie_break() {
    let app = fixture_app().await;
    insert_packet(
        &app,
        "g-extra",
        Some(CE03),
        "01",
        "channel_msg_recv",
        Some(71),
        None,
        "NULL",
        "2026-11-26 06:00:00",
    )
    .await;
    let by_count = app
        .json(&format!("{GROUPS}?{FIXTURE_SINCE}&sort=reception_count"))
        .await;
    assert_eq!(items(&by_count)[0]["packet_hash"], CE03);
    assert_eq!(items(&by_count)[0]["reception_count"], 3);
    // Equal counts descend by hash.
    let rest = &hashes(&by_count)[1..];
    let mut sorted = rest.to_vec();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(rest, sorted);

    let by_type = app
        .json(&format!(
            "{GROUPS}?{FIXTURE_SINCE}&sort=event_type&order=asc"
        ))
        .await;
    assert_eq!(
        hashes(&by_type)[..2],
        [
            "ad010000000000000000000000000000",
            "ad020000000000000000000000000000"
        ]
    );
    let oldest = app
        .json(&format!("{GROUPS}?{FIXTURE_SINCE}&order=asc"))
        .await;
    assert_eq!(hashes(&oldest)[0], "ad060000000000000000000000000000");
    // `order` must be exactly `asc`.
    let upper = app
        .json(&format!("{GROUPS}?{FIXTURE_SINCE}&order=ASC"))
        .await;
    assert_eq!(hashes(&upper)[0], CE01);
}

#[tokio::test]
async fn groups_redact_by_the_oldest_row() {
    let app = fixture_app().await;
    set_general_visibility(&app, "admin").await;
    let anon = app
        .json(&format!("{GROUPS}?{FIXTURE_SINCE}&channel_idx=71"))
        .await;
    let group = &items(&anon)[0];
    assert_eq!(group["redacted"], true);
    assert_eq!(group["source_pubkey_prefix"], Value::Null);
    assert_eq!(group["path_hash_bytes"], Value::Null);
    assert_eq!(group["channel_idx"], 71);
    assert_eq!(group["event_type"], "channel_msg_recv");
    assert_eq!(group["reception_count"], 2);
    let admin = app
        .json_as(&format!("{GROUPS}?{FIXTURE_SINCE}&channel_idx=71"), "admin")
        .await;
    assert_eq!(items(&admin)[0]["redacted"], false);
    assert_eq!(items(&admin)[0]["path_hash_bytes"], 2);
}

#[tokio::test]
async fn group_detail_lists_receptions_with_paths() {
    let app = fixture_app().await;
    let body = app.json(&format!("{GROUPS}/{CE03}")).await;
    assert_eq!(
        keys(&body),
        keys(&items(&app.json(&format!("{GROUPS}?{FIXTURE_SINCE}")).await)[0])
    );
    assert_eq!(body["packet_hash"], CE03);
    assert_eq!(body["reception_count"], 2);
    assert_eq!(body["observer_count"], 2);
    assert_eq!(body["path_hash_bytes"], Value::Null);
    assert_eq!(body["first_seen"], "2026-11-26T04:56:39.884966Z");
    assert_eq!(body["redacted"], false);
    assert!(body["raw_hex"].as_str().unwrap().starts_with("ce03"));
    assert_eq!(keys(&body["decoded"]), ["e2e", "packet_hash"]);
    let receptions = body["receptions"].as_array().unwrap();
    assert_eq!(
        keys(&receptions[0]),
        [
            "packet_id",
            "observed_by",
            "observer_name",
            "observer_tag_name",
            "snr",
            "path_len",
            "path_hashes",
            "received_at",
            "redacted"
        ]
    );
    assert_eq!(receptions[0]["packet_id"], CE03_FIRST_ID);
    assert_eq!(receptions[0]["observed_by"], pk("aa01"));
    assert_eq!(receptions[0]["observer_name"], "North Observer 1");
    assert_eq!(
        receptions[0]["path_hashes"],
        serde_json::json!(["A1FA", "B2B0", "C3C0"])
    );
    assert_eq!(receptions[1]["observed_by"], pk("bb01"));

    let resp = app.get(&format!("{GROUPS}/nope")).await;
    resp.assert_status(poem::http::StatusCode::NOT_FOUND);
    resp.assert_json(serde_json::json!({"detail": "Packet group not found"}))
        .await;
}

#[tokio::test]
async fn group_detail_redaction_is_per_reception() {
    let app = fixture_app().await;
    set_general_visibility(&app, "operator").await;
    let hidden = app.json(&format!("{GROUPS}/{CE03}")).await;
    assert_eq!(hidden["redacted"], true);
    assert_eq!(hidden["raw_hex"], Value::Null);
    assert_eq!(hidden["decoded"], Value::Null);
    assert_eq!(hidden["source_pubkey_prefix"], Value::Null);
    for reception in hidden["receptions"].as_array().unwrap() {
        assert_eq!(reception["redacted"], true);
        assert_eq!(reception["path_hashes"], Value::Null);
        assert!(reception["snr"].is_number());
    }

    // Oldest row hidden, newer one readable, no hops recorded for either.
    insert_packet(
        &app,
        "m-1",
        Some("mixed"),
        "aa11",
        "x",
        Some(71),
        Some(1.0),
        r#"'{"n": 1}'"#,
        "2026-11-20 00:00:00",
    )
    .await;
    insert_packet(
        &app,
        "m-2",
        Some("mixed"),
        "bb22",
        "x",
        None,
        Some(2.0),
        r#"'{"n": 2}'"#,
        "2026-11-21 00:00:00",
    )
    .await;
    let mixed = app.json(&format!("{GROUPS}/mixed")).await;
    assert_eq!(mixed["redacted"], false);
    assert_eq!(mixed["channel_idx"], 71);
    assert_eq!(mixed["source_pubkey_prefix"], "b2b000000000");
    assert_eq!(mixed["raw_hex"], "bb22");
    assert_eq!(mixed["decoded"], serde_json::json!({"n": 2}));
    assert_eq!(mixed["observer_count"], 1);
    let receptions = mixed["receptions"].as_array().unwrap();
    assert_eq!(
        (
            receptions[0]["redacted"].clone(),
            receptions[1]["redacted"].clone()
        ),
        (Value::Bool(true), Value::Bool(false))
    );
    assert_eq!(receptions[1]["path_hashes"], Value::Null);
    let admin = app.json_as(&format!("{GROUPS}/mixed"), "admin").await;
    assert_eq!(admin["raw_hex"], "aa11");
}

/// What `serve` reads at startup (`read_kept_hours`) is what the first request of each
/// `path_hash_bytes` keeps: after it, groups of past hours deleted behind the server's back
/// (unwatched) still count until those hours are read again, as if the requests had run first.
#[tokio::test]
async fn the_startup_read_keeps_the_hours_of_each_width() {
    clear_of_the_next_hour(Duration::from_secs(30)).await;
    let (dir, path, db) = fixture_copy().await;
    let state = default_state(db);
    let app = app_from_state(state.clone(), dir, path);
    let heard = ago(2, 0);
    let widths = [("w1", 1), ("w2", 2), ("w3", 3)];
    for (id, width) in widths {
        let hash = format!("aa0{width}");
        insert_packet(
            &app,
            id,
            Some(&hash),
            "01",
            "raw",
            None,
            None,
            "NULL",
            &heard,
        )
        .await;
        app.exec(&format!(
            "UPDATE raw_packets SET path_hash_bytes = {width} WHERE id = '{id}'"
        ))
        .await;
    }

    hub_api::routes::packet_groups::read_kept_hours(&state)
        .await
        .expect("read kept hours");
    app.exec("DELETE FROM raw_packets WHERE id IN ('w1', 'w2', 'w3')")
        .await;

    let uri = |width| format!("{GROUPS}?path_hash_bytes={width}");
    let fresh = app_over(open_sqlite(&app.path).await);
    for (_, width) in widths {
        assert_eq!(total(&fresh.json(&uri(width)).await), 0, "width {width}");
        let body = app.json(&uri(width)).await;
        assert_eq!(total(&body), 1, "width {width}: {body}");
    }
}
