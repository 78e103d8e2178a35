//! hub on a PostgreSQL database made by MeshCore Hub itself: the `meshcore-hub-postgres.sql`
//! dump (schema `meshcorehub`, `timestamptz` columns), reached through the `DATABASE_*`
//! settings as `serve` resolves them, answers every read endpoint byte for byte as hub does
//! on the same rows in a MeshCore Hub SQLite database.

use crate::common;

use clap::Parser;
use common::*;
use hub_core::db::{self, DatabaseTarget, Intent, SchemaState};
use hub_core::settings::DatabaseSettings;
use hub_core::test_support::PostgresServer;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, TransactionTrait};
use std::path::PathBuf;

/// The database settings of `hub-api serve`, parsed from its flags.
#[derive(Parser)]
struct DatabaseCli {
    #[command(flatten)]
    database: DatabaseSettings,
}

fn postgres_fixture_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/meshcore-hub-postgres.sql")
}

/// Adds `today - 2026-11-28` days to every `timestamptz` and `date` column. Today is the test's
/// own UTC date (the clock hub reads), not the server's: a run under a moved clock
/// (scripts/test-clock-moved) must shift the rows to the day hub believes it is.
fn shift_to_today() -> String {
    let made = chrono::NaiveDate::from_ymd_opt(2026, 11, 28).expect("valid date");
    let shift = (chrono::Utc::now().date_naive() - made).num_days();
    format!(
        "DO $$ DECLARE c record; shift integer := {shift}; BEGIN \
    FOR c IN SELECT table_name, column_name, data_type FROM information_schema.columns \
      WHERE table_schema = 'meshcorehub' \
        AND data_type IN ('timestamp with time zone', 'date') LOOP \
      EXECUTE format('UPDATE meshcorehub.%I SET %I = %I + %s', c.table_name, c.column_name, \
        c.column_name, CASE WHEN c.data_type = 'date' THEN shift::text \
          ELSE format('interval %L', shift || ' days') END); \
    END LOOP; END $$"
    )
}

/// A cluster holding the restored dump in database `meshcore`.
fn restored_fixture() -> PostgresServer {
    let pg = PostgresServer::start();
    pg.create_database("meshcore");
    pg.run_sql_file("meshcore", &postgres_fixture_path());
    // The dump was made on 2026-11-28: move its rows by whole days to today, so the 24 h and
    // 7-day windows hold them whenever the test runs (whole days keep dates and datetimes
    // on the same day boundaries).
    pg.run_sql("meshcore", &shift_to_today());
    // A server whose default zone is far from UTC (12:57 UTC is 01:57 the next day there):
    // hub must pin its sessions to UTC, or days and windows shift.
    pg.run_sql(
        "meshcore",
        "ALTER DATABASE meshcore SET timezone TO 'Pacific/Auckland'",
    );
    pg
}

/// The target `serve` resolves from MeshCore Hub's settings for the restored fixture.
fn meshcore_hub_settings(pg: &PostgresServer, schema: Option<&str>) -> DatabaseTarget {
    let port = pg.port().to_string();
    let mut args = vec![
        "hub",
        "--database-backend",
        "postgres",
        "--database-host",
        "127.0.0.1",
        "--database-port",
        &port,
        "--database-name",
        "meshcore",
        "--database-user",
        "hub",
    ];
    if let Some(schema) = schema {
        args.extend(["--database-schema", schema]);
    }
    let settings = DatabaseCli::try_parse_from(args)
        .expect("database flags")
        .database;
    let target = settings.resolve().expect("valid settings");
    assert_eq!(
        target.url,
        format!("postgres://hub@127.0.0.1:{port}/meshcore"),
        "DATABASE_URL in the environment would override the DATABASE_* settings"
    );
    target
}

/// Column names of `table` in the SQLite database, in table order.
async fn sqlite_columns(sqlite: &DatabaseConnection, table: &str) -> Vec<String> {
    let rows = sqlite
        .query_all_raw(Statement::from_string(
            DbBackend::Sqlite,
            format!("SELECT name FROM pragma_table_info('{table}') ORDER BY cid"),
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|row| row.try_get_by_index::<String>(0).unwrap())
        .collect()
}

/// PostgreSQL columns of `table` in schema `meshcorehub` with their types.
async fn postgres_columns(pg: &DatabaseConnection, table: &str) -> Vec<(String, String)> {
    let rows = pg
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT column_name::text, data_type::text FROM information_schema.columns \
             WHERE table_schema = 'meshcorehub' AND table_name = $1 ORDER BY ordinal_position",
            [table.into()],
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|row| {
            (
                row.try_get_by_index::<String>(0).unwrap(),
                row.try_get_by_index::<String>(1).unwrap(),
            )
        })
        .collect()
}

