//! Shared set-up for the integration tests: a real SQLite file per test and the real app.
#![allow(dead_code)] // each test binary uses a different part of this module

use hub_api::query::group_hours::GroupHours;
use hub_api::state::AppState;
use hub_core::cache::NullCache;
use hub_core::cache::runtime::ResponseCache;
use hub_core::settings::{AuthSettings, HttpSettings};
use poem::test::{TestClient, TestResponse};
use poem::{EndpointExt, Response};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;

/// The sample database made by MeshCore Hub's Python service.
pub(crate) fn fixture_db_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/meshcore-hub-sample.db")
}

/// The exact SQLite DDL of a MeshCore Hub database.
pub(crate) fn fixture_schema_sql() -> String {
    std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/meshcore-hub-schema.sql"),
    )
    .expect("fixture schema")
}

/// A running app over its own SQLite file, removed when dropped.
pub(crate) struct TestApp {
    /// Client for the app.
    pub client: TestClient<poem::endpoint::BoxEndpoint<'static, Response>>,
    /// The app's database, for inserting rows.
    pub db: DatabaseConnection,
    /// The SQLite file.
    pub path: PathBuf,
    _dir: TempDir,
}

impl TestApp {
    /// GET `uri` (path and query).
    pub(crate) async fn get(&self, uri: &str) -> TestResponse {
        self.client.get(uri).send().await
    }

    /// GET `uri` with `X-User-Roles: roles`.
    pub(crate) async fn get_as(&self, uri: &str, roles: &str) -> TestResponse {
        self.client
            .get(uri)
            .header("X-User-Roles", roles)
            .send()
            .await
    }

    /// GET `uri` and return its JSON body, asserting 200.
    pub(crate) async fn json(&self, uri: &str) -> serde_json::Value {
        let resp = self.get(uri).await;
        resp.assert_status_is_ok();
        resp.json().await.value().deserialize()
    }

    /// GET `uri` as `roles` and return its JSON body, asserting 200.
    pub(crate) async fn json_as(&self, uri: &str, roles: &str) -> serde_json::Value {
        let resp = self.get_as(uri, roles).await;
        resp.assert_status_is_ok();
        resp.json().await.value().deserialize()
    }

    /// Runs raw SQL statements (`;`-separated) against the app's database.
    pub(crate) async fn exec(&self, sql: &str) {
        self.db
            .execute_unprepared(sql)
            .await
            .unwrap_or_else(|e| panic!("SQL failed: {e}\n{sql}"));
    }

    /// The first column of the first row of `sql` as i64.
    pub(crate) async fn scalar(&self, sql: &str) -> i64 {
        let row = self
            .db
            .query_one_raw(Statement::from_string(self.db.get_database_backend(), sql))
            .await
            .unwrap()
            .expect("a row");
        row.try_get_by_index::<i64>(0).unwrap()
    }
}

/// The cache of an app without Redis.
pub(crate) fn no_cache() -> ResponseCache {
    ResponseCache::new(
        Arc::new(NullCache),
        Duration::from_secs(30),
        Duration::from_secs(30),
    )
}

/// The state `serve` would build over `db` with default settings and no Redis.
pub(crate) fn default_state(db: DatabaseConnection) -> AppState {
    let state = AppState::new(db, no_cache());
    AppState {
        // Missing hours read in the request itself: tests see the same answer each time.
        packet_group_hours: GroupHours::new(
            state.cache.versions().clone(),
            state.list_days.renew_after(),
        ),
        ..state
    }
}

/// The app over `state`; `dir` (holding its SQLite file, if any) lives as long as the app.
///
/// `/metrics` is public (METRICS_PUBLIC) when no read key is set, so that tests without
/// keys can scrape it; tests/network_metrics.rs checks the default, which refuses.
pub(crate) fn app_from_state(state: AppState, dir: TempDir, path: PathBuf) -> TestApp {
    app_from_state_with(state, public_metrics(), dir, path)
}

/// Default HTTP settings with METRICS_PUBLIC on.
pub(crate) fn public_metrics() -> HttpSettings {
    let mut http = HttpSettings::default();
    http.metrics.metrics_public = true;
    http
}

/// [`app_from_state`] with HTTP settings (`/metrics`, CORS, `Cache-Control`).
pub(crate) fn app_from_state_with(
    state: AppState,
    http: HttpSettings,
    dir: TempDir,
    path: PathBuf,
) -> TestApp {
    let db = state.db.clone();
    let app = hub_api::app::build_with(state, http)
        .map_to_response()
        .boxed();
    TestApp {
        client: TestClient::new(app),
        db,
        path,
        _dir: dir,
    }
}

/// The app over an already prepared database connection (PostgreSQL tests).
pub(crate) fn app_over(db: DatabaseConnection) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    app_from_state(default_state(db), dir, path)
}

/// Opens the SQLite file `path` and prepares its schema as `serve` does.
pub(crate) async fn open_sqlite(path: &std::path::Path) -> DatabaseConnection {
    let db = hub_core::db::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("connect");
    hub_core::db::prepare_schema(&db).await.expect("schema");
    db
}

