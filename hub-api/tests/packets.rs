//! `/api/v1/packets`: filters, sorts, bounds, redaction per role, JSON columns, caching (the
//! fixture is described in `support/raw_packets.rs`; `/packet-groups` has its own module).

use crate::common;
use crate::raw_packets::*;

use common::*;
use hub_core::cache::runtime::ResponseCache;
use hub_core::cache::{CacheBackend, RedisCache, RedisOptions};
use hub_core::test_support::RedisServer;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test]
async fn lists_fixture_packets_newest_first_in_contract_shape() {
    let app = fixture_app().await;
    let body = app.json(PACKETS).await;
    assert_eq!(keys(&body), ["items", "total", "limit", "offset"]);
    assert_eq!(total(&body), 20);
    assert_eq!(body["limit"], 50);
    let first = &items(&body)[0];
    assert_eq!(
        keys(first),
        [
            "id",
            "observed_by",
            "observer_name",
            "observer_tag_name",
            "packet_hash",
            "raw_hex",
            "packet_type",
            "payload_type",
            "event_type",
            "channel_idx",
            "source_pubkey_prefix",
            "route_type",
            "path_len",
            "snr",
            "decoded",
            "redacted",
            "received_at",
            "created_at"
        ]
    );
    assert_eq!(first["id"], NEWEST_ID);
    assert_eq!(first["observed_by"], pk("bb01"));
    assert_eq!(first["observer_name"], "South Observer 1");
    assert_eq!(first["observer_tag_name"], "South Observer 1");
    assert_eq!(first["packet_hash"], CE01);
    assert_eq!(first["channel_idx"], 17);
    assert_eq!(first["snr"], 6.25);
    assert_eq!(first["redacted"], false);
    assert_eq!(first["received_at"], "2026-11-26T05:11:42.884966Z");
    // Object keys in stored order, not sorted.
    assert_eq!(keys(&first["decoded"]), ["e2e", "packet_hash"]);
    assert!(first["raw_hex"].as_str().unwrap().starts_with("ce01"));

    let page = app.json(&format!("{PACKETS}?limit=5&offset=18")).await;
    assert_eq!((items(&page).len(), total(&page)), (2, 20));
    assert_eq!(page["offset"], 18);
}

#[tokio::test]
async fn detail_is_shaped_like_the_list_and_404s() {
    let app = fixture_app().await;
    let list = app.json(PACKETS).await;
    let detail = app.json(&format!("{PACKETS}/{NEWEST_ID}")).await;
    assert_eq!(detail, items(&list)[0]);
    let resp = app.get(&format!("{PACKETS}/no-such-packet")).await;
    resp.assert_status(poem::http::StatusCode::NOT_FOUND);
    resp.assert_json(serde_json::json!({"detail": "Raw packet not found"}))
        .await;
}

#[tokio::test]
async fn rows_on_hidden_channels_are_redacted_not_hidden() {
    let app = fixture_app().await;
    set_general_visibility(&app, "operator").await;

    let anon = app
        .json(&format!("{PACKETS}?packet_hash={CE03}&sort=snr"))
        .await;
    assert_eq!(total(&anon), 2);
    for item in items(&anon) {
        assert_eq!(item["redacted"], true);
        assert_eq!(item["raw_hex"], Value::Null);
        assert_eq!(item["source_pubkey_prefix"], Value::Null);
        assert_eq!(item["decoded"], Value::Null);
        // Everything else stays.
        assert_eq!(item["channel_idx"], 71);
        assert_eq!(item["packet_hash"], CE03);
        assert_eq!(item["event_type"], "channel_msg_recv");
        assert!(item["snr"].is_number() && item["observed_by"].is_string());
    }
    let admin = app
        .json_as(&format!("{PACKETS}?packet_hash={CE03}"), "admin")
        .await;
    for item in items(&admin) {
        assert_eq!(item["redacted"], false);
        assert!(item["raw_hex"].is_string() && item["decoded"].is_object());
        assert_eq!(item["source_pubkey_prefix"], "a1fa00000000");
    }
    let detail = app.json(&format!("{PACKETS}/{CE03_FIRST_ID}")).await;
    assert_eq!(
        (detail["redacted"].clone(), detail["raw_hex"].clone()),
        (Value::Bool(true), Value::Null)
    );
    let detail = app
        .json_as(&format!("{PACKETS}/{CE03_FIRST_ID}"), "member,operator")
        .await;
    assert_eq!(detail["redacted"], false);

    // The redacted filter runs in SQL: totals agree with the rows.
    assert_eq!(count(&app, "redacted=true").await, 2);
    assert_eq!(count(&app, "redacted=false").await, 18);
    let admin_redacted = app.json_as(&format!("{PACKETS}?redacted=1"), "admin").await;
    assert_eq!(total(&admin_redacted), 0);
    assert_422(
        app.get(&format!("{PACKETS}?redacted=maybe")).await,
        "redacted",
    )
    .await;
}

