//! A database hub migrates has exactly MeshCore Hub's schema at its current alembic head
//! (`a59611449e2a`): the same tables, columns, types, nullability, defaults, constraints and
//! indexes as a database MeshCore Hub's own migrations made (`tests/fixtures/meshcore-hub-schema.sql`
//! on SQLite; on PostgreSQL `meshcore-hub-postgres.sql`, made at `da69304d8106`, with
//! `a59611449e2a`'s upgrade applied as its alembic file does it), plus hub's own `hub_ix_` read
//! indexes and `seaql_migrations`. A database an earlier hub migrated (12 tables, or the
//! complete schema at `da69304d8106`) is brought to the head by the later migrations, and a
//! MeshCore Hub database at either head is recognised and left exactly as it is.

use crate::common;

#[path = "schema/legacy_m1.rs"]
mod legacy_m1;

use common::{fixture_schema_sql, meshcore_hub_route_perf_upgrade};
use hub_core::db::SchemaState;
use hub_core::test_support::PostgresServer;
use migration::{
    ALEMBIC_HEAD, HUB_INDEX_PREFIX, KNOWN_ALEMBIC_REVISIONS, MigratorTrait, PREVIOUS_ALEMBIC_HEAD,
    async_trait,
};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Per table, lines describing its shape; compared whole so a failure shows the difference.
type Shape = BTreeMap<String, Vec<String>>;

/// The first column of every row of `sql`, as text.
async fn strings(db: &DatabaseConnection, sql: &str, values: Vec<Value>) -> Vec<String> {
    db.query_all_raw(Statement::from_sql_and_values(
        db.get_database_backend(),
        sql,
        values,
    ))
    .await
    .unwrap_or_else(|e| panic!("{e}\n{sql}"))
    .iter()
    .map(|row| row.try_get_by_index::<String>(0).unwrap())
    .collect()
}

/// A new, empty SQLite file in `dir`.
async fn sqlite_file(dir: &tempfile::TempDir, name: &str) -> DatabaseConnection {
    let path = dir.path().join(name);
    hub_core::db::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("connect")
}

/// How closely two SQLite schemas must agree.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Compare {
    /// Byte-identical DDL: declared types, defaults, `sqlite_master` text, implicit indexes.
    Exact,
    /// What a table built by sea-query can match: column names, order, type affinity,
    /// nullability, primary key, foreign keys and named indexes.
    Equivalent,
}

/// SQLite's type affinity of a declared column type (section 3.1 of its datatype docs).
fn affinity(declared: &str) -> &'static str {
    let declared = declared.to_ascii_uppercase();
    if declared.contains("INT") {
        "INTEGER"
    } else if ["CHAR", "CLOB", "TEXT"]
        .iter()
        .any(|t| declared.contains(t))
    {
        "TEXT"
    } else if declared.contains("BLOB") || declared.is_empty() {
        "BLOB"
    } else if ["REAL", "FLOA", "DOUB"]
        .iter()
        .any(|t| declared.contains(t))
    {
        "REAL"
    } else {
        "NUMERIC"
    }
}

