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

use clap::{Parser, ValueEnum};
use hub_api::seed::{self, Scale, SeedArgs};
use hub_api::state::AppState;
use hub_core::cache::NullCache;
use hub_core::cache::runtime::ResponseCache;
use hub_core::settings::AuthSettings;
use poem::listener::{Acceptor, Listener, TcpListener};
use std::path::{Path, PathBuf};
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
];

/// How responses are cached while measuring. One table row per (endpoint, mode).
///
/// Only `disabled` exists today; HIT / MISS modes (a warmed Redis cache, and a cache that
/// never hits) are new variants here plus their arm in [`Mode::cache`].
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// No response cache (the null cache): every request reaches the database.
    Disabled,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Disabled => "disabled",
        }
    }

    /// The response cache the server runs with in this mode.
    fn cache(self) -> ResponseCache {
        match self {
            Mode::Disabled => ResponseCache::new(
                Arc::new(NullCache),
                Duration::from_secs(30),
                Duration::from_secs(30),
            ),
        }
    }
}

/// Seed a database and benchmark hub's API on a loopback port.
#[derive(Parser, Debug)]
#[command(version, about, long_about = None)]
struct Args {
    /// SQLite file to benchmark. Default: a temporary file, deleted at the end.
    #[arg(long)]
    db: Option<PathBuf>,
    /// Use `--db` as it is when it already has nodes (skip seeding); without it, a file that
    /// has data is an error.
    #[arg(long, requires = "db")]
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
    /// /api/v1/dashboard/stats.
    #[arg(long = "endpoint")]
    endpoints: Vec<String>,
    /// Cache mode; repeatable. Default: every mode.
    #[arg(long = "mode", value_enum)]
    modes: Vec<Mode>,
    /// Keep the temporary database (its path is printed).
    #[arg(long)]
    keep: bool,
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
    let (path, temporary) = match &args.db {
        Some(path) => (path.clone(), false),
        None => (
            std::env::temp_dir().join(format!("hub-bench-{}.db", std::process::id())),
            true,
        ),
    };
    let result = bench(&args, &path).await;
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

async fn bench(args: &Args, path: &Path) -> Result<(), String> {
    let url = format!("sqlite://{}", path.display());
    prepare(args, &url).await?;

    let endpoints: Vec<String> = if args.endpoints.is_empty() {
        ENDPOINTS.iter().map(|e| e.to_string()).collect()
    } else {
        args.endpoints.clone()
    };
    let modes = if args.modes.is_empty() {
        Mode::value_variants().to_vec()
    } else {
        args.modes.clone()
    };
    println!(
        "benchmark: {} clients, {:.1} s per row (at most {} requests), {:.1} s warm-up, loopback",
        args.clients, args.duration, args.max_requests, args.warmup
    );
    let mut rows = Vec::new();
    for mode in &modes {
        for endpoint in &endpoints {
            let outcome = measure(args, &url, endpoint, *mode).await?;
            let row = Row {
                endpoint: endpoint.clone(),
                mode: *mode,
                outcome,
            };
            // Print as we go: a long run shows progress, and a later failure keeps the rows.
            if rows.is_empty() {
                print_header();
            }
            print_row(&row);
            rows.push(row);
        }
    }
    Ok(())
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

/// One (endpoint, mode) row on a server started for it alone.
async fn measure(args: &Args, url: &str, endpoint: &str, mode: Mode) -> Result<Outcome, String> {
    let db = hub_core::db::connect(url)
        .await
        .map_err(|e| format!("database: {e}"))?;
    let state = AppState {
        db: db.clone(),
        auth: AuthSettings::default(),
        raw_packet_retention_days: 7,
        cache: mode.cache(),
    };
    let acceptor = TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await
        .map_err(|e| format!("binding a loopback port: {e}"))?;
    let address = acceptor
        .local_addr()
        .first()
        .and_then(|a| a.as_socket_addr().copied())
        .ok_or("the listener has no socket address")?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        poem::Server::new_with_acceptor(acceptor).run_with_graceful_shutdown(
            hub_api::app::build(state),
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
    db.close().await.ok();
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
    let mut tasks = Vec::new();
    for _ in 0..args.clients {
        let (client, target) = (client.clone(), target.to_string());
        let (issued, errors) = (issued.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let mut micros = Vec::new();
            while Instant::now() < deadline && issued.fetch_add(1, Ordering::Relaxed) < max {
                let sent = Instant::now();
                let ok = match client.get(&target).send().await {
                    Ok(response) => {
                        let success = response.status().is_success();
                        response.bytes().await.is_ok() && success
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
        elapsed,
        micros,
    }
}

fn print_header() {
    println!(
        "| {:<28} | {:<8} | {:>9} | {:>8} | {:>6} | {:>10} | {:>8} | {:>8} | {:>8} |",
        "endpoint", "mode", "first ms", "requests", "errors", "req/s", "p50 ms", "p99 ms", "max ms"
    );
    println!(
        "|{:-<30}|{:-<10}|{:->11}|{:->10}|{:->8}|{:->12}|{:->10}|{:->10}|{:->10}|",
        ":", ":", ":", ":", ":", ":", ":", ":", ":"
    );
}

fn print_row(row: &Row) {
    match &row.outcome {
        Outcome::NotServed => println!(
            "| {:<28} | {:<8} | {:>9} | {:>8} | {:>6} | {:>10} | {:>8} | {:>8} | {:>8} |",
            row.endpoint,
            row.mode.name(),
            "404",
            "-",
            "-",
            "not served",
            "-",
            "-",
            "-"
        ),
        Outcome::Measured(s) => println!(
            "| {:<28} | {:<8} | {:>9.1} | {:>8} | {:>6} | {:>10.0} | {:>8.2} | {:>8.2} | {:>8.2} |",
            row.endpoint,
            row.mode.name(),
            s.first.as_secs_f64() * 1000.0,
            s.requests,
            s.errors,
            s.rps(),
            s.percentile(0.50),
            s.percentile(0.99),
            s.percentile(1.0),
        ),
    }
}
