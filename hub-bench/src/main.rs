//! `hub-bench`: seeds a database and measures the real API under load, on loopback only.
//!
//! For each (endpoint, mode) row it starts the application from [`hub_api::app::build`] on a
//! fresh `127.0.0.1` port over a fresh connection pool, times the first request, warms up,
//! then runs `--clients` concurrent keep-alive clients until `--duration` or
//! `--max-requests`, whichever comes first, and prints one table row: requests/second and
//! latency percentiles. Everything stops by itself. See docs/benchmarks.md.
//!
//! Client and server share the machine's cores, so the numbers are for the pair; compare
//! rows of one run, or runs on the same machine.

mod change_check;
mod freshness;
mod matrix;
mod static_server;

use clap::{Parser, ValueEnum};
use hub_api::seed::{self, Scale, SeedArgs};
use hub_api::state::AppState;
use hub_core::cache::observer::{CacheObserver, Lookup};
use hub_core::cache::runtime::ResponseCache;
use hub_core::cache::{BoxFuture, CacheBackend, CacheError, NullCache, RedisCache, RedisOptions};
use hub_core::test_support::RedisServer;
use poem::listener::{Acceptor, Listener, TcpAcceptor, TcpListener};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The endpoints measured by default (paths with query). An endpoint the server does not
/// serve (404) gets a "not served" row instead of numbers, so a route can be listed here
/// before it lands.
const ENDPOINTS: &[&str] = &[
    "/health",
    "/api/v1/nodes?limit=50",
    "/api/v1/dashboard/stats",
    // What the web dashboard's Packets and Routes pages ask for.
    "/api/v1/packet-groups?limit=20&sort=time&order=desc",
    "/api/v1/routes",
];

/// The endpoints of `--sequential` by default: every list's first page, alone and with its
/// common filters, and every dashboard endpoint. `{observer}` becomes the public key of an
/// observer of the database and `{week_ago}` the time 7 days ago, so the filters select rows
/// whatever the seed.
const UNCACHED_ENDPOINTS: &[&str] = &[
    "/api/v1/nodes?limit=50",
    "/api/v1/nodes?limit=50&adv_type=repeater",
    "/api/v1/nodes?limit=50&search=a",
    "/api/v1/advertisements?limit=50",
    "/api/v1/advertisements?limit=50&observed_by={observer}",
    "/api/v1/advertisements?limit=50&route_type=all",
    "/api/v1/advertisements?limit=50&search=a",
    "/api/v1/advertisements?limit=50&since={week_ago}",
    "/api/v1/messages?limit=50",
    "/api/v1/messages?limit=50&observed_by={observer}",
    "/api/v1/messages?limit=50&channel_idx=17",
    "/api/v1/messages?limit=50&search=a",
    "/api/v1/messages?limit=50&since={week_ago}",
    "/api/v1/packets?limit=50",
    "/api/v1/packets?limit=50&observed_by={observer}",
    "/api/v1/packets?limit=50&channel_idx=17",
    "/api/v1/packets?limit=50&search=a",
    "/api/v1/packets?limit=50&since={week_ago}",
    "/api/v1/packet-groups?limit=20&sort=time&order=desc",
    "/api/v1/packet-groups?limit=20&channel_idx=17",
    "/api/v1/packet-groups?limit=20&since={week_ago}",
    "/api/v1/telemetry?limit=50",
    "/api/v1/telemetry?limit=50&observed_by={observer}",
    "/api/v1/trace-paths?limit=50",
    "/api/v1/trace-paths?limit=50&observed_by={observer}",
    "/api/v1/channels",
    "/api/v1/routes",
    "/api/v1/user/profiles",
    "/api/v1/dashboard/stats",
    "/api/v1/dashboard/recent-activity",
    "/api/v1/dashboard/activity",
    "/api/v1/dashboard/packet-activity",
    "/api/v1/dashboard/message-activity",
    "/api/v1/dashboard/node-count",
    "/api/v1/dashboard/packet-breakdown",
    "/api/v1/dashboard/routes-overview",
];

