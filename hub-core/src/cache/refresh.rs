//! Background refreshes for stale-while-revalidate (docs/caching.md, "Stale while
//! revalidate").
//!
//! A stale entry is answered at once, and its recomputation runs in the background. The
//! handler of the request that found it cannot be moved to a task (it borrows the request and
//! the API value), so the refresh is a copy of the request sent through the whole app again,
//! marked [`Refreshing`]: the same routing, keys, roles and middleware, with a lookup that
//! treats the stale entry as a miss and stores the new response. At most one refresh per cache
//! key runs at a time in a process.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use poem::endpoint::DynEndpoint;
use poem::http::{Method, header};
use poem::{Request, Response};

/// Request extension of a background refresh: its lookup never serves a stale entry.
#[derive(Debug, Clone, Copy)]
pub struct Refreshing;

/// The app refreshes are sent through, and the keys being refreshed.
#[derive(Default)]
pub(crate) struct Refresher {
    app: OnceLock<Weak<dyn DynEndpoint<Output = Response>>>,
    running: Mutex<HashSet<String>>,
}

impl std::fmt::Debug for Refresher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Refresher")
            .field("app", &self.app.get().is_some())
            .field("running", &self.running().len())
            .finish()
    }
}

/// Removes a key from the running set however its refresh ends.
struct Running {
    refresher: Arc<Refresher>,
    key: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.refresher.running().remove(&self.key);
    }
}

impl Refresher {
    fn running(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends refreshes through `app` from now on (the first app installed wins). Weak, so
    /// that the app, which holds the cache, can still be dropped.
    pub(crate) fn install(&self, app: Weak<dyn DynEndpoint<Output = Response>>) {
        let _ = self.app.set(app);
    }

    /// Starts a background refresh of `key` with a copy of `req`, unless one is running or
    /// there is no app (or runtime) to run it; returns whether one started.
    pub(crate) fn start(self: &Arc<Self>, key: &str, req: &Request) -> bool {
        let Some(app) = self.app.get().and_then(Weak::upgrade) else {
            return false;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return false;
        };
        if !self.running().insert(key.to_owned()) {
            return false;
        }
        let running = Running {
            refresher: Arc::clone(self),
            key: key.to_owned(),
        };
        let mut refresh = Request::builder()
            .method(Method::GET)
            .uri(req.uri().clone())
            .finish();
        *refresh.headers_mut() = req.headers().clone();
        // The refresh wants the full response, never a 304.
        refresh.headers_mut().remove(header::IF_NONE_MATCH);
        refresh.extensions_mut().insert(Refreshing);
        runtime.spawn(async move {
            let _running = running;
            if let Err(e) = app.call(refresh).await {
                tracing::debug!(target: "hub::cache", error = %e, "background refresh failed");
            }
        });
        true
    }

    /// Keys whose refresh is running (for tests).
    pub(crate) fn in_flight(&self) -> usize {
        self.running().len()
    }
}
