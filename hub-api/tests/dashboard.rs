//! `/api/v1/dashboard/*`: key order, counts and windows, role visibility, route overview.
//!
//! Age-dependent numbers are built in an empty database with timestamps relative to now
//! (`ago`); fixture assertions stick to what does not change with the date.

use crate::common;

use common::*;
use serde_json::Value;

const ROLES: [(&str, &str); 4] = [
    ("anonymous", ""),
    ("member", "member"),
    ("operator", "operator"),
    ("admin", "admin,member"),
];

/// The keys of a JSON object, in order.
fn keys(value: &Value) -> Vec<String> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .cloned()
        .collect()
}

/// The UTC date `days` days before today, `YYYY-MM-DD`.
fn day(days: i64) -> String {
    (chrono::Utc::now().date_naive() - chrono::Duration::days(days))
        .format("%Y-%m-%d")
        .to_string()
}

/// `(date, count)` pairs of a series body.
fn points(body: &Value) -> Vec<(String, i64)> {
    body["data"]
        .as_array()
        .unwrap_or_else(|| panic!("no data: {body}"))
        .iter()
        .map(|p| {
            (
                p["date"].as_str().unwrap_or_default().to_string(),
                p["count"].as_i64().unwrap_or(-1),
            )
        })
        .collect()
}

/// `(label, count)` pairs of a breakdown list.
fn buckets(list: &Value) -> Vec<(String, i64)> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|b| {
            (
                b["label"].as_str().unwrap_or_default().to_string(),
                b["count"].as_i64().unwrap_or(-1),
            )
        })
        .collect()
}

fn pairs(list: &[(&str, i64)]) -> Vec<(String, i64)> {
    list.iter().map(|(l, n)| (l.to_string(), *n)).collect()
}

async fn get(app: &TestApp, uri: &str, roles: &str) -> Value {
    if roles.is_empty() {
        app.json(uri).await
    } else {
        app.json_as(uri, roles).await
    }
}

fn sql_opt(value: Option<&str>) -> String {
    value.map_or("NULL".to_string(), |v| format!("'{v}'"))
}

async fn insert_channel(app: &TestApp, name: &str, hash: &str, visibility: &str) {
    let t = ago(1, 0);
    app.exec(&format!(
        "INSERT INTO channels (id, name, key_hex, channel_hash, visibility, enabled, created_at, updated_at) \
         VALUES ('ch-{name}', '{name}', '{name:0>64}', '{hash}', '{visibility}', 1, '{t}', '{t}')"
    ))
    .await;
}

async fn insert_message(
    app: &TestApp,
    id: &str,
    message_type: &str,
    channel_idx: Option<i32>,
    pubkey_prefix: Option<&str>,
    received_at: &str,
) {
    let idx = channel_idx.map_or("NULL".to_string(), |i| i.to_string());
    app.exec(&format!(
        "INSERT INTO messages (id, message_type, pubkey_prefix, channel_idx, text, received_at, created_at, updated_at) \
         VALUES ('{id}', '{message_type}', {prefix}, {idx}, 'text {id}', '{received_at}', '{received_at}', '{received_at}')",
        prefix = sql_opt(pubkey_prefix)
    ))
    .await;
}

/// `count` messages with ids `{stem}-{i}`, all received at `received_at`.
async fn insert_messages(
    app: &TestApp,
    stem: &str,
    count: usize,
    message_type: &str,
    channel_idx: Option<i32>,
    received_at: &str,
) {
    for i in 0..count {
        insert_message(
            app,
            &format!("{stem}-{i}"),
            message_type,
            channel_idx,
            None,
            received_at,
        )
        .await;
    }
}

struct Advert<'a> {
    id: &'a str,
    public_key: String,
    name: Option<&'a str>,
    route_type: Option<&'a str>,
    received_at: String,
    event_hash: Option<&'a str>,
    observer_node_id: Option<&'a str>,
}

impl<'a> Advert<'a> {
    fn new(id: &'a str, route_type: Option<&'a str>, received_at: String) -> Self {
        Advert {
            id,
            public_key: pk("ad"),
            name: None,
            route_type,
            received_at,
            event_hash: None,
            observer_node_id: None,
        }
    }
}

async fn insert_advert(app: &TestApp, ad: Advert<'_>) {
    app.exec(&format!(
        "INSERT INTO advertisements (id, observer_node_id, public_key, name, received_at, created_at, updated_at, event_hash, route_type) \
         VALUES ('{id}', {observer}, '{pk}', {name}, '{t}', '{t}', '{t}', {hash}, {route})",
        id = ad.id,
        observer = sql_opt(ad.observer_node_id),
        pk = ad.public_key,
        name = sql_opt(ad.name),
        t = ad.received_at,
        hash = sql_opt(ad.event_hash),
        route = sql_opt(ad.route_type),
    ))
    .await;
}

async fn insert_packet(
    app: &TestApp,
    id: &str,
    event_type: Option<&str>,
    path_hash_bytes: Option<i32>,
    received_at: &str,
) {
    let width = path_hash_bytes.map_or("NULL".to_string(), |w| w.to_string());
    app.exec(&format!(
        "INSERT INTO raw_packets (id, event_type, path_hash_bytes, received_at, created_at, updated_at) \
         VALUES ('{id}', {event}, {width}, '{received_at}', '{received_at}', '{received_at}')",
        event = sql_opt(event_type)
    ))
    .await;
}

async fn insert_bare_node(app: &TestApp, id: &str, created_at: &str, last_seen: Option<&str>) {
    app.exec(&format!(
        "INSERT INTO nodes (id, public_key, first_seen, last_seen, created_at, updated_at, is_observer) \
         VALUES ('{id}', '{key}', '{created_at}', {last_seen}, '{created_at}', '{created_at}', 0)",
        key = pk(&hex::encode(id)),
        last_seen = sql_opt(last_seen)
    ))
    .await;
}

