//! `/api/v1/advertisements`: filters, sorts, pagination, item shape, single adverts.
//!
//! Fixture adverts (received 2026-11-26), identified by their unique packet hash:
//! ad01 Alpha flood 04:51 (observer aa01), ad02 Bravo flood 04:36 (bb01), ad03 Charlie direct
//! 04:21 (aa02), ad04 Delta transport_flood 03:51 (bb02), ad05 Alpha flood 03:21 (bb01),
//! ad06 Bravo flood 02:51 (aa01). Each has one event_observers row: its primary observer.

use crate::common;

use common::*;
use serde_json::Value;

const A1: &str = "18043125-079e-4071-88c4-f3188d500975";
const A2: &str = "4caed331-f6e7-4979-a7b6-988587b4bdb5";
const A3: &str = "50e28af4-5855-4d12-9dea-3f528abc235a";
const A4: &str = "14075f17-d8dd-4230-9148-e243ed94624e";
const A5: &str = "cc7e5d55-6796-4e4c-8627-6a99c9b5dade";
const NORTH1: &str = "2efec766-82ed-43b7-946d-56d004101145";
const SOUTH1: &str = "b82f6538-b4ed-4230-bfe8-067b7a59849b";
const BRAVO: &str = "73969d02-aa6c-4e33-a86e-32eefbd23857";
const DELTA: &str = "f88ea79a-25c7-485b-a052-4417ab206be8";

/// The packet hashes of a list response, as short names: `ad01000...` -> `ad01`.
fn hashes(body: &Value) -> Vec<String> {
    body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| {
            i["packet_hash"]
                .as_str()
                .map_or("null".to_string(), |h| h[..4].to_string())
        })
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

/// Inserts an advert; `packet` is a short hash stem identifying it in [`hashes`].
#[allow(clippy::too_many_arguments)]
async fn insert_advert(
    app: &TestApp,
    id: &str,
    public_key: &str,
    name: Option<&str>,
    node_id: Option<&str>,
    route_type: Option<&str>,
    received_at: &str,
    packet: &str,
) {
    let opt = |v: Option<&str>| v.map_or("NULL".to_string(), |v| format!("'{v}'"));
    app.exec(&format!(
        "INSERT INTO advertisements (id, observer_node_id, node_id, public_key, name, adv_type, \
         received_at, created_at, updated_at, event_hash, route_type, packet_hash) VALUES \
         ('{id}', NULL, {node_id}, '{public_key}', {name}, NULL, '{received_at}', '{received_at}', \
         '{received_at}', NULL, {route_type}, '{packet:0<32}')",
        node_id = opt(node_id),
        name = opt(name),
        route_type = opt(route_type),
    ))
    .await;
}

async fn insert_observation(app: &TestApp, id: &str, event_type: &str, hash: &str, node: &str) {
    app.exec(&format!(
        "INSERT INTO event_observers (id, event_type, event_hash, observer_node_id, snr, path_len, \
         observed_at, created_at, updated_at) VALUES ('{id}', '{event_type}', '{hash}', '{node}', \
         -3.25, 4, '2026-11-26 05:00:00', '2026-11-26 05:00:00', '2026-11-26 05:00:00')"
    ))
    .await;
}

const LIST: &str = "/api/v1/advertisements";

#[tokio::test]
async fn default_lists_flooded_adverts_newest_first() {
    let app = fixture_app().await;
    let body = app.json(LIST).await;
    assert_eq!(hashes(&body), ["ad01", "ad02", "ad04", "ad05", "ad06"]);
    assert_eq!(body["total"], 5);
    assert_eq!(body["limit"], 50);
    assert_eq!(body["offset"], 0);
    assert_eq!(keys(&body), ["items", "total", "limit", "offset"]);
    // A trailing slash is the same endpoint.
    assert_eq!(app.json(&format!("{LIST}/")).await, body);
}

