//! The server `--freshness` measures: a `hub-api serve` child process (the default, so that
//! its resident memory is the server's alone), or the app inside the bench (`--in-process`).

use hub_api::state::AppState;
use hub_core::cache::CacheSettings;
use hub_core::cache::runtime::ResponseCache;
use hub_core::db::DatabaseTarget;
use hub_core::settings::{FreshnessSettings, HttpSettings, TimeoutSettings};
use sea_orm::DatabaseConnection;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Where `--freshness` runs the server.
#[derive(Debug, Clone)]
pub(crate) enum Placement {
    /// `hub-api serve` from this file, as a child process.
    Process(PathBuf),
    /// The app inside the bench process, as `serve` wires it: its memory is then measured
    /// with the clients' and the bench's bookkeeping.
    InProcess,
}

impl Placement {
    /// `--server-bin`, or the `hub-api` built beside this binary (`cargo build --release -p
    /// hub-api` puts both in `target/release`).
    pub(crate) fn process(server_bin: Option<PathBuf>) -> Result<Self, String> {
        let path = match server_bin {
            Some(path) => path,
            None => std::env::current_exe()
                .map_err(|e| format!("this binary: {e}"))?
                .with_file_name(format!("hub-api{}", std::env::consts::EXE_SUFFIX)),
        };
        if !path.is_file() {
            return Err(format!(
                "no server binary at {} (build it with `cargo build --release -p hub-api`, \
                 or pass --server-bin or --in-process)",
                path.display()
            ));
        }
        Ok(Placement::Process(path))
    }
}

/// How long the server child may take to answer `/health`: it opens the database and, on a
/// large one, checks hub's read indexes first.
const READY_WITHIN: Duration = Duration::from_secs(120);

/// A server answering on a loopback port.
pub(crate) struct Server {
    /// `http://127.0.0.1:<port>`.
    pub(crate) base: String,
    /// The process whose memory is the server's (this one for [`Placement::InProcess`]).
    pub(crate) pid: u32,
    /// `None` once stopped.
    running: Option<Running>,
}

enum Running {
    Child(Child),
    InProcess {
        stop: oneshot::Sender<()>,
        task: JoinHandle<std::io::Result<()>>,
        watch: JoinHandle<()>,
        cache: ResponseCache,
        db: DatabaseConnection,
    },
}

impl Server {
    /// Starts the server on `url` with the Redis cache of `cache` (near cache and every
    /// other setting at its default) and the data-change watch at its default interval.
    pub(crate) async fn start(
        placement: &Placement,
        url: &str,
        cache: &CacheSettings,
        http: &reqwest::Client,
    ) -> Result<Self, String> {
        match placement {
            Placement::Process(bin) => Self::spawn(bin, url, cache, http).await,
            Placement::InProcess => Self::in_process(url, cache).await,
        }
    }