async fn insert_profile(app: &TestApp, id: &str, roles: Option<&str>) {
    let t = ago(1, 0);
    app.exec(&format!(
        "INSERT INTO user_profiles (id, user_id, roles, created_at, updated_at) \
         VALUES ('{id}', 'user-{id}', {roles}, '{t}', '{t}')",
        roles = sql_opt(roles)
    ))
    .await;
}

// ---------------------------------------------------------------- stats

#[tokio::test]
async fn stats_keys_in_contract_order() {
    let app = fixture_app().await;
    let body = app.json("/api/v1/dashboard/stats").await;
    assert_eq!(
        keys(&body),
        [
            "total_nodes",
            "active_nodes",
            "total_messages",
            "messages_today",
            "messages_7d",
            "total_advertisements",
            "advertisements_24h",
            "advertisements_7d",
            "channel_message_counts",
            "total_operators",
            "total_members",
            "total_packets",
            "packets_7d",
        ]
    );
    // What does not age in the fixture.
    assert_eq!(body["total_nodes"], 8);
    assert_eq!(body["total_messages"], 4);
    // 6 adverts, one of them direct.
    assert_eq!(body["total_advertisements"], 5);
    assert_eq!(body["total_packets"], 20);
    // op-north is the only operator; four profiles hold `member`.
    assert_eq!(body["total_operators"], 1);
    assert_eq!(body["total_members"], 4);
    // Channel 0x47 ("E2E General") is community; 71 = 0x47.
    assert_eq!(
        body["channel_message_counts"],
        serde_json::json!({"17": 2, "71": 1})
    );
}

#[tokio::test]
async fn stats_counts_windows_and_flood_only_adverts() {
    let app = empty_app().await;
    // Nodes: one heard an hour ago, one two days ago, one never.
    insert_bare_node(&app, "n1", &ago(30, 0), Some(&ago(0, 1))).await;
    insert_bare_node(&app, "n2", &ago(30, 0), Some(&ago(2, 0))).await;
    insert_bare_node(&app, "n3", &ago(30, 0), None).await;
    // Adverts: three flood-like within 24 h, a direct one (never counted), one 3 days old,
    // one 8 days old.
    insert_advert(&app, Advert::new("a1", Some("flood"), ago(0, 1))).await;
    insert_advert(&app, Advert::new("a2", Some("transport_flood"), ago(0, 2))).await;
    insert_advert(&app, Advert::new("a3", None, ago(0, 3))).await;
    insert_advert(&app, Advert::new("a4", Some("direct"), ago(0, 1))).await;
    insert_advert(&app, Advert::new("a5", Some("flood"), ago(3, 0))).await;
    insert_advert(&app, Advert::new("a6", Some("flood"), ago(8, 0))).await;
    // Contact messages: two yesterday, one now, one 8 days old.
    insert_messages(&app, "c-old", 1, "contact", None, &ago(8, 0)).await;
    insert_messages(&app, "c-y", 2, "contact", None, &ago(1, 0)).await;
    insert_messages(&app, "c-now", 1, "contact", None, &ago(0, 0)).await;
    // Raw packets: two within 7 days, one older.
    insert_packet(&app, "p1", Some("advertisement"), Some(1), &ago(1, 0)).await;
    insert_packet(&app, "p2", None, None, &ago(6, 23)).await;
    insert_packet(&app, "p3", Some("advertisement"), Some(1), &ago(7, 1)).await;

    let body = app.json("/api/v1/dashboard/stats").await;
    assert_eq!(body["total_nodes"], 3, "{body}");
    assert_eq!(body["active_nodes"], 1, "{body}");
    assert_eq!(body["total_advertisements"], 5, "{body}");
    assert_eq!(body["advertisements_24h"], 3, "{body}");
    assert_eq!(body["advertisements_7d"], 4, "{body}");
    assert_eq!(body["total_messages"], 4, "{body}");
    assert_eq!(body["messages_today"], 1, "{body}");
    assert_eq!(body["messages_7d"], 3, "{body}");
    assert_eq!(body["total_packets"], 3, "{body}");
    assert_eq!(body["packets_7d"], 2, "{body}");
    assert_eq!(body["channel_message_counts"], serde_json::json!({}));
    assert_eq!(body["total_operators"], 0);
    assert_eq!(body["total_members"], 0);
}

/// Channels 0x05 community, 0x0A member, 0x0C operator, 0x0D admin; 0x63 (99) has no
/// channels row. Messages within the last 7 days: 1, 2, 3, 4 on those, 5 on Public (17),
/// 6 on 99, 7 contact messages and 1 channel message without an index.
async fn visibility_app() -> TestApp {
    let app = empty_app().await;
    insert_channel(&app, "community", "05", "community").await;
    insert_channel(&app, "members", "0A", "member").await;
    insert_channel(&app, "ops", "0C", "operator").await;
    insert_channel(&app, "admins", "0D", "admin").await;
    let t = ago(1, 0);
    for (idx, n) in [(5, 1), (10, 2), (12, 3), (13, 4), (17, 5), (99, 6)] {
        insert_messages(&app, &format!("ch{idx}"), n, "channel", Some(idx), &t).await;
    }
    insert_messages(&app, "contact", 7, "contact", None, &t).await;
    insert_messages(&app, "noidx", 1, "channel", None, &t).await;
    app
}

