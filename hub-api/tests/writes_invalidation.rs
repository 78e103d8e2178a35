//! Writes invalidate the cached reads they change (docs/contract/api-2.md "Decisions", docs/contract/cache-design.md section 7):
//! with Redis on, GET (MISS), GET (HIT), the write, then GET shows the write.

use crate::common;
use crate::writes_support;

use common::*;
use hub_core::test_support::RedisServer;
use poem::http::StatusCode;
use serde_json::{Value, json};
use writes_support::*;

const CHARLIE: &str = "c3c0000000000000000000000000000000000000000000000000000000000000";

/// GETs `uri` as `roles` twice, asserting MISS then HIT, and returns the body.
async fn cached(app: &TestApp, uri: &str, roles: &str) -> Value {
    let first = app.get_as(uri, roles).await;
    first.assert_status_is_ok();
    assert_eq!(x_cache_of(&first), "MISS", "{uri} as {roles:?}");
    let second = app.get_as(uri, roles).await;
    second.assert_status_is_ok();
    assert_eq!(x_cache_of(&second), "HIT", "{uri} as {roles:?}");
    second.json().await.value().deserialize()
}

/// Asserts that `uri` as `roles` is served from the cache now.
async fn assert_hit(app: &TestApp, uri: &str, roles: &str) {
    assert_eq!(
        x_cache_of(&app.get_as(uri, roles).await),
        "HIT",
        "{uri} as {roles:?}"
    );
}

/// GETs `uri` as `roles` after a write: must be recomputed (MISS) and returned.
async fn after_write(app: &TestApp, uri: &str, roles: &str) -> Value {
    let resp = app.get_as(uri, roles).await;
    resp.assert_status_is_ok();
    assert_eq!(
        x_cache_of(&resp),
        "MISS",
        "{uri} as {roles:?} after the write"
    );
    resp.json().await.value().deserialize()
}

#[tokio::test]
async fn channel_writes_invalidate_channels_messages_packets_and_dashboard() {
    let redis = RedisServer::start();
    let app = fixture_app_cached(redis_response_cache(redis.port())).await;
    let affected = [
        "/api/v1/messages",
        "/api/v1/packets",
        "/api/v1/packet-groups",
        "/api/v1/dashboard/stats",
    ];
    for role in ["", "admin"] {
        let before = cached(&app, "/api/v1/channels", role).await;
        assert!(!item_names(&before).contains(&"Night Net".to_string()));
        for uri in affected {
            cached(&app, uri, role).await;
        }
    }
    let created = post(&app, "/api/v1/channels")
        .json(json!({"name": "Night Net", "key_hex": "AB".repeat(16), "visibility": "community"}))
        .send()
        .await;
    assert_eq!(created.0, StatusCode::CREATED, "{}", created.2);
    for role in ["", "admin"] {
        let after = after_write(&app, "/api/v1/channels", role).await;
        assert!(
            item_names(&after).contains(&"Night Net".to_string()),
            "{role:?}"
        );
        for uri in affected {
            after_write(&app, uri, role).await;
        }
    }

    // Hiding the channel from anonymous callers shows at once.
    let id = created.2["id"].as_str().unwrap().to_string();
    assert_hit(&app, "/api/v1/channels", "").await;
    let hidden = put(&app, &format!("/api/v1/channels/{id}"))
        .json(json!({"visibility": "admin"}))
        .send()
        .await;
    assert_eq!(hidden.0, StatusCode::OK, "{}", hidden.2);
    let anonymous = after_write(&app, "/api/v1/channels", "").await;
    assert!(!item_names(&anonymous).contains(&"Night Net".to_string()));
}

#[tokio::test]
async fn tag_writes_invalidate_nodes_and_adverts() {
    let redis = RedisServer::start();
    let app = fixture_app_cached(redis_response_cache(redis.port())).await;
    let nodes_uri = "/api/v1/nodes?role=gateway";
    let before = cached(&app, nodes_uri, "").await;
    assert_eq!(before["total"], 0);
    // Everything that shows node tags (names via the `name` tag), for each role (adverts
    // are not role-sensitive: one entry serves every role).
    cached(&app, "/api/v1/advertisements", "").await;
    let affected = [
        "/api/v1/messages",
        "/api/v1/packets",
        "/api/v1/dashboard/recent-activity",
    ];
    for role in ["", "operator", "admin"] {
        for uri in affected {
            cached(&app, uri, role).await;
        }
    }
    let tagged = post(&app, &format!("/api/v1/nodes/{CHARLIE}/tags"))
        .user("pw-admin", "admin")
        .json(json!({"key": "role", "value": "gateway"}))
        .send()
        .await;
    assert_eq!(tagged.0, StatusCode::CREATED, "{}", tagged.2);
    let after = after_write(&app, nodes_uri, "").await;
    assert_eq!(after["total"], 1);
    assert_eq!(after["items"][0]["public_key"], CHARLIE);
    after_write(&app, "/api/v1/advertisements", "").await;
    for role in ["", "operator", "admin"] {
        for uri in affected {
            after_write(&app, uri, role).await;
        }
    }

    assert_hit(&app, nodes_uri, "").await;
    let removed = delete(&app, &format!("/api/v1/nodes/{CHARLIE}/tags/role"))
        .user("pw-admin", "admin")
        .send()
        .await;
    assert_eq!(removed.0, StatusCode::NO_CONTENT, "{}", removed.2);
    assert_eq!(after_write(&app, nodes_uri, "").await["total"], 0);
}

#[tokio::test]
async fn adoption_writes_invalidate_nodes_and_profiles() {
    let redis = RedisServer::start();
    let app = fixture_app_cached(redis_response_cache(redis.port())).await;
    let node_count = |profiles: &Value| -> u64 {
        profiles["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["node_count"].as_u64().unwrap())
            .sum()
    };
    let before = cached(&app, "/api/v1/user/profiles?exclude_test=false", "").await;
    cached(&app, "/api/v1/nodes", "").await;
    cached(&app, "/api/v1/advertisements", "").await;
    let affected = ["/api/v1/routes", "/api/v1/dashboard/stats"];
    for role in ["", "admin"] {
        for uri in affected {
            cached(&app, uri, role).await;
        }
    }
    let adopted = post(&app, "/api/v1/adoptions")
        .user("op-north", "operator")
        .json(json!({"public_key": CHARLIE}))
        .send()
        .await;
    assert_eq!(adopted.0, StatusCode::CREATED, "{}", adopted.2);
    let after = after_write(&app, "/api/v1/user/profiles?exclude_test=false", "").await;
    assert_eq!(node_count(&after), node_count(&before) + 1);
    let nodes = after_write(&app, "/api/v1/nodes", "").await;
    let charlie = nodes["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["public_key"] == CHARLIE)
        .expect("charlie listed");
    assert_eq!(charlie["adopted_by"]["user_id"], "op-north");
    after_write(&app, "/api/v1/advertisements", "").await;
    for role in ["", "admin"] {
        for uri in affected {
            after_write(&app, uri, role).await;
        }
    }
}

#[tokio::test]
async fn failed_writes_invalidate_nothing() {
    let redis = RedisServer::start();
    let app = fixture_app_cached(redis_response_cache(redis.port())).await;
    cached(&app, "/api/v1/channels", "").await;
    let refused = post(&app, "/api/v1/channels")
        .json(json!({"name": "x"}))
        .send()
        .await;
    assert_eq!(refused.0, StatusCode::UNPROCESSABLE_ENTITY);
    assert_hit(&app, "/api/v1/channels", "").await;
}
