//! Redis cache backend (docs/contract/cache-design.md section 5).
//!
//! Latency guarantees, checked against redis 1.8.1's `ConnectionManager`:
//! - The manager is created lazily (`new_lazy_with_config`), so a dead Redis at startup costs
//!   nothing and never fails construction.
//! - `number_of_retries = 0`: each (re)connect is a single attempt; the crate's default of 6
//!   retries with exponential backoff would block a caller for seconds.
//! - Connect and response timeouts are both the configured timeout, and every call is also
//!   wrapped in `tokio::time::timeout`, a hard bound that holds even if the crate awaits
//!   something internally that its own timeouts do not cover.
//! - A failed connect is an I/O error, which makes the manager start a new single attempt in
//!   the background; a SIGSTOPped server accepts TCP but never answers, which the response
//!   timeout and the hard bound cover.
//! - The circuit breaker skips Redis entirely (no I/O) after repeated failures. Its half-open
//!   probe uses a freshly created manager, so recovery does not depend on a reconnect future
//!   that may have failed long before the server came back.

use std::borrow::Cow;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use redis::cluster::ClusterClient;
use redis::{
    Client, ConnectionAddr, IntoConnectionInfo, ProtocolVersion, RedisConnectionInfo, RedisResult,
};

use super::backend::{BoxFuture, CacheBackend, CacheError, Found};
use super::breaker::{
    BreakerState, CircuitBreaker, DEFAULT_FAILURE_THRESHOLD, DEFAULT_OPEN_FOR, Permit,
};
use super::connection::{Conn, Link, lazy_manager};
use super::near::{Fill, NearCache, NearCounts};
use super::settings::{CacheSettings, redact_url};
use super::tracking::Tracker;
use crate::tables::Table;

/// Minimum interval between two WARN lines of the same kind, so a Redis outage under load
/// produces a handful of log lines rather than one per request.
pub const WARN_INTERVAL: Duration = Duration::from_secs(10);

/// Connection and behaviour options for [`RedisCache`].
#[derive(Clone)]
pub struct RedisOptions {
    /// Redis host name or address.
    pub host: String,
    /// Redis TCP port.
    pub port: u16,
    /// Database number.
    pub db: i64,
    /// Password (AUTH); never logged.
    pub password: Option<String>,
    /// Namespace applied to every key as `{prefix}:`.
    pub prefix: String,
    /// Upper bound on every call (connect included).
    pub timeout: Duration,
    /// Consecutive failures that open the circuit breaker.
    pub breaker_threshold: u32,
    /// How long the open breaker bypasses Redis before probing.
    pub breaker_open_for: Duration,
    /// Byte bound of the near cache; `None` turns it off. Not used with a cluster.
    pub near_max_bytes: Option<usize>,
    /// A `redis://` or `rediss://` (TLS) URL; when set it replaces host, port, db and password.
    pub url: Option<String>,
    /// `host:port` of Redis Cluster nodes; when not empty the cache uses the cluster (with
    /// `password`, if any) instead of `url` or host and port.
    pub cluster_nodes: Vec<String>,
}

impl std::fmt::Debug for RedisOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisOptions")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("db", &self.db)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("breaker_threshold", &self.breaker_threshold)
            .field("breaker_open_for", &self.breaker_open_for)
            .field("near_max_bytes", &self.near_max_bytes)
            .field("url", &self.url.as_deref().map(redact_url))
            .field("cluster_nodes", &self.cluster_nodes)
            .finish()
    }
}

impl RedisOptions {
    /// Options for `127.0.0.1:{port}` with the design defaults (prefix `hub`, 150 ms, 3 / 5 s).
    pub fn local(port: u16) -> Self {
        Self {
            host: "127.0.0.1".into(),
            port,
            db: 0,
            password: None,
            prefix: "hub".into(),
            timeout: Duration::from_millis(150),
            breaker_threshold: DEFAULT_FAILURE_THRESHOLD,
            breaker_open_for: DEFAULT_OPEN_FOR,
            near_max_bytes: None,
            url: None,
            cluster_nodes: Vec::new(),
        }
    }

    /// The same options with a near cache of `max_bytes`.
    pub fn with_near_cache(mut self, max_bytes: usize) -> Self {
        self.near_max_bytes = Some(max_bytes);
        self
    }

