//! Aggregates of past UTC days and hours, kept in process so a dashboard series or a list
//! total reads only the buckets it has not seen yet (docs/benchmarks.md, "Every filter").
//!
//! A kept bucket is true while the tables it was counted from are unchanged: each is stored
//! with the [`TableVersions`] of those tables as they stood before it was read, and a bucket
//! whose tables have moved since is read again by the next request that needs it. The
//! collector's steady appends (rows heard now) never reach a past bucket and move no version
//! ([`ResponseCache::tables_grew`](hub_core::cache::runtime::ResponseCache::tables_grew)); a
//! late row, a retention delete, an operator's SQL or a write of hub's do
//! ([`tables_changed`](hub_core::cache::runtime::ResponseCache::tables_changed)). Before it
//! uses what is kept, a request asks the data-change watch, when one runs, to look for
//! changes committed before it ([`TableVersions::current`]). A change the data-change
//! watcher cannot see (docs/caching.md, "Freshness") is bounded by the renewal
//! age (`KEPT_COUNTS_RENEW_AFTER`): from that age on, a request that uses a bucket also reads
//! it again in the background, answering from what is kept meanwhile. Today, and the current
//! hour, are never kept.

use chrono::NaiveDate;
use hub_core::tables::{Table, TableVersions};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// The default renewal age of a kept bucket (`KEPT_COUNTS_RENEW_AFTER`).
pub const DEFAULT_RENEW_AFTER: Duration =
    Duration::from_secs(hub_core::settings::DEFAULT_KEPT_COUNTS_RENEW_AFTER);

/// Buckets beyond this many kept entries are dropped (those whose tables changed first, then
/// all), bounding memory: 90 days for each series, role and breakdown fits many times over.
const MAX_ENTRIES: usize = 20_000;

/// Per-day values of type `V` for any number of aggregates, each named by a key that says
/// what was counted (e.g. which channels were visible).
pub type PastDays<V> = PastBuckets<NaiveDate, V>;

/// Values of past time buckets of kind `B` (UTC days, hours), for any number of aggregates,
/// each named by a key that says what was counted and from which tables.
///
/// By default a missing bucket is read on the request that needs it. Made with
/// [`PastBuckets::filled_in_background`], a request that finds buckets missing is told so
/// ([`PastBuckets::kept_or_missing`] answers [`MissingBuckets`]): it answers another way, then
/// they are read by a task of their own, one per key at a time. Either way, buckets older
/// than the renewal age are read again in the background by the request that uses them.
pub struct PastBuckets<B, V> {
    entries: Arc<Mutex<BucketEntries<B, V>>>,
    /// Keys whose buckets a background task is reading (at most one task per key).
    reading: Arc<Mutex<HashSet<String>>>,
    /// Missing buckets are read in the background, not by the request.
    fill_in_background: bool,
    /// The tables' change counters the buckets are checked against.
    versions: TableVersions,
    /// From this age on a bucket is read again in the background; zero: never by age.
    renew_after: Duration,
}

/// Kept values by (aggregate key, bucket).
type BucketEntries<B, V> = HashMap<(String, B), Entry<V>>;

/// One kept bucket: its value, the tables it was counted from and their version before the
/// read, and when it was read.
struct Entry<V> {
    value: V,
    tables: &'static [Table],
    version: u64,
    read_at: Instant,
}

/// What is kept of a key's buckets.
struct Kept<B, V> {
    /// The values still true (their tables unchanged since they were read).
    values: HashMap<B, V>,
    /// Buckets with no true value.
    missing: Vec<B>,
    /// True buckets older than the renewal age.
    due: Vec<B>,
}

impl<B, V> Clone for PastBuckets<B, V> {
    fn clone(&self) -> Self {
        PastBuckets {
            entries: self.entries.clone(),
            reading: self.reading.clone(),
            fill_in_background: self.fill_in_background,
            versions: self.versions.clone(),
            renew_after: self.renew_after,
        }
    }
}

impl<B, V> Default for PastBuckets<B, V> {
    fn default() -> Self {
        PastBuckets::new(TableVersions::default(), DEFAULT_RENEW_AFTER)
    }
}

impl<B, V> PastBuckets<B, V> {
    /// Nothing kept yet; buckets are checked against `versions` (the server's:
    /// [`ResponseCache::versions`](hub_core::cache::runtime::ResponseCache::versions)) and
    /// read again in the background from `renew_after` on (zero: never by age).
    pub fn new(versions: TableVersions, renew_after: Duration) -> Self {
        PastBuckets {
            entries: Arc::default(),
            reading: Arc::default(),
            fill_in_background: false,
            versions,
            renew_after,
        }
    }