/// The SQL that reads a PostgreSQL column as MeshCore Hub stores it in SQLite: datetimes as
/// naive UTC text with six fraction digits, booleans as 0/1, JSON and dates as text.
fn as_sqlite_text(column: &str, data_type: &str) -> String {
    let quoted = format!("\"{column}\"");
    match data_type {
        "timestamp with time zone" => {
            format!("to_char({quoted} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')")
        }
        "timestamp without time zone" => {
            format!("to_char({quoted}, 'YYYY-MM-DD HH24:MI:SS.US')")
        }
        "boolean" => format!("CASE WHEN {quoted} THEN '1' WHEN NOT {quoted} THEN '0' END"),
        _ => format!("{quoted}::text"),
    }
}

/// Copies every row of every MeshCore Hub table from PostgreSQL into the SQLite database,
/// as text that SQLite's column affinities turn into MeshCore Hub's stored forms.
async fn copy_into_sqlite(pg: &DatabaseConnection, sqlite: &DatabaseConnection) -> usize {
    let tables: Vec<String> = pg
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT tablename::text FROM pg_catalog.pg_tables \
             WHERE schemaname = 'meshcorehub' ORDER BY 1",
        ))
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get_by_index::<String>(0).unwrap())
        .collect();
    assert!(tables.len() >= 20, "restored tables: {tables:?}");
    let txn = sqlite.begin().await.unwrap();
    // Rows arrive table by table, not in foreign-key order.
    txn.execute_unprepared("PRAGMA defer_foreign_keys = ON")
        .await
        .unwrap();
    txn.execute_unprepared("DELETE FROM alembic_version")
        .await
        .unwrap();
    let mut copied = 0;
    for table in &tables {
        let in_sqlite = sqlite_columns(sqlite, table).await;
        assert!(
            !in_sqlite.is_empty(),
            "table {table} missing from the SQLite schema"
        );
        let columns: Vec<(String, String)> = postgres_columns(pg, table)
            .await
            .into_iter()
            .filter(|(name, _)| in_sqlite.contains(name))
            .collect();
        let select = columns
            .iter()
            .map(|(name, data_type)| as_sqlite_text(name, data_type))
            .collect::<Vec<_>>()
            .join(", ");
        let rows = pg
            .query_all_raw(Statement::from_string(
                DbBackend::Postgres,
                format!("SELECT {select} FROM meshcorehub.{table}"),
            ))
            .await
            .unwrap();
        let names = columns
            .iter()
            .map(|(name, _)| format!("\"{name}\""))
            .collect::<Vec<_>>()
            .join(", ");
        let marks = vec!["?"; columns.len()].join(", ");
        for row in &rows {
            let values: Vec<sea_orm::Value> = (0..columns.len())
                .map(|i| row.try_get_by_index::<Option<String>>(i).unwrap().into())
                .collect();
            txn.execute_raw(Statement::from_sql_and_values(
                DbBackend::Sqlite,
                format!("INSERT INTO \"{table}\" ({names}) VALUES ({marks})"),
                values,
            ))
            .await
            .unwrap_or_else(|e| panic!("copy into {table}: {e}"));
            copied += 1;
        }
    }
    txn.commit().await.unwrap();
    copied
}

/// A new SQLite database with MeshCore Hub's exact schema.
async fn meshcore_hub_sqlite() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meshcore.db");
    let db = db::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    db.execute_unprepared(&fixture_schema_sql()).await.unwrap();
    db.close().await.unwrap();
    (dir, path)
}