    /// Options from validated settings (breaker uses the design defaults).
    pub fn from_settings(s: &CacheSettings) -> Self {
        Self {
            host: s.redis_host.clone(),
            port: u16::try_from(s.redis_port).unwrap_or(6379),
            db: s.redis_db,
            // `REDIS_PASSWORD=` in a `.env` means no password.
            password: s.redis_password.clone().filter(|p| !p.is_empty()),
            prefix: s.redis_key_prefix.clone(),
            timeout: s.timeout(),
            breaker_threshold: DEFAULT_FAILURE_THRESHOLD,
            breaker_open_for: DEFAULT_OPEN_FOR,
            near_max_bytes: s.near_cache_bytes(),
            url: s.redis_url.clone().filter(|u| !u.is_empty()),
            cluster_nodes: s.cluster_nodes(),
        }
    }
}

/// At most one WARN per kind per [`WARN_INTERVAL`].
#[derive(Default)]
struct WarnLimiter {
    last: Mutex<HashMap<&'static str, Instant>>,
}

impl WarnLimiter {
    fn should_log(&self, kind: &'static str) -> bool {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        match last.get(kind) {
            Some(t) if now.duration_since(*t) < WARN_INTERVAL => false,
            _ => {
                last.insert(kind, now);
                true
            }
        }
    }
}

/// Redis-backed [`CacheBackend`] over one multiplexed connection.
///
/// Must be created inside a Tokio runtime (the connection manager spawns a task).
///
/// ```no_run
/// # async fn demo() {
/// use std::time::Duration;
/// use hub_core::cache::{CacheBackend, RedisCache, RedisOptions};
/// let cache = RedisCache::new(RedisOptions::local(6379)).expect("valid options");
/// // Never fails or stalls when Redis is down: errors come back within the timeout.
/// let _ = cache.set("nodes::", b"v", Duration::from_secs(30)).await;
/// # }
/// ```
pub struct RedisCache {
    /// `None` after [`CacheBackend::close`].
    link: Mutex<Option<Link>>,
    layout: KeyLayout,
    timeout: Duration,
    breaker: CircuitBreaker,
    warn: WarnLimiter,
    /// `host:port/db` for log lines; deliberately without credentials.
    target: String,
    /// The near cache and its tracking connection, when enabled.
    tracker: Option<Arc<Tracker>>,
}

impl std::fmt::Debug for RedisCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCache")
            .field("target", &self.target)
            .field("layout", &self.layout)
            .field("timeout", &self.timeout)
            .field("breaker", &self.breaker)
            .field("near", &self.tracker)
            .finish()
    }
}

impl RedisCache {
    /// Creates the backend without touching the network.
    ///
    /// Fails only on unusable options (e.g. an unparsable host); an unreachable server is not
    /// an error here, it shows up later as bypassed calls.
    pub fn new(opts: RedisOptions) -> Result<Self, CacheError> {
        let invalid = |e: redis::RedisError| CacheError::Backend(e.to_string());
        if !opts.cluster_nodes.is_empty() {
            let nodes = opts
                .cluster_nodes
                .iter()
                .map(|node| format!("redis://{node}/"));
            let mut builder = ClusterClient::builder(nodes)
                .retries(0)
                .connection_timeout(opts.timeout)
                .response_timeout(opts.timeout);
            if let Some(pw) = &opts.password {
                builder = builder.password(pw.clone());
            }
            let client = builder.build().map_err(invalid)?;
            return Ok(Self::with_link(
                Link::Cluster {
                    client: Box::new(client),
                    conn: None,
                },
                KeyLayout::cluster(&opts.prefix),
                None,
                format!("cluster {}", opts.cluster_nodes.join(",")),
                &opts,
            ));
        }
        let (info, target) = match &opts.url {
            Some(url) => (
                url.as_str().into_connection_info().map_err(invalid)?,
                redact_url(url),
            ),
            None => {
                let mut redis_info = RedisConnectionInfo::default().set_db(opts.db);
                if let Some(pw) = &opts.password {
                    redis_info = redis_info.set_password(pw);
                }
                let info = ConnectionAddr::Tcp(opts.host.clone(), opts.port)
                    .into_connection_info()
                    .map_err(invalid)?
                    .set_redis_settings(redis_info);
                (info, format!("{}:{}/{}", opts.host, opts.port, opts.db))
            }
        };
        let tracker = match opts.near_max_bytes {
            Some(max) if tokio::runtime::Handle::try_current().is_ok() => {
                // Invalidation pushes need RESP3 on the tracking connection.
                let resp3 = info
                    .redis_settings()
                    .clone()
                    .set_protocol(ProtocolVersion::RESP3);
                let client =
                    Client::open(info.clone().set_redis_settings(resp3)).map_err(invalid)?;
                let near = Arc::new(NearCache::new(max));
                Some(Tracker::start(client, near, opts.timeout))
            }
            _ => None,
        };
        let client = Client::open(info).map_err(invalid)?;
        let manager = lazy_manager(&client, opts.timeout)?;
        Ok(Self::with_link(
            Link::Single {
                client: Box::new(client),
                manager,
            },
            KeyLayout::single(&opts.prefix),
            tracker,
            target,
            &opts,
        ))
    }

