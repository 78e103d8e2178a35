//! The RSS and Atom feeds (MeshCore Hub v0.21): the logged-out view whatever the request
//! says, escaping, advert de-duplication, channel 404s and titles, link targets, content
//! types, public Cache-Control, ETag/304/HIT through Redis, invalidation by writes, the kill
//! switch and the read key; on SQLite and PostgreSQL. Every feed is also parsed by feed-rs.

use crate::common;

use common::*;
use hub_api::state::AppState;
use hub_core::settings::{AuthSettings, FeedSettings, SpamSettings};
use hub_core::test_support::{PostgresServer, RedisServer};
use poem::http::StatusCode;
use poem::test::TestResponse;
use sea_orm::DatabaseConnection;

/// Every feed path, and whether it is RSS (else Atom).
const FEEDS: &[(&str, bool)] = &[
    ("/api/v1/feeds/messages.xml", true),
    ("/api/v1/feeds/messages.atom", false),
    ("/api/v1/feeds/adverts.xml", true),
    ("/api/v1/feeds/adverts.atom", false),
    ("/api/v1/feeds/nodes.xml", true),
    ("/api/v1/feeds/nodes.atom", false),
    ("/api/v1/feeds/channels/17.xml", true),
    ("/api/v1/feeds/channels/17.atom", false),
    ("/api/v1/feeds/channels/42.xml", true),
    ("/api/v1/feeds/channels/42.atom", false),
];

const PACKET_HASH: &str = "aabbccddeeff00112233445566778899";
const ADVERT_HASH: &str = "0123456789abcdef0123456789abcdef";
const SCRIPT: &str = "<script>alert(\"x\")</script> & <b>bold</b>";

fn newer() -> String {
    pk("22")
}
fn older() -> String {
    pk("11")
}
fn sender() -> String {
    format!("{:0<64}", "abc123def456")
}

/// Channels of every visibility, nodes, adverts and messages; times relative to now.
async fn load(app: &TestApp) {
    let t = |hours: i64| ago(0, hours);
    app.exec(&format!(
        "INSERT INTO channels (id, name, key_hex, channel_hash, visibility, enabled, created_at, updated_at) VALUES \
         ('c-village', 'Village & Co', 'k1', '2A', 'community', TRUE, '{a}', '{a}'), \
         ('c-member', 'Members', 'k2', '5D', 'member', TRUE, '{a}', '{a}'), \
         ('c-admin', 'Admins', 'k3', '6B', 'admin', TRUE, '{a}', '{a}'), \
         ('c-off', 'DisabledChan', 'k4', '3C', 'community', FALSE, '{a}', '{a}')",
        a = t(48)
    ))
    .await;
    app.exec(&format!(
        "INSERT INTO nodes (id, public_key, name, adv_type, first_seen, last_seen, created_at, updated_at, is_observer) VALUES \
         ('n-old', '{old}', 'Older', 'chat', '{d2}', '{d2}', '{d2}', '{d2}', FALSE), \
         ('n-new', '{new}', 'Newer', 'REPEATER', '{h1}', '{h1}', '{h1}', '{h1}', FALSE), \
         ('n-sender', '{snd}', 'Sender', 'chat', '{d3}', '{d3}', '{d3}', '{d3}', FALSE); \
         INSERT INTO node_tags (id, node_id, key, value, value_type, created_at, updated_at) VALUES \
         ('t-sender', 'n-sender', 'name', 'Tagged Sender', 'string', '{d3}', '{d3}')",
        old = older(),
        new = newer(),
        snd = sender(),
        d2 = ago(2, 0),
        d3 = ago(3, 0),
        h1 = t(1),
    ))
    .await;
    app.exec(&format!(
        "INSERT INTO advertisements (id, node_id, public_key, name, adv_type, received_at, created_at, updated_at, advert_timestamp, packet_hash) VALUES \
         ('a-new-old', 'n-new', '{new}', 'OldName', 'REPEATER', '{h3}', '{h3}', '{h3}', NULL, NULL), \
         ('a-new-new', 'n-new', '{new}', 'NewName', 'REPEATER', '{h1}', '{h1}', '{h1}', '{h1}', '{ADVERT_HASH}'), \
         ('a-old', 'n-old', '{old}', NULL, NULL, '{h2}', '{h2}', '{h2}', NULL, NULL)",
        old = older(),
        new = newer(),
        h1 = t(1),
        h2 = t(2),
        h3 = t(3),
    ))
    .await;
    let message = |id: &str, kind: &str, idx: &str, text: &str, hours: i64, extra: (&str, &str)| {
        format!(
            "INSERT INTO messages (id, message_type, channel_idx, pubkey_prefix, text, received_at, created_at, updated_at, packet_hash, spam_score) \
             VALUES ('{id}', '{kind}', {idx}, {prefix}, '{text}', '{at}', '{at}', '{at}', {hash}, {score});",
            text = text.replace('\'', "''"),
            at = t(hours),
            prefix = if kind == "contact" {
                "'abc123def456'"
            } else {
                "NULL"
            },
            hash = extra.0,
            score = extra.1,
        )
    };
    let hash = format!("'{PACKET_HASH}'");
    let sql = [
        message(
            "m-hello",
            "channel",
            "17",
            "community hello",
            1,
            (&hash, "NULL"),
        ),
        message(
            "m-village",
            "channel",
            "42",
            "on the village channel",
            2,
            ("NULL", "NULL"),
        ),
        message(
            "m-member",
            "channel",
            "93",
            "secret member",
            1,
            ("NULL", "NULL"),
        ),
        message(
            "m-admin",
            "channel",
            "107",
            "secret admin",
            1,
            ("NULL", "NULL"),
        ),
        message(
            "m-off",
            "channel",
            "60",
            "on a disabled channel",
            6,
            ("NULL", "NULL"),
        ),
        message(
            "m-direct",
            "contact",
            "NULL",
            "direct note",
            3,
            ("NULL", "NULL"),
        ),
        message("m-script", "channel", "17", SCRIPT, 4, ("NULL", "0.1")),
        message("m-spam", "channel", "17", "spammy one", 5, ("NULL", "0.9")),
    ]
    .concat();
    app.exec(&sql).await;
}

