//! Single-flight coalescing of concurrent misses (docs/contract/cache-design.md section 6).
//!
//! The first request to miss a key becomes its *leader* and runs the handler; requests that
//! miss the same key while the leader runs become *waiters* and await the leader's response
//! instead of running the handler themselves. [`Flights::take_part`] is the one place that
//! decides which a request is:
//!
//! - a waiter waits at most the coalescing bound (`CACHE_COALESCE_WAIT_MS`); past it, it runs
//!   the handler itself ([`Flight::Alone`]), so a stalled leader stalls nobody else for long;
//! - when the leader ends without a response (error, non-200, cancelled, panicked), the
//!   waiters join again: the first one back becomes the new leader and the others wait on it,
//!   so a failure costs one more handler run, not one per waiter;
//! - a leader hands its response to the waiters ([`Leader::publish`]) before the response is
//!   written to the store; until that write ends ([`Storing`] dropped), requests that miss the
//!   key get the published response at once ([`Flight::Published`]) instead of running the
//!   handler again while the entry is on its way to Redis.
//!
//! The map only ever holds keys whose leader runs or whose response is being stored: the entry
//! is inserted when a leader is chosen and removed when its [`Leader`] (or the [`Storing`] it
//! became) is dropped, whatever the way it ends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use poem::http::HeaderMap;
use tokio::sync::watch;

/// A leader's successful (200) response, shared with its waiters.
#[derive(Debug)]
pub(crate) struct Shared {
    /// Response headers of the leader (content type and anything the handler set).
    pub headers: HeaderMap,
    /// The body bytes exactly as the leader sent them.
    pub body: Bytes,
    /// Strong ETag of `body`.
    pub etag: String,
    /// Unix seconds when the response was computed (the stored entry's `stored_at`).
    pub computed_at: u64,
}

type Slot = watch::Receiver<Option<Arc<Shared>>>;

/// Keys whose leader is running or storing, per process.
#[derive(Debug, Default)]
pub(crate) struct Flights {
    inflight: Mutex<HashMap<String, Slot>>,
}

/// What a request that missed `key` should do, as [`Flights::take_part`] decided.
pub(crate) enum Flight {
    /// Run the handler, then [`Leader::publish`] a 200 response.
    Lead(Leader),
    /// The leader answered while this request waited: serve its response.
    Collapsed(Arc<Shared>),
    /// The leader had already answered when this request missed, and its response is being
    /// stored: serve it as the entry it is about to be.
    Published(Arc<Shared>),
    /// The wait bound passed: run the handler without coalescing.
    Alone,
}

enum Join {
    Leader(Leader),
    Waiter(Slot),
    Published(Arc<Shared>),
}

impl Flights {
    fn map(&self) -> MutexGuard<'_, HashMap<String, Slot>> {
        // The lock is never held across an await or user code, so poisoning cannot leave the
        // map inconsistent; recover rather than fail requests.
        self.inflight.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn join(self: &Arc<Self>, key: &str) -> Join {
        let mut map = self.map();
        if let Some(slot) = map.get(key) {
            return match slot.borrow().clone() {
                Some(shared) => Join::Published(shared),
                None => Join::Waiter(slot.clone()),
            };
        }
        let (tx, rx) = watch::channel(None);
        map.insert(key.to_owned(), rx);
        Join::Leader(Leader {
            entry: Entry {
                flights: self.clone(),
                key: key.to_owned(),
            },
            tx,
        })
    }

    /// Joins the flight of `key`: leads it, or waits up to `bound` for its leader, re-joining
    /// (and so possibly leading) whenever a leader ends without a response.
    pub(crate) async fn take_part(self: &Arc<Self>, key: &str, bound: Duration) -> Flight {
        let deadline = tokio::time::Instant::now() + bound;
        loop {
            let slot = match self.join(key) {
                Join::Leader(leader) => return Flight::Lead(leader),
                Join::Published(shared) => return Flight::Published(shared),
                Join::Waiter(slot) => slot,
            };
            match tokio::time::timeout_at(deadline, wait(slot)).await {
                Ok(Some(shared)) => return Flight::Collapsed(shared),
                // The leader's entry is already gone (it is removed before the channel
                // closes), so joining again elects exactly one new leader.
                Ok(None) => continue,
                Err(_) => return Flight::Alone,
            }
        }
    }

    /// Number of keys with a running or storing leader (for tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map().len()
    }
}

/// Removes its key from the map when dropped. The entry exists exactly while this guard lives
/// (inserted only when absent, removed only here), so it is ours to remove.
struct Entry {
    flights: Arc<Flights>,
    key: String,
}

impl Drop for Entry {
    fn drop(&mut self) {
        self.flights.map().remove(&self.key);
    }
}