    fn with_link(
        link: Link,
        layout: KeyLayout,
        tracker: Option<Arc<Tracker>>,
        target: String,
        opts: &RedisOptions,
    ) -> Self {
        Self {
            link: Mutex::new(Some(link)),
            layout,
            tracker,
            target,
            timeout: opts.timeout,
            breaker: CircuitBreaker::new(opts.breaker_threshold, opts.breaker_open_for),
            warn: WarnLimiter::default(),
        }
    }

    fn is_closed(&self) -> bool {
        self.link
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_none()
    }

    /// The full Redis key for a key given without prefix (`{prefix}:{key}` on one server).
    pub fn full_key(&self, key: &str) -> String {
        self.layout.entry(key)
    }

    /// The full Redis key of the invalidation generation of cache `name` read together with
    /// entry `key` (`{prefix}:gen:{name}` on one server, whatever the key).
    pub fn generation_key(&self, key: &str, name: &str) -> String {
        self.layout.generation(self.layout.shard_of(key), name)
    }

    /// The key prefix this backend applies.
    pub fn prefix(&self) -> &str {
        &self.layout.prefix
    }

    /// Starts the first connection in the background, so the first request does not pay for
    /// the TCP handshake. A failure only counts towards the breaker.
    pub fn warm_up(self: &Arc<Self>) {
        if tokio::runtime::Handle::try_current().is_ok() {
            let this = Arc::clone(self);
            tokio::spawn(async move {
                let _ = this.ping().await;
            });
        }
    }

    fn log_failure(&self, op: &'static str, err: &CacheError) {
        let kind = match err {
            CacheError::Timeout(_) => "timeout",
            _ => "error",
        };
        if self.warn.should_log(kind) {
            tracing::warn!(
                target: "hub::cache",
                op,
                redis = %self.target,
                error = %err,
                "redis call failed; serving without cache (further warnings of this kind \
                 suppressed for {}s)",
                WARN_INTERVAL.as_secs()
            );
        }
    }

    /// Whether the near cache is serving right now (tracking is up).
    pub fn near_cache_usable(&self) -> bool {
        self.tracker.as_ref().is_some_and(|t| t.near().is_usable())
    }

    /// Drops this process' near copies of keys it just wrote (or tried to), without waiting
    /// for Redis' invalidation message: the writer's own next read must see its write, and a
    /// read whose reply is still in flight must not fill the old value afterwards.
    fn forget_locally(&self, keys: impl IntoIterator<Item = String>) {
        if let Some(tracker) = &self.tracker {
            let keys: Vec<String> = keys.into_iter().collect();
            tracker.near().invalidate(keys.iter().map(String::as_str));
        }
    }

    /// The breaker's permission for one call, unless the backend was closed.
    fn admit(&self) -> Result<Permit<'_>, CacheError> {
        if self.is_closed() {
            // Closed: not the server's fault, so the breaker is left alone.
            return Err(CacheError::Backend("cache closed".into()));
        }
        self.breaker.admit().ok_or(CacheError::CircuitOpen)
    }

    /// Runs one Redis operation under the breaker and the hard timeout.
    ///
    /// A server that restarted while this process was idle leaves it holding a dead
    /// connection, which only the next command discovers. That command is sent again once on
    /// a new connection (within the same timeout), so a restart costs no request its cache
    /// and no failure towards the breaker.
    async fn call<T, F, Fut>(&self, op: &'static str, f: F) -> Result<T, CacheError>
    where
        F: Fn(Conn) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let permit = self.admit()?;
        let fresh = permit.is_probe();
        let work = async {
            // Connecting (a cluster's first use) counts against the same hard timeout.
            let conn = Link::connection(&self.link, fresh, self.timeout).await?;
            let result = match f(conn).await {
                Err(e) if !fresh && is_dead_connection(&e) => {
                    let conn = Link::connection(&self.link, true, self.timeout).await?;
                    f(conn).await
                }
                result => result,
            };
            result.map_err(|e| self.redis_error(e))
        };
        self.guarded(op, permit, work).await
    }

    fn redis_error(&self, e: redis::RedisError) -> CacheError {
        if e.is_timeout() {
            CacheError::Timeout(self.timeout)
        } else {
            CacheError::Backend(e.to_string())
        }
    }

    /// Bounds `call` by the hard timeout and reports its outcome to the breaker and the log.
    async fn guarded<T>(
        &self,
        op: &'static str,
        permit: Permit<'_>,
        call: impl Future<Output = Result<T, CacheError>>,
    ) -> Result<T, CacheError> {
        let result = tokio::time::timeout(self.timeout, call)
            .await
            .unwrap_or(Err(CacheError::Timeout(self.timeout)));
        match &result {
            Ok(_) => permit.success(),
            Err(e) => {
                permit.failure();
                self.log_failure(op, e);
            }
        }
        result
    }
}

