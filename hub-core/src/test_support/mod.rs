//! Test helpers shared by the workspace's tests (feature `test-support`; never in production).
//!
//! - [`RedisServer`]: a real, throwaway `redis-server` on a free local port that tests can
//!   kill, pause (SIGSTOP), resume and restart.
//! - [`FailingCacheForTests`]: a backend that fails or stalls on demand, for fault injection
//!   where a real server cannot produce the fault.
//! - [`PostgresServer`]: a real, throwaway PostgreSQL cluster on a free local port.
//! - [`RedisCluster`]: a real three-master Redis Cluster on free local ports.

mod cluster;
mod postgres;

pub use cluster::RedisCluster;
pub use postgres::PostgresServer;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::cache::backend::{BoxFuture, CacheBackend, CacheError};

/// A command for one of the servers or tools the tests start. `LD_PRELOAD` is not passed on:
/// a suite run under libfaketime (`faketime`, to check that no test depends on the date or
/// hour it runs) moves only the tests' clock, and redis-server hangs at startup with the
/// library loaded.
pub(crate) fn tool_command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut command = Command::new(program);
    command.env_remove("LD_PRELOAD");
    command
}

const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A `redis-server` child process on `127.0.0.1`, killed on drop.
///
/// ```no_run
/// let server = hub_core::test_support::RedisServer::start();
/// let opts = hub_core::cache::RedisOptions::local(server.port());
/// ```
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    child: Option<Child>,
    paused: bool,
    /// Arguments on top of the defaults (cluster mode).
    extra: Vec<String>,
}

impl RedisServer {
    /// Starts a server on a free port and waits until it answers PING.
    ///
    /// # Panics
    /// With a clear message when `redis-server` is not installed or does not come up; this is
    /// test-only code, where a loud failure is the point.
    pub fn start() -> Self {
        Self::start_with(Vec::new())
    }

    /// [`RedisServer::start`] with extra `redis-server` arguments.
    pub fn start_with(extra: Vec<String>) -> Self {
        Self::start_fresh(|| extra.clone())
    }

    /// Starts a server on a free port with the arguments `extra()` makes. A port the OS
    /// reported free can be taken (by another test's outgoing connection) before redis binds
    /// it, and redis then exits at once: such a start is tried again on fresh ports, with
    /// fresh arguments (which may name ports of their own).
    pub(crate) fn start_fresh(extra: impl Fn() -> Vec<String>) -> Self {
        let mut failure = String::new();
        for _ in 0..START_ATTEMPTS {
            let mut server = Self {
                port: free_port(),
                child: None,
                paused: false,
                extra: extra(),
            };
            match server.try_spawn() {
                Ok(()) => return server,
                Err(exited) => failure = exited,
            }
        }
        panic!("{failure} (tried {START_ATTEMPTS} times on fresh ports)")
    }

    /// The TCP port the server listens on (stable across [`RedisServer::restart`]).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:{port}/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn spawn(&mut self) {
        if let Err(exited) = self.try_spawn() {
            panic!("{exited}");
        }
    }

    /// Starts the process and waits until it answers; `Err` when it exited at startup.
    fn try_spawn(&mut self) -> Result<(), String> {
        let child = tool_command("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "no",
            ])
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start `redis-server` ({e}); install it (e.g. `apt-get install -y \
                     redis-server`) to run the cache tests"
                )
            });
        self.child = Some(child);
        self.paused = false;
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if self.answers_ping() {
                return Ok(());
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                self.child = None;
                return Err(format!(
                    "redis-server on port {} exited at startup: {status}",
                    self.port
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "redis-server on port {} did not answer within {START_TIMEOUT:?}",
            self.port
        );
    }

    fn answers_ping(&self) -> bool {
        let addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, self.port);
        let Ok(mut s) = TcpStream::connect_timeout(&addr.into(), Duration::from_millis(200)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
        if s.write_all(b"PING\r\n").is_err() {
            return false;
        }
        let mut buf = [0u8; 7];
        s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
    }

    fn signal(&self, sig: libc::c_int) {
        if let Some(child) = &self.child {
            let Ok(pid) = libc::pid_t::try_from(child.id()) else {
                return;
            };
            // SAFETY: plain kill(2) on our own child's pid, which cannot have been reused
            // because we have not reaped it yet.
            unsafe {
                libc::kill(pid, sig);
            }
        }
    }

    /// Kills the server (SIGKILL) and reaps it; the port becomes free.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.paused = false;
    }

    /// Freezes the server (SIGSTOP): connections stay open, nothing is answered.
    pub fn pause(&mut self) {
        self.signal(libc::SIGSTOP);
        self.paused = true;
    }

    /// Unfreezes a paused server (SIGCONT).
    pub fn resume(&mut self) {
        self.signal(libc::SIGCONT);
        self.paused = false;
    }

    /// Kills the server if running and starts a new, empty one on the same port.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// True while the process is alive (paused counts as alive).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if self.paused {
            self.resume();
        }
        self.kill();
    }
}

/// A free TCP port on 127.0.0.1, for servers a test starts with extra ports (TLS, cluster bus).
pub fn free_port_for_tests() -> u16 {
    free_port()
}

/// How many times [`RedisServer::start_fresh`] tries.
const START_ATTEMPTS: usize = 5;

pub(crate) fn free_port() -> u16 {
    // Binding port 0 lets the OS pick; the tiny race until redis binds it is acceptable in tests.
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("cannot find a free TCP port: {e}"))
}

/// Fault-injection backend: every call waits `delay` and then fails, counting calls.
///
/// Only for tests of the "cache broken" paths (e.g. that requests still succeed with
/// `X-Cache: MISS`); real outages are tested against [`RedisServer`].
#[derive(Debug, Default)]
pub struct FailingCacheForTests {
    delay: Duration,
    calls: AtomicU64,
}

impl FailingCacheForTests {
    /// Fails immediately.
    pub fn new() -> Self {
        Self::default()
    }

    /// Waits `delay` before failing (a slow, broken store).
    pub fn with_delay(delay: Duration) -> Self {
        Self {
            delay,
            calls: AtomicU64::new(0),
        }
    }

    /// Number of calls made so far.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    async fn fail<T>(&self) -> Result<T, CacheError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        Err(CacheError::Backend("injected failure".into()))
    }
}

impl CacheBackend for FailingCacheForTests {
    fn kind(&self) -> &'static str {
        "failing-test"
    }

    fn get<'a>(&'a self, _key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, CacheError>> {
        Box::pin(self.fail())
    }

    fn set<'a>(
        &'a self,
        _key: &'a str,
        _value: &'a [u8],
        _ttl: Duration,
    ) -> BoxFuture<'a, Result<(), CacheError>> {
        Box::pin(self.fail())
    }

    fn invalidate<'a>(&'a self, _name: &'a str) -> BoxFuture<'a, Result<u64, CacheError>> {
        Box::pin(self.fail())
    }

    fn ping(&self) -> BoxFuture<'_, bool> {
        Box::pin(async move { self.fail::<()>().await.is_ok() })
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
}