#[tokio::test]
async fn stats_hide_channels_the_caller_may_not_read() {
    let app = visibility_app().await;
    let expected = [
        ("anonymous", 14, serde_json::json!({"5": 1, "17": 5})),
        ("member", 16, serde_json::json!({"5": 1, "10": 2, "17": 5})),
        (
            "operator",
            19,
            serde_json::json!({"5": 1, "10": 2, "12": 3, "17": 5}),
        ),
        (
            "admin",
            23,
            serde_json::json!({"5": 1, "10": 2, "12": 3, "13": 4, "17": 5}),
        ),
    ];
    for ((role, header), (want_role, messages_7d, counts)) in ROLES.iter().zip(expected) {
        assert_eq!(*role, want_role);
        let body = get(&app, "/api/v1/dashboard/stats", header).await;
        assert_eq!(body["messages_7d"], messages_7d, "{role}: {body}");
        assert_eq!(body["channel_message_counts"], counts, "{role}: {body}");
        // Keys are strings in numeric order (5 before 10 and 17), and the orphan index 99
        // is never listed.
        let order = keys(&body["channel_message_counts"]);
        let mut sorted = order.clone();
        sorted.sort_by_key(|k| k.parse::<i32>().unwrap_or(i32::MAX));
        assert_eq!(order, sorted, "{role}");
        assert!(!order.contains(&"99".to_string()), "{role}");
        // Every message count covers visible messages only (all of them are recent here).
        assert_eq!(body["total_messages"], messages_7d, "{role}: {body}");
        assert_eq!(body["messages_today"], 0, "{role}: {body}");
    }
}

/// The all-time and 7-day counts add kept whole days to the first day and today: rows on
/// the oldest day, on whole days inside and outside the week and today all count once, for
/// each role, on the first request and on the next (served from the kept days).
#[tokio::test]
async fn stats_totals_span_kept_days_first_day_and_today() {
    let app = empty_app().await;
    insert_channel(&app, "ops", "0C", "operator").await;
    for (stem, days_ago, hours_ago) in [
        ("oldest", 40, 0),
        ("d20", 20, 0),
        ("d6", 6, 0),
        ("d1", 1, 0),
    ] {
        insert_messages(
            &app,
            &format!("{stem}-pub"),
            2,
            "channel",
            Some(17),
            &ago(days_ago, hours_ago),
        )
        .await;
        insert_messages(
            &app,
            &format!("{stem}-ops"),
            1,
            "channel",
            Some(12),
            &ago(days_ago, hours_ago),
        )
        .await;
        insert_messages(
            &app,
            &format!("{stem}-dm"),
            1,
            "contact",
            None,
            &ago(days_ago, hours_ago),
        )
        .await;
        insert_packet(
            &app,
            &format!("{stem}-p"),
            None,
            None,
            &ago(days_ago, hours_ago),
        )
        .await;
        insert_advert(
            &app,
            Advert::new(
                &format!("{stem}-a"),
                Some("flood"),
                ago(days_ago, hours_ago),
            ),
        )
        .await;
    }
    // Today, at midnight UTC or later.
    let today = format!(
        "{} 00:00:00.000001",
        chrono::Utc::now().date_naive().format("%Y-%m-%d")
    );
    insert_messages(&app, "today-pub", 3, "channel", Some(17), &today).await;
    insert_packet(&app, "today-p", None, None, &today).await;
    insert_advert(&app, Advert::new("today-a", None, today.clone())).await;
    for _ in 0..2 {
        let anonymous = get(&app, "/api/v1/dashboard/stats", "").await;
        assert_eq!(
            anonymous["channel_message_counts"],
            serde_json::json!({"17": 11}),
            "{anonymous}"
        );
        assert_eq!(anonymous["total_messages"], 15, "{anonymous}");
        assert_eq!(anonymous["messages_7d"], 9, "{anonymous}");
        assert_eq!(anonymous["total_packets"], 5, "{anonymous}");
        assert_eq!(anonymous["packets_7d"], 3, "{anonymous}");
        assert_eq!(anonymous["total_advertisements"], 5, "{anonymous}");
        assert_eq!(anonymous["advertisements_7d"], 3, "{anonymous}");
        let operator = get(&app, "/api/v1/dashboard/stats", "operator").await;
        assert_eq!(
            operator["channel_message_counts"],
            serde_json::json!({"12": 4, "17": 11}),
            "{operator}"
        );
        assert_eq!(operator["total_messages"], 19, "{operator}");
        assert_eq!(operator["messages_7d"], 11, "{operator}");
    }
}

#[tokio::test]
async fn stats_count_exact_role_names_without_test_accounts() {
    let app = empty_app().await;
    for (id, roles) in [
        ("p1", Some("operator,member")),
        ("p2", Some("member")),
        ("p3", Some("operators")),
        ("p4", Some("member, test")),
        ("p5", Some("operator,test")),
        ("p6", Some(" operator ")),
        ("p7", None),
        ("p8", Some("admin")),
        ("p9", Some("Member,super-operator")),
        ("p10", Some("testers,member")),
    ] {
        insert_profile(&app, id, roles).await;
    }
    let body = app.json("/api/v1/dashboard/stats").await;
    assert_eq!(body["total_operators"], 2, "{body}");
    assert_eq!(body["total_members"], 3, "{body}");
}

// ---------------------------------------------------------------- recent activity