/// The MeshCore Hub part of a SQLite schema: every table but `seaql_migrations`, every index
/// but hub's own.
async fn sqlite_shape(db: &DatabaseConnection, compare: Compare) -> Shape {
    let tables = strings(
        db,
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
         AND name <> 'seaql_migrations' ORDER BY name",
        vec![],
    )
    .await;
    let mut shape = Shape::new();
    for table in tables {
        let mut lines = Vec::new();
        let columns = db
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Sqlite,
                "SELECT cid, name, type, \"notnull\", quote(dflt_value), pk FROM pragma_table_info(?) ORDER BY cid",
                [table.clone().into()],
            ))
            .await
            .unwrap();
        for column in columns {
            let cid: i64 = column.try_get_by_index(0).unwrap();
            let name: String = column.try_get_by_index(1).unwrap();
            let declared: String = column.try_get_by_index(2).unwrap();
            let not_null: i64 = column.try_get_by_index(3).unwrap();
            let default: String = column.try_get_by_index(4).unwrap();
            let pk: i64 = column.try_get_by_index(5).unwrap();
            lines.push(match compare {
                Compare::Exact => format!(
                    "column {cid} {name} {declared} notnull={not_null} default={default} pk={pk}"
                ),
                Compare::Equivalent => format!(
                    "column {cid} {name} {} notnull={not_null} pk={pk}",
                    affinity(&declared)
                ),
            });
        }
        let origins = match compare {
            Compare::Exact => "'c', 'u', 'pk'",
            // sea-query spells some UNIQUE constraints as indexes and vice versa.
            Compare::Equivalent => "'c'",
        };
        lines.extend(
            strings(
                db,
                &format!(
                    "SELECT printf('index %s unique=%d origin=%s partial=%d (%s)', l.name, l.\"unique\", \
                     l.origin, l.partial, (SELECT group_concat(name, ',') FROM \
                     (SELECT name FROM pragma_index_info(l.name) ORDER BY seqno))) \
                     FROM pragma_index_list(?) l WHERE l.origin IN ({origins}) \
                     AND l.name NOT LIKE '{HUB_INDEX_PREFIX}%' ORDER BY l.name"
                ),
                vec![table.clone().into()],
            )
            .await,
        );
        lines.extend(
            strings(
                db,
                "SELECT printf('foreign key %s -> %s(%s) on update %s on delete %s', \"from\", \"table\", \"to\", \
                 on_update, on_delete) FROM pragma_foreign_key_list(?) ORDER BY 1",
                vec![table.clone().into()],
            )
            .await,
        );
        if compare == Compare::Exact {
            lines.extend(
                strings(
                    db,
                    &format!(
                        "SELECT type || ' ' || name || ': ' || sql FROM sqlite_master \
                         WHERE tbl_name = ? AND sql IS NOT NULL AND name NOT LIKE '{HUB_INDEX_PREFIX}%' \
                         ORDER BY type, name"
                    ),
                    vec![table.clone().into()],
                )
                .await,
            );
        }
        shape.insert(table, lines);
    }
    shape
}

/// A SQLite database made from MeshCore Hub's DDL, as its migrations leave it.
async fn meshcore_hub_sqlite(dir: &tempfile::TempDir) -> DatabaseConnection {
    let db = sqlite_file(dir, &format!("meshcore-hub-{}.db", uuid::Uuid::new_v4())).await;
    db.execute_unprepared(&fixture_schema_sql()).await.unwrap();
    db
}

/// hub's read indexes present in the database, by name.
async fn hub_indexes(db: &DatabaseConnection) -> Vec<String> {
    let sql = match db.get_database_backend() {
        DbBackend::Postgres => format!(
            "SELECT indexname::text FROM pg_indexes WHERE schemaname = current_schema() \
             AND indexname LIKE '{HUB_INDEX_PREFIX}%' ORDER BY 1"
        ),
        _ => format!(
            "SELECT name FROM sqlite_master WHERE type = 'index' \
             AND name LIKE '{HUB_INDEX_PREFIX}%' ORDER BY 1"
        ),
    };
    strings(db, &sql, vec![]).await
}

async fn alembic_versions(db: &DatabaseConnection) -> Vec<String> {
    strings(db, "SELECT version_num FROM alembic_version", vec![]).await
}

/// Every migration of hub; a fresh database gets them all at once.
const MIGRATIONS: usize = 7;

/// The migrations before `m20261207_000006_route_perf_head`, which a database hub made at the
/// previous head has had.
const MIGRATIONS_AT_PREVIOUS_HEAD: u32 = 5;

/// What such a database is migrated by: the route-perf head and every migration after it.
const MIGRATIONS_SINCE_PREVIOUS_HEAD: usize = MIGRATIONS - MIGRATIONS_AT_PREVIOUS_HEAD as usize;

/// MeshCore Hub's `alembic/versions/20260725_1200_a59611449e2a_route_perf_remediation.py`.
#[test]
fn the_head_is_meshcore_hubs_route_perf_revision() {
    assert_eq!(ALEMBIC_HEAD, "a59611449e2a");
    assert_eq!(PREVIOUS_ALEMBIC_HEAD, "da69304d8106");
    assert_eq!(
        KNOWN_ALEMBIC_REVISIONS,
        [PREVIOUS_ALEMBIC_HEAD, ALEMBIC_HEAD]
    );
}

/// The routes' windows, by `from_label`.
async fn route_windows(db: &DatabaseConnection) -> Vec<String> {
    strings(
        db,
        "SELECT from_label || '=' || CAST(window_hours AS TEXT) FROM routes ORDER BY from_label",
        vec![],
    )
    .await
}

/// Two routes, one with a window longer than `a59611449e2a` accepts.
const ROUTES_24H_AND_6H: &str = "INSERT INTO routes (id, created_at, updated_at, from_label, to_label, visibility, \
     match_width, window_hours, packet_count_threshold, enabled, reversible) VALUES \
     ('r1', '2026-11-26 05:00:00', '2026-11-26 05:00:00', 'A', 'B', 'community', 2, 24, 3, true, true), \
     ('r2', '2026-11-26 05:00:00', '2026-11-26 05:00:00', 'C', 'D', 'community', 2, 6, 3, true, true)";

