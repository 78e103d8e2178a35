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
use std::time::Duration;
use tokio::time::Instant;

/// How long one day's aggregate is reused before it is read again.
pub const PAST_DAY_TTL: Duration = Duration::from_secs(600);

/// From this age on, a request that uses a kept bucket also starts reading it again in the
/// background, so that a key in use is renewed before [`PAST_DAY_TTL`] and no request waits
/// for its periodic recount (which is the full count of a list filter or of the dashboard's
/// totals: up to a second on a large network).
pub const RENEW_AFTER: Duration = Duration::from_secs(480);

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
/// one per key at a time, so that request can answer another way. Either way, buckets older
/// than [`RENEW_AFTER`] are read again in the background by the request that uses them.
pub struct PastBuckets<B, V> {
    entries: Arc<Mutex<BucketEntries<B, V>>>,
    /// Keys whose buckets a background task is reading (at most one task per key).
    reading: Arc<Mutex<HashSet<String>>>,
    /// Missing buckets are read in the background, not by the request.
    fill_in_background: bool,
}

/// Kept values by (aggregate key, bucket), each with the time it was read.
type BucketEntries<B, V> = HashMap<(String, B), (Instant, V)>;

/// What is kept of a key's buckets.
struct Kept<B, V> {
    /// The fresh values (younger than [`PAST_DAY_TTL`]).
    values: HashMap<B, V>,
    /// Buckets with no fresh value.
    missing: Vec<B>,
    /// Fresh buckets older than [`RENEW_AFTER`].
    due: Vec<B>,
}

impl<B, V> Clone for PastBuckets<B, V> {
    fn clone(&self) -> Self {
        PastBuckets {
            entries: self.entries.clone(),
            reading: self.reading.clone(),
            fill_in_background: self.fill_in_background,
        }
    }
}

impl<B, V> Default for PastBuckets<B, V> {
    fn default() -> Self {
        PastBuckets {
            entries: Arc::default(),
            reading: Arc::default(),
            fill_in_background: false,
        }
    }
}

impl<B, V> PastBuckets<B, V> {
    /// Kept buckets whose missing ones [`kept_or_fill`](Self::kept_or_fill) reads in the
    /// background.
    pub fn filled_in_background() -> Self {
        PastBuckets {
            fill_in_background: true,
            ..PastBuckets::default()
        }
    }

