//! `/metrics`' network series (`meshcore_*`, MeshCore Hub's `api/metrics.py` and its
//! `tests/test_api/test_metrics.py`) over a copy of the database MeshCore Hub's service made,
//! with rows shaped as its collector writes them (lowercase 64-hex public keys); MeshCore
//! Hub's `NodeNotSeen` alert rule evaluated on the scrape by `promtool test rules`; the
//! read-key-only Basic auth, `METRICS_ENABLED`, `METRICS_CACHE_TTL`, `CORS_ORIGINS` and
//! `OIDC_ROLE_*` (docs/metrics.md, docs/configuration.md).

use crate::common;

use common::*;
use hub_core::settings::{
    AuthSettings, CorsSettings, HttpSettings, MetricsSettings, RoleNameSettings,
};
use poem::http::{Method, StatusCode};
use poem::web::headers::Authorization;
use prometheus_parse::{Sample, Scrape, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// The network series MeshCore Hub serves, all gauges.
const NETWORK_SERIES: &[&str] = &[
    "meshcore_info",
    "meshcore_nodes_total",
    "meshcore_nodes_active",
    "meshcore_nodes_by_type",
    "meshcore_nodes_with_location",
    "meshcore_nodes_adopted",
    "meshcore_node_last_seen_timestamp_seconds",
    "meshcore_messages_total",
    "meshcore_messages_received",
    "meshcore_advertisements_total",
    "meshcore_advertisements_received",
    "meshcore_telemetry_total",
    "meshcore_trace_paths_total",
    "meshcore_events_total",
    "meshcore_user_profiles_total",
    "meshcore_user_profiles_by_role",
    "meshcore_route_healthy",
    "meshcore_route_quality",
    "meshcore_route_matched_packets",
    "meshcore_route_threshold",
];

const HOUR: i64 = 3600;

/// Node keys as the collector writes them: 64 lowercase hex characters.
fn key(stem: &str) -> String {
    pk(stem)
}

/// A database time `seconds` before `now` (whole seconds), as MeshCore Hub stores it.
fn db_time(now: i64, seconds: i64) -> String {
    chrono::DateTime::from_timestamp(now - seconds, 0)
        .unwrap()
        .naive_utc()
        .format("%Y-%m-%d %H:%M:%S%.6f")
        .to_string()
}

/// The app over a copy of MeshCore Hub's sample database, with `http` settings and `auth`.
async fn app_with(http: HttpSettings, auth: AuthSettings) -> TestApp {
    let (dir, path, db) = fixture_copy().await;
    let state = hub_api::state::AppState {
        auth,
        ..default_state(db)
    };
    app_from_state_with(state, http, dir, path)
}

fn metrics_ttl(seconds: i64) -> HttpSettings {
    let mut http = public_metrics();
    http.metrics.metrics_cache_ttl = seconds;
    http
}

/// Nodes, adoptions, profiles and routes the way MeshCore Hub writes them; returns the
/// whole-second time they are relative to.
async fn insert_network(app: &TestApp) -> i64 {
    let now = chrono::Utc::now().timestamp();
    let t = db_time(now, 0);
    let nodes = [
        // id, key stem, name, adv_type, last seen (seconds ago), lat/lon
        (
            "n-gone",
            "a1",
            Some("Gone Repeater"),
            Some("repeater"),
            Some(49 * HOUR),
            None,
        ),
        (
            "n-stray",
            "b2",
            Some("Stray Chat"),
            Some("chat"),
            Some(49 * HOUR),
            None,
        ),
        (
            "n-fresh",
            "c3",
            Some("Fresh Room"),
            Some("room"),
            Some(HOUR / 2),
            Some((52.1, 1.2)),
        ),
        ("n-recent", "d4", None, None, Some(47 * HOUR), None),
        (
            "n-never",
            "e5",
            Some("Never Seen"),
            Some("chat"),
            None,
            None,
        ),
    ];
    for (id, stem, name, adv_type, seen, location) in nodes {
        let quote = |v: Option<&str>| {
            v.map_or("NULL".to_string(), |v| {
                format!("'{}'", v.replace('\'', "''"))
            })
        };
        let (lat, lon) = location.map_or(("NULL".into(), "NULL".into()), |(a, o): (f64, f64)| {
            (a.to_string(), o.to_string())
        });
        app.exec(&format!(
            "INSERT INTO nodes (id, public_key, name, adv_type, first_seen, last_seen, lat, lon, \
             created_at, updated_at, is_observer) \
             VALUES ('{id}', '{key}', {name}, {adv_type}, '{t}', {seen}, {lat}, {lon}, '{t}', '{t}', 0)",
            key = key(stem),
            name = quote(name),
            adv_type = quote(adv_type),
            seen = quote(seen.map(|s| db_time(now, s)).as_deref()),
        ))
        .await;
    }
    app.exec(&format!(
        "INSERT INTO user_profiles (id, user_id, name, roles, created_at, updated_at) VALUES \
         ('p-op', 'oidc|op', 'Op', 'operator, member', '{t}', '{t}'), \
         ('p-mem', 'oidc|mem', 'Mem', 'member', '{t}', '{t}'), \
         ('p-many', 'oidc|many', 'Many', 'members,member,member', '{t}', '{t}'), \
         ('p-none', 'oidc|none', 'None', NULL, '{t}', '{t}')"
    ))
    .await;
    app.exec(&format!(
        "INSERT INTO events_log (id, event_type, received_at, created_at, updated_at) VALUES \
         ('ev-1', 'advertisement', '{t}', '{t}', '{t}'), ('ev-2', 'contact_msg_recv', '{t}', '{t}', '{t}')"
    ))
    .await;
    // The gone repeater and the fresh room are adopted; the stray chat is not.
    app.exec(&format!(
        "INSERT INTO user_profile_nodes (user_profile_id, node_id, adopted_at) VALUES \
         ('p-op', 'n-gone', '{t}'), ('p-mem', 'n-fresh', '{t}')"
    ))
    .await;
    for (id, from, enabled, threshold) in [
        ("r-clear", "Ipswich", 1, 3),
        ("r-new", "Norwich", 1, 5),
        ("r-off", "Colchester", 0, 4),
    ] {
        app.exec(&format!(
            "INSERT INTO routes (id, created_at, updated_at, from_label, to_label, visibility, \
             match_width, window_hours, packet_count_threshold, enabled, reversible) \
             VALUES ('{id}', '{t}', '{t}', '{from}', 'Harwich', 'community', 1, 24, {threshold}, {enabled}, 1)"
        ))
        .await;
    }
    app.exec(&format!(
        "INSERT INTO route_results (id, created_at, updated_at, route_id, state, quality, \
         matched_count, threshold, effective_clear, evaluated_at) VALUES \
         ('rr-clear', '{t}', '{t}', 'r-clear', 'healthy', 'clear', 12, 3, 9, '{t}'), \
         ('rr-off', '{t}', '{t}', 'r-off', 'unhealthy', 'failing', 1, 4, 12, '{t}')"
    ))
    .await;
    now
}

async fn scrape_text(app: &TestApp) -> String {
    let resp = app.get("/metrics").await;
    resp.assert_status_is_ok();
    resp.0.into_body().into_string().await.unwrap()
}

fn parse(text: &str) -> Scrape {
    Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("valid text format")
}

fn gauge(sample: &Sample) -> f64 {
    match sample.value {
        Value::Gauge(v) => v,
        ref other => panic!("{} is not a gauge: {other:?}", sample.metric),
    }
}

/// The value of the one sample of `name` whose labels are exactly `labels`.
fn one(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let want: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let found: Vec<f64> = scrape
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .filter(|s| {
            let have: BTreeMap<String, String> = s
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            have == want
        })
        .map(gauge)
        .collect();
    assert!(found.len() <= 1, "{name} {labels:?} twice");
    found.first().copied()
}

fn label_values(scrape: &Scrape, name: &str, label: &str) -> BTreeSet<String> {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .filter_map(|s| s.labels.get(label).map(str::to_string))
        .collect()
}

#[tokio::test]
async fn every_network_series_reads_the_database_with_meshcore_hubs_labels() {
    let app = app_with(public_metrics(), AuthSettings::default()).await;
    let now = insert_network(&app).await;
    app.get("/api/v1/nodes").await.assert_status_is_ok();
    let text = scrape_text(&app).await;
    let scrape = parse(&text);

    for name in NETWORK_SERIES {
        assert!(
            text.contains(&format!("# TYPE {name} gauge\n")),
            "{name} is not a gauge:\n{text}"
        );
        assert!(
            scrape.samples.iter().any(|s| &s.metric == name),
            "{name} has no sample"
        );
    }
    // hub's own series are still there, beside the network's.
    assert!(text.contains("# TYPE hub_http_request_duration_seconds histogram"));
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        one(&scrape, "meshcore_info", &[("version", version)]),
        Some(1.0)
    );

    // Counts, each against the database itself.
    let count = |sql: &'static str| app.scalar(sql);
    for (name, sql) in [
        ("meshcore_nodes_total", "SELECT COUNT(*) FROM nodes"),
        (
            "meshcore_nodes_with_location",
            "SELECT COUNT(*) FROM nodes WHERE lat IS NOT NULL AND lon IS NOT NULL",
        ),
        (
            "meshcore_nodes_adopted",
            "SELECT COUNT(*) FROM user_profile_nodes",
        ),
        (
            "meshcore_advertisements_total",
            "SELECT COUNT(*) FROM advertisements",
        ),
        ("meshcore_telemetry_total", "SELECT COUNT(*) FROM telemetry"),
        (
            "meshcore_trace_paths_total",
            "SELECT COUNT(*) FROM trace_paths",
        ),
        (
            "meshcore_user_profiles_total",
            "SELECT COUNT(*) FROM user_profiles",
        ),
    ] {
        assert_eq!(
            one(&scrape, name, &[]),
            Some(count(sql).await as f64),
            "{name}"
        );
    }

    // Windows: the inserted nodes fall on either side of 1h and 24h (by hours, not by the
    // clock's day), so their share of each window is known.
    let windows = label_values(&scrape, "meshcore_nodes_active", "window");
    let expected: BTreeSet<String> = ["1h", "24h", "7d", "30d"].map(String::from).into();
    assert_eq!(windows, expected);
    for (window, hours) in [("1h", 1), ("24h", 24), ("7d", 168), ("30d", 720)] {
        let sql = format!(
            "SELECT COUNT(*) FROM nodes WHERE last_seen >= '{}'",
            db_time(now, hours * HOUR)
        );
        let in_db = app.scalar(&sql).await as f64;
        let served = one(&scrape, "meshcore_nodes_active", &[("window", window)]).unwrap();
        // A node of the sample database right at a window's edge may cross it between the
        // two reads; the inserted ones are hours away from every edge.
        assert!(
            (served - in_db).abs() <= 1.0,
            "{window}: {served} vs {in_db}"
        );
    }

    // Nodes by type: NULL is "unknown"; every node counted once.
    let by_type: f64 = scrape
        .samples
        .iter()
        .filter(|s| s.metric == "meshcore_nodes_by_type")
        .map(gauge)
        .sum();
    assert_eq!(by_type, count("SELECT COUNT(*) FROM nodes").await as f64);
    assert!(
        one(
            &scrape,
            "meshcore_nodes_by_type",
            &[("adv_type", "unknown")]
        )
        .unwrap()
            >= 1.0
    );

    // Last seen: one series per node with a last_seen, labelled as MeshCore Hub labels it.
    let seen = |stem: &str, name: &str, adv_type: &str, adopted: &str| {
        one(
            &scrape,
            "meshcore_node_last_seen_timestamp_seconds",
            &[
                ("public_key", &key(stem)),
                ("node_name", name),
                ("adv_type", adv_type),
                ("adopted", adopted),
            ],
        )
    };
    assert_eq!(
        seen("a1", "Gone Repeater", "repeater", "true"),
        Some((now - 49 * HOUR) as f64)
    );
    assert_eq!(
        seen("b2", "Stray Chat", "chat", "false"),
        Some((now - 49 * HOUR) as f64)
    );
    assert_eq!(
        seen("c3", "Fresh Room", "room", "true"),
        Some((now - HOUR / 2) as f64)
    );
    assert_eq!(
        seen("d4", "", "unknown", "false"),
        Some((now - 47 * HOUR) as f64)
    );
    assert!(
        !text.contains(&key("e5")),
        "a node never seen has no series"
    );
    let series = scrape
        .samples
        .iter()
        .filter(|s| s.metric == "meshcore_node_last_seen_timestamp_seconds")
        .count() as i64;
    assert_eq!(
        series,
        count("SELECT COUNT(*) FROM nodes WHERE last_seen IS NOT NULL").await
    );

    // Messages and events by type, as grouped in the database.
    let messages: f64 = scrape
        .samples
        .iter()
        .filter(|s| s.metric == "meshcore_messages_total")
        .map(gauge)
        .sum();
    assert_eq!(
        messages,
        count("SELECT COUNT(*) FROM messages").await as f64
    );
    let kinds = label_values(&scrape, "meshcore_messages_total", "type");
    assert!(!kinds.is_empty());
    let events: f64 = scrape
        .samples
        .iter()
        .filter(|s| s.metric == "meshcore_events_total")
        .map(gauge)
        .sum();
    assert_eq!(
        events,
        count("SELECT COUNT(*) FROM events_log").await as f64
    );

    // Roles: each profile once per role it holds exactly.
    let role = |r: &str| one(&scrape, "meshcore_user_profiles_by_role", &[("role", r)]);
    let fixture_members = count(
        "SELECT COUNT(*) FROM user_profiles WHERE id NOT IN ('p-op', 'p-mem', 'p-many') \
         AND (',' || REPLACE(COALESCE(roles, ''), ' ', '') || ',') LIKE '%,member,%'",
    )
    .await as f64;
    assert_eq!(role("member"), Some(3.0 + fixture_members));
    assert!(role("operator").unwrap() >= 1.0);
    assert!(role("members").unwrap() >= 1.0);

    // Routes: enabled ones only, labelled "from -> to"; no evaluation reads as unknown.
    let route = |name: &str, label: &str| one(&scrape, name, &[("route", label)]);
    assert_eq!(
        route("meshcore_route_healthy", "Ipswich -> Harwich"),
        Some(1.0)
    );
    assert_eq!(
        route("meshcore_route_quality", "Ipswich -> Harwich"),
        Some(0.0)
    );
    assert_eq!(
        route("meshcore_route_matched_packets", "Ipswich -> Harwich"),
        Some(12.0)
    );
    assert_eq!(
        route("meshcore_route_threshold", "Ipswich -> Harwich"),
        Some(3.0)
    );
    assert_eq!(
        route("meshcore_route_healthy", "Norwich -> Harwich"),
        Some(0.0)
    );
    assert_eq!(
        route("meshcore_route_quality", "Norwich -> Harwich"),
        Some(3.0)
    );
    assert_eq!(
        route("meshcore_route_matched_packets", "Norwich -> Harwich"),
        Some(0.0)
    );
    assert_eq!(
        route("meshcore_route_threshold", "Norwich -> Harwich"),
        Some(5.0)
    );
    assert!(!text.contains("Colchester"), "disabled routes are left out");
}