#[tokio::test]
async fn items_have_the_contract_fields_in_order() {
    let app = fixture_app().await;
    let body = app.json(LIST).await;
    let item = &body["items"][0];
    assert_eq!(
        keys(item),
        [
            "observed_by",
            "observer_name",
            "observer_tag_name",
            "public_key",
            "name",
            "node_name",
            "node_tag_name",
            "node_tag_description",
            "adv_type",
            "flags",
            "route_type",
            "advert_timestamp",
            "received_at",
            "created_at",
            "packet_hash",
            "observers",
        ]
    );
    assert_eq!(item["observed_by"], pk("aa01"));
    assert_eq!(item["observer_name"], "North Observer 1");
    assert_eq!(item["observer_tag_name"], "North Observer 1");
    assert_eq!(item["public_key"], pk("a1fa"));
    assert_eq!(item["name"], "Alpha Node");
    assert_eq!(item["node_name"], "Alpha Node");
    assert_eq!(item["node_tag_name"], "Alpha Node");
    assert_eq!(item["node_tag_description"], Value::Null);
    assert_eq!(item["adv_type"], "chat");
    assert_eq!(item["flags"], Value::Null);
    assert_eq!(item["route_type"], "flood");
    assert_eq!(item["advert_timestamp"], "2026-11-26T04:51:39.884966Z");
    assert_eq!(item["received_at"], "2026-11-26T04:51:39.884966Z");
    assert_eq!(item["created_at"], "2026-11-26T05:21:40.021963Z");
    assert_eq!(item["packet_hash"], "ad010000000000000000000000000000");
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
    assert_eq!(observers[0]["node_id"], NORTH1);
    assert_eq!(observers[0]["public_key"], pk("aa01"));
    assert_eq!(observers[0]["tag_name"], "North Observer 1");
    assert_eq!(observers[0]["snr"], 7.5);
    assert_eq!(observers[0]["path_len"], 2);
    assert_eq!(observers[0]["observed_at"], "2026-11-26T04:51:39.884966Z");
}

#[tokio::test]
async fn description_tag_and_observers_oldest_first() {
    let app = fixture_app().await;
    app.exec(&format!(
        "INSERT INTO node_tags (id, node_id, key, value, value_type, created_at, updated_at) \
         VALUES ('d1', '{BRAVO}', 'description', 'On the hill', 'string', '{t}', '{t}')",
        t = ago(0, 1)
    ))
    .await;
    // A later second observer of ad02 (the fixture row was observed at 04:36).
    insert_observation(
        &app,
        "eo-x",
        "advertisement",
        "00000000000000000000000000000002",
        NORTH1,
    )
    .await;
    app.exec("UPDATE event_observers SET observed_at = '2026-11-26 04:40:00' WHERE id = 'eo-x'")
        .await;
    let item = app.json(&format!("{LIST}/{A2}")).await;
    assert_eq!(item["node_tag_description"], "On the hill");
    let observers: Vec<&Value> = item["observers"].as_array().unwrap().iter().collect();
    assert_eq!(observers.len(), 2);
    assert_eq!(observers[0]["public_key"], pk("bb01"));
    assert_eq!(observers[1]["public_key"], pk("aa01"));
    assert_eq!(observers[1]["observed_at"], "2026-11-26T04:40:00Z");
    assert_eq!(observers[1]["snr"], -3.25);
}

