//! `--freshness SECS`: how soon the collector's writes show through hub's caches, and what
//! polling clients lose meanwhile.
//!
//! The server is a `hub-api serve` child process (or, with `--in-process`, the app inside
//! the bench, wired as `serve` wires it): the Redis cache from [`CacheSettings`] defaults
//! (near cache on) on the bench's redis-server, and [`hub_core::changes::watch`] every
//! `DATA_CHANGE_CHECK_MS` (default). Its resident memory is sampled every second from
//! `/proc/<pid>/status`. Phase A: `--clients` clients poll the dashboard
//! and the list pages with no writer (pure HITs). Phase B (SECS seconds): the same clients
//! while a second OS process (this binary with `--freshness-writer`, on a connection of its
//! own, as the collector is) writes 10 rows/s the way the collector does, and twice deletes
//! the oldest day of messages as its retention does (once during warm-up, so that memory is
//! measured with the caches a server in service has filled, and once halfway). Every row carries a marker that shows in
//! a polled page; the writer reports each commit time on stdout, the clients the first time
//! they see each marker. The writer undoes its writes at the end, so `--reuse` databases stay
//! as they were (a killed run leaves its rows; a saved retention delete is restored by the
//! next run's writer).

mod server;

use chrono::{DateTime, TimeDelta, Utc};
use hub_core::cache::CacheSettings;
use hub_core::settings::FreshnessSettings;
use hub_core::tables::Table;
use hub_core::time::{Timestamp, db_time};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, Statement, Value};
use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

use crate::BenchRedis;
pub(crate) use server::Placement;
use server::{Resident, Server};

/// The polled pages: the dashboard's numbers and the first page of each list a collector's
/// write changes.
const PAGES: &[(Page, &str)] = &[
    (Page::Stats, "/api/v1/dashboard/stats"),
    (Page::Messages, "/api/v1/messages?limit=50"),
    (Page::Adverts, "/api/v1/advertisements?limit=50"),
    (Page::Packets, "/api/v1/packets?limit=50"),
    (
        Page::Nodes,
        "/api/v1/nodes?limit=50&sort=last_seen&order=desc",
    ),
];

/// How long the first request of each page may take to succeed, retries included.
const WARM_WITHIN: Duration = Duration::from_secs(120);
/// Seconds of phase A (no writer).
const PHASE_A: Duration = Duration::from_secs(10);
/// Rows the writer commits per second, round robin over [`KINDS`].
const WRITES_PER_SECOND: u64 = 10;
/// The writer's kinds of write, in its round-robin order.
const KINDS: [&str; 4] = ["advert", "message", "packet", "node"];
/// The last seconds of phase B are without writes, so every marker has time to show before
/// the clients stop (a marker written just before the end would count as never seen).
const DRAIN: Duration = Duration::from_secs(3);
/// Nodes whose `last_seen` the writer moves; fewer than a page, so each stays on the first
/// page of the last_seen-sorted list while it is polled.
const MOVED_NODES: i64 = 20;
/// The required bounds (the issue's acceptance).
const MAX_P99_MS: f64 = 1500.0;
const MIN_THROUGHPUT_RATIO: f64 = 0.5;
const MAX_RSS_GROWTH: f64 = 0.10;
/// When the warm-up's retention delete is made, as a share of phase B (the warm-up ends
/// after a tenth of it).
const WARM_UP_DELETE_AT: f64 = 0.025;
/// Where the retention deletes keep the rows they delete until the writer puts them back.
const SAVED_TABLE: &str = "hub_bench_freshness_saved_messages";
/// The Redis key prefix of the run's cache.
const PREFIX: &str = "freshness";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Page {
    Stats,
    Messages,
    Adverts,
    Packets,
    Nodes,
}

/// Wall-clock microseconds: commit times come from the writer process and sightings from this
/// one, so both use the system clock.
fn unix_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// What one client saw in one phase.
#[derive(Default)]
struct ClientLog {
    ok: u64,
    failed: u64,
    /// Marker -> time seen (unix µs) in the last response, moved to the run's shared map
    /// after each: one copy of the sightings, not one per client, so that the bench's own
    /// bookkeeping does not show as the server's memory. Node markers are
    /// `public_key@last_seen µs`.
    seen: HashMap<String, i64>,
    /// (time seen, page, value) each time `total_messages` (stats) or `total` (messages)
    /// differed from this client's previous reading.
    totals: Vec<(i64, Page, i64)>,
}

/// What the clients look for in phase B.
#[derive(Clone)]
struct Watch {
    /// The writer's run tag: every marker starts with it.
    tag: String,
    /// Nodes whose `last_seen` is at or after this (unix µs) are recorded as node markers.
    since: i64,
}