    async fn spawn(
        bin: &PathBuf,
        url: &str,
        cache: &CacheSettings,
        http: &reqwest::Client,
    ) -> Result<Self, String> {
        // A free port: bound and released, then handed to the child (loopback, a race with
        // another program taking it in between only fails the run).
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("finding a free loopback port: {e}"))?
            .port();
        // The bench's own settings are flags; everything else comes from the environment
        // as `serve` reads it, so a run can vary one setting (`CACHE_LOCAL_MAX_MB=8 hub-bench
        // ...`).
        let child = Command::new(bin)
            .arg("serve")
            .args(["--database-url", url, "--host", "127.0.0.1"])
            .args(["--port", &port.to_string()])
            .args(["--redis-enabled", "--redis-host", &cache.redis_host])
            .args(["--redis-port", &cache.redis_port.to_string()])
            .args(["--redis-key-prefix", &cache.redis_key_prefix])
            .spawn()
            .map_err(|e| format!("starting {}: {e}", bin.display()))?;
        let mut server = Server {
            base: format!("http://127.0.0.1:{port}"),
            pid: child.id(),
            running: Some(Running::Child(child)),
        };
        let started = Instant::now();
        loop {
            if let Some(Running::Child(child)) = &mut server.running
                && let Ok(Some(status)) = child.try_wait()
            {
                return Err(format!("{} exited with {status}", bin.display()));
            }
            let health = http.get(format!("{}/health", server.base)).send().await;
            if health.is_ok_and(|r| r.status().is_success()) {
                return Ok(server);
            }
            if started.elapsed() > READY_WITHIN {
                return Err(format!(
                    "{} did not answer /health within {} s",
                    bin.display(),
                    READY_WITHIN.as_secs()
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The app as `serve` builds it (server.rs, fn run), with the settings' defaults.
    async fn in_process(url: &str, settings: &CacheSettings) -> Result<Self, String> {
        let freshness = FreshnessSettings::default();
        let interval = freshness
            .check_interval()
            .ok_or("the default DATA_CHANGE_CHECK_MS turns the watch off")?;
        let target = DatabaseTarget::url(url);
        let db =
            hub_core::db::connect_with_timeout(&target, TimeoutSettings::default().statement())
                .await
                .map_err(|e| format!("database: {e}"))?;
        let state = AppState::new(db.clone(), ResponseCache::from_settings(settings).await)
            .with_kept_counts_renew_after(freshness.renew_after());
        let cache = state.cache.clone();
        let watch = hub_core::changes::watch(target, cache.clone(), interval);
        hub_api::server::read_kept_values(&state)
            .await
            .map_err(|e| format!("kept counts: {e}"))?;
        let (acceptor, address) = crate::loopback_acceptor().await?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(hub_api::server::serve(
            acceptor,
            hub_api::app::build_with(state, HttpSettings::default()),
            hub_api::server::ClientTimeouts::from(&TimeoutSettings::default()),
            async {
                stopped.await.ok();
            },
        ));
        Ok(Server {
            base: format!("http://{address}"),
            pid: std::process::id(),
            running: Some(Running::InProcess {
                stop,
                task,
                watch,
                cache,
                db,
            }),
        })
    }

    /// Stops the server: the in-process one gracefully; the child is killed, as it holds
    /// nothing a clean exit would save (it wrote nothing to the database, and its Redis is
    /// the bench's).
    pub(crate) async fn stop(mut self) {
        match self.running.take() {
            Some(Running::Child(mut child)) => {
                child.kill().ok();
                child.wait().ok();
            }
            Some(Running::InProcess {
                stop,
                task,
                watch,
                cache,
                db,
            }) => {
                watch.abort();
                stop.send(()).ok();
                task.await.ok();
                cache.backend().close().await;
                db.close().await.ok();
            }
            None => {}
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // A run that failed before [`Server::stop`] must not leave the child serving.
        if let Some(Running::Child(child)) = &mut self.running {
            child.kill().ok();
            child.wait().ok();
        }
    }
}

/// One reading of a process's resident memory, from `/proc/<pid>/status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Resident {
    /// `VmRSS`: all resident pages, in bytes.
    pub(crate) total: u64,
    /// `RssAnon`: the heap and stacks.
    pub(crate) anon: u64,
    /// `RssFile`: mapped files (the binary, shared libraries).
    pub(crate) file: u64,
}

impl Resident {
    /// Reads `/proc/<pid>/status`; `None` when the process is gone or this is not Linux.
    pub(crate) fn of(pid: u32) -> Option<Self> {
        Self::parse(&std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?)
    }

    fn parse(status: &str) -> Option<Self> {
        let field = |name: &str| {
            status.lines().find_map(|line| {
                let kib = line.strip_prefix(name)?.strip_prefix(':')?;
                kib.trim().strip_suffix("kB")?.trim().parse::<u64>().ok()
            })
        };
        Some(Resident {
            total: field("VmRSS")? * 1024,
            anon: field("RssAnon").unwrap_or(0) * 1024,
            file: field("RssFile").unwrap_or(0) * 1024,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resident_memory_is_read_from_proc_status() {
        let status = "Name:\thub-api\nVmRSS:\t   81234 kB\nRssAnon:\t   70000 kB\n\
                      RssFile:\t   11234 kB\nRssShmem:\t       0 kB\n";
        assert_eq!(
            Resident::parse(status),
            Some(Resident {
                total: 81234 * 1024,
                anon: 70000 * 1024,
                file: 11234 * 1024,
            })
        );
        assert_eq!(Resident::parse("Name:\tzombie\n"), None);
    }

    #[test]
    fn this_process_has_resident_memory() {
        let own = Resident::of(std::process::id()).expect("/proc/self/status");
        assert!(own.total > 0 && own.anon <= own.total);
    }
}
