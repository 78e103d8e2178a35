//! The near cache: a per-process copy of Redis values, bounded in bytes, that is only ever
//! filled with values read through a connection Redis tracks (docs/caching.md, "Near cache").
//!
//! Redis' server-assisted client-side caching (`CLIENT TRACKING`) promises one invalidation
//! message per tracked key after it changes, expires or is evicted. The near cache turns that
//! promise into "a local value is served only while Redis has not invalidated it" with two
//! rules:
//!
//! - A read that will fill the cache first **reserves** its keys (a pending slot with a
//!   unique token). An invalidation removes the slot, pending or not. The fill only lands in
//!   slots that still hold its token, so an invalidation that overtakes the reply (the key
//!   changed after Redis answered) can never be undone by a late fill.
//! - While the tracking connection is down, nothing is served or filled: going down flushes
//!   everything, and pending fills find their slots gone.
//!
//! Absent keys are kept too (as `None`): an unset generation counter is generation 0, and
//! Redis tracks a key that was read while absent just like any other.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bytes::Bytes;
use hashlink::LinkedHashMap;

pub use super::tracking::HEARTBEAT;

/// Bytes charged per slot on top of key and value, for the map node and the buffer handle.
const SLOT_OVERHEAD: usize = 64;

/// A value as Redis returned it: `None` when the key does not exist.
pub type NearValue = Option<Bytes>;

#[derive(Debug)]
enum Slot {
    /// A read through the tracking connection is in flight; only this token may fill it.
    Pending(u64),
    /// The value and, for keys with a Redis TTL, when it expires there: Redis reports an
    /// expiry only when it gets round to deleting the key, so the near cache keeps the
    /// deadline itself.
    Ready(NearValue, Option<Instant>),
}

#[derive(Debug, Default)]
struct Slots {
    map: LinkedHashMap<String, Slot>,
    /// Sum of [`charge`] over `Ready` slots.
    bytes: usize,
    next_token: u64,
    /// False while the tracking connection is down.
    usable: bool,
}

/// Counters for `/metrics`, readable without the lock.
#[derive(Debug, Default)]
pub struct NearStats {
    /// Lookups answered locally.
    pub hits: AtomicU64,
    /// Lookups that had to ask Redis.
    pub misses: AtomicU64,
    /// Values dropped to stay within the byte bound.
    pub evictions: AtomicU64,
    /// Keys dropped because Redis said they changed (flushes count once per key held).
    pub invalidations: AtomicU64,
}

/// A snapshot of [`NearStats`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct NearCounts {
    /// Lookups answered locally.
    pub hits: u64,
    /// Lookups that had to ask Redis.
    pub misses: u64,
    /// Values dropped to stay within the byte bound.
    pub evictions: u64,
    /// Keys dropped because Redis invalidated them or tracking was lost.
    pub invalidations: u64,
}

/// One value read from Redis for [`NearCache::fill`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fill {
    /// The value, `None` when the key does not exist.
    pub value: NearValue,
    /// When the key expires in Redis (from `PTTL`), if it has a TTL.
    pub expires: Option<Instant>,
}

impl Fill {
    /// A value without expiry.
    pub fn lasting(value: Option<Vec<u8>>) -> Self {
        Self {
            value: value.map(Bytes::from),
            expires: None,
        }
    }
}

/// Keys reserved by [`NearCache::reserve`] for one fill.
#[derive(Debug)]
#[must_use = "a reservation does nothing until it is filled"]
pub struct Reservation {
    token: u64,
    keys: Vec<String>,
}

/// Per-process cache of Redis values, bounded in bytes, coherent through tracking.
///
/// ```
/// use hub_core::cache::near::{Fill, NearCache};
/// let near = NearCache::new(1 << 20);
/// near.set_usable(true);
/// let keys = vec!["hub:nodes::".to_owned()];
/// assert!(near.lookup(&keys).is_none());
/// let r = near.reserve(&keys).unwrap();
/// near.fill(r, vec![Fill::lasting(Some(b"entry".to_vec()))]);
/// assert_eq!(near.lookup(&keys).unwrap().0[0].as_deref(), Some(&b"entry"[..]));
/// near.invalidate(["hub:nodes::"]);
/// assert!(near.lookup(&keys).is_none());
/// ```
#[derive(Debug)]
pub struct NearCache {
    slots: Mutex<Slots>,
    max_bytes: usize,
    stats: NearStats,
}