#[tokio::test]
async fn route_type_default_all_none_and_lists() {
    let app = fixture_app().await;
    // An advert of unknown route type is kept by every route type filter.
    insert_advert(
        &app,
        "null-route",
        &pk("e5"),
        Some("Echo"),
        None,
        None,
        "2026-11-26 01:00:00",
        "ee01",
    )
    .await;
    let total = |body: Value| body["total"].as_u64().unwrap();
    assert_eq!(
        hashes(&app.json(LIST).await),
        ["ad01", "ad02", "ad04", "ad05", "ad06", "ee01"]
    );
    for disabled in ["all", "none", "", "ALL", " , "] {
        let body = app
            .json(&format!(
                "{LIST}?route_type={}",
                disabled.replace(' ', "%20")
            ))
            .await;
        assert_eq!(total(body), 7, "route_type={disabled:?}");
    }
    assert_eq!(
        hashes(&app.json(&format!("{LIST}?route_type=direct")).await),
        ["ad03", "ee01"]
    );
    assert_eq!(
        hashes(
            &app.json(&format!("{LIST}?route_type=Direct,%20transport_flood"))
                .await
        ),
        ["ad03", "ad04", "ee01"]
    );
    assert_eq!(
        hashes(&app.json(&format!("{LIST}?route_type=flood")).await),
        ["ad01", "ad02", "ad05", "ad06", "ee01"]
    );
    assert_eq!(
        hashes(&app.json(&format!("{LIST}?route_type=nonexistent")).await),
        ["ee01"]
    );
    // Too many values is a client error, not a database error.
    let many: Vec<String> = (0..101).map(|i| format!("t{i}")).collect();
    assert_422(
        app.get(&format!("{LIST}?route_type={}", many.join(",")))
            .await,
        "route_type",
    )
    .await;
}

#[tokio::test]
async fn observed_by_is_repeatable_and_counts_only_advert_observations() {
    let app = fixture_app().await;
    // ad01 was also heard by South Observer 1.
    insert_observation(
        &app,
        "eo-1",
        "advertisement",
        "00000000000000000000000000000001",
        SOUTH1,
    )
    .await;
    // A *message* observation by North Observer 2 sharing ad04's hash must not count.
    app.exec(&format!(
        "INSERT INTO event_observers (id, event_type, event_hash, observer_node_id, snr, path_len, observed_at, created_at, updated_at) \
         SELECT 'eo-2', 'message', '00000000000000000000000000000004', id, 1, 1, '{t}', '{t}', '{t}' FROM nodes WHERE public_key = '{k}'",
        t = ago(0, 1),
        k = pk("aa02")
    ))
    .await;
    let one = app
        .json(&format!("{LIST}?route_type=all&observed_by={}", pk("aa01")))
        .await;
    assert_eq!(hashes(&one), ["ad01", "ad06"]);
    assert_eq!(one["total"], 2);
    // Uppercase input is lowercased.
    let south = app
        .json(&format!(
            "{LIST}?route_type=all&observed_by={}",
            pk("bb01").to_uppercase()
        ))
        .await;
    assert_eq!(hashes(&south), ["ad01", "ad02", "ad05"]);
    let two = app
        .json(&format!(
            "{LIST}?route_type=all&observed_by={}&observed_by={}",
            pk("aa01"),
            pk("bb02")
        ))
        .await;
    assert_eq!(hashes(&two), ["ad01", "ad04", "ad06"]);
    assert_eq!(two["total"], 3);
    let north2 = app
        .json(&format!("{LIST}?route_type=all&observed_by={}", pk("aa02")))
        .await;
    assert_eq!(hashes(&north2), ["ad03"]);
    let nobody = app.json(&format!("{LIST}?observed_by={}", pk("ff"))).await;
    assert_eq!(nobody["total"], 0);
    // A blank value is no filter.
    assert_eq!(app.json(&format!("{LIST}?observed_by=")).await["total"], 5);
}

#[tokio::test]
async fn public_key_is_exact_and_case_insensitive() {
    let app = fixture_app().await;
    let body = app
        .json(&format!("{LIST}?public_key={}", pk("a1fa").to_uppercase()))
        .await;
    assert_eq!(hashes(&body), ["ad01", "ad05"]);
    assert_eq!(
        app.json(&format!("{LIST}?public_key=a1fa")).await["total"],
        0
    );
}