/// Whether `e` says the connection itself is gone (closed by a restart, reset), not that the
/// server is unreachable, slow or refused the command: only then can a new connection help
/// at once.
fn is_dead_connection(e: &redis::RedisError) -> bool {
    !e.is_timeout() && !e.is_connection_refusal() && (e.is_connection_dropped() || e.is_io_error())
}

impl RedisCache {
    /// One MGET, so the entry and its generation counters are read atomically, and, when
    /// asked, the entry's PTTL in the same round trip (a plain HIT does without it).
    async fn read_entry_and_generations(
        &self,
        keys: Vec<String>,
        with_expiry: bool,
    ) -> Result<Values, CacheError> {
        let keys = &keys;
        if !with_expiry {
            let values = self
                .call("get", |mut c| async move {
                    redis::cmd("MGET")
                        .arg(keys)
                        .query_async::<Vec<Option<Vec<u8>>>>(&mut c)
                        .await
                })
                .await?;
            return Ok((shared(values), None));
        }
        let (values, pttl_ms) = self
            .call("get", |mut c| async move {
                redis::pipe()
                    .cmd("MGET")
                    .arg(keys)
                    .cmd("PTTL")
                    .arg(&keys[0])
                    .query_async::<(Vec<Option<Vec<u8>>>, i64)>(&mut c)
                    .await
            })
            .await?;
        Ok((shared(values), expires_in(pttl_ms)))
    }

    /// The near cache missed: the same MGET on the tracking connection (so Redis tracks the
    /// keys for us), plus the entry's remaining TTL, then a fill that an invalidation arriving
    /// meanwhile cancels. Falls back to the plain read while tracking is down.
    async fn read_tracked(
        &self,
        tracker: &Tracker,
        keys: Vec<String>,
        with_expiry: bool,
    ) -> Result<Values, CacheError> {
        let Some((mut conn, reservation)) = tracker.begin(&keys) else {
            return self.read_entry_and_generations(keys, with_expiry).await;
        };
        let permit = match self.admit() {
            Ok(p) => p,
            Err(e) => {
                tracker.near().abandon(reservation);
                return Err(e);
            }
        };
        let sent = Instant::now();
        let mut pipe = redis::pipe();
        pipe.cmd("MGET").arg(&keys).cmd("PTTL").arg(&keys[0]);
        let read = async {
            pipe.query_async::<(Vec<Option<Vec<u8>>>, i64)>(&mut conn)
                .await
                .map_err(|e| self.redis_error(e))
        };
        match self.guarded("get", permit, read).await {
            Ok((values, pttl_ms)) => {
                let values = shared(values);
                // Measured from before the request, so the local copy never outlives Redis'.
                let left = expires_in(pttl_ms);
                let entry_expires = left.map(|left| sent + left);
                let fills = values
                    .iter()
                    .enumerate()
                    .map(|(i, v)| Fill {
                        value: v.clone(),
                        expires: if i == 0 { entry_expires } else { None },
                    })
                    .collect();
                tracker.near().fill(reservation, fills);
                Ok((values, left))
            }
            Err(e) => {
                tracker.near().abandon(reservation);
                tracker.lost();
                Err(e)
            }
        }
    }
}

