//! Aggregates of past UTC days, kept in process so a dashboard series reads only the days it
//! has not seen yet (docs/benchmarks.md, "Fast without the cache").
//!
//! The collector stamps rows with the time they were heard, so once a day is over its counts
//! stay as they are; the exceptions (retention deleting old rows, a late import) show after
//! at most [`PAST_DAY_TTL`], as a cached dashboard response would. Today is never kept: the
//! dashboard windows end before it.

use chrono::NaiveDate;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long one day's aggregate is reused before it is read again.
pub const PAST_DAY_TTL: Duration = Duration::from_secs(600);

/// Days beyond this many kept entries are dropped (oldest reads first), bounding memory:
/// 90 days for each series, role and breakdown fits many times over.
const MAX_ENTRIES: usize = 20_000;

/// Per-day values of type `V` for any number of aggregates, each named by a key that says
/// what was counted (e.g. which channels were visible).
pub type PastDays<V> = PastBuckets<NaiveDate, V>;

/// Values of past time buckets of kind `B` (UTC days, hours), for any number of aggregates,
/// each named by a key that says what was counted. A bucket that is over stays as it was
/// read except for retention deletes and late imports, which show after [`PAST_DAY_TTL`].
///
/// By default a missing bucket is read on the request that needs it. Made with
/// [`PastBuckets::filled_in_background`], a request that finds buckets missing is told so
/// ([`PastBuckets::kept_or_fill`] answers `None`) and they are read by a task of their own,
/// one per key at a time, so that request can answer another way.
pub struct PastBuckets<B, V> {
    entries: Arc<Mutex<BucketEntries<B, V>>>,
    /// Keys whose buckets a background task is reading; `None`: read inline.
    filling: Option<Arc<Mutex<HashSet<String>>>>,
}

/// Kept values by (aggregate key, bucket), each with the time it was read.
type BucketEntries<B, V> = HashMap<(String, B), (Instant, V)>;

impl<B, V> Clone for PastBuckets<B, V> {
    fn clone(&self) -> Self {
        PastBuckets {
            entries: self.entries.clone(),
            filling: self.filling.clone(),
        }
    }
}

impl<B, V> Default for PastBuckets<B, V> {
    fn default() -> Self {
        PastBuckets {
            entries: Arc::default(),
            filling: None,
        }
    }
}

impl<B, V> PastBuckets<B, V> {
    /// Kept buckets whose missing ones [`kept_or_fill`](Self::kept_or_fill) reads in the
    /// background.
    pub fn filled_in_background() -> Self {
        PastBuckets {
            entries: Arc::default(),
            filling: Some(Arc::default()),
        }
    }