/// How responses are cached while measuring. One table row per (endpoint, mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// No response cache and no coalescing: every request runs the handler and reads the
    /// database (the uncached cost).
    Disabled,
    /// What `REDIS_ENABLED=false` serves: no response cache, but concurrent identical
    /// requests share one handler run (coalescing).
    Coalesced,
    /// Redis cache where every lookup misses, without coalescing: each request makes the real
    /// Redis GET, runs the handler and makes the real SET (the cost of a cold cache; see
    /// [`ColdRedisCache`]).
    Miss,
    /// Redis cache warmed by the first request: every measured request is a HIT.
    Hit,
    /// As `hit`, with the near cache (64 MiB) in front of Redis: HITs are served from
    /// process memory while Redis tracks them.
    NearHit,
    /// Not hub: a bare poem server answering with the bytes and headers of the endpoint's
    /// near-cache HIT, fetched from the real app first (the ceiling of `near-hit`; see
    /// `static_server.rs`).
    Static,
    /// As `hit`, with stale-while-revalidate (`--grace` seconds past the TTL): with a short
    /// `--ttl`, shows whether expiries reach the clients' latency (compare with `hit`).
    HitGrace,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Disabled => "disabled",
            Mode::Coalesced => "coalesced",
            Mode::Miss => "miss",
            Mode::Hit => "hit",
            Mode::NearHit => "near-hit",
            Mode::Static => "static",
            Mode::HitGrace => "hit-grace",
        }
    }

    /// The response cache the server runs with in this mode.
    fn cache(self, redis: Option<&BenchRedis>, args: &Args) -> Result<ResponseCache, String> {
        let ttl = Duration::from_secs(args.ttl);
        let grace = if self == Mode::HitGrace {
            Duration::from_secs(args.grace)
        } else {
            Duration::ZERO
        };
        let null = || ResponseCache::new(Arc::new(NullCache), ttl, ttl);
        let redis = match (self, redis) {
            (Mode::Disabled, _) => return Ok(null().without_coalescing()),
            (Mode::Coalesced, _) => return Ok(null()),
            (_, Some(redis)) => redis,
            (_, None) => return Err("the miss and hit modes need Redis".into()),
        };
        let mut options = RedisOptions {
            // A prefix per row: no row ever sees another row's entries.
            prefix: format!("bench{}", redis.next_prefix()),
            ..RedisOptions::local(redis.port)
        };
        if matches!(self, Mode::NearHit | Mode::Static) {
            options = options.with_near_cache(64 << 20);
        }
        let redis = RedisCache::new(options).map_err(|e| format!("redis: {e}"))?;
        Ok(match self {
            Mode::Miss => {
                ResponseCache::new(Arc::new(ColdRedisCache(redis)), ttl, ttl).without_coalescing()
            }
            _ => ResponseCache::new(Arc::new(redis), ttl, ttl).with_grace(grace),
        })
    }
}

/// Measurement harness for the `miss` mode: a real [`RedisCache`] whose lookups make the
/// real round trip and then report "not found", so every request pays exactly what a cold
/// cache costs (GET, handler, SET) however many clients run at once. Not for use elsewhere.
struct ColdRedisCache(RedisCache);

impl CacheBackend for ColdRedisCache {
    fn kind(&self) -> &'static str {
        "redis (every lookup a miss)"
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, CacheError>> {
        Box::pin(async move { self.0.get(key).await.map(|_| None) })
    }

    fn set<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), CacheError>> {
        self.0.set(key, value, ttl)
    }

    fn invalidate<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<u64, CacheError>> {
        self.0.invalidate(name)
    }

    fn ping(&self) -> BoxFuture<'_, bool> {
        self.0.ping()
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        self.0.close()
    }
}

/// The Redis server of the cache modes: `--redis-port`, or a `redis-server` the tests' own
/// support starts on a free loopback port and stops at the end.
struct BenchRedis {
    port: u16,
    /// The server this command started, if it did.
    _server: Option<RedisServer>,
    rows: AtomicU64,
}

impl BenchRedis {
    fn start(port: Option<u16>) -> Result<Self, String> {
        let (port, server) = match port {
            Some(port) => (port, None),
            None => {
                let server = std::panic::catch_unwind(RedisServer::start).map_err(|_| {
                    "starting redis-server failed (install it, or pass --redis-port)".to_string()
                })?;
                (server.port(), Some(server))
            }
        };
        Ok(Self {
            port,
            _server: server,
            rows: AtomicU64::new(0),
        })
    }

    fn next_prefix(&self) -> u64 {
        self.rows.fetch_add(1, Ordering::Relaxed)
    }
}