/// Runs `--freshness secs` on `url` (seeded already), with the server where `placement`
/// says.
pub(crate) async fn freshness(
    url: &str,
    secs: u64,
    clients: u32,
    redis_port: Option<u16>,
    placement: &Placement,
) -> Result<(), String> {
    let redis = BenchRedis::start(redis_port)?;
    let started = Instant::now();
    let settings = CacheSettings {
        redis_enabled: true,
        redis_host: "127.0.0.1".into(),
        redis_port: u32::from(redis.port),
        redis_key_prefix: PREFIX.into(),
        ..CacheSettings::default()
    };
    let interval = FreshnessSettings::default()
        .check_interval()
        .ok_or("the default DATA_CHANGE_CHECK_MS turns the watch off")?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients as usize)
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| format!("http client: {e}"))?;
    let server = Server::start(placement, url, &settings, &client).await?;
    let base = server.base.clone();
    let rss = Arc::new(std::sync::Mutex::new(Vec::<(f64, Resident)>::new()));
    let sampler = {
        let (rss, pid) = (rss.clone(), server.pid);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(Duration::from_secs(1));
            loop {
                ticks.tick().await;
                if let Some(resident) = Resident::of(pid) {
                    let at = started.elapsed().as_secs_f64();
                    rss.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((at, resident));
                }
            }
        })
    };
    let mut redis_link = redis::Client::open(format!("redis://127.0.0.1:{}/", redis.port))
        .map_err(|e| format!("redis: {e}"))?
        .get_multiplexed_async_connection()
        .await
        .map_err(|e| format!("redis: {e}"))?;

    let result = async {
        // Every page once, so phase A measures HITs only. `serve` reads the dashboard's past
        // days in the background as it starts, so the first requests may wait for the pool
        // and time out (503): asked again until WARM_WITHIN.
        let warm_by = Instant::now() + WARM_WITHIN;
        for (_, path) in PAGES {
            loop {
                let status = match client.get(format!("{base}{path}")).send().await {
                    Ok(response) => {
                        let status = response.status();
                        response.bytes().await.map(|_| status)
                    }
                    Err(err) => Err(err),
                };
                match status {
                    Ok(status) if status.is_success() => break,
                    Ok(status) if Instant::now() > warm_by => {
                        return Err(format!("GET {path}: HTTP {status}"));
                    }
                    Err(err) if Instant::now() > warm_by => {
                        return Err(format!("GET {path}: {err}"));
                    }
                    Ok(_) | Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
                }
            }
        }
        let redis_start = redis_state(&mut redis_link).await?;
        let mut writer = Writer::spawn(url)?;
        let nobody = Watch {
            tag: writer.tag.clone(),
            since: i64::MAX,
        };
        let a_started = Instant::now();
        let phase_a = poll(
            &client,
            &base,
            clients,
            a_started + PHASE_A,
            &nobody,
            &Sightings::default(),
        )
        .await;
        let a_elapsed = a_started.elapsed();
        let warm_until = started.elapsed().as_secs_f64() + (secs as f64 / 10.0).max(5.0);

        let b_started = Instant::now();
        let phase_b_end = b_started + Duration::from_secs(secs);
        let watch_b = Watch {
            tag: writer.tag.clone(),
            since: unix_micros(),
        };
        writer.send("start")?;
        let writer_plan = {
            let mut stdin = writer.stdin.take().ok_or("the writer's stdin is gone")?;
            tokio::spawn(async move {
                // One retention delete well inside the warm-up (its reads fill the caches a
                // server in service has filled), one halfway through the measured part.
                for delete_at in [WARM_UP_DELETE_AT * secs as f64, 0.5 * secs as f64] {
                    let at = b_started + Duration::from_secs_f64(delete_at.max(2.0));
                    tokio::time::sleep_until(at.into()).await;
                    writeln!(stdin, "delete").ok();
                }
                tokio::time::sleep_until((phase_b_end - DRAIN).into()).await;
                writeln!(stdin, "quiet").ok();
                stdin
            })
        };
        let sightings = Sightings::default();
        let phase_b = poll(&client, &base, clients, phase_b_end, &watch_b, &sightings).await;
        let seen = std::mem::take(&mut *sightings.lock().unwrap_or_else(|e| e.into_inner()));
        let b_elapsed = b_started.elapsed();
        writer.stdin = writer_plan.await.ok();
        let redis_end = redis_state(&mut redis_link).await?;
        let events = writer.finish().await?;

        let rss = rss.lock().unwrap_or_else(|e| e.into_inner()).clone();
        Ok(report(&Run {
            secs,
            clients,
            interval,
            phase_a: (phase_a, a_elapsed),
            phase_b: (phase_b, b_elapsed),
            seen,
            events,
            placement: placement.clone(),
            rss,
            warm_until,
            redis: (redis_start, redis_end),
        }))
    }
    .await;

    sampler.abort();
    server.stop().await;
    result?
}

/// Redis `used_memory`, the number of generation keys of the run's prefix, and all keys.
async fn redis_state(
    link: &mut redis::aio::MultiplexedConnection,
) -> Result<(u64, usize, u64), String> {
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query_async(link)
        .await
        .map_err(|e| format!("redis INFO: {e}"))?;
    let used = info
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    // KEYS is fine on the bench's own small Redis.
    let gens: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{PREFIX}:gen:*"))
        .query_async(link)
        .await
        .map_err(|e| format!("redis KEYS: {e}"))?;
    let keys: u64 = redis::cmd("DBSIZE")
        .query_async(link)
        .await
        .map_err(|e| format!("redis DBSIZE: {e}"))?;
    Ok((used, gens.len(), keys))
}