#[tokio::test]
async fn recent_activity_keys_in_contract_order() {
    let app = fixture_app().await;
    let body = app.json("/api/v1/dashboard/recent-activity").await;
    assert_eq!(keys(&body), ["recent_advertisements", "channel_messages"]);
    let ads = body["recent_advertisements"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    // 6 fixture adverts, one direct.
    assert_eq!(ads.len(), 5, "{body}");
    assert_eq!(
        keys(&ads[0]),
        [
            "public_key",
            "name",
            "tag_name",
            "adv_type",
            "received_at",
            "route_type",
            "observers",
            "observed_by",
        ]
    );
    assert!(ads.iter().all(|a| a["route_type"] != "direct"), "{body}");
    // Newest first: Alpha Node heard by North Observer 1.
    assert_eq!(ads[0]["public_key"], pk("a1fa"));
    assert_eq!(ads[0]["observed_by"], pk("aa01"));
    assert_eq!(ads[0]["observers"][0]["public_key"], pk("aa01"));
    assert_eq!(
        keys(&ads[0]["observers"][0]),
        [
            "node_id",
            "public_key",
            "name",
            "tag_name",
            "snr",
            "path_len",
            "observed_at"
        ]
    );
    let channels = &body["channel_messages"];
    assert_eq!(keys(channels), ["17", "71"]);
    assert_eq!(
        keys(&channels["17"][0]),
        [
            "text",
            "sender_name",
            "sender_tag_name",
            "pubkey_prefix",
            "received_at"
        ]
    );
    assert_eq!(channels["17"][0]["text"], "Hello from the e2e mesh");
    assert_eq!(channels["17"][1]["text"], "Channel check from the south");
}

#[tokio::test]
async fn recent_activity_lists_ten_flood_adverts_with_names_and_observers() {
    let app = empty_app().await;
    insert_node(
        &app,
        "src",
        &pk("5c"),
        Some("Source Node"),
        Some("Tagged Source"),
    )
    .await;
    insert_node(
        &app,
        "obs1",
        &pk("0b1"),
        Some("Observer One"),
        Some("Obs Tag"),
    )
    .await;
    insert_node(&app, "obs2", &pk("0b2"), Some("Observer Two"), None).await;
    // Twelve flood adverts an hour apart; the newest has observers and no name of its own.
    for hours in 1..=12 {
        let id = format!("ad{hours:02}");
        let hash = format!("{hours:032}");
        let mut ad = Advert::new(&id, Some("flood"), ago(0, hours));
        ad.public_key = pk("5c");
        ad.name = if hours == 1 {
            None
        } else {
            Some("Advert Name")
        };
        ad.event_hash = Some(&hash);
        ad.observer_node_id = Some("obs1");
        insert_advert(&app, ad).await;
    }
    // A newer direct advert is not listed.
    insert_advert(&app, Advert::new("direct", Some("direct"), ago(0, 0))).await;
    // obs2 heard the newest advert first, obs1 later.
    let hash = format!("{:032}", 1);
    for (i, (observer, minutes)) in [("obs2", 50), ("obs1", 40)].iter().enumerate() {
        let t = ago(0, 0);
        let observed = (chrono::Utc::now().naive_utc() - chrono::Duration::minutes(*minutes))
            .format("%Y-%m-%d %H:%M:%S%.6f");
        app.exec(&format!(
            "INSERT INTO event_observers (id, event_type, event_hash, observer_node_id, snr, observed_at, created_at, updated_at, path_len) \
             VALUES ('eo{i}', 'advertisement', '{hash}', '{observer}', 5.5, '{observed}', '{t}', '{t}', 2)"
        ))
        .await;
    }

    let body = app.json("/api/v1/dashboard/recent-activity").await;
    let ads = body["recent_advertisements"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(ads.len(), 10, "{body}");
    let ids: Vec<&str> = ads
        .iter()
        .filter_map(|a| a["route_type"].as_str())
        .collect();
    assert_eq!(ids, ["flood"; 10]);
    let newest = &ads[0];
    assert_eq!(
        newest["name"], "Source Node",
        "falls back to the node's name"
    );
    assert_eq!(newest["tag_name"], "Tagged Source");
    assert_eq!(newest["adv_type"], "chat", "falls back to the node's type");
    assert_eq!(newest["observed_by"], pk("0b1"));
    let observers: Vec<&str> = newest["observers"]
        .as_array()
        .map(|o| o.iter().filter_map(|x| x["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(observers, ["Observer Two", "Observer One"]);
    assert_eq!(newest["observers"][1]["tag_name"], "Obs Tag");
    assert_eq!(ads[1]["name"], "Advert Name");
    assert_eq!(ads[1]["observers"], serde_json::json!([]));
    // Newest first, down to the tenth.
    let times: Vec<&str> = ads
        .iter()
        .filter_map(|a| a["received_at"].as_str())
        .collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted);
}

#[tokio::test]
async fn recent_activity_lists_last_five_per_visible_channel() {
    let app = empty_app().await;
    insert_channel(&app, "members", "0A", "member").await;
    insert_channel(&app, "ops", "0C", "operator").await;
    insert_node(
        &app,
        "sender",
        &pk("5e4d"),
        Some("Sender"),
        Some("Sender Tag"),
    )
    .await;
    for i in 0..7 {
        insert_message(
            &app,
            &format!("pub{i}"),
            "channel",
            Some(17),
            Some(&pk("5e4d")[..12]),
            &ago(0, 10 - i),
        )
        .await;
    }
    insert_message(&app, "mem", "channel", Some(10), None, &ago(2, 0)).await;
    insert_message(&app, "ops", "channel", Some(12), None, &ago(2, 0)).await;
    insert_message(&app, "orphan", "channel", Some(99), None, &ago(0, 0)).await;
    insert_message(&app, "contact", "contact", None, None, &ago(0, 0)).await;

    for ((role, header), want) in ROLES.iter().zip([
        vec!["17"],
        vec!["10", "17"],
        vec!["10", "12", "17"],
        vec!["10", "12", "17"],
    ]) {
        let body = get(&app, "/api/v1/dashboard/recent-activity", header).await;
        let channels = &body["channel_messages"];
        assert_eq!(keys(channels), want, "{role}: {body}");
        let public = channels["17"].as_array().cloned().unwrap_or_default();
        let texts: Vec<&str> = public.iter().filter_map(|m| m["text"].as_str()).collect();
        assert_eq!(
            texts,
            [
                "text pub6",
                "text pub5",
                "text pub4",
                "text pub3",
                "text pub2"
            ],
            "{role}"
        );
        assert_eq!(public[0]["sender_name"], "Sender");
        assert_eq!(public[0]["sender_tag_name"], "Sender Tag");
        assert_eq!(public[0]["pubkey_prefix"], &pk("5e4d")[..12]);
    }
}

// ---------------------------------------------------------------- daily series

#[tokio::test]
async fn series_keys_in_contract_order() {
    let app = fixture_app().await;
    for path in [
        "activity",
        "packet-activity",
        "message-activity",
        "node-count",
    ] {
        let body = app.json(&format!("/api/v1/dashboard/{path}")).await;
        assert_eq!(keys(&body), ["days", "data"], "{path}");
        assert_eq!(body["days"], 30, "{path}");
        assert_eq!(keys(&body["data"][0]), ["date", "count"], "{path}");
    }
}

#[tokio::test]
async fn activity_is_zero_filled_oldest_first_and_excludes_today() {
    let app = empty_app().await;
    insert_advert(&app, Advert::new("today", Some("flood"), ago(0, 0))).await;
    insert_advert(&app, Advert::new("y1", Some("flood"), ago(1, 0))).await;
    insert_advert(&app, Advert::new("y2", None, ago(1, 0))).await;
    insert_advert(&app, Advert::new("ydirect", Some("direct"), ago(1, 0))).await;
    insert_advert(&app, Advert::new("d3", Some("transport_flood"), ago(3, 0))).await;
    insert_advert(&app, Advert::new("d30", Some("flood"), ago(30, 0))).await;
    insert_advert(&app, Advert::new("d31", Some("flood"), ago(31, 0))).await;

    let body = app.json("/api/v1/dashboard/activity").await;
    assert_eq!(body["days"], 30);
    let got = points(&body);
    let want: Vec<(String, i64)> = (1..=30)
        .rev()
        .map(|k| {
            let n = match k {
                1 => 2,
                3 | 30 => 1,
                _ => 0,
            };
            (day(k), n)
        })
        .collect();
    assert_eq!(got, want);
    assert!(!got.iter().any(|(d, _)| *d == day(0)), "today is excluded");

    let body = app.json("/api/v1/dashboard/activity?days=3").await;
    assert_eq!(points(&body), [(day(3), 1), (day(2), 0), (day(1), 2)]);
}

#[tokio::test]
async fn series_clamp_days_and_reject_non_integers() {
    let app = empty_app().await;
    for path in [
        "activity",
        "packet-activity",
        "message-activity",
        "node-count",
    ] {
        let body = app
            .json(&format!("/api/v1/dashboard/{path}?days=500"))
            .await;
        assert_eq!(body["days"], 90, "{path}");
        let got = points(&body);
        assert_eq!(got.len(), 90, "{path}");
        assert_eq!(got[0].0, day(90), "{path}");
        assert_eq!(got[89].0, day(1), "{path}");

        let body = app.json(&format!("/api/v1/dashboard/{path}?days=1")).await;
        assert_eq!(points(&body), [(day(1), 0)], "{path}");

        for days in ["0", "-5"] {
            let body = app
                .json(&format!("/api/v1/dashboard/{path}?days={days}"))
                .await;
            assert_eq!(body["days"], 0, "{path} {days}");
            assert_eq!(body["data"], serde_json::json!([]), "{path} {days}");
        }
        for bad in ["abc", "1.5", "", "99999999999999999999"] {
            let resp = app
                .get(&format!("/api/v1/dashboard/{path}?days={bad}"))
                .await;
            assert_422(resp, "days").await;
        }
    }
}

#[tokio::test]
async fn packet_activity_counts_raw_packets_per_day() {
    let app = empty_app().await;
    insert_packet(&app, "p0", None, None, &ago(0, 0)).await;
    insert_packet(&app, "p1", Some("advertisement"), Some(1), &ago(1, 0)).await;
    insert_packet(&app, "p2", Some("x"), None, &ago(2, 0)).await;
    insert_packet(&app, "p3", Some("x"), None, &ago(2, 0)).await;
    let body = app.json("/api/v1/dashboard/packet-activity?days=3").await;
    assert_eq!(points(&body), [(day(3), 0), (day(2), 2), (day(1), 1)]);
}

#[tokio::test]
async fn message_activity_counts_visible_messages_per_role() {
    let app = visibility_app().await;
    insert_messages(&app, "today", 3, "contact", None, &ago(0, 0)).await;
    let expected = [14, 16, 19, 23];
    for ((role, header), want) in ROLES.iter().zip(expected) {
        let body = get(&app, "/api/v1/dashboard/message-activity?days=2", header).await;
        assert_eq!(points(&body), [(day(2), 0), (day(1), want)], "{role}");
    }
}

#[tokio::test]
async fn node_count_is_cumulative_from_nodes_before_the_window() {
    let app = empty_app().await;
    insert_bare_node(&app, "old1", &ago(40, 0), None).await;
    insert_bare_node(&app, "old2", &ago(11, 0), None).await;
    insert_bare_node(&app, "first", &ago(10, 0), None).await;
    insert_bare_node(&app, "mid", &ago(5, 0), None).await;
    insert_bare_node(&app, "mid2", &ago(5, 0), None).await;
    insert_bare_node(&app, "last", &ago(1, 0), None).await;
    insert_bare_node(&app, "today", &ago(0, 0), None).await;
    let body = app.json("/api/v1/dashboard/node-count?days=10").await;
    let want: Vec<(String, i64)> = (1..=10)
        .rev()
        .map(|k| {
            let n = match k {
                10..=11 => 3,
                6..=9 => 3,
                2..=5 => 5,
                _ => 6,
            };
            (day(k), n)
        })
        .collect();
    assert_eq!(points(&body), want);
}

// ---------------------------------------------------------------- packet breakdown

#[tokio::test]
async fn packet_breakdown_keeps_top_six_then_other() {
    let app = empty_app().await;
    let mut n = 0;
    let mut add = async |event: Option<&str>, width: Option<i32>, count: usize, at: &str| {
        for _ in 0..count {
            n += 1;
            insert_packet(&app, &format!("p{n}"), event, width, at).await;
        }
    };
    let y = ago(1, 0);
    add(Some("a"), Some(2), 9, &y).await;
    add(Some("b"), Some(1), 5, &y).await;
    add(Some("c"), None, 5, &y).await;
    add(Some("d"), Some(4), 4, &y).await;
    add(None, Some(2), 3, &y).await;
    add(Some("e"), None, 1, &y).await;
    add(Some("f"), None, 1, &y).await;
    add(Some("g"), None, 1, &y).await;
    // Outside the default 7-day window: today, and 10 days ago.
    add(Some("a"), Some(3), 50, &ago(0, 0)).await;
    add(Some("z"), Some(3), 1, &ago(10, 0)).await;

    let body = app.json("/api/v1/dashboard/packet-breakdown").await;
    assert_eq!(keys(&body), ["days", "by_event_type", "by_path_width"]);
    assert_eq!(body["days"], 7);
    assert_eq!(keys(&body["by_event_type"][0]), ["label", "count"]);
    assert_eq!(
        buckets(&body["by_event_type"]),
        pairs(&[
            ("a", 9),
            ("b", 5),
            ("c", 5),
            ("d", 4),
            ("unknown", 3),
            ("e", 1),
            ("other", 2),
        ])
    );
    assert_eq!(
        buckets(&body["by_path_width"]),
        pairs(&[("1b", 5), ("2b", 12), ("3b", 0)])
    );

    let body = app.json("/api/v1/dashboard/packet-breakdown?days=10").await;
    assert_eq!(body["days"], 10);
    assert_eq!(
        buckets(&body["by_path_width"]),
        pairs(&[("1b", 5), ("2b", 12), ("3b", 1)])
    );
    assert_eq!(
        buckets(&body["by_event_type"]).last(),
        Some(&("other".to_string(), 3))
    );
}

#[tokio::test]
async fn packet_breakdown_without_packets_still_lists_path_widths() {
    let app = empty_app().await;
    for uri in [
        "/api/v1/dashboard/packet-breakdown",
        "/api/v1/dashboard/packet-breakdown?days=0",
    ] {
        let body = app.json(uri).await;
        assert_eq!(body["by_event_type"], serde_json::json!([]), "{uri}");
        assert_eq!(
            buckets(&body["by_path_width"]),
            pairs(&[("1b", 0), ("2b", 0), ("3b", 0)]),
            "{uri}"
        );
    }
    let body = app
        .json("/api/v1/dashboard/packet-breakdown?days=1000")
        .await;
    assert_eq!(body["days"], 90);
    assert_422(
        app.get("/api/v1/dashboard/packet-breakdown?days=seven")
            .await,
        "days",
    )
    .await;
}

#[tokio::test]
async fn packet_breakdown_of_the_fixture() {
    let app = fixture_app().await;
    // Fixture packets may fall outside the window as the fixture ages; widths never vary.
    let body = app.json("/api/v1/dashboard/packet-breakdown?days=90").await;
    let widths = buckets(&body["by_path_width"]);
    let labels: Vec<&str> = widths.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(labels, ["1b", "2b", "3b"]);
    assert_eq!(widths[0].1, 0);
    assert_eq!(widths[2].1, 0);
}

// ---------------------------------------------------------------- routes overview

#[tokio::test]
async fn routes_overview_of_the_fixture() {
    let app = fixture_app().await;
    let body = app.json("/api/v1/dashboard/routes-overview").await;
    assert_eq!(keys(&body), ["days", "by_state", "routes"]);
    assert_eq!(body["days"], 7);
    assert_eq!(buckets(&body["by_state"]), pairs(&[("healthy", 1)]));
    let routes = body["routes"].as_array().cloned().unwrap_or_default();
    assert_eq!(routes.len(), 1, "the operator route is not listed: {body}");
    let route = &routes[0];
    assert_eq!(
        keys(route),
        [
            "id",
            "from_label",
            "to_label",
            "visibility",
            "enabled",
            "state",
            "quality",
            "matched_count",
            "history",
        ]
    );
    assert_eq!(route["id"], "a96c766c-0af9-4d40-9b28-7dfb153e0449");
    assert_eq!(route["from_label"], "Alpha Site");
    assert_eq!(route["to_label"], "Bravo Site");
    assert_eq!(route["visibility"], "community");
    assert_eq!(route["enabled"], true);
    assert_eq!(route["state"], "healthy");
    assert_eq!(route["quality"], "clear");
    assert_eq!(route["matched_count"], 7);
    let history = route["history"].as_array().cloned().unwrap_or_default();
    assert_eq!(history.len(), 8);
    assert_eq!(
        keys(&history[0]),
        ["date", "quality", "state", "matched_count"]
    );
    let dates: Vec<&str> = history.iter().filter_map(|d| d["date"].as_str()).collect();
    let want: Vec<String> = (0..=7).rev().map(day).collect();
    assert_eq!(dates, want);
    // Today comes from route_results.
    assert_eq!(
        history[7],
        serde_json::json!({"date": day(0), "quality": "clear", "state": "healthy", "matched_count": 7})
    );
}

async fn insert_route(app: &TestApp, id: &str, from: &str, visibility: &str, enabled: bool) {
    let t = ago(20, 0);
    app.exec(&format!(
        "INSERT INTO routes (id, created_at, updated_at, from_label, to_label, visibility, match_width, window_hours, packet_count_threshold, enabled, reversible) \
         VALUES ('{id}', '{t}', '{t}', '{from}', 'To {from}', '{visibility}', 2, 24, 3, {e}, 1)",
        e = i32::from(enabled)
    ))
    .await;
}

async fn insert_result(app: &TestApp, route: &str, state: &str, quality: &str, matched: i32) {
    let t = ago(0, 0);
    app.exec(&format!(
        "INSERT INTO route_results (id, created_at, updated_at, route_id, state, quality, matched_count, threshold, effective_clear, evaluated_at) \
         VALUES ('rr-{route}', '{t}', '{t}', '{route}', '{state}', '{quality}', {matched}, 3, 6, '{t}')"
    ))
    .await;
}

async fn insert_history(
    app: &TestApp,
    route: &str,
    days_ago: i64,
    state: &str,
    quality: &str,
    matched: i32,
) {
    let t = ago(0, 0);
    app.exec(&format!(
        "INSERT INTO route_result_history (id, created_at, updated_at, route_id, date, quality, state, matched_count, evaluated_at) \
         VALUES ('h-{route}-{days_ago}', '{t}', '{t}', '{route}', '{d}', '{quality}', '{state}', {matched}, '{t}')",
        d = day(days_ago)
    ))
    .await;
}

/// Routes: Alpha (disabled, with result and history), Bravo (unhealthy, sparse history),
/// Charlie (never evaluated), Delta (operator-only), Echo (state `zeta`), Foxtrot (state
/// `beta`).
async fn routes_app(app: &TestApp) {
    insert_route(app, "r-alpha", "Alpha", "community", false).await;
    insert_result(app, "r-alpha", "healthy", "clear", 9).await;
    insert_history(app, "r-alpha", 1, "healthy", "clear", 9).await;
    insert_route(app, "r-bravo", "Bravo", "community", true).await;
    insert_result(app, "r-bravo", "unhealthy", "failing", 2).await;
    insert_history(app, "r-bravo", 1, "healthy", "clear", 5).await;
    insert_history(app, "r-bravo", 3, "unhealthy", "marginal", 1).await;
    insert_history(app, "r-bravo", 10, "healthy", "clear", 8).await;
    // A history row dated today is ignored: today comes from route_results.
    insert_history(app, "r-bravo", 0, "healthy", "clear", 99).await;
    insert_route(app, "r-charlie", "Charlie", "community", true).await;
    insert_route(app, "r-delta", "Delta", "operator", true).await;
    insert_result(app, "r-delta", "healthy", "clear", 1).await;
    insert_route(app, "r-echo", "Echo", "community", true).await;
    insert_result(app, "r-echo", "zeta", "odd", 4).await;
    insert_route(app, "r-foxtrot", "Foxtrot", "community", true).await;
    insert_result(app, "r-foxtrot", "beta", "odd", 4).await;
}

fn unevaluated(days_ago: i64) -> Value {
    serde_json::json!({"date": day(days_ago), "quality": "unknown", "state": "no_coverage", "matched_count": 0})
}

#[tokio::test]
async fn routes_overview_states_history_and_order() {
    let app = empty_app().await;
    routes_app(&app).await;
    let body = app.json("/api/v1/dashboard/routes-overview").await;
    assert_eq!(body["days"], 7);
    assert_eq!(
        buckets(&body["by_state"]),
        pairs(&[
            ("unhealthy", 1),
            ("no_coverage", 1),
            ("disabled", 1),
            ("beta", 1),
            ("zeta", 1),
        ])
    );
    let routes = body["routes"].as_array().cloned().unwrap_or_default();
    let labels: Vec<&str> = routes
        .iter()
        .filter_map(|r| r["from_label"].as_str())
        .collect();
    assert_eq!(labels, ["Alpha", "Bravo", "Charlie", "Echo", "Foxtrot"]);

    let alpha = &routes[0];
    assert_eq!(alpha["enabled"], false);
    assert_eq!(alpha["state"], "disabled");
    assert_eq!(alpha["quality"], "disabled");
    assert_eq!(alpha["matched_count"], Value::Null);
    let want: Vec<Value> = (0..=7).rev().map(unevaluated).collect();
    assert_eq!(alpha["history"], Value::Array(want));

    let bravo = &routes[1];
    assert_eq!(bravo["state"], "unhealthy");
    assert_eq!(bravo["quality"], "failing");
    assert_eq!(bravo["matched_count"], 2);
    let history = bravo["history"].as_array().cloned().unwrap_or_default();
    assert_eq!(history.len(), 8);
    for (i, entry) in history.iter().enumerate() {
        let days_ago = 7 - i as i64;
        let want = match days_ago {
            3 => {
                serde_json::json!({"date": day(3), "quality": "marginal", "state": "unhealthy", "matched_count": 1})
            }
            1 => {
                serde_json::json!({"date": day(1), "quality": "clear", "state": "healthy", "matched_count": 5})
            }
            0 => {
                serde_json::json!({"date": day(0), "quality": "failing", "state": "unhealthy", "matched_count": 2})
            }
            _ => unevaluated(days_ago),
        };
        assert_eq!(*entry, want, "day -{days_ago}");
    }

    let charlie = &routes[2];
    assert_eq!(charlie["state"], "no_coverage");
    assert_eq!(charlie["quality"], "no_coverage");
    assert_eq!(charlie["matched_count"], Value::Null);
    let want: Vec<Value> = (0..=7).rev().map(unevaluated).collect();
    assert_eq!(charlie["history"], Value::Array(want));

    // Not role-sensitive: an admin sees the same community routes.
    let admin = app
        .json_as("/api/v1/dashboard/routes-overview", "admin")
        .await;
    assert_eq!(admin, body);
}

#[tokio::test]
async fn routes_overview_days_window() {
    let app = empty_app().await;
    routes_app(&app).await;
    // Within the retention of the test app (7 days).
    let body = app.json("/api/v1/dashboard/routes-overview?days=3").await;
    assert_eq!(body["days"], 3);
    let bravo = &body["routes"][1]["history"];
    let dates: Vec<&str> = bravo
        .as_array()
        .map(|h| h.iter().filter_map(|d| d["date"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(dates, [day(3), day(2), day(1), day(0)]);
    assert_eq!(bravo[0]["quality"], "marginal");

    // Clamped to RAW_PACKET_RETENTION_DAYS (7 here), so day -10 never shows.
    let body = app.json("/api/v1/dashboard/routes-overview?days=30").await;
    assert_eq!(body["days"], 7);
    assert_eq!(
        body["routes"][1]["history"].as_array().map(Vec::len),
        Some(8)
    );

    for days in ["0", "-2"] {
        let body = app
            .json(&format!("/api/v1/dashboard/routes-overview?days={days}"))
            .await;
        assert_eq!(body["days"], 0);
        assert_eq!(
            body["routes"][1]["history"],
            serde_json::json!([{"date": day(0), "quality": "failing", "state": "unhealthy", "matched_count": 2}])
        );
    }
    assert_422(
        app.get("/api/v1/dashboard/routes-overview?days=x").await,
        "days",
    )
    .await;
}

#[tokio::test]
async fn routes_overview_is_clamped_to_90_and_to_retention() {
    for (retention, asked, want) in [(120, 200, 90), (3, 5, 3), (30, 12, 12), (0, 7, 0)] {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("hub.db");
        let state = hub_api::state::AppState {
            raw_packet_retention_days: retention,
            spam: Default::default(),
            ..default_state(open_sqlite(&path).await)
        };
        let app = app_from_state(state, dir, path);
        let resp = app
            .get(&format!("/api/v1/dashboard/routes-overview?days={asked}"))
            .await;
        resp.assert_status_is_ok();
        let body: Value = resp.json().await.value().deserialize();
        assert_eq!(body["days"], want, "retention {retention}, asked {asked}");
        assert_eq!(body["by_state"], serde_json::json!([]));
        assert_eq!(body["routes"], serde_json::json!([]));
    }
}

#[tokio::test]
async fn dashboard_paths_tolerate_a_trailing_slash() {
    let app = empty_app().await;
    let body = app.json("/api/v1/dashboard/activity/?days=2").await;
    assert_eq!(body["days"], 2);
}

#[tokio::test]
async fn openapi_lists_every_dashboard_operation() {
    let app = empty_app().await;
    let spec = app.json("/api/openapi.json").await;
    for path in [
        "stats",
        "recent-activity",
        "activity",
        "packet-activity",
        "message-activity",
        "node-count",
        "packet-breakdown",
        "routes-overview",
    ] {
        let op = &spec["paths"][format!("/api/v1/dashboard/{path}")]["get"];
        assert!(op.is_object(), "{path} missing");
        assert_eq!(op["tags"][0], "Dashboard", "{path}");
    }
    // Integer-keyed maps are objects of integers in the schema.
    let stats = &spec["components"]["schemas"]["DashboardStats"]["properties"];
    assert_eq!(stats["channel_message_counts"]["type"], "object", "{stats}");
}

/// What `serve` reads at startup (`read_past_days`) is what the default dashboard requests
/// keep: after it, rows of past days deleted behind the server's back (as retention would)
/// still count until they are read again, exactly as if those requests had run first.
#[tokio::test]
async fn the_startup_read_keeps_what_the_default_dashboard_requests_keep() {
    let mut state = None;
    let app = empty_app_with(|s| state = Some(s.clone())).await;
    let state = state.expect("state");
    insert_packet(&app, "p1", Some("advertisement"), Some(1), &ago(1, 0)).await;
    insert_advert(&app, Advert::new("a1", Some("flood"), ago(2, 0))).await;
    insert_messages(&app, "m", 2, "contact", None, &ago(3, 0)).await;

    hub_api::routes::dashboard::read_past_days(&state)
        .await
        .expect("read past days");
    app.exec("DELETE FROM raw_packets").await;
    app.exec("DELETE FROM advertisements").await;
    app.exec("DELETE FROM messages").await;

    let count_on = |body: &Value, date: String| {
        points(body)
            .into_iter()
            .find(|(d, _)| *d == date)
            .map(|(_, n)| n)
    };
    let body = app.json("/api/v1/dashboard/packet-activity").await;
    assert_eq!(count_on(&body, day(1)), Some(1), "{body}");
    let body = app.json("/api/v1/dashboard/activity").await;
    assert_eq!(count_on(&body, day(2)), Some(1), "{body}");
    let body = app.json("/api/v1/dashboard/message-activity").await;
    assert_eq!(count_on(&body, day(3)), Some(2), "{body}");
    let body = app.json("/api/v1/dashboard/packet-breakdown").await;
    assert_eq!(
        buckets(&body["by_event_type"]),
        [("advertisement".to_string(), 1)],
        "{body}"
    );
    let body = app.json("/api/v1/dashboard/stats").await;
    assert_eq!(body["messages_7d"], 2, "{body}");
    assert_eq!(body["advertisements_7d"], 1, "{body}");
}