#[tokio::test]
async fn sqlite_migrated_schema_is_exactly_meshcore_hubs() {
    let dir = tempfile::tempdir().unwrap();
    let hub = sqlite_file(&dir, "hub.db").await;
    assert_eq!(
        hub_core::db::prepare_schema(&hub).await.unwrap(),
        SchemaState::Migrated {
            applied: MIGRATIONS
        }
    );
    let expected = sqlite_shape(&meshcore_hub_sqlite(&dir).await, Compare::Exact).await;
    assert_eq!(
        expected.len(),
        20,
        "the fixture has MeshCore Hub's 20 tables"
    );
    let actual = sqlite_shape(&hub, Compare::Exact).await;
    assert_eq!(
        actual.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    for (table, lines) in &expected {
        assert_eq!(&actual[table], lines, "table {table}");
    }
    assert_eq!(alembic_versions(&hub).await, [ALEMBIC_HEAD]);
    assert_eq!(
        hub_indexes(&hub).await.len(),
        migration::read_indexes::all().count()
    );
    // Migrating again changes nothing.
    assert_eq!(
        hub_core::db::prepare_schema(&hub).await.unwrap(),
        SchemaState::Migrated { applied: 0 }
    );
    assert_eq!(sqlite_shape(&hub, Compare::Exact).await, actual);
    assert_eq!(alembic_versions(&hub).await, [ALEMBIC_HEAD]);
}

/// The names and definitions of hub's read indexes before they had the `hub_ix_` prefix.
const LEGACY_READ_INDEXES: &[(&str, &str, &[&str])] = &[
    ("ix_nodes_created_at", "nodes", &["created_at"]),
    ("ix_node_tags_key_value", "node_tags", &["key", "value"]),
    (
        "ix_advertisements_route_type_received_at",
        "advertisements",
        &["route_type", "received_at"],
    ),
    (
        "ix_advertisements_event_hash",
        "advertisements",
        &["event_hash"],
    ),
    (
        "ix_messages_channel_idx_received_at",
        "messages",
        &["channel_idx", "received_at"],
    ),
    ("ix_messages_event_hash", "messages", &["event_hash"]),
    (
        "ix_messages_type_channel_idx",
        "messages",
        &["message_type", "channel_idx"],
    ),
    (
        "ix_raw_packets_path_hash_bytes_received_at",
        "raw_packets",
        &["received_at", "path_hash_bytes"],
    ),
    (
        "ix_user_profile_nodes_profile",
        "user_profile_nodes",
        &["user_profile_id", "adopted_at"],
    ),
];

/// `m20261126_000002_read_indexes` as hub shipped it, with `ix_` names.
struct LegacyReadIndexes;

impl migration::MigrationName for LegacyReadIndexes {
    fn name(&self) -> &str {
        "m20261126_000002_read_indexes"
    }
}

#[async_trait::async_trait]
impl migration::MigrationTrait for LegacyReadIndexes {
    async fn up(&self, manager: &migration::SchemaManager) -> Result<(), sea_orm::DbErr> {
        for (name, table, columns) in LEGACY_READ_INDEXES {
            manager
                .create_index(legacy_m1::index(name, table, columns))
                .await?;
        }
        Ok(())
    }
}

/// hub's migrations before the complete schema.
struct LegacyMigrator;

impl MigratorTrait for LegacyMigrator {
    fn migrations() -> Vec<Box<dyn migration::MigrationTrait>> {
        vec![Box::new(legacy_m1::Migration), Box::new(LegacyReadIndexes)]
    }
}

/// A node row, to show that upgrading keeps data (and, on PostgreSQL, its instants).
const LEGACY_NODE: &str = "INSERT INTO nodes (id, public_key, name, first_seen, created_at, updated_at, is_observer) \
     VALUES ('n1', 'ab00000000000000000000000000000000000000000000000000000000000000', 'Old', \
     '2026-11-26 05:00:00', '2026-11-26 05:00:00', '2026-11-26 05:00:00', false)";

#[tokio::test]
async fn sqlite_database_of_an_earlier_hub_is_completed() {
    let dir = tempfile::tempdir().unwrap();
    let hub = sqlite_file(&dir, "hub.db").await;
    LegacyMigrator::up(&hub, None).await.unwrap();
    assert!(!hub_core::db::table_exists(&hub, "telemetry").await.unwrap());
    hub.execute_unprepared(LEGACY_NODE).await.unwrap();

    assert_eq!(
        hub_core::db::prepare_schema(&hub).await.unwrap(),
        SchemaState::Migrated {
            applied: MIGRATIONS - 2
        }
    );
    let fixture = meshcore_hub_sqlite(&dir).await;
    let expected = sqlite_shape(&fixture, Compare::Equivalent).await;
    let actual = sqlite_shape(&hub, Compare::Equivalent).await;
    assert_eq!(
        actual.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    for (table, lines) in &expected {
        assert_eq!(&actual[table], lines, "table {table}");
    }
    // The tables it lacked are MeshCore Hub's exactly.
    let exact = sqlite_shape(&hub, Compare::Exact).await;
    let fixture = sqlite_shape(&fixture, Compare::Exact).await;
    for table in [
        "telemetry",
        "trace_paths",
        "packet_path_hops",
        "alembic_version",
    ] {
        assert_eq!(exact[table], fixture[table], "table {table}");
    }
    assert_eq!(alembic_versions(&hub).await, [ALEMBIC_HEAD]);
    let renamed: Vec<String> = LEGACY_READ_INDEXES
        .iter()
        .map(|(name, _, _)| format!("hub_{name}"))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    // The renamed ones, and those of the later migrations.
    let mut every: Vec<String> = migration::read_indexes::all()
        .map(|(name, _, _)| name.to_string())
        .collect();
    every.sort();
    assert!(renamed.iter().all(|name| every.contains(name)));
    assert_eq!(hub_indexes(&hub).await, every);
    assert_eq!(
        strings(&hub, "SELECT name FROM nodes", vec![]).await,
        ["Old"]
    );
}

#[tokio::test]
async fn sqlite_database_hub_made_at_the_previous_head_is_brought_to_the_head() {
    let dir = tempfile::tempdir().unwrap();
    let hub = sqlite_file(&dir, "hub.db").await;
    // As hub left it before the head moved: every migration up to the fifth, stamped
    // da69304d8106, with a route window longer than the head accepts.
    migration::Migrator::up(&hub, Some(MIGRATIONS_AT_PREVIOUS_HEAD))
        .await
        .unwrap();
    hub.execute_unprepared(&format!(
        "UPDATE alembic_version SET version_num = '{PREVIOUS_ALEMBIC_HEAD}'"
    ))
    .await
    .unwrap();
    hub.execute_unprepared(ROUTES_24H_AND_6H).await.unwrap();

    assert_eq!(
        hub_core::db::prepare_schema(&hub).await.unwrap(),
        SchemaState::Migrated {
            applied: MIGRATIONS_SINCE_PREVIOUS_HEAD
        }
    );
    assert_eq!(alembic_versions(&hub).await, [ALEMBIC_HEAD]);
    assert_eq!(route_windows(&hub).await, ["A=12", "C=6"]);
    assert_eq!(
        sqlite_shape(&hub, Compare::Exact).await,
        sqlite_shape(&meshcore_hub_sqlite(&dir).await, Compare::Exact).await
    );
}

/// A revision MeshCore Hub's migration tool wrote after hub's head stays as it is.
#[tokio::test]
async fn the_route_perf_migration_keeps_a_newer_alembic_revision() {
    let dir = tempfile::tempdir().unwrap();
    let hub = sqlite_file(&dir, "hub.db").await;
    migration::Migrator::up(&hub, Some(MIGRATIONS_AT_PREVIOUS_HEAD))
        .await
        .unwrap();
    hub.execute_unprepared("UPDATE alembic_version SET version_num = 'ffffffffffff'")
        .await
        .unwrap();
    assert_eq!(
        hub_core::db::prepare_schema(&hub).await.unwrap(),
        SchemaState::Migrated {
            applied: MIGRATIONS_SINCE_PREVIOUS_HEAD
        }
    );
    assert_eq!(alembic_versions(&hub).await, ["ffffffffffff"]);
}

#[tokio::test]
async fn sqlite_database_made_by_meshcore_hub_is_left_alone_at_either_head() {
    let dir = tempfile::tempdir().unwrap();
    for revision in KNOWN_ALEMBIC_REVISIONS {
        let db = meshcore_hub_sqlite(&dir).await;
        db.execute_unprepared(&format!(
            "INSERT INTO alembic_version VALUES ('{revision}'); {ROUTES_24H_AND_6H}"
        ))
        .await
        .unwrap();
        let before = sqlite_shape(&db, Compare::Exact).await;
        assert_eq!(
            hub_core::db::prepare_schema(&db).await.unwrap(),
            SchemaState::ExternallyManaged,
            "{revision}"
        );
        assert_eq!(sqlite_shape(&db, Compare::Exact).await, before);
        assert!(hub_indexes(&db).await.is_empty());
        assert!(
            !hub_core::db::table_exists(&db, "seaql_migrations")
                .await
                .unwrap()
        );
        assert_eq!(
            hub_core::db::alembic_revision(&db)
                .await
                .unwrap()
                .as_deref(),
            Some(*revision)
        );
        assert!(hub_core::db::known_alembic_revision(revision));
        // Its data too: the long window is MeshCore Hub's to clamp, not hub's.
        assert_eq!(route_windows(&db).await, ["A=24", "C=6"]);
    }
    // A revision hub was not checked against is still MeshCore Hub's database, read as it is.
    let newer = meshcore_hub_sqlite(&dir).await;
    newer
        .execute_unprepared("INSERT INTO alembic_version VALUES ('ffffffffffff')")
        .await
        .unwrap();
    assert_eq!(
        hub_core::db::prepare_schema(&newer).await.unwrap(),
        SchemaState::ExternallyManaged
    );
    assert!(!hub_core::db::known_alembic_revision("ffffffffffff"));
}

/// MeshCore Hub's PostgreSQL database as `pg_dump` wrote it (schema `meshcorehub`).
fn postgres_dump() -> String {
    std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/meshcore-hub-postgres.sql"),
    )
    .expect("PostgreSQL fixture dump")
}

/// A new database `name` on `pg`, connected.
async fn postgres_database(pg: &PostgresServer, name: &str) -> DatabaseConnection {
    let admin = hub_core::db::connect(&pg.url()).await.unwrap();
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    admin.close().await.unwrap();
    hub_core::db::connect(&format!("postgres://hub@127.0.0.1:{}/{name}", pg.port()))
        .await
        .unwrap()
}

/// The tables of `schema` with their columns, constraints and indexes, table-qualified names
/// written without the schema so that two schemas compare equal. hub's indexes are left out.
async fn postgres_shape(db: &DatabaseConnection, schema: &str) -> Shape {
    let tables = strings(
        db,
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1 \
         AND table_type = 'BASE TABLE' AND table_name <> 'seaql_migrations' ORDER BY 1",
        vec![schema.into()],
    )
    .await;
    let mut shape = Shape::new();
    for table in tables {
        let values = || vec![schema.into(), table.clone().into()];
        let mut lines = strings(
            db,
            "SELECT format('column %s %s %s(%s) nullable=%s default=%s', ordinal_position, column_name, \
             data_type, coalesce(character_maximum_length::text, ''), is_nullable, \
             coalesce(column_default::text, 'NULL')) \
             FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 \
             ORDER BY ordinal_position",
            values(),
        )
        .await;
        lines.extend(
            strings(
                db,
                "SELECT format('constraint %s %s %s', c.conname, c.contype, \
                 replace(pg_get_constraintdef(c.oid), $1 || '.', '')) \
                 FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid \
                 JOIN pg_namespace n ON n.oid = t.relnamespace \
                 WHERE n.nspname = $1 AND t.relname = $2 ORDER BY c.conname",
                values(),
            )
            .await,
        );
        lines.extend(
            strings(
                db,
                &format!(
                    "SELECT format('index %s', replace(indexdef, $1 || '.', '')) FROM pg_indexes \
                     WHERE schemaname = $1 AND tablename = $2 AND indexname NOT LIKE '{HUB_INDEX_PREFIX}%' \
                     ORDER BY indexname"
                ),
                values(),
            )
            .await,
        );
        shape.insert(table, lines);
    }
    shape
}

/// Checks that hub recognises `db` (MeshCore Hub's, at alembic `revision`) and leaves its
/// schema and data as they are; returns its shape in `schema`.
async fn assert_left_alone(db: &DatabaseConnection, schema: &str, revision: &str) -> Shape {
    let before = postgres_shape(db, schema).await;
    let windows = route_windows(db).await;
    assert_eq!(
        hub_core::db::prepare_schema(db).await.unwrap(),
        SchemaState::ExternallyManaged,
        "{revision}"
    );
    assert_eq!(postgres_shape(db, schema).await, before, "{revision}");
    assert_eq!(route_windows(db).await, windows, "{revision}");
    assert_eq!(
        hub_core::db::alembic_revision(db).await.unwrap().as_deref(),
        Some(revision)
    );
    assert!(hub_core::db::known_alembic_revision(revision));
    assert!(hub_indexes(db).await.is_empty());
    assert!(
        !hub_core::db::table_exists(db, "seaql_migrations")
            .await
            .unwrap()
    );
    before
}

/// MeshCore Hub's own PostgreSQL database, restored from the fixture dump (alembic revision
/// `da69304d8106`), then upgraded to `a59611449e2a` as MeshCore Hub's migration does it:
/// its shape at the previous head and at the head. hub recognises it at both and changes
/// nothing in it.
async fn meshcore_hub_postgres_shapes(pg: &PostgresServer) -> (Shape, Shape) {
    let db = postgres_database(pg, "made_by_meshcore_hub").await;
    db.execute_unprepared(&postgres_dump()).await.unwrap();
    db.close().await.unwrap();
    // A fresh pool: the dump empties the search_path of the session that ran it. The tables
    // are in schema `meshcorehub`, where MeshCore Hub's DATABASE_SCHEMA default puts them.
    let db = hub_core::db::connect_to(&hub_core::db::DatabaseTarget {
        url: format!(
            "postgres://hub@127.0.0.1:{}/made_by_meshcore_hub",
            pg.port()
        ),
        schema: Some("meshcorehub".into()),
    })
    .await
    .unwrap();
    let previous = assert_left_alone(&db, "meshcorehub", PREVIOUS_ALEMBIC_HEAD).await;
    assert_eq!(route_windows(&db).await, ["Alpha Site=48", "Op North=24"]);
    db.execute_unprepared(&meshcore_hub_route_perf_upgrade("meshcorehub"))
        .await
        .unwrap();
    assert_eq!(route_windows(&db).await, ["Alpha Site=12", "Op North=12"]);
    let head = assert_left_alone(&db, "meshcorehub", ALEMBIC_HEAD).await;
    db.close().await.unwrap();
    (previous, head)
}

/// Whether index `name` in the current schema is valid (a failed concurrent build leaves an
/// invalid one).
async fn index_is_valid(db: &DatabaseConnection, name: &str) -> bool {
    strings(
        db,
        "SELECT i.indisvalid::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = current_schema() AND c.relname = $1",
        vec![name.into()],
    )
    .await
        == ["true"]
}

fn assert_same_tables(actual: &Shape, expected: &Shape) {
    assert_eq!(
        actual.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    for (table, lines) in expected {
        assert_eq!(&actual[table], lines, "table {table}");
    }
}

/// The hop index as MeshCore Hub's head has it on PostgreSQL, as `pg_indexes` prints it.
const COVERING_HOP_INDEX: &str = "index CREATE INDEX ix_packet_path_hops_raw_packet_id_position \
     ON packet_path_hops USING btree (raw_packet_id, \"position\") \
     INCLUDE (node_hash, packet_hash, event_hash, received_at, observer_node_id)";

/// The hop index as MeshCore Hub's previous head had it.
const PLAIN_HOP_INDEX: &str = "index CREATE INDEX ix_packet_path_hops_raw_packet_id_position \
     ON packet_path_hops USING btree (raw_packet_id, \"position\")";

#[tokio::test]
async fn postgres_migrated_schema_is_exactly_meshcore_hubs_and_upgrades_complete() {
    let pg = PostgresServer::start();
    let (previous, expected) = meshcore_hub_postgres_shapes(&pg).await;
    assert_eq!(expected.len(), 20, "the dump has MeshCore Hub's 20 tables");
    for line in [
        "column 6 first_seen timestamp with time zone() nullable=NO default=NULL",
        "constraint nodes_public_key_key u UNIQUE (public_key)",
        "index CREATE UNIQUE INDEX ix_nodes_public_key ON nodes USING btree (public_key)",
    ] {
        assert!(expected["nodes"].iter().any(|l| l == line), "{line}");
    }
    // a59611449e2a changes exactly one thing in the schema: the hop index becomes covering.
    let changed: Vec<&String> = expected
        .keys()
        .filter(|table| previous[*table] != expected[*table])
        .collect();
    assert_eq!(changed, ["packet_path_hops"]);
    assert!(
        previous["packet_path_hops"]
            .iter()
            .any(|l| l == PLAIN_HOP_INDEX)
    );
    assert!(
        expected["packet_path_hops"]
            .iter()
            .any(|l| l == COVERING_HOP_INDEX)
    );

    let hub = postgres_database(&pg, "made_by_hub").await;
    assert_eq!(
        hub_core::db::prepare_schema(&hub).await.unwrap(),
        SchemaState::Migrated {
            applied: MIGRATIONS
        }
    );
    assert_same_tables(&postgres_shape(&hub, "public").await, &expected);
    assert_eq!(alembic_versions(&hub).await, [ALEMBIC_HEAD]);
    assert_eq!(
        hub_indexes(&hub).await.len(),
        migration::read_indexes::all().count()
    );

    // A database an earlier hub made: 12 tables, naive timestamps, sea-query's names.
    let legacy = postgres_database(&pg, "made_by_earlier_hub").await;
    LegacyMigrator::up(&legacy, None).await.unwrap();
    legacy.execute_unprepared(LEGACY_NODE).await.unwrap();
    assert_eq!(
        strings(
            &legacy,
            "SELECT data_type::text FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name = 'nodes' AND column_name = 'first_seen'",
            vec![],
        )
        .await,
        ["timestamp without time zone"]
    );
    assert_eq!(
        hub_core::db::prepare_schema(&legacy).await.unwrap(),
        SchemaState::Migrated {
            applied: MIGRATIONS - 2
        }
    );
    assert_same_tables(&postgres_shape(&legacy, "public").await, &expected);
    assert_eq!(alembic_versions(&legacy).await, [ALEMBIC_HEAD]);
    assert_eq!(hub_indexes(&legacy).await, hub_indexes(&hub).await);
    // The naive values were UTC and still are the same instants.
    assert_eq!(
        strings(
            &legacy,
            "SELECT name FROM nodes WHERE first_seen = '2026-11-26 05:00:00+00'::timestamptz",
            vec![],
        )
        .await,
        ["Old"]
    );
}

#[tokio::test]
async fn postgres_database_hub_made_at_the_previous_head_is_brought_to_the_head() {
    let pg = PostgresServer::start();
    let (previous, expected) = meshcore_hub_postgres_shapes(&pg).await;

    let hub = postgres_database(&pg, "made_by_hub_at_previous_head").await;
    migration::Migrator::up(&hub, Some(MIGRATIONS_AT_PREVIOUS_HEAD))
        .await
        .unwrap();
    // As hub's DDL made it before the head moved: the plain hop index, da69304d8106.
    hub.execute_unprepared(&format!(
        "DROP INDEX ix_packet_path_hops_raw_packet_id_position;
         CREATE INDEX ix_packet_path_hops_raw_packet_id_position ON packet_path_hops USING btree (raw_packet_id, \"position\");
         UPDATE alembic_version SET version_num = '{PREVIOUS_ALEMBIC_HEAD}';
         {ROUTES_24H_AND_6H};"
    ))
    .await
    .unwrap();
    assert_same_tables(&postgres_shape(&hub, "public").await, &previous);

    assert_eq!(
        hub_core::db::prepare_schema(&hub).await.unwrap(),
        SchemaState::Migrated {
            applied: MIGRATIONS_SINCE_PREVIOUS_HEAD
        }
    );
    assert_same_tables(&postgres_shape(&hub, "public").await, &expected);
    assert!(index_is_valid(&hub, "ix_packet_path_hops_raw_packet_id_position").await);
    assert_eq!(alembic_versions(&hub).await, [ALEMBIC_HEAD]);
    assert_eq!(route_windows(&hub).await, ["A=12", "C=6"]);
    assert_eq!(
        hub_indexes(&hub).await.len(),
        migration::read_indexes::all().count()
    );

    // A concurrent build that failed part way leaves the covering index invalid: the
    // migration rebuilds it rather than take it as done.
    let interrupted = postgres_database(&pg, "interrupted_covering_build").await;
    migration::Migrator::up(&interrupted, Some(MIGRATIONS_AT_PREVIOUS_HEAD))
        .await
        .unwrap();
    interrupted
        .execute_unprepared(
            "UPDATE pg_index SET indisvalid = false WHERE indexrelid = \
             'ix_packet_path_hops_raw_packet_id_position'::regclass",
        )
        .await
        .unwrap();
    assert!(!index_is_valid(&interrupted, "ix_packet_path_hops_raw_packet_id_position").await);
    assert_eq!(
        hub_core::db::prepare_schema(&interrupted).await.unwrap(),
        SchemaState::Migrated {
            applied: MIGRATIONS_SINCE_PREVIOUS_HEAD
        }
    );
    assert!(index_is_valid(&interrupted, "ix_packet_path_hops_raw_packet_id_position").await);
    assert_same_tables(&postgres_shape(&interrupted, "public").await, &expected);
}

/// `serve` migrates on a pool whose statements stop after DATABASE_STATEMENT_TIMEOUT; the
/// covering index of a large `packet_path_hops` takes longer to build, and is built anyway.
#[tokio::test]
async fn postgres_covering_index_build_outlasts_the_statement_timeout() {
    let pg = PostgresServer::start();
    let hub = postgres_database(&pg, "large_hops").await;
    migration::Migrator::up(&hub, Some(MIGRATIONS_AT_PREVIOUS_HEAD))
        .await
        .unwrap();
    hub.execute_unprepared(&format!(
        "DROP INDEX ix_packet_path_hops_raw_packet_id_position;
         CREATE INDEX ix_packet_path_hops_raw_packet_id_position ON packet_path_hops USING btree (raw_packet_id, \"position\");
         UPDATE alembic_version SET version_num = '{PREVIOUS_ALEMBIC_HEAD}';
         INSERT INTO raw_packets (id, received_at) VALUES ('p1', now());
         INSERT INTO packet_path_hops (id, raw_packet_id, \"position\", node_hash, packet_hash, event_hash, received_at) \
           SELECT 'h' || n, 'p1', n, to_hex(n % 65536), md5(n::text), md5((n + 1)::text), now() \
           FROM generate_series(1, 600000) AS n;
         ANALYZE packet_path_hops;"
    ))
    .await
    .unwrap();
    hub.close().await.unwrap();

    let target = hub_core::db::DatabaseTarget::url(pg.url_of("large_hops"));
    let timeout = std::time::Duration::from_millis(300);
    let serving = hub_core::db::connect_with_timeout(&target, timeout)
        .await
        .unwrap();
    // The data is large enough: the same build as one plain statement is cancelled.
    let probe = serving
        .execute_unprepared(
            "CREATE INDEX probe ON packet_path_hops (raw_packet_id, \"position\") \
             INCLUDE (node_hash, packet_hash, event_hash, received_at, observer_node_id)",
        )
        .await
        .expect_err("the build outlasts the statement timeout");
    assert!(hub_core::db::unavailable(&probe), "{probe}");

    assert_eq!(
        hub_core::db::prepare(&serving, &target, hub_core::db::Intent::Serve)
            .await
            .unwrap(),
        SchemaState::Migrated {
            applied: MIGRATIONS_SINCE_PREVIOUS_HEAD
        }
    );
    assert!(index_is_valid(&serving, "ix_packet_path_hops_raw_packet_id_position").await);
    assert!(
        postgres_shape(&serving, "public").await["packet_path_hops"]
            .iter()
            .any(|line| line == COVERING_HOP_INDEX)
    );
    // The pool's connections keep their timeout.
    for _ in 0..4 {
        assert_eq!(
            strings(
                &serving,
                "SELECT current_setting('statement_timeout')",
                vec![]
            )
            .await,
            ["300ms"]
        );
    }
}

/// What `hub-api migrate` prints (stdout and log) for a MeshCore Hub SQLite database at
/// alembic `revision`.
async fn migrate_output(dir: &tempfile::TempDir, revision: &str) -> String {
    let path = dir.path().join(format!("meshcore-{revision}.db"));
    let db = hub_core::db::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    db.execute_unprepared(&fixture_schema_sql()).await.unwrap();
    db.execute_unprepared(&format!(
        "INSERT INTO alembic_version VALUES ('{revision}')"
    ))
    .await
    .unwrap();
    db.close().await.unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_hub-api"))
        .arg("migrate")
        .current_dir(dir.path())
        .env_clear()
        .env("DATABASE_URL", format!("sqlite://{}", path.display()))
        .env("LOG_LEVEL", "info")
        .output()
        .expect("run hub-api");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{printed}");
    assert!(printed.contains("nothing to do"), "{printed}");
    printed
}

#[tokio::test]
async fn the_startup_log_names_the_alembic_revision_and_warns_about_an_unknown_one() {
    let dir = tempfile::tempdir().unwrap();
    let known = migrate_output(&dir, ALEMBIC_HEAD).await;
    assert!(known.contains("alembic_revision=a59611449e2a"), "{known}");
    assert!(!known.contains("was not checked against"), "{known}");
    let unknown = migrate_output(&dir, "ffffffffffff").await;
    assert!(
        unknown.contains("alembic_revision=ffffffffffff"),
        "{unknown}"
    );
    assert!(unknown.contains("was not checked against"), "{unknown}");
}