/// Held by the request running the handler for a key; dropping it without publishing ends the
/// flight and sends the waiters back to [`Flights::take_part`].
pub(crate) struct Leader {
    // Declared before `tx`: fields drop in order, so the entry is gone before the channel
    // closes and the waiters that wake up re-join a map without it.
    entry: Entry,
    tx: watch::Sender<Option<Arc<Shared>>>,
}

impl Leader {
    /// Hands the response to every waiter. The flight stays open, answering late requests
    /// with `shared`, until the returned guard is dropped once the response is stored.
    pub(crate) fn publish(self, shared: Arc<Shared>) -> Storing {
        self.tx.send_replace(Some(shared));
        Storing {
            _entry: self.entry,
            _tx: self.tx,
        }
    }
}

/// A published flight whose response is being stored; dropping it ends the flight.
pub(crate) struct Storing {
    _entry: Entry,
    _tx: watch::Sender<Option<Arc<Shared>>>,
}

/// The leader's response, or `None` when the leader ended without one.
async fn wait(mut slot: Slot) -> Option<Arc<Shared>> {
    // `wait_for` checks the current value before reporting a closed channel, so a value
    // published just before the leader's guard dropped is still seen.
    slot.wait_for(Option::is_some)
        .await
        .ok()
        .and_then(|v| v.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONG: Duration = Duration::from_secs(30);

    fn shared(body: &'static [u8]) -> Arc<Shared> {
        Arc::new(Shared {
            headers: HeaderMap::new(),
            body: Bytes::from_static(body),
            etag: "\"x\"".into(),
            computed_at: 0,
        })
    }

    async fn lead(flights: &Arc<Flights>, key: &str) -> Leader {
        match flights.take_part(key, LONG).await {
            Flight::Lead(leader) => leader,
            _ => panic!("expected to lead {key}"),
        }
    }

    fn waiter(flights: &Arc<Flights>, bound: Duration) -> tokio::task::JoinHandle<Flight> {
        let flights = flights.clone();
        tokio::spawn(async move { flights.take_part("k", bound).await })
    }

    #[tokio::test]
    async fn waiters_get_the_published_response_and_late_comers_too_until_it_is_stored() {
        let flights = Arc::new(Flights::default());
        let leader = lead(&flights, "k").await;
        let w = waiter(&flights, LONG);
        tokio::task::yield_now().await;
        let _other = lead(&flights, "other").await;
        let storing = leader.publish(shared(b"body"));
        match w.await.unwrap() {
            Flight::Collapsed(s) => assert_eq!(s.body, &b"body"[..]),
            _ => panic!("the waiter gets the leader's response"),
        }
        assert!(
            matches!(flights.take_part("k", LONG).await, Flight::Published(s) if s.body == b"body"[..])
        );
        drop(storing);
        assert!(matches!(
            flights.take_part("k", LONG).await,
            Flight::Lead(_)
        ));
    }

    #[tokio::test]
    async fn a_failed_leader_is_replaced_by_exactly_one_waiter() {
        let flights = Arc::new(Flights::default());
        let leader = lead(&flights, "k").await;
        let waiters: Vec<_> = (0..8).map(|_| waiter(&flights, LONG)).collect();
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(leader);
        // Exactly one waiter leads; the others still wait on it.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let finished: Vec<_> = waiters.iter().filter(|w| w.is_finished()).collect();
        assert_eq!(finished.len(), 1);
        assert_eq!(flights.len(), 1);
        let mut new_leader = None;
        let mut rest = Vec::new();
        for w in waiters {
            if w.is_finished() {
                new_leader = Some(w.await.unwrap());
            } else {
                rest.push(w);
            }
        }
        let Some(Flight::Lead(new_leader)) = new_leader else {
            panic!("the first waiter back leads")
        };
        drop(new_leader.publish(shared(b"second")));
        for w in rest {
            assert!(matches!(w.await.unwrap(), Flight::Collapsed(s) if s.body == b"second"[..]));
        }
        assert_eq!(flights.len(), 0);
    }

    #[tokio::test]
    async fn waiters_give_up_after_the_bound() {
        let flights = Arc::new(Flights::default());
        let _leader = lead(&flights, "k").await;
        let started = std::time::Instant::now();
        let w = waiter(&flights, Duration::from_millis(50));
        assert!(matches!(w.await.unwrap(), Flight::Alone));
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(50) && waited < Duration::from_secs(2),
            "{waited:?}"
        );
    }

    #[tokio::test]
    async fn a_panicking_leader_removes_its_entry() {
        let flights = Arc::new(Flights::default());
        let f = flights.clone();
        let task = tokio::spawn(async move {
            let _leader = f.take_part("k", LONG).await;
            panic!("handler panicked");
        });
        assert!(task.await.is_err());
        assert_eq!(flights.len(), 0);
    }
}