/// The app over `db` with these settings.
fn app(db: DatabaseConnection, adjust: impl FnOnce(&mut AppState)) -> TestApp {
    let mut state = default_state(db);
    adjust(&mut state);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    app_from_state(state, dir, path)
}

/// A new SQLite app with the test rows.
async fn sqlite_app(adjust: impl FnOnce(&mut AppState)) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hub.db");
    let mut state = default_state(open_sqlite(&path).await);
    adjust(&mut state);
    let app = app_from_state(state, dir, path);
    load(&app).await;
    app
}

async fn body(resp: TestResponse) -> String {
    resp.assert_status_is_ok();
    resp.0.into_body().into_string().await.unwrap()
}

/// Parses `xml` with feed-rs (the validator), asserting it is a well-formed feed.
fn parsed(xml: &str) -> feed_rs::model::Feed {
    feed_rs::parser::parse(xml.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{xml}"))
}

/// Everything the feeds promise, on one app (SQLite or PostgreSQL) holding [`load`]'s rows.
async fn assert_feeds(app: &TestApp) {
    for (path, rss) in FEEDS {
        let resp = app.get(path).await;
        resp.assert_status_is_ok();
        let content_type = if *rss {
            "application/rss+xml; charset=utf-8"
        } else {
            "application/atom+xml; charset=utf-8"
        };
        resp.assert_content_type(content_type);
        resp.assert_header("cache-control", "public, max-age=300");
        let xml = body(resp).await;
        assert!(
            xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"),
            "{xml}"
        );
        let feed = parsed(&xml);
        let kind = if *rss {
            feed_rs::model::FeedType::RSS2
        } else {
            feed_rs::model::FeedType::Atom
        };
        assert_eq!(feed.feed_type, kind, "{path}");
        let title = feed.title.expect("title").content;
        assert!(title.starts_with("MeshCore Network — "), "{path}: {title}");
        assert!(feed.updated.is_some() || *rss, "{path}");
        // The self link is the web tier's clean alias.
        let self_link = feed
            .links
            .iter()
            .find(|l| l.rel.as_deref() == Some("self"))
            .unwrap_or_else(|| panic!("{path}: no self link"));
        assert_eq!(
            self_link.href,
            format!("http://localhost{}", path.trim_start_matches("/api/v1")),
            "{path}"
        );
    }

    // Messages: the logged-out view, even for a caller claiming to be an admin.
    let resp = app
        .client
        .get("/api/v1/feeds/messages.xml")
        .header("X-User-Roles", "admin")
        .header("X-User-Id", "u-admin")
        .send()
        .await;
    let xml = body(resp).await;
    // A disabled community channel's history stays public, as on the anonymous /messages.
    for shown in [
        "community hello",
        "on the village channel",
        "on a disabled channel",
        "direct note",
        "spammy one",
    ] {
        assert!(xml.contains(shown), "{shown}: {xml}");
    }
    for hidden in ["secret member", "secret admin"] {
        assert!(!xml.contains(hidden), "{hidden}: {xml}");
    }
    // Escaped by the writer: the text survives a parse, the markup never appears raw.
    assert!(!xml.contains("<script>alert"), "{xml}");
    assert!(xml.contains("&amp;"), "{xml}");
    let feed = parsed(&xml);
    let entries = &feed.entries;
    assert_eq!(entries.len(), 6, "{xml}");
    let summaries: Vec<String> = entries
        .iter()
        .filter_map(|e| e.summary.as_ref().map(|s| s.content.clone()))
        .collect();
    assert!(summaries.iter().any(|s| s == SCRIPT), "{summaries:?}");
    // Newest first; a packet hash is the guid and links the packet page, else `msg:<id>`.
    let first = &entries[0];
    assert_eq!(first.id, PACKET_HASH);
    assert_eq!(
        first.links[0].href,
        format!("http://localhost/packets/hash/{PACKET_HASH}")
    );
    assert!(xml.contains(&format!("<guid isPermaLink=\"false\">{PACKET_HASH}</guid>")));
    let village = entries
        .iter()
        .find(|e| e.id == "msg:m-village")
        .expect("msg: guid");
    assert_eq!(village.links[0].href, "http://localhost/messages");
    // A sender prefix is titled by its node's `name` tag.
    let direct = entries.iter().find(|e| e.id == "msg:m-direct").unwrap();
    assert_eq!(
        direct.title.as_ref().unwrap().content,
        "Tagged Sender: direct note"
    );
    let hello = entries.iter().find(|e| e.id == PACKET_HASH).unwrap();
    assert_eq!(
        hello.title.as_ref().unwrap().content,
        "channel: community hello"
    );

    // Adverts: the newest per node, newest nodes first.
    let xml = body(app.get("/api/v1/feeds/adverts.xml").await).await;
    let feed = parsed(&xml);
    let ids: Vec<&str> = feed.entries.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["advert:a-new-new", "advert:a-old"], "{xml}");
    assert_eq!(feed.entries[0].title.as_ref().unwrap().content, "NewName");
    assert_eq!(
        feed.entries[0].links[0].href,
        format!("http://localhost/packets/hash/{ADVERT_HASH}")
    );
    assert_eq!(
        feed.entries[1].links[0].href,
        format!("http://localhost/nodes/{}", older())
    );
    // Without an advertised name: the node's own name.
    assert_eq!(feed.entries[1].title.as_ref().unwrap().content, "Older");
    assert!(xml.contains("<guid isPermaLink=\"false\">advert:a-new-new</guid>"));
    assert!(!xml.contains("OldName"), "{xml}");
    let newest = feed.entries[0].summary.as_ref().unwrap().content.clone();
    assert!(
        newest.starts_with("REPEATER - 20") && newest.ends_with("+00:00"),
        "{newest}"
    );

    // Nodes: newest by created_at, linked to their page.
    let feed = parsed(&body(app.get("/api/v1/feeds/nodes.atom").await).await);
    let titles: Vec<String> = feed
        .entries
        .iter()
        .map(|e| e.title.as_ref().unwrap().content.clone())
        .collect();
    assert_eq!(titles, ["Newer", "Older", "Tagged Sender"]);
    assert_eq!(feed.entries[0].id, format!("node:{}", newer()));
    assert_eq!(
        feed.entries[0].links[0].href,
        format!("http://localhost/nodes/{}", newer())
    );

    // Channel feeds: the DB name, the built-in Public; 404 unless community and enabled.
    let xml = body(app.get("/api/v1/feeds/channels/42.xml").await).await;
    let feed = parsed(&xml);
    assert_eq!(
        feed.title.unwrap().content,
        "MeshCore Network — Village & Co"
    );
    assert_eq!(feed.entries.len(), 1);
    assert!(
        xml.contains("<link>http://localhost/messages?channel_idx=42</link>"),
        "{xml}"
    );
    let feed = parsed(&body(app.get("/api/v1/feeds/channels/17.atom").await).await);
    assert_eq!(feed.title.unwrap().content, "MeshCore Network — Public");
    assert_eq!(feed.entries.len(), 3);
    for idx in ["93", "107", "60", "250", "99999999999"] {
        let resp = app.get(&format!("/api/v1/feeds/channels/{idx}.xml")).await;
        resp.assert_status(StatusCode::NOT_FOUND);
        resp.assert_json(serde_json::json!({
            "detail": format!("Channel {idx} is not available as a public feed")
        }))
        .await;
    }
    for bad in ["17.json", "abc.xml", "-1.xml", "17"] {
        let resp = app.get(&format!("/api/v1/feeds/channels/{bad}")).await;
        resp.assert_status(StatusCode::UNPROCESSABLE_ENTITY);
        let err: serde_json::Value = resp.json().await.value().deserialize();
        assert_eq!(
            err["detail"][0]["loc"],
            serde_json::json!(["path", "feed"]),
            "{bad}"
        );
    }
}

