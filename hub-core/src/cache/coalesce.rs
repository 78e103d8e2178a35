//! Single-flight coalescing of concurrent misses (docs/contract/cache-design.md section 6).
//!
//! The first request to miss a key becomes its *leader* and runs the handler; requests that
//! miss the same key while the leader runs become *waiters* and await the leader's response
//! instead of running the handler themselves.
//!
//! The map only ever holds keys whose leader is running: the entry is inserted when a leader
//! is chosen and removed when its [`Leader`] guard is dropped, which happens when the leader
//! finishes, fails, is cancelled or panics. A leader that does not [`publish`](Leader::publish)
//! (error, non-200, cancelled, panicked) closes the channel without a value, and every waiter
//! then runs the handler itself.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

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
}

type Slot = watch::Receiver<Option<Arc<Shared>>>;

/// Keys whose leader is running, per process.
#[derive(Debug, Default)]
pub(crate) struct Flights {
    inflight: Mutex<HashMap<String, Slot>>,
}

/// What a request that missed `key` should do.
pub(crate) enum Join {
    /// Run the handler, then [`Leader::publish`] a 200 response.
    Leader(Leader),
    /// Await the leader with [`wait`].
    Waiter(Slot),
}

impl Flights {
    fn map(&self) -> MutexGuard<'_, HashMap<String, Slot>> {
        // The lock is never held across an await or user code, so poisoning cannot leave the
        // map inconsistent; recover rather than fail requests.
        self.inflight.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Becomes the leader of `key`, or a waiter when a leader is already running.
    pub(crate) fn join(self: &Arc<Self>, key: &str) -> Join {
        let mut map = self.map();
        if let Some(slot) = map.get(key) {
            return Join::Waiter(slot.clone());
        }
        let (tx, rx) = watch::channel(None);
        map.insert(key.to_owned(), rx);
        Join::Leader(Leader {
            flights: self.clone(),
            key: key.to_owned(),
            tx,
        })
    }

    /// Number of keys with a running leader (for tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map().len()
    }
}

/// Held by the request running the handler for a key; dropping it ends the flight.
pub(crate) struct Leader {
    flights: Arc<Flights>,
    key: String,
    tx: watch::Sender<Option<Arc<Shared>>>,
}

impl Leader {
    /// Hands the response to every waiter, then ends the flight.
    pub(crate) fn publish(self, shared: Arc<Shared>) {
        self.tx.send_replace(Some(shared));
    }
}

impl Drop for Leader {
    fn drop(&mut self) {
        // The entry exists exactly while this guard lives (inserted only when absent, removed
        // only here), so it is ours to remove. Dropping `tx` afterwards wakes the waiters:
        // with the published value, or with "closed" when there is none.
        self.flights.map().remove(&self.key);
    }
}

/// The leader's response, or `None` when the leader ended without one.
pub(crate) async fn wait(mut slot: Slot) -> Option<Arc<Shared>> {
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

    fn shared(body: &'static [u8]) -> Arc<Shared> {
        Arc::new(Shared {
            headers: HeaderMap::new(),
            body: Bytes::from_static(body),
            etag: "\"x\"".into(),
        })
    }

    #[tokio::test]
    async fn waiters_get_the_published_response_and_the_entry_is_removed() {
        let flights = Arc::new(Flights::default());
        let Join::Leader(leader) = flights.join("k") else {
            panic!("first is the leader")
        };
        let Join::Waiter(slot) = flights.join("k") else {
            panic!("second waits")
        };
        assert!(matches!(flights.join("other"), Join::Leader(_)));
        let waiter = tokio::spawn(wait(slot));
        leader.publish(shared(b"body"));
        assert_eq!(flights.len(), 0);
        assert_eq!(waiter.await.unwrap().unwrap().body, &b"body"[..]);
        assert!(matches!(flights.join("k"), Join::Leader(_)));
    }

    #[tokio::test]
    async fn a_leader_dropped_without_publishing_releases_waiters_empty_handed() {
        let flights = Arc::new(Flights::default());
        let Join::Leader(leader) = flights.join("k") else {
            panic!()
        };
        let Join::Waiter(slot) = flights.join("k") else {
            panic!()
        };
        let waiter = tokio::spawn(wait(slot));
        drop(leader);
        assert!(waiter.await.unwrap().is_none());
        assert_eq!(flights.len(), 0);
    }

    #[tokio::test]
    async fn a_panicking_leader_removes_its_entry() {
        let flights = Arc::new(Flights::default());
        let f = flights.clone();
        let task = tokio::spawn(async move {
            let _leader = f.join("k");
            panic!("handler panicked");
        });
        assert!(task.await.is_err());
        assert_eq!(flights.len(), 0);
    }
}
