//! hub on PostgreSQL: the migrations create the schema, and every read endpoint answers
//! exactly as it does on SQLite for the same rows.

use crate::common;

use common::*;
use hub_core::db::SchemaState;
use hub_core::entity::*;
use hub_core::test_support::PostgresServer;
use sea_orm::{ConnectionTrait, DbBackend, Statement};

/// Moves every datetime and date of the SQLite sample (made on 2026-11-26) forward by whole
/// days to yesterday, so the 7-day windows and the daily series (which end yesterday) hold
/// its rows whenever the test runs; whole days keep datetimes and dates on the same day
/// boundaries.
async fn shift_sample_to_yesterday(app: &TestApp) {
    let made = chrono::NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
    let days = (chrono::Utc::now().date_naive() - made).num_days() - 1;
    let columns = app
        .db
        .query_all_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT m.name, c.name, c.type FROM sqlite_master m, pragma_table_info(m.name) c \
             WHERE m.type = 'table' AND c.type IN ('DATETIME', 'DATE')",
        ))
        .await
        .unwrap();
    assert!(columns.len() > 20, "datetime columns: {}", columns.len());
    for row in columns {
        let table: String = row.try_get_by_index(0).unwrap();
        let column: String = row.try_get_by_index(1).unwrap();
        let kind: String = row.try_get_by_index(2).unwrap();
        // `substr(.., 11)` keeps the time of day and its fraction exactly as stored.
        let shifted = if kind == "DATE" {
            format!("date(\"{column}\", '{days:+} days')")
        } else {
            format!("date(\"{column}\", '{days:+} days') || substr(\"{column}\", 11)")
        };
        app.exec(&format!(
            "UPDATE \"{table}\" SET \"{column}\" = {shifted} WHERE \"{column}\" IS NOT NULL"
        ))
        .await;
    }
}

/// Requests whose answers must not differ between the backends.
const URIS: &[&str] = &[
    "/api/v1/nodes",
    "/api/v1/nodes?sort=name&order=asc",
    "/api/v1/nodes?search=north&observer=true",
    "/api/v1/nodes?adv_type=repeater&sort=public_key",
    "/api/v1/nodes?role=gateway",
    "/api/v1/nodes?adopted_by=cb133b58-5708-4ae7-88a2-565cca9b233f",
    "/api/v1/nodes/prefix/aa",
    "/api/v1/channels",
    "/api/v1/user/profiles",
    "/api/v1/user/profiles?exclude_test=false&limit=2&offset=1",
    "/api/v1/advertisements",
    "/api/v1/advertisements?route_type=all&sort=node_name&order=asc",
    "/api/v1/advertisements?search=alpha&since=2026-01-01T00:00:00Z",
    "/api/v1/advertisements?observed_by=aa01000000000000000000000000000000000000000000000000000000000000&observed_by=bb01000000000000000000000000000000000000000000000000000000000000",
    "/api/v1/messages?observed_by=aa01000000000000000000000000000000000000000000000000000000000000",
    "/api/v1/messages",
    "/api/v1/messages?message_type=channel&sort=from",
    "/api/v1/dashboard/stats",
    "/api/v1/dashboard/recent-activity",
    "/api/v1/dashboard/activity",
    "/api/v1/dashboard/activity?days=90",
    "/api/v1/nodes/aa01000000000000000000000000000000000000000000000000000000000000",
    "/api/v1/nodes/aa01000000000000000000000000000000000000000000000000000000000000/tags",
    "/api/v1/nodes?sort=last_seen&order=desc&limit=3&offset=2",
    "/api/v1/dashboard/packet-activity",
    "/api/v1/dashboard/message-activity",
    "/api/v1/dashboard/node-count",
    "/api/v1/dashboard/packet-breakdown",
    "/api/v1/dashboard/routes-overview",
];

#[tokio::test]
async fn postgres_migrates_and_answers_like_sqlite() {
    let pg = PostgresServer::start();
    let db = hub_core::db::connect(&pg.url())
        .await
        .expect("connect to PostgreSQL");
    assert!(matches!(
        hub_core::db::prepare_schema(&db).await.unwrap(),
        SchemaState::Migrated { applied } if applied >= 2
    ));
    for table in migration::TABLES {
        assert!(
            hub_core::db::table_exists(&db, table).await.unwrap(),
            "{table}"
        );
    }

    let sqlite = fixture_app().await;
    shift_sample_to_yesterday(&sqlite).await;
    copy_rows::<nodes::Entity>(&sqlite.db, &db).await;
    copy_rows::<node_tags::Entity>(&sqlite.db, &db).await;
    copy_rows::<advertisements::Entity>(&sqlite.db, &db).await;
    copy_rows::<messages::Entity>(&sqlite.db, &db).await;
    copy_rows::<channels::Entity>(&sqlite.db, &db).await;
    copy_rows::<user_profiles::Entity>(&sqlite.db, &db).await;
    copy_rows::<user_profile_nodes::Entity>(&sqlite.db, &db).await;
    copy_rows::<event_observers::Entity>(&sqlite.db, &db).await;
    copy_rows::<routes::Entity>(&sqlite.db, &db).await;
    copy_rows::<route_results::Entity>(&sqlite.db, &db).await;
    copy_rows::<route_result_history::Entity>(&sqlite.db, &db).await;
    copy_rows::<raw_packets::Entity>(&sqlite.db, &db).await;

    let postgres = app_over(db);
    for uri in URIS {
        let from_sqlite = sqlite.get(uri).await;
        let from_postgres = postgres.get(uri).await;
        from_sqlite.assert_status_is_ok();
        from_postgres.assert_status_is_ok();
        let left: serde_json::Value = from_sqlite.json().await.value().deserialize();
        let right: serde_json::Value = from_postgres.json().await.value().deserialize();
        assert_eq!(left, right, "{uri}: SQLite and PostgreSQL answers differ");
    }
    // The windows hold the sample's rows, so equal answers are not just equal zeros.
    let stats = postgres.json("/api/v1/dashboard/stats").await;
    for windowed in ["advertisements_7d", "messages_7d", "packets_7d"] {
        assert!(stats[windowed].as_i64().unwrap() > 0, "{windowed}: {stats}");
    }
    let activity = postgres.json("/api/v1/dashboard/activity").await;
    let advertised: i64 = activity["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|day| day["count"].as_i64().unwrap())
        .sum();
    assert!(advertised > 0, "{activity}");
    postgres.get("/health/ready").await.assert_status_is_ok();
}