#[tokio::test]
async fn search_covers_advert_key_and_name_and_source_node_names() {
    let app = fixture_app().await;
    let search = |q: &str| format!("{LIST}?route_type=all&search={q}");
    // Advert name, case-insensitive.
    assert_eq!(hashes(&app.json(&search("aLPHA")).await), ["ad01", "ad05"]);
    // Advert public key.
    assert_eq!(hashes(&app.json(&search("D4D0")).await), ["ad04"]);
    // Source node name when the advert has none.
    app.exec(&format!(
        "UPDATE advertisements SET name = NULL WHERE id = '{A2}'"
    ))
    .await;
    assert_eq!(hashes(&app.json(&search("bravo")).await), ["ad02", "ad06"]);
    // Source node's name tag.
    app.exec(&format!(
        "UPDATE node_tags SET value = 'Hilltop' WHERE node_id = '{BRAVO}' AND key = 'name'"
    ))
    .await;
    assert_eq!(
        hashes(&app.json(&search("HILLTOP")).await),
        ["ad02", "ad06"]
    );
    // Unlinked advert: the source is the node with the advert's public key.
    app.exec(&format!(
        "UPDATE advertisements SET node_id = NULL, name = NULL, adv_type = NULL WHERE id = '{A4}'"
    ))
    .await;
    app.exec(&format!(
        "UPDATE node_tags SET value = 'Dockside' WHERE node_id = '{DELTA}' AND key = 'name'"
    ))
    .await;
    let dock = app.json(&search("dockside")).await;
    assert_eq!(hashes(&dock), ["ad04"]);
    let item = &dock["items"][0];
    assert_eq!(item["name"], Value::Null);
    assert_eq!(item["node_name"], "Delta Node");
    assert_eq!(item["node_tag_name"], "Dockside");
    assert_eq!(
        item["adv_type"], "chat",
        "falls back to the source node's type"
    );
    // Wildcards are literal.
    assert_eq!(app.json(&search("%25")).await["total"], 0);
    assert_eq!(app.json(&search("_")).await["total"], 0);
    // Observer names are not searched.
    assert_eq!(app.json(&search("observer")).await["total"], 0);
}

#[tokio::test]
async fn adopted_by_filters_on_the_source_node() {
    let app = fixture_app().await;
    let by = |id: &str| format!("{LIST}?route_type=all&adopted_by={id}");
    assert_eq!(
        hashes(&app.json(&by("cb133b58-5708-4ae7-88a2-565cca9b233f")).await),
        ["ad01", "ad05"]
    );
    assert_eq!(
        hashes(&app.json(&by("01305bb4-976a-427b-8c30-4ab1f8bf6ef2")).await),
        ["ad02", "ad06"]
    );
    assert_eq!(app.json(&by("no-such-profile")).await["total"], 0);
    // An unlinked advert of an adopted node still counts (source by public key).
    app.exec(&format!(
        "UPDATE advertisements SET node_id = NULL WHERE id = '{A5}'"
    ))
    .await;
    assert_eq!(
        hashes(&app.json(&by("cb133b58-5708-4ae7-88a2-565cca9b233f")).await),
        ["ad01", "ad05"]
    );
}

#[tokio::test]
async fn since_and_until_are_inclusive() {
    let app = fixture_app().await;
    let at = "2026-11-26T04:36:39.884966Z"; // ad02
    let since = app.json(&format!("{LIST}?since={at}")).await;
    assert_eq!(hashes(&since), ["ad01", "ad02"]);
    assert_eq!(since["total"], 2);
    let until = app.json(&format!("{LIST}?until={at}")).await;
    assert_eq!(hashes(&until), ["ad02", "ad04", "ad05", "ad06"]);
    let both = app.json(&format!("{LIST}?since={at}&until={at}")).await;
    assert_eq!(hashes(&both), ["ad02"]);
    // An offset is converted to UTC.
    let offset = app
        .json(&format!("{LIST}?since=2026-11-26T05:36:39.884966%2B01:00"))
        .await;
    assert_eq!(hashes(&offset), ["ad01", "ad02"]);
    assert_422(app.get(&format!("{LIST}?since=yesterday")).await, "since").await;
    assert_422(app.get(&format!("{LIST}?until=2026-13-01")).await, "until").await;
}

