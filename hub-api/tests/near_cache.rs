//! Two instances on one Redis, each with a near cache: a write through one is seen by the
//! other's next read within 50 ms, although the other serves its HITs from process memory.

use crate::common;
use crate::writes_support;

use std::time::{Duration, Instant};

use common::*;
use hub_core::settings::AuthSettings;
use hub_core::test_support::RedisServer;
use poem::http::StatusCode;
use serde_json::{Value, json};
use writes_support::*;

fn near_hits(cache: &hub_core::cache::ResponseCache) -> u64 {
    cache.backend().near_counts().expect("near cache on").hits
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_on_one_instance_reaches_the_other_within_50ms() {
    let redis = RedisServer::start();
    let writer = fixture_app_cached(near_response_cache(redis.port())).await;
    let reader_cache = near_response_cache(redis.port());
    let reader = app_from_state(
        hub_api::state::AppState {
            auth: AuthSettings::default(),
            ..default_state(open_sqlite(&writer.path).await)
        }
        .with_cache(reader_cache.clone()),
        tempfile::tempdir().unwrap(),
        writer.path.clone(),
    );
    // Tracking connects in the background; give it a moment so the reads below fill.
    tokio::time::sleep(Duration::from_millis(100)).await;

    let uri = "/api/v1/channels";
    let first = reader.get(uri).await;
    assert_eq!(x_cache_of(&first), "MISS");
    for _ in 0..3 {
        let again = reader.get(uri).await;
        assert_eq!(x_cache_of(&again), "HIT");
    }
    assert!(
        near_hits(&reader_cache) >= 1,
        "later HITs come from the near cache"
    );
    let before: Value = reader.get(uri).await.json().await.value().deserialize();
    assert!(!item_names(&before).contains(&"Night Net".to_string()));

    let created = post(&writer, uri)
        .json(json!({"name": "Night Net", "key_hex": "AB".repeat(16), "visibility": "community"}))
        .send()
        .await;
    assert_eq!(created.0, StatusCode::CREATED, "{}", created.2);
    let written = Instant::now();
    loop {
        let now: Value = reader.get(uri).await.json().await.value().deserialize();
        if item_names(&now).contains(&"Night Net".to_string()) {
            break;
        }
        assert!(
            written.elapsed() < Duration::from_millis(50),
            "the reader still serves the list from before the write"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}