/// The first sighting of each marker over all clients.
type Sightings = Arc<std::sync::Mutex<HashMap<String, i64>>>;

/// `clients` request loops over [`PAGES`] until `deadline`.
async fn poll(
    client: &reqwest::Client,
    base: &str,
    clients: u32,
    deadline: Instant,
    watch: &Watch,
    sightings: &Sightings,
) -> Vec<ClientLog> {
    let mut tasks = Vec::new();
    for n in 0..clients as usize {
        let (client, base, watch) = (client.clone(), base.to_string(), watch.clone());
        let sightings = sightings.clone();
        tasks.push(tokio::spawn(async move {
            let mut log = ClientLog::default();
            let mut last_totals: HashMap<u8, i64> = HashMap::new();
            // Each client starts at a different page, so every page is always being asked.
            let mut next = n;
            while Instant::now() < deadline {
                let (page, path) = PAGES[next % PAGES.len()];
                next += 1;
                let body = match client.get(format!("{base}{path}")).send().await {
                    Ok(response) if response.status().is_success() => response.bytes().await.ok(),
                    Ok(_) | Err(_) => None,
                };
                let Some(body) = body else {
                    log.failed += 1;
                    continue;
                };
                let at = unix_micros();
                log.ok += 1;
                look(&mut log, &mut last_totals, page, &body, at, &watch);
                if !log.seen.is_empty() {
                    let mut first = sightings.lock().unwrap_or_else(|e| e.into_inner());
                    for (marker, at) in log.seen.drain() {
                        let seen = first.entry(marker).or_insert(at);
                        *seen = (*seen).min(at);
                    }
                }
            }
            log
        }));
    }
    let mut logs = Vec::new();
    for task in tasks {
        logs.push(task.await.unwrap_or_default());
    }
    logs
}

/// Records what `body` (of `page`, received at `at`) shows: the markers in it, the node
/// `last_seen` times of the run, and the message totals when they changed.
fn look(
    log: &mut ClientLog,
    last_totals: &mut HashMap<u8, i64>,
    page: Page,
    body: &[u8],
    at: i64,
    watch: &Watch,
) {
    let text = String::from_utf8_lossy(body);
    // A marker is the run tag and 8 hex digits (the writer's sequence number).
    for (start, _) in text.match_indices(watch.tag.as_str()) {
        if let Some(marker) = text.get(start..start + watch.tag.len() + 8) {
            log.seen.entry(marker.to_string()).or_insert(at);
        }
    }
    let total_field = match page {
        Page::Stats => "total_messages",
        Page::Messages => "total",
        Page::Nodes => {
            let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) else {
                return;
            };
            for item in json["items"].as_array().into_iter().flatten() {
                let (Some(key), Some(seen)) =
                    (item["public_key"].as_str(), item["last_seen"].as_str())
                else {
                    continue;
                };
                let Ok(seen) = DateTime::parse_from_rfc3339(seen) else {
                    continue;
                };
                let micros = seen.timestamp_micros();
                if micros >= watch.since {
                    log.seen.entry(format!("{key}@{micros}")).or_insert(at);
                }
            }
            return;
        }
        Page::Adverts | Page::Packets => return,
    };
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(body) else {
        return;
    };
    if let Some(total) = json[total_field].as_i64() {
        let previous = last_totals.insert(page as u8, total);
        if previous != Some(total) {
            log.totals.push((at, page, total));
        }
    }
}

/// What the writer process reported.
#[derive(Default)]
struct WriterEvents {
    /// (kind, marker, commit unix µs).
    rows: Vec<(String, String, i64)>,
    /// (commit unix µs, rows deleted, cutoff) of each retention delete, in order: the
    /// warm-up's, then the measured one.
    deletes: Vec<(i64, u64, String)>,
    /// The writer's summary of its cleanup.
    restored: Option<String>,
    errors: Vec<String>,
}

/// The writer process: this binary with `--freshness-writer`.
struct Writer {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::UnboundedReceiver<String>,
    tag: String,
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Normally it has exited already (see `finish`); a run that failed must not leave it.
        if matches!(self.child.try_wait(), Ok(None)) {
            self.child.kill().ok();
            self.child.wait().ok();
        }
    }
}

