//! `/api/v1/messages`: visibility per role, spam, filters, sorts, pagination, item shape.
//!
//! Fixture messages (received 2026-11-26), identified by text:
//! M1 "Hello from the e2e mesh" channel 17 05:11 (observer aa01),
//! M2 "Channel check from the south" channel 17 05:01 (bb01),
//! M3 "Ops channel traffic" channel 71 = 0x47 "E2E General", community, 04:56 (aa02),
//! M4 "Direct hello over the mesh" contact from a1fa00000000 05:06 (bb02).

use crate::common;

use common::*;
use serde_json::Value;

const M1: &str = "Hello from the e2e mesh";
const M2: &str = "Channel check from the south";
const M3: &str = "Ops channel traffic";
const M4: &str = "Direct hello over the mesh";
const M4_ID: &str = "0ae10011-c5df-46ea-86df-6a1a22af2d23";
const LIST: &str = "/api/v1/messages";

fn texts(body: &Value) -> Vec<String> {
    body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["text"].as_str().expect("text").to_string())
        .collect()
}

fn keys(value: &Value) -> Vec<&str> {
    value
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect()
}

/// Inserts a message; `text` identifies it in [`texts`].
async fn insert_message(
    app: &TestApp,
    id: &str,
    message_type: &str,
    channel_idx: Option<i32>,
    pubkey_prefix: Option<&str>,
    spam_score: Option<f64>,
    received_at: &str,
) {
    let channel = channel_idx.map_or("NULL".to_string(), |c| c.to_string());
    let prefix = pubkey_prefix.map_or("NULL".to_string(), |p| format!("'{p}'"));
    let spam = spam_score.map_or("NULL".to_string(), |s| s.to_string());
    app.exec(&format!(
        "INSERT INTO messages (id, observer_node_id, message_type, pubkey_prefix, channel_idx, text, \
         received_at, created_at, updated_at, spam_score) VALUES ('{id}', NULL, '{message_type}', \
         {prefix}, {channel}, '{id}', '{received_at}', '{received_at}', '{received_at}', {spam})"
    ))
    .await;
}

async fn insert_channel(app: &TestApp, name: &str, hash: &str, visibility: &str) {
    app.exec(&format!(
        "INSERT INTO channels (id, name, key_hex, channel_hash, visibility, enabled, created_at, updated_at) \
         VALUES ('ch-{name}', '{name}', '{name:0>32}', '{hash}', '{visibility}', 0, '{t}', '{t}')",
        t = ago(1, 0)
    ))
    .await;
}

/// The sorted texts `roles` sees in the list, and the list's total.
async fn seen_by(app: &TestApp, roles: &str) -> (Vec<String>, u64) {
    let body = app.json_as(LIST, roles).await;
    let mut seen = texts(&body);
    seen.sort();
    (seen, body["total"].as_u64().unwrap())
}

#[tokio::test]
async fn lists_fixture_messages_newest_first() {
    let app = fixture_app().await;
    let body = app.json(LIST).await;
    assert_eq!(texts(&body), [M1, M4, M2, M3]);
    assert_eq!(body["total"], 4);
    assert_eq!(body["limit"], 50);
    assert_eq!(body["offset"], 0);
    assert_eq!(keys(&body), ["items", "total", "limit", "offset"]);
    assert_eq!(app.json(&format!("{LIST}/")).await, body);
}