    /// How long a bucket is kept before it is read again in the background though no change
    /// of its tables was seen (zero: never by age).
    pub fn renew_after(&self) -> Duration {
        self.renew_after
    }

    /// An empty store configured as this one (renewal age, background fill) whose buckets are
    /// checked against `versions`: for a server state that changes its cache.
    pub fn emptied_for(&self, versions: &TableVersions) -> Self {
        PastBuckets {
            fill_in_background: self.fill_in_background,
            ..PastBuckets::new(versions.clone(), self.renew_after)
        }
    }

    /// The same buckets, whose missing ones [`kept_or_missing`](Self::kept_or_missing) leaves
    /// to be read in the background.
    pub fn filled_in_background(self) -> Self {
        PastBuckets {
            fill_in_background: true,
            ..self
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
    /// The value of every bucket of `buckets` for `key`, counted from `tables`: kept ones from
    /// memory, the others from one call of `fetch(first, last)` over the span of the missing
    /// buckets (which must return every bucket of that span it has a value for; one it
    /// leaves out gets `empty`). When none is missing but some are due for renewal, `fetch`
    /// reads those on a task of its own and this answers from memory at once.
    pub async fn get_or_fetch<E, Fut>(
        &self,
        key: &str,
        tables: &'static [Table],
        buckets: &[B],
        empty: V,
        fetch: impl FnOnce(B, B) -> Fut + Send + 'static,
    ) -> Result<HashMap<B, V>, E>
    where
        E: 'static,
        Fut: Future<Output = Result<HashMap<B, V>, E>> + Send + 'static,
    {
        // Changes committed before this request that the watch has not looked for yet.
        self.versions.current(tables).await;
        let mut kept = self.kept(key, tables, buckets);
        let Some((first, last)) = span(&kept.missing) else {
            self.renew(key, tables, &kept.due, empty, fetch);
            return Ok(kept.values);
        };
        let (read_at, version) = (Instant::now(), self.versions.of(tables));
        let fetched = fetch(first, last).await?;
        kept.values.extend(self.store(
            key,
            tables,
            &kept.missing,
            (read_at, version),
            empty,
            fetched,
        ));
        Ok(kept.values)
    }

    /// The value of every bucket of `buckets` for `key` as [`get_or_fetch`](Self::get_or_fetch)
    /// gives it; but when made [`filled_in_background`](Self::filled_in_background) and some
    /// bucket is missing, [`MissingBuckets`] at once: the caller answers another way, then
    /// starts their read on a task of its own
    /// ([`read_in_background`](MissingBuckets::read_in_background)), so that the read does not
    /// slow the answer that found them missing.
    pub async fn kept_or_missing<E, Fut, F>(
        &self,
        key: &str,
        tables: &'static [Table],
        buckets: &[B],
        empty: V,
        fetch: F,
    ) -> Result<Result<HashMap<B, V>, MissingBuckets<B, V, F>>, E>
    where
        E: 'static,
        Fut: Future<Output = Result<HashMap<B, V>, E>> + Send + 'static,
        F: FnOnce(B, B) -> Fut + Send + 'static,
    {
        if !self.fill_in_background {
            return self
                .get_or_fetch(key, tables, buckets, empty, fetch)
                .await
                .map(Ok);
        }
        self.versions.current(tables).await;
        let kept = self.kept(key, tables, buckets);
        if kept.missing.is_empty() {
            self.renew(key, tables, &kept.due, empty, fetch);
            return Ok(Ok(kept.values));
        }
        Ok(Err(MissingBuckets {
            kept: self.clone(),
            key: key.to_string(),
            tables,
            buckets: kept.missing,
            empty,
            fetch,
        }))
    }

    /// Reads `buckets` of `key` with `fetch` on a task of its own, unless `buckets` is empty
    /// or a task already reads `key`. A failed read keeps what was kept (a missing bucket is
    /// read again by a later request; a due one by the next request that uses it).
    fn renew<E, Fut>(
        &self,
        key: &str,
        tables: &'static [Table],
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
            let read = (Instant::now(), kept.versions.of(tables));
            if let Ok(fetched) = fetch(first, last).await {
                kept.store(&key, tables, &buckets, read, empty, fetched);
            }
            kept.reading().remove(&key);
        });
    }

    /// What is kept of `buckets` for `key`, as of now.
    fn kept(&self, key: &str, tables: &'static [Table], buckets: &[B]) -> Kept<B, V> {
        let (now, version) = (Instant::now(), self.versions.of(tables));
        let entries = self.lock();
        let mut kept = Kept {
            values: HashMap::new(),
            missing: Vec::new(),
            due: Vec::new(),
        };
        for bucket in buckets {
            match entries.get(&(key.to_string(), *bucket)) {
                Some(entry) if entry.version == version => {
                    if !self.renew_after.is_zero()
                        && now.duration_since(entry.read_at) >= self.renew_after
                    {
                        kept.due.push(*bucket);
                    }
                    kept.values.insert(*bucket, entry.value.clone());
                }
                _ => kept.missing.push(*bucket),
            }
        }
        kept
    }