impl Writer {
    fn spawn(url: &str) -> Result<Self, String> {
        let exe = std::env::current_exe().map_err(|e| format!("this binary: {e}"))?;
        let mut child = Command::new(exe)
            .args(["--freshness-writer", "--database-url", url])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("starting the writer: {e}"))?;
        let stdout = child.stdout.take().ok_or("the writer has no stdout")?;
        let (send, mut lines) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        // The writer reads what it needs (nodes, an observer) and undoes a killed run's
        // retention delete before it says `ready <tag>`.
        let tag = loop {
            match lines.blocking_recv_timeout() {
                Some(line) => {
                    if let Some(tag) = line.strip_prefix("ready ") {
                        break tag.to_string();
                    }
                    if let Some(err) = line.strip_prefix("error ") {
                        return Err(format!("writer: {err}"));
                    }
                }
                None => return Err("the writer exited before it was ready".into()),
            }
        };
        Ok(Writer {
            stdin: child.stdin.take(),
            child,
            lines,
            tag,
        })
    }

    fn send(&mut self, command: &str) -> Result<(), String> {
        let stdin = self.stdin.as_mut().ok_or("the writer's stdin is gone")?;
        writeln!(stdin, "{command}").map_err(|e| format!("writer: {e}"))
    }

    /// Asks the writer to undo its writes and exit; returns everything it reported.
    async fn finish(mut self) -> Result<WriterEvents, String> {
        self.send("stop")?;
        drop(self.stdin.take());
        let mut events = WriterEvents::default();
        while let Some(line) = self.lines.recv().await {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["row", kind, marker, at] => events.rows.push((
                    kind.to_string(),
                    marker.to_string(),
                    at.parse().unwrap_or(0),
                )),
                ["delete", at, rows, cutoff] => events.deletes.push((
                    at.parse().unwrap_or(0),
                    rows.parse().unwrap_or(0),
                    cutoff.to_string(),
                )),
                ["restored", ..] => events.restored = Some(line["restored ".len()..].into()),
                ["error", ..] => events.errors.push(line["error ".len()..].into()),
                _ => {}
            }
        }
        let status = self.child.wait().map_err(|e| format!("writer: {e}"))?;
        if !status.success() {
            events
                .errors
                .push(format!("the writer exited with {status}"));
        }
        Ok(events)
    }
}

trait RecvTimeout {
    fn blocking_recv_timeout(&mut self) -> Option<String>;
}

impl RecvTimeout for mpsc::UnboundedReceiver<String> {
    /// The next line, waiting at most 60 s: called on the runtime, before any request.
    fn blocking_recv_timeout(&mut self) -> Option<String> {
        tokio::task::block_in_place(|| {
            let deadline = Instant::now() + Duration::from_secs(60);
            while Instant::now() < deadline {
                match self.try_recv() {
                    Ok(line) => return Some(line),
                    Err(mpsc::error::TryRecvError::Disconnected) => return None,
                    Err(mpsc::error::TryRecvError::Empty) => {
                        std::thread::sleep(Duration::from_millis(10))
                    }
                }
            }
            None
        })
    }
}