#[tokio::test]
async fn search_never_matches_hidden_raw_hex_and_defaults_to_seven_days() {
    let app = fixture_app().await;
    set_general_visibility(&app, "admin").await;
    insert_packet(
        &app,
        "p-secret",
        Some("aaaa"),
        "feedbeef",
        "channel_msg_recv",
        Some(71),
        Some(1.0),
        "NULL",
        &ago(1, 0),
    )
    .await;
    insert_packet(
        &app,
        "p-old",
        Some("bbbb"),
        "cafe01",
        "raw",
        None,
        Some(1.0),
        "NULL",
        &ago(10, 0),
    )
    .await;

    assert_eq!(count(&app, "search=FEEDBEEF").await, 0);
    let admin = app
        .json_as(&format!("{PACKETS}?search=feedbeef"), "admin")
        .await;
    assert_eq!(ids(&admin), ["p-secret"]);
    // The hash of a redacted row is still searchable.
    assert_eq!(count(&app, "search=aaaa").await, 1);

    // Without `since`, a search looks back 7 days only.
    assert_eq!(count(&app, "search=cafe01").await, 0);
    assert_eq!(
        count(
            &app,
            &format!("search=cafe01&since={}", ago(30, 0).replace(' ', "T"))
        )
        .await,
        1
    );

    // Observer name and public key, case-insensitive; `_` is a wildcard.
    assert_eq!(
        count(
            &app,
            &format!("search=south%20OBSERVER%201&{FIXTURE_SINCE}")
        )
        .await,
        10
    );
    assert_eq!(
        count(&app, &format!("search=BB01&{FIXTURE_SINCE}")).await,
        10
    );
    assert_eq!(
        count(&app, &format!("search=ce0_&{FIXTURE_SINCE}")).await,
        8
    );
}