/// Seed a database and benchmark hub's API on a loopback port.
#[derive(Parser, Debug)]
#[command(version, about, long_about = None)]
struct Args {
    /// SQLite file to benchmark. Default: a temporary file, deleted at the end.
    #[arg(long, conflicts_with = "database_url")]
    db: Option<PathBuf>,
    /// Database URL to benchmark instead of a SQLite file (e.g. `postgres://...`); seeded
    /// like `--db` when it has no nodes.
    #[arg(long)]
    database_url: Option<String>,
    /// Use `--db` / `--database-url` as it is when it already has nodes (skip seeding);
    /// without it, a database that has data is an error.
    #[arg(long)]
    reuse: bool,
    /// Scale to seed.
    #[arg(long, value_enum, default_value_t = Scale::Large)]
    scale: Scale,
    /// Seed of the generated network.
    #[arg(long, default_value_t = seed::DEFAULT_SEED)]
    seed: u64,
    /// Concurrent clients.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1024))]
    clients: u32,
    /// Seconds of measurement per row.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Stop a row after this many requests even if `--duration` has not passed.
    #[arg(long, default_value_t = 200_000)]
    max_requests: u64,
    /// Seconds of unmeasured warm-up per row, after the first request.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Endpoint to measure (path and query); repeatable. Default: /health, /api/v1/nodes?limit=50,
    /// /api/v1/dashboard/stats, /api/v1/packet-groups?limit=20&sort=time&order=desc,
    /// /api/v1/routes.
    #[arg(long = "endpoint")]
    endpoints: Vec<String>,
    /// Cache mode; repeatable. Default: every mode.
    #[arg(long = "mode", value_enum)]
    modes: Vec<Mode>,
    /// Measure every row this many times, the rows of one round next to each other, and
    /// print each ratio's median over the rounds: a noisy machine's drift moves whole
    /// rounds, so the median of per-round ratios holds where a single row does not (e.g.
    /// `--rounds 5 --mode near-hit --mode static`).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    rounds: u32,
    /// Redis port on 127.0.0.1 for the `miss` and `hit` modes. Default: start a
    /// `redis-server` on a free port for the run.
    #[arg(long)]
    redis_port: Option<u16>,
    /// Keep the temporary database (its path is printed).
    #[arg(long)]
    keep: bool,
    /// TTL in seconds of cached responses (all cache modes). Short TTLs with a long
    /// `--duration` measure what expiries cost (e.g. `--ttl 5 --duration 60`).
    #[arg(long, default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..))]
    ttl: u64,
    /// REDIS_CACHE_GRACE in seconds for the `hit-grace` mode (the other modes run without).
    #[arg(long, default_value_t = 30)]
    grace: u64,
    /// Instead of the table: send this many concurrent identical cold requests to each
    /// endpoint, with and without coalescing of concurrent misses, and report how many times
    /// the handler ran (e.g. `--coalescing-check 64`).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10_000))]
    coalescing_check: Option<u32>,
    /// Instead of the table: with the cache disabled, per endpoint one warm-up request, then
    /// N sequential requests; prints the warm-up's time (before the process kept any per-day
    /// aggregate of it), their median and slowest (what a user waits for a page no cache
    /// holds). Default endpoints: every list's first page with and without common filters,
    /// and every dashboard endpoint.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    sequential: Option<u32>,
    /// Instead of the table: every list endpoint of the OpenAPI document alone and with each
    /// of its filters alone (a value that matches rows of the database), and every dashboard
    /// endpoint, uncached: the first request after a start, then the median and max of N
    /// sequential requests after 10 s of background reads (e.g. `--matrix 5`).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    matrix: Option<u32>,
    /// Instead of the table: open the change watcher (`hub_core::changes`) on the database
    /// and time N checks with no writes (the gate), then N checks each after one message is
    /// inserted through another connection; prints median, p99 and max (e.g.
    /// `--change-check 1000`).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    change_check: Option<u32>,
    /// Instead of the table: against a `hub-api serve` process (see `--server-bin`) with the
    /// Redis cache (near cache on) and the data-change watch at their defaults, `--clients`
    /// clients poll the dashboard and list pages for 10 s with no writer, then for SECS
    /// seconds while another process writes 10 rows/s as MeshCore Hub's collector does (and once deletes the oldest day of messages); prints
    /// how soon each write shows, the throughput kept, the server's resident memory and Redis
    /// keys (e.g. `--freshness 600`). The writer undoes its writes at the end.
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(10..=86_400))]
    freshness: Option<u64>,
    /// The `hub-api` binary `--freshness` runs as its server (`hub-api serve`, a child
    /// process whose resident memory is measured alone). Default: `hub-api` beside this
    /// binary. Settings the bench does not set (database, address, Redis) come from the
    /// environment, as `serve` reads them.
    #[arg(
        long,
        value_name = "PATH",
        requires = "freshness",
        conflicts_with = "in_process"
    )]
    server_bin: Option<PathBuf>,
    /// Run `--freshness`'s server inside the bench process instead of as `hub-api serve`:
    /// no second binary needed, but the measured memory is then the whole bench's.
    #[arg(long, requires = "freshness")]
    in_process: bool,
    /// The writer process of `--freshness` (started by it; commands on stdin).
    #[arg(long, hide = true)]
    freshness_writer: bool,
}