/// 2,100 older adverts of three nodes (more than the walk of the newest rows reads), then one
/// newer advert each: the feed still lists each node once, with its newest advert.
async fn assert_adverts_of_few_busy_nodes(app: &TestApp) {
    app.exec(&format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2100) \
         INSERT INTO advertisements (id, public_key, name, received_at, created_at, updated_at) \
         SELECT 'bulk-' || i, CASE i % 3 WHEN 0 THEN '{a}' WHEN 1 THEN '{b}' ELSE '{c}' END, \
                'Busy', '{t}', '{t}', '{t}' FROM n",
        a = pk("a1"),
        b = pk("b1"),
        c = pk("c1"),
        t = ago(5, 0),
    ))
    .await;
    for (n, stem) in ["a1", "b1", "c1"].iter().enumerate() {
        app.exec(&format!(
            "INSERT INTO advertisements (id, public_key, name, received_at, created_at, updated_at) \
             VALUES ('latest-{stem}', '{pk}', 'Latest {stem}', '{t}', '{t}', '{t}')",
            pk = pk(stem),
            t = ago(4, n as i64),
        ))
        .await;
    }
    let feed = parsed(&body(app.get("/api/v1/feeds/adverts.atom").await).await);
    let ids: Vec<&str> = feed.entries.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(
        ids,
        ["advert:latest-a1", "advert:latest-b1", "advert:latest-c1"],
        "{ids:?}"
    );
}

