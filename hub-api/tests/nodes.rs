//! `/api/v1/nodes`: filters, sorts, pagination, single-node routes.

use crate::common;

use common::*;
use serde_json::Value;

fn keys(items: &Value, field: &str) -> Vec<String> {
    items["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i[field].as_str().unwrap_or("<null>").to_string())
        .collect()
}

#[tokio::test]
async fn lists_the_fixture_nodes_with_tags_and_adopters() {
    let app = fixture_app().await;
    let body = app.json("/api/v1/nodes?sort=public_key&order=asc").await;
    assert_eq!(body["total"], 8);
    assert_eq!(body["limit"], 50);
    assert_eq!(body["offset"], 0);
    let first = &body["items"][0];
    assert_eq!(first["public_key"], pk("a1fa"));
    assert_eq!(first["tags"][0]["key"], "name");
    assert_eq!(first["adopted_by"]["user_id"], "op-north");
    assert_eq!(
        first["adopted_by"]["profile_id"],
        "cb133b58-5708-4ae7-88a2-565cca9b233f"
    );
    assert!(body["items"][2]["adopted_by"].is_null());
}

#[tokio::test]
async fn node_read_has_every_field_in_contract_order() {
    let app = fixture_app().await;
    let body = app.json("/api/v1/nodes?pubkey_prefix=aa01").await;
    let node = body["items"][0].as_object().unwrap();
    let fields: Vec<&str> = node.keys().map(String::as_str).collect();
    assert_eq!(
        fields,
        [
            "public_key",
            "name",
            "adv_type",
            "flags",
            "first_seen",
            "last_seen",
            "lat",
            "lon",
            "is_observer",
            "created_at",
            "updated_at",
            "tags",
            "adopted_by"
        ]
    );
    let tag: Vec<&str> = node["tags"][0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        tag,
        ["key", "value", "value_type", "created_at", "updated_at"]
    );
    // Insertion order: `area` was created before `name` for observers.
    let tag_keys: Vec<&str> = node["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["key"].as_str().unwrap())
        .collect();
    assert_eq!(tag_keys, ["area", "name"]);
    assert_eq!(node["first_seen"], "2026-10-27T05:21:39.884966Z");
    assert!(node["flags"].is_null());
}

#[tokio::test]
async fn adopted_by_shape_and_filter() {
    let app = fixture_app().await;
    let body = app
        .json("/api/v1/nodes?adopted_by=01305bb4-976a-427b-8c30-4ab1f8bf6ef2")
        .await;
    assert_eq!(body["total"], 1);
    let adopter: Vec<&str> = body["items"][0]["adopted_by"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(adopter, ["user_id", "name", "callsign", "profile_id"]);
    assert_eq!(body["items"][0]["name"], "Bravo Node");
    assert_eq!(
        app.json("/api/v1/nodes?adopted_by=nobody").await["total"],
        0
    );
}

#[tokio::test]
async fn search_matches_key_name_and_name_tag() {
    let app = empty_app().await;
    insert_node(&app, "n1", &pk("abc1"), Some("Hilltop"), None).await;
    insert_node(
        &app,
        "n2",
        &pk("def2"),
        Some("Valley"),
        Some("Riverside Relay"),
    )
    .await;
    insert_node(&app, "n3", &pk("0003"), None, None).await;
    assert_eq!(
        keys(&app.json("/api/v1/nodes?search=HILL").await, "name"),
        ["Hilltop"]
    );
    // Only the name tag says "riverside".
    assert_eq!(
        keys(&app.json("/api/v1/nodes?search=riverside").await, "name"),
        ["Valley"]
    );
    assert_eq!(app.json("/api/v1/nodes?search=DEF2").await["total"], 1);
    // LIKE wildcards in the search are literal.
    assert_eq!(app.json("/api/v1/nodes?search=%25").await["total"], 0);
    assert_eq!(app.json("/api/v1/nodes?search=_").await["total"], 0);
}

#[tokio::test]
async fn pubkey_prefix_is_case_insensitive() {
    let app = fixture_app().await;
    assert_eq!(app.json("/api/v1/nodes?pubkey_prefix=AA").await["total"], 2);
    assert_eq!(app.json("/api/v1/nodes?pubkey_prefix=b").await["total"], 3);
}

#[tokio::test]
async fn adv_type_families_and_exact_values() {
    let app = empty_app().await;
    for (i, adv_type) in [
        "Repeater",
        "relay-node",
        "companion",
        "observer",
        "room_server",
        "chat",
        "sensor",
    ]
    .iter()
    .enumerate()
    {
        insert_node(
            &app,
            &format!("n{i}"),
            &pk(&format!("{i:02}")),
            Some(adv_type),
            None,
        )
        .await;
        app.exec(&format!(
            "UPDATE nodes SET adv_type = '{adv_type}' WHERE id = 'n{i}'"
        ))
        .await;
    }
    let names = |v: Value| {
        let mut k = keys(&v, "adv_type");
        k.sort();
        k
    };
    assert_eq!(
        names(app.json("/api/v1/nodes?adv_type=%20REPEATER%20").await),
        ["Repeater", "relay-node"]
    );
    assert_eq!(
        names(app.json("/api/v1/nodes?adv_type=companion").await),
        ["companion", "observer"]
    );
    assert_eq!(
        names(app.json("/api/v1/nodes?adv_type=room").await),
        ["room_server"]
    );
    assert_eq!(
        names(app.json("/api/v1/nodes?adv_type=chat").await),
        ["chat"]
    );
    assert_eq!(
        names(app.json("/api/v1/nodes?adv_type=sensor").await),
        ["sensor"]
    );
    assert_eq!(app.json("/api/v1/nodes?adv_type=sens").await["total"], 0);
}

#[tokio::test]
async fn role_tag_and_observer_filters() {
    let app = fixture_app().await;
    app.exec(
        "INSERT INTO node_tags (id, node_id, key, value, value_type, created_at, updated_at) \
         SELECT 'r1', id, 'role', 'gateway', 'string', created_at, created_at FROM nodes WHERE name = 'Delta Node'",
    )
    .await;
    assert_eq!(
        keys(&app.json("/api/v1/nodes?role=gateway").await, "name"),
        ["Delta Node"]
    );
    assert_eq!(app.json("/api/v1/nodes?role=Gateway").await["total"], 0);
    assert_eq!(app.json("/api/v1/nodes?observer=true").await["total"], 4);
    assert_eq!(app.json("/api/v1/nodes?observer=off").await["total"], 4);
    assert_eq!(
        app.json("/api/v1/nodes?observer=1&pubkey_prefix=aa").await["total"],
        2
    );
}

#[tokio::test]
async fn last_seen_sorts_nulls_last_both_ways_with_id_tiebreak() {
    let app = empty_app().await;
    insert_node(&app, "n1", &pk("01"), Some("old"), None).await;
    insert_node(&app, "n2", &pk("02"), Some("new"), None).await;
    insert_node(&app, "n3", &pk("03"), Some("never"), None).await;
    insert_node(&app, "n4", &pk("04"), Some("new-twin"), None).await;
    app.exec(&format!(
        "UPDATE nodes SET last_seen = '{}' WHERE id = 'n1'",
        ago(3, 0)
    ))
    .await;
    app.exec(&format!(
        "UPDATE nodes SET last_seen = '{}' WHERE id IN ('n2', 'n4')",
        ago(0, 1)
    ))
    .await;
    app.exec("UPDATE nodes SET last_seen = NULL WHERE id = 'n3'")
        .await;
    assert_eq!(
        keys(&app.json("/api/v1/nodes").await, "name"),
        ["new-twin", "new", "old", "never"]
    );
    assert_eq!(
        keys(
            &app.json("/api/v1/nodes?sort=last_seen&order=asc").await,
            "name"
        ),
        ["old", "new", "new-twin", "never"]
    );
    // Unknown sort falls back to last_seen; unknown order to desc.
    assert_eq!(
        keys(
            &app.json("/api/v1/nodes?sort=bogus&order=sideways").await,
            "name"
        ),
        ["new-twin", "new", "old", "never"]
    );
}

#[tokio::test]
async fn name_sort_prefers_tag_then_name_then_key() {
    let app = empty_app().await;
    insert_node(&app, "n1", &pk("ff"), Some("Zulu"), Some("Alpha tag")).await;
    insert_node(&app, "n2", &pk("ee"), Some("Bravo"), None).await;
    insert_node(&app, "n3", &pk("0c"), None, None).await;
    assert_eq!(
        keys(
            &app.json("/api/v1/nodes?sort=name&order=asc").await,
            "public_key"
        ),
        [pk("0c"), pk("ff"), pk("ee")]
    );
    assert_eq!(
        keys(&app.json("/api/v1/nodes?sort=name").await, "public_key"),
        [pk("ee"), pk("ff"), pk("0c")]
    );
    assert_eq!(
        keys(
            &app.json("/api/v1/nodes?sort=public_key&order=asc").await,
            "public_key"
        ),
        [pk("0c"), pk("ee"), pk("ff")]
    );
}

#[tokio::test]
async fn pagination_keeps_the_filtered_total() {
    let app = fixture_app().await;
    let page = app
        .json("/api/v1/nodes?limit=3&offset=6&sort=public_key&order=asc")
        .await;
    assert_eq!(page["total"], 8);
    assert_eq!(page["limit"], 3);
    assert_eq!(page["offset"], 6);
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert_eq!(
        app.json("/api/v1/nodes?offset=100").await["items"],
        serde_json::json!([])
    );
    // Pages put together give every node once.
    let mut seen = Vec::new();
    for offset in (0..8).step_by(3) {
        seen.extend(keys(
            &app.json(&format!("/api/v1/nodes?limit=3&offset={offset}"))
                .await,
            "public_key",
        ));
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 8);
}

#[tokio::test]
async fn bad_parameters_are_422_naming_the_parameter() {
    let app = fixture_app().await;
    for (query, name) in [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=ten", "limit"),
        ("offset=-1", "offset"),
        ("observer=perhaps", "observer"),
    ] {
        assert_422(app.get(&format!("/api/v1/nodes?{query}")).await, name).await;
    }
    app.get("/api/v1/nodes?limit=500")
        .await
        .assert_status_is_ok();
    // Parameters the endpoint does not declare are ignored.
    app.get("/api/v1/nodes?utm_source=x")
        .await
        .assert_status_is_ok();
}

#[tokio::test]
async fn single_node_routes() {
    let app = fixture_app().await;
    let node = app
        .json(&format!("/api/v1/nodes/{}", pk("B2B0").to_uppercase()))
        .await;
    assert_eq!(node["name"], "Bravo Node");
    let node = app.json("/api/v1/nodes/prefix/AA").await;
    assert_eq!(node["public_key"], pk("aa01"));
    let tags = app
        .json(&format!("/api/v1/nodes/{}/tags", pk("bb01")))
        .await;
    assert_eq!(tags.as_array().unwrap().len(), 2);

    for uri in [
        format!("/api/v1/nodes/{}", pk("99")),
        "/api/v1/nodes/prefix/99".to_string(),
        format!("/api/v1/nodes/{}/tags", pk("99")),
    ] {
        let resp = app.get(&uri).await;
        resp.assert_status(poem::http::StatusCode::NOT_FOUND);
        resp.assert_json(serde_json::json!({"detail": "Node not found"}))
            .await;
    }
}

#[tokio::test]
async fn trailing_slash_is_tolerated() {
    let app = fixture_app().await;
    assert_eq!(app.json("/api/v1/nodes/?limit=1").await["total"], 8);
}