/// One row of the result table.
struct Row {
    endpoint: String,
    mode: Mode,
    outcome: Outcome,
}

enum Outcome {
    /// The endpoint answered 404: not part of this build.
    NotServed,
    Measured(Stats),
}

struct Stats {
    first: Duration,
    requests: u64,
    errors: u64,
    /// Successful responses with `X-Cache: HIT`.
    hits: u64,
    elapsed: Duration,
    /// Latencies of successful measured requests, sorted, in microseconds.
    micros: Vec<u64>,
}

impl Stats {
    fn percentile(&self, q: f64) -> f64 {
        if self.micros.is_empty() {
            return f64::NAN;
        }
        let rank = ((q * self.micros.len() as f64).ceil() as usize).clamp(1, self.micros.len());
        self.micros[rank - 1] as f64 / 1000.0
    }

    fn hit_percent(&self) -> f64 {
        100.0 * self.hits as f64 / (self.micros.len() as f64).max(1.0)
    }

    fn rps(&self) -> f64 {
        self.micros.len() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            std::env::var("LOG_LEVEL").unwrap_or_else(|_| "warn,hub_api=info".into()),
        ))
        .with_target(false)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    if let Some(url) = &args.database_url {
        return bench(&args, url).await;
    }
    let (path, temporary) = match &args.db {
        Some(path) => (path.clone(), false),
        None => (
            std::env::temp_dir().join(format!("hub-bench-{}.db", std::process::id())),
            true,
        ),
    };
    let result = bench(&args, &format!("sqlite://{}", path.display())).await;
    if temporary && !args.keep {
        for suffix in ["", "-wal", "-shm"] {
            let mut file = path.clone().into_os_string();
            file.push(suffix);
            std::fs::remove_file(file).ok();
        }
    } else if temporary {
        println!("database kept at {}", path.display());
    }
    result
}

async fn bench(args: &Args, url: &str) -> Result<(), String> {
    if args.freshness_writer {
        // Its stdout is `--freshness`'s report channel: nothing else may print there.
        return freshness::writer(url).await;
    }
    // Before seeding: a missing server binary should not wait for a seed to say so.
    let placement = match (args.freshness, args.in_process) {
        (None, _) => None,
        (Some(_), true) => Some(freshness::Placement::InProcess),
        (Some(_), false) => Some(freshness::Placement::process(args.server_bin.clone())?),
    };
    prepare(args, url).await?;
    if let (Some(secs), Some(placement)) = (args.freshness, placement) {
        return freshness::freshness(url, secs, args.clients, args.redis_port, &placement).await;
    }
    if let Some(n) = args.sequential {
        return sequential(args, url, n).await;
    }
    if let Some(n) = args.matrix {
        return matrix::matrix(url, n).await;
    }
    if let Some(n) = args.change_check {
        return change_check::change_check(url, n).await;
    }

    let endpoints: Vec<String> = if args.endpoints.is_empty() {
        ENDPOINTS.iter().map(|e| e.to_string()).collect()
    } else {
        args.endpoints.clone()
    };
    if let Some(n) = args.coalescing_check {
        return coalescing_check(url, &endpoints, n).await;
    }
    let modes = if args.modes.is_empty() {
        Mode::value_variants().to_vec()
    } else {
        args.modes.clone()
    };
    println!(
        "benchmark: {} clients, {:.1} s per row (at most {} requests), {:.1} s warm-up, \
         cache ttl {} s (grace {} s in hit-grace), loopback",
        args.clients, args.duration, args.max_requests, args.warmup, args.ttl, args.grace
    );
    let redis = if modes
        .iter()
        .any(|m| !matches!(m, Mode::Disabled | Mode::Coalesced))
    {
        Some(BenchRedis::start(args.redis_port)?)
    } else {
        None
    };
    let mut rounds = Vec::new();
    for round in 1..=args.rounds {
        if args.rounds > 1 {
            println!("round {round} of {}", args.rounds);
        }
        let mut rows = Vec::new();
        for endpoint in &endpoints {
            for mode in &modes {
                let cache = mode.cache(redis.as_ref(), args)?;
                let outcome = match mode {
                    Mode::Static => static_server::measure(args, url, endpoint, cache).await?,
                    _ => measure(args, url, endpoint, cache).await?,
                };
                let row = Row {
                    endpoint: endpoint.clone(),
                    mode: *mode,
                    outcome,
                };
                // Print as we go: a long run shows progress, and a later failure keeps the
                // rows.
                if rows.is_empty() {
                    print_header();
                }
                print_row(&row);
                rows.push(row);
            }
        }
        rounds.push(rows);
    }
    print_ratios(&rounds);
    Ok(())
}