/// Prometheus' `humanizeDuration` of a whole number of seconds of a day or more.
fn humanize_days(seconds: i64) -> String {
    let (d, h, m, s) = (
        seconds / 86_400,
        seconds / 3600 % 24,
        seconds / 60 % 60,
        seconds % 60,
    );
    format!("{d}d {h}h {m}m {s}s")
}

/// A YAML scalar (JSON strings are YAML).
fn yaml(text: &str) -> String {
    serde_json::to_string(text).unwrap()
}

/// The PromQL form of a sample's series, `name{label="value",...}`.
fn series(sample: &Sample) -> String {
    let labels: BTreeMap<&String, &String> = sample.labels.iter().collect();
    let inner: Vec<String> = labels
        .into_iter()
        .map(|(k, v)| format!("{k}={}", serde_json::to_string(v).unwrap()))
        .collect();
    format!("{}{{{}}}", sample.metric, inner.join(","))
}

#[tokio::test]
async fn meshcore_hubs_node_not_seen_alert_fires_for_an_adopted_node_unseen_for_49_hours() {
    let app = app_with(public_metrics(), AuthSettings::default()).await;
    insert_network(&app).await;
    let scrape = parse(&scrape_text(&app).await);
    let scraped_at = chrono::Utc::now().timestamp();

    // promtool's clock starts at 0, so the series are shifted with it: the scrape is taken
    // at the evaluation time, and every timestamp keeps its distance from the scrape
    // (`time() - last_seen` is what the rule reads).
    const EVAL_SECONDS: i64 = 20 * 60;
    let shift = scraped_at - EVAL_SECONDS;
    let mut inputs = String::new();
    let mut gone_age = None;
    for sample in scrape
        .samples
        .iter()
        .filter(|s| s.metric.starts_with("meshcore_"))
    {
        let mut value = gauge(sample);
        if sample.metric == "meshcore_node_last_seen_timestamp_seconds" {
            value -= shift as f64;
            if sample.labels.get("public_key") == Some(key("a1").as_str()) {
                gone_age = Some(EVAL_SECONDS - value as i64);
            }
        }
        // One sample a minute from 0 to the evaluation time.
        inputs.push_str(&format!(
            "      - series: {}\n        values: '{value}+0x20'\n",
            yaml(&series(sample))
        ));
    }
    let age = gone_age.expect("the gone repeater's series");
    assert!((49 * HOUR..49 * HOUR + 60).contains(&age), "{age}");

    // Expected: every adopted node (the sample database has some too) whose last sighting
    // is over 48 h before the scrape; never an unadopted one.
    let mut expected = String::new();
    let mut firing = Vec::new();
    for sample in scrape
        .samples
        .iter()
        .filter(|s| s.metric == "meshcore_node_last_seen_timestamp_seconds")
    {
        let age = scraped_at - gauge(sample) as i64;
        if sample.labels.get("adopted") != Some("true") || age <= 48 * HOUR {
            continue;
        }
        let label = |name: &str| sample.labels.get(name).unwrap_or_default().to_string();
        firing.push(label("public_key"));
        expected.push_str(&format!(
            "          - exp_labels:\n\
             \x20             severity: warning\n\
             \x20             public_key: {key}\n\
             \x20             node_name: {name}\n\
             \x20             adv_type: {adv_type}\n\
             \x20             adopted: \"true\"\n\
             \x20           exp_annotations:\n\
             \x20             summary: {summary}\n\
             \x20             description: {description}\n",
            key = yaml(&label("public_key")),
            name = yaml(&label("node_name")),
            adv_type = yaml(&label("adv_type")),
            summary = yaml(&format!(
                "Adopted node {} not seen for 48+ hours",
                label("node_name")
            )),
            description = yaml(&format!(
                "Adopted node {} ({}) last seen {} ago.",
                label("public_key"),
                label("adv_type"),
                humanize_days((scraped_at as f64 - gauge(sample)).trunc() as i64)
            )),
        ));
    }
    assert!(
        firing.contains(&key("a1")),
        "the gone repeater is expected to fire"
    );
    assert!(
        !firing.contains(&key("b2")),
        "an unadopted node never fires"
    );
    assert!(
        !firing.contains(&key("c3")),
        "a node seen 30 min ago does not fire"
    );
    let tests = format!(
        "rule_files:\n  - alerts.yml\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n{inputs}\
         \x20   alert_rule_test:\n\
         \x20     - eval_time: {EVAL_SECONDS}s\n\
         \x20       alertname: NodeNotSeen\n\
         \x20       exp_alerts:\n{expected}"
    );
    let dir = tempfile::tempdir().unwrap();
    let rules = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/prometheus/alerts.yml");
    std::fs::copy(&rules, dir.path().join("alerts.yml")).unwrap();
    let test_file = dir.path().join("node_not_seen_test.yml");
    std::fs::write(&test_file, &tests).unwrap();
    // The rule file first, as Prometheus would load it.
    let check = Command::new("promtool")
        .args(["check", "rules"])
        .arg(dir.path().join("alerts.yml"))
        .output()
        .expect("promtool (apt-get install prometheus; .ci/run installs it)");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    // exp_alerts lists the one alert expected: promtool fails if the unadopted node unseen
    // for 49 h, or an adopted node seen 30 min ago, fires too, or if the gone one does not.
    let run = Command::new("promtool")
        .args(["test", "rules"])
        .arg(&test_file)
        .output()
        .expect("promtool");
    assert!(
        run.status.success(),
        "promtool test rules failed:\n{}{}\n{tests}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
}

async fn nodes_total(app: &TestApp) -> f64 {
    one(&parse(&scrape_text(app).await), "meshcore_nodes_total", &[]).unwrap()
}

#[tokio::test]
async fn network_series_are_read_once_per_metrics_cache_ttl() {
    let cached = app_with(metrics_ttl(60), AuthSettings::default()).await;
    let uncached = app_with(metrics_ttl(0), AuthSettings::default()).await;
    let before = (nodes_total(&cached).await, nodes_total(&uncached).await);
    for app in [&cached, &uncached] {
        insert_network(app).await;
    }
    // Within the TTL the last reading is served; with a TTL of 0 every scrape reads.
    assert_eq!(nodes_total(&cached).await, before.0);
    assert_eq!(nodes_total(&uncached).await, before.1 + 5.0);
    // Concurrent scrapes within the TTL all get the one reading.
    let (a, b, c) = tokio::join!(
        nodes_total(&cached),
        nodes_total(&cached),
        nodes_total(&cached)
    );
    assert_eq!((a, b, c), (before.0, before.0, before.0));
    // hub's own series stay live: this scrape's request is counted by the next one.
    let text = scrape_text(&cached).await;
    assert!(text.contains("hub_http_request_duration_seconds_count{cache=\"none\",method=\"GET\",route=\"/metrics\",status=\"200\"}"), "{text}");
}

#[tokio::test]
async fn only_the_read_key_opens_metrics_never_the_admin_key() {
    let keys = AuthSettings {
        read_key: Some("read-secret".into()),
        admin_key: Some("admin-secret".into()),
    };
    let app = app_with(HttpSettings::default(), keys).await;
    let basic = |password: &str| {
        app.client
            .get("/metrics")
            .typed_header(Authorization::basic("metrics", password))
            .send()
    };
    let refused = basic("admin-secret").await;
    refused.assert_status(StatusCode::UNAUTHORIZED);
    refused.assert_header("www-authenticate", "Basic realm=\"metrics\"");
    let admitted = basic("read-secret").await;
    admitted.assert_status_is_ok();
    let text = admitted.0.into_body().into_string().await.unwrap();
    assert!(text.contains("meshcore_nodes_total "), "{text}");

    // No read key: refused unless METRICS_PUBLIC, whatever the admin key, as in MeshCore Hub.
    let admin_only = AuthSettings {
        read_key: None,
        admin_key: Some("admin-secret".into()),
    };
    for auth in [admin_only.clone(), AuthSettings::default()] {
        let closed = app_with(HttpSettings::default(), auth.clone()).await;
        let resp = closed.get("/metrics").await;
        resp.assert_status(StatusCode::UNAUTHORIZED);
        let body: serde_json::Value = resp.json().await.value().deserialize();
        assert_eq!(body["detail"], hub_api::metrics::NOT_PUBLIC);
        let refused = closed
            .client
            .get("/metrics")
            .typed_header(Authorization::basic("metrics", "admin-secret"))
            .send()
            .await;
        refused.assert_status(StatusCode::UNAUTHORIZED);
        let public = app_with(public_metrics(), auth).await;
        public.get("/metrics").await.assert_status_is_ok();
    }
}

#[tokio::test]
async fn metrics_enabled_false_turns_the_endpoint_off() {
    let off = HttpSettings {
        metrics: MetricsSettings {
            metrics_enabled: false,
            ..MetricsSettings::default()
        },
        ..HttpSettings::default()
    };
    let app = app_with(off, AuthSettings::default()).await;
    app.get("/metrics")
        .await
        .assert_status(StatusCode::NOT_FOUND);
    app.get("/api/v1/nodes").await.assert_status_is_ok();
}

#[tokio::test]
async fn cors_origins_lists_origins_with_credentials_and_unset_allows_any_without() {
    let listed = HttpSettings {
        cors: CorsSettings {
            cors_origins: Some("https://hub.example.org, http://localhost:8080".into()),
        },
        ..HttpSettings::default()
    };
    let app = app_with(listed, AuthSettings::default()).await;
    let resp = app
        .client
        .get("/api/v1/nodes")
        .header("origin", "http://localhost:8080")
        .send()
        .await;
    resp.assert_status_is_ok();
    resp.assert_header("access-control-allow-origin", "http://localhost:8080");
    resp.assert_header("access-control-allow-credentials", "true");
    let preflight = app
        .client
        .request(Method::OPTIONS, "/api/v1/channels")
        .header("origin", "https://hub.example.org")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await;
    preflight.assert_status_is_ok();
    preflight.assert_header("access-control-allow-origin", "https://hub.example.org");
    let other = app
        .client
        .get("/api/v1/nodes")
        .header("origin", "https://evil.example")
        .send()
        .await;
    assert!(
        other
            .0
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    assert!(other.0.status().is_client_error());
    let body: serde_json::Value = other.json().await.value().deserialize();
    assert!(body["detail"].is_string(), "{body}");

    let open = app_with(public_metrics(), AuthSettings::default()).await;
    let resp = open
        .client
        .get("/api/v1/nodes")
        .header("origin", "https://anywhere.example")
        .send()
        .await;
    resp.assert_status_is_ok();
    resp.assert_header("access-control-allow-origin", "https://anywhere.example");
    assert!(
        resp.0
            .headers()
            .get("access-control-allow-credentials")
            .is_none()
    );
    // Without an Origin, nothing changes.
    let plain = open.get("/api/v1/nodes").await;
    assert!(
        plain
            .0
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[tokio::test]
async fn oidc_role_names_drive_the_dashboard_counts_and_the_test_exclusion() {
    let renamed = RoleNameSettings {
        oidc_role_operator: "mesh-ops".into(),
        oidc_role_member: "mesh-member".into(),
        oidc_role_test: "qa".into(),
    };
    let app = empty_app_with(|state| state.roles = renamed).await;
    let t = ago(0, 1);
    app.exec(&format!(
        "INSERT INTO user_profiles (id, user_id, name, roles, created_at, updated_at) VALUES \
         ('p1', 'u1', 'A', 'mesh-ops,mesh-member', '{t}', '{t}'), \
         ('p2', 'u2', 'B', 'mesh-member', '{t}', '{t}'), \
         ('p3', 'u3', 'C', 'operator,member', '{t}', '{t}'), \
         ('p4', 'u4', 'D', 'mesh-member, qa', '{t}', '{t}'), \
         ('p5', 'u5', 'E', 'test', '{t}', '{t}'), \
         ('p6', 'u6', 'F', 'q_a', '{t}', '{t}')"
    ))
    .await;
    let stats: serde_json::Value = app
        .get("/api/v1/dashboard/stats")
        .await
        .json()
        .await
        .value()
        .deserialize();
    assert_eq!(stats["total_operators"], 1, "{stats}");
    assert_eq!(stats["total_members"], 2, "{stats}");
    let profiles: serde_json::Value = app
        .get("/api/v1/user/profiles")
        .await
        .json()
        .await
        .value()
        .deserialize();
    // The `qa` profile is hidden; `test` is an ordinary role here, and `_` is no wildcard.
    assert_eq!(profiles["total"], 5, "{profiles}");
    let names: Vec<&str> = profiles["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["A", "B", "C", "E", "F"]);

    // An empty test role makes no account a test account.
    let no_test = RoleNameSettings {
        oidc_role_test: String::new(),
        ..RoleNameSettings::default()
    };
    let app = empty_app_with(|state| state.roles = no_test).await;
    app.exec(&format!(
        "INSERT INTO user_profiles (id, user_id, name, roles, created_at, updated_at) VALUES \
         ('p1', 'u1', 'A', 'member,test', '{t}', '{t}')"
    ))
    .await;
    let stats: serde_json::Value = app
        .get("/api/v1/dashboard/stats")
        .await
        .json()
        .await
        .value()
        .deserialize();
    assert_eq!(stats["total_members"], 1, "{stats}");
    let profiles: serde_json::Value = app
        .get("/api/v1/user/profiles")
        .await
        .json()
        .await
        .value()
        .deserialize();
    assert_eq!(profiles["total"], 1, "{profiles}");
}
