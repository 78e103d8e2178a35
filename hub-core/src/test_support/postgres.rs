//! A throwaway PostgreSQL cluster for tests that prove hub's SQL on PostgreSQL.

use std::net::{Ipv4Addr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, tool_command};

const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A PostgreSQL server in a temporary directory on `127.0.0.1`, stopped and removed on drop.
///
/// Finds the server binaries under `/usr/lib/postgresql/<version>/bin` (Debian's layout) or in
/// `$HUB_TEST_PG_BIN`. When the tests run as root, the cluster runs as the `postgres` user,
/// because PostgreSQL refuses to run as root.
///
/// ```no_run
/// let pg = hub_core::test_support::PostgresServer::start();
/// let url = pg.url(); // postgres://hub@127.0.0.1:<port>/postgres
/// ```
#[derive(Debug)]
pub struct PostgresServer {
    port: u16,
    bin: PathBuf,
    data: PathBuf,
    server_user: Option<(u32, u32)>,
    child: Option<Child>,
    _dir: tempfile::TempDir,
}

impl PostgresServer {
    /// Creates a cluster (user `hub`, trust auth) and starts it on a free port.
    ///
    /// # Panics
    /// With a clear message when PostgreSQL is not installed or does not come up.
    pub fn start() -> Self {
        let bin = server_bin_dir().unwrap_or_else(|| {
            panic!(
                "PostgreSQL server binaries not found (looked in $HUB_TEST_PG_BIN and \
                 /usr/lib/postgresql/*/bin); install them with `apt-get install postgresql`"
            )
        });
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        std::fs::create_dir(&data).expect("data dir");
        // PostgreSQL refuses to run as root: run it as the `postgres` user instead.
        let server_user = (unsafe { libc::geteuid() } == 0).then(postgres_user);
        if server_user.is_some() {
            // The postgres user must reach and own the data directory.
            run(tool_command("chmod").arg("755").arg(dir.path()));
            run(tool_command("chown").arg("postgres:postgres").arg(&data));
        }
        run(server_command(&bin, server_user, "initdb")
            .args(["-U", "hub", "--auth=trust", "-E", "UTF8", "--no-sync", "-D"])
            .arg(&data));
        let mut server = Self {
            port: free_port(),
            bin,
            data,
            server_user,
            child: None,
            _dir: dir,
        };
        server.resume();
        server
    }

    /// Stops the server (fast shutdown: open connections are closed), keeping its data.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGINT is PostgreSQL's "fast shutdown".
            unsafe {
                libc::kill(child.id() as libc::pid_t, libc::SIGINT);
            }
            let _ = child.wait();
        }
    }

    /// Starts the server again after [`stop`](Self::stop), on the same port and data, and
    /// waits until it accepts connections; does nothing when it runs.
    pub fn resume(&mut self) {
        if self.child.is_some() {
            return;
        }
        let child = server_command(&self.bin, self.server_user, "postgres")
            .arg("-D")
            .arg(&self.data)
            .args([
                "-p",
                &self.port.to_string(),
                "-c",
                "listen_addresses=127.0.0.1",
            ])
            .arg("-c")
            .arg(format!("unix_socket_directories={}", self.data.display()))
            .args([
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start postgres from {}: {e}", self.bin.display()));
        self.child = Some(child);
        self.wait_until_ready();
    }

    /// The TCP port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// URL of the `postgres` database as user `hub`.
    pub fn url(&self) -> String {
        format!("postgres://hub@127.0.0.1:{}/postgres", self.port)
    }

    /// URL of database `name` as user `hub`.
    pub fn url_of(&self, name: &str) -> String {
        format!("postgres://hub@127.0.0.1:{}/{name}", self.port)
    }

    /// Creates database `name` (owned by `hub`).
    pub fn create_database(&self, name: &str) {
        self.psql("postgres", &["-c", &format!("CREATE DATABASE {name}")]);
    }

    /// Runs the SQL file `path` in database `name` with `psql`, stopping at the first error
    /// (how a `pg_dump` file is restored).
    pub fn run_sql_file(&self, name: &str, path: &Path) {
        let path = path.to_str().expect("UTF-8 path");
        self.psql(name, &["-f", path]);
    }

    /// Runs the SQL `sql` in database `name` with `psql`.
    pub fn run_sql(&self, name: &str, sql: &str) {
        self.psql(name, &["-c", sql]);
    }

    fn psql(&self, name: &str, args: &[&str]) {
        run(tool_command(self.bin.join("psql"))
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1"])
            .args(["-p", &self.port.to_string(), "-U", "hub", "-d", name])
            .args(args));
    }

    fn wait_until_ready(&self) {
        let bin = &self.bin;
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            let accepting = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)).is_ok()
                && tool_command(bin.join("pg_isready"))
                    .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "hub"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success());
            if accepting {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "postgres did not accept connections on port {} within {START_TIMEOUT:?}",
            self.port
        );
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `program` of the server binaries, run as `server_user` when set. The ids are set
/// directly (no `runuser` in between), so signals reach postgres itself.
fn server_command(bin: &Path, server_user: Option<(u32, u32)>, program: &str) -> Command {
    let mut cmd = tool_command(bin.join(program));
    if let Some((uid, gid)) = server_user {
        cmd.uid(uid).gid(gid);
    }
    cmd
}

/// Uid and gid of the `postgres` user that Debian's package creates.
fn postgres_user() -> (u32, u32) {
    // SAFETY: getpwnam with a NUL-terminated name; the record is copied out at once.
    let entry = unsafe { libc::getpwnam(c"postgres".as_ptr()) };
    assert!(
        !entry.is_null(),
        "running as root and there is no `postgres` user to run PostgreSQL as"
    );
    unsafe { ((*entry).pw_uid, (*entry).pw_gid) }
}

fn server_bin_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("HUB_TEST_PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin): &(u32, PathBuf)| bin.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn run(cmd: &mut Command) {
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        output.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}