struct Run {
    secs: u64,
    clients: u32,
    interval: Duration,
    phase_a: (Vec<ClientLog>, Duration),
    phase_b: (Vec<ClientLog>, Duration),
    /// Marker -> first time seen (unix µs) in phase B.
    seen: HashMap<String, i64>,
    events: WriterEvents,
    /// Whose memory `rss` is: the server process alone, or the whole bench.
    placement: Placement,
    /// (seconds since start, the server's resident memory), every second.
    rss: Vec<(f64, Resident)>,
    /// Seconds since start when warm-up ends (phase A and the first tenth of phase B, at
    /// least 5 s of it: the first invalidations fill the near cache again).
    warm_until: f64,
    /// (used_memory, generation keys, keys) at the start and the end.
    redis: ((u64, usize, u64), (u64, usize, u64)),
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

/// Prints the run's tables; `Err` when a requirement is not met (after printing).
fn report(run: &Run) -> Result<(), String> {
    let mut failures = Vec::new();
    println!(
        "freshness: {} clients over {} pages; phase A {} s without writes, phase B {} s with a \
         writer process at {WRITES_PER_SECOND} rows/s (none in its last {} s); data-change \
         check every {} ms; Redis + near cache",
        run.clients,
        PAGES.len(),
        PHASE_A.as_secs(),
        run.secs,
        DRAIN.as_secs(),
        run.interval.as_millis()
    );
    let throughput = |(logs, elapsed): &(Vec<ClientLog>, Duration)| {
        let ok: u64 = logs.iter().map(|l| l.ok).sum();
        let failed: u64 = logs.iter().map(|l| l.failed).sum();
        (ok, failed, ok as f64 / elapsed.as_secs_f64().max(1e-9))
    };
    let (a_ok, a_failed, a_rps) = throughput(&run.phase_a);
    let (b_ok, b_failed, b_rps) = throughput(&run.phase_b);
    let ratio = b_rps / a_rps.max(1e-9);
    println!();
    println!("| phase | requests | failed | req/s |");
    println!("|---|---:|---:|---:|");
    println!("| A: no writer (HITs) | {a_ok} | {a_failed} | {a_rps:.0} |");
    println!("| B: writer | {b_ok} | {b_failed} | {b_rps:.0} ({ratio:.2}x of A) |");
    if a_failed + b_failed > 0 {
        failures.push(format!("{} failed requests", a_failed + b_failed));
    }
    if ratio < MIN_THROUGHPUT_RATIO {
        failures.push(format!(
            "phase B throughput {ratio:.2}x of A (< {MIN_THROUGHPUT_RATIO})"
        ));
    }

    let seen = &run.seen;
    println!();
    println!("| kind | written | never seen | p50 ms | p99 ms | max ms |");
    println!("|---|---:|---:|---:|---:|---:|");
    let mut all = Vec::new();
    let mut never = 0;
    for kind in KINDS.iter().copied().chain(["all"]) {
        let mut latencies = Vec::new();
        let mut missing = 0;
        let mut written = 0;
        for (_, marker, committed) in run
            .events
            .rows
            .iter()
            .filter(|(k, _, _)| kind == "all" || k == kind)
        {
            written += 1;
            match seen.get(marker) {
                // A response can leave before the writer has read its commit's return.
                Some(at) => latencies.push((at - committed).max(0) as f64 / 1000.0),
                None => missing += 1,
            }
        }
        latencies.sort_by(f64::total_cmp);
        println!(
            "| {kind} | {written} | {missing} | {:.0} | {:.0} | {:.0} |",
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99),
            percentile(&latencies, 1.0)
        );
        if kind == "all" {
            all = latencies;
            never = missing;
        }
    }
    // A retention delete reaches the past: every kept count of `messages` is read again, on
    // the same pool the recomputed pages need. Rows written in the 10 s after one, apart.
    if !run.events.deletes.is_empty() {
        let (mut near, mut far) = (Vec::new(), Vec::new());
        for (_, marker, committed) in &run.events.rows {
            if let Some(at) = seen.get(marker) {
                let ms = (at - committed).max(0) as f64 / 1000.0;
                let after_a_delete =
                    run.events.deletes.iter().any(|(deleted_at, _, _)| {
                        (0..10_000_000).contains(&(committed - deleted_at))
                    });
                if after_a_delete {
                    near.push(ms);
                } else {
                    far.push(ms);
                }
            }
        }
        for (name, list) in [
            ("all, in the 10 s after a retention delete", &mut near),
            ("all, the rest", &mut far),
        ] {
            list.sort_by(f64::total_cmp);
            println!(
                "| {name} | {} | - | {:.0} | {:.0} | {:.0} |",
                list.len(),
                percentile(list, 0.5),
                percentile(list, 0.99),
                percentile(list, 1.0)
            );
        }
    }
    let p99 = percentile(&all, 0.99);
    if all.is_empty() || p99 > MAX_P99_MS {
        failures.push(format!("visibility p99 {p99:.0} ms (> {MAX_P99_MS:.0} ms)"));
    }
    if never > 0 {
        failures.push(format!("{never} markers never seen"));
    }

    println!();
    if run.events.deletes.len() < 2 {
        failures.push(format!(
            "the writer made {} retention deletes (2 expected)",
            run.events.deletes.len()
        ));
    }
    let mut totals: Vec<&(i64, Page, i64)> = run.phase_b.0.iter().flat_map(|l| &l.totals).collect();
    totals.sort_by_key(|t| t.0);
    let mut previous = i64::MIN;
    for (n, (committed, rows, cutoff)) in run.events.deletes.iter().enumerate() {
        let shown = |page: Page| {
            // The largest total seen since the previous delete and before this commit; the
            // delete shows as the first smaller one after it (the writer's inserts only add
            // a few).
            let before = totals
                .iter()
                .filter(|t| t.1 == page && t.0 > previous && t.0 < *committed)
                .map(|t| t.2)
                .max()?;
            totals
                .iter()
                .find(|t| t.1 == page && t.0 >= *committed && t.2 < before)
                .map(|t| (before, t.2, (t.0 - committed) as f64 / 1000.0))
        };
        let which = if n == 0 { "warm-up" } else { "measured" };
        println!("retention delete ({which}): {rows} messages received before {cutoff}");
        for (page, name) in [
            (Page::Stats, "dashboard/stats total_messages"),
            (Page::Messages, "messages total"),
        ] {
            match shown(page) {
                Some((before, after, ms)) => {
                    println!("  {name}: {before} -> {after} after {ms:.0} ms")
                }
                None => {
                    println!("  {name}: never shown");
                    failures.push(format!(
                        "the {which} retention delete never showed in {name}"
                    ));
                }
            }
        }
        previous = *committed;
    }

    println!();
    if let Err(failure) = report_memory(run) {
        failures.push(failure);
    }
    let ((used_a, gens_a, keys_a), (used_b, gens_b, keys_b)) = run.redis;
    println!(
        "redis: used_memory {:.1} -> {:.1} MiB, keys {keys_a} -> {keys_b}, {PREFIX}:gen:* \
         {gens_a} -> {gens_b} (at most one per table: {})",
        mib(used_a),
        mib(used_b),
        Table::ALL.len()
    );
    if gens_b > Table::ALL.len() {
        failures.push(format!("{gens_b} generation keys"));
    }
    if let Some(restored) = &run.events.restored {
        println!("writer cleanup: {restored}");
    }
    for err in &run.events.errors {
        println!("writer error: {err}");
        failures.push(format!("writer: {err}"));
    }
    if failures.is_empty() {
        println!("all requirements met");
        Ok(())
    } else {
        Err(format!("requirements not met: {}", failures.join("; ")))
    }
}

