//! The change watcher (`hub_core::changes`) against real databases written the way MeshCore
//! Hub's collector writes them, through connections other than the watcher's: a real SQLite
//! file with hub's migrated schema, and a real PostgreSQL cluster holding MeshCore Hub's own
//! dump (schema `meshcorehub`, `timestamptz` columns).
//!
//! Every time is relative to one horizon taken from `Utc::now()`, never to the wall clock, so
//! no test depends on the day or hour it runs. PostgreSQL's statistics lag the data (up to
//! about 10 s after an idle writer's commit), so those tests poll until a deadline.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{NaiveDateTime, Timelike, Utc};
use hub_core::changes::{ChangeWatcher, TableChange};
use hub_core::db::{self, DatabaseTarget};
use hub_core::tables::Table;
use hub_core::test_support::PostgresServer;
use hub_core::time::{Timestamp, db_time};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement, Value};

/// The start of the current UTC hour, as the server would pass it.
fn current_horizon() -> NaiveDateTime {
    let now = Utc::now().naive_utc();
    now.date().and_hms_opt(now.hour(), 0, 0).unwrap()
}

fn minutes(n: i64) -> chrono::Duration {
    chrono::Duration::minutes(n)
}

async fn exec(db: &DatabaseConnection, sql: &str, values: Vec<Value>) {
    let backend = db.get_database_backend();
    db.execute_raw(Statement::from_sql_and_values(backend, sql, values))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Inserts a channel message received at `at`, as the collector does.
async fn insert_message(db: &DatabaseConnection, id: &str, at: NaiveDateTime) {
    insert_messages(db, &[(id, at)]).await;
}

/// Inserts channel messages in one statement (one transaction: PostgreSQL counts them in one
/// statistics flush).
async fn insert_messages(db: &DatabaseConnection, rows: &[(&str, NaiveDateTime)]) {
    let backend = db.get_database_backend();
    let mut values = Vec::new();
    let mut tuples = Vec::new();
    for (id, at) in rows {
        let n = values.len();
        tuples.push(format!(
            "(${}, 'channel', 17, 'hello', ${}, ${}, ${})",
            n + 1,
            n + 2,
            n + 2,
            n + 2
        ));
        values.push((*id).into());
        values.push(db_time(backend, Timestamp(*at)));
    }
    exec(
        db,
        &format!(
            "INSERT INTO messages (id, message_type, channel_idx, text, received_at, \
             created_at, updated_at) VALUES {}",
            tuples.join(", ")
        ),
        values,
    )
    .await;
}

async fn insert_node(db: &DatabaseConnection, id: &str, at: NaiveDateTime) {
    let t = db_time(db.get_database_backend(), Timestamp(at));
    exec(
        db,
        "INSERT INTO nodes (id, public_key, first_seen, last_seen, created_at, updated_at, \
         is_observer) VALUES ($1, $2, $3, $3, $3, $3, false)",
        vec![id.into(), format!("{id:0<64}").into(), t],
    )
    .await;
}

fn only(changes: &[TableChange], table: Table, reaches_past: bool) {
    assert_eq!(
        changes,
        &[TableChange {
            table,
            reaches_past
        }],
        "expected only {table} (reaches_past: {reaches_past})"
    );
}

/// The newest-time probe reports a PostgreSQL write at once; its statistics, arriving later,
/// report it again in a later check. A head row's echo: a head change of `messages`.
const HEAD_ECHO: TableChange = TableChange {
    table: Table::Messages,
    reaches_past: false,
};

/// The echo of the collector's `last_seen` update (`nodes` always reaches the past).
const NODES_ECHO: TableChange = TableChange {
    table: Table::Nodes,
    reaches_past: true,
};

/// As [`only`], once the `echoes` (earlier writes reported again when their statistics
/// arrive) are set aside.
fn only_besides(changes: &[TableChange], table: Table, reaches_past: bool, echoes: &[TableChange]) {
    let rest: Vec<TableChange> = changes
        .iter()
        .filter(|c| !echoes.contains(c))
        .copied()
        .collect();
    only(&rest, table, reaches_past);
}

/// `n_tup_ins` of `table` in the statistics as they are now.
async fn counted_inserts(db: &DatabaseConnection, table: &str) -> i64 {
    db.query_one_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT coalesce(sum(n_tup_ins), 0)::bigint FROM pg_stat_user_tables \
         WHERE schemaname = 'meshcorehub' AND relname = $1",
        [table.into()],
    ))
    .await
    .unwrap()
    .unwrap()
    .try_get_by_index(0)
    .unwrap()
}

