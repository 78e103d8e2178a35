//! Cross-cutting behaviour: auth, health, OpenAPI, errors, and reading a MeshCore Hub database.

use crate::common;

use common::*;
use hub_core::settings::AuthSettings;
use poem::http::StatusCode;
use sea_orm::{ConnectionTrait, Statement};

fn keys(read: Option<&str>, admin: Option<&str>) -> AuthSettings {
    AuthSettings {
        read_key: read.map(str::to_string),
        admin_key: admin.map(str::to_string),
    }
}

#[tokio::test]
async fn read_endpoints_are_open_without_keys() {
    let app = fixture_app().await;
    app.get("/api/v1/nodes").await.assert_status_is_ok();
}

#[tokio::test]
async fn read_key_rules() {
    let app = fixture_app_with(keys(Some("reader"), Some("boss"))).await;
    let resp = app.get("/api/v1/nodes").await;
    resp.assert_status(StatusCode::UNAUTHORIZED);
    resp.assert_header("www-authenticate", "Bearer");
    resp.assert_json(serde_json::json!({"detail": "Authentication required"}))
        .await;

    let resp = app
        .client
        .get("/api/v1/nodes")
        .header("Authorization", "Bearer wrong")
        .send()
        .await;
    resp.assert_status(StatusCode::UNAUTHORIZED);
    resp.assert_json(serde_json::json!({"detail": "Invalid API key"}))
        .await;

    for token in ["reader", "boss"] {
        app.client
            .get("/api/v1/channels")
            .header("Authorization", format!("bearer {token}"))
            .send()
            .await
            .assert_status_is_ok();
    }
    // Health and the docs stay open.
    app.get("/health").await.assert_status_is_ok();
    app.get("/health/ready").await.assert_status_is_ok();
    app.get("/api/openapi.json").await.assert_status_is_ok();
}

#[tokio::test]
async fn admin_key_alone_also_guards_reads() {
    let app = fixture_app_with(keys(None, Some("boss"))).await;
    app.get("/api/v1/nodes")
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
    app.client
        .get("/api/v1/nodes")
        .header("Authorization", "Bearer boss")
        .send()
        .await
        .assert_status_is_ok();
}

#[tokio::test]
async fn health_endpoints() {
    let app = fixture_app().await;
    let resp = app.get("/health").await;
    resp.assert_status_is_ok();
    resp.assert_header("cache-control", "no-store");
    resp.assert_json(
        serde_json::json!({"status": "healthy", "version": env!("CARGO_PKG_VERSION")}),
    )
    .await;
    let resp = app.get("/health/ready").await;
    resp.assert_header("cache-control", "no-store");
    resp.assert_json(serde_json::json!({"status": "ready", "database": "connected"}))
        .await;
}

#[tokio::test]
async fn readiness_is_503_when_the_database_is_gone() {
    let app = fixture_app().await;
    app.db.clone().close().await.unwrap();
    let resp = app.get("/health/ready").await;
    resp.assert_status(StatusCode::SERVICE_UNAVAILABLE);
    resp.assert_json(serde_json::json!({"status": "not_ready", "database": "disconnected"}))
        .await;
    // A list now fails with a JSON 503 and Retry-After, never a panic or an empty body.
    let resp = app.get("/api/v1/nodes").await;
    resp.assert_status(StatusCode::SERVICE_UNAVAILABLE);
    resp.assert_header("retry-after", "5");
    resp.assert_json(serde_json::json!({"detail": "Database unavailable, retry later"}))
        .await;
}

#[tokio::test]
async fn unknown_routes_and_methods_are_json() {
    let app = fixture_app().await;
    let resp = app.get("/api/v1/nope").await;
    resp.assert_status(StatusCode::NOT_FOUND);
    resp.assert_json(serde_json::json!({"detail": "Not Found"}))
        .await;
    let resp = app.client.delete("/api/v1/nodes").send().await;
    assert!(resp.0.status().is_client_error());
    resp.assert_content_type("application/json");
}

#[tokio::test]
async fn openapi_document_and_docs_are_served() {
    let app = fixture_app().await;
    let spec = app.json("/api/openapi.json").await;
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/nodes",
        "/api/v1/channels",
        "/api/v1/user/profiles",
        "/health",
        "/health/ready",
    ] {
        assert!(
            spec["paths"][path]["get"].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }
    let limit = spec["paths"]["/api/v1/nodes"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "limit")
        .unwrap()
        .clone();
    assert_eq!(limit["schema"]["maximum"], 500.0);
    let docs = app.get("/api/docs").await;
    docs.assert_status_is_ok();
    assert!(
        docs.0
            .into_body()
            .into_string()
            .await
            .unwrap()
            .contains("swagger")
    );
}

/// A database created by the Python service's DDL, with no sea-orm migration table, is read
/// as it is and never altered, at either alembic head hub knows.
#[tokio::test]
async fn reads_a_meshcore_hub_database_created_by_raw_ddl_without_altering_it() {
    for revision in migration::KNOWN_ALEMBIC_REVISIONS {
        reads_unaltered_at(revision).await;
    }
}

async fn reads_unaltered_at(revision: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meshcore.db");
    {
        let db = hub_core::db::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        db.execute_unprepared(&fixture_schema_sql()).await.unwrap();
        db.execute_unprepared(&format!(
            "INSERT INTO alembic_version VALUES ('{revision}');
             INSERT INTO nodes (id, public_key, name, adv_type, first_seen, last_seen, created_at, updated_at, is_observer)
             VALUES ('n1', 'ab00000000000000000000000000000000000000000000000000000000000000', 'Legacy', 'chat',
                     '2026-11-01 10:00:00', '2026-11-02 10:00:00.5', '2026-11-01 10:00:00', '2026-11-01 10:00:00', 0);"
        ))
        .await
        .unwrap();
        db.close().await.unwrap();
    }
    let schema_before = schema_of(&path).await;
    let app = app_at(dir, path.clone(), AuthSettings::default()).await;
    let body = app.json("/api/v1/nodes").await;
    assert_eq!(body["total"], 1);
    assert_eq!(body["items"][0]["last_seen"], "2026-11-02T10:00:00.500000Z");
    assert_eq!(body["items"][0]["first_seen"], "2026-11-01T10:00:00Z");
    app.get("/api/v1/channels").await.assert_status_is_ok();
    app.get("/api/v1/user/profiles").await.assert_status_is_ok();
    assert_eq!(
        hub_core::db::prepare_schema(&app.db).await.unwrap(),
        hub_core::db::SchemaState::ExternallyManaged
    );
    assert_eq!(schema_of(&path).await, schema_before, "the schema changed");
    assert!(
        !hub_core::db::table_exists(&app.db, "seaql_migrations")
            .await
            .unwrap()
    );
}

/// Every table and index definition in the file, sorted.
async fn schema_of(path: &std::path::Path) -> Vec<String> {
    let db = hub_core::db::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT type || ' ' || name || ' ' || COALESCE(sql, '') FROM sqlite_master ORDER BY 1",
        ))
        .await
        .unwrap();
    let schema = rows
        .iter()
        .map(|r| r.try_get_by_index::<String>(0).unwrap())
        .collect();
    db.close().await.unwrap();
    schema
}

#[tokio::test]
async fn the_sample_database_is_read_unchanged() {
    let app = fixture_app().await;
    let before = schema_of(&app.path).await;
    app.get("/api/v1/nodes").await.assert_status_is_ok();
    app.get("/api/v1/user/profiles").await.assert_status_is_ok();
    assert_eq!(schema_of(&app.path).await, before);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM nodes").await, 8);
}