#[tokio::test]
async fn feeds_on_sqlite() {
    let app = sqlite_app(|_| {}).await;
    assert_feeds(&app).await;
}

#[tokio::test]
async fn adverts_of_few_busy_nodes_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hub.db");
    let app = app(open_sqlite(&path).await, |_| {});
    assert_adverts_of_few_busy_nodes(&app).await;
}

#[tokio::test]
async fn feeds_on_postgres() {
    let pg = PostgresServer::start();
    let db = hub_core::db::connect(&pg.url()).await.expect("connect");
    hub_core::db::prepare_schema(&db).await.unwrap();
    let app = app(db, |_| {});
    load(&app).await;
    assert_feeds(&app).await;
    // The grouped reading of adverts, on PostgreSQL, below the three nodes above.
    app.exec("DELETE FROM advertisements").await;
    assert_adverts_of_few_busy_nodes(&app).await;
    // Spam detection on: hidden on PostgreSQL too.
    let db = app.db.clone();
    let spam = self::app(db, |s| {
        s.spam = SpamSettings {
            spam_detection_enabled: true,
            ..SpamSettings::default()
        }
    });
    let xml = body(spam.get("/api/v1/feeds/messages.atom").await).await;
    assert!(
        !xml.contains("spammy one") && xml.contains("community hello"),
        "{xml}"
    );
}