#[tokio::test]
async fn datetime_bounds_match_rows_with_and_without_fraction() {
    let app = empty_app().await;
    insert_advert(
        &app,
        "x1",
        &pk("a1"),
        None,
        None,
        None,
        "2026-01-01 00:00:00",
        "aa01",
    )
    .await;
    insert_advert(
        &app,
        "x2",
        &pk("a2"),
        None,
        None,
        None,
        "2026-01-01 00:00:00.000000",
        "aa02",
    )
    .await;
    insert_advert(
        &app,
        "x3",
        &pk("a3"),
        None,
        None,
        None,
        "2026-01-01 00:00:00.000001",
        "aa03",
    )
    .await;
    insert_advert(
        &app,
        "x4",
        &pk("a4"),
        None,
        None,
        None,
        "2025-12-31 23:59:59.999999",
        "aa04",
    )
    .await;
    let t = "2026-01-01T00:00:00Z";
    let exact = app.json(&format!("{LIST}?since={t}&until={t}")).await;
    let mut got = hashes(&exact);
    got.sort();
    assert_eq!(got, ["aa01", "aa02"]);
    assert_eq!(app.json(&format!("{LIST}?since={t}")).await["total"], 3);
    assert_eq!(app.json(&format!("{LIST}?until={t}")).await["total"], 3);
}

#[tokio::test]
async fn sorts_by_node_name_with_tag_first_and_nulls_last() {
    let app = fixture_app().await;
    // No name anywhere: sorts last in both directions.
    insert_advert(
        &app,
        "anon",
        &pk("e5"),
        None,
        None,
        Some("flood"),
        "2026-11-26 06:00:00",
        "ee01",
    )
    .await;
    let asc = app.json(&format!("{LIST}?sort=node_name&order=asc")).await;
    assert_eq!(
        hashes(&asc),
        ["ad05", "ad01", "ad06", "ad02", "ad04", "ee01"]
    );
    let desc = app.json(&format!("{LIST}?sort=node_name")).await;
    assert_eq!(
        hashes(&desc),
        ["ad04", "ad02", "ad06", "ad01", "ad05", "ee01"]
    );
    // The name tag wins over node and advert names.
    app.exec(&format!(
        "UPDATE node_tags SET value = 'aardvark' WHERE node_id = '{DELTA}' AND key = 'name'"
    ))
    .await;
    let asc = app.json(&format!("{LIST}?sort=node_name&order=asc")).await;
    assert_eq!(hashes(&asc)[0], "ad04");
    // Without tag or node, the advert's own name is used.
    insert_advert(
        &app,
        "named",
        &pk("f6"),
        Some("Ab"),
        None,
        Some("flood"),
        "2026-11-26 06:00:00",
        "ff01",
    )
    .await;
    let asc = app.json(&format!("{LIST}?sort=node_name&order=asc")).await;
    assert_eq!(&hashes(&asc)[..2], ["ad04", "ff01"]);
}

#[tokio::test]
async fn sorts_by_public_key_time_and_unknown_values() {
    let app = fixture_app().await;
    let asc = app.json(&format!("{LIST}?sort=public_key&order=asc")).await;
    assert_eq!(hashes(&asc), ["ad05", "ad01", "ad06", "ad02", "ad04"]);
    let desc = app
        .json(&format!("{LIST}?sort=public_key&order=desc"))
        .await;
    assert_eq!(hashes(&desc), ["ad04", "ad02", "ad06", "ad01", "ad05"]);
    let time_asc = app.json(&format!("{LIST}?sort=time&order=ASC")).await;
    assert_eq!(hashes(&time_asc), ["ad06", "ad05", "ad04", "ad02", "ad01"]);
    // Unknown sort -> time; unknown order -> desc.
    let odd = app.json(&format!("{LIST}?sort=bogus&order=sideways")).await;
    assert_eq!(hashes(&odd), ["ad01", "ad02", "ad04", "ad05", "ad06"]);
}