/// Where keys live. On one server: `{prefix}:{key}` and `{prefix}:gen:{name}`. On a cluster
/// an entry and the generation counters it is read with must share a hash slot, or the
/// one-round-trip MGET is refused (CROSSSLOT); one tag for everything would put every key on
/// one master. So keys are spread over [`CLUSTER_SHARDS`] tags `{prefix.N}` (N from the entry
/// key), and each tag holds its own copy of every generation counter: an invalidation bumps
/// every copy, still a cost independent of the number of entries.
#[derive(Debug, Clone)]
struct KeyLayout {
    prefix: String,
    /// 0 on one server (no tags).
    shards: u16,
    /// The generation keys of MeshCore Hub's tables, per tag, made once: every lookup reads
    /// those of the tables its response reads.
    table_generations: HashMap<&'static str, Vec<String>>,
}

/// Hash tags keys are spread over on a Redis Cluster. Every instance sharing a cluster must
/// agree on it, so it is a constant rather than a setting.
pub const CLUSTER_SHARDS: u16 = 16;

impl KeyLayout {
    fn single(prefix: &str) -> Self {
        Self::with_shards(prefix, 0)
    }

    fn cluster(prefix: &str) -> Self {
        Self::with_shards(prefix, CLUSTER_SHARDS)
    }

    fn with_shards(prefix: &str, shards: u16) -> Self {
        let mut layout = Self {
            prefix: prefix.to_owned(),
            shards,
            table_generations: HashMap::new(),
        };
        layout.table_generations = Table::ALL
            .iter()
            .map(|table| {
                let keys = layout
                    .shards()
                    .map(|shard| layout.generation(shard, table.name()))
                    .collect();
                (table.name(), keys)
            })
            .collect();
        layout
    }

    /// The tag of entry `key` (FNV-1a, so every process computes the same one).
    fn shard_of(&self, key: &str) -> u16 {
        if self.shards == 0 {
            return 0;
        }
        let hash = key.bytes().fold(0x811c_9dc5_u32, |h, b| {
            (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
        });
        u16::try_from(hash % u32::from(self.shards)).unwrap_or(0)
    }

    /// Every tag (just one on one server).
    fn shards(&self) -> std::ops::Range<u16> {
        0..self.shards.max(1)
    }

    /// `{head}:{tail}`, the head being the prefix, or its tag on a cluster. One allocation:
    /// this runs for every key of every lookup.
    fn key(&self, shard: u16, tail: std::fmt::Arguments<'_>) -> String {
        if self.shards == 0 {
            format!("{}:{tail}", self.prefix)
        } else {
            format!("{{{}.{shard}}}:{tail}", self.prefix)
        }
    }

    fn entry(&self, key: &str) -> String {
        self.key(self.shard_of(key), format_args!("{key}"))
    }

    fn generation(&self, shard: u16, name: &str) -> String {
        self.key(shard, format_args!("gen:{name}"))
    }

    /// [`generation`](Self::generation), borrowed when `name` is a table's.
    fn generation_of(&self, shard: u16, name: &str) -> Cow<'_, str> {
        match self.table_generations.get(name) {
            Some(keys) => Cow::Borrowed(&keys[usize::from(shard)]),
            None => Cow::Owned(self.generation(shard, name)),
        }
    }
}

/// The values an MGET returned, and the entry's remaining time in Redis.
type Values = (Vec<Option<Bytes>>, Option<Duration>);

/// MGET's answer as shared buffers (no copy).
fn shared(values: Vec<Option<Vec<u8>>>) -> Vec<Option<Bytes>> {
    values.into_iter().map(|v| v.map(Bytes::from)).collect()
}

/// A `PTTL` answer as a remaining time: `None` for a missing key (-2) or one without a TTL
/// (-1).
fn expires_in(pttl_ms: i64) -> Option<Duration> {
    u64::try_from(pttl_ms).ok().map(Duration::from_millis)
}

/// A generation counter as stored by INCR: absent is 0, anything but a decimal `u64` is an
/// error (a bypass), never a silently matching value.
fn parse_generation(value: Option<&[u8]>) -> Result<u64, CacheError> {
    match value {
        None => Ok(0),
        Some(bytes) => std::str::from_utf8(bytes)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| CacheError::Backend("generation counter is not an integer".into())),
    }
}