/// Builds the app over the SQLite file `path`, preparing its schema as `serve` does.
pub(crate) async fn app_at(dir: TempDir, path: PathBuf, auth: AuthSettings) -> TestApp {
    app_with_cache(dir, path, auth, no_cache()).await
}

/// [`app_at`] with a response cache.
pub(crate) async fn app_with_cache(
    dir: TempDir,
    path: PathBuf,
    auth: AuthSettings,
    cache: ResponseCache,
) -> TestApp {
    let state = AppState {
        auth,
        ..default_state(open_sqlite(&path).await)
    }
    .with_cache(cache);
    app_from_state(state, dir, path)
}

/// The app over a new, migrated, empty database.
pub(crate) async fn empty_app() -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hub.db");
    app_at(dir, path, AuthSettings::default()).await
}

/// The app over a new, migrated, empty database, with `state` changed by `adjust`.
pub(crate) async fn empty_app_with(adjust: impl FnOnce(&mut AppState)) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hub.db");
    let mut state = default_state(open_sqlite(&path).await);
    adjust(&mut state);
    app_from_state(state, dir, path)
}

/// A copy of the MeshCore Hub sample database in a new directory, opened as `serve` does.
pub(crate) async fn fixture_copy() -> (TempDir, PathBuf, DatabaseConnection) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meshcore.db");
    std::fs::copy(fixture_db_path(), &path).expect("copy fixture");
    let db = open_sqlite(&path).await;
    (dir, path, db)
}

/// The app over a copy of the MeshCore Hub sample database.
pub(crate) async fn fixture_app() -> TestApp {
    fixture_app_with(AuthSettings::default()).await
}

/// [`fixture_app`] with a response cache.
pub(crate) async fn fixture_app_cached(cache: ResponseCache) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meshcore.db");
    std::fs::copy(fixture_db_path(), &path).expect("copy fixture");
    app_with_cache(dir, path, AuthSettings::default(), cache).await
}

/// [`fixture_app`] with API keys.
pub(crate) async fn fixture_app_with(auth: AuthSettings) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meshcore.db");
    std::fs::copy(fixture_db_path(), &path).expect("copy fixture");
    app_at(dir, path, auth).await
}

/// A PostgreSQL cluster with MeshCore Hub's dump (`fixtures/meshcore-hub-postgres.sql`)
/// restored in database `meshcore`, and the target that reads its `meshcorehub` schema.
pub(crate) fn meshcore_hub_postgres() -> (
    hub_core::test_support::PostgresServer,
    hub_core::db::DatabaseTarget,
) {
    let pg = hub_core::test_support::PostgresServer::start();
    pg.create_database("meshcore");
    pg.run_sql_file(
        "meshcore",
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/meshcore-hub-postgres.sql"),
    );
    let target = hub_core::db::DatabaseTarget::url(format!(
        "{}?options=-csearch_path%3Dmeshcorehub",
        pg.url_of("meshcore")
    ));
    (pg, target)
}

/// What MeshCore Hub's `a59611449e2a` upgrade does on PostgreSQL to a database at
/// `da69304d8106` in `schema`, statement for statement as its alembic file
/// (`alembic/versions/20260725_1200_a59611449e2a_route_perf_remediation.py`) issues them:
/// clamp the route windows to 12 hours, rebuild the hop index with `INCLUDE`, stamp the head.
/// Written independently of hub's DDL, so that comparing with it checks hub's DDL.
pub(crate) fn meshcore_hub_route_perf_upgrade(schema: &str) -> String {
    format!(
        "UPDATE {schema}.routes SET window_hours = 12 WHERE window_hours > 12;
         DROP INDEX {schema}.ix_packet_path_hops_raw_packet_id_position;
         CREATE INDEX ix_packet_path_hops_raw_packet_id_position ON {schema}.packet_path_hops \
             (raw_packet_id, position) \
             INCLUDE (node_hash, packet_hash, event_hash, received_at, observer_node_id);
         UPDATE {schema}.alembic_version SET version_num = 'a59611449e2a' \
             WHERE version_num = 'da69304d8106';"
    )
}

/// Sleeps past the next whole hour when it is less than `margin` away, so that no hour (or
/// day) begins while a test relies on values kept per hour or day.
pub(crate) async fn clear_of_the_next_hour(margin: Duration) {
    use chrono::Timelike;
    let into_hour = hub_core::time::now().time().num_seconds_from_midnight() % 3600;
    let to_next_hour = u64::from(3600 - into_hour);
    if to_next_hour < margin.as_secs() {
        tokio::time::sleep(Duration::from_secs(to_next_hour + 1)).await;
    }
}

/// Naive UTC text `days` days and `hours` hours before now, as the database stores it.
pub(crate) fn ago(days: i64, hours: i64) -> String {
    let t = chrono::Utc::now().naive_utc()
        - chrono::Duration::days(days)
        - chrono::Duration::hours(hours);
    t.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
}

/// A 64-hex public key made from a short hex stem, e.g. `pk("a1")`.
pub(crate) fn pk(stem: &str) -> String {
    format!("{stem:0<64}")
}