fn charge(key: &str, value: &NearValue) -> usize {
    key.len() + value.as_ref().map_or(0, |v| v.len()) + SLOT_OVERHEAD
}

impl NearCache {
    /// An empty, unusable cache holding at most `max_bytes` (keys, values and overhead).
    pub fn new(max_bytes: usize) -> Self {
        Self {
            slots: Mutex::new(Slots::default()),
            max_bytes,
            stats: NearStats::default(),
        }
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Turns serving on (tracking is established) or off (tracking lost: everything held and
    /// every pending fill is dropped).
    pub fn set_usable(&self, usable: bool) {
        let mut slots = self.slots();
        if !usable {
            self.drop_all(&mut slots);
        }
        slots.usable = usable;
    }

    /// Whether values are being served (tracking is up).
    pub fn is_usable(&self) -> bool {
        self.slots().usable
    }

    /// The values of all `keys`, in order, and the earliest Redis expiry among them, when
    /// every one is held; otherwise `None` (counted as a miss). A hit refreshes the keys'
    /// recency.
    pub fn lookup<K: AsRef<str>>(&self, keys: &[K]) -> Option<(Vec<NearValue>, Option<Instant>)> {
        let mut slots = self.slots();
        let now = Instant::now();
        let found = if slots.usable {
            let mut values = Vec::with_capacity(keys.len());
            let mut expires: Option<Instant> = None;
            for key in keys.iter().map(AsRef::as_ref) {
                match slots.map.to_back(key) {
                    Some(Slot::Ready(_, Some(deadline))) if *deadline <= now => {
                        if let Some(Slot::Ready(v, _)) = slots.map.remove(key) {
                            slots.bytes -= charge(key, &v);
                        }
                        break;
                    }
                    Some(Slot::Ready(v, deadline)) => {
                        values.push(v.clone());
                        expires = match (expires, *deadline) {
                            (Some(a), Some(b)) => Some(a.min(b)),
                            (a, b) => a.or(b),
                        };
                    }
                    _ => break,
                }
            }
            (values.len() == keys.len()).then_some((values, expires))
        } else {
            None
        };
        let counter = if found.is_some() {
            &self.stats.hits
        } else {
            &self.stats.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Reserves `keys` for a fill from a read that is about to be sent on the tracking
    /// connection; `None` while unusable. A held value of one of the keys is replaced by the
    /// pending slot (the read will bring the current one).
    pub fn reserve(&self, keys: &[String]) -> Option<Reservation> {
        let mut slots = self.slots();
        if !slots.usable {
            return None;
        }
        slots.next_token += 1;
        let token = slots.next_token;
        for key in keys {
            if let Some(Slot::Ready(old, _)) = slots.map.insert(key.clone(), Slot::Pending(token)) {
                slots.bytes -= charge(key, &old);
            }
        }
        Some(Reservation {
            token,
            keys: keys.to_vec(),
        })
    }

    /// Fills the reserved keys with the values read (same order). A key invalidated since it
    /// was reserved keeps no value; then the least recently used values are dropped until the
    /// cache is within its byte bound.
    pub fn fill(&self, reservation: Reservation, values: Vec<Fill>) {
        let mut slots = self.slots();
        for (key, Fill { value, expires }) in reservation.keys.into_iter().zip(values) {
            let ours =
                matches!(slots.map.get(&key), Some(Slot::Pending(t)) if *t == reservation.token);
            if !ours {
                continue;
            }
            let size = charge(&key, &value);
            if size > self.max_bytes {
                slots.map.remove(&key);
                continue;
            }
            slots.bytes += size;
            slots.map.insert(key, Slot::Ready(value, expires));
        }
        self.evict_to_bound(&mut slots);
    }

    /// Abandons a reservation whose read failed, so its pending slots do not linger.
    pub fn abandon(&self, reservation: Reservation) {
        let mut slots = self.slots();
        for key in reservation.keys {
            if matches!(slots.map.get(&key), Some(Slot::Pending(t)) if *t == reservation.token) {
                slots.map.remove(&key);
            }
        }
    }

    /// Drops `keys` (an invalidation message from Redis).
    pub fn invalidate<'k>(&self, keys: impl IntoIterator<Item = &'k str>) {
        let mut slots = self.slots();
        for key in keys {
            match slots.map.remove(key) {
                Some(Slot::Ready(v, _)) => {
                    slots.bytes -= charge(key, &v);
                    self.stats.invalidations.fetch_add(1, Ordering::Relaxed);
                }
                Some(Slot::Pending(_)) => {
                    self.stats.invalidations.fetch_add(1, Ordering::Relaxed);
                }
                None => {}
            }
        }
    }

    /// Drops everything (Redis flushed its tracking table, e.g. on `FLUSHALL`), staying usable.
    pub fn flush(&self) {
        let mut slots = self.slots();
        self.drop_all(&mut slots);
    }

    fn drop_all(&self, slots: &mut Slots) {
        let held = slots.map.len() as u64;
        self.stats.invalidations.fetch_add(held, Ordering::Relaxed);
        slots.map.clear();
        slots.bytes = 0;
    }

    fn evict_to_bound(&self, slots: &mut Slots) {
        while slots.bytes > self.max_bytes {
            // Oldest first; pending slots cost nothing and are skipped over by re-queuing.
            let Some((key, slot)) = slots.map.pop_front() else {
                break;
            };
            match slot {
                Slot::Ready(v, _) => {
                    slots.bytes -= charge(&key, &v);
                    self.stats.evictions.fetch_add(1, Ordering::Relaxed);
                }
                pending @ Slot::Pending(_) => {
                    slots.map.insert(key, pending);
                }
            }
        }
    }

    /// Bytes currently held.
    pub fn bytes(&self) -> usize {
        self.slots().bytes
    }

    /// The counters so far.
    pub fn counts(&self) -> NearCounts {
        NearCounts {
            hits: self.stats.hits.load(Ordering::Relaxed),
            misses: self.stats.misses.load(Ordering::Relaxed),
            evictions: self.stats.evictions.load(Ordering::Relaxed),
            invalidations: self.stats.invalidations.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(ks: &[&str]) -> Vec<String> {
        ks.iter().map(|k| (*k).to_owned()).collect()
    }

    fn lasting(values: Vec<Option<Vec<u8>>>) -> Vec<Fill> {
        values.into_iter().map(Fill::lasting).collect()
    }

    fn usable(max: usize) -> NearCache {
        let near = NearCache::new(max);
        near.set_usable(true);
        near
    }

    #[test]
    fn serves_only_when_every_key_is_held() {
        let near = usable(1 << 20);
        let ks = keys(&["e", "g1", "g2"]);
        let r = near.reserve(&ks).unwrap();
        near.fill(
            r,
            lasting(vec![Some(b"body".to_vec()), Some(b"3".to_vec()), None]),
        );
        let got = near.lookup(&ks).unwrap().0;
        assert_eq!(got[0].as_deref(), Some(&b"body"[..]));
        assert_eq!(got[1].as_deref(), Some(&b"3"[..]));
        assert_eq!(got[2], None);
        near.invalidate(["g2"]);
        assert!(near.lookup(&ks).is_none());
        assert_eq!(near.counts().hits, 1);
        assert_eq!(near.counts().misses, 1);
    }

    #[test]
    fn an_invalidation_that_overtakes_the_fill_wins() {
        let near = usable(1 << 20);
        let ks = keys(&["e", "g"]);
        let r = near.reserve(&ks).unwrap();
        // Redis answered, then the generation changed before the reply was stored.
        near.invalidate(["g"]);
        near.fill(r, lasting(vec![Some(b"old".to_vec()), Some(b"1".to_vec())]));
        assert!(
            near.lookup(&ks).is_none(),
            "the stale generation must not land"
        );
        assert!(
            near.lookup(&keys(&["e"])).is_some(),
            "the untouched key did land"
        );
    }

    #[test]
    fn a_newer_reservation_supersedes_an_older_one() {
        let near = usable(1 << 20);
        let ks = keys(&["g"]);
        let old = near.reserve(&ks).unwrap();
        let new = near.reserve(&ks).unwrap();
        near.fill(new, lasting(vec![Some(b"2".to_vec())]));
        near.fill(old, lasting(vec![Some(b"1".to_vec())]));
        assert_eq!(near.lookup(&ks).unwrap().0[0].as_deref(), Some(&b"2"[..]));
    }

    #[test]
    fn losing_tracking_drops_values_and_pending_fills() {
        let near = usable(1 << 20);
        let ks = keys(&["a"]);
        let r = near.reserve(&ks).unwrap();
        near.fill(r, lasting(vec![Some(b"x".to_vec())]));
        let pending = near.reserve(&keys(&["b"])).unwrap();
        near.set_usable(false);
        assert!(near.lookup(&ks).is_none());
        assert!(
            near.reserve(&ks).is_none(),
            "no fills while tracking is down"
        );
        near.set_usable(true);
        near.fill(pending, lasting(vec![Some(b"y".to_vec())]));
        assert!(
            near.lookup(&keys(&["b"])).is_none(),
            "a read sent before the drop must not fill after it"
        );
        assert_eq!(near.bytes(), 0);
    }

    #[test]
    fn stays_within_its_byte_bound_dropping_the_least_recently_used() {
        let value = vec![0u8; 100];
        let per = charge("k0", &Some(Bytes::from(value.clone())));
        let near = usable(per * 3);
        for i in 0..3 {
            let r = near.reserve(&keys(&[&format!("k{i}")])).unwrap();
            near.fill(r, lasting(vec![Some(value.clone())]));
        }
        // Touch k0 so k1 is the least recently used.
        assert!(near.lookup(&keys(&["k0"])).is_some());
        let r = near.reserve(&keys(&["k3"])).unwrap();
        near.fill(r, lasting(vec![Some(value.clone())]));
        assert!(near.bytes() <= per * 3);
        assert!(near.lookup(&keys(&["k1"])).is_none());
        for k in ["k0", "k2", "k3"] {
            assert!(near.lookup(&keys(&[k])).is_some(), "{k} kept");
        }
        assert_eq!(near.counts().evictions, 1);
    }

    #[test]
    fn a_value_past_its_redis_ttl_is_not_served() {
        let near = usable(1 << 20);
        let r = near.reserve(&keys(&["e", "g"])).unwrap();
        let expires = Some(Instant::now() + std::time::Duration::from_millis(30));
        near.fill(
            r,
            vec![
                Fill {
                    value: Some(Bytes::from_static(b"v")),
                    expires,
                },
                Fill::lasting(None),
            ],
        );
        assert!(near.lookup(&keys(&["e", "g"])).is_some());
        std::thread::sleep(std::time::Duration::from_millis(40));
        assert!(near.lookup(&keys(&["e", "g"])).is_none());
        assert!(
            near.lookup(&keys(&["g"])).is_some(),
            "keys without a TTL stay"
        );
    }

    #[test]
    fn a_value_larger_than_the_bound_is_not_kept() {
        let near = usable(128);
        let r = near.reserve(&keys(&["big"])).unwrap();
        near.fill(r, lasting(vec![Some(vec![0u8; 1024])]));
        assert!(near.lookup(&keys(&["big"])).is_none());
        assert_eq!(near.bytes(), 0);
    }

    #[test]
    fn abandoned_reservations_leave_nothing_behind() {
        let near = usable(1 << 20);
        let r = near.reserve(&keys(&["a", "b"])).unwrap();
        near.abandon(r);
        assert!(near.lookup(&keys(&["a"])).is_none());
        assert_eq!(near.slots().map.len(), 0);
    }
}