    /// Waits until no background read runs (for tests and benchmarks).
    pub async fn settled(&self) {
        while !self.reading().is_empty() {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    fn reading(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.reading.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The smallest and largest of `buckets`, the span one read covers.
fn span<B: Copy + Ord>(buckets: &[B]) -> Option<(B, B)> {
    Some((*buckets.iter().min()?, *buckets.iter().max()?))
}

impl<B, V> PastBuckets<B, V>
where
    B: Copy + Ord + std::hash::Hash + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// The value of every bucket of `buckets` for `key`: kept ones from memory, the others
    /// from one call of `fetch(first, last)` over the span of the missing buckets (which must
    /// return every bucket of that span it has a value for; one it leaves out gets `empty`).
    /// When none is missing but some are due for renewal, `fetch` reads those on a task of
    /// its own and this answers from memory at once.
    pub async fn get_or_fetch<E, Fut>(
        &self,
        key: &str,
        buckets: &[B],
        empty: V,
        fetch: impl FnOnce(B, B) -> Fut + Send + 'static,
    ) -> Result<HashMap<B, V>, E>
    where
        E: 'static,
        Fut: Future<Output = Result<HashMap<B, V>, E>> + Send + 'static,
    {
        let mut kept = self.kept(key, buckets);
        let Some((first, last)) = span(&kept.missing) else {
            self.renew(key, &kept.due, empty, fetch);
            return Ok(kept.values);
        };
        let read_at = Instant::now();
        let fetched = fetch(first, last).await?;
        kept.values
            .extend(self.store(key, &kept.missing, read_at, empty, fetched));
        Ok(kept.values)
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
        E: 'static,
        Fut: Future<Output = Result<HashMap<B, V>, E>> + Send + 'static,
    {
        if !self.fill_in_background {
            return self
                .get_or_fetch(key, buckets, empty, fetch)
                .await
                .map(Some);
        }
        let kept = self.kept(key, buckets);
        if kept.missing.is_empty() {
            self.renew(key, &kept.due, empty, fetch);
            return Ok(Some(kept.values));
        }
        self.renew(key, &kept.missing, empty, fetch);
        Ok(None)
    }

    /// Reads `buckets` of `key` with `fetch` on a task of its own, unless `buckets` is empty
    /// or a task already reads `key`. A failed read keeps what was kept (a missing bucket is
    /// read again by a later request; a due one until it expires).
    fn renew<E, Fut>(
        &self,
        key: &str,
        buckets: &[B],
        empty: V,
        fetch: impl FnOnce(B, B) -> Fut + Send + 'static,
    ) where
        E: 'static,
        Fut: Future<Output = Result<HashMap<B, V>, E>> + Send + 'static,
    {
        let Some((first, last)) = span(buckets) else {
            return;
        };
        if !self.reading().insert(key.to_string()) {
            return;
        }
        let (kept, key, buckets) = (self.clone(), key.to_string(), buckets.to_vec());
        tokio::spawn(async move {
            let read_at = Instant::now();
            if let Ok(fetched) = fetch(first, last).await {
                kept.store(&key, &buckets, read_at, empty, fetched);
            }
            kept.reading().remove(&key);
        });
    }

    /// What is kept of `buckets` for `key`, as of now.
    fn kept(&self, key: &str, buckets: &[B]) -> Kept<B, V> {
        let now = Instant::now();
        let entries = self.lock();
        let mut kept = Kept {
            values: HashMap::new(),
            missing: Vec::new(),
            due: Vec::new(),
        };
        for bucket in buckets {
            match entries.get(&(key.to_string(), *bucket)) {
                Some((at, value)) if now.duration_since(*at) < PAST_DAY_TTL => {
                    if now.duration_since(*at) >= RENEW_AFTER {
                        kept.due.push(*bucket);
                    }
                    kept.values.insert(*bucket, value.clone());
                }
                _ => kept.missing.push(*bucket),
            }
        }
        kept
    }

    /// Keeps the values `fetched` at `read_at` for `buckets` of `key` (`empty` for a bucket
    /// it has none for) and returns them.
    fn store(
        &self,
        key: &str,
        buckets: &[B],
        read_at: Instant,
        empty: V,
        mut fetched: HashMap<B, V>,
    ) -> HashMap<B, V> {
        let now = Instant::now();
        let mut entries = self.lock();
        if entries.len() + buckets.len() > MAX_ENTRIES {
            entries.retain(|_, (at, _)| now.duration_since(*at) < PAST_DAY_TTL);
            if entries.len() + buckets.len() > MAX_ENTRIES {
                entries.clear();
            }
        }
        let mut stored = HashMap::new();
        for bucket in buckets {
            let value = fetched.remove(bucket).unwrap_or_else(|| empty.clone());
            entries.insert((key.to_string(), *bucket), (read_at, value.clone()));
            stored.insert(*bucket, value);
        }
        stored
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

    type Spans = Arc<Mutex<Vec<(NaiveDate, NaiveDate)>>>;

    /// A fetch that records the span it was asked for and answers `values`.
    fn fetch(
        spans: &Spans,
        values: HashMap<NaiveDate, i64>,
    ) -> impl FnOnce(
        NaiveDate,
        NaiveDate,
    ) -> std::future::Ready<Result<HashMap<NaiveDate, i64>, &'static str>>
    + Send
    + 'static {
        let spans = spans.clone();
        move |first, last| {
            spans
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((first, last));
            std::future::ready(Ok(values))
        }
    }

    fn taken(spans: &Spans) -> Vec<(NaiveDate, NaiveDate)> {
        std::mem::take(&mut *spans.lock().unwrap_or_else(|e| e.into_inner()))
    }

    #[tokio::test]
    async fn fetches_only_the_days_not_kept() {
        let days: PastDays<i64> = PastDays::default();
        let spans = Spans::default();
        let all = [day(1), day(2), day(3)];
        let got = days
            .get_or_fetch("k", &all, 0, fetch(&spans, HashMap::from([(day(2), 5)])))
            .await;
        assert_eq!(
            got,
            Ok(HashMap::from([(day(1), 0), (day(2), 5), (day(3), 0)]))
        );
        let next = [day(2), day(3), day(4)];
        let got = days
            .get_or_fetch("k", &next, 0, fetch(&spans, HashMap::from([(day(4), 7)])))
            .await;
        assert_eq!(
            got,
            Ok(HashMap::from([(day(2), 5), (day(3), 0), (day(4), 7)]))
        );
        // Another key shares nothing.
        let _ = days
            .get_or_fetch("other", &[day(2)], 0, fetch(&spans, HashMap::new()))
            .await;
        assert_eq!(
            taken(&spans),
            [(day(1), day(3)), (day(4), day(4)), (day(2), day(2))]
        );
    }

    #[tokio::test]
    async fn a_failed_fetch_keeps_nothing() {
        let days: PastDays<i64> = PastDays::default();
        let failed = days
            .get_or_fetch("k", &[day(1)], 0, |_, _| async { Err("down") })
            .await;
        assert_eq!(failed, Err("down"));
        let spans = Spans::default();
        let _ = days
            .get_or_fetch("k", &[day(1)], 0, fetch(&spans, HashMap::new()))
            .await;
        assert_eq!(taken(&spans), [(day(1), day(1))]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_day_due_for_renewal_is_read_in_the_background_and_answered_at_once() {
        let days: PastDays<i64> = PastDays::default();
        let spans = Spans::default();
        let both = [day(1), day(2)];
        let one = |n| HashMap::from([(day(1), n), (day(2), n)]);
        let _ = days
            .get_or_fetch("k", &both, 0, fetch(&spans, one(1)))
            .await;
        assert_eq!(taken(&spans).len(), 1);

        // Younger than RENEW_AFTER: nothing is read.
        tokio::time::advance(RENEW_AFTER - Duration::from_secs(1)).await;
        let got = days
            .get_or_fetch("k", &both, 0, fetch(&spans, one(2)))
            .await;
        assert_eq!(got, Ok(one(1)));
        days.settled().await;
        assert!(taken(&spans).is_empty());

        // Due: the kept values at once, the new ones read meanwhile, one read per key.
        tokio::time::advance(Duration::from_secs(2)).await;
        let got = days
            .get_or_fetch("k", &both, 0, fetch(&spans, one(2)))
            .await;
        assert_eq!(got, Ok(one(1)));
        let _ = days
            .get_or_fetch("k", &both, 0, fetch(&spans, one(3)))
            .await;
        days.settled().await;
        assert_eq!(taken(&spans), [(day(1), day(2))]);
        let got = days
            .get_or_fetch("k", &both, 0, fetch(&spans, one(4)))
            .await;
        assert_eq!(got, Ok(one(2)));

        // Renewed, the values outlive the first read's PAST_DAY_TTL without a request
        // waiting for a read.
        tokio::time::advance(PAST_DAY_TTL - RENEW_AFTER + Duration::from_secs(1)).await;
        let got = days
            .get_or_fetch("k", &both, 0, fetch(&spans, one(5)))
            .await;
        assert_eq!(got, Ok(one(2)));
        days.settled().await;
        assert!(taken(&spans).is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_renewal_keeps_the_values_until_they_expire() {
        let days: PastDays<i64> = PastDays::default();
        let spans = Spans::default();
        let kept = HashMap::from([(day(1), 1)]);
        let _ = days
            .get_or_fetch("k", &[day(1)], 0, fetch(&spans, kept.clone()))
            .await;
        tokio::time::advance(RENEW_AFTER).await;
        let got = days
            .get_or_fetch("k", &[day(1)], 0, |_, _| async { Err("down") })
            .await;
        assert_eq!(got, Ok(kept.clone()));
        days.settled().await;
        let got = days
            .get_or_fetch("k", &[day(1)], 0, fetch(&spans, HashMap::new()))
            .await;
        assert_eq!(got, Ok(kept));
        days.settled().await;
        // That request renewed it (the failure kept nothing but the old value).
        assert_eq!(taken(&spans).len(), 2);

        // Expired values are read by the request, as if never kept.
        let days: PastDays<i64> = PastDays::default();
        let _ = days
            .get_or_fetch("k", &[day(1)], 0, fetch(&spans, HashMap::new()))
            .await;
        tokio::time::advance(PAST_DAY_TTL).await;
        let got = days
            .get_or_fetch("k", &[day(1)], 0, |_, _| async { Err("down") })
            .await;
        assert_eq!(got, Err("down"));
    }
}