/// Prints the server's resident memory over the run; `Err` when it grew more than
/// [`MAX_RSS_GROWTH`] over its baseline, the first sample after warm-up.
fn report_memory(run: &Run) -> Result<(), String> {
    let whose = match &run.placement {
        Placement::Process(bin) => format!("the server process ({})", bin.display()),
        Placement::InProcess => "the bench process (server, clients and bookkeeping)".into(),
    };
    let after: Vec<(f64, Resident)> = run
        .rss
        .iter()
        .filter(|(at, _)| *at >= run.warm_until)
        .copied()
        .collect();
    let (Some((_, baseline)), Some((_, last))) = (after.first(), after.last()) else {
        return Err("no resident memory sample after warm-up".into());
    };
    // About 20 rows whatever the length, and the last sample.
    let every = (run.rss.len() / 20).max(1);
    println!("resident memory of {whose}, MiB (VmRSS = RssAnon + RssFile):");
    println!("| s | VmRSS | RssAnon | RssFile |");
    println!("|---:|---:|---:|---:|");
    for (i, (at, r)) in run.rss.iter().enumerate() {
        if i % every == 0 || i + 1 == run.rss.len() {
            println!(
                "| {at:.0} | {:.1} | {:.1} | {:.1} |",
                mib(r.total),
                mib(r.anon),
                mib(r.file)
            );
        }
    }
    let max = after.iter().map(|(_, r)| r.total).max().unwrap_or(0);
    let growth = max as f64 / baseline.total as f64 - 1.0;
    let within = growth <= MAX_RSS_GROWTH;
    println!(
        "after warm-up ({} samples from {:.0} s): baseline {:.1} MiB, last {:.1} MiB, max \
         {:.1} MiB ({:+.1}%: {})",
        after.len(),
        run.warm_until,
        mib(baseline.total),
        mib(last.total),
        mib(max),
        growth * 100.0,
        if within {
            "within 10%"
        } else {
            "NOT within 10%"
        }
    );
    if within {
        Ok(())
    } else {
        Err(format!("resident memory grew {:.1}%", growth * 100.0))
    }
}

/// `--freshness-writer`: the collector-like writer, on its own connection. Commands on stdin
/// (`start`, `delete`, `quiet`, `stop`), reports on stdout (see [`Writer::finish`]).
pub(crate) async fn writer(url: &str) -> Result<(), String> {
    let result = write(url).await;
    if let Err(err) = &result {
        println!("error {}", err.replace('\n', " "));
    }
    result
}

async fn write(url: &str) -> Result<(), String> {
    let db_err = |e: DbErr| format!("database: {e}");
    let db = hub_core::db::connect(url).await.map_err(db_err)?;
    restore_saved(&db).await.map_err(db_err)?;
    let nodes = moved_nodes(&db).await.map_err(db_err)?;
    let observer = observer(&db).await.map_err(db_err)?;
    // 24 hex digits no seeded hash or text holds by chance; each marker adds 8.
    let tag = uuid::Uuid::new_v4().simple().to_string()[..24].to_string();
    println!("ready {tag}");

    let (send, mut commands) = mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if send.send(line.trim().to_string()).is_err() {
                break;
            }
        }
    });
    let mut ticks = tokio::time::interval(Duration::from_millis(1000 / WRITES_PER_SECOND));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut writing = false;
    let mut seq: u32 = 0;
    let outcome = async {
        loop {
            tokio::select! {
                command = commands.recv() => match command.as_deref() {
                    Some("start") => writing = true,
                    Some("quiet") => writing = false,
                    Some("delete") => retention_delete(&db).await?,
                    None | Some("stop") => break,
                    Some(_) => {}
                },
                _ = ticks.tick(), if writing => {
                    let marker = format!("{tag}{seq:08x}");
                    let kind = KINDS[seq as usize % KINDS.len()];
                    let node = &nodes[(seq as usize / KINDS.len()) % nodes.len()];
                    let key = write_row(&db, kind, &marker, node, &observer).await?;
                    println!("row {kind} {key} {}", unix_micros());
                    seq += 1;
                }
            }
        }
        Ok::<_, DbErr>(())
    }
    .await;
    // Undo everything, whatever happened: the database is shared with other benches.
    let cleanup = cleanup(&db, &tag, &nodes).await;
    outcome.map_err(db_err)?;
    println!("restored {}", cleanup.map_err(db_err)?);
    db.close().await.ok();
    Ok(())
}

/// A node whose `last_seen` the writer moves, with what to put back.
struct MovedNode {
    id: String,
    public_key: String,
    last_seen: Option<Timestamp>,
    updated_at: Timestamp,
}