impl CacheBackend for RedisCache {
    fn kind(&self) -> &'static str {
        "redis"
    }

    fn breaker_state(&self) -> Option<BreakerState> {
        Some(self.breaker.state())
    }

    fn near_counts(&self) -> Option<NearCounts> {
        self.tracker.as_ref().map(|t| t.near().counts())
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, CacheError>> {
        Box::pin(async move {
            let full = &self.full_key(key);
            self.call("get", |mut c| async move {
                redis::cmd("GET")
                    .arg(full)
                    .query_async::<Option<Vec<u8>>>(&mut c)
                    .await
            })
            .await
        })
    }

    fn set<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), CacheError>> {
        Box::pin(async move {
            let full = &self.full_key(key);
            // PX in whole milliseconds; never 0, which Redis rejects.
            let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
            let stored = self
                .call("set", |mut c| async move {
                    redis::cmd("SET")
                        .arg(full)
                        .arg(value)
                        .arg("PX")
                        .arg(ms)
                        .query_async::<()>(&mut c)
                        .await
                })
                .await;
            self.forget_locally([self.full_key(key)]);
            stored
        })
    }

    fn lookup<'a>(
        &'a self,
        key: &'a str,
        names: &'a [&'static str],
        with_expiry: bool,
    ) -> BoxFuture<'a, Result<Found, CacheError>> {
        Box::pin(async move {
            // On a cluster all of them carry the entry's hash tag: one slot, one round trip.
            let shard = self.layout.shard_of(key);
            let mut keys = Vec::with_capacity(names.len() + 1);
            keys.push(Cow::Owned(self.layout.entry(key)));
            keys.extend(
                names
                    .iter()
                    .map(|name| self.layout.generation_of(shard, name)),
            );
            let held = self.tracker.as_ref().and_then(|t| t.near().lookup(&keys));
            let owned = || keys.iter().map(|k| k.to_string()).collect();
            let (values, expires_in) = match (held, &self.tracker) {
                (Some((values, deadline)), _) => (
                    values,
                    deadline.map(|d| d.saturating_duration_since(Instant::now())),
                ),
                (None, Some(tracker)) => self.read_tracked(tracker, owned(), with_expiry).await?,
                (None, None) => {
                    self.read_entry_and_generations(owned(), with_expiry)
                        .await?
                }
            };
            let mut values = values.into_iter();
            let entry = values.next().flatten();
            let generations = values
                .map(|v| parse_generation(v.as_deref()))
                .collect::<Result<Vec<u64>, CacheError>>()?;
            if generations.len() != names.len() {
                return Err(CacheError::Backend(format!(
                    "MGET returned {} generations for {} names",
                    generations.len(),
                    names.len()
                )));
            }
            Ok(Found {
                entry,
                generations,
                expires_in,
            })
        })
    }

    fn invalidate_many<'a>(
        &'a self,
        names: &'a [&'a str],
    ) -> BoxFuture<'a, Result<(), CacheError>> {
        Box::pin(async move {
            if names.is_empty() {
                return Ok(());
            }
            // One pipeline per hash tag (a single one on one server): one INCR per name and
            // tag, nothing else.
            let keys: Vec<Vec<String>> = self
                .layout
                .shards()
                .map(|shard| {
                    names
                        .iter()
                        .map(|n| self.layout.generation(shard, n))
                        .collect()
                })
                .collect();
            let pipes: &Vec<redis::Pipeline> = &keys
                .iter()
                .map(|tagged| {
                    let mut pipe = redis::pipe();
                    for key in tagged {
                        pipe.cmd("INCR").arg(key).ignore();
                    }
                    pipe
                })
                .collect();
            let bumped = self
                .call("invalidate", |mut c| async move {
                    for pipe in pipes {
                        pipe.query_async::<()>(&mut c).await?;
                    }
                    Ok(())
                })
                .await;
            self.forget_locally(keys.into_iter().flatten());
            bumped
        })
    }

    fn invalidate<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<u64, CacheError>> {
        Box::pin(async move {
            let keys: Vec<String> = self
                .layout
                .shards()
                .map(|shard| self.layout.generation(shard, name))
                .collect();
            let bumped = self
                .call("invalidate", |mut c| {
                    let keys = keys.clone();
                    async move {
                        // Every copy is bumped; the first one's value is reported.
                        let mut first = None;
                        for key in &keys {
                            let generation: u64 =
                                redis::cmd("INCR").arg(key).query_async(&mut c).await?;
                            first.get_or_insert(generation);
                        }
                        Ok(first.unwrap_or_default())
                    }
                })
                .await;
            self.forget_locally(keys);
            bumped
        })
    }

    fn ping(&self) -> BoxFuture<'_, bool> {
        Box::pin(async move {
            self.call("ping", |mut c| async move {
                redis::cmd("PING").query_async::<String>(&mut c).await
            })
            .await
            .is_ok()
        })
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            // Dropping the last connection clone aborts its connection task.
            self.link.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(tracker) = &self.tracker {
                tracker.stop();
            }
        })
    }
}