#[tokio::test]
async fn list_filters_match_the_contract() {
    let app = fixture_app().await;
    insert_packet(
        &app,
        "p-direct",
        Some("dddd"),
        "dd",
        "trace",
        None,
        None,
        "NULL",
        "2026-11-26 06:00:00",
    )
    .await;

    assert_eq!(count(&app, "").await, 21);
    assert_eq!(count(&app, "event_type=advertisement").await, 12);
    assert_eq!(
        count(&app, "event_type=advertisement,%20channel_msg_recv,").await,
        18
    );
    assert_eq!(count(&app, "event_type=ADVERTISEMENT").await, 0);
    assert_eq!(count(&app, "packet_type=5").await, 20);
    assert_eq!(count(&app, "packet_type=5,%202,-1").await, 21);
    assert_eq!(count(&app, "packet_type=").await, 21);
    assert_eq!(count(&app, &format!("packet_hash={CE01}")).await, 2);
    assert_eq!(count(&app, "channel_idx=17").await, 4);
    assert_eq!(count(&app, "route_type=FLOOD").await, 20);
    assert_eq!(count(&app, "route_type=direct,flood").await, 21);
    assert_eq!(count(&app, "route_type=all").await, 21);
    assert_eq!(count(&app, "route_type=none").await, 21);
    assert_eq!(count(&app, "public_key=a1fa00000000").await, 20);
    assert_eq!(count(&app, "pubkey_prefix=b2b000000000").await, 1);
    // public_key wins over pubkey_prefix.
    assert_eq!(
        count(&app, "public_key=zz&pubkey_prefix=a1fa00000000").await,
        0
    );
    assert_eq!(
        count(&app, &format!("observed_by={}", pk("aa01"))).await,
        11
    );
    assert_eq!(
        count(
            &app,
            &format!("observed_by={}&observed_by={}", pk("aa01"), pk("bb01"))
        )
        .await,
        21
    );
    assert_eq!(count(&app, "observed_by=").await, 0);
    assert_eq!(count(&app, "min_snr=7").await, 10);
    assert_eq!(count(&app, "max_snr=7").await, 10);
    assert_eq!(count(&app, "min_snr=6.25&max_snr=6.25").await, 10);
    assert_eq!(count(&app, "min_path_len=2").await, 20);
    assert_eq!(count(&app, "max_path_len=2").await, 1);
    assert_eq!(count(&app, "since=2026-11-26T05:00:00Z").await, 7);
    assert_eq!(count(&app, "until=2026-11-26T03:00:00Z").await, 2);
    // Inclusive bounds at a stored value without a fraction.
    assert_eq!(
        count(
            &app,
            "since=2026-11-26T06:00:00Z&until=2026-11-26T06:00:00Z"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn bad_parameters_are_422_naming_them() {
    let app = fixture_app().await;
    for (query, name) in [
        ("packet_type=--5", "packet_type"),
        ("packet_type=x", "packet_type"),
        ("packet_type=5,%C2%B2", "packet_type"),
        ("packet_type=99999999999999999999", "packet_type"),
        ("channel_idx=abc", "channel_idx"),
        ("min_snr=loud", "min_snr"),
        ("max_path_len=1.5", "max_path_len"),
        ("decryptable=perhaps", "decryptable"),
        ("since=yesterday", "since"),
        ("until=2026-13-01", "until"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("offset=-1", "offset"),
    ] {
        assert_422(app.get(&format!("{PACKETS}?{query}")).await, name).await;
    }
    let many: Vec<String> = (0..=100).map(|i| format!("observed_by=k{i}")).collect();
    assert_422(
        app.get(&format!("{PACKETS}?{}", many.join("&"))).await,
        "observed_by",
    )
    .await;
    for (query, name) in [
        ("path_hash_bytes=0", "path_hash_bytes"),
        ("path_hash_bytes=4", "path_hash_bytes"),
        ("channel_idx=x", "channel_idx"),
        ("since=nope", "since"),
        ("limit=101", "limit"),
        ("offset=-3", "offset"),
    ] {
        assert_422(app.get(&format!("{GROUPS}?{query}")).await, name).await;
    }
}

#[tokio::test]
async fn decryptable_uses_three_valued_logic() {
    let app = fixture_app().await;
    let t = "2026-11-27 00:00:00";
    insert_packet(
        &app,
        "p-yes",
        None,
        "01",
        "raw",
        None,
        None,
        r#"'{"decrypted": {"text": "hi"}}'"#,
        t,
    )
    .await;
    insert_packet(
        &app,
        "p-null-key",
        None,
        "02",
        "raw",
        None,
        None,
        r#"'{"decrypted": null}'"#,
        t,
    )
    .await;
    insert_packet(
        &app,
        "p-json-null",
        None,
        "03",
        "raw",
        None,
        None,
        "'null'",
        t,
    )
    .await;
    insert_packet(&app, "p-sql-null", None, "04", "raw", None, None, "NULL", t).await;

    let yes = app.json(&format!("{PACKETS}?decryptable=true")).await;
    assert_eq!(ids(&yes), ["p-yes"]);
    assert_eq!(keys(&items(&yes)[0]["decoded"]), ["decrypted"]);
    let no = app
        .json(&format!("{PACKETS}?decryptable=false&limit=100"))
        .await;
    assert_eq!(total(&no), 22);
    let no_ids = ids(&no);
    assert!(
        no_ids.contains(&"p-null-key".to_string()) && no_ids.contains(&"p-json-null".to_string())
    );
    assert!(!no_ids.contains(&"p-sql-null".to_string()));
    assert_eq!(count(&app, "").await, 24);
    // The JSON text null is served as null.
    let json_null = app.json(&format!("{PACKETS}/p-json-null")).await;
    assert_eq!(json_null["decoded"], Value::Null);
}

/// What `serve` reads at startup (`read_kept_totals`) is what the first `decryptable`
/// requests keep: after it, packets of past days deleted behind the server's back (as
/// retention would, unwatched) still count until they are read again, exactly as if those
/// requests had run first.
#[tokio::test]
async fn the_startup_read_keeps_the_decryptable_totals_the_first_requests_keep() {
    clear_of_the_next_hour(Duration::from_secs(30)).await;
    let (dir, path, db) = fixture_copy().await;
    let state = default_state(db);
    let app = app_from_state(state.clone(), dir, path);
    let days_ago = ago(3, 0);
    for (id, decoded) in [
        ("p-yes", r#"'{"decrypted": {"text": "hi"}}'"#),
        ("p-no", r#"'{"decrypted": null}'"#),
    ] {
        insert_packet(&app, id, None, "01", "raw", None, None, decoded, &days_ago).await;
    }
    let uri = |value| format!("{PACKETS}?decryptable={value}");
    // What a server that kept nothing answers.
    let fresh_total = async |value| {
        let fresh = app_over(open_sqlite(&app.path).await);
        total(&fresh.json(&uri(value)).await)
    };
    let mut before = Vec::new();
    for value in ["true", "false"] {
        before.push(fresh_total(value).await);
    }

    hub_api::routes::packets::read_kept_totals(&state)
        .await
        .expect("read kept totals");
    // The fixture's older rows stay, so the window (from the oldest row) is the same.
    app.exec("DELETE FROM raw_packets WHERE id IN ('p-yes', 'p-no')")
        .await;

    for (value, before) in ["true", "false"].into_iter().zip(before) {
        assert_eq!(fresh_total(value).await, before - 1, "{value}");
        let body = app.json(&uri(value)).await;
        assert_eq!(total(&body), before, "decryptable={value}: {body}");
    }
}

#[tokio::test]
async fn stored_json_of_the_wrong_shape_is_null_never_a_500() {
    let app = fixture_app().await;
    let t = "2026-11-27 00:00:00";
    insert_packet(
        &app,
        "p-nan",
        None,
        "01",
        "raw",
        None,
        None,
        r#"'{"snr": NaN, "z": 1, "a": [Infinity]}'"#,
        t,
    )
    .await;
    insert_packet(&app, "p-list", None, "02", "raw", None, None, "'[1, 2]'", t).await;
    insert_packet(
        &app,
        "p-broken",
        None,
        "03",
        "raw",
        None,
        None,
        "'{not json'",
        t,
    )
    .await;
    let nan = app.json(&format!("{PACKETS}/p-nan")).await;
    assert_eq!(
        nan["decoded"],
        serde_json::json!({"snr": null, "z": 1, "a": [null]})
    );
    assert_eq!(keys(&nan["decoded"]), ["snr", "z", "a"]);
    assert_eq!(
        app.json(&format!("{PACKETS}/p-list")).await["decoded"],
        Value::Null
    );
    assert_eq!(
        app.json(&format!("{PACKETS}/p-broken")).await["decoded"],
        Value::Null
    );
    assert_eq!(count(&app, "").await, 23);
}

#[tokio::test]
async fn sorts_place_nulls_like_sqlite_and_end_with_the_id() {
    let app = fixture_app().await;
    insert_packet(
        &app,
        "p-no-snr",
        None,
        "01",
        "raw",
        None,
        None,
        "NULL",
        "2026-11-20 00:00:00",
    )
    .await;

    let asc = app
        .json(&format!("{PACKETS}?sort=snr&order=asc&limit=100"))
        .await;
    let asc_items = items(&asc);
    assert_eq!(asc_items[0]["id"], "p-no-snr");
    assert_eq!(asc_items[1]["snr"], 6.25);
    // Equal SNRs are ordered by id.
    let equal: Vec<&str> = asc_items[1..11]
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    let mut sorted = equal.clone();
    sorted.sort();
    assert_eq!(equal, sorted);

    let desc = app.json(&format!("{PACKETS}?sort=snr&limit=100")).await;
    let desc_ids = ids(&desc);
    assert_eq!(desc_ids.last().unwrap(), "p-no-snr");
    assert_eq!(items(&desc)[0]["snr"], 8.5);
    let equal: Vec<&String> = desc_ids[..10].iter().collect();
    let mut sorted = equal.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(equal, sorted);

    let by_type = app
        .json(&format!("{PACKETS}?sort=event_type&order=asc"))
        .await;
    assert_eq!(items(&by_type)[0]["event_type"], "advertisement");
    assert_eq!(
        items(&app.json(&format!("{PACKETS}?sort=event_type")).await)[0]["event_type"],
        "raw"
    );
    let by_type_num = app
        .json(&format!("{PACKETS}?sort=packet_type&order=asc"))
        .await;
    assert_eq!(items(&by_type_num)[0]["id"], "p-no-snr");
    let by_len = app
        .json(&format!("{PACKETS}?sort=path_len&order=asc"))
        .await;
    assert_eq!(items(&by_len)[0]["path_len"], 1);
    // Unknown sort: time; oldest first with asc.
    let unknown = app.json(&format!("{PACKETS}?sort=bogus&order=asc")).await;
    assert_eq!(items(&unknown)[0]["id"], "p-no-snr");
    assert_eq!(ids(&app.json(PACKETS).await)[0], NEWEST_ID);
}

// ---------------------------------------------------------------------------------------
// Caching

fn redis_cache(port: u16) -> ResponseCache {
    let options = RedisOptions {
        prefix: "hub".into(),
        timeout: Duration::from_millis(100),
        ..RedisOptions::local(port)
    };
    let backend: Arc<dyn CacheBackend> = Arc::new(RedisCache::new(options).expect("redis options"));
    ResponseCache::new(backend, Duration::from_secs(30), Duration::from_secs(30))
}

async fn fetch(app: &TestApp, uri: &str, roles: &str) -> (String, Value) {
    let resp = app.get_as(uri, roles).await;
    resp.assert_status_is_ok();
    let cache = resp
        .0
        .headers()
        .get("x-cache")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (cache, resp.json().await.value().deserialize())
}

#[tokio::test]
async fn lists_are_cached_per_role_and_details_are_not() {
    let redis = RedisServer::start();
    let app = fixture_app_cached(redis_cache(redis.port())).await;
    set_general_visibility(&app, "admin").await;
    for uri in [
        format!("{PACKETS}?packet_hash={CE03}"),
        format!("{GROUPS}?{FIXTURE_SINCE}&channel_idx=71"),
    ] {
        let (first, admin) = fetch(&app, &uri, "admin").await;
        let (second, again) = fetch(&app, &uri, "admin").await;
        assert_eq!((first.as_str(), second.as_str()), ("MISS", "HIT"), "{uri}");
        assert_eq!(admin, again);
        let (anon_cache, anon) = fetch(&app, &uri, "").await;
        assert_eq!(anon_cache, "MISS", "{uri} served the admin entry");
        assert_eq!(items(&anon)[0]["redacted"], true, "{uri}");
        assert_eq!(items(&admin)[0]["redacted"], false, "{uri}");
    }
    for uri in [
        format!("{PACKETS}/{CE03_FIRST_ID}"),
        format!("{GROUPS}/{CE03}"),
    ] {
        let (cache, _) = fetch(&app, &uri, "").await;
        assert_eq!(cache, "", "{uri} must not be cached");
    }
}

// ---------------------------------------------------------------------------------------
// PostgreSQL

#[tokio::test]
async fn postgres_answers_like_sqlite() {
    use hub_core::entity::*;
    let pg = hub_core::test_support::PostgresServer::start();
    let db = hub_core::db::connect(&pg.url()).await.expect("connect");
    hub_core::db::prepare_schema(&db).await.expect("schema");

    let sqlite = fixture_app().await;
    set_general_visibility(&sqlite, "operator").await;
    // Rows that exercise NULL ordering, text order of mixed-case types and JSON columns.
    insert_packet(
        &sqlite,
        "p-null",
        Some("ffff"),
        "01",
        "Zeta_type",
        None,
        None,
        "NULL",
        "2026-11-25 00:00:00",
    )
    .await;
    insert_packet(
        &sqlite,
        "p-under",
        Some("ffff"),
        "02",
        "a_type",
        Some(17),
        Some(2.0),
        r#"'{"z": 1, "a": 2}'"#,
        "2026-11-25 01:00:00",
    )
    .await;
    sqlite
        .exec(&format!(
            "INSERT INTO telemetry (id, observer_node_id, node_public_key, parsed_data, received_at, created_at, \
             updated_at, event_hash) VALUES ('t1', '{AA01_ID}', '{k}', '{{\"b\": 1, \"a\": 2}}', \
             '2026-11-26 01:00:00', '2026-11-26 01:00:00', '2026-11-26 01:00:00', 'e1'); \
             INSERT INTO trace_paths (id, observer_node_id, initiator_tag, path_hashes, snr_values, received_at, \
             created_at, updated_at, event_hash) VALUES ('r1', NULL, 4294967296, '[\"A1\"]', '[1, 2.5]', \
             '2026-11-26 01:00:00', '2026-11-26 01:00:00', '2026-11-26 01:00:00', 'h1'); \
             INSERT INTO event_observers (id, event_type, event_hash, observer_node_id, snr, observed_at, \
             created_at, updated_at) VALUES ('o1', 'telemetry', 'e1', '{AA01_ID}', 1.0, '2026-11-26 01:00:01', \
             '2026-11-26 01:00:01', '2026-11-26 01:00:01'), ('o2', 'trace', 'h1', '{AA01_ID}', 1.0, \
             '2026-11-26 01:00:01', '2026-11-26 01:00:01', '2026-11-26 01:00:01')",
            k = pk("a1fa")
        ))
        .await;
    copy_rows::<nodes::Entity>(&sqlite.db, &db).await;
    copy_rows::<node_tags::Entity>(&sqlite.db, &db).await;
    copy_rows::<channels::Entity>(&sqlite.db, &db).await;
    copy_rows::<event_observers::Entity>(&sqlite.db, &db).await;
    copy_rows::<raw_packets::Entity>(&sqlite.db, &db).await;
    copy_rows::<packet_path_hops::Entity>(&sqlite.db, &db).await;
    copy_rows::<telemetry::Entity>(&sqlite.db, &db).await;
    copy_rows::<trace_paths::Entity>(&sqlite.db, &db).await;
    let postgres = app_over(db);

    let observer = pk("aa01");
    let uris = [
        format!("{PACKETS}?limit=100"),
        format!("{PACKETS}?sort=event_type&order=asc&limit=100"),
        format!("{PACKETS}?sort=snr&order=asc&limit=100"),
        format!("{PACKETS}?sort=snr&limit=100"),
        format!("{PACKETS}?search=SOUTH&{FIXTURE_SINCE}"),
        format!("{PACKETS}?search=ce0_&{FIXTURE_SINCE}"),
        format!("{PACKETS}?decryptable=false&packet_type=5,-1&route_type=FLOOD"),
        format!("{PACKETS}?observed_by={observer}&redacted=false"),
        format!("{PACKETS}?redacted=true"),
        format!("{PACKETS}?since=2026-11-26T05:00:00Z&until=2026-11-26T05:06:39.884966Z"),
        format!("{PACKETS}/p-under"),
        format!("{PACKETS}/{CE03_FIRST_ID}"),
        format!("{GROUPS}?{FIXTURE_SINCE}"),
        format!("{GROUPS}?{FIXTURE_SINCE}&sort=event_type&order=asc"),
        format!("{GROUPS}?{FIXTURE_SINCE}&sort=event_type"),
        format!("{GROUPS}?{FIXTURE_SINCE}&sort=reception_count&order=asc"),
        format!("{GROUPS}?{FIXTURE_SINCE}&search=north&path_hash_bytes=2"),
        format!("{GROUPS}/{CE03}"),
        format!("{GROUPS}/ffff"),
        "/api/v1/telemetry".to_string(),
        format!("/api/v1/telemetry?observed_by={observer}"),
        "/api/v1/telemetry/t1".to_string(),
        "/api/v1/trace-paths".to_string(),
        format!("/api/v1/trace-paths?observed_by={observer}"),
        "/api/v1/trace-paths/r1".to_string(),
    ];
    for uri in &uris {
        let left = sqlite.json(uri).await;
        let right = postgres.json(uri).await;
        assert_eq!(left, right, "{uri}: SQLite and PostgreSQL answers differ");
        assert!(
            left.get("total").is_none_or(|t| t.as_u64() > Some(0)) || uri.contains("redacted"),
            "{uri}: nothing to compare"
        );
    }
}