/// Waits until the statistics count more than `before` inserts into `table`.
async fn until_counted(db: &DatabaseConnection, table: &str, before: i64) {
    let deadline = Instant::now() + STATS_DEADLINE;
    while counted_inserts(db, table).await <= before {
        assert!(
            Instant::now() < deadline,
            "{table}'s inserts not counted within {STATS_DEADLINE:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A migrated SQLite file, a writer pool on it (the collector's connections) and a watcher.
async fn sqlite() -> (tempfile::TempDir, DatabaseConnection, ChangeWatcher) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/meshcore.db", dir.path().display());
    let writer = db::connect(&url).await.unwrap();
    db::prepare_schema(&writer).await.unwrap();
    let watcher = ChangeWatcher::connect(&DatabaseTarget::url(&url))
        .await
        .unwrap();
    (dir, writer, watcher)
}

#[tokio::test]
async fn sqlite_reports_what_the_collector_changed() {
    let (_dir, writer, mut watcher) = sqlite().await;
    let horizon = current_horizon();

    assert_eq!(watcher.check(horizon).await.unwrap(), []);
    assert_eq!(watcher.check(horizon).await.unwrap(), []);

    // The oldest row of the table, as the collector inserted it two days ago: late now.
    insert_message(&writer, "m0", horizon - chrono::Duration::days(2)).await;
    only(
        &watcher.check(horizon).await.unwrap(),
        Table::Messages,
        true,
    );

    // Head rows: at or after the horizon.
    insert_message(&writer, "m1", horizon + minutes(1)).await;
    insert_message(&writer, "m2", horizon).await;
    only(
        &watcher.check(horizon).await.unwrap(),
        Table::Messages,
        false,
    );
    assert_eq!(watcher.check(horizon).await.unwrap(), []);

    // A late row: received yesterday, inserted now.
    insert_message(&writer, "m3", horizon - chrono::Duration::days(1)).await;
    only(
        &watcher.check(horizon).await.unwrap(),
        Table::Messages,
        true,
    );

    // One head row and one late row in the same interval: late.
    insert_message(&writer, "m4", horizon + minutes(2)).await;
    insert_message(&writer, "m5", horizon - minutes(1)).await;
    only(
        &watcher.check(horizon).await.unwrap(),
        Table::Messages,
        true,
    );

    // Retention: the oldest rows go (the first inserted among them, so the table's min
    // rowid moves; a delete in the middle alone is the everything case below).
    let cutoff = db_time(
        writer.get_database_backend(),
        Timestamp(horizon - chrono::Duration::hours(12)),
    );
    exec(
        &writer,
        "DELETE FROM messages WHERE received_at < $1",
        vec![cutoff],
    )
    .await;
    only(
        &watcher.check(horizon).await.unwrap(),
        Table::Messages,
        true,
    );

    // Nodes: an insert, then the collector's `last_seen` update of an existing node.
    insert_node(&writer, "n1", horizon + minutes(1)).await;
    only(&watcher.check(horizon).await.unwrap(), Table::Nodes, true);
    let seen = db_time(
        writer.get_database_backend(),
        Timestamp(horizon + minutes(5)),
    );
    exec(
        &writer,
        "UPDATE nodes SET last_seen = $1 WHERE id = 'n1'",
        vec![seen],
    )
    .await;
    only(&watcher.check(horizon).await.unwrap(), Table::Nodes, true);

    // A small table written by hub (a tag): reaches the past.
    exec(
        &writer,
        "INSERT INTO node_tags (id, node_id, key, value, value_type, created_at, updated_at) \
         VALUES ('t1', 'n1', 'area', 'north', 'string', '2026-01-01 00:00:00.000000', \
         '2026-01-01 00:00:00.000000')",
        vec![],
    )
    .await;
    only(
        &watcher.check(horizon).await.unwrap(),
        Table::NodeTags,
        true,
    );

    // An update of one message's text in the middle of the table: no signature moves, so
    // every table is reported, reaching the past.
    exec(
        &writer,
        "UPDATE messages SET text = 'edited' WHERE id = 'm1'",
        vec![],
    )
    .await;
    let everything = watcher.check(horizon).await.unwrap();
    assert_eq!(everything.len(), Table::ALL.len());
    for (change, table) in everything.iter().zip(Table::ALL) {
        assert_eq!(
            change,
            &TableChange {
                table: *table,
                reaches_past: true
            }
        );
    }
    assert_eq!(watcher.check(horizon).await.unwrap(), []);
}

#[tokio::test]
async fn sqlite_judges_new_rows_by_the_horizon_of_the_check() {
    let (_dir, writer, mut watcher) = sqlite().await;
    let horizon = current_horizon();
    assert_eq!(watcher.check(horizon).await.unwrap(), []);

    // Into an empty table, at the horizon's hour...
    insert_message(&writer, "m1", horizon + minutes(30)).await;
    only(
        &watcher.check(horizon).await.unwrap(),
        Table::Messages,
        false,
    );
    // ... and once the hour has passed, a row of that hour is in the past.
    let next = horizon + chrono::Duration::hours(1);
    insert_message(&writer, "m2", horizon + minutes(59)).await;
    only(&watcher.check(next).await.unwrap(), Table::Messages, true);
    insert_message(&writer, "m3", next + minutes(1)).await;
    only(&watcher.check(next).await.unwrap(), Table::Messages, false);

    // Several tables in one interval: each judged on its own.
    exec(
        &writer,
        "INSERT INTO raw_packets (id, received_at, created_at, updated_at) \
         VALUES ('p1', $1, $1, $1)",
        vec![db_time(
            writer.get_database_backend(),
            Timestamp(next - minutes(1)),
        )],
    )
    .await;
    insert_message(&writer, "m4", next + minutes(2)).await;
    assert_eq!(
        watcher.check(next).await.unwrap(),
        [
            TableChange {
                table: Table::Messages,
                reaches_past: false
            },
            TableChange {
                table: Table::RawPackets,
                reaches_past: true
            },
        ]
    );
}

#[tokio::test]
async fn sqlite_skips_tables_an_older_schema_lacks() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/old.db", dir.path().display());
    let writer = db::connect(&url).await.unwrap();
    exec(
        &writer,
        "CREATE TABLE messages (id VARCHAR NOT NULL PRIMARY KEY, message_type VARCHAR(20) NOT NULL, \
         channel_idx INTEGER, text TEXT NOT NULL, received_at DATETIME NOT NULL, \
         created_at DATETIME NOT NULL, updated_at DATETIME NOT NULL)",
        vec![],
    )
    .await;
    let mut watcher = ChangeWatcher::connect(&DatabaseTarget::url(&url))
        .await
        .unwrap();
    let horizon = current_horizon();
    assert_eq!(watcher.check(horizon).await.unwrap(), []);
    insert_message(&writer, "m1", horizon + minutes(1)).await;
    only(
        &watcher.check(horizon).await.unwrap(),
        Table::Messages,
        false,
    );

    // A table created later (a schema change): everything, once, then as usual.
    exec(
        &writer,
        "CREATE TABLE channels (id VARCHAR NOT NULL PRIMARY KEY, name VARCHAR(100) NOT NULL, \
         created_at DATETIME NOT NULL, updated_at DATETIME NOT NULL)",
        vec![],
    )
    .await;
    assert_eq!(
        watcher.check(horizon).await.unwrap().len(),
        Table::ALL.len()
    );
    exec(
        &writer,
        "INSERT INTO channels VALUES ('c1', 'general', '2026-01-01 00:00:00.000000', \
         '2026-01-01 00:00:00.000000')",
        vec![],
    )
    .await;
    only(
        &watcher.check(horizon).await.unwrap(),
        Table::Channels,
        true,
    );
}

#[tokio::test]
async fn sqlite_watcher_never_creates_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing.db");
    let url = format!("sqlite://{}", path.display());
    assert!(
        ChangeWatcher::connect(&DatabaseTarget::url(&url))
            .await
            .is_err()
    );
    assert!(!path.exists());
}

