//! A real Redis Cluster of three masters (no replicas) on loopback, for the cluster tests.

use std::path::Path;
use std::time::{Duration, Instant};

use super::{RedisServer, free_port, tool_command};

/// Three `redis-server --cluster-enabled yes` processes joined by `redis-cli --cluster
/// create`, each owning a third of the hash slots; killed on drop.
///
/// ```no_run
/// let cluster = hub_core::test_support::RedisCluster::start();
/// let nodes: Vec<String> = cluster.nodes();
/// ```
#[derive(Debug)]
pub struct RedisCluster {
    masters: Vec<RedisServer>,
    _dir: tempfile::TempDir,
}

impl RedisCluster {
    /// Starts the masters, creates the cluster and waits until every node reports
    /// `cluster_state:ok`.
    ///
    /// # Panics
    /// When `redis-server` or `redis-cli` is missing or the cluster does not form (test-only).
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let masters: Vec<RedisServer> = (0..3)
            .map(|i| {
                let conf = dir.path().join(format!("nodes-{i}.conf"));
                RedisServer::start_fresh(|| cluster_args(&conf))
            })
            .collect();
        let cluster = Self { masters, _dir: dir };
        let status = tool_command("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(cluster.nodes())
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap_or_else(|e| panic!("cannot run `redis-cli --cluster create` ({e})"));
        assert!(
            status.success(),
            "redis-cli --cluster create failed: {status}"
        );
        cluster.wait_until_ok();
        cluster
    }

    /// `127.0.0.1:port` of every master, as REDIS_CLUSTER_NODES lists them.
    pub fn nodes(&self) -> Vec<String> {
        self.masters
            .iter()
            .map(|m| format!("127.0.0.1:{}", m.port()))
            .collect()
    }

    /// Kills master `index` (SIGKILL): its slots stop answering.
    pub fn kill(&mut self, index: usize) {
        self.masters[index].kill();
    }

    fn wait_until_ok(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        for master in &self.masters {
            loop {
                let info = tool_command("redis-cli")
                    .args(["-p", &master.port().to_string(), "cluster", "info"])
                    .output()
                    .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                    .unwrap_or_default();
                if info.contains("cluster_state:ok") {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "redis cluster on {:?} did not become ok: {info}",
                    self.nodes()
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

fn cluster_args(conf: &Path) -> Vec<String> {
    vec![
        "--cluster-enabled".into(),
        "yes".into(),
        "--cluster-config-file".into(),
        conf.display().to_string(),
        // The bus port defaults to port + 10000, which may be taken or out of range.
        "--cluster-port".into(),
        free_port().to_string(),
        "--cluster-node-timeout".into(),
        "1000".into(),
    ]
}