    /// Keeps the values `fetched` for `buckets` of `key`, read at `read.0` under the version
    /// `read.1` of `tables` (`empty` for a bucket it has none for), and returns them.
    fn store(
        &self,
        key: &str,
        tables: &'static [Table],
        buckets: &[B],
        (read_at, version): (Instant, u64),
        empty: V,
        mut fetched: HashMap<B, V>,
    ) -> HashMap<B, V> {
        let mut entries = self.lock();
        if entries.len() + buckets.len() > MAX_ENTRIES {
            entries.retain(|_, e| self.versions.of(e.tables) == e.version);
            if entries.len() + buckets.len() > MAX_ENTRIES {
                entries.clear();
            }
        }
        let mut stored = HashMap::new();
        for bucket in buckets {
            let value = fetched.remove(bucket).unwrap_or_else(|| empty.clone());
            let entry = Entry {
                value: value.clone(),
                tables,
                version,
                read_at,
            };
            entries.insert((key.to_string(), *bucket), entry);
            stored.insert(*bucket, value);
        }
        stored
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BucketEntries<B, V>> {
        // A panic while holding the lock cannot leave a half-written entry: recover the map.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Buckets of one key that [`PastBuckets::kept_or_missing`] found missing, and the read
/// that fills them.
pub struct MissingBuckets<B, V, F> {
    kept: PastBuckets<B, V>,
    key: String,
    tables: &'static [Table],
    buckets: Vec<B>,
    empty: V,
    fetch: F,
}

impl<B, V, F> MissingBuckets<B, V, F>
where
    B: Copy + Ord + std::hash::Hash + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Reads the missing buckets on a task of their own, unless one already reads this key
    /// (a failed read is tried again by a later request).
    pub fn read_in_background<E, Fut>(self)
    where
        E: 'static,
        Fut: Future<Output = Result<HashMap<B, V>, E>> + Send + 'static,
        F: FnOnce(B, B) -> Fut + Send + 'static,
    {
        let MissingBuckets {
            kept,
            key,
            tables,
            buckets,
            empty,
            fetch,
        } = self;
        kept.renew(&key, tables, &buckets, empty, fetch);
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

impl DashboardDays {
    /// Nothing kept yet, checked against `versions` and renewed from `renew_after` on (see
    /// [`PastBuckets::new`]).
    pub fn new(versions: &TableVersions, renew_after: Duration) -> Self {
        DashboardDays {
            counts: PastDays::new(versions.clone(), renew_after),
            packet_kinds: PastDays::new(versions.clone(), renew_after),
            channel_messages: PastDays::new(versions.clone(), renew_after),
        }
    }

    /// Empty stores configured as these, checked against `versions` (see
    /// [`PastBuckets::emptied_for`]).
    pub fn emptied_for(&self, versions: &TableVersions) -> Self {
        DashboardDays {
            counts: self.counts.emptied_for(versions),
            packet_kinds: self.packet_kinds.emptied_for(versions),
            channel_messages: self.channel_messages.emptied_for(versions),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table the test buckets are counted from.
    const T: &[Table] = &[Table::Messages];

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
            .get_or_fetch("k", T, &all, 0, fetch(&spans, HashMap::from([(day(2), 5)])))
            .await;
        assert_eq!(
            got,
            Ok(HashMap::from([(day(1), 0), (day(2), 5), (day(3), 0)]))
        );
        let next = [day(2), day(3), day(4)];
        let got = days
            .get_or_fetch(
                "k",
                T,
                &next,
                0,
                fetch(&spans, HashMap::from([(day(4), 7)])),
            )
            .await;
        assert_eq!(
            got,
            Ok(HashMap::from([(day(2), 5), (day(3), 0), (day(4), 7)]))
        );
        // Another key shares nothing.
        let _ = days
            .get_or_fetch("other", T, &[day(2)], 0, fetch(&spans, HashMap::new()))
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
            .get_or_fetch("k", T, &[day(1)], 0, |_, _| async { Err("down") })
            .await;
        assert_eq!(failed, Err("down"));
        let spans = Spans::default();
        let _ = days
            .get_or_fetch("k", T, &[day(1)], 0, fetch(&spans, HashMap::new()))
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
            .get_or_fetch("k", T, &both, 0, fetch(&spans, one(1)))
            .await;
        assert_eq!(taken(&spans).len(), 1);

        // Younger than DEFAULT_RENEW_AFTER: nothing is read.
        tokio::time::advance(DEFAULT_RENEW_AFTER - Duration::from_secs(1)).await;
        let got = days
            .get_or_fetch("k", T, &both, 0, fetch(&spans, one(2)))
            .await;
        assert_eq!(got, Ok(one(1)));
        days.settled().await;
        assert!(taken(&spans).is_empty());

        // Due: the kept values at once, the new ones read meanwhile, one read per key.
        tokio::time::advance(Duration::from_secs(2)).await;
        let got = days
            .get_or_fetch("k", T, &both, 0, fetch(&spans, one(2)))
            .await;
        assert_eq!(got, Ok(one(1)));
        let _ = days
            .get_or_fetch("k", T, &both, 0, fetch(&spans, one(3)))
            .await;
        days.settled().await;
        assert_eq!(taken(&spans), [(day(1), day(2))]);
        let got = days
            .get_or_fetch("k", T, &both, 0, fetch(&spans, one(4)))
            .await;
        assert_eq!(got, Ok(one(2)));

        // Renewed, the values are not due again for another renewal age.
        tokio::time::advance(Duration::from_secs(2)).await;
        let got = days
            .get_or_fetch("k", T, &both, 0, fetch(&spans, one(5)))
            .await;
        assert_eq!(got, Ok(one(2)));
        days.settled().await;
        assert!(taken(&spans).is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_renewal_keeps_the_values() {
        let days: PastDays<i64> = PastDays::default();
        let spans = Spans::default();
        let kept = HashMap::from([(day(1), 1)]);
        let _ = days
            .get_or_fetch("k", T, &[day(1)], 0, fetch(&spans, kept.clone()))
            .await;
        tokio::time::advance(DEFAULT_RENEW_AFTER).await;
        let got = days
            .get_or_fetch("k", T, &[day(1)], 0, |_, _| async { Err("down") })
            .await;
        assert_eq!(got, Ok(kept.clone()));
        days.settled().await;
        let got = days
            .get_or_fetch("k", T, &[day(1)], 0, fetch(&spans, HashMap::new()))
            .await;
        assert_eq!(got, Ok(kept));
        days.settled().await;
        // That request renewed it (the failure kept nothing but the old value).
        assert_eq!(taken(&spans).len(), 2);
    }

    #[tokio::test]
    async fn a_change_of_its_tables_makes_the_request_read_a_bucket_again() {
        let versions = TableVersions::default();
        let days: PastDays<i64> = PastDays::new(versions.clone(), DEFAULT_RENEW_AFTER);
        let spans = Spans::default();
        let first = days
            .get_or_fetch(
                "k",
                T,
                &[day(1)],
                0,
                fetch(&spans, HashMap::from([(day(1), 1)])),
            )
            .await;
        assert_eq!(first, Ok(HashMap::from([(day(1), 1)])));

        // Another table changed: still kept.
        versions.bump(Table::Nodes);
        let got = days
            .get_or_fetch("k", T, &[day(1)], 0, |_, _| async { Err("not read") })
            .await;
        assert_eq!(got, Ok(HashMap::from([(day(1), 1)])));

        // Its table changed (a late row, a delete): the request itself reads it again, so
        // what it answers is never the value from before the change.
        versions.bump(Table::Messages);
        let got = days
            .get_or_fetch(
                "k",
                T,
                &[day(1)],
                0,
                fetch(&spans, HashMap::from([(day(1), 2)])),
            )
            .await;
        assert_eq!(got, Ok(HashMap::from([(day(1), 2)])));
        assert_eq!(taken(&spans).len(), 2);
    }

    #[tokio::test]
    async fn a_change_during_a_read_is_not_hidden_by_it() {
        let versions = TableVersions::default();
        let days: PastDays<i64> = PastDays::new(versions.clone(), DEFAULT_RENEW_AFTER);
        // The read started before the change and may not have seen it: kept under the
        // version from before, so the next request reads again.
        let changed_meanwhile = {
            let versions = versions.clone();
            move |_, _| async move {
                versions.bump(Table::Messages);
                Ok::<_, &str>(HashMap::from([(day(1), 1)]))
            }
        };
        let _ = days
            .get_or_fetch("k", T, &[day(1)], 0, changed_meanwhile)
            .await;
        let spans = Spans::default();
        let got = days
            .get_or_fetch(
                "k",
                T,
                &[day(1)],
                0,
                fetch(&spans, HashMap::from([(day(1), 2)])),
            )
            .await;
        assert_eq!(got, Ok(HashMap::from([(day(1), 2)])));
    }
}