/// Throughput of each cache mode relative to `disabled` (and of `near-hit` relative to `hit`
/// and `static`), per endpoint: ratios of rows of one round, which cancel most of a noisy
/// machine's drift; with several rounds, the median of the rounds' ratios and their range.
fn print_ratios(rounds: &[Vec<Row>]) {
    let rps = |rows: &[Row], endpoint: &str, mode: Mode| {
        rows.iter()
            .find(|r| r.endpoint == endpoint && r.mode == mode)
            .and_then(|r| match &r.outcome {
                Outcome::Measured(s) => Some(s.rps()),
                Outcome::NotServed => None,
            })
    };
    // `(mode / base, mode, base)` req/s in every round where both were measured.
    let ratios = |endpoint: &str, mode: Mode, base: Mode| -> Vec<(f64, f64, f64)> {
        rounds
            .iter()
            .filter_map(|rows| {
                let value = rps(rows, endpoint, mode)?;
                let base = rps(rows, endpoint, base)?;
                Some((value / base.max(1e-9), value, base))
            })
            .collect()
    };
    let Some(first) = rounds.first() else {
        return;
    };
    let mut endpoints: Vec<&str> = first.iter().map(|r| r.endpoint.as_str()).collect();
    endpoints.dedup();
    let pairs = [
        (Mode::NearHit, Mode::Hit),
        (Mode::NearHit, Mode::Static),
        (Mode::Coalesced, Mode::Disabled),
        (Mode::Miss, Mode::Disabled),
        (Mode::Hit, Mode::Disabled),
        (Mode::NearHit, Mode::Disabled),
        (Mode::HitGrace, Mode::Disabled),
    ];
    for endpoint in endpoints {
        for (mode, base) in pairs {
            let mut values = ratios(endpoint, mode, base);
            if values.is_empty() {
                continue;
            }
            values.sort_by(|a, b| a.0.total_cmp(&b.0));
            let median = values[values.len() / 2].0;
            let line = format!(
                "{endpoint}: {} / {} = {median:.2}x req/s",
                mode.name(),
                base.name()
            );
            match values.as_slice() {
                [(_, value, base)] => println!("{line} ({value:.0} / {base:.0})"),
                [(low, ..), .., (high, ..)] => println!(
                    "{line} (median of {} rounds, {low:.2}-{high:.2})",
                    values.len()
                ),
                [] => {}
            }
        }
    }
}

/// Seeds the database, or checks that `--reuse` has something to reuse.
async fn prepare(args: &Args, url: &str) -> Result<(), String> {
    let db = hub_core::db::connect(url)
        .await
        .map_err(|e| format!("database: {e}"))?;
    hub_core::db::prepare_schema(&db)
        .await
        .map_err(|e| format!("database: {e}"))?;
    let nodes = seed::count_rows(&db, seed::tables::Table::Nodes)
        .await
        .map_err(|e| format!("database: {e}"))?;
    if nodes > 0 {
        if !args.reuse {
            return Err(format!(
                "{url} already has {nodes} nodes: pass --reuse to benchmark it as it is, or remove it"
            ));
        }
        println!("reusing {url} ({nodes} nodes)");
    } else {
        let summary = seed::seed_database(
            &db,
            &SeedArgs {
                scale: args.scale,
                seed: args.seed,
                ..SeedArgs::default()
            },
        )
        .await
        .map_err(|e| e.to_string())?;
        println!("{summary}");
    }
    db.close().await.ok();
    Ok(())
}