/// Inserts a `chat` node seen a day ago, with an optional `name` tag.
pub(crate) async fn insert_node(
    app: &TestApp,
    id: &str,
    public_key: &str,
    name: Option<&str>,
    tag_name: Option<&str>,
) {
    let name_sql = name.map_or("NULL".to_string(), |n| format!("'{n}'"));
    app.exec(&format!(
        "INSERT INTO nodes (id, public_key, name, adv_type, first_seen, last_seen, created_at, updated_at, is_observer) \
         VALUES ('{id}', '{public_key}', {name_sql}, 'chat', '{t}', '{t}', '{t}', '{t}', 0)",
        t = ago(1, 0)
    ))
    .await;
    if let Some(tag) = tag_name {
        app.exec(&format!(
            "INSERT INTO node_tags (id, node_id, key, value, value_type, created_at, updated_at) \
             VALUES ('{id}-name', '{id}', 'name', '{tag}', 'string', '{t}', '{t}')",
            t = ago(1, 0)
        ))
        .await;
    }
}

/// Asserts `endpoint` answered 422 naming query parameter `name`.
pub(crate) async fn assert_422(resp: TestResponse, name: &str) {
    resp.assert_status(poem::http::StatusCode::UNPROCESSABLE_ENTITY);
    let body: serde_json::Value = resp.json().await.value().deserialize();
    assert_eq!(body["detail"][0]["loc"][0], "query", "{body}");
    assert_eq!(body["detail"][0]["loc"][1], name, "{body}");
    assert!(
        body["detail"][0]["msg"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

/// A Redis-backed response cache on `127.0.0.1:port` with prefix `hub` and a 30 s TTL.
pub(crate) fn redis_response_cache(port: u16) -> ResponseCache {
    use hub_core::cache::{CacheBackend, RedisCache, RedisOptions};
    let backend: Arc<dyn CacheBackend> =
        Arc::new(RedisCache::new(RedisOptions::local(port)).expect("redis options"));
    ResponseCache::new(backend, Duration::from_secs(30), Duration::from_secs(30))
}

/// [`redis_response_cache`] with a 16 MiB near cache in front of Redis.
pub(crate) fn near_response_cache(port: u16) -> ResponseCache {
    use hub_core::cache::{CacheBackend, RedisCache, RedisOptions};
    let options = RedisOptions::local(port).with_near_cache(16 << 20);
    let backend: Arc<dyn CacheBackend> = Arc::new(RedisCache::new(options).expect("redis options"));
    ResponseCache::new(backend, Duration::from_secs(30), Duration::from_secs(30))
}

/// One request of every cached list and dashboard operation (role-sensitive ones vary by the
/// `X-User-Roles` header sent with them).
pub(crate) const CACHED_ENDPOINTS: &[&str] = &[
    "/api/v1/nodes?limit=5",
    "/api/v1/advertisements",
    "/api/v1/messages",
    "/api/v1/channels",
    "/api/v1/user/profiles",
    "/api/v1/dashboard/stats",
    "/api/v1/dashboard/recent-activity",
    "/api/v1/dashboard/activity?days=7",
    "/api/v1/dashboard/packet-activity",
    "/api/v1/dashboard/message-activity",
    "/api/v1/dashboard/node-count",
    "/api/v1/dashboard/packet-breakdown",
    "/api/v1/dashboard/routes-overview",
];

/// The `name` of every item of a list response (`{"items": [...]}`).
pub(crate) fn item_names(list: &serde_json::Value) -> Vec<String> {
    list["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|c| c["name"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// The `X-Cache` header of `resp` (empty when absent).
pub(crate) fn x_cache_of(resp: &TestResponse) -> String {
    resp.0
        .headers()
        .get("x-cache")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// Copies every row of `E` from one database to the other through the sea-orm entity (the
/// SQLite fixture into PostgreSQL, for the differential tests).
pub(crate) async fn copy_rows<E>(from: &DatabaseConnection, to: &DatabaseConnection)
where
    E: sea_orm::EntityTrait,
    E::Model: sea_orm::IntoActiveModel<E::ActiveModel>,
    E::ActiveModel: sea_orm::ActiveModelTrait<Entity = E> + Send,
{
    use sea_orm::IntoActiveModel;
    let rows = E::find().all(from).await.expect("read rows");
    for chunk in rows.chunks(200) {
        E::insert_many(
            chunk
                .iter()
                .cloned()
                .map(IntoActiveModel::into_active_model),
        )
        .exec_without_returning(to)
        .await
        .expect("insert rows");
    }
}

/// Serves the app over `state` with `timeouts` on a free loopback port, in the background
/// for the rest of the test; returns its address.
pub(crate) async fn serve_on_loopback(
    state: AppState,
    timeouts: hub_api::server::ClientTimeouts,
) -> std::net::SocketAddr {
    use poem::listener::{Acceptor, Listener, TcpListener};
    let acceptor = TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await
        .expect("bind a loopback port");
    let address = *acceptor.local_addr()[0]
        .as_socket_addr()
        .expect("a TCP address");
    tokio::spawn(hub_api::server::serve(
        acceptor,
        hub_api::app::build(state),
        timeouts,
        std::future::pending(),
    ));
    address
}
