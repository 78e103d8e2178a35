//! `hub-api migrate --read-indexes` and the startup hint on a database MeshCore Hub made:
//! hub's read indexes are added only on request, by themselves, and once.

use crate::common;

use common::fixture_db_path;
use hub_core::db::SchemaState;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

async fn strings(db: &DatabaseConnection, sql: &str) -> Vec<String> {
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .map(|row| row.try_get_by_index(0).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

/// Every schema object but hub's indexes, with its SQL.
async fn schema_without_hub_indexes(db: &DatabaseConnection) -> Vec<String> {
    strings(
        db,
        "SELECT type || ' ' || name || ' ' || COALESCE(sql, '') FROM sqlite_master \
         WHERE name NOT LIKE 'hub\\_ix\\_%' ESCAPE '\\' ORDER BY name",
    )
    .await
}

#[tokio::test]
async fn read_indexes_are_added_to_a_meshcore_hub_database_on_request_only() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("meshcore.db");
    std::fs::copy(fixture_db_path(), &path).unwrap_or_else(|e| panic!("{e}"));
    let db = hub_core::db::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        hub_core::db::prepare_schema(&db)
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        SchemaState::ExternallyManaged
    );
    let every = migration::read_indexes::all().count();
    let before = schema_without_hub_indexes(&db).await;
    let missing = migration::read_indexes::missing(&db)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(missing.len(), every, "reading added none");

    // The hint needs a big table: the fixture's 20 raw packets are one only at a threshold of 20.
    let hint = hub_api::read_indexes::missing_hint(&db, 20)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let hint = hint.unwrap_or_else(|| panic!("no hint with {every} indexes missing"));
    assert!(hint.contains("migrate --read-indexes"), "{hint}");
    assert!(hint.contains("raw_packets"), "{hint}");
    assert_eq!(
        hub_api::read_indexes::missing_hint(&db, 21).await.ok(),
        Some(None),
        "no table has 21 rows"
    );

    let created = hub_api::read_indexes::create(&db)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(created, missing);
    assert!(
        migration::read_indexes::missing(&db)
            .await
            .unwrap_or_default()
            .is_empty()
    );
    assert_eq!(
        hub_api::read_indexes::missing_hint(&db, 1).await.ok(),
        Some(None),
        "no hint once they exist"
    );
    // Nothing else changed: no table, no migration bookkeeping, the same schema otherwise.
    assert_eq!(schema_without_hub_indexes(&db).await, before);
    assert!(
        !hub_core::db::table_exists(&db, "seaql_migrations")
            .await
            .unwrap_or(true)
    );
    assert_eq!(
        hub_core::db::prepare_schema(&db)
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        SchemaState::ExternallyManaged
    );
    // Running it again does nothing.
    assert!(
        hub_api::read_indexes::create(&db)
            .await
            .unwrap_or_default()
            .is_empty()
    );
}

#[tokio::test]
async fn a_database_hub_migrated_has_every_read_index() {
    let app = common::empty_app().await;
    assert_eq!(
        migration::read_indexes::missing(&app.db).await.ok(),
        Some(Vec::new())
    );
}

#[tokio::test]
async fn read_indexes_on_a_meshcore_hub_postgres_schema() {
    let (_pg, target) = common::meshcore_hub_postgres();
    let db = hub_core::db::connect_to(&target)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        hub_core::db::prepare(&db, &target, hub_core::db::Intent::Migrate)
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        SchemaState::ExternallyManaged
    );
    let every = migration::read_indexes::all().count();
    let missing = migration::read_indexes::missing(&db)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(missing.len(), every);
    let created = hub_api::read_indexes::create(&db)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(created, missing);
    // In MeshCore Hub's schema, where its tables are, and nowhere else.
    let placed = strings(
        &db,
        "SELECT schemaname::text FROM pg_indexes WHERE indexname LIKE 'hub\\_ix\\_%' \
         GROUP BY schemaname",
    )
    .await;
    assert_eq!(placed, ["meshcorehub"]);
    assert!(
        migration::read_indexes::missing(&db)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_empty()
    );
}