/// Counts the runtime's events: requests of cached operations and coalesced waiters.
#[derive(Default)]
struct Executions {
    requests: AtomicU64,
    coalesced: AtomicU64,
}

impl CacheObserver for Executions {
    fn lookup(&self, _name: &'static str, _outcome: Lookup) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }
    fn coalesced(&self, _name: &'static str) {
        self.coalesced.fetch_add(1, Ordering::Relaxed);
    }
}

/// `--coalescing-check N`: N concurrent identical requests against a cold (null) cache, with
/// and without coalescing. Every request that was not served by a concurrent leader ran the
/// handler, so handler runs = requests - coalesced.
async fn coalescing_check(url: &str, endpoints: &[String], n: u32) -> Result<(), String> {
    println!("coalescing: {n} concurrent identical requests on a cold cache, in process");
    for endpoint in endpoints {
        let mut report = Vec::new();
        for coalescing in [true, false] {
            let db = hub_core::db::connect(url)
                .await
                .map_err(|e| format!("database: {e}"))?;
            let executions = Arc::new(Executions::default());
            let ttl = Duration::from_secs(3600);
            let mut cache =
                ResponseCache::new(Arc::new(NullCache), ttl, ttl).with_observer(executions.clone());
            if !coalescing {
                cache = cache.without_coalescing();
            }
            let state = AppState::new(db.clone(), cache);
            let app = Arc::new(hub_api::app::build(state));
            let started = Instant::now();
            let mut tasks = tokio::task::JoinSet::new();
            for _ in 0..n {
                let app = app.clone();
                let uri: poem::http::Uri =
                    endpoint.parse().map_err(|e| format!("{endpoint}: {e}"))?;
                tasks.spawn(async move {
                    use poem::Endpoint;
                    let resp = app
                        .get_response(poem::Request::builder().uri(uri).finish())
                        .await;
                    let status = resp.status();
                    let body = resp.into_body().into_bytes().await.unwrap_or_default();
                    (status, body)
                });
            }
            let mut bodies = std::collections::HashSet::new();
            let mut failed = 0;
            while let Some(done) = tasks.join_next().await {
                match done {
                    Ok((status, body)) if status.is_success() => {
                        bodies.insert(body);
                    }
                    _ => failed += 1,
                }
            }
            let took = started.elapsed();
            db.close().await.ok();
            let requests = executions.requests.load(Ordering::Relaxed);
            let runs = requests - executions.coalesced.load(Ordering::Relaxed);
            if requests == 0 {
                report.push("not a cached operation".to_string());
                break;
            }
            report.push(format!(
                "{} {runs} handler run(s) in {:.1} ms ({} distinct bodies, {failed} failed)",
                if coalescing {
                    "with coalescing:"
                } else {
                    "without:"
                },
                took.as_secs_f64() * 1000.0,
                bodies.len()
            ));
        }
        println!("  GET {endpoint}: {}", report.join("; "));
    }
    Ok(())
}

/// `--sequential N`: the median of N sequential uncached requests per endpoint, after one
/// warm-up, in process against the real app with the null cache and no coalescing.
async fn sequential(args: &Args, url: &str, n: u32) -> Result<(), String> {
    let db = hub_core::db::connect(url)
        .await
        .map_err(|e| format!("database: {e}"))?;
    let endpoints: Vec<String> = if args.endpoints.is_empty() {
        let observer = first_observer(&db).await?;
        let week_ago = hub_core::time::now() - chrono::Duration::days(7);
        let week_ago = week_ago.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        UNCACHED_ENDPOINTS
            .iter()
            .map(|e| {
                e.replace("{observer}", &observer)
                    .replace("{week_ago}", &week_ago)
            })
            .collect()
    } else {
        args.endpoints.clone()
    };
    let ttl = Duration::from_secs(3600);
    let state = AppState::new(
        db.clone(),
        ResponseCache::new(Arc::new(NullCache), ttl, ttl).without_coalescing(),
    );
    // What `serve` reads in the background at startup, before it is asked anything.
    let started = Instant::now();
    hub_api::server::read_kept_values(&state)
        .await
        .map_err(|e| format!("kept counts: {e}"))?;
    let startup_read = started.elapsed().as_secs_f64() * 1000.0;
    let group_hours = state.packet_group_hours.clone();
    let app = hub_api::app::build(state);
    println!("uncached: median of {n} sequential requests after one warm-up, in process");
    println!(
        "(startup: serve's background read of the kept counts (dashboard days, packet-group hours, packet totals) took {startup_read:.0} ms)"
    );
    println!("(first: the warm-up itself, before this process kept any aggregate of it; the");
    println!(" measured requests follow once the reads it started in the background are done)");
    println!("| endpoint | first ms | median ms | max ms | bytes |");
    println!("|---|---:|---:|---:|---:|");
    for endpoint in &endpoints {
        let uri: poem::http::Uri = endpoint.parse().map_err(|e| format!("{endpoint}: {e}"))?;
        let mut millis = Vec::new();
        let mut first = 0.0;
        let mut bytes = 0;
        for round in 0..=n {
            use poem::Endpoint;
            let started = Instant::now();
            let response = app
                .get_response(poem::Request::builder().uri(uri.clone()).finish())
                .await;
            let status = response.status();
            let body = response.into_body().into_bytes().await.unwrap_or_default();
            if !status.is_success() {
                return Err(format!("GET {endpoint}: HTTP {status}"));
            }
            bytes = body.len();
            let elapsed = started.elapsed().as_secs_f64() * 1000.0;
            if round == 0 {
                first = elapsed;
                // What the warm-up started reading in the background, as a server would
                // have read it by the next request a moment later.
                group_hours.settled().await;
            } else {
                millis.push(elapsed);
            }
        }
        millis.sort_by(f64::total_cmp);
        println!(
            "| `{endpoint}` | {first:.1} | {:.1} | {:.1} | {bytes} |",
            millis[millis.len() / 2],
            millis[millis.len() - 1]
        );
    }
    db.close().await.ok();
    Ok(())
}

/// The public key of the observer node that sorts first: the `{observer}` of the default
/// `--sequential` endpoints.
async fn first_observer(db: &sea_orm::DatabaseConnection) -> Result<String, String> {
    use hub_core::entity::nodes;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
    nodes::Entity::find()
        .filter(nodes::Column::IsObserver.eq(true))
        .order_by_asc(nodes::Column::PublicKey)
        .select_only()
        .column(nodes::Column::PublicKey)
        .into_tuple::<String>()
        .one(db)
        .await
        .map_err(|e| format!("database: {e}"))?
        .ok_or_else(|| "the database has no observer node".to_string())
}

/// A listener on a free loopback port, and its address.
async fn loopback_acceptor() -> Result<(TcpAcceptor, std::net::SocketAddr), String> {
    let acceptor = TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await
        .map_err(|e| format!("binding a loopback port: {e}"))?;
    let address = acceptor
        .local_addr()
        .first()
        .and_then(|a| a.as_socket_addr().copied())
        .ok_or("the listener has no socket address")?;
    Ok((acceptor, address))
}

/// One (endpoint, mode) row on a server started for it alone.
async fn measure(
    args: &Args,
    url: &str,
    endpoint: &str,
    cache: ResponseCache,
) -> Result<Outcome, String> {
    with_state(url, cache, async |state| {
        measure_server(args, endpoint, hub_api::app::build(state)).await
    })
    .await?
}

/// Runs `work` on the state of a server over a fresh connection pool to `url` and `cache`,
/// then closes the pool.
async fn with_state<T>(
    url: &str,
    cache: ResponseCache,
    work: impl AsyncFnOnce(AppState) -> T,
) -> Result<T, String> {
    let db = hub_core::db::connect(url)
        .await
        .map_err(|e| format!("database: {e}"))?;
    let done = work(AppState::new(db.clone(), cache)).await;
    db.close().await.ok();
    Ok(done)
}

/// One row: serves `app` on a fresh loopback port, times the first request to `endpoint`,
/// warms up, runs the load clients and stops the server.
async fn measure_server<E>(args: &Args, endpoint: &str, app: E) -> Result<Outcome, String>
where
    E: poem::Endpoint + 'static,
{
    let (acceptor, address) = loopback_acceptor().await?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        poem::Server::new_with_acceptor(acceptor).run_with_graceful_shutdown(
            app,
            async {
                stopped.await.ok();
            },
            Some(Duration::from_secs(5)),
        ),
    );
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients as usize)
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| format!("http client: {e}"))?;
    let target = format!("http://{address}{endpoint}");

    let outcome = async {
        let started = Instant::now();
        let response = client
            .get(&target)
            .send()
            .await
            .map_err(|e| format!("GET {endpoint}: {e}"))?;
        let status = response.status();
        response
            .bytes()
            .await
            .map_err(|e| format!("GET {endpoint}: {e}"))?;
        let first = started.elapsed();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(Outcome::NotServed);
        }
        if !status.is_success() {
            return Err(format!("GET {endpoint}: HTTP {status}"));
        }
        load(&client, &target, args, secs(args.warmup), u64::MAX).await;
        let mut stats = load(
            &client,
            &target,
            args,
            secs(args.duration),
            args.max_requests,
        )
        .await;
        stats.first = first;
        Ok(Outcome::Measured(stats))
    }
    .await;

    stop.send(()).ok();
    server.await.ok();
    outcome
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.clamp(0.0, 3600.0))
}

