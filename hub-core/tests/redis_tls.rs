//! `REDIS_URL=rediss://...`: the cache talks TLS to a real redis-server with a certificate
//! from a throwaway CA, and refuses a server it cannot verify.
//!
//! One test per file on purpose: the CA is trusted through `SSL_CERT_FILE`, which the TLS
//! stack reads from the process environment.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use hub_core::cache::{CacheBackend, RedisCache, RedisOptions};
use hub_core::test_support::RedisServer;

fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl is installed");
    assert!(status.success(), "openssl {args:?}");
}

/// A CA and a server certificate for `localhost` (not for `127.0.0.1`) signed by it.
fn certificates(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "1",
            "-subj",
            "/CN=hub test CA",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    std::fs::write(dir.join("ext"), "subjectAltName=DNS:localhost\n").unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "1",
            "-extfile",
            "ext",
        ],
    );
}

fn tls_cache(port: u16, host: &str) -> RedisCache {
    RedisCache::new(RedisOptions {
        url: Some(format!("rediss://{host}:{port}/")),
        timeout: Duration::from_millis(500),
        ..RedisOptions::local(0)
    })
    .unwrap()
}

#[tokio::test]
async fn a_rediss_url_stores_and_reads_over_verified_tls() {
    let dir = tempfile::tempdir().unwrap();
    certificates(dir.path());
    // SAFETY: the only test in this binary, before any thread reads the environment.
    unsafe { std::env::set_var("SSL_CERT_FILE", dir.path().join("ca.crt")) };
    let tls_port = hub_core::test_support::free_port_for_tests();
    let file = |name: &str| dir.path().join(name).display().to_string();
    let _server = RedisServer::start_with(vec![
        "--tls-port".into(),
        tls_port.to_string(),
        "--tls-cert-file".into(),
        file("server.crt"),
        "--tls-key-file".into(),
        file("server.key"),
        "--tls-ca-cert-file".into(),
        file("ca.crt"),
        "--tls-auth-clients".into(),
        "no".into(),
    ]);

    let cache = tls_cache(tls_port, "localhost");
    cache
        .set("nodes::", b"over tls", Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(cache.get("nodes::").await, Ok(Some(b"over tls".to_vec())));

    // The same server under a name its certificate does not cover fails verification: a
    // bypass, never an unverified connection.
    let wrong_name = tls_cache(tls_port, "127.0.0.1");
    assert!(wrong_name.get("nodes::").await.is_err());
}