#[tokio::test]
async fn pagination_keeps_the_total_and_validates_bounds() {
    let app = fixture_app().await;
    let page = app.json(&format!("{LIST}?limit=2&offset=1")).await;
    assert_eq!(hashes(&page), ["ad02", "ad04"]);
    assert_eq!(page["total"], 5);
    assert_eq!(page["limit"], 2);
    assert_eq!(page["offset"], 1);
    let past = app.json(&format!("{LIST}?offset=10")).await;
    assert_eq!(past["total"], 5);
    assert_eq!(hashes(&past), Vec::<String>::new());
    assert_eq!(app.json(&format!("{LIST}?limit=100")).await["limit"], 100);
    for bad in ["limit=0", "limit=101", "limit=abc", "limit=1.5"] {
        assert_422(app.get(&format!("{LIST}?{bad}")).await, "limit").await;
    }
    assert_422(app.get(&format!("{LIST}?offset=-1")).await, "offset").await;
}

#[tokio::test]
async fn equal_times_page_stably_by_id() {
    let app = empty_app().await;
    for i in 0..5 {
        insert_advert(
            &app,
            &format!("id-{i}"),
            &pk("a1"),
            Some("Same"),
            None,
            Some("flood"),
            "2026-01-01 00:00:00",
            &format!("c{i}"),
        )
        .await;
    }
    for (order, want) in [
        ("desc", ["c4", "c3", "c2", "c1", "c0"]),
        ("asc", ["c0", "c1", "c2", "c3", "c4"]),
    ] {
        for sort in ["time", "node_name", "public_key"] {
            let mut seen = Vec::new();
            for offset in [0, 2, 4] {
                let page = app
                    .json(&format!(
                        "{LIST}?sort={sort}&order={order}&limit=2&offset={offset}"
                    ))
                    .await;
                assert_eq!(page["total"], 5);
                seen.extend(hashes(&page).into_iter().map(|h| h[..2].to_string()));
            }
            assert_eq!(seen, want, "sort={sort} order={order}");
        }
    }
}

#[tokio::test]
async fn single_advert_by_id_or_404() {
    let app = fixture_app().await;
    // Route type filters do not apply to a single advert.
    let item = app.json(&format!("{LIST}/{A3}")).await;
    assert_eq!(item["route_type"], "direct");
    assert_eq!(item["observed_by"], pk("aa02"));
    assert_eq!(item["node_name"], "Charlie Node");
    assert_eq!(item["adv_type"], "room");
    let list_item = &app.json(&format!("{LIST}?route_type=direct")).await["items"][0];
    assert_eq!(&item, list_item, "same shape as a list item");
    let first = app.json(&format!("{LIST}/{A1}")).await;
    assert_eq!(first, app.json(LIST).await["items"][0]);
    let resp = app.get(&format!("{LIST}/no-such-advert")).await;
    resp.assert_status(poem::http::StatusCode::NOT_FOUND);
    resp.assert_json(serde_json::json!({"detail": "Advertisement not found"}))
        .await;
}

#[tokio::test]
async fn adverts_without_event_hash_or_nodes_have_nulls_and_no_observers() {
    let app = empty_app().await;
    insert_advert(
        &app,
        "lonely",
        &pk("ab"),
        Some("Lonely"),
        None,
        None,
        "2026-01-01 00:00:00",
        "aa01",
    )
    .await;
    let body = app.json(LIST).await;
    let item = &body["items"][0];
    assert_eq!(item["observers"], serde_json::json!([]));
    assert_eq!(item["observed_by"], Value::Null);
    assert_eq!(item["observer_name"], Value::Null);
    assert_eq!(item["node_name"], Value::Null);
    assert_eq!(item["node_tag_name"], Value::Null);
    assert_eq!(item["adv_type"], Value::Null);
    assert_eq!(item["route_type"], Value::Null);
    assert_eq!(item["advert_timestamp"], Value::Null);
    assert_eq!(item["received_at"], "2026-01-01T00:00:00Z");
    // Linked to a node by public key only: names come from that node.
    insert_node(&app, "n1", &pk("ab"), Some("Abby"), Some("Abigail")).await;
    let item = &app.json(LIST).await["items"][0];
    assert_eq!(item["node_name"], "Abby");
    assert_eq!(item["node_tag_name"], "Abigail");
    assert_eq!(item["adv_type"], "chat");
}