#[tokio::test]
async fn spam_is_hidden_whenever_detection_is_on() {
    let app = sqlite_app(|s| {
        s.spam = SpamSettings {
            spam_detection_enabled: true,
            spam_score_threshold: 0.65,
        }
    })
    .await;
    for path in [
        "/api/v1/feeds/messages.xml",
        "/api/v1/feeds/channels/17.xml",
    ] {
        let xml = body(app.get(path).await).await;
        assert!(!xml.contains("spammy one"), "{xml}");
        // Scored below the threshold: kept.
        assert!(xml.contains("&lt;script&gt;"), "{xml}");
    }
}

#[tokio::test]
async fn links_use_web_public_url_then_forwarded_host() {
    let app = sqlite_app(|_| {}).await;
    let resp = app
        .client
        .get("/api/v1/feeds/messages.xml")
        .header("X-Forwarded-Host", "hub.example.com")
        .header("X-Forwarded-Proto", "https")
        .send()
        .await;
    let feed = parsed(&body(resp).await);
    assert!(
        feed.links
            .iter()
            .any(|l| l.href == "https://hub.example.com/messages")
    );
    assert!(
        feed.entries
            .iter()
            .all(|e| e.links[0].href.starts_with("https://hub.example.com/"))
    );

    // The client-facing entry of a proxy chain; a scheme other than http(s) is not used.
    let resp = app
        .client
        .get("/api/v1/feeds/nodes.atom")
        .header("X-Forwarded-Host", "edge.example.net, 10.0.0.7")
        .header("X-Forwarded-Proto", "javascript")
        .send()
        .await;
    let feed = parsed(&body(resp).await);
    assert!(
        feed.links
            .iter()
            .any(|l| l.href == "http://edge.example.net/nodes"),
        "{:?}",
        feed.links
    );

    let pinned = sqlite_app(|s| {
        s.feeds = FeedSettings {
            web_public_url: Some("https://mesh.example.org/".into()),
            network_name: "Test <Mesh>".into(),
            ..FeedSettings::default()
        }
    })
    .await;
    let resp = pinned
        .client
        .get("/api/v1/feeds/channels/17.atom")
        .header("X-Forwarded-Host", "internal-api:8000")
        .send()
        .await;
    let xml = body(resp).await;
    assert!(xml.contains("Test &lt;Mesh&gt; — Public"), "{xml}");
    let feed = parsed(&xml);
    assert_eq!(feed.title.unwrap().content, "Test <Mesh> — Public");
    let hrefs: Vec<&str> = feed
        .links
        .iter()
        .chain(feed.entries.iter().flat_map(|e| e.links.iter()))
        .map(|l| l.href.as_str())
        .collect();
    assert!(
        hrefs.contains(&"https://mesh.example.org/feeds/channels/17.atom"),
        "{hrefs:?}"
    );
    assert!(
        hrefs
            .iter()
            .all(|h| h.starts_with("https://mesh.example.org/")),
        "{hrefs:?}"
    );
}

#[tokio::test]
async fn kill_switch_answers_404_even_with_a_stored_entry() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hub.db");
    let db = open_sqlite(&path).await;
    let on = app(db.clone(), |s| s.cache = redis_response_cache(redis.port()));
    load(&on).await;
    on.get("/api/v1/feeds/messages.xml")
        .await
        .assert_status_is_ok();
    let off = app(db, |s| {
        s.cache = redis_response_cache(redis.port());
        s.feeds.feature_feeds = false;
    });
    for (path, _) in FEEDS {
        let resp = off.get(path).await;
        resp.assert_status(StatusCode::NOT_FOUND);
        resp.assert_json(serde_json::json!({"detail": "Feeds are disabled"}))
            .await;
    }
    assert!(FeedSettings::default().feature_feeds);
}