#[tokio::test]
async fn items_have_the_contract_fields_in_order() {
    let app = fixture_app().await;
    let body = app.json(&format!("{LIST}?message_type=contact")).await;
    let item = &body["items"][0];
    assert_eq!(
        keys(item),
        [
            "observed_by",
            "observer_name",
            "observer_tag_name",
            "message_type",
            "pubkey_prefix",
            "sender_name",
            "sender_tag_name",
            "channel_idx",
            "text",
            "path_len",
            "txt_type",
            "signature",
            "snr",
            "sender_timestamp",
            "received_at",
            "created_at",
            "packet_hash",
            "spam_score",
            "observers",
        ]
    );
    assert_eq!(item["observed_by"], pk("bb02"));
    assert_eq!(item["observer_name"], "South Observer 2");
    assert_eq!(item["observer_tag_name"], "South Observer 2");
    assert_eq!(item["message_type"], "contact");
    assert_eq!(item["pubkey_prefix"], "a1fa00000000");
    assert_eq!(item["sender_name"], "Alpha Node");
    assert_eq!(item["sender_tag_name"], "Alpha Node");
    assert_eq!(item["channel_idx"], Value::Null);
    assert_eq!(item["text"], M4);
    assert_eq!(item["path_len"], 2);
    assert_eq!(item["txt_type"], Value::Null);
    assert_eq!(item["signature"], Value::Null);
    assert_eq!(item["snr"], 6.5);
    assert_eq!(item["sender_timestamp"], Value::Null);
    assert_eq!(item["received_at"], "2026-11-26T05:06:39.884966Z");
    assert_eq!(item["created_at"], "2026-11-26T05:21:40.029985Z");
    assert_eq!(item["packet_hash"], "ce040000000000000000000000000000");
    assert_eq!(item["spam_score"], Value::Null);
    let observers = item["observers"].as_array().unwrap();
    assert_eq!(observers.len(), 1);
    assert_eq!(
        keys(&observers[0]),
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
    assert_eq!(observers[0]["public_key"], pk("bb02"));
    assert_eq!(observers[0]["observed_at"], "2026-11-26T05:06:39.884966Z");
    // Channel messages have no sender.
    let channel = &app.json(&format!("{LIST}?channel_idx=71")).await["items"][0];
    assert_eq!(channel["sender_name"], Value::Null);
    assert_eq!(channel["channel_idx"], 71);
}

#[tokio::test]
async fn visibility_per_role_applies_to_items_and_total() {
    let app = empty_app().await;
    insert_channel(&app, "community", "10", "community").await;
    insert_channel(&app, "member", "20", "member").await;
    insert_channel(&app, "operator", "30", "operator").await;
    insert_channel(&app, "admin", "40", "admin").await;
    insert_channel(&app, "bogus", "60", "secret").await; // unknown visibility = community
    let t = "2026-01-01 00:00:00";
    insert_message(&app, "public", "channel", Some(17), None, None, t).await;
    insert_message(&app, "ch-community", "channel", Some(0x10), None, None, t).await;
    insert_message(&app, "ch-member", "channel", Some(0x20), None, None, t).await;
    insert_message(&app, "ch-operator", "channel", Some(0x30), None, None, t).await;
    insert_message(&app, "ch-admin", "channel", Some(0x40), None, None, t).await;
    insert_message(&app, "ch-bogus", "channel", Some(0x60), None, None, t).await;
    insert_message(&app, "ch-orphan", "channel", Some(0x50), None, None, t).await;
    insert_message(&app, "ch-null", "channel", None, None, None, t).await;
    insert_message(&app, "contact", "contact", None, Some("ab"), None, t).await;
    // A non-channel message is never hidden, whatever its index.
    insert_message(&app, "contact-orphan", "contact", Some(0x50), None, None, t).await;

    let everyone = [
        "ch-bogus",
        "ch-community",
        "ch-null",
        "contact",
        "contact-orphan",
        "public",
    ];
    let with = |extra: &[&str]| {
        let mut all: Vec<String> = everyone
            .iter()
            .chain(extra)
            .map(|s| s.to_string())
            .collect();
        all.sort();
        let n = all.len() as u64;
        (all, n)
    };
    assert_eq!(seen_by(&app, "").await, with(&[]));
    assert_eq!(seen_by(&app, "guest, Admin").await, with(&[]));
    assert_eq!(seen_by(&app, "member").await, with(&["ch-member"]));
    assert_eq!(
        seen_by(&app, "member,operator").await,
        with(&["ch-member", "ch-operator"])
    );
    assert_eq!(
        seen_by(&app, "admin").await,
        with(&["ch-admin", "ch-member", "ch-operator"])
    );
    // Without the header at all: anonymous.
    let anon = app.json(LIST).await;
    assert_eq!(anon["total"], 6);

    // Totals stay role-sensitive under filters and paging.
    let admin_page = app
        .json_as(&format!("{LIST}?message_type=channel&limit=1"), "admin")
        .await;
    assert_eq!(admin_page["total"], 7);
    assert_eq!(admin_page["items"].as_array().unwrap().len(), 1);
    let anon_page = app
        .json(&format!("{LIST}?message_type=channel&limit=1"))
        .await;
    assert_eq!(anon_page["total"], 4);
    // Asking for a hidden channel gives nothing rather than an error.
    assert_eq!(
        app.json(&format!("{LIST}?channel_idx=64")).await["total"],
        0
    );
    assert_eq!(
        app.json_as(&format!("{LIST}?channel_idx=64"), "admin")
            .await["total"],
        1
    );
    assert_eq!(
        app.json_as(&format!("{LIST}?channel_idx=80"), "admin")
            .await["total"],
        1,
        "only the contact message with that index"
    );

    // Single messages: hidden ones are 404 for the roles that may not see them.
    for (id, visible_to) in [
        ("public", "anonymous"),
        ("contact-orphan", "anonymous"),
        ("ch-null", "anonymous"),
        ("ch-member", "member"),
        ("ch-operator", "operator"),
        ("ch-admin", "admin"),
        ("ch-orphan", "nobody"),
    ] {
        let rank = |r: &str| match r {
            "anonymous" => 0,
            "member" => 1,
            "operator" => 2,
            "admin" => 3,
            _ => 4,
        };
        for role in ["anonymous", "member", "operator", "admin"] {
            let resp = app.get_as(&format!("{LIST}/{id}"), role).await;
            if rank(role) >= rank(visible_to) {
                resp.assert_status_is_ok();
                let body: Value = resp.json().await.value().deserialize();
                assert_eq!(body["text"], id);
            } else {
                resp.assert_status(poem::http::StatusCode::NOT_FOUND);
                resp.assert_json(serde_json::json!({"detail": "Message not found"}))
                    .await;
            }
        }
    }
}

#[tokio::test]
async fn fixture_channel_71_is_a_community_channel() {
    let app = fixture_app().await;
    assert_eq!(
        texts(&app.json(&format!("{LIST}?channel_idx=71")).await),
        [M3]
    );
    // Once its channel row is gone, index 71 is an orphan: hidden from everyone.
    app.exec("DELETE FROM channels WHERE channel_hash = '47'")
        .await;
    assert_eq!(app.json(LIST).await["total"], 3);
    assert_eq!(app.json_as(LIST, "admin").await["total"], 3);
    // Raised to admin visibility, only admins see it.
    app.exec(&format!(
        "INSERT INTO channels (id, name, key_hex, channel_hash, visibility, enabled, created_at, updated_at) \
         VALUES ('c71', 'Secret', 'ab', '47', 'admin', 1, '{t}', '{t}')",
        t = ago(0, 1)
    ))
    .await;
    assert_eq!(app.json_as(LIST, "operator").await["total"], 3);
    assert_eq!(app.json_as(LIST, "admin").await["total"], 4);
}

#[tokio::test]
async fn spam_is_hidden_unless_asked_for() {
    let app = empty_app_with(|state| state.spam.spam_detection_enabled = true).await;
    insert_spam_samples(&app).await;
    let sorted = |body: Value| {
        let mut t = texts(&body);
        t.sort();
        (t, body["total"].as_u64().unwrap())
    };
    let hidden = (vec!["low".to_string(), "unscored".to_string()], 2);
    assert_eq!(sorted(app.json(LIST).await), hidden);
    assert_eq!(
        sorted(app.json(&format!("{LIST}?include_spam=false")).await),
        hidden
    );
    assert_eq!(
        sorted(app.json(&format!("{LIST}?include_spam=0")).await),
        hidden
    );
    for yes in ["true", "1", "yes", "ON"] {
        let all = app.json(&format!("{LIST}?include_spam={yes}")).await;
        assert_eq!(all["total"], 4, "include_spam={yes}");
    }
    let item = &app
        .json(&format!("{LIST}?include_spam=true&sort=message&order=asc"))
        .await["items"][0];
    assert_eq!(item["text"], "high");
    assert_eq!(item["spam_score"], 0.99);
    assert_422(
        app.get(&format!("{LIST}?include_spam=maybe")).await,
        "include_spam",
    )
    .await;
}

/// Four contact messages: unscored, 0.64, 0.65 (the default threshold) and 0.99.
async fn insert_spam_samples(app: &TestApp) {
    let t = "2026-01-01 00:00:00";
    insert_message(app, "unscored", "contact", None, None, None, t).await;
    insert_message(app, "low", "contact", None, None, Some(0.64), t).await;
    insert_message(app, "threshold", "contact", None, None, Some(0.65), t).await;
    insert_message(app, "high", "contact", None, None, Some(0.99), t).await;
}

#[tokio::test]
async fn spam_detection_off_lists_everything() {
    // MeshCore Hub's default: SPAM_DETECTION_ENABLED=false, include_spam changes nothing.
    let app = empty_app().await;
    insert_spam_samples(&app).await;
    for query in ["", "?include_spam=false", "?include_spam=true"] {
        let body = app.json(&format!("{LIST}{query}")).await;
        assert_eq!(body["total"], 4, "{query}");
    }
}

#[tokio::test]
async fn spam_threshold_is_configurable() {
    let app = empty_app_with(|state| {
        state.spam.spam_detection_enabled = true;
        state.spam.spam_score_threshold = 0.9;
    })
    .await;
    insert_spam_samples(&app).await;
    let mut shown = texts(&app.json(LIST).await);
    shown.sort();
    assert_eq!(shown, ["low", "threshold", "unscored"]);
}

#[tokio::test]
async fn filters_by_type_prefix_channel_and_text() {
    let app = fixture_app().await;
    let get = |q: &str| {
        let uri = format!("{LIST}?{q}");
        let app = &app;
        async move { app.json(&uri).await }
    };
    assert_eq!(texts(&get("message_type=contact").await), [M4]);
    assert_eq!(texts(&get("message_type=channel").await), [M1, M2, M3]);
    assert_eq!(texts(&get("message_type=").await).len(), 4);
    // A free string matched exactly, as MeshCore Hub stores and filters it: another type
    // finds its rows, a different case or an unknown type finds none (no 422).
    assert_eq!(get("message_type=CHANNEL").await["total"], 0);
    assert_eq!(get("message_type=dm").await["total"], 0);
    insert_message(&app, "direct-1", "direct", None, None, None, &ago(0, 1)).await;
    assert_eq!(texts(&get("message_type=direct").await), ["direct-1"]);
    assert_eq!(texts(&get("pubkey_prefix=A1FA00000000").await), [M4]);
    assert_eq!(
        get("pubkey_prefix=a1fa").await["total"],
        0,
        "exact, not a prefix search"
    );
    assert_eq!(texts(&get("channel_idx=17").await), [M1, M2]);
    for bad in ["abc", "1.5", "", "99999999999"] {
        assert_422(
            app.get(&format!("{LIST}?channel_idx={bad}")).await,
            "channel_idx",
        )
        .await;
    }
    assert_eq!(texts(&get("search=MESH").await), [M1, M4]);
    assert_eq!(texts(&get("search=hello").await), [M1, M4]);
    assert_eq!(
        texts(&get("search=%25").await).len(),
        0,
        "wildcards are literal"
    );
    assert_eq!(
        texts(&get("message_type=channel&search=channel").await),
        [M2, M3]
    );
}

/// The collector's two types over several past days and today, as the collector stores
/// them (12-character UPPERCASE sender prefixes): each page, newest first and oldest first,
/// and each total (counted, then from the kept past days) are exactly the rows of that type
/// the caller may read. On SQLite these queries walk `received_at` (`message_type_condition`).
#[tokio::test]
async fn collector_types_page_and_count_across_past_days_and_today() {
    let app = empty_app().await;
    let mut expected: std::collections::BTreeMap<&str, Vec<(String, String)>> = Default::default();
    for day in 0..4 {
        for hour in 0..3 {
            let at = ago(day, hour * 5);
            let channel = format!("ch-{day}-{hour}");
            insert_message(&app, &channel, "channel", Some(17), None, None, &at).await;
            // Channel 5 has no configured channel: hidden from every role.
            let hidden = format!("hidden-{day}-{hour}");
            insert_message(&app, &hidden, "channel", Some(5), None, None, &at).await;
            let contact = format!("dm-{day}-{hour}");
            let prefix = Some("A1B2C3D4E5F6");
            insert_message(&app, &contact, "contact", None, prefix, None, &at).await;
            expected
                .entry("channel")
                .or_default()
                .push((at.clone(), channel));
            expected.entry("contact").or_default().push((at, contact));
        }
    }
    for (kind, mut rows) in expected {
        rows.sort();
        let oldest_first: Vec<String> = rows.into_iter().map(|(_, text)| text).collect();
        let mut newest_first = oldest_first.clone();
        newest_first.reverse();
        // The second round counts the past days from what the first kept.
        for round in 0..2 {
            let mut listed = Vec::new();
            for offset in (0..newest_first.len()).step_by(5) {
                let page = app
                    .json(&format!(
                        "{LIST}?message_type={kind}&limit=5&offset={offset}"
                    ))
                    .await;
                assert_eq!(page["total"], 12, "{kind}, round {round}");
                listed.extend(texts(&page));
            }
            assert_eq!(listed, newest_first, "{kind}, round {round}");
            let ascending = app
                .json(&format!("{LIST}?message_type={kind}&order=asc&limit=100"))
                .await;
            assert_eq!(texts(&ascending), oldest_first, "{kind}, round {round}");
        }
    }
    let admin = app
        .json_as(&format!("{LIST}?message_type=channel&limit=1"), "admin")
        .await;
    assert_eq!(admin["total"], 12, "channel 5 stays hidden");
    assert_eq!(
        app.json(&format!("{LIST}?message_type=direct")).await["total"],
        0
    );
}

#[tokio::test]
async fn observed_by_is_repeatable_and_counts_only_message_observations() {
    let app = fixture_app().await;
    // An *advert* observation by North Observer 2 sharing M2's hash must not count.
    app.exec(&format!(
        "INSERT INTO event_observers (id, event_type, event_hash, observer_node_id, snr, path_len, observed_at, created_at, updated_at) \
         SELECT 'eo-x', 'advertisement', '00000000000000000000000000000065', id, 1, 1, '{t}', '{t}', '{t}' FROM nodes WHERE public_key = '{k}'",
        t = ago(0, 1),
        k = pk("aa02")
    ))
    .await;
    let one = app
        .json(&format!("{LIST}?observed_by={}", pk("aa01")))
        .await;
    assert_eq!(texts(&one), [M1]);
    assert_eq!(one["total"], 1);
    let two = app
        .json(&format!(
            "{LIST}?observed_by={}&observed_by={}",
            pk("AA01"),
            pk("bb02")
        ))
        .await;
    assert_eq!(texts(&two), [M1, M4]);
    assert_eq!(two["total"], 2);
    assert_eq!(
        texts(
            &app.json(&format!("{LIST}?observed_by={}", pk("aa02")))
                .await
        ),
        [M3]
    );
}

#[tokio::test]
async fn since_and_until_are_inclusive() {
    let app = fixture_app().await;
    let at = "2026-11-26T05:06:39.884966Z"; // M4
    assert_eq!(
        texts(&app.json(&format!("{LIST}?since={at}")).await),
        [M1, M4]
    );
    assert_eq!(
        texts(&app.json(&format!("{LIST}?until={at}")).await),
        [M4, M2, M3]
    );
    let both = app.json(&format!("{LIST}?since={at}&until={at}")).await;
    assert_eq!(texts(&both), [M4]);
    assert_eq!(both["total"], 1);
    assert_422(app.get(&format!("{LIST}?since=not-a-date")).await, "since").await;
    assert_422(
        app.get(&format!("{LIST}?until=2026-11-26T25:00:00")).await,
        "until",
    )
    .await;
}

#[tokio::test]
async fn sorts_by_time_type_from_and_message() {
    let app = fixture_app().await;
    let sorted = |q: &str| {
        let uri = format!("{LIST}?{q}");
        let app = &app;
        async move { texts(&app.json(&uri).await) }
    };
    assert_eq!(sorted("order=asc").await, [M3, M2, M4, M1]);
    assert_eq!(sorted("sort=type&order=asc").await, [M3, M2, M1, M4]);
    assert_eq!(sorted("sort=type").await, [M4, M1, M2, M3]);
    // Messages without a sender prefix come last in both directions.
    assert_eq!(sorted("sort=from&order=asc").await, [M4, M3, M2, M1]);
    assert_eq!(sorted("sort=from&order=desc").await, [M4, M1, M2, M3]);
    assert_eq!(sorted("sort=message&order=asc").await, [M2, M4, M1, M3]);
    assert_eq!(sorted("sort=message").await, [M3, M1, M4, M2]);
    assert_eq!(sorted("sort=whatever&order=up").await, [M1, M4, M2, M3]);
}

#[tokio::test]
async fn pagination_keeps_the_total_and_validates_bounds() {
    let app = fixture_app().await;
    let page = app.json(&format!("{LIST}?limit=2&offset=1")).await;
    assert_eq!(texts(&page), [M4, M2]);
    assert_eq!(page["total"], 4);
    assert_eq!(page["limit"], 2);
    assert_eq!(page["offset"], 1);
    for bad in ["limit=0", "limit=101", "limit=x"] {
        assert_422(app.get(&format!("{LIST}?{bad}")).await, "limit").await;
    }
    assert_422(app.get(&format!("{LIST}?offset=-5")).await, "offset").await;
}

#[tokio::test]
async fn equal_times_page_stably_by_id() {
    let app = empty_app().await;
    for i in 0..5 {
        insert_message(
            &app,
            &format!("m{i}"),
            "contact",
            None,
            Some("ab"),
            None,
            "2026-01-01 00:00:00",
        )
        .await;
    }
    for (order, want) in [
        ("desc", ["m4", "m3", "m2", "m1", "m0"]),
        ("asc", ["m0", "m1", "m2", "m3", "m4"]),
    ] {
        for sort in ["time", "type", "from"] {
            let mut seen = Vec::new();
            for offset in [0, 2, 4] {
                let page = app
                    .json(&format!(
                        "{LIST}?sort={sort}&order={order}&limit=2&offset={offset}"
                    ))
                    .await;
                assert_eq!(page["total"], 5);
                seen.extend(texts(&page));
            }
            assert_eq!(seen, want, "sort={sort} order={order}");
        }
    }
}

#[tokio::test]
async fn sender_is_the_first_node_by_public_key_with_the_prefix() {
    let app = empty_app().await;
    // Inserted in reverse key order, so insertion order cannot pass for key order.
    insert_node(
        &app,
        "zed",
        &format!("abcdef{}9", "0".repeat(57)),
        Some("Zed"),
        None,
    )
    .await;
    insert_node(
        &app,
        "amy",
        &format!("abcdef{}1", "0".repeat(57)),
        Some("Amy"),
        Some("Amelia"),
    )
    .await;
    insert_node(&app, "other", &pk("abcdee"), Some("Other"), None).await;
    let t = "2026-01-01 00:00:00";
    insert_message(
        &app,
        "from-amy",
        "contact",
        None,
        Some("abcdef000000"),
        None,
        t,
    )
    .await;
    insert_message(
        &app,
        "from-nobody",
        "contact",
        None,
        Some("ffffff000000"),
        None,
        t,
    )
    .await;
    let body = app.json(&format!("{LIST}?sort=message&order=asc")).await;
    let items = body["items"].as_array().unwrap();
    assert_eq!(items[0]["text"], "from-amy");
    assert_eq!(items[0]["sender_name"], "Amy");
    assert_eq!(items[0]["sender_tag_name"], "Amelia");
    assert_eq!(items[1]["text"], "from-nobody");
    assert_eq!(items[1]["sender_name"], Value::Null);
    assert_eq!(items[1]["sender_tag_name"], Value::Null);
    assert_eq!(items[1]["observed_by"], Value::Null);
    assert_eq!(items[1]["observers"], serde_json::json!([]));
}

#[tokio::test]
async fn single_message_by_id_or_404() {
    let app = fixture_app().await;
    let item = app.json(&format!("{LIST}/{M4_ID}")).await;
    let listed = &app.json(&format!("{LIST}?message_type=contact")).await["items"][0];
    assert_eq!(&item, listed, "same shape and content as the list item");
    assert_eq!(item["sender_name"], "Alpha Node");
    let resp = app.get(&format!("{LIST}/nope")).await;
    resp.assert_status(poem::http::StatusCode::NOT_FOUND);
    resp.assert_json(serde_json::json!({"detail": "Message not found"}))
        .await;
}
