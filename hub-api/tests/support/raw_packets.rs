//! The raw-packet fixture shared by the `packets` and `packet_groups` tests: MeshCore Hub's
//! sample database (raw packets received 2026-11-26): 10 packet hashes, each heard twice,
//! first by observer aa01 (SNR 8.5) and 3 s later by bb01 (SNR 6.25); every row has 3 hops
//! (A1FA, B2B0, C3C0), path_len 3, path_hash_bytes 2, route flood, packet_type 5, source
//! a1fa00000000. ad01..ad06 are advertisements (no channel), ce01/ce02 channel 17,
//! ce03 channel 71 (0x47 "E2E General"), ce04 a contact message (no channel).
#![allow(dead_code)] // each test module uses a different part of this one

use crate::common::TestApp;
use serde_json::Value;

pub(crate) const PACKETS: &str = "/api/v1/packets";
pub(crate) const GROUPS: &str = "/api/v1/packet-groups";
/// Covers every fixture row, whatever today's date.
pub(crate) const FIXTURE_SINCE: &str = "since=2026-11-01T00:00:00Z";
pub(crate) const CE03: &str = "ce030000000000000000000000000000";
pub(crate) const CE01: &str = "ce010000000000000000000000000000";
/// The newest fixture packet: ce01 heard by bb01 at 05:11:42.
pub(crate) const NEWEST_ID: &str = "e87d91a8-3265-4ebc-8a75-07b9e1688244";
/// ce03 heard by aa01 (the oldest row of the ce03 group).
pub(crate) const CE03_FIRST_ID: &str = "239b4811-7834-4da4-ae07-bd7430a16c41";
/// Observer node ids.
pub(crate) const AA01_ID: &str = "2efec766-82ed-43b7-946d-56d004101145";

pub(crate) fn keys(value: &Value) -> Vec<&str> {
    value
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect()
}

pub(crate) fn items(body: &Value) -> &Vec<Value> {
    body["items"].as_array().expect("items")
}

pub(crate) fn total(body: &Value) -> u64 {
    body["total"].as_u64().expect("total")
}

pub(crate) fn ids(body: &Value) -> Vec<String> {
    items(body)
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect()
}

/// Total of `PACKETS?query` for anonymous.
pub(crate) async fn count(app: &TestApp, query: &str) -> u64 {
    total(&app.json(&format!("{PACKETS}?{query}")).await)
}

/// Sets the visibility of "E2E General" (channel 71).
pub(crate) async fn set_general_visibility(app: &TestApp, visibility: &str) {
    app.exec(&format!(
        "UPDATE channels SET visibility = '{visibility}' WHERE channel_hash = '47'"
    ))
    .await;
}

/// A raw packet row; `decoded` is SQL text (e.g. `'{...}'` or `NULL`).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn insert_packet(
    app: &TestApp,
    id: &str,
    hash: Option<&str>,
    raw_hex: &str,
    event_type: &str,
    channel_idx: Option<i32>,
    snr: Option<f64>,
    decoded: &str,
    received_at: &str,
) {
    let hash = hash.map_or("NULL".to_string(), |h| format!("'{h}'"));
    let channel = channel_idx.map_or("NULL".to_string(), |c| c.to_string());
    let snr = snr.map_or("NULL".to_string(), |s| s.to_string());
    app.exec(&format!(
        "INSERT INTO raw_packets (id, observer_node_id, packet_hash, raw_hex, packet_type, payload_type, \
         event_type, channel_idx, source_pubkey_prefix, route_type, path_len, snr, decoded, received_at, \
         created_at, updated_at, path_hash_bytes) VALUES ('{id}', '{AA01_ID}', {hash}, '{raw_hex}', 2, 1, \
         '{event_type}', {channel}, 'b2b000000000', 'direct', 1, {snr}, {decoded}, '{received_at}', \
         '{received_at}', '{received_at}', 1)"
    ))
    .await;
}
