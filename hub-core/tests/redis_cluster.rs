//! `RedisCache` on a real three-master Redis Cluster: entries and their generation counters
//! share a hash slot (one MGET), invalidation reaches every copy of a counter, and a dead
//! master costs each call at most the timeout, never an error beyond a bypass.

use std::time::{Duration, Instant};

use hub_core::cache::{CacheBackend, RedisCache, RedisOptions};
use hub_core::test_support::RedisCluster;

const TIMEOUT: Duration = Duration::from_millis(150);
/// Scheduling slack on a loaded 2-core machine.
const SLACK: Duration = Duration::from_millis(250);

fn cluster_cache(cluster: &RedisCluster) -> RedisCache {
    RedisCache::new(RedisOptions {
        cluster_nodes: cluster.nodes(),
        timeout: TIMEOUT,
        breaker_open_for: Duration::from_millis(300),
        ..RedisOptions::local(0)
    })
    .unwrap()
}

/// Keys whose hash tags land on every master, so each test touches all three.
fn keys() -> Vec<String> {
    (0..48)
        .map(|i| format!("nodes:role=admin:limit={i}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_and_generations_round_trip_on_every_master() {
    let cluster = RedisCluster::start();
    let cache = cluster_cache(&cluster);
    assert!(cache.ping().await);
    for key in keys() {
        cache
            .set(&key, key.as_bytes(), Duration::from_secs(30))
            .await
            .unwrap();
    }
    for key in keys() {
        let (entry, generations) = cache
            .get_with_generations(&key, &["nodes", "dashboard"])
            .await
            .unwrap_or_else(|e| panic!("{key}: {e}"));
        assert_eq!(entry.as_deref(), Some(key.as_bytes()));
        assert_eq!(generations, vec![0, 0]);
    }
    // One invalidation is seen by the entries of every tag.
    cache.invalidate_many(&["nodes"]).await.unwrap();
    for key in keys() {
        let (_, generations) = cache
            .get_with_generations(&key, &["nodes", "dashboard"])
            .await
            .unwrap();
        assert_eq!(generations, vec![1, 0], "{key}");
    }
    assert_eq!(cache.invalidate("dashboard").await, Ok(1));
    // Entries really are spread: their tags hash to more than one slot.
    let slots: std::collections::BTreeSet<String> = keys()
        .iter()
        .map(|k| cache.full_key(k)[..cache.full_key(k).find('}').unwrap() + 1].to_owned())
        .collect();
    assert!(slots.len() > 3, "{slots:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_master_bounds_every_call_and_never_panics() {
    let mut cluster = RedisCluster::start();
    let cache = cluster_cache(&cluster);
    for key in keys() {
        cache
            .set(&key, b"v", Duration::from_secs(30))
            .await
            .unwrap();
    }
    cluster.kill(1);
    let mut failed = 0;
    for key in keys().iter().cycle().take(120) {
        let start = Instant::now();
        failed += usize::from(cache.get_with_generations(key, &["nodes"]).await.is_err());
        let _ = cache.set(key, b"w", Duration::from_secs(30)).await;
        let took = start.elapsed();
        assert!(took <= 2 * TIMEOUT + SLACK, "{key}: {took:?}");
    }
    assert!(
        failed > 0,
        "the dead master's slots must fail (as bypasses)"
    );
    let start = Instant::now();
    let _ = cache.invalidate_many(&["nodes"]).await;
    assert!(start.elapsed() <= TIMEOUT + SLACK);
}