async fn moved_nodes(db: &DatabaseConnection) -> Result<Vec<MovedNode>, DbErr> {
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            format!(
                "SELECT id, public_key, last_seen, updated_at FROM nodes ORDER BY id \
                 LIMIT {MOVED_NODES}"
            ),
        ))
        .await?;
    let nodes = rows
        .iter()
        .map(|row| {
            Ok(MovedNode {
                id: row.try_get("", "id")?,
                public_key: row.try_get("", "public_key")?,
                last_seen: row.try_get("", "last_seen")?,
                updated_at: row.try_get("", "updated_at")?,
            })
        })
        .collect::<Result<Vec<_>, DbErr>>()?;
    if nodes.is_empty() {
        return Err(DbErr::Custom("the database has no nodes".into()));
    }
    Ok(nodes)
}

async fn observer(db: &DatabaseConnection) -> Result<Option<String>, DbErr> {
    let backend = db.get_database_backend();
    let row = db
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT id FROM nodes WHERE is_observer = true ORDER BY id LIMIT 1",
        ))
        .await?;
    row.map(|r| r.try_get("", "id")).transpose()
}

/// Random 32 hex digits (an event or packet hash that belongs to no marker).
fn random_hash() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Writes one row of `kind` the way the collector does, carrying `marker`; returns the key
/// the clients will see (the marker, or `public_key@last_seen µs` for a node).
async fn write_row(
    db: &DatabaseConnection,
    kind: &str,
    marker: &str,
    node: &MovedNode,
    observer: &Option<String>,
) -> Result<String, DbErr> {
    let backend = db.get_database_backend();
    let now = Utc::now().naive_utc();
    let at = db_time(backend, Timestamp(now));
    let id = || Value::from(uuid::Uuid::new_v4().to_string());
    let observer = Value::from(observer.clone());
    // The collector's sender prefix: the first 12 hex digits of the key, uppercase.
    let prefix = node.public_key[..12.min(node.public_key.len())].to_uppercase();
    let (sql, values): (&str, Vec<Value>) = match kind {
        "advert" => (
            "INSERT INTO advertisements (id, observer_node_id, node_id, public_key, name, \
             adv_type, flags, received_at, created_at, updated_at, event_hash, route_type, \
             advert_timestamp, packet_hash) VALUES ($1, $2, $3, $4, $5, 'repeater', 1, $6, $6, \
             $6, $7, 'flood', $6, $8)",
            vec![
                id(),
                observer,
                node.id.clone().into(),
                node.public_key.to_lowercase().into(),
                format!("bench {marker}").into(),
                at,
                random_hash().into(),
                random_hash().into(),
            ],
        ),
        "message" => (
            "INSERT INTO messages (id, observer_node_id, message_type, pubkey_prefix, \
             channel_idx, text, path_len, txt_type, snr, sender_timestamp, received_at, \
             created_at, updated_at, event_hash, packet_hash) VALUES ($1, $2, 'channel', $3, \
             17, $4, 0, 0, -9.5, $5, $5, $5, $5, $6, $7)",
            vec![
                id(),
                observer,
                prefix.into(),
                format!("bench: freshness {marker}").into(),
                at,
                random_hash().into(),
                random_hash().into(),
            ],
        ),
        "packet" => (
            "INSERT INTO raw_packets (id, observer_node_id, packet_hash, raw_hex, packet_type, \
             payload_type, event_type, source_pubkey_prefix, route_type, path_len, snr, \
             received_at, created_at, updated_at, path_hash_bytes, event_hash) VALUES ($1, $2, \
             $3, $4, 5, 4, 'advertisement', $5, 'flood', 0, -9.5, $6, $6, $6, 1, $7)",
            vec![
                id(),
                observer,
                marker.into(),
                format!("1100{marker}").into(),
                prefix.into(),
                at,
                random_hash().into(),
            ],
        ),
        _ => {
            db.execute_raw(Statement::from_sql_and_values(
                backend,
                "UPDATE nodes SET last_seen = $1, updated_at = $1 WHERE id = $2",
                [at, node.id.clone().into()],
            ))
            .await?;
            return Ok(format!(
                "{}@{}",
                node.public_key,
                now.and_utc().timestamp_micros()
            ));
        }
    };
    db.execute_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    Ok(marker.to_string())
}

/// The collector's retention: deletes the messages of the oldest day (up to its end) in one
/// transaction, keeping them in [`SAVED_TABLE`] for [`cleanup`] to put back.
async fn retention_delete(db: &DatabaseConnection) -> Result<(), DbErr> {
    use sea_orm::TransactionTrait;
    let backend = db.get_database_backend();
    let oldest: Option<Timestamp> = db
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT min(received_at) AS oldest FROM messages",
        ))
        .await?
        .and_then(|row| row.try_get("", "oldest").ok());
    let Some(Timestamp(oldest)) = oldest else {
        return Err(DbErr::Custom("no message to delete".into()));
    };
    let cutoff = oldest.date().and_hms_opt(0, 0, 0).unwrap_or(oldest) + TimeDelta::days(1);
    let bound = || db_time(backend, Timestamp(cutoff));
    let txn = db.begin().await?;
    // A second delete adds its rows to what the first saved.
    txn.execute_raw(Statement::from_string(
        backend,
        format!("CREATE TABLE IF NOT EXISTS {SAVED_TABLE} AS SELECT * FROM messages WHERE 1 = 0"),
    ))
    .await?;
    txn.execute_raw(Statement::from_sql_and_values(
        backend,
        format!("INSERT INTO {SAVED_TABLE} SELECT * FROM messages WHERE received_at < $1"),
        [bound()],
    ))
    .await?;
    let deleted = txn
        .execute_raw(Statement::from_sql_and_values(
            backend,
            "DELETE FROM messages WHERE received_at < $1",
            [bound()],
        ))
        .await?
        .rows_affected();
    txn.commit().await?;
    println!(
        "delete {} {deleted} {}",
        unix_micros(),
        cutoff.format("%Y-%m-%dT%H:%M:%S")
    );
    Ok(())
}

