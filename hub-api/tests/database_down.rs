//! The database unavailable (docs/reliability.md): a locked SQLite file, a PostgreSQL
//! statement that hits the statement timeout, every pooled connection busy, a stopped
//! PostgreSQL server. Each is a 503 JSON error with `Retry-After` within the statement
//! timeout, cached responses keep being served, and service resumes by itself.

use crate::common;

use common::*;
use hub_core::db::{DatabaseTarget, connect_with_timeout, prepare_schema};
use hub_core::test_support::{PostgresServer, RedisServer};
use poem::http::StatusCode;
use poem::test::TestResponse;
use sea_orm::{ConnectionTrait, TransactionTrait};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The statement timeout of these tests.
const TIMEOUT: Duration = Duration::from_secs(1);
/// Time allowed on top of the timeout: the request itself on a loaded CI box.
const SLACK: Duration = Duration::from_secs(2);

/// An app over `url` with [`TIMEOUT`], and a Redis cache when `redis` is given.
async fn app_with_timeout(url: &str, redis: Option<&RedisServer>) -> TestApp {
    let db = connect_with_timeout(&DatabaseTarget::url(url), TIMEOUT)
        .await
        .expect("connect");
    prepare_schema(&db).await.expect("schema");
    let mut state = default_state(db);
    if let Some(redis) = redis {
        state = state.with_cache(redis_response_cache(redis.port()));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    app_from_state(state, dir, path)
}

/// Asserts the 503 of an unavailable database.
async fn assert_unavailable(resp: TestResponse) {
    resp.assert_status(StatusCode::SERVICE_UNAVAILABLE);
    resp.assert_header("retry-after", "5");
    resp.assert_json(json!({"detail": "Database unavailable, retry later"}))
        .await;
}

/// `GET /user/profile/me` as user `u1`: it writes the caller's profile.
async fn own_profile(app: &TestApp) -> TestResponse {
    app.client
        .get("/api/v1/user/profile/me")
        .header("X-User-Id", "u1")
        .send()
        .await
}

#[tokio::test]
async fn a_locked_sqlite_file_is_a_503_within_the_busy_timeout_and_then_resumes() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("hub.db").display());
    let app = app_with_timeout(&url, Some(&redis)).await;
    let cached = app.get("/api/v1/channels").await;
    cached.assert_status_is_ok();
    assert_eq!(x_cache_of(&cached), "MISS");

    // Another process (here: another pool) holds the write lock.
    let other = hub_core::db::connect(&url).await.unwrap();
    let lock = other.begin().await.unwrap();
    lock.execute_unprepared("CREATE TABLE lock_holder (x INTEGER)")
        .await
        .unwrap();

    // The profile write cannot get the lock.
    let started = Instant::now();
    let resp = own_profile(&app).await;
    let took = started.elapsed();
    assert_unavailable(resp).await;
    assert!(took <= TIMEOUT + SLACK, "the write waited {took:?}");
    // Cached answers do not touch the database.
    let hit = app.get("/api/v1/channels").await;
    hit.assert_status_is_ok();
    assert_eq!(x_cache_of(&hit), "HIT");

    lock.rollback().await.unwrap();
    own_profile(&app).await.assert_status_is_ok();
}

/// The `statement_timeout` a connection of `db` runs with.
async fn statement_timeout(db: &sea_orm::DatabaseConnection) -> String {
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SHOW statement_timeout",
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<String>(0).unwrap()
}

#[tokio::test]
async fn postgresql_statement_and_pool_timeouts_are_503s() {
    let pg = PostgresServer::start();
    let app = Arc::new(app_with_timeout(&pg.url(), None).await);
    app.get("/api/v1/nodes?limit=1").await.assert_status_is_ok();

    // Set on every connection of `serve`'s pool; `migrate` and `seed` (plain `connect`)
    // run long statements on purpose and get none.
    assert_eq!(statement_timeout(&app.db).await, "1s");
    let other = hub_core::db::connect(&pg.url()).await.unwrap();
    assert_eq!(statement_timeout(&other).await, "0");
    let lock = other.begin().await.unwrap();
    lock.execute_unprepared("LOCK TABLE nodes IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();

    // More requests than pooled connections (16): those that get one hit the statement
    // timeout, the others the acquire timeout. Both are 503s, none waits much past them.
    let started = Instant::now();
    let mut requests = tokio::task::JoinSet::new();
    for limit in 1..=40 {
        let app = app.clone();
        requests.spawn(async move {
            let resp = app.get(&format!("/api/v1/nodes?limit={limit}")).await;
            let status = resp.0.status();
            let retry_after = resp.0.headers().get("retry-after").cloned();
            (status, retry_after)
        });
    }
    while let Some(result) = requests.join_next().await {
        let (status, retry_after) = result.unwrap();
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(retry_after.is_some());
    }
    let took = started.elapsed();
    assert!(took <= TIMEOUT * 2 + SLACK, "40 requests took {took:?}");

    lock.commit().await.unwrap();
    app.get("/api/v1/nodes?limit=1").await.assert_status_is_ok();
}

#[tokio::test]
async fn a_stopped_postgresql_is_a_503_cached_answers_stay_and_service_resumes() {
    let mut pg = PostgresServer::start();
    let redis = RedisServer::start();
    let app = app_with_timeout(&pg.url(), Some(&redis)).await;
    let cached = app.get("/api/v1/nodes?limit=5").await;
    cached.assert_status_is_ok();
    assert_eq!(x_cache_of(&cached), "MISS");

    pg.stop();
    let hit = app.get("/api/v1/nodes?limit=5").await;
    hit.assert_status_is_ok();
    assert_eq!(x_cache_of(&hit), "HIT");
    let started = Instant::now();
    assert_unavailable(app.get("/api/v1/nodes?limit=6").await).await;
    assert!(started.elapsed() <= TIMEOUT + SLACK);
    let ready = app.get("/health/ready").await;
    ready.assert_status(StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = ready.json().await.value().deserialize();
    assert_eq!(body["status"], "not_ready");
    assert_eq!(body["database"], "disconnected");

    pg.resume();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let status = app.get("/api/v1/nodes?limit=6").await.0.status();
        if status == StatusCode::OK {
            break;
        }
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(Instant::now() < deadline, "service did not resume");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    app.get("/health/ready").await.assert_status_is_ok();
}