    /// Waits until no background read runs (for tests and benchmarks).
    pub async fn settled(&self) {
        let Some(filling) = &self.filling else {
            return;
        };
        while !filling.lock().unwrap_or_else(|e| e.into_inner()).is_empty() {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

impl<B: Copy + Ord + std::hash::Hash, V: Clone> PastBuckets<B, V> {
    /// The value of every bucket of `buckets` for `key`: kept ones from memory, the others
    /// from one call of `fetch(first, last)` over the span of the missing buckets (which must
    /// return every bucket of that span it has a value for; one it leaves out gets `empty`).
    pub async fn get_or_fetch<E>(
        &self,
        key: &str,
        buckets: &[B],
        empty: V,
        fetch: impl AsyncFnOnce(B, B) -> Result<HashMap<B, V>, E>,
    ) -> Result<HashMap<B, V>, E> {
        let now = Instant::now();
        let mut found = HashMap::new();
        let mut missing = Vec::new();
        {
            let entries = self.lock();
            for bucket in buckets {
                match entries.get(&(key.to_string(), *bucket)) {
                    Some((at, value)) if now.duration_since(*at) < PAST_DAY_TTL => {
                        found.insert(*bucket, value.clone());
                    }
                    _ => missing.push(*bucket),
                }
            }
        }
        let (Some(first), Some(last)) = (missing.iter().min(), missing.iter().max()) else {
            return Ok(found);
        };
        let mut fetched = fetch(*first, *last).await?;
        let mut entries = self.lock();
        if entries.len() + missing.len() > MAX_ENTRIES {
            entries.retain(|_, (at, _)| now.duration_since(*at) < PAST_DAY_TTL);
            if entries.len() + missing.len() > MAX_ENTRIES {
                entries.clear();
            }
        }
        for bucket in missing {
            let value = fetched.remove(&bucket).unwrap_or_else(|| empty.clone());
            entries.insert((key.to_string(), bucket), (now, value.clone()));
            found.insert(bucket, value);
        }
        Ok(found)
    }

    /// The value of every bucket of `buckets` for `key` as [`get_or_fetch`](Self::get_or_fetch)
    /// gives it; but when made [`filled_in_background`](Self::filled_in_background) and some
    /// bucket is missing, `None` at once, with `fetch` started on a task of its own unless
    /// one already runs for `key` (a failed read is tried again by a later request).
    pub async fn kept_or_fill<E, Fut>(
        &self,
        key: &str,
        buckets: &[B],
        empty: V,
        fetch: impl FnOnce(B, B) -> Fut + Send + 'static,
    ) -> Result<Option<HashMap<B, V>>, E>
    where
        B: Send + Sync + 'static,
        V: Send + Sync + 'static,
        E: 'static,
        Fut: Future<Output = Result<HashMap<B, V>, E>> + Send + 'static,
    {
        let Some(filling) = &self.filling else {
            let fetch = async |first, last| fetch(first, last).await;
            return self
                .get_or_fetch(key, buckets, empty, fetch)
                .await
                .map(Some);
        };
        if let Some(values) = self.kept_values(key, buckets) {
            return Ok(Some(values));
        }
        let started = filling
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.to_string());
        if started {
            let (kept, filling) = (self.clone(), filling.clone());
            let (key, buckets) = (key.to_string(), buckets.to_vec());
            tokio::spawn(async move {
                let fetch = async |first, last| fetch(first, last).await;
                // A failure keeps nothing: the next request that misses starts another read.
                let _ = kept.get_or_fetch(&key, &buckets, empty, fetch).await;
                filling
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&key);
            });
        }
        Ok(None)
    }

    /// The value of every bucket of `buckets` for `key` if each is kept and still fresh.
    fn kept_values(&self, key: &str, buckets: &[B]) -> Option<HashMap<B, V>> {
        let now = Instant::now();
        let entries = self.lock();
        buckets
            .iter()
            .map(|bucket| match entries.get(&(key.to_string(), *bucket)) {
                Some((at, value)) if now.duration_since(*at) < PAST_DAY_TTL => {
                    Some((*bucket, value.clone()))
                }
                _ => None,
            })
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BucketEntries<B, V>> {
        // A panic while holding the lock cannot leave a half-written entry: recover the map.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Raw packets of one (event type, path hash width), as `(event_type, path_hash_bytes, count)`.
pub type PacketKindCount = (Option<String>, Option<i32>, i64);

/// The per-day aggregates of the dashboard, shared by every request of one server.
#[derive(Clone, Default)]
pub struct DashboardDays {
    /// Row counts per day (`activity`, `packet-activity`, `message-activity`).
    pub counts: PastDays<i64>,
    /// Raw packets per day by (event type, path hash width) (`packet-breakdown`).
    pub packet_kinds: PastDays<Vec<PacketKindCount>>,
    /// Channel messages per day by channel index (`channel_message_counts` of `stats`).
    pub channel_messages: PastDays<Vec<(i32, i64)>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap_or_default()
    }

    #[tokio::test]
    async fn fetches_only_the_days_not_kept() {
        let days: PastDays<i64> = PastDays::default();
        let mut spans = Vec::new();
        let got = days
            .get_or_fetch("k", &[day(1), day(2), day(3)], 0, async |a, b| {
                spans.push((a, b));
                Ok::<_, ()>(HashMap::from([(day(2), 5)]))
            })
            .await
            .unwrap_or_default();
        assert_eq!(got, HashMap::from([(day(1), 0), (day(2), 5), (day(3), 0)]));
        let got = days
            .get_or_fetch("k", &[day(2), day(3), day(4)], 0, async |a, b| {
                spans.push((a, b));
                Ok::<_, ()>(HashMap::from([(day(4), 7)]))
            })
            .await
            .unwrap_or_default();
        assert_eq!(got, HashMap::from([(day(2), 5), (day(3), 0), (day(4), 7)]));
        // Another key shares nothing.
        days.get_or_fetch("other", &[day(2)], 0, async |a, b| {
            spans.push((a, b));
            Ok::<_, ()>(HashMap::new())
        })
        .await
        .unwrap_or_default();
        assert_eq!(
            spans,
            [(day(1), day(3)), (day(4), day(4)), (day(2), day(2))]
        );
    }

    #[tokio::test]
    async fn a_failed_fetch_keeps_nothing() {
        let days: PastDays<i64> = PastDays::default();
        let failed = days
            .get_or_fetch("k", &[day(1)], 0, async |_, _| {
                Err::<HashMap<_, _>, _>("down")
            })
            .await;
        assert_eq!(failed, Err("down"));
        let mut fetched = false;
        days.get_or_fetch("k", &[day(1)], 0, async |_, _| {
            fetched = true;
            Ok::<_, ()>(HashMap::new())
        })
        .await
        .unwrap_or_default();
        assert!(fetched);
    }
}