/// Puts back the messages a retention delete saved (this run's, or a killed run's).
async fn restore_saved(db: &DatabaseConnection) -> Result<u64, DbErr> {
    use sea_orm::TransactionTrait;
    let backend = db.get_database_backend();
    let exists = db
        .query_one_raw(Statement::from_string(
            backend,
            format!("SELECT 1 FROM {SAVED_TABLE} LIMIT 1"),
        ))
        .await
        .is_ok();
    if !exists {
        return Ok(0);
    }
    let txn = db.begin().await?;
    let restored = txn
        .execute_raw(Statement::from_string(
            backend,
            format!("INSERT INTO messages SELECT * FROM {SAVED_TABLE}"),
        ))
        .await?
        .rows_affected();
    txn.execute_raw(Statement::from_string(
        backend,
        format!("DROP TABLE {SAVED_TABLE}"),
    ))
    .await?;
    txn.commit().await?;
    Ok(restored)
}

/// Deletes the run's rows, puts the moved nodes' times back and the deleted messages.
async fn cleanup(db: &DatabaseConnection, tag: &str, nodes: &[MovedNode]) -> Result<String, DbErr> {
    let backend = db.get_database_backend();
    let mut removed = 0;
    for (table, column, pattern) in [
        ("advertisements", "name", format!("bench {tag}%")),
        ("messages", "text", format!("bench: freshness {tag}%")),
        ("raw_packets", "packet_hash", format!("{tag}%")),
    ] {
        removed += db
            .execute_raw(Statement::from_sql_and_values(
                backend,
                format!("DELETE FROM {table} WHERE {column} LIKE $1"),
                [pattern.into()],
            ))
            .await?
            .rows_affected();
    }
    for node in nodes {
        let updated_at = db_time(backend, node.updated_at);
        let (sql, values) = match node.last_seen {
            Some(last_seen) => (
                "UPDATE nodes SET last_seen = $1, updated_at = $2 WHERE id = $3",
                vec![
                    db_time(backend, last_seen),
                    updated_at,
                    node.id.clone().into(),
                ],
            ),
            None => (
                "UPDATE nodes SET last_seen = NULL, updated_at = $1 WHERE id = $2",
                vec![updated_at, node.id.clone().into()],
            ),
        };
        db.execute_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?;
    }
    let restored = restore_saved(db).await?;
    Ok(format!(
        "{removed} rows deleted, {} nodes' times and {restored} messages put back",
        nodes.len()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watch() -> Watch {
        Watch {
            tag: "0123456789abcdef01234567".into(),
            since: 1_000,
        }
    }

    #[test]
    fn markers_are_found_in_any_body() {
        let mut log = ClientLog::default();
        let body = br#"{"items":[{"text":"bench: freshness 0123456789abcdef0123456700000007"}]}"#;
        look(
            &mut log,
            &mut HashMap::new(),
            Page::Adverts,
            body,
            42,
            &watch(),
        );
        assert_eq!(log.seen.get("0123456789abcdef0123456700000007"), Some(&42));
    }

    #[test]
    fn nodes_are_keyed_by_key_and_time() {
        let mut log = ClientLog::default();
        let body = br#"{"items":[{"public_key":"ab","last_seen":"1970-01-01T00:00:00.002Z"},
            {"public_key":"cd","last_seen":"1970-01-01T00:00:00.000500Z"}],"total":2}"#;
        look(
            &mut log,
            &mut HashMap::new(),
            Page::Nodes,
            body,
            7,
            &watch(),
        );
        assert_eq!(log.seen.get("ab@2000"), Some(&7));
        assert_eq!(log.seen.len(), 1, "before `since`: not this run's");
    }

    #[test]
    fn totals_are_recorded_when_they_change() {
        let (mut log, mut last) = (ClientLog::default(), HashMap::new());
        for (at, total) in [(1, 10), (2, 10), (3, 9)] {
            let body = format!(r#"{{"total":{total},"items":[]}}"#);
            look(
                &mut log,
                &mut last,
                Page::Messages,
                body.as_bytes(),
                at,
                &watch(),
            );
        }
        assert_eq!(
            log.totals,
            vec![(1, Page::Messages, 10), (3, Page::Messages, 9)]
        );
    }
}