/// A cluster holding MeshCore Hub's PostgreSQL dump in schema `meshcorehub` of database
/// `meshcore`, the target reading it, and a writer pool on it.
async fn postgres() -> (PostgresServer, DatabaseTarget, DatabaseConnection) {
    let pg = PostgresServer::start();
    pg.create_database("meshcore");
    pg.run_sql_file(
        "meshcore",
        &PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../hub-api/tests/fixtures/meshcore-hub-postgres.sql"),
    );
    let target = DatabaseTarget {
        url: pg.url_of("meshcore"),
        schema: Some("meshcorehub".into()),
    };
    let writer = db::connect_to(&target).await.unwrap();
    // psql returns before its backend has exited, and a backend flushes its statistics as it
    // exits: wait for it, so the restore's counts are in before any watcher's first reading.
    let deadline = Instant::now() + STATS_DEADLINE;
    loop {
        let row = writer
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'psql'",
            ))
            .await
            .unwrap()
            .unwrap();
        if row.try_get_by_index::<i64>(0).unwrap() == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "psql's backend did not exit");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (pg, target, writer)
}

/// How long PostgreSQL's statistics may take to show an idle writer's commit (10 s), with
/// slack for a loaded machine.
const STATS_DEADLINE: Duration = Duration::from_secs(20);