/// Requests (with an `X-User-Roles` value, or none) whose answers must not differ.
fn requests() -> Vec<(String, Option<&'static str>)> {
    let observer = "aa01000000000000000000000000000000000000000000000000000000000000";
    let alpha = "a1fa000000000000000000000000000000000000000000000000000000000000";
    let mut uris: Vec<String> = [
        "/api/v1/nodes",
        "/api/v1/nodes?sort=name&order=asc",
        "/api/v1/nodes?sort=last_seen&order=desc&limit=3&offset=1",
        "/api/v1/nodes?search=north&observer=true",
        "/api/v1/nodes?adv_type=repeater&sort=public_key",
        "/api/v1/nodes?role=gateway",
        "/api/v1/nodes?adopted_by=7653ff41-9726-4a31-a30e-2dd57869aeb0",
        "/api/v1/nodes/prefix/a1",
        "/api/v1/nodes/prefix/aa",
        "/api/v1/channels",
        "/api/v1/user/profiles",
        "/api/v1/user/profiles?exclude_test=false&limit=2&offset=1",
        "/api/v1/user/profile/7653ff41-9726-4a31-a30e-2dd57869aeb0",
        "/api/v1/user/profile/c4a4d9ca-1e7f-4237-8098-299c9f5ea589",
        "/api/v1/advertisements",
        "/api/v1/advertisements/2ecbe4cd-6569-411c-a608-9f0dc9bd758e",
        "/api/v1/advertisements?route_type=all&sort=node_name&order=asc",
        "/api/v1/advertisements?search=alpha&since=2026-01-01T00:00:00Z",
        "/api/v1/advertisements?since=2026-11-28T11:00:00Z&until=2026-11-28T12:30:00Z",
        "/api/v1/messages",
        "/api/v1/messages/b739a4a8-8f97-4cf7-874c-2168bfe5352b",
        "/api/v1/messages?message_type=channel&sort=from",
        "/api/v1/messages?since=2026-11-28T12:35:00Z",
        "/api/v1/dashboard/stats",
        "/api/v1/dashboard/recent-activity",
        "/api/v1/dashboard/activity",
        "/api/v1/dashboard/activity?days=90",
        "/api/v1/dashboard/packet-activity",
        "/api/v1/dashboard/message-activity",
        "/api/v1/dashboard/node-count",
        "/api/v1/dashboard/packet-breakdown",
        "/api/v1/dashboard/routes-overview",
    ]
    .map(String::from)
    .to_vec();
    uris.extend([
        format!("/api/v1/nodes/{alpha}"),
        format!("/api/v1/nodes/{alpha}/tags"),
        format!("/api/v1/nodes/{observer}"),
        format!("/api/v1/advertisements?observed_by={observer}"),
        format!("/api/v1/messages?observed_by={observer}"),
        "/api/v1/messages?pubkey_prefix=a1fa00000000".to_string(),
    ]);
    // The endpoints of docs/contract/api-2.md (packets, groups, telemetry, trace paths, routes).
    let route = "48e0ce30-8161-4a75-823b-11828f79f0e6";
    uris.extend([
        "/api/v1/packets".to_string(),
        "/api/v1/packets?sort=snr&order=asc".to_string(),
        "/api/v1/packets?sort=event_type&decryptable=false".to_string(),
        "/api/v1/packets?redacted=false&limit=5&offset=2".to_string(),
        "/api/v1/packets/db86ff6b-9475-4eed-9f21-472ea5c37da2".to_string(),
        "/api/v1/packet-groups".to_string(),
        "/api/v1/packet-groups?sort=reception_count&order=desc".to_string(),
        "/api/v1/packet-groups?sort=event_type&order=asc&path_hash_bytes=2".to_string(),
        "/api/v1/packet-groups/ad010000000000000000000000000000".to_string(),
        "/api/v1/telemetry".to_string(),
        "/api/v1/trace-paths".to_string(),
        "/api/v1/routes".to_string(),
        format!("/api/v1/routes/{route}"),
        format!("/api/v1/routes/{route}/history"),
        format!("/api/v1/routes/{route}/history?days=3"),
    ]);
    let mut requests: Vec<(String, Option<&'static str>)> =
        uris.into_iter().map(|uri| (uri, None)).collect();
    for roles in ["member", "operator", "admin", "operator,member"] {
        for uri in [
            "/api/v1/messages",
            "/api/v1/messages?message_type=channel",
            "/api/v1/messages/f7a5d8af-7916-47cb-9cb2-44d7979ab7b8",
            "/api/v1/dashboard/stats",
            "/api/v1/dashboard/recent-activity",
            "/api/v1/dashboard/message-activity",
            "/api/v1/dashboard/routes-overview",
            "/api/v1/channels",
            "/api/v1/packets",
            "/api/v1/packet-groups",
            "/api/v1/routes",
        ] {
            requests.push((uri.to_string(), Some(roles)));
        }
    }
    requests
}

async fn body(app: &TestApp, uri: &str, roles: Option<&str>) -> (u16, String) {
    let resp = match roles {
        Some(roles) => app.get_as(uri, roles).await,
        None => app.get(uri).await,
    };
    let status = resp.0.status().as_u16();
    let text = resp.0.into_body().into_string().await.unwrap();
    (status, text)
}

#[tokio::test]
async fn meshcore_hub_postgres_database_answers_like_its_sqlite_copy() {
    let pg = restored_fixture();
    let target = meshcore_hub_settings(&pg, Some("meshcorehub"));
    let postgres_db = db::connect_to(&target).await.expect("connect");
    assert_eq!(
        db::prepare(&postgres_db, &target, Intent::Serve)
            .await
            .unwrap(),
        SchemaState::ExternallyManaged
    );

    let (dir, path) = meshcore_hub_sqlite().await;
    let sqlite_db = db::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let copied = copy_into_sqlite(&postgres_db, &sqlite_db).await;
    assert!(copied >= 140, "copied {copied} rows");
    sqlite_db.close().await.unwrap();
    let sqlite = app_at(dir, path, Default::default()).await;
    let postgres = app_over(postgres_db);

    // The copy holds the fixture's rows, so an empty answer on both sides cannot pass.
    assert_eq!(sqlite.json("/api/v1/nodes").await["total"], 8);
    assert_eq!(
        sqlite.json_as("/api/v1/messages", "admin").await["total"],
        4
    );
    let stats = postgres.json("/api/v1/dashboard/stats").await;
    assert_eq!(stats["advertisements_7d"], 5, "{stats}");
    assert_eq!(stats["packets_7d"], 20, "{stats}");

    let mut differences = Vec::new();
    for (uri, roles) in requests() {
        let (sqlite_status, from_sqlite) = body(&sqlite, &uri, roles).await;
        let (postgres_status, from_postgres) = body(&postgres, &uri, roles).await;
        assert_eq!(
            sqlite_status, 200,
            "{uri} ({roles:?}) on SQLite: {from_sqlite}"
        );
        if std::env::var_os("HUB_TEST_SHOW").is_some() {
            eprintln!("{uri} {roles:?}: {from_postgres}");
        }
        if postgres_status != 200 || from_sqlite != from_postgres {
            differences.push(format!(
                "{uri} (roles {roles:?}): SQLite {sqlite_status} {from_sqlite}\n  PostgreSQL {postgres_status} {from_postgres}"
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "{} of {} answers differ:\n{}",
        differences.len(),
        requests().len(),
        differences.join("\n")
    );
    postgres.get("/health/ready").await.assert_status_is_ok();
}

fn refusal(result: Result<SchemaState, db::PrepareError>) -> String {
    match result {
        Err(db::PrepareError::Refused(message)) => message,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn search_path_through_the_url_reads_the_schema_too() {
    let pg = restored_fixture();
    let target = DatabaseTarget::url(format!(
        "{}?options=-csearch_path%3Dmeshcorehub",
        pg.url_of("meshcore")
    ));
    let conn = db::connect_to(&target).await.unwrap();
    assert_eq!(
        db::prepare(&conn, &target, Intent::Serve).await.unwrap(),
        SchemaState::ExternallyManaged
    );
    let app = app_over(conn);
    assert_eq!(app.json("/api/v1/nodes").await["total"], 8);
}

#[tokio::test]
async fn serve_refuses_an_empty_schema_beside_meshcore_hub_tables() {
    let pg = restored_fixture();
    // No DATABASE_SCHEMA: the tables are in `meshcorehub`, the search path says `public`.
    let target = meshcore_hub_settings(&pg, None);
    let conn = db::connect_to(&target).await.unwrap();
    for intent in [Intent::Serve, Intent::ServeDemo, Intent::Migrate] {
        let message = refusal(db::prepare(&conn, &target, intent).await);
        assert!(
            message.contains("DATABASE_SCHEMA=meshcorehub"),
            "{intent:?}: {message}"
        );
    }
    // Nothing was created in `public`.
    assert!(!db::table_exists(&conn, "seaql_migrations").await.unwrap());
    assert!(!db::table_exists(&conn, "nodes").await.unwrap());

    // A schema of its own that does not exist yet: serve leaves creating it to migrate.
    let target = meshcore_hub_settings(&pg, Some("second_network"));
    let conn = db::connect_to(&target).await.unwrap();
    let message = refusal(db::prepare(&conn, &target, Intent::Serve).await);
    assert!(message.contains("DATABASE_SCHEMA"), "{message}");
}

#[tokio::test]
async fn migrate_creates_the_schema_of_database_schema() {
    let pg = restored_fixture();
    let target = meshcore_hub_settings(&pg, Some("second_network"));
    let conn = db::connect_to(&target).await.unwrap();
    assert!(matches!(
        db::prepare(&conn, &target, Intent::Migrate).await.unwrap(),
        SchemaState::Migrated { applied } if applied >= 1
    ));
    for table in migration::TABLES {
        assert!(db::table_exists(&conn, table).await.unwrap(), "{table}");
    }
    let row = conn
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = 'second_network' \
             AND tablename = 'seaql_migrations'",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get_by_index::<i64>(0).unwrap(), 1);
    // Now hub's own schema: serve migrates it (nothing pending) and serves it.
    assert_eq!(
        db::prepare(&conn, &target, Intent::Serve).await.unwrap(),
        SchemaState::Migrated { applied: 0 }
    );
    // MeshCore Hub's schema is untouched and still served as it is.
    let original = meshcore_hub_settings(&pg, Some("meshcorehub"));
    let original_conn = db::connect_to(&original).await.unwrap();
    assert_eq!(
        db::prepare(&original_conn, &original, Intent::Serve)
            .await
            .unwrap(),
        SchemaState::ExternallyManaged
    );
    assert!(
        !db::table_exists(&original_conn, "seaql_migrations")
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn a_database_of_something_else_is_never_migrated() {
    let pg = PostgresServer::start();
    pg.create_database("billing");
    pg.run_sql("billing", "CREATE TABLE invoices (id integer PRIMARY KEY)");
    let target = DatabaseTarget::url(pg.url_of("billing"));
    let conn = db::connect_to(&target).await.unwrap();
    for intent in [Intent::Serve, Intent::ServeDemo, Intent::Migrate] {
        let message = refusal(db::prepare(&conn, &target, intent).await);
        assert!(
            message.contains("invoices") && message.contains("DATABASE_SCHEMA"),
            "{intent:?}: {message}"
        );
    }
    // Serving from another, empty schema of that database would still put hub's tables
    // beside someone else's: refused too, and left to `migrate`.
    let target = DatabaseTarget {
        schema: Some("hub".into()),
        ..target
    };
    let conn = db::connect_to(&target).await.unwrap();
    for intent in [Intent::Serve, Intent::ServeDemo] {
        let message = refusal(db::prepare(&conn, &target, intent).await);
        assert!(message.contains("public.invoices"), "{intent:?}: {message}");
    }
    assert!(matches!(
        db::prepare(&conn, &target, Intent::Migrate).await.unwrap(),
        SchemaState::Migrated { .. }
    ));
}

#[tokio::test]
async fn serve_demo_creates_the_schema_of_an_empty_database() {
    let pg = PostgresServer::start();
    pg.create_database("fresh");
    let target = DatabaseTarget {
        url: pg.url_of("fresh"),
        schema: Some("demo".into()),
    };
    let conn = db::connect_to(&target).await.unwrap();
    refusal(db::prepare(&conn, &target, Intent::Serve).await);
    assert!(matches!(
        db::prepare(&conn, &target, Intent::ServeDemo).await.unwrap(),
        SchemaState::Migrated { applied } if applied >= 1
    ));
    assert!(db::table_exists(&conn, "nodes").await.unwrap());
}

#[test]
fn the_serve_command_stops_naming_database_schema_and_never_prints_the_password() {
    let pg = restored_fixture();
    let workdir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_hub-api"))
        .arg("serve")
        .current_dir(workdir.path())
        .env_remove("DATABASE_URL")
        .env_remove("DATABASE_SCHEMA")
        .env("DATABASE_BACKEND", "postgres")
        .env("DATABASE_HOST", "127.0.0.1")
        .env("DATABASE_PORT", pg.port().to_string())
        .env("DATABASE_NAME", "meshcore")
        .env("DATABASE_USER", "hub")
        .env("DATABASE_PASSWORD", "pa ss@word/1")
        .env("API_PORT", "1")
        .env("LOG_LEVEL", "debug")
        .output()
        .expect("run hub-api");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("DATABASE_SCHEMA=meshcorehub"), "{stderr}");
    for printed in [&stderr, &stdout] {
        assert!(!printed.contains("pa ss@word/1"), "{printed}");
        assert!(!printed.contains("pa%20ss%40word%2F1"), "{printed}");
    }
}

/// What MeshCore Hub's current `docker-compose.yml` passes its API for the database (v0.19 on:
/// PostgreSQL only, its bundled `postgres` service initialised with user, password and
/// database `meshcorehub`, tables in schema `meshcorehub`), with the host and port of the test
/// cluster in place of the `postgres` service's, and hub's `DATABASE_BACKEND=postgres` (which
/// MeshCore Hub v0.19 still accepted and v0.20 removed).
fn meshcore_hub_compose_settings(pg: &PostgresServer) -> DatabaseSettings {
    let port = pg.port().to_string();
    DatabaseCli::try_parse_from([
        "hub",
        "--database-backend",
        "postgres",
        "--database-host",
        "127.0.0.1",
        "--database-port",
        &port,
        "--database-name",
        "meshcorehub",
        "--database-schema",
        "meshcorehub",
        "--database-user",
        "meshcorehub",
        "--database-password",
        "meshcorehub",
        // Set for the API container too; it holds no database on PostgreSQL.
        "--data-home",
        "/data",
    ])
    .expect("database flags")
    .database
}

/// An operator of MeshCore Hub's current release (alembic head a59611449e2a) who keeps its
/// compose values and adds `DATABASE_BACKEND=postgres` gets hub serving that database as it
/// is, as MeshCore Hub's own least-privileged role.
#[tokio::test]
async fn meshcore_hub_compose_defaults_serve_its_database_at_the_head() {
    let pg = PostgresServer::start();
    pg.run_sql(
        "postgres",
        "CREATE ROLE meshcorehub LOGIN PASSWORD 'meshcorehub'",
    );
    pg.create_database("meshcorehub");
    pg.run_sql_file("meshcorehub", &postgres_fixture_path());
    pg.run_sql(
        "meshcorehub",
        &format!(
            "{} GRANT USAGE ON SCHEMA meshcorehub TO meshcorehub; \
             GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA meshcorehub TO meshcorehub;",
            meshcore_hub_route_perf_upgrade("meshcorehub")
        ),
    );

    let target = meshcore_hub_compose_settings(&pg)
        .resolve()
        .expect("valid settings");
    assert_eq!(
        target.url,
        format!(
            "postgres://meshcorehub:meshcorehub@127.0.0.1:{}/meshcorehub",
            pg.port()
        )
    );
    assert_eq!(target.schema.as_deref(), Some("meshcorehub"));
    let conn = db::connect_with_timeout(&target, db::DEFAULT_STATEMENT_TIMEOUT)
        .await
        .expect("connect as meshcorehub");
    assert_eq!(
        db::prepare(&conn, &target, Intent::Serve).await.unwrap(),
        SchemaState::ExternallyManaged
    );
    assert_eq!(
        db::alembic_revision(&conn).await.unwrap().as_deref(),
        Some(migration::ALEMBIC_HEAD)
    );
    assert!(!db::table_exists(&conn, "seaql_migrations").await.unwrap());

    let app = app_over(conn);
    assert_eq!(app.json("/api/v1/nodes").await["total"], 8);
    let routes = app.json_as("/api/v1/routes", "admin").await;
    let windows: Vec<i64> = routes["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{routes}"))
        .iter()
        .map(|route| route["window_hours"].as_i64().unwrap())
        .collect();
    assert_eq!(windows, [12, 12], "{routes}");
    app.get("/health/ready").await.assert_status_is_ok();
}