/// `clients` concurrent request loops on `target` for `duration` or `max` requests.
async fn load(
    client: &reqwest::Client,
    target: &str,
    args: &Args,
    duration: Duration,
    max: u64,
) -> Stats {
    let started = Instant::now();
    let deadline = started + duration;
    let issued = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let hits = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..args.clients {
        let (client, target) = (client.clone(), target.to_string());
        let (issued, errors, hits) = (issued.clone(), errors.clone(), hits.clone());
        tasks.push(tokio::spawn(async move {
            let mut micros = Vec::new();
            while Instant::now() < deadline && issued.fetch_add(1, Ordering::Relaxed) < max {
                let sent = Instant::now();
                let ok = match client.get(&target).send().await {
                    Ok(response) => {
                        let success = response.status().is_success();
                        let hit = response
                            .headers()
                            .get("x-cache")
                            .is_some_and(|v| v.as_bytes() == b"HIT");
                        let ok = response.bytes().await.is_ok() && success;
                        if ok && hit {
                            hits.fetch_add(1, Ordering::Relaxed);
                        }
                        ok
                    }
                    Err(_) => false,
                };
                if ok {
                    micros.push(sent.elapsed().as_micros() as u64);
                } else {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            micros
        }));
    }
    let mut micros = Vec::new();
    for task in tasks {
        micros.extend(task.await.unwrap_or_default());
    }
    let elapsed = started.elapsed();
    micros.sort_unstable();
    let errors = errors.load(Ordering::Relaxed);
    Stats {
        first: Duration::ZERO,
        requests: micros.len() as u64 + errors,
        errors,
        hits: hits.load(Ordering::Relaxed),
        elapsed,
        micros,
    }
}

fn print_header() {
    println!(
        "| {:<28} | {:<9} | {:>9} | {:>8} | {:>6} | {:>5} | {:>10} | {:>8} | {:>8} | {:>8} |",
        "endpoint",
        "mode",
        "first ms",
        "requests",
        "errors",
        "HIT %",
        "req/s",
        "p50 ms",
        "p99 ms",
        "max ms"
    );
    println!(
        "|{:-<30}|{:-<11}|{:->11}|{:->10}|{:->8}|{:->7}|{:->12}|{:->10}|{:->10}|{:->10}|",
        ":", ":", ":", ":", ":", ":", ":", ":", ":", ":"
    );
}

fn print_row(row: &Row) {
    match &row.outcome {
        Outcome::NotServed => println!(
            "| {:<28} | {:<9} | {:>9} | {:>8} | {:>6} | {:>5} | {:>10} | {:>8} | {:>8} | {:>8} |",
            row.endpoint,
            row.mode.name(),
            "404",
            "-",
            "-",
            "-",
            "not served",
            "-",
            "-",
            "-"
        ),
        Outcome::Measured(s) => println!(
            "| {:<28} | {:<9} | {:>9.1} | {:>8} | {:>6} | {:>5.1} | {:>10.0} | {:>8.2} | {:>8.2} | {:>8.2} |",
            row.endpoint,
            row.mode.name(),
            s.first.as_secs_f64() * 1000.0,
            s.requests,
            s.errors,
            s.hit_percent(),
            s.rps(),
            s.percentile(0.50),
            s.percentile(0.99),
            s.percentile(1.0),
        ),
    }
}