/// Checks until `table` is reported with `reaches_past`, and returns every change seen
/// meanwhile (echoes of earlier writes included).
async fn until_reported(
    watcher: &mut ChangeWatcher,
    horizon: NaiveDateTime,
    table: Table,
    reaches_past: bool,
) -> Vec<TableChange> {
    let expected = TableChange {
        table,
        reaches_past,
    };
    let deadline = Instant::now() + STATS_DEADLINE;
    let mut seen = Vec::new();
    loop {
        seen.extend(watcher.check(horizon).await.unwrap());
        if seen.contains(&expected) {
            return seen;
        }
        assert!(
            Instant::now() < deadline,
            "{expected:?} not reported within {STATS_DEADLINE:?}; seen: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn postgres_reports_what_the_collector_changed() {
    let (_pg, target, writer) = postgres().await;
    let mut watcher = ChangeWatcher::connect(&target).await.unwrap();
    let horizon = current_horizon();

    // The first check sets the baselines; nothing has been written since.
    assert_eq!(watcher.check(horizon).await.unwrap(), []);
    assert_eq!(watcher.check(horizon).await.unwrap(), []);

    // A head row: only messages, not reaching the past.
    insert_message(&writer, "m1", horizon + minutes(1)).await;
    let seen = until_reported(&mut watcher, horizon, Table::Messages, false).await;
    only(&seen, Table::Messages, false);

    // A late row: received yesterday.
    insert_message(&writer, "m2", horizon - chrono::Duration::days(1)).await;
    let seen = until_reported(&mut watcher, horizon, Table::Messages, true).await;
    only_besides(&seen, Table::Messages, true, &[HEAD_ECHO]);

    // More head rows after the late one: head again (the late row raised the baseline).
    insert_messages(&writer, &[("m3", horizon + minutes(2)), ("m4", horizon)]).await;
    let seen = until_reported(&mut watcher, horizon, Table::Messages, false).await;
    assert!(
        seen.iter()
            .all(|c| c.table == Table::Messages && !c.reaches_past),
        "{seen:?}"
    );

    // Retention deletes the oldest rows.
    let cutoff = db_time(
        writer.get_database_backend(),
        Timestamp(horizon - chrono::Duration::hours(12)),
    );
    exec(
        &writer,
        "DELETE FROM messages WHERE received_at < $1",
        vec![cutoff],
    )
    .await;
    let seen = until_reported(&mut watcher, horizon, Table::Messages, true).await;
    only_besides(&seen, Table::Messages, true, &[HEAD_ECHO]);

    // The collector's `last_seen` update of a node of the dump.
    let seen_at = db_time(
        writer.get_database_backend(),
        Timestamp(horizon + minutes(3)),
    );
    exec(
        &writer,
        "UPDATE nodes SET last_seen = $1, updated_at = $1 \
         WHERE id = (SELECT id FROM nodes ORDER BY id LIMIT 1)",
        vec![seen_at],
    )
    .await;
    let seen = until_reported(&mut watcher, horizon, Table::Nodes, true).await;
    only_besides(&seen, Table::Nodes, true, &[HEAD_ECHO]);

    // An update of a message's text: reaches the past.
    exec(
        &writer,
        "UPDATE messages SET text = 'edited' WHERE id = 'm1'",
        vec![],
    )
    .await;
    let seen = until_reported(&mut watcher, horizon, Table::Messages, true).await;
    only_besides(&seen, Table::Messages, true, &[NODES_ECHO]);

    // TRUNCATE changes the table's file at once.
    exec(&writer, "TRUNCATE events_log", vec![]).await;
    let seen = until_reported(&mut watcher, horizon, Table::EventsLog, true).await;
    only(&seen, Table::EventsLog, true);
}

#[tokio::test]
async fn postgres_rebaselines_when_the_horizon_moves() {
    let (_pg, target, writer) = postgres().await;
    let mut watcher = ChangeWatcher::connect(&target).await.unwrap();
    let horizon = current_horizon();
    assert_eq!(watcher.check(horizon).await.unwrap(), []);

    let before = counted_inserts(&writer, "messages").await;
    insert_message(&writer, "m1", horizon + minutes(1)).await;
    let seen = until_reported(&mut watcher, horizon, Table::Messages, false).await;
    only(&seen, Table::Messages, false);
    // The probe may have seen m1 before the statistics: let them count it, and take their
    // echo under the old horizon.
    until_counted(&writer, "messages", before).await;
    let echo = watcher.check(horizon).await.unwrap();
    assert!(echo.is_empty() || echo == [HEAD_ECHO], "{echo:?}");

    // The next hour: m1 is now in the past, but it was reported already; re-baselining
    // reports nothing, and a head row of the new hour is head.
    let next = horizon + chrono::Duration::hours(1);
    assert_eq!(watcher.check(next).await.unwrap(), []);
    insert_message(&writer, "m2", next + minutes(1)).await;
    let seen = until_reported(&mut watcher, next, Table::Messages, false).await;
    only(&seen, Table::Messages, false);

    // A row of the hour that just passed is late under the new horizon.
    insert_message(&writer, "m3", next - minutes(1)).await;
    let seen = until_reported(&mut watcher, next, Table::Messages, true).await;
    only_besides(&seen, Table::Messages, true, &[HEAD_ECHO]);

    // event_observers has no index on its time column in MeshCore Hub's schema: counting its
    // hour would scan it, so its inserts reach the past.
    let at = db_time(writer.get_database_backend(), Timestamp(next + minutes(1)));
    exec(
        &writer,
        "INSERT INTO event_observers (id, event_type, event_hash, observer_node_id, \
         observed_at, created_at, updated_at) \
         VALUES ('eo1', 'message', 'ffff', (SELECT id FROM nodes ORDER BY id LIMIT 1), $1, $1, $1)",
        vec![at],
    )
    .await;
    let seen = until_reported(&mut watcher, next, Table::EventObservers, true).await;
    only_besides(&seen, Table::EventObservers, true, &[HEAD_ECHO]);
}

#[tokio::test]
async fn postgres_sees_new_rows_and_last_seen_before_the_statistics_do() {
    let (_pg, target, _writer) = postgres().await;
    // One connection, as one collector process: after a commit whose statistics it flushed,
    // its next commits within a second stay unflushed (`PGSTAT_MIN_INTERVAL`), up to 10 s when
    // it then goes idle. So the second row below is not in the statistics when it is checked.
    let mut options = sea_orm::ConnectOptions::new(target.url.clone());
    options
        .max_connections(1)
        .min_connections(1)
        .set_schema_search_path("meshcorehub");
    let collector = sea_orm::Database::connect(options).await.unwrap();
    let mut watcher = ChangeWatcher::connect(&target).await.unwrap();
    let horizon = current_horizon();
    assert_eq!(watcher.check(horizon).await.unwrap(), []);

    insert_message(&collector, "m1", horizon + minutes(1)).await;
    let seen = until_reported(&mut watcher, horizon, Table::Messages, false).await;
    only(&seen, Table::Messages, false);

    // A newer row: reported at the very next check, as a head change.
    insert_message(&collector, "m2", horizon + minutes(2)).await;
    only(
        &watcher.check(horizon).await.unwrap(),
        Table::Messages,
        false,
    );

    // The collector hears a node: `last_seen` moves forward, reported at once.
    let seen_at = db_time(DbBackend::Postgres, Timestamp(horizon + minutes(3)));
    exec(
        &collector,
        "UPDATE nodes SET last_seen = $1, updated_at = $1 \
         WHERE id = (SELECT id FROM nodes ORDER BY id LIMIT 1)",
        vec![seen_at],
    )
    .await;
    only(&watcher.check(horizon).await.unwrap(), Table::Nodes, true);
}