#[tokio::test]
async fn read_key_gates_the_feeds() {
    let app = sqlite_app(|s| {
        s.auth = AuthSettings {
            read_key: Some("test-read-key".into()),
            ..AuthSettings::default()
        }
    })
    .await;
    app.get("/api/v1/feeds/messages.xml")
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
    let resp = app
        .client
        .get("/api/v1/feeds/messages.xml")
        .header("Authorization", "Bearer test-read-key")
        .send()
        .await;
    resp.assert_status_is_ok();
}

#[tokio::test]
async fn cached_by_path_with_etag_304_and_invalidated_by_writes() {
    let redis = RedisServer::start();
    let app = sqlite_app(|s| s.cache = redis_response_cache(redis.port())).await;
    let uri = "/api/v1/feeds/messages.xml";
    let first = app.get(uri).await;
    first.assert_status_is_ok();
    first.assert_header("x-cache", "MISS");
    let etag = first.0.headers()["etag"].to_str().unwrap().to_owned();
    let first_body = body(first).await;

    let revalidated = app
        .client
        .get(uri)
        .header("If-None-Match", &etag)
        .send()
        .await;
    revalidated.assert_status(StatusCode::NOT_MODIFIED);
    revalidated.assert_header("x-cache", "HIT");
    revalidated.assert_header("etag", &etag);
    revalidated.assert_header("cache-control", "public, max-age=300");

    // Keyed by path alone: a query string, roles or identity do not split the entry.
    let again = app
        .client
        .get(format!("{uri}?limit=1&x=y"))
        .header("X-User-Roles", "admin")
        .send()
        .await;
    again.assert_header("x-cache", "HIT");
    again.assert_content_type("application/rss+xml; charset=utf-8");
    again.assert_header("cache-control", "public, max-age=300");
    assert!(
        again.0.headers()["cache-status"]
            .to_str()
            .unwrap()
            .starts_with("hub; hit")
    );
    assert_eq!(body(again).await, first_body);

    // A channel write invalidates the feeds.
    let created = app
        .client
        .post("/api/v1/channels")
        .header("X-User-Id", "u-admin")
        .header("X-User-Roles", "admin")
        .body_json(&serde_json::json!({
            "name": "Fresh", "key_hex": "000102030405060708090a0b0c0d0e0f", "visibility": "community"
        }))
        .send()
        .await;
    assert!(created.0.status().is_success(), "{:?}", created.0.status());
    app.get(uri).await.assert_header("x-cache", "MISS");

    // A node tag write (node names come from tags) too.
    let nodes = app.get("/api/v1/feeds/nodes.xml").await;
    nodes.assert_header("x-cache", "MISS");
    app.get("/api/v1/feeds/nodes.xml")
        .await
        .assert_header("x-cache", "HIT");
    let tagged = app
        .client
        .post(format!("/api/v1/nodes/{}/tags", newer()))
        .header("X-User-Id", "u-admin")
        .header("X-User-Roles", "admin")
        .body_json(&serde_json::json!({"key": "name", "value": "Renamed Repeater"}))
        .send()
        .await;
    assert!(tagged.0.status().is_success(), "{:?}", tagged.0.status());
    let renamed = app.get("/api/v1/feeds/nodes.xml").await;
    renamed.assert_header("x-cache", "MISS");
    assert!(body(renamed).await.contains("Renamed Repeater"));
}

#[tokio::test]
async fn no_cache_control_when_it_is_switched_off() {
    use poem::EndpointExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hub.db");
    let state = default_state(open_sqlite(&path).await);
    let app = hub_api::app::build_with(
        state,
        hub_core::settings::HttpSettings::with_cache_control(false),
    );
    let client = poem::test::TestClient::new(app.map_to_response());
    let resp = client.get("/api/v1/feeds/messages.xml").send().await;
    resp.assert_status_is_ok();
    resp.assert_header_is_not_exist("cache-control");
    resp.assert_content_type("application/rss+xml; charset=utf-8");
}
